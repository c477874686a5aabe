"""Start the desktop application."""
from __future__ import annotations

import sys


def run_gui(source: str | None = None, weights: str | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SD-GASNet Inspector")
    app.setOrganizationName("SD-GASNet")
    win = MainWindow(source=source, weights=weights)
    win.show()
    return app.exec()
