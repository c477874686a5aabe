"""Help: F1 on each tab opens the guide of the person who works there, inside the application and
offline; the Help menu opens each guide; every picture and link of the guides is in the installation."""
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

pytest.importorskip("pytestqt")

from helpers import action  # noqa: E402

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide"


def test_f1_on_each_tab_opens_that_users_guide(qtbot, window):
    bar = window.tabs.tabBar()
    for tab, guide, words in (("Live inspection", "operator", "Start of a shift"),
                              ("Training", "engineer", "Use for inspection"),
                              ("Labelling", "engineer", "Label"),
                              ("Reports", "quality", "Parts inspected")):
        i = next(k for k in range(bar.count()) if bar.tabText(k) == tab)
        qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(i).center())
        assert window.tabs.currentIndex() == i
        qtbot.keyClick(window.tabs.currentWidget(), Qt.Key_F1)
        qtbot.waitUntil(lambda: window.guide is not None and window.guide.isVisible(), timeout=5000)
        g = window.guide
        assert g.current == guide, tab
        text = g.browser.toPlainText()
        assert words in text, (tab, text[:200])
        assert g.list.currentItem().data(Qt.UserRole) == guide
        g.close()


def test_the_help_menu_opens_each_guide_and_links_stay_inside(qtbot, window):
    action(window, "Quality staff's guide").trigger()
    qtbot.waitUntil(lambda: window.guide is not None and window.guide.isVisible(), timeout=5000)
    g = window.guide
    assert g.current == "quality"
    action(window, "Engineer's guide").trigger()
    assert g.current == "engineer" and "Use for inspection" in g.browser.toPlainText()
    # a link to another guide opens it in the same window; Back returns
    g.browser.anchorClicked.emit(g.browser.source().resolved("operator.md"))
    assert g.current == "operator"
    g.browser.backward()
    assert g.current == "engineer"


def test_every_picture_and_link_of_the_guides_is_there():
    for md in GUIDE.glob("*.md"):
        text = md.read_text()
        for target in re.findall(r"\]\(([^)#]+)[^)]*\)", text):
            assert not target.startswith(("http:", "https:")), f"{md.name}: {target} needs the internet"
            assert (md.parent / target).resolve().is_file(), f"{md.name}: {target} is missing"
        assert re.findall(r"!\[[^\]]*\]\(", text), f"{md.name} shows no screen"
