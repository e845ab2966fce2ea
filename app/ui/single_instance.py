"""One window per user and data folder: a second launch hands its paths to the first.

`python -m app PATH...` while a window is open (a file manager's "Open with") connects
to the open window's local socket, sends the paths, and exits; the window queues them
and comes to the front. With no paths it only raises the window. The socket's name is
made from the user and the data folder, so a second data folder (tests, a second
profile) has a window of its own. Picard's `pipe_handler` does the same job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

HAND_OVER_TIMEOUT_MS = 1000
_ACK = b"ok\n"


def instance_name(data_dir: Path) -> str:
    """The local socket's name for this user and data folder."""
    folder = os.fsencode(str(Path(data_dir).resolve()))
    digest = hashlib.sha256(folder).hexdigest()[:16]
    return f"photo-uploader-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest}"


def hand_over(name: str, paths: list[Path], timeout_ms: int = HAND_OVER_TIMEOUT_MS) -> bool:
    """Give `paths` to the window already open under `name`; False when there is none
    (or it did not answer in time: then this launch opens a window of its own)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    # json escapes the lone surrogates of a name that is not UTF-8; they come back intact.
    message = json.dumps({"paths": [str(p.absolute()) for p in paths]})
    socket.write(message.encode("ascii") + b"\n")
    socket.flush()
    answered = b""
    while not answered.endswith(b"\n") and socket.waitForReadyRead(timeout_ms):
        answered += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return answered == _ACK


def hand_over_to_open_window(argv: list[str]) -> bool:
    """For a launch: hand `argv`'s paths to the window open for this user and data folder,
    if there is one (False: this launch opens the window)."""
    from app.core.paths import data_dir

    paths = [Path(arg).expanduser() for arg in argv if not arg.startswith("-")]
    return hand_over(instance_name(data_dir()), paths)


class InstanceServer(QObject):
    """The open window's end: hears later launches.

    Signals:
        paths_received(list): paths a later launch handed over (empty: just show me).
    """

    paths_received = Signal(list)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        """Start listening; a socket left by a window that crashed is taken over."""
        if self._server.listen(self._name):
            return True
        QLocalServer.removeServer(self._name)  # nobody answered hand_over: it is stale
        listening = self._server.listen(self._name)
        if not listening:
            log.warning("a second launch will open a second window: %s", self._server.errorString())
        return listening

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))

    def _read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        self._buffers[socket] = data
        if not data.endswith(b"\n"):
            return
        try:
            raw = json.loads(data.decode("ascii"))
            paths = [Path(p) for p in raw.get("paths", []) if isinstance(p, str)]
        except (ValueError, AttributeError):
            log.info("a later launch sent something that is not a hand-over; ignored")
            socket.disconnectFromServer()
            return
        socket.write(_ACK)
        socket.flush()
        self.paths_received.emit(paths)

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()
