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

from core.model.architecture import imgsz_problem
from core.util.io import atomic_write_bytes

FORMAT = "sdgas-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    pass


# the entries of a checkpoint that hold weights; the rest is metadata (names, sizes, metrics, ...)
TENSOR_KEYS = ("model", "optimizer", "raw_model", "ema")


def metadata(ckpt: dict) -> dict:
    """A checkpoint's metadata: everything but its weights."""
    return {k: v for k, v in ckpt.items() if k not in TENSOR_KEYS}


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
    version = ckpt.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{p}: 'version' is not a whole number (found {version!r})")
    if version > VERSION:
        raise CheckpointError(f"{p}: written by a newer version (format {ckpt.get('version')})")
    for key in ("model", "model_config", "names"):
        if key not in ckpt:
            raise CheckpointError(f"{p}: checkpoint lacks '{key}'")
    problem = _meta_problem(ckpt)
    if problem:
        raise CheckpointError(f"{p}: {problem}")
    if ckpt.get("hash") and state_hash(ckpt["model"]) != ckpt["hash"]:
        raise CheckpointError(f"{p}: weights do not match their content hash (file damaged)")
    return ckpt


def _meta_problem(ckpt: dict) -> str | None:
    """What is wrong with a checkpoint's metadata types, or None (its values are checked where used)."""
    model = ckpt["model"]
    if not isinstance(model, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in model.items()):
        return "'model' is not a mapping of names to tensors"
    if not isinstance(ckpt["model_config"], dict):
        return f"'model_config' is not a mapping (found {type(ckpt['model_config']).__name__})"
    return meta_problem(ckpt)


def meta_problem(meta: dict) -> str | None:
    """What is wrong with the class names, image size and preprocessing a checkpoint or an exported
    model declares, or None: the one check for both, before any buffer of that size is made."""
    names = meta.get("names")
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        return "'names' is not a non-empty list of class names"
    imgsz = meta.get("imgsz", 640)
    if imgsz_problem(imgsz):
        return f"'imgsz': {imgsz_problem(imgsz)}"
    pre = meta.get("preprocess")
    if pre is not None:
        types = {"imgsz": int, "stride": int, "pad_value": int, "channel_order": str, "scale": float, "center": bool}
        if not isinstance(pre, dict):
            return f"'preprocess' is not a mapping (found {type(pre).__name__})"
        for key, kind in types.items():
            v = pre.get(key)
            if v is not None and (not isinstance(v, kind) or (kind is int and isinstance(v, bool))):
                return f"'preprocess.{key}' has the wrong type (found {v!r})"
        if "imgsz" in pre and (imgsz_problem(pre["imgsz"]) or pre["imgsz"] % pre.get("stride", 32)):
            return f"'preprocess.imgsz': {imgsz_problem(pre['imgsz']) or 'not a multiple of its stride'}"
        if not 0 <= pre.get("pad_value", 0) <= 255 or not 0 < pre.get("scale", 1.0) < 1e3:
            return "'preprocess' pad_value or scale out of range"
    return None


def model_from_checkpoint(ckpt: dict, path: str | os.PathLike = "checkpoint"):
    """Build the model a checkpoint describes and load its weights (training form, eval mode)."""
    from core.model import build_from_config

    try:
        model = build_from_config(ckpt["model_config"], ckpt.get("imgsz", 640))
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
