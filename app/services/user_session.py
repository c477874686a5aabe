"""Who is at the desktop: the logged-in station user (``core.security.users``), the idle lock, and the
role gate every view's actions and buttons go through.

A station with no users (no ``users.json``) runs as before: everything is allowed and the audit trail
names the OS user. With users, ``MainWindow`` asks for a login at start (or logs the configured kiosk
operator in), the screen locks after ``idle_lock_min`` minutes without input, and a widget or action
tagged ``gate(w, "recipe.edit")`` refuses a click from a role that may not do it (it is shown disabled,
and a click that reaches it anyway is swallowed and said).
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QWidget

from core.security.users import AuthError, Signature, User, UserStore, least_role

NEEDS = "sdgas_needs"        # the Qt property holding the action a widget or QAction needs
WANTED = "sdgas_wanted"      # whether the view itself wants it enabled (its own logic), whatever the role


def needs(target, action: str):
    """Tag ``target`` (a QWidget or QAction of a view) with the right it needs (``core.security.users``
    PERMISSIONS); the main window gates every tagged child and menu action. Returns ``target``."""
    target.setProperty(NEEDS, action)
    return target


class UserSession(QObject):
    changed = Signal(object)          # the User now logged in, or None (logged out or locked)
    refused = Signal(str)             # a gated click refused: the message to show

    def __init__(self, store: UserStore | None = None, idle_lock_min: float = 15.0, parent=None):
        super().__init__(parent)
        self.store = store or UserStore()
        self.user: User | None = None
        self.locked = False
        self._gated: list = []
        self._applying = False      # the gate itself is enabling or disabling: not the view's wish
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.timeout.connect(self.lock)
        self.idle_ms = int(idle_lock_min * 60_000)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    @property
    def enabled(self) -> bool:
        """Users are set up on this station: logins, roles and signed changes are in force."""
        return self.store.exists()

    # -------------------------------------------------------------------------------- logging in
    def login(self, name: str, password: str) -> User:
        user = self.store.authenticate(name.strip(), password)     # AuthError with the message to show
        self.user, self.locked = user, False
        self._restart_idle()
        self._apply()
        self.changed.emit(user)
        return user

    def kiosk(self, name: str) -> User:
        """The configured operator account of a kiosk, logged in without a password: operator rights only."""
        role = self.store.role_of(name)
        if role != "operator":
            raise AuthError(f"kiosk account '{name}': must be an existing operator account (it is {role or 'unknown'})")
        self.user, self.locked = User(name, role), False
        self._restart_idle()
        self._apply()
        self.changed.emit(self.user)
        return self.user

    def logout(self) -> None:
        self.user, self.locked = None, False
        self._idle.stop()
        self._apply()
        self.changed.emit(None)

    def lock(self) -> None:
        """The idle lock: nothing is allowed until someone logs in again."""
        if not self.enabled or self.user is None:
            return
        self.locked = True
        self._apply()
        self.changed.emit(None)

    # ------------------------------------------------------------------------------------ rights
    def may(self, action: str) -> bool:
        if not self.enabled:
            return True
        return self.user is not None and not self.locked and self.user.may(action)

    def why_not(self, action: str) -> str:
        who = "nobody is logged in" if self.user is None else "the screen is locked" if self.locked else \
            f"{self.user.name} is {self.user.role}"
        return f"Refused: {action.replace('.', ' ')} needs {least_role(action)} or above ({who})."

    def sign(self, action: str, password: str, reason: str) -> Signature | None:
        """A signed change by the logged-in user (None on a station without users)."""
        if not self.enabled:
            return None
        if self.user is None or self.locked:
            raise AuthError("log in first")
        return self.store.sign(self.user.name, password, reason, action)

    # -------------------------------------------------------------------------------- the gate
    def gate(self, target, action: str | None = None):
        """``target`` (a QWidget or QAction) needs ``action`` (default: the one ``needs`` tagged it with):
        shown disabled to a role without it, and a click on it refused. What the view itself wants (a Start
        button without a model stays disabled) is kept, and comes back when the right does. Returns it."""
        if target.property("sdgas_gated"):
            return target
        action = action or target.property(NEEDS)
        target.setProperty(NEEDS, action)
        target.setProperty("sdgas_gated", True)
        self._gated.append(target)
        if isinstance(target, QWidget):
            target.setProperty(WANTED, not target.testAttribute(Qt.WA_ForceDisabled))
            target.installEventFilter(_Gate(self, action, target))
        else:
            target.setProperty(WANTED, target.isEnabled())
            target.setProperty("sdgas_set", target.isEnabled())
            target.changed.connect(lambda t=target: self._action_changed(t))
        self._apply_one(target)
        return target

    def _wish(self, t, wanted: bool) -> None:
        """The view enabled or disabled ``t`` (its own logic): kept, and overruled while the role may not."""
        t.setProperty(WANTED, wanted)
        if wanted and not self.may(t.property(NEEDS)):
            self._set(t, False)

    def _action_changed(self, a) -> None:
        if not self._applying and a.isEnabled() != a.property("sdgas_set"):
            self._wish(a, a.isEnabled())

    def _set(self, t, on: bool) -> None:
        self._applying = True
        try:
            t.setEnabled(on)
            if not isinstance(t, QWidget):
                t.setProperty("sdgas_set", on)
        finally:
            self._applying = False

    def _apply(self) -> None:
        self._gated = [t for t in self._gated if _alive(t)]
        for t in self._gated:
            self._apply_one(t)

    def _apply_one(self, t) -> None:
        self._set(t, bool(t.property(WANTED)) and self.may(t.property(NEEDS)))

    def eventFilter(self, obj, event) -> bool:
        """The application's input, watched for the idle lock only (the object is never looked at)."""
        if event.type() in _INPUT:
            self._restart_idle()
        return False

    def close(self) -> None:
        """Stop watching the application's input (the idle lock)."""
        self._idle.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def _restart_idle(self) -> None:
        if self.enabled and self.user is not None and not self.locked and self.idle_ms > 0:
            self._idle.start(self.idle_ms)


_INPUT = (QEvent.MouseButtonPress, QEvent.KeyPress, QEvent.Wheel, QEvent.TouchBegin)
_CLICKS = (QEvent.MouseButtonPress, QEvent.MouseButtonRelease, QEvent.MouseButtonDblClick, QEvent.KeyPress)


class _Gate(QObject):
    """On one gated widget (its child): a click or key from a role without the right is swallowed and said."""

    def __init__(self, session: UserSession, action: str, widget: QWidget):
        super().__init__(widget)
        self.session, self.action = session, action

    def eventFilter(self, obj, event) -> bool:
        et = event.type()
        if et == QEvent.EnabledChange and not self.session._applying:
            self.session._wish(obj, not obj.testAttribute(Qt.WA_ForceDisabled))
            return False
        if et in _CLICKS and not self.session.may(self.action):
            if et == QEvent.MouseButtonPress:
                self.session.refused.emit(self.session.why_not(self.action))
            return True
        return False


def _alive(obj) -> bool:
    try:
        obj.objectName()
        return True
    except RuntimeError:           # its C++ object was deleted
        return False
