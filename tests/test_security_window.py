"""The station's people in the real main window, by mouse and keys: a login per role, what each role may
not do refused and what it may do working, signed changes landing in the audit trail with user, role and
reason, and model approval. Without users the window is as it always was."""
import json

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from helpers import tiny_weights

pytest.importorskip("pytestqt")

PW = {"op-otto": "operator-pw-1", "eng-anna": "engineer-pw-1", "adm-ada": "admin-pw-123"}


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("SDGAS_HOME", str(h))
    monkeypatch.setenv("SDGAS_NO_CAMERA_PROBE", "1")
    h.mkdir()
    (h / "settings.json").write_text(json.dumps({"weights": "line-model", "fastest_runtime": False,
                                                 "source": "demo", "demo_fps": 20.0}))
    return h


@pytest.fixture
def station(home, tmp_path):
    """Three users, and a registered model approved by the engineer (what the line runs)."""
    from core.registry import ModelRegistry
    from core.security.users import UserStore

    users = UserStore()
    users.add("op-otto", "operator", PW["op-otto"])
    users.add("eng-anna", "engineer", PW["eng-anna"])
    users.add("adm-ada", "administrator", PW["adm-ada"])
    reg = ModelRegistry()
    reg.register(tiny_weights(tmp_path), "line-model")
    reg.approve("line-model", users.sign("eng-anna", PW["eng-anna"], "validated on lot 12", "model.approve"))
    return users


def _window(qtbot):
    from app.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    return w


def logged_in(qtbot, who):
    """The window as at start: the login, typed and clicked."""
    w = _window(qtbot)
    w.start_login()
    dlg = w.login_dialog
    assert dlg is not None and dlg.isVisible()
    qtbot.keyClicks(dlg.name, who)
    qtbot.keyClicks(dlg.password, PW[who])
    qtbot.mouseClick(dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok), Qt.LeftButton)
    assert not dlg.isVisible() and w.session.user.name == who
    qtbot.waitUntil(lambda: w.live.models.card is not None, timeout=30000)    # the approved model is loaded
    return w


def on_modal(kind, fn, timeout_ms=20000):
    """When a modal dialog of ``kind`` opens, ``fn(dialog)`` drives it (it is closed if ``fn`` fails)."""
    state = {"waited": 0}

    def poll():
        d = QApplication.activeModalWidget()
        if not isinstance(d, kind):
            state["waited"] += 50
            if state["waited"] < timeout_ms:
                QTimer.singleShot(50, poll)
            return
        try:
            fn(d)
        except BaseException:
            d.reject()
            raise

    QTimer.singleShot(50, poll)


@pytest.fixture
def opened():
    """Any modal dialog that opens is noted and closed (a refused action that opened one fails, not hangs)."""
    seen, on = [], [True]

    def poll():
        d = QApplication.activeModalWidget()
        if d is not None:
            seen.append(d.windowTitle())
            d.reject()
        if on[0]:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(50, poll)
    yield seen
    on[0] = False


def sign(qtbot, who, reason):
    """Sign the change in the sign dialog that opens next: the password again, a reason, Sign."""
    from app.security.sign_dialog import SignDialog

    def fill(d):
        qtbot.keyClicks(d.password, PW[who])
        qtbot.keyClicks(d.reason, reason)
        qtbot.mouseClick(d.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok), Qt.LeftButton)

    on_modal(SignDialog, fill)


def click_menu(qtbot, w, title, text):
    """Open a menu of the menu bar and click one of its entries with the mouse."""
    menu = w._menu(title)
    menu.popup(w.mapToGlobal(QPoint(40, 40)))
    qtbot.waitUntil(menu.isVisible)
    a = next(a for a in menu.actions() if a.text() == text)
    qtbot.mouseClick(menu, Qt.LeftButton, pos=menu.actionGeometry(a).center())
    menu.close()
    return a


def refused_in_menu(qtbot, w, title, text):
    """The entry is shown disabled (checked before the click, so a regression fails instead of hanging on
    the dialog it would open), and clicking it opens nothing."""
    a = next(a for a in w._menu(title).actions() if a.text() == text)
    assert not a.isEnabled(), f"{text} is allowed to {w.session.user}"
    click_menu(qtbot, w, title, text)
    assert QApplication.activeModalWidget() is None


def click_tab(qtbot, w, title):
    bar = w.tabs.tabBar()
    i = next(i for i in range(w.tabs.count()) if w.tabs.tabText(i) == title)
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(i).center())


def audit_rows(what):
    from core.inspect.options import default_records
    from core.inspect.records import read_audit

    try:
        return [r for r in read_audit(default_records()) if r[3] == what]
    except FileNotFoundError:
        return []


