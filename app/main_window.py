"""The main window: a thin shell that hosts the views."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

import core


class MainWindow(QMainWindow):
    def __init__(self, source: str | None = None, weights: str | None = None):
        super().__init__()
        self.setWindowTitle("SD-GASNet Inspector")
        self.resize(1280, 800)
        body = QWidget()
        lay = QVBoxLayout(body)
        title = QLabel("SD-GASNet Inspector")
        title.setAlignment(Qt.AlignCenter)
        title.setStyleSheet("font-size: 28px; font-weight: 600;")
        sub = QLabel(f"Surface-defect inspection with the SD-GASNet detector - version {core.__version__}.\n"
                     "The live inspection view is being built; the command line (python main.py --help) "
                     "already offers model information.")
        sub.setAlignment(Qt.AlignCenter)
        sub.setWordWrap(True)
        lay.addStretch(1)
        lay.addWidget(title)
        lay.addWidget(sub)
        lay.addStretch(1)
        self.setCentralWidget(body)
        self.statusBar().showMessage("Ready")
