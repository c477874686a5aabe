"""Training settings as form fields, built from ``core.config``: type, range, default and one-line help."""
from __future__ import annotations

from dataclasses import fields

import yaml
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QSpinBox, QWidget

from core.config import TRAIN_CHOICES, TRAIN_HELP, TRAIN_LABELS, TRAIN_RANGES, TrainConfig

_DEFAULTS = TrainConfig()


def choices_for(key: str) -> tuple | None:
    if key == "model":
        from core.model.architecture import MODEL_NAMES

        return tuple(MODEL_NAMES)
    if key == "device":
        return device_choices()
    return TRAIN_CHOICES.get(key)


def device_choices() -> tuple:
    """auto and cpu; CUDA devices only where present."""
    import torch

    cuda = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return ("auto", "cpu", *cuda)


class Field:
    """One setting: a widget, its value (``value()`` raises ValueError on bad text) and ``set``."""

    def __init__(self, key: str, on_change):
        self.key = key
        default = getattr(_DEFAULTS, key)
        self.default = default
        ch = choices_for(key)
        if ch:
            self.widget = QComboBox()
            self.widget.addItems([str(c) for c in ch])
            self.widget.currentTextChanged.connect(on_change)
        elif isinstance(default, bool):
            self.widget = QCheckBox()
            self.widget.toggled.connect(on_change)
        elif isinstance(default, int) and key in TRAIN_RANGES:
            lo, hi, lo_inc, _ = TRAIN_RANGES[key]
            self.widget = QSpinBox()
            self.widget.setRange(int(lo) + (0 if lo_inc else 1), int(hi) if hi is not None else 1_000_000)
            if key == "imgsz":
                self.widget.setSingleStep(32)
            self.widget.valueChanged.connect(on_change)
        else:
            self.widget = QLineEdit()
            self.widget.textChanged.connect(on_change)
        self.set(default)
        help_ = TRAIN_HELP.get(key, "")
        self.widget.setToolTip(f"{help_}\nsetting: {key}, default {default}")
        self.widget.setObjectName(f"setting_{key}")

    def value(self):
        w = self.widget
        if isinstance(w, QComboBox):
            return w.currentText()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            return w.value()
        text = w.text().strip()
        if self.key == "model_overrides":
            if not text:
                return None
            try:
                v = yaml.safe_load(text)
            except yaml.YAMLError:
                v = None
            if not isinstance(v, dict):
                raise ValueError(f"{self.key}: expected a mapping such as {{backbone: mlvt}}")
            return v
        if isinstance(self.default, float):
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{self.key}: '{text}' is not a number") from None
        return text or None

    def set(self, v):
        w = self.widget
        if isinstance(w, QComboBox):
            i = w.findText(str(v))
            if i >= 0:
                w.setCurrentIndex(i)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(v))
        elif isinstance(w, QSpinBox):
            w.setValue(int(v))
        elif v is None:
            w.setText("")
        elif isinstance(v, dict):
            w.setText(yaml.safe_dump(v, default_flow_style=True).strip())
        elif isinstance(v, list):
            w.setText(", ".join(map(str, v)))
        else:
            w.setText(str(v))


class SettingsForm(QWidget):
    """A form of settings; ``changed`` fires on every edit."""

    changed = Signal()

    def __init__(self, keys, parent=None, show_help: bool = True):
        super().__init__(parent)
        lay = QFormLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.fields: dict[str, Field] = {}
        self.labels: dict[str, QLabel] = {}
        for k in keys:
            f = Field(k, lambda *_: self.changed.emit())
            self.fields[k] = f
            row = QWidget()
            rl = QHBoxLayout(row)
            rl.setContentsMargins(0, 0, 0, 0)
            rl.addWidget(f.widget)
            if show_help:
                h = QLabel(f"{TRAIN_HELP.get(k, '').removeprefix('distillation: ')} (default {f.default})")
                h.setStyleSheet("color:#78909c; font-size:11px")
                rl.addWidget(h, 1)
            name = QLabel(TRAIN_LABELS.get(k, k))
            name.setToolTip(f"{TRAIN_HELP.get(k, '')}\nsetting: {k} (a --set {k}=… of the command line)")
            name.setBuddy(f.widget)
            self.labels[k] = name
            lay.addRow(name, row)

    def values(self) -> dict:
        return {k: f.value() for k, f in self.fields.items()}

    def set_values(self, d: dict):
        for k, v in d.items():
            if k in self.fields:
                self.fields[k].set(v)


def advanced_keys(shown: tuple) -> list[str]:
    """Every user setting not shown elsewhere in the dialog."""
    skip = {"data", "teacher", "weights", "out", "resume", "events", *shown}
    return [f.name for f in fields(TrainConfig) if f.name not in skip]


