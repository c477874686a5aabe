"""The main window: a thin shell that hosts the views."""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox

import core
from app.live.live_view import LiveView
from core.settings import Settings


class MainWindow(QMainWindow):
    def __init__(self, source: str | None = None, weights: str | None = None, settings: Settings | None = None):
        super().__init__()
        self.setWindowTitle("SD-GASNet Inspector")
        self.resize(1440, 880)
        self.settings = settings or Settings()
        if source:
            self.settings["source"] = source
        if weights:
            self.settings["weights"] = weights
        self.live = LiveView(self.settings, self)
        self.setCentralWidget(self.live)
        self.live.status.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self._menus()
        self.statusBar().showMessage("Ready")
        if self.settings.problem:
            self.live._show_error(self.settings.problem)
        if source and weights:  # `gui --source S --weights W` starts inspecting as soon as the model is ready
            self.live.loader.loaded.connect(lambda _p: self.live.ctrl.running() or self.live.start())

    def _menus(self):
        m = self.menuBar().addMenu("&File")
        a = QAction("Open &weights…", self, shortcut=QKeySequence.Open)
        a.triggered.connect(self.live.open_weights_dialog)
        m.addAction(a)
        m.addSeparator()
        q = QAction("&Quit", self, shortcut=QKeySequence.Quit)
        q.triggered.connect(self.close)
        m.addAction(q)
        insp = self.menuBar().addMenu("&Inspection")
        for text, slot, key in (("Start / Stop", self.live.toggle_run, "F5"), ("Pause / Resume", self.live.toggle_pause, "Space"),
                                ("Step", self.live.ctrl.step, "F10"), ("Snapshot", self.live.snapshot, "F12"),
                                ("Edit recipe…", self.live.edit_recipe, None)):
            act = QAction(text, self)
            if key:
                act.setShortcut(QKeySequence(key))
            act.triggered.connect(slot)
            insp.addAction(act)
        h = self.menuBar().addMenu("&Help")
        about = QAction("About", self)
        about.triggered.connect(lambda: QMessageBox.about(
            self, "SD-GASNet Inspector", f"SD-GASNet Inspector {core.__version__}\n"
            "Surface-defect inspection with the SD-GASNet detector."))
        h.addAction(about)

    def closeEvent(self, e):
        self.live.shutdown()
        super().closeEvent(e)
