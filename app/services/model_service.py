"""Loads weights through the ``Detector`` facade in a background thread, and puts a trained model on
the line (compared with the one there, then registered)."""
from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from app.services.background import Background

# Below this mAP50 on its own validation set a model finds almost nothing; this far below the model
# on the line (same classes, scored on the same data) it is a step back.
NEAR_ZERO_MAP50 = 0.05
STEP_BACK_MAP50 = 0.05


@dataclass
class LineComparison:
    """What the engineer is shown before a model goes on the line."""
    new_name: str
    new_map50: float | None
    data: str
    current: str = ""                   # the model on the line now ("" when none)
    current_map50: float | None = None  # scored on the same data, when the classes match
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        def fig(v):
            return "not measured" if v is None else f"{v:.3f}"

        lines = [f"'{self.new_name}' (mAP50 {fig(self.new_map50)} on {self.data or 'its validation set'})"]
        if self.current:
            lines.append(f"replaces '{self.current}' in the live view"
                         + (f" (mAP50 {fig(self.current_map50)} on the same data)."
                            if self.current_map50 is not None else "."))
        else:
            lines.append("goes on the line (no model is there now).")
        return "\n".join(lines + [""] + [f"Warning: {w}" for w in self.warnings])


def compare_for_line(new_weights: str, new_name: str, new_map50: float | None, data: str,
                     current: str | None, device: str = "cpu") -> LineComparison:
    """Score the model on the line on the new model's data (when their classes match) and say what to
    warn about. Runs off the GUI thread."""
    from core.detector import Detector

    cmp = LineComparison(new_name, new_map50, data, current or "")
    if new_map50 is None or new_map50 < NEAR_ZERO_MAP50:
        cmp.warnings.append(f"it finds almost nothing: mAP50 {0.0 if new_map50 is None else new_map50:.3f} on its "
                            "validation set. Train longer or check the labels before it judges parts.")
    if current and data:
        try:
            cur = Detector(current, device)
            if cur.names == Detector(new_weights, device).names:
                cmp.current_map50 = float(cur.val(data)["map50"])
        except Exception:  # noqa: BLE001 - a current model that cannot be scored is just not compared
            cmp.current_map50 = None
        if (cmp.current_map50 is not None and new_map50 is not None
                and new_map50 < cmp.current_map50 - STEP_BACK_MAP50):
            cmp.warnings.append(f"it scores {cmp.current_map50 - new_map50:.3f} mAP50 below '{current}' on the "
                                "same data: parts the line catches now may pass.")
    return cmp


class ModelService(QObject):
    """``load(weights, source=...)`` -> ``loaded(detector, path)`` (a ``Detector`` whose runtime is
    loaded) or ``failed(message)``; ``weights`` may name a bundled or a registered model (``default``
    picks the demo model for the demo line)."""

    loaded = Signal(object, str)
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._bg = Background(self, name="model-loader")

    def load(self, weights: str, device: str = "auto", imgsz: int | None = None, source: str | None = None):
        def work():
            from core.detector import Detector

            d = Detector(weights, device, source=source)
            d.backend(imgsz)      # loaded here, so that Start on the GUI thread only wraps it
            return d, str(d.weights)

        def failed(e):  # any failure becomes a message naming the file
            self.failed.emit(str(e) if str(e).startswith(str(weights)) else f"{weights}: {e}")

        self._bg.submit(work, lambda r: self.loaded.emit(*r), failed)

    def compare(self, new_weights: str, new_name: str, new_map50: float | None, data: str, current: str | None,
                done, failed) -> None:
        """``done(LineComparison)`` on the GUI thread."""
        self._bg.submit(lambda: compare_for_line(new_weights, new_name, new_map50, data, current), done, failed)

    def register(self, weights: str, name: str, done, failed) -> None:
        """Copy ``weights`` into the registry as ``name`` (replacing one of that name); ``done(card)``."""
        from core.registry import ModelRegistry

        self._bg.submit(lambda: ModelRegistry().register(weights, name, replace=True), done, failed)

    def busy(self) -> bool:
        return self._bg.busy()

    def shutdown(self):
        self._bg.shutdown()
