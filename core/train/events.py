"""The training events file: one JSON object a line, written by the trainer, read by any viewer.

Schema (every record has ``event`` and ``time``, seconds since the epoch):

| event | fields |
|---|---|
| start | epoch (first epoch to run, 0-based), run_dir, model, pid, distill, epochs, n_train, n_val, problems, val_interval, val_images (images each validation runs through the model: val twice and the BatchNorm re-estimate with precise BN) |
| progress | epoch (0-based, running), epochs, done, batches, images_per_s, terms (running loss means); at most one a second |
| epoch | epoch (1-based, finished), epochs, lr, kd_lambda (students), images_per_s, mean loss terms (cls, iou, dfl, kd_*, n_pos) |
| val | epoch, precision, recall, map50, map50_95 |
| checkpoint | epoch, path, best (and the metrics, for best.pt) |
| plan | epoch (1-based, just validated), epochs (the new plan), was, epoch_s, val_s (this run's own times), left_s: a time budget's re-plan (``core.train.budget``) |
| end | epoch, status (finished or stopped), and the final figures when finished |
| error | epoch, message |

``EventWriter`` is the trainer callback that appends them; ``follow`` reads a file that is still
growing (a run in another process), yielding each complete line once.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from core.util.io import to_plain
from core.util.tail import LineTail

EVENTS = ("start", "progress", "epoch", "val", "checkpoint", "plan", "end", "error")
PROGRESS_EVERY_S = 1.0


class EventWriter:
    """Trainer callback: appends the schema's events to ``path`` (default: the run's events file);
    the trainer's per-batch events become ``progress`` records, at most one per ``every_s``."""

    def __init__(self, path: str | os.PathLike | None = None, every_s: float = PROGRESS_EVERY_S):
        self.path = path
        self.every_s = every_s
        self._epoch = {}
        self._last = 0.0

    def _progress(self, event: str, data: dict) -> dict | None:
        now = time.time()
        if event == "epoch_start":
            self._epoch = {"epoch": data["epoch"], "epochs": data["epochs"], "batches": data["batches"],
                           "start": data["start"], "t0": now, "images": 0}
            return None
        if not self._epoch:
            return None
        self._epoch["images"] += data.get("images", 0)
        done = data["done"]
        if now - self._last < self.every_s and done < self._epoch["batches"]:
            return None
        self._last = now
        e = self._epoch
        return {"epoch": e["epoch"], "epochs": e["epochs"], "done": done, "batches": e["batches"],
                "images_per_s": round(e["images"] / max(now - e["t0"], 1e-6), 2), "terms": data.get("terms", {})}

    def __call__(self, trainer, event: str, data: dict) -> None:
        path = self.path or trainer.cfg.events
        if not path:
            return
        if event in ("epoch_start", "batch"):
            data = self._progress(event, data)
            if data is None:
                return
            event = "progress"
        if event not in EVENTS:
            return
        rec = {"event": event, "time": time.time(), **to_plain(data)}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()


def parse_line(line: str) -> dict | None:
    """One record, or None for a line that is not a JSON object with an ``event``."""
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) and "event" in rec else None


def read_events(path: str | os.PathLike) -> list[dict]:
    """Every complete, well-formed record of the file (a missing file has none)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    lines = text.split("\n")[:-1]  # the last piece is empty or a line still being written
    return [r for r in (parse_line(ln) for ln in lines) if r is not None]


def follow(path: str | os.PathLike, stop: Callable[[], bool] = lambda: False, poll_s: float = 0.2,
           until_end: bool = True) -> Iterator[dict]:
    """Yield records as they are appended to ``path`` (waiting for the file to appear). Ends when
    ``stop()`` is true or, with ``until_end``, after an ``end`` or ``error`` record."""
    tail = LineTail(path)
    while not stop():
        lines = tail.read()
        if not lines:
            time.sleep(poll_s)
        for ln in lines:
            rec = parse_line(ln)
            if rec is None:
                continue
            yield rec
            if until_end and rec["event"] in ("end", "error"):
                return
