"""The main window: a thin shell that hosts the views in tabs and their actions in its menus.

Each view is a QWidget with ``menus()`` ({menu title: [QAction or None]}), a ``status`` signal and
``shutdown()``; the window knows nothing else of them. The live view is the first; then training,
labelling and reports. A view may also have ``confirm_close()``.

With station users (``core.security.users``) the window asks for a login at start (or logs the kiosk
operator account of the ``kiosk_user`` setting in), locks after ``idle_lock_min`` minutes without input,
and gates each tab, and each widget and menu action a view tagged with ``needs``, by the role's rights.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QMessageBox, QTabWidget, QWidget

import core
from app.help.guide_view import GUIDES, GuideWindow
from app.live.live_view import LiveView
from app.label.label_view import LabelView
from app.report.report_view import ReportView
from app.services.user_session import NEEDS, UserSession, needs
from app.train.train_view import TrainView
from core.security.users import AuthError, UserStore
from core.settings import Settings

SET_UP_USERS = ("No station users are set up: anyone at this desktop may do everything, and changes are not "
                "signed. To set them up: Administration → Users… (the first user is an administrator), or "
                "python main.py users add NAME --role administrator. docs/line.md, Securing the station, tells "
                "the roles and what each may do.")


class MainWindow(QMainWindow):
    def __init__(self, source: str | None = None, weights: str | None = None, settings: Settings | None = None,
                 session: UserSession | None = None):
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
        self.tab_needs: dict[int, str] = {}   # id(view) -> the right its whole tab needs
        self.guide = None          # the user guide's window, made on first F1
        self.login_dialog = None
        self.session = session or UserSession(UserStore(), idle_lock_min=float(self.settings["idle_lock_min"] or 0),
                                              parent=self)
        self.menuBar().addMenu("&File")  # first in the bar, whatever the views add
        self.live = self.add_view(LiveView(self.settings, self, session=self.session), "Live inspection")
        self.training = self.add_view(TrainView(self.settings, self, session=self.session), "Training", "train")
        self.training.use_model.connect(self._use_model)
        self.labelling = self.add_view(LabelView(self.settings, self), "Labelling", "label")
        self.labelling.train_requested.connect(self._train_on)
        self.live.review_requested.connect(self._review)
        self.reports = self.add_view(ReportView(self.settings, self), "Reports")
        self._standard_menus()
        self._people_menus()
        self.user_label = QLabel("")
        self.user_label.setObjectName("user_label")
        self.statusBar().addPermanentWidget(self.user_label)
        for v in self.views:       # every widget and menu action a view tagged with the right it needs
            for t in [*v.findChildren(QWidget), *v.findChildren(QAction)]:
                if t.property(NEEDS):
                    self.session.gate(t)
        self.session.changed.connect(self._user_changed)
        self.session.refused.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self._user_changed(self.session.user)
        self.statusBar().showMessage("Ready")
        if self.settings.problem:
            self.live.show_error(self.settings.problem)
        if source and weights:  # `gui --source S --weights W` starts inspecting as soon as the model is ready
            self.live.start_when_loaded()

    def add_view(self, view, title: str, right: str | None = None):
        """``right``: what the whole tab needs (its menu actions too, unless the view tagged them itself)."""
        self.views.append(view)
        self.tabs.addTab(view, title)
        if right:
            self.tab_needs[id(view)] = right
        view.status.connect(lambda m: self.statusBar().showMessage(m, 8000))
        for menu_title, actions in view.menus().items():
            menu = self._menu(menu_title)
            for a in actions:
                if a is not None and right and not a.property(NEEDS):
                    needs(a, right)
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
        about.triggered.connect(lambda: QMessageBox.about(self, "SD-GASNet Inspector", self.about_text()))
        h.addAction(about)

    def about_text(self) -> str:
        s, u = self.session, self.session.user
        who = SET_UP_USERS if not s.enabled else f"Logged in: {u.name} ({u.role})." if u else "Nobody is logged in."
        return (f"SD-GASNet Inspector {core.__version__}\nSurface-defect inspection with the SD-GASNet detector."
                f"\n\n{who}")

    # ------------------------------------------------------------------------------ people
    def _people_menus(self):
        """Account (log in, switch user, log out, lock) and Administration (users, certificates, retention,
        the audit trail), before Help."""
        help_menu = self._menu("&Help").menuAction()
        self.account_menu = QMenu("&Account", self)
        self.menuBar().insertMenu(help_menu, self.account_menu)
        for text, slot, name in (("Log in / switch user…", lambda: self.ask_login(), "login"),
                                 ("Log out", self.log_out, "logout"), ("Lock now", self.session.lock, "lock")):
            a = self.account_menu.addAction(text)
            a.setObjectName(name)
            a.triggered.connect(slot)
        admin = QMenu("A&dministration", self)
        admin.setObjectName("admin_menu")
        self.menuBar().insertMenu(help_menu, admin)
        for text, tab, right in (("Users…", "users", "users.manage"),
                                 ("OPC UA certificates (trust list)…", "certs", "certs.trust"),
                                 ("Image retention…", "retention", "retention.edit")):
            a = admin.addAction(text)
            a.setObjectName(f"admin_{tab}")
            a.triggered.connect(lambda _=False, t=tab: self.administration(t))
            self.session.gate(a, right)
        admin.addSeparator()
        a = admin.addAction("Audit trail: verify, export…")
        a.setObjectName("admin_audit")
        a.triggered.connect(self.live.audit.show_history)
        self.session.gate(a, "audit.verify")

    def administration(self, tab: str = "users"):
        from app.security.admin_dialog import AdminDialog

        dlg = AdminDialog(self.session, self.settings, self)
        dlg.tabs.setCurrentWidget(getattr(dlg, tab))
        dlg.exec()
        if self.session.enabled and self.session.user is None:     # the first user was just set up
            self._user_changed(None)

    def start_login(self):
        """At start: nothing without station users; the kiosk operator account, or the login."""
        if not self.session.enabled:
            return
        kiosk = str(self.settings["kiosk_user"] or "").strip()
        if kiosk:
            try:
                self.session.kiosk(kiosk)
                return
            except (AuthError, ValueError) as e:
                self.live.show_error(f"kiosk_user setting: {e}")
        self.ask_login()

    def ask_login(self, why: str = ""):
        """The login, window-modal (the line keeps running behind it); Cancel leaves the window locked."""
        from app.security.login_dialog import LoginDialog

        if not self.session.enabled:
            QMessageBox.information(self, "Log in", SET_UP_USERS)
            return
        if self.login_dialog is not None and self.login_dialog.isVisible():
            return
        if self.login_dialog is not None:   # the last one, hidden: one dialog a window, not one a login
            self.login_dialog.deleteLater()
        self.login_dialog = LoginDialog(self.session, why, self)
        self.login_dialog.open()

    def log_out(self):
        self.session.logout()
        self.ask_login()

    def _user_changed(self, user):
        """Tabs and menus follow the role; the status bar says who is logged in."""
        s = self.session
        self.account_menu.menuAction().setVisible(s.enabled)
        self.user_label.setVisible(s.enabled)
        if not s.enabled:
            return
        in_ = user is not None and not s.locked
        self.user_label.setText(f"{s.user.name} · {s.user.role}" if in_ else
                                "locked" if s.locked else "not logged in")
        for i, v in enumerate(self.views):
            right = self.tab_needs.get(id(v))
            self.tabs.setTabEnabled(i, in_ and (right is None or s.may(right)))
        if not self.tabs.isTabEnabled(self.tabs.currentIndex()):
            self.tabs.setCurrentWidget(self.live)
        if s.locked:
            kiosk = str(self.settings["kiosk_user"] or "").strip()
            if kiosk:                 # a kiosk falls back to its operator account
                try:
                    s.kiosk(kiosk)
                    return
                except (AuthError, ValueError):
                    pass
            self.ask_login(f"The screen locked after {self.settings['idle_lock_min']} minutes without input "
                           "(the line keeps running). Log in to go on.")

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
        self.live.models.choose(name, self.training.use_signature)
        self.tabs.setCurrentWidget(self.live)

    def closeEvent(self, e):
        for v in self.views:
            if hasattr(v, "confirm_close") and not v.confirm_close():
                e.ignore()
                return
        for v in self.views:
            v.shutdown()
        self.session.close()
        super().closeEvent(e)