def test_an_operator_runs_the_line_and_is_refused_the_engineers_and_administrators_work(qtbot, station, opened):
    w = logged_in(qtbot, "op-otto")
    live = w.live
    assert "approved for the line by <b>eng-anna</b>" in live.models.label.text()
    # refused: the Training and Labelling tabs, the recipe editor, the model, the line, the users
    for tab in ("Training", "Labelling"):
        click_tab(qtbot, w, tab)
        assert w.tabs.currentWidget() is live
    before = live.recipes.current.to_dict()
    qtbot.mouseClick(live.recipes.btn_edit, Qt.LeftButton)
    qtbot.mouseClick(live.models.btn_open, Qt.LeftButton)
    for menu, text in (("&Inspection", "Edit recipe…"), ("&Inspection", "Line connections…"),
                       ("A&dministration", "Users…"), ("A&dministration", "OPC UA certificates (trust list)…")):
        refused_in_menu(qtbot, w, menu, text)
    qtbot.wait(100)
    assert live.recipes.current.to_dict() == before and opened == []
    assert not live.models.box.isEnabled() and not live.source_box.isEnabled()
    # allowed: Start, Snapshot, Stop, and choosing a saved recipe
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    assert live.ctrl.running()
    qtbot.waitUntil(lambda: live.last_result is not None, timeout=30000)
    assert live.btn_snap.isEnabled()
    qtbot.mouseClick(live.btn_pause, Qt.LeftButton)
    assert live.paused
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    assert not live.ctrl.running()
    assert live.recipes.box.isEnabled()
    # the session ran under the operator: the audit trail names the user and the role
    qtbot.waitUntil(lambda: bool(audit_rows("model")), timeout=20000)
    assert audit_rows("model")[0][1] == "op-otto" and audit_rows("model")[0][6] == "operator"


def test_an_engineer_signs_a_threshold_and_may_not_touch_the_line_or_users(qtbot, station):
    from app.live.recipe_dialog import RecipeDialog

    w = logged_in(qtbot, "eng-anna")
    click_tab(qtbot, w, "Training")
    assert w.tabs.currentWidget() is w.training
    click_tab(qtbot, w, "Live inspection")
    for menu, text in (("&Inspection", "Line connections…"), ("A&dministration", "Users…"),
                       ("A&dministration", "Image retention…")):
        refused_in_menu(qtbot, w, menu, text)

    def lower_threshold(d):
        d.conf.selectAll()
        qtbot.keyClicks(d.conf, "0.35")
        qtbot.mouseClick(d.findChild(QDialogButtonBox).button(QDialogButtonBox.Save), Qt.LeftButton)
        sign(qtbot, "eng-anna", "escapes on line 3")

    on_modal(RecipeDialog, lower_threshold)
    qtbot.mouseClick(w.live.recipes.btn_edit, Qt.LeftButton)
    assert w.live.recipes.current.conf == pytest.approx(0.35)
    qtbot.waitUntil(lambda: bool(audit_rows("recipe")), timeout=20000)
    ts, who, line, what, old, new, role, reason = audit_rows("recipe")[0]
    assert (who, role, reason) == ("eng-anna", "engineer", "escapes on line 3")
    assert json.loads(new)["conf"] == pytest.approx(0.35) and old is None or json.loads(old)["conf"] != 0.35


def test_a_wrong_password_signs_nothing(qtbot, station):
    from app.live.recipe_dialog import RecipeDialog
    from app.security.sign_dialog import SignDialog

    w = logged_in(qtbot, "eng-anna")
    seen = []

    def wrong(d):
        qtbot.keyClicks(d.password, "not-my-password")
        qtbot.keyClicks(d.reason, "trying")
        qtbot.mouseClick(d.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok), Qt.LeftButton)
        seen.append(d.message.text())
        d.reject()

    def edit(d):
        d.conf.selectAll()
        qtbot.keyClicks(d.conf, "0.2")
        qtbot.mouseClick(d.findChild(QDialogButtonBox).button(QDialogButtonBox.Save), Qt.LeftButton)
        on_modal(SignDialog, wrong)

    before = w.live.recipes.current.conf
    on_modal(RecipeDialog, edit)
    qtbot.mouseClick(w.live.recipes.btn_edit, Qt.LeftButton)
    assert seen == ["wrong user name or password"]
    assert w.live.recipes.current.conf == before and not audit_rows("recipe")


