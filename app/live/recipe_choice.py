"""The recipe in force: the Recipe box and Edit recipe…, the recipe folder, and the signed changes of a
recipe (its thresholds and areas, its camera settings)."""
from __future__ import annotations

from collections.abc import Callable
from html import escape

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QPushButton

from app.live.camera_dialog import CameraSettingsDialog
from app.live.recipe_dialog import RecipeDialog
from app.services.user_session import UserSession
from core.inspect.recipe import Recipe, RecipeStore
from core.settings import Settings, recipes_dir


class RecipeChoice(QObject):
    """``current``: the recipe in force. ``chosen(recipe, signature)`` when another one is chosen or the
    current one was changed (``signature``: the change signed, else None)."""

    chosen = Signal(object, object)
    status = Signal(str)
    error = Signal(str)

    def __init__(self, settings: Settings, session: UserSession, class_names: Callable[[], list[str]], parent):
        """``class_names()``: the classes of the model that judges (the rows of the recipe dialog);
        ``parent``: the view, over which dialogs open."""
        super().__init__(parent)
        self.settings, self.session, self._class_names = settings, session, class_names
        self.store = RecipeStore(recipes_dir())
        self.current = self._load(settings["recipe"])
        self.box = QComboBox()
        self.btn_edit = QPushButton("Edit recipe…")
        self.refresh()
        self.box.currentTextChanged.connect(self._choose)
        self.btn_edit.clicked.connect(self.edit)

    def _load(self, name: str) -> Recipe:
        try:
            return self.store.load(name)
        except ValueError:
            r = Recipe(name="default")
            if "default" not in self.store.names():
                try:
                    self.store.save(r)
                except OSError:
                    pass
            return r

    def refresh(self):
        self.box.blockSignals(True)
        self.box.clear()
        self.box.addItems(self.store.names() or ["default"])
        self.box.setCurrentText(self.current.name)
        self.box.blockSignals(False)

    def follow(self, recipe: Recipe | None):
        """The recipe the run switched to (the PLC's RecipeIndex), shown as the one in force."""
        if recipe is not None and recipe.name != self.current.name:
            self.current = recipe
            self.refresh()

    def _choose(self, name: str, signature=None):
        if not name:
            return
        try:
            self.current = self.store.load(name)
        except ValueError as e:
            self.error.emit(str(e))
            return
        self.settings["recipe"] = name
        self.settings.save()
        self.chosen.emit(self.current, signature)

    def _save(self, recipe: Recipe, signature) -> bool:
        """``recipe`` saved in the folder and in force; False (said) when it cannot be saved."""
        try:
            self.store.save(recipe.validate())
        except (OSError, ValueError) as e:
            self.error.emit(f"cannot save recipe: {e}")
            return False
        self.current = recipe
        self.refresh()
        self._choose(recipe.name, signature)
        return True

    def edit(self):
        """Thresholds and areas; saving a change signs it (station users: password again and a reason)."""
        from app.security.sign_dialog import signed
        from core.report.content import recipe_text

        dlg = RecipeDialog(self.current, self._class_names(), self.parent())
        if not (dlg.exec() and dlg.result_recipe):
            return
        new = dlg.result_recipe
        if new.to_dict() == self.current.to_dict():
            return
        before = recipe_text(self.current.to_dict()) if new.name == self.current.name else "(a new recipe)"
        ok, sig = signed(self.session, "recipe.edit", f"Recipe '{escape(new.name)}'<br>before: {escape(before)}<br>"
                         f"after: {escape(recipe_text(new.to_dict()))}", self.parent())
        if not ok:
            self.status.emit("recipe not changed")
            return
        self._save(new, sig)

    def edit_camera(self, uri: str):
        """The camera ``uri``'s settings with a live preview; saved, signed, into the recipe in force."""
        r = self.current
        try:
            dlg = CameraSettingsDialog(uri, r.camera, r.name, self.parent())
        except (ValueError, RuntimeError) as e:
            self.error.emit(str(e))
            return
        if not (dlg.exec() and dlg.camera is not None and dlg.camera != r.camera):
            return
        from app.security.sign_dialog import signed

        ok, sig = signed(self.session, "camera.edit", f"Camera settings of recipe '{escape(r.name)}'<br>"
                         f"before: {escape(str(r.camera or 'the camera as it is'))}<br>"
                         f"after: {escape(str(dlg.camera))}", self.parent())
        if not ok:
            self.status.emit("camera settings not changed")
            return
        r.camera = dlg.camera
        if self._save(r, sig):
            self.status.emit(f"camera settings saved in recipe '{r.name}'")
