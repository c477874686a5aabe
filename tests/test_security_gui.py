"""The station's people in the GUI, driven by mouse and keys: the login, the role gate, the idle lock, a
signed change, and the administrator trusting a refused PLC's certificate."""
import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QPushButton

from core.security.users import UserStore


@pytest.fixture
def users(tmp_path, monkeypatch):
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path))
    s = UserStore()
    s.add("op-otto", "operator", "operator-pw-1")
    s.add("eng-anna", "engineer", "engineer-pw-1")
    s.add("adm-ada", "administrator", "admin-pw-123")
    return s


_DIALOGS = []     # qtbot keeps only weak references to its widgets


@pytest.fixture
def sessions():
    made = []
    yield made
    for d in _DIALOGS:      # deleted here: the garbage collector, run inside a Python event filter, once
        d.close()           # deleted a login dialog while Qt was giving it focus (a segfault)
        shiboken6.delete(d)
    _DIALOGS.clear()
    for s in made:          # closed and deleted now, not by the garbage collector after the QApplication
        s.close()
        shiboken6.delete(s)


def _session(qtbot, users, idle_min=15.0, made=None):
    from app.services.user_session import UserSession

    s = UserSession(users, idle_lock_min=idle_min)
    if made is not None:
        made.append(s)
    return s


def _login(qtbot, session, name, password):
    from app.security.login_dialog import LoginDialog

    dlg = LoginDialog(session)
    qtbot.addWidget(dlg)
    _DIALOGS.append(dlg)
    dlg.show()
    qtbot.keyClicks(dlg.name, name)
    qtbot.keyClicks(dlg.password, password)
    qtbot.mouseClick(dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok), Qt.LeftButton)
    return dlg


def test_a_wrong_password_is_refused_at_the_login_and_the_right_one_logs_in(qtbot, users, sessions):
    s = _session(qtbot, users, made=sessions)
    dlg = _login(qtbot, s, "op-otto", "nope-nope")
    assert dlg.isVisible() and "wrong user name or password" in dlg.message.text() and s.user is None
    qtbot.keyClicks(dlg.password, "operator-pw-1")
    qtbot.keyClick(dlg.password, Qt.Key_Return)
    assert not dlg.isVisible() and s.user.name == "op-otto"


@pytest.mark.parametrize("who, allowed", [("op-otto", False), ("eng-anna", True)])
def test_a_gated_button_refuses_a_role_that_may_not(qtbot, users, who, allowed, sessions):
    s = _session(qtbot, users, made=sessions)
    _login(qtbot, s, who, {"op-otto": "operator-pw-1", "eng-anna": "engineer-pw-1"}[who])
    b = QPushButton("Edit recipe…")
    qtbot.addWidget(b)
    clicked, refused = [], []
    b.clicked.connect(lambda: clicked.append(1))
    s.refused.connect(refused.append)
    s.gate(b, "recipe.edit")
    b.show()
    b.setEnabled(True)             # a view's own logic enables it again: the gate still refuses
    qtbot.mouseClick(b, Qt.LeftButton)
    assert bool(clicked) is allowed
    assert bool(refused) is not allowed
    if refused:
        assert "recipe edit needs engineer or above (op-otto is operator)" in refused[0]


def test_the_screen_locks_when_idle(qtbot, users, sessions):
    s = _session(qtbot, users, idle_min=0.01, made=sessions)       # 0.6 s
    _login(qtbot, s, "eng-anna", "engineer-pw-1")
    assert s.may("recipe.edit")
    qtbot.waitUntil(lambda: s.locked, timeout=5000)
    assert not s.may("recipe.edit") and not s.may("inspect.run")


def test_a_signed_change_asks_for_the_password_and_a_reason(qtbot, users, sessions):
    from app.security.sign_dialog import SignDialog

    s = _session(qtbot, users, made=sessions)
    _login(qtbot, s, "eng-anna", "engineer-pw-1")
    dlg = SignDialog(s, "recipe.edit", "threshold scratches 0.50 → 0.35")
    qtbot.addWidget(dlg)
    dlg.show()
    ok = dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok)
    qtbot.keyClicks(dlg.password, "engineer-pw-1")
    qtbot.mouseClick(ok, Qt.LeftButton)
    assert dlg.isVisible() and "reason" in dlg.message.text()
    qtbot.keyClicks(dlg.password, "engineer-pw-1")
    qtbot.keyClicks(dlg.reason, "escapes on line 3")
    qtbot.mouseClick(ok, Qt.LeftButton)
    assert not dlg.isVisible()
    assert (dlg.signature.user, dlg.signature.role, dlg.signature.reason) == ("eng-anna", "engineer", "escapes on line 3")


def test_the_administrator_trusts_a_refused_plc_certificate_with_a_click(qtbot, users, tmp_path, sessions):
    from test_security_opcua import _client_cert

    from app.security.admin_dialog import AdminDialog
    from core.security.pki import Pki
    from core.settings import Settings

    pki = Pki()
    pki.ensure_own()
    from cryptography import x509

    cert = x509.load_der_x509_certificate(_client_cert(tmp_path / "plc", "urn:plc:line3")[0].read_bytes())
    pki.keep_rejected(cert)
    s = _session(qtbot, users, made=sessions)
    _login(qtbot, s, "adm-ada", "admin-pw-123")
    dlg = AdminDialog(s, Settings(tmp_path / "settings.json"))
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.tabs.setCurrentWidget(dlg.certs)
    t = dlg.certs.table
    row = next(i for i in range(t.rowCount()) if t.item(i, 0).text() == "rejected")
    rect = t.visualItemRect(t.item(row, 2))
    qtbot.mouseClick(t.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.mouseClick(dlg.certs.trust, Qt.LeftButton)
    assert [c.state for c in pki.list() if "line3" in c.subject] == ["trusted"]
    # and adds a user from the Users tab
    dlg.tabs.setCurrentWidget(dlg.users)
    qtbot.keyClicks(dlg.users.name, "plc-line3")
    dlg.users.role.setCurrentText("plc")
    qtbot.keyClicks(dlg.users.password, "plc-password-1")
    qtbot.mouseClick(dlg.users.add, Qt.LeftButton)
    assert users.role_of("plc-line3") == "plc"
