"""Checkpoints: a state dict plus metadata, written atomically, loaded without unpickling code.

Loading uses ``torch.load(weights_only=True)``, so a pickle carrying code is refused rather than
run; a corrupt or truncated file, a checkpoint of another program or model, or weights whose
content hash does not match give a ``CheckpointError`` that names the file and the problem.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import warnings
from pathlib import Path

import torch

from core.util.io import atomic_write_bytes

FORMAT = "sdgas-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    pass


def state_hash(state: dict) -> str:
    """SHA-256 over the tensors of a state dict, in key order."""
    h = hashlib.sha256()
    for k in sorted(state):
        v = state[k]
        h.update(k.encode())
        if isinstance(v, torch.Tensor):
            t = v.detach().cpu().contiguous().reshape(-1)
            h.update(str(t.dtype).encode())
            h.update(str(tuple(t.shape)).encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, model_state: dict, meta: dict, extra: dict | None = None) -> str:
    """Write a checkpoint atomically; returns its content hash. ``meta`` must hold plain types
    (names, imgsz, model_config, and the ``preprocess`` description that inference reads back)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model_state.items()}  # layout-neutral files
    digest = state_hash(state)
    ckpt = {"format": FORMAT, "version": VERSION, "model": state, "hash": digest, **meta}
    if extra:
        ckpt.update(extra)
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    atomic_write_bytes(path, buf.getvalue())
    return digest


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load and verify a checkpoint; never executes code from the file."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such weights file")
    if p.stat().st_size == 0:
        raise CheckpointError(f"{p}: empty file")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols are not the user's business
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        m = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        what = f" ({m.group(1)})" if m else ""
        raise CheckpointError(f"{p}: refused: the file holds objects other than weights{what}, possibly code; "
                              "only SD-GASNet checkpoints load") from None
    except Exception as e:  # noqa: BLE001 - random bytes reach the unpickler's every error path
        first = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise CheckpointError(f"{p}: corrupt or truncated checkpoint ({first})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        keys = ", ".join(list(ckpt)[:6]) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{p}: not an SD-GASNet checkpoint (found: {keys}); "
                              "weights from other programs cannot be loaded")
    if int(ckpt.get("version", 0)) > VERSION:
        raise CheckpointError(f"{p}: written by a newer version (format {ckpt.get('version')})")
    for key in ("model", "model_config", "names"):
        if key not in ckpt:
            raise CheckpointError(f"{p}: checkpoint lacks '{key}'")
    if ckpt.get("hash") and state_hash(ckpt["model"]) != ckpt["hash"]:
        raise CheckpointError(f"{p}: weights do not match their content hash (file damaged)")
    return ckpt


def model_from_checkpoint(ckpt: dict, path: str | os.PathLike = "checkpoint"):
    """Build the model a checkpoint describes and load its weights (training form, eval mode)."""
    from core.model import build_from_config

    try:
        model = build_from_config(ckpt["model_config"])
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: bad model configuration ({e})") from None
    if len(ckpt["names"]) != model.num_classes:
        raise CheckpointError(f"{path}: {len(ckpt['names'])} class names for a {model.num_classes}-class model")
    missing, unexpected = [], []
    try:
        res = model.load_state_dict(ckpt["model"], strict=False)
        missing, unexpected = res.missing_keys, res.unexpected_keys
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the model ({str(e).splitlines()[0][:200]})") from None
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not fit the model (missing {len(missing)}, unexpected "
                              f"{len(unexpected)} keys, e.g. {(missing or unexpected)[0]})")
    return model.eval()


def load_model(path: str | os.PathLike, map_location="cpu"):
    """-> (model in eval mode, checkpoint dict)."""
    ckpt = load_checkpoint(path, map_location)
    return model_from_checkpoint(ckpt, path), ckpt
