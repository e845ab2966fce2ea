"""Desktop notifications, through desktop-notifier (D-Bus on Linux, the system's own on
macOS and Windows). Without a notification service (no session bus, no daemon), the
first failure is logged and later notices are dropped quietly: the window and the tray
say the same."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from app import APP_NAME
from app.core.notices import Notice

log = logging.getLogger(__name__)


class Notifier(Protocol):
    async def notify(self, notice: Notice) -> None: ...


class DesktopNotifications:
    """Sends notices as desktop notifications. `icon` is a PNG path for the app's icon."""

    def __init__(self, icon: Path | None = None) -> None:
        self._icon = icon
        self._notifier: Any = None
        self._broken = False
        self.sent = 0

    async def notify(self, notice: Notice) -> None:
        if self._broken:
            return
        try:
            notifier = self._notifier or self._make()
            from desktop_notifier import Urgency

            # (Normal even for failures: a critical one stays on screen until clicked.)
            await notifier.send(title=notice.title, message=notice.body, urgency=Urgency.Normal)
        except Exception as exc:  # no session bus, no daemon, a daemon that refuses
            self._broken = True
            log.warning("desktop notifications are not available here: %s", exc)
            return
        self.sent += 1

    def _make(self) -> Any:
        from desktop_notifier import DesktopNotifier, Icon

        icon = Icon(path=self._icon) if self._icon else None
        self._notifier = (
            DesktopNotifier(app_name=APP_NAME, app_icon=icon)
            if icon
            else DesktopNotifier(app_name=APP_NAME)
        )
        return self._notifier
