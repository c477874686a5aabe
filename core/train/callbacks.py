"""Trainer callbacks: how training progress leaves the trainer.

A callback is any callable ``cb(trainer, event, data)``. The trainer emits the events file's events
(``core.train.events``) and these progress events of its own:

| event | data |
|---|---|
| log | message |
| epoch_start | epoch (0-based), epochs, batches, start (first batch) |
| batch | done (batches of this epoch), text and terms (running loss means), images (in this batch) |
| train_end | done, text, stopped |
| final_val | result (an ``EvalResult`` of best.pt), run_dir |

``default_callbacks`` gives what ``train`` uses unless told otherwise: the console, results.csv,
the final plots and val_best.json, and the events file.
"""
from __future__ import annotations

import io
import sys
import time

from core.eval.validator import save_outputs
from core.util import csv_safe
from core.util.io import atomic_write_text

from .events import EventWriter


class Console:
    """Log lines on stdout, a per-epoch progress bar with ETA on stderr (one line when not a tty)."""

    def __init__(self, log=print, progress: bool = True):
        self.log, self.progress = log, progress
        self.tty = sys.stderr.isatty()

    def __call__(self, trainer, event: str, data: dict) -> None:
        if event == "log":
            self.log(data["message"])
        elif not self.progress:
            return
        elif event == "epoch_start":
            self.desc = f"epoch {data['epoch'] + 1}/{data['epochs']}"
            self.total, self.t0, self.last = data["batches"], time.time(), 0.0
        elif event == "batch" and self.tty:
            now, n = time.time(), data["done"]
            if now - self.last < 0.5 and n < self.total:
                return
            self.last = now
            eta = (now - self.t0) / max(n, 1) * (self.total - n)
            bar = "#" * int(n / max(self.total, 1) * 24)
            sys.stderr.write(f"\r{self.desc} [{bar:<24}] {n}/{self.total} eta {eta:4.0f}s {data['text']}  ")
            sys.stderr.flush()
        elif event == "train_end":
            el = time.time() - self.t0
            n = data["done"] if data.get("stopped") else self.total
            text = ("stopped; " if data.get("stopped") else "") + data["text"]
            sys.stderr.write(("\r" if self.tty else "") + f"{self.desc} {n}/{self.total} {el:.0f}s {text}\n")
            sys.stderr.flush()


class ResultsCsv:
    """results.csv in the run folder, Ultralytics' columns, rewritten after each epoch."""

    def __call__(self, trainer, event: str, data: dict) -> None:
        if event != "epoch":
            return
        buf = io.StringIO()
        keys: list[str] = []
        for r in trainer.history:
            keys += [k for k in r if k not in keys]
        w = csv_safe.writer(buf)
        w.writerow(keys)
        w.writerows([r.get(k, "") for k in keys] for r in trainer.history)
        atomic_write_text(trainer.run_dir / "results.csv", buf.getvalue())


class FinalOutputs:
    """PR_curve.png, confusion_matrix.png and val_best.json of the best checkpoint, at the end."""

    def __call__(self, trainer, event: str, data: dict) -> None:
        if event == "final_val":
            run = data["run_dir"]
            save_outputs(data["result"], trainer.names, run, run / "val_best.json")


def default_callbacks(log=print) -> list:
    return [Console(log), ResultsCsv(), FinalOutputs(), EventWriter()]
