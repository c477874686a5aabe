"""A run's resume point small enough to commit, so a run of many days outlives its machines.

A run folder's ``last.pt`` holds the raw weights, the EMA, the optimizer's state and the inference
weights: four copies of the model, 78 MB for SD-GASNet-n. A portable point keeps one, the EMA in
fp16 (10 MB), with the schedule's place (epoch, step, EMA updates, history, random state).
Resuming from it (``train --resume`` with the point as ``DIR/weights/last.pt``) starts the raw
weights from the EMA and the optimizer's momentum from zero; both settle within a few dozen steps,
a small departure from an exact resume that is logged. ``best.pt`` restarts on the new machine.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

_DROPPED = ("format", "version", "model", "hash", "raw_model", "ema", "optimizer", "scaler")


def write_portable_point(last: str | os.PathLike, out: str | os.PathLike, root: str | os.PathLike | None = None) -> dict:
    """Write ``out`` from a run's ``last.pt``; returns its metadata (epoch, metrics, train_args …).
    ``root``: the dataset path is written relative to it (a committed point names no machine's paths)."""
    ck = load_checkpoint(last)
    if ck.get("portable"):
        state = ck["model"]
    elif "ema" in ck and "train_args" in ck:
        state = ck["ema"]
    else:
        raise CheckpointError(f"{last}: not a run's last.pt (it holds no training state to resume)")
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    meta = {k: v for k, v in ck.items() if k not in _DROPPED}
    # the run folder and its events file belong to the machine that wrote them; a resume names its own
    meta["train_args"] = {k: v for k, v in ck["train_args"].items() if k not in ("out", "events")}
    data = meta["train_args"].get("data")
    if root is not None and isinstance(data, str) and os.path.isabs(data):
        meta["train_args"]["data"] = os.path.relpath(data, root)
    meta["portable"] = True
    save_checkpoint(Path(out), half, meta)
    return meta


# a point's schedule state, and its last validation figures (taken on the precise-BN copy, not on these weights)
_SCHEDULE = ("portable", "rng", "history", "iter_in_epoch", "global_iter", "ema_updates", "best_fitness", "finished",
             "metrics")


def inference_weights(ck: dict) -> tuple[dict, dict]:
    """A portable point as inference weights: its EMA in fp32 and the metadata a ``best.pt`` carries.

    These are the EMA's own BatchNorm statistics, not the precise-BN copy the trainer validates
    (on NEU-DET the EMA's own scored higher: docs/experiments/2026-12-05-long-teacher.md)."""
    if not is_portable(ck):
        raise CheckpointError("not a portable point")
    state = {k: v.float() if v.is_floating_point() else v for k, v in ck["model"].items()}
    meta = {k: v for k, v in ck.items() if k not in _DROPPED and k not in _SCHEDULE}
    return state, meta


def is_portable(ck: dict) -> bool:
    return bool(ck.get("portable"))
