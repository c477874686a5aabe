"""The labelling view's keyboard shortcuts: defaults, persisted overrides, and a dialog to change them."""
from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QKeySequenceEdit, QLabel, QVBoxLayout

# action -> (default key, what it does); digits 1-9 pick classes 1-9 and are not remapped
DEFAULTS = {
    "prev": ("A", "previous image"),
    "next": ("D", "next image"),
    "next_unlabelled": ("Shift+D", "next image that needs work (unlabelled or unreviewed)"),
    "save": ("Ctrl+S", "save now (navigating saves too)"),
    "undo": ("Ctrl+Z", "undo"),
    "redo": ("Ctrl+Shift+Z", "redo"),
    "delete": ("Delete", "delete the selected box, or reject the selected proposal"),
    "accept": ("Return", "accept the selected proposal"),
    "accept_all": ("Shift+Return", "accept every proposal of the image"),
    "reject_all": ("Shift+Delete", "reject every proposal of the image"),
    "mark_ok": ("O", "mark the image defect-free (OK)"),
    "copy_previous": ("Ctrl+Shift+V", "copy the previous image's boxes onto this one"),
    "select_next_box": ("Tab", "select the next box"),
    "fit": ("F", "fit the image in the window"),
    "prelabel": ("P", "pre-label this image with the chosen model"),
}


def keymap(overrides: dict | None) -> dict[str, str]:
    """Each action's key: the user's where set and valid, else the default."""
    out = {}
    for k, (default, _) in DEFAULTS.items():
        v = (overrides or {}).get(k, default)
        out[k] = v if isinstance(v, str) and not QKeySequence(v).isEmpty() else default
    return out


class ShortcutsDialog(QDialog):
    def __init__(self, current: dict[str, str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Labelling shortcuts")
        form = QFormLayout()
        self.edits = {}
        for k, (default, what) in DEFAULTS.items():
            e = QKeySequenceEdit(QKeySequence(current.get(k, default)))
            e.setToolTip(f"default: {default}")
            self.edits[k] = e
            form.addRow(what, e)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel | QDialogButtonBox.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.RestoreDefaults).clicked.connect(
            lambda: [e.setKeySequence(QKeySequence(DEFAULTS[k][0])) for k, e in self.edits.items()])
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Digits 1–9 give the selected box (or the next one) classes 1–9."))
        lay.addLayout(form)
        lay.addWidget(buttons)

    def values(self) -> dict[str, str]:
        return {k: e.keySequence().toString() for k, e in self.edits.items()}
