"""The main window: a thin shell that hosts the views in tabs and their actions in its menus.

Each view is a QWidget with ``menus()`` ({menu title: [QAction or None]}), a ``status`` signal and
``shutdown()``; the window knows nothing else of them. The live view is the first; then training,
labelling and reports. A view may also have ``confirm_close()``.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget

import core
from app.help.guide_view import GUIDES, GuideWindow
from app.live.live_view import LiveView
from app.label.label_view import LabelView
from app.report.report_view import ReportView
from app.train.train_view import TrainView
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
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.views = []
        self.guide = None          # the user guide's window, made on first F1
        self.menuBar().addMenu("&File")  # first in the bar, whatever the views add
        self.live = self.add_view(LiveView(self.settings, self), "Live inspection")
        self.training = self.add_view(TrainView(self.settings, self), "Training")
        self.training.use_model.connect(self._use_model)
        self.labelling = self.add_view(LabelView(self.settings, self), "Labelling")
        self.labelling.train_requested.connect(self._train_on)
        self.live.review_requested.connect(self._review)
        self.reports = self.add_view(ReportView(self.settings, self), "Reports")
        self._standard_menus()
        self.statusBar().showMessage("Ready")
        if self.settings.problem:
            self.live.show_error(self.settings.problem)
        if source and weights:  # `gui --source S --weights W` starts inspecting as soon as the model is ready
            self.live.start_when_loaded()

    def add_view(self, view, title: str):
        self.views.append(view)
        self.tabs.addTab(view, title)
        view.status.connect(lambda m: self.statusBar().showMessage(m, 8000))
        for menu_title, actions in view.menus().items():
            menu = self._menu(menu_title)
            for a in actions:
                menu.addSeparator() if a is None else menu.addAction(a)
        return view

    def _menu(self, title: str):
        for a in self.menuBar().actions():
            if a.menu() is not None and a.text() == title:
                return a.menu()
        return self.menuBar().addMenu(title)

    def _standard_menus(self):
        f = self._menu("&File")
        f.addSeparator()
        q = QAction("&Quit", self, shortcut=QKeySequence.Quit)
        q.triggered.connect(self.close)
        f.addAction(q)
        h = self._menu("&Help")
        here = QAction("Guide for this tab", self, shortcut=QKeySequence.HelpContents)   # F1
        here.setObjectName("guide_here")
        here.triggered.connect(lambda: self.show_guide(self.guide_for(self.tabs.currentWidget())))
        h.addAction(here)
        for name, who, _ in GUIDES:
            a = QAction(f"{who}'s guide", self)
            a.triggered.connect(lambda _=False, n=name: self.show_guide(n))
            h.addAction(a)
        h.addSeparator()
        about = QAction("About", self)
        about.triggered.connect(lambda: QMessageBox.about(
            self, "SD-GASNet Inspector", f"SD-GASNet Inspector {core.__version__}\n"
            "Surface-defect inspection with the SD-GASNet detector."))
        h.addAction(about)

    def guide_for(self, view) -> str:
        """Whose guide a tab's F1 opens: the live view is the operator's, training and labelling the
        engineer's, reports the quality staff's."""
        return {id(self.live): "operator", id(self.training): "engineer", id(self.labelling): "engineer",
                id(self.reports): "quality"}.get(id(view), "operator")

    def show_guide(self, name: str):
        if self.guide is None:
            self.guide = GuideWindow(self)
        self.guide.show_guide(name)
        self.guide.show()
        self.guide.raise_()
        self.guide.activateWindow()

    def _train_on(self, data: str):
        self.tabs.setCurrentWidget(self.training)
        self.training.new_run("teacher", data=data)

    def _review(self, folder: str):
        self.tabs.setCurrentWidget(self.labelling)
        self.labelling.open_path(folder, "unreviewed")

    def _use_model(self, name: str):
        self.live.load_weights(name)
        self.tabs.setCurrentWidget(self.live)

    def closeEvent(self, e):
        for v in self.views:
            if hasattr(v, "confirm_close") and not v.confirm_close():
                e.ignore()
                return
        for v in self.views:
            v.shutdown()
        super().closeEvent(e)
