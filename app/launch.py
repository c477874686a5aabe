"""Start the desktop application."""
from __future__ import annotations

import signal
import sys


_early: list[int] = []


def keep_early_interrupt() -> None:
    """From here on a Ctrl-C while Qt and the window are still loading (seconds on a busy machine)
    is kept and honoured once the window exists, instead of a KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, lambda *_: _early.append(1))


def collect_cycles_on_gui_thread(interval_s: float = 1.0):
    """Python's cycle collector runs wherever an allocation trips it: in a worker thread, or inside a
    Python event filter while Qt is mid-event. Either can delete a Qt object held in a reference
    cycle under Qt's feet (the tests segfaulted so, in a focus change). Automatic collection is
    turned off and a GUI-thread timer collects instead (pyqtgraph's helper); keep the returned
    object for the application's life."""
    from pyqtgraph.util.garbage_collector import GarbageCollector

    return GarbageCollector(interval=interval_s)


def run_gui(source: str | None = None, weights: str | None = None) -> int:
    keep_early_interrupt()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.services.single_instance import SingleInstance
    from core.util.paths import app_dir

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SD-GASNet Inspector")
    app.setOrganizationName("SD-GASNet")
    collector = collect_cycles_on_gui_thread()  # lives while the application runs
    one = SingleInstance(app_dir())      # before the window: a second copy must not open records or ports
    if not one.claim(timeout_ms=10000):
        print(one.message, file=sys.stderr)
        if "brought forward" not in one.message:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.warning(None, "SD-GASNet Inspector", one.message)
            return 1
        return 0
    from app.main_window import MainWindow

    win = MainWindow(source=source, weights=weights)
    one.raise_requested.connect(lambda: (win.showNormal() if win.isMinimized() else win.show(), win.raise_(),
                                         win.activateWindow()))
    app.aboutToQuit.connect(one.release)
    win.show()
    win.start_login()        # station users: the login (or the kiosk operator); none: nothing
    # Ctrl-C in the terminal closes the window as Quit does (views save and ask about running
    # training), instead of a KeyboardInterrupt traceback: Python sees signals only between Qt
    # events, so a timer wakes it up now and then.
    signal.signal(signal.SIGINT, lambda *_: win.close())
    if _early:
        QTimer.singleShot(0, win.close)
    tick = QTimer()
    tick.timeout.connect(lambda: None)
    tick.start(250)
    try:
        return app.exec()
    finally:
        collector.timer.stop()
