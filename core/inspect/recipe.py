"""Recipes: the rules that turn detections into an OK/NG verdict, saved by name.

A detection counts as a defect when its score reaches its class threshold (or the default) and
its box area (original pixels) reaches the class minimum (or the default). Any defect -> NG.
``camera`` holds the industrial camera's settings for the product (SFNC names, e.g. ExposureTime,
``core.inspect.cameras.settings``): a changeover switches thresholds and camera together.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.config import PREDICT_CONF
from core.util.json_store import JsonStore

from .cameras import settings as camera_settings


@dataclass
class Recipe:
    name: str = "default"
    conf: float = PREDICT_CONF                           # default confidence threshold
    class_conf: dict[str, float] = field(default_factory=dict)
    min_area: float = 0.0                                # default minimum box area, px^2
    class_min_area: dict[str, float] = field(default_factory=dict)
    ignore_classes: list[str] = field(default_factory=list)
    camera: dict[str, object] = field(default_factory=dict)   # SFNC feature -> value, written before its frames

    def min_conf(self) -> float:
        """The lowest threshold of any class: what the predictor must keep for this recipe to judge."""
        return min([self.conf, *self.class_conf.values()])

    def threshold(self, cls_name: str) -> float:
        return float(self.class_conf.get(cls_name, self.conf))

    def defect_mask(self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, names: list[str]) -> np.ndarray:
        """Which detections count as defects under this recipe."""
        if len(scores) == 0:
            return np.zeros(0, bool)
        cn = [names[int(c)] if 0 <= int(c) < len(names) else str(c) for c in classes]
        thr = np.array([self.threshold(n) for n in cn])
        min_a = np.array([float(self.class_min_area.get(n, self.min_area)) for n in cn])
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        ignore = np.array([n in self.ignore_classes for n in cn])
        return (scores >= thr) & (area >= min_a) & ~ignore

    def verdict(self, boxes, scores, classes, names) -> tuple[str, np.ndarray]:
        m = self.defect_mask(boxes, scores, classes, names)
        return ("NG" if m.any() else "OK"), m

    def validate(self) -> "Recipe":
        if not self.name or not re.fullmatch(r"[\w .\-]{1,64}", self.name):
            raise ValueError(f"recipe name '{self.name}' must be 1-64 letters, digits, spaces, '.', '-' or '_'")
        for k, v in [("conf", self.conf), *self.class_conf.items()]:
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"recipe '{self.name}': threshold for {k} must be in [0, 1], got {v}")
        for k, v in [("min_area", self.min_area), *self.class_min_area.items()]:
            if float(v) < 0:
                raise ValueError(f"recipe '{self.name}': minimum area for {k} must be >= 0")
        try:
            self.camera = camera_settings.validate(self.camera)
        except ValueError as e:
            raise ValueError(f"recipe '{self.name}': {e}") from None
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        known = set(cls.__dataclass_fields__)
        bad = set(d) - known
        if bad:
            raise ValueError(f"unknown recipe keys: {', '.join(sorted(bad))}")
        return cls(**d).validate()


class RecipeStore(JsonStore):
    """Recipes as JSON files in a folder, one per name; writes are atomic."""

    def __init__(self, folder: str | Path):
        super().__init__(folder, "recipe")

    def load(self, name: str) -> Recipe:
        d = self.load_dict(name)
        try:
            return Recipe.from_dict(d)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{self._path(name)}: not a valid recipe ({e})") from None

    def save(self, recipe: Recipe) -> Path:
        recipe.validate()
        return self.save_dict(recipe.name, recipe.to_dict())
