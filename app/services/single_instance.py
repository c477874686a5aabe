"""One window per settings folder: two copies on one folder recorded the same parts twice.

The first copy holds a lock file in the application folder (``QLockFile``: a lock left by a copy
that crashed is taken over) and listens on a local socket named after the folder. A second copy
finds the lock, asks the first over the socket to bring its window forward, and ends; when the
first does not answer (another user's session, a hung window), the second says why it cannot start.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

RAISE = b"raise\n"


def server_name(folder: Path) -> str:
    """The local socket's name: one per settings folder (and per user: the folder is theirs)."""
    return "sdgas-inspector-" + hashlib.sha1(str(Path(folder).resolve()).encode()).hexdigest()[:16]


class SingleInstance(QObject):
    """``claim()`` True: this copy is the one (``raise_requested`` when another asks for the window);
    False: another copy has the folder (``message`` says what happened)."""

    raise_requested = Signal()

    def __init__(self, folder: Path, parent=None):
        super().__init__(parent)
        self.folder = Path(folder)
        self.name = server_name(self.folder)
        self.lock = QLockFile(str(self.folder / "inspector.lock"))
        self.lock.setStaleLockTime(0)      # stale only when its process is gone, however long it ran
        self.server: QLocalServer | None = None
        self.message = ""

    def claim(self, timeout_ms: int = 2000) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.lock.tryLock(0):
            QLocalServer.removeServer(self.name)   # a socket file left by a copy that crashed
            self.server = QLocalServer(self)
            self.server.setSocketOptions(QLocalServer.UserAccessOption)
            self.server.listen(self.name)
            self.server.newConnection.connect(self._incoming)
            return True
        info = self.lock.getLockInfo()      # PySide6: (pid, hostname, appname), or an empty answer
        who = f"process {info[0]} on {info[1]}" if info and len(info) >= 2 and info[0] else "another process"
        if self._ask_to_raise(timeout_ms):
            self.message = (f"SD-GASNet Inspector is already running on {self.folder} ({who}); "
                            "its window was brought forward.")
        else:
            self.message = (f"SD-GASNet Inspector is already running on {self.folder} ({who}) and does not answer. "
                            "Two copies on one settings folder would record the same parts twice: close the "
                            f"other copy, or start this one with another folder (SDGAS_HOME=…). Lock: {self.lock.fileName()}")
        return False

    def _ask_to_raise(self, timeout_ms: int) -> bool:
        s = QLocalSocket()
        s.connectToServer(self.name)
        if not s.waitForConnected(timeout_ms):
            return False
        s.write(RAISE)
        ok = s.waitForBytesWritten(timeout_ms) and s.waitForReadyRead(timeout_ms) and s.readAll().data() == b"ok\n"
        s.disconnectFromServer()
        return ok

    def _incoming(self):
        while self.server is not None and self.server.hasPendingConnections():
            c = self.server.nextPendingConnection()

            def read(c=c):
                if bytes(c.readAll().data()).startswith(RAISE.strip()):
                    c.write(b"ok\n")
                    c.flush()
                    self.raise_requested.emit()
                c.disconnectFromServer()

            c.readyRead.connect(read)
            c.disconnected.connect(c.deleteLater)

    def release(self):
        if self.server is not None:
            self.server.close()
            self.server = None
        self.lock.unlock()