def test_an_engineer_approves_a_model_with_its_figures_and_puts_it_on_the_line_signed(qtbot, station, tmp_path):
    from app.security.approval_dialog import ApprovalDialog
    from core.registry import ModelRegistry

    reg = ModelRegistry()
    reg.register(tiny_weights(tmp_path, name="new.pt"), "new-model")
    w = logged_in(qtbot, "eng-anna")
    live = w.live
    # not approved yet: choosing it is refused
    qtbot.waitUntil(lambda: "new-model" in live.models.names(), timeout=20000)
    live.models.box.setCurrentText("new-model")
    live.models.box.activated.emit(live.models.box.currentIndex())
    qtbot.waitUntil(lambda: "not approved yet" in live.panel.error_label.text(), timeout=20000)
    shown = []

    def approve(d):
        qtbot.waitUntil(lambda: d.table.rowCount() == 2)
        row = next(i for i in range(2) if d.table.item(i, 0).text() == "new-model")
        qtbot.mouseClick(d.table.viewport(), Qt.LeftButton, pos=d.table.visualItemRect(d.table.item(row, 0)).center())
        shown.append(d.figures.text())
        sign(qtbot, "eng-anna", "mAP50 checked on lot 14")
        qtbot.mouseClick(d.approve, Qt.LeftButton)
        qtbot.waitUntil(lambda: reg.card("new-model").approved, timeout=10000)
        d.reject()

    on_modal(ApprovalDialog, approve)
    click_menu(qtbot, w, "&Inspection", "Models and approval…")
    assert "new-model: teacher" in shown[0] and "on its validation set" in shown[0]
    assert reg.card("new-model").approved_by == "eng-anna"
    # now it goes on the line, signed; the live view names who approved it
    sign(qtbot, "eng-anna", "new model for lot 14")
    live.models.box.setCurrentText("new-model")
    live.models.box.activated.emit(live.models.box.currentIndex())
    qtbot.waitUntil(lambda: live.models.detector is not None and live.models.detector.name == "new-model" and live.models.card is not None,
                    timeout=30000)
    assert "mAP50 checked on lot 14" in live.models.label.text()
    qtbot.waitUntil(lambda: bool(audit_rows("model")), timeout=20000)
    row = audit_rows("model")[0]
    assert (row[1], row[6], row[7]) == ("eng-anna", "engineer", "new model for lot 14") and "new-model" in row[5]


def test_an_administrator_signs_a_line_connection_and_manages_users(qtbot, station):
    from app.live.line_dialog import LineDialog
    from app.security.admin_dialog import AdminDialog

    w = logged_in(qtbot, "adm-ada")

    def set_line(d):
        qtbot.keyClicks(d.line, "line-3")
        sign(qtbot, "adm-ada", "line 3 commissioning")
        qtbot.mouseClick(d.findChild(QDialogButtonBox).button(QDialogButtonBox.Save), Qt.LeftButton)

    on_modal(LineDialog, set_line)
    click_menu(qtbot, w, "&Inspection", "Line connections…")
    assert w.settings["line"] == "line-3"
    qtbot.waitUntil(lambda: bool(audit_rows("records")), timeout=20000)
    row = audit_rows("records")[0]
    assert (row[1], row[6], row[7]) == ("adm-ada", "administrator", "line 3 commissioning")
    assert json.loads(row[5])["line"] == "line-3"

    def add_user(d):
        assert [d.users.table.item(i, 0).text() for i in range(d.users.table.rowCount())] == \
            ["adm-ada", "eng-anna", "op-otto"]
        qtbot.keyClicks(d.users.name, "op-paul")
        qtbot.keyClicks(d.users.password, "operator-pw-2")
        qtbot.mouseClick(d.users.add, Qt.LeftButton)
        d.reject()

    on_modal(AdminDialog, add_user)
    click_menu(qtbot, w, "A&dministration", "Users…")
    assert station.role_of("op-paul") == "operator"


def test_log_out_then_another_user_and_the_idle_lock(qtbot, station, home):
    w = logged_in(qtbot, "eng-anna")
    assert w.tabs.isTabEnabled(1)
    click_menu(qtbot, w, "&Account", "Log out")
    assert w.session.user is None and not w.tabs.isTabEnabled(0) and w.login_dialog.isVisible()
    qtbot.keyClicks(w.login_dialog.name, "op-otto")
    qtbot.keyClicks(w.login_dialog.password, PW["op-otto"])
    qtbot.keyClick(w.login_dialog.password, Qt.Key_Return)
    assert w.session.user.name == "op-otto" and w.tabs.isTabEnabled(0) and not w.tabs.isTabEnabled(1)
    assert w.user_label.text() == "op-otto · operator"
    w.session.idle_ms = 300
    w.session._restart_idle()
    qtbot.waitUntil(lambda: w.session.locked, timeout=5000)
    assert not w.live.btn_start.isEnabled() and w.login_dialog.isVisible() and "locked" in w.user_label.text()
    from PySide6.QtCore import QCoreApplication, QEvent
    from app.security.login_dialog import LoginDialog

    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    assert w.findChildren(LoginDialog) == [w.login_dialog]      # three logins, one dialog kept


def test_without_users_the_window_is_as_before_and_says_how_to_set_them_up(qtbot, home):
    w = _window(qtbot)
    w.start_login()
    assert w.login_dialog is None
    assert not w.account_menu.menuAction().isVisible()
    assert w.live.recipes.btn_edit.isEnabled() and w.live.models.box.isEnabled() and w.tabs.isTabEnabled(1)
    assert "python main.py users add NAME --role administrator" in w.about_text()
