"""Which dataset class each of a model's classes proposes: asked when a model pre-labels a dataset
whose classes it does not share by name.

Each model class maps to a class of the dataset, to a new class of its own name (it joins the
dataset's list only when a proposal of it is accepted), or to nothing (its boxes are not proposed).
"""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout

IGNORE = "ignore (no proposals)"


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def match_by_name(name: str, classes: list[str]) -> str | None:
    """The dataset class named as ``name`` (case, spaces, '-' and '_' aside), or None."""
    return next((c for c in classes if _key(c) == _key(name)), None)


def new_class(name: str) -> str:
    return f"a new class '{name}' (added when you accept one)"


class ClassMapDialog(QDialog):
    """After ``exec()``: ``mapping()`` = {model class: dataset class name, or None to ignore}."""

    def __init__(self, model: str, model_classes: list[str], classes: list[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Map the model's classes")
        self.combos: dict[str, QComboBox] = {}
        form = QFormLayout()
        for m in model_classes:
            box = QComboBox()
            box.setObjectName(f"map_{m}")
            box.addItems([*classes, new_class(m), IGNORE])
            box.setCurrentText(new_class(m))
            self.combos[m] = box
            form.addRow(f"'{m}' proposes", box)
        head = QLabel(f"The model <b>{model}</b> knows classes this dataset does not have by these names. "
                      "Choose the dataset's class each one proposes; a new class joins the dataset only when "
                      "you accept a proposal of it.")
        head.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(head)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def mapping(self) -> dict[str, str | None]:
        out = {}
        for m, box in self.combos.items():
            t = box.currentText()
            out[m] = None if t == IGNORE else (m if t == new_class(m) else t)
        return out
