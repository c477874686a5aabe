"""Frames from the line collected into a dataset folder for review: the loop back to training.

A frame is collected when it is NG, when its top score falls in the uncertainty band, or when it is
one in ``every`` (any that applies). It lands in ``DIR/images/`` with the model's boxes as
unreviewed proposals (``core.labels.review``) and no label file: it is unlabelled until a person
reviews it in the labelling view. Writing happens in a thread of its own with a bounded queue, so
the line never waits on the disk; frames that do not fit are counted, not queued. The review queue
is shared with the labelling view (``ReviewStore`` merges under the dataset lock), so the folder
may be open there while frames arrive.
"""
from __future__ import annotations

import datetime as dt
import queue
import threading
from pathlib import Path

import cv2

from core.data.annotation import Box
from core.data.formats.base import class_list_text, dataset_lock
from core.labels.review import ReviewStore
from core.util.io import atomic_write_bytes, atomic_write_text


def parse_band(text: str | None) -> tuple[float, float] | None:
    """``"0.2-0.5"`` -> (0.2, 0.5)."""
    if not text:
        return None
    try:
        lo, hi = (float(v) for v in str(text).split("-", 1))
    except ValueError:
        raise ValueError(f"--collect-band expects LO-HI such as 0.2-0.5, got '{text}'") from None
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"--collect-band needs 0 <= LO <= HI <= 1, got '{text}'")
    return lo, hi


class Collector:
    def __init__(self, folder: str | Path, names: list[str], band: tuple[float, float] | None = None,
                 every: int = 0, ng: bool = True, queue_size: int = 32):
        self.folder = Path(folder)
        self.names = list(names)
        self.band, self.every, self.ng = band, int(every or 0), ng
        self.collected = self.dropped = self.seen = 0
        self._q: queue.Queue = queue.Queue(maxsize=queue_size)
        (self.folder / "images").mkdir(parents=True, exist_ok=True)
        with dataset_lock(self.folder):   # a labelling view may be adding the first class meanwhile
            if not (self.folder / "classes.txt").exists():
                atomic_write_text(self.folder / "classes.txt", class_list_text(self.names))
        self.review = ReviewStore(self.folder)
        self._thread = threading.Thread(target=self._write, name="collector", daemon=True)
        self._thread.start()

    def wants(self, verdict: str, scores) -> bool:
        self.seen += 1
        top = float(max(scores)) if len(scores) else 0.0
        if self.ng and verdict == "NG":
            return True
        if self.band and self.band[0] <= top <= self.band[1]:
            return True
        return bool(self.every) and self.seen % self.every == 0

    def offer(self, result, force: bool = False) -> bool:
        """Collect an ``InspectionResult`` if it qualifies (``force``: the operator asked)."""
        img = result.frame.image
        if img is None or result.verdict == "ERROR" or not (force or self.wants(result.verdict, result.scores)):
            return False
        boxes = [Box(int(c), *map(float, b), score=float(s))
                 for b, s, c in zip(result.boxes, result.scores, result.classes)]
        try:
            self._q.put_nowait((img, boxes, result.verdict, result.frame.name))
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def _write(self):
        while True:
            item = self._q.get()
            if item is None:
                return
            img, boxes, verdict, frame = item
            now = dt.datetime.now()
            stem = f"{now.strftime('%Y%m%d_%H%M%S_%f')}_{verdict}"
            ok, buf = cv2.imencode(".png", img)
            if not ok:
                continue
            try:
                atomic_write_bytes(self.folder / "images" / f"{stem}.png", buf.tobytes())
                self.review.set_proposals(f"images/{stem}.png", boxes, from_line=True, reviewed=False,
                                          collected=now.isoformat(timespec="seconds"), verdict=verdict,
                                          frame=str(frame))
                self.collected += 1
            except OSError:
                self.dropped += 1

    def close(self, timeout: float = 10.0):
        self._q.put(None)
        self._thread.join(timeout)
