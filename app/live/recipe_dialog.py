"""Edit a recipe: default threshold and minimum area, per-class overrides."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit,
                               QMessageBox, QTableWidget, QTableWidgetItem, QVBoxLayout)

from core.inspect.recipe import Recipe


class RecipeDialog(QDialog):
    def __init__(self, recipe: Recipe, class_names: list[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Recipe")
        self.names = class_names
        self.recipe = recipe
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.name = QLineEdit(recipe.name)
        self.conf = QDoubleSpinBox(decimals=3, minimum=0.0, maximum=1.0, singleStep=0.05, value=recipe.conf)
        self.area = QDoubleSpinBox(decimals=0, minimum=0, maximum=1e8, singleStep=10, value=recipe.min_area)
        form.addRow("Name", self.name)
        form.addRow("Default confidence threshold", self.conf)
        form.addRow("Default minimum box area (px²)", self.area)
        lay.addLayout(form)
        lay.addWidget(QLabel("Per-class rules (leave empty to use the defaults):"))
        self.table = QTableWidget(len(class_names), 2)
        self.table.setHorizontalHeaderLabels(["confidence", "min area px²"])
        self.table.setVerticalHeaderLabels(class_names)
        for i, n in enumerate(class_names):
            c = recipe.class_conf.get(n)
            a = recipe.class_min_area.get(n)
            self.table.setItem(i, 0, QTableWidgetItem("" if c is None else f"{c:g}"))
            self.table.setItem(i, 1, QTableWidgetItem("" if a is None else f"{a:g}"))
        lay.addWidget(self.table)
        bb = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        bb.accepted.connect(self._accept)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.result_recipe: Recipe | None = None

    def _accept(self):
        try:
            cc, ca = {}, {}
            for i, n in enumerate(self.names):
                for col, target in ((0, cc), (1, ca)):
                    it = self.table.item(i, col)
                    txt = it.text().strip() if it else ""
                    if txt:
                        target[n] = float(txt)
            # what the dialog does not show (camera settings, ignored classes) stays as it was
            self.result_recipe = replace(self.recipe, name=self.name.text().strip(), conf=self.conf.value(),
                                         class_conf=cc, min_area=self.area.value(), class_min_area=ca).validate()
        except ValueError as e:
            QMessageBox.warning(self, "Recipe", str(e))
            return
        self.accept()
