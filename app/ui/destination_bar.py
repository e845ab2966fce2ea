"""Above the queue: where photos go (with a link to Settings), what the watched folders
are doing, and one banner for an outage of the storage server, however many files wait
behind it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class DestinationBar(QWidget):
    """Signals:
    settings_requested(): the collector followed the link to Settings.
    """

    settings_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setObjectName("destination")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAccessibleName("Destination")
        self.label.linkActivated.connect(lambda _link: self.settings_requested.emit())
        self.outage_banner = QLabel()
        self.outage_banner.setObjectName("outageBanner")
        self.outage_banner.setWordWrap(True)
        self.outage_banner.setAccessibleName("Storage server status")
        self.outage_banner.setStyleSheet(
            "#outageBanner { background: #fef3c7; color: #78350f; border-radius: 6px;"
            " padding: 6px 10px; }"
        )
        self.outage_banner.hide()
        self.watch_label = QLabel()
        self.watch_label.setObjectName("watchStatus")
        self.watch_label.setWordWrap(True)
        self.watch_label.setAccessibleName("Watched folders")
        self.watch_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.watch_label)
        layout.addWidget(self.outage_banner)

    def show_destination(self, text: str, *, local: bool) -> None:
        hint = (
            " — for your real bucket, open <a href='settings'>Settings</a>"
            if local
            else " — <a href='settings'>change</a>"
        )
        link = self.palette().color(QPalette.ColorRole.Link).name()
        hint = hint.replace("<a ", f"<a style='color:{link}' ")
        self.label.setText(f"Photos go to: <b>{_escape(text)}</b>{hint}")

    def show_watch(self, sentence: str) -> None:
        """What the watched folders are doing ("" when none are watched)."""
        self.watch_label.setText(sentence)
        self.watch_label.setToolTip(sentence)
        self.watch_label.setVisible(bool(sentence))

    def show_outage(self, message: str) -> None:
        """One line about an outage ("" hides it)."""
        self.outage_banner.setText(message)
        self.outage_banner.setVisible(bool(message))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
