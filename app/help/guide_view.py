"""The user guides (docs/guide/*.md, offline) in a window of their own: one guide per user, their
screenshots and links between them; F1 on a tab opens the guide of the person who works there."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QImage, QKeySequence, QShortcut, QTextDocument
from PySide6.QtWidgets import QDialog, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QTextBrowser, QVBoxLayout

GUIDES_DIR = Path(__file__).resolve().parents[2] / "docs" / "guide"
# the guides, in the order the list shows them: (file stem, whose, what it covers)
GUIDES = (("operator", "Operator", "the live line"), ("engineer", "Engineer", "label, train, put a model on the line"),
          ("quality", "Quality staff", "shift and lot reports"))


def guide_path(name: str) -> Path:
    return GUIDES_DIR / f"{name}.md"


class GuideBrowser(QTextBrowser):
    """A guide's screenshots are shown at most as wide as the page (they are taken at full size)."""

    def loadResource(self, kind, url):
        if kind == QTextDocument.ImageResource:
            img = QImage(self.source().resolved(url).toLocalFile())
            width = max(320, self.viewport().width() - 40)
            if not img.isNull() and img.width() > width:
                return img.scaledToWidth(width, Qt.SmoothTransformation)
            return img
        return super().loadResource(kind, url)


class GuideWindow(QDialog):
    """A browser over the guides: the list on the left, the chosen guide (Markdown, with its images)
    on the right; links to another guide or a section stay inside, web links are not followed."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("SD-GASNet Inspector: user guide")
        self.setWindowFlag(Qt.WindowMaximizeButtonHint, True)
        self.resize(1100, 820)
        self.list = QListWidget()
        self.list.setObjectName("guide_list")
        self.list.setMaximumWidth(280)
        for name, who, what in GUIDES:
            it = QListWidgetItem(f"{who}:\n{what}")
            it.setData(Qt.UserRole, name)
            self.list.addItem(it)
        self.list.currentItemChanged.connect(lambda it, _=None: it and self.show_guide(it.data(Qt.UserRole)))
        self.browser = GuideBrowser()
        self.browser.setObjectName("guide_browser")
        self.browser.setOpenLinks(False)             # offline: a guide or a section opens here, nothing else
        self.browser.anchorClicked.connect(self._follow)
        self.browser.sourceChanged.connect(self._source_changed)
        back, fwd = QPushButton("◀ Back"), QPushButton("Forward ▶")
        back.clicked.connect(self.browser.backward)
        fwd.clicked.connect(self.browser.forward)
        self.browser.backwardAvailable.connect(back.setEnabled)
        self.browser.forwardAvailable.connect(fwd.setEnabled)
        back.setEnabled(False)
        fwd.setEnabled(False)
        nav = QHBoxLayout()
        nav.addWidget(back)
        nav.addWidget(fwd)
        nav.addStretch(1)
        right = QVBoxLayout()
        right.addLayout(nav)
        right.addWidget(self.browser, 1)
        lay = QHBoxLayout(self)
        lay.addWidget(self.list)
        lay.addLayout(right, 1)
        QShortcut(QKeySequence(QKeySequence.Back), self, self.browser.backward)
        self.current = ""

    def show_guide(self, name: str):
        """Open guide ``name`` ("operator", "engineer", "quality") at its top."""
        p = guide_path(name)
        if not p.is_file():
            self.browser.setPlainText(f"The guide is missing from this installation: {p}")
            return
        url = QUrl.fromLocalFile(str(p))
        if self.browser.source() != url:
            self.browser.setSource(url)
        self.browser.verticalScrollBar().setValue(0)
        self.current = name

    def _follow(self, url: QUrl):
        target = self.browser.source().resolved(url)
        if target.isLocalFile() and Path(target.toLocalFile()).suffix == ".md":
            self.browser.setSource(target)
        elif url.toString().startswith("#"):
            self.browser.scrollToAnchor(url.fragment())

    def _source_changed(self, url: QUrl):
        name = Path(url.toLocalFile()).stem
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.UserRole) == name and self.list.currentRow() != i:
                self.list.blockSignals(True)
                self.list.setCurrentRow(i)
                self.list.blockSignals(False)
        self.current = name
