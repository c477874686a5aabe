"""Loads weights through the ``Detector`` facade in a background thread, and puts a trained model on
the line (compared with the one there, then registered)."""
from __future__ import annotations

from dataclasses import dataclass, field

import collections
import os
import subprocess
import sys

from PySide6.QtCore import QObject, QTimer, Signal

from app.services.background import Background
from core.train.runs import MAIN
from core.util.proc import below_normal

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
    picks the demo model for the demo line). With ``fastest`` the runtime cached for the weights
    loads; when none is cached yet, ``prepare`` makes it in the background (``progress`` lines, then
    ``prepared(detector)`` with that runtime loaded, or ``prepare_failed``)."""

    loaded = Signal(object, str)
    failed = Signal(str)
    progress = Signal(str)
    prepared = Signal(object)
    prepare_failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._bg = Background(self, name="model-loader")
        self._prep = Background(self, workers=4, name="runtime-prep")   # minutes: never in the way of a load
        self._preparing: dict[str, subprocess.Popen] = {}   # weights hash -> the child making its runtime
        self._lines: collections.deque = collections.deque(maxlen=200)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._drain)
        self._timer.start(200)

    def load(self, weights: str, device: str = "auto", imgsz: int | None = None, source: str | None = None,
             fastest: bool = False):
        def work():
            from core.detector import Detector

            d = Detector(weights, device, source=source)
            if fastest:
                d.use_fastest()   # the runtime prepared earlier for these weights, if any (no export here)
            d.backend(imgsz)      # loaded here, so that Start on the GUI thread only wraps it
            return d, str(d.weights)

        def failed(e):  # any failure becomes a message naming the file
            self.failed.emit(str(e) if str(e).startswith(str(weights)) else f"{weights}: {e}")

        self._bg.submit(work, lambda r: self.loaded.emit(*r), failed)

    def needs_preparing(self, detector) -> bool:
        """Whether ``detector`` (loaded with ``fastest``) could run faster once ``prepare`` has run."""
        return detector.runtime is None and detector.fastest_applies()

    def preparing(self) -> bool:
        return bool(self._preparing)

    def prepare(self, detector) -> bool:
        """Make the fastest runtime of ``detector``'s weights (export, checks, timing; cached) in a child
        process at low priority (minutes; the line keeps its CPU first, and closing the window ends
        it); False when it is being made already."""
        key = str(detector.checkpoint.get("hash"))
        if key in self._preparing:
            return False
        weights, device = str(detector.weights), detector.device
        cmd, kw = below_normal([sys.executable, str(MAIN), "export", "--weights", weights, "--fastest"])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(MAIN.parent), env={**os.environ, "PYTHONUNBUFFERED": "1"}, text=True,
                                errors="replace", **kw)
        self._preparing[key] = proc
        tail: collections.deque = collections.deque(maxlen=5)

        def work():   # a worker thread follows the child's lines, then loads what it made
            for line in proc.stdout:
                line = line.strip()
                if line and not line.startswith(("[torch.onnx]", "Obtain model graph")):
                    self._lines.append(line)
                    tail.append(line)
            if proc.wait() != 0:
                raise RuntimeError(tail[-1] if tail else f"exit code {proc.returncode}")
            from core.detector import Detector

            d = Detector(weights, device)
            if d.use_fastest() is None:
                raise RuntimeError("nothing was cached")
            d.backend()
            return d

        def done(d):
            self._preparing.pop(key, None)
            self._drain()
            self.prepared.emit(d)

        def failed(e):
            self._preparing.pop(key, None)
            self._drain()
            self.prepare_failed.emit(str(e))

        self._prep.submit(work, done, failed)
        return True

    def _drain(self):
        while self._lines:
            line = str(self._lines.popleft()).strip()
            if line:
                self.progress.emit(line.splitlines()[-1][:200])

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
        self._timer.stop()
        for proc in self._preparing.values():   # a half-made runtime is never used (the cache takes whole ones)
            proc.kill()
        self._bg.shutdown()
        self._prep.shutdown()
