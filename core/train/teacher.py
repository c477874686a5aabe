"""The teacher side of a distillation run, and the weights a run starts from.

``load_teacher`` gives the frozen teacher (optionally averaged with more teachers, ``ensemble_teachers``)
in the BatchNorm mode the run asks for; ``start_from`` loads a run's starting weights into the
architecture they were trained as, for the dataset's classes: a class the weights know by the same name
keeps its rows of the class layers, the others start afresh.
"""
from __future__ import annotations

import torch

from core.model import build_from_config
from core.model.checkpoint import load_checkpoint, load_model
from core.model.head import is_class_layer

from .ensemble import TeacherEnsemble, same_outputs


def teacher_ensemble(first, paths: list[str], names: list[str]) -> TeacherEnsemble:
    """The teacher and the models of ``paths``, distilled from as one (their outputs averaged)."""
    members = [first]
    for w in paths:
        m, ck = load_model(w)
        if list(ck["names"]) != list(names):
            raise ValueError(f"{w}: ensemble teacher classes {ck['names']} differ from the dataset's {names}")
        if not same_outputs(m, first):
            raise ValueError(f"{w}: its outputs do not line up with the teacher's (strides {m.cfg.strides} "
                             f"and reg_max {m.cfg.reg_max}, against {first.cfg.strides} and {first.cfg.reg_max})")
        members.append(m)
    return TeacherEnsemble(members)


def load_teacher(path: str, names: list[str], ensemble: list[str] | None, bn_mode: str, device):
    """-> (the frozen teacher on ``device``, its checkpoint). ``bn_mode`` "eval": running statistics
    (recommended); "batch": batch statistics, never updated (the reference's quirk)."""
    teacher, tck = load_model(path)
    if list(tck["names"]) != list(names):
        raise ValueError(f"{path}: teacher classes {tck['names']} differ from the dataset's {names}")
    if ensemble:
        teacher = teacher_ensemble(teacher, ensemble, names)
    teacher = teacher.to(device)
    for p in teacher.parameters():
        p.requires_grad_(False)
    if bn_mode == "batch":
        for m in teacher.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.track_running_stats = False
                m.running_mean = m.running_var = None
        teacher.train()
    else:
        teacher.eval()
    return teacher, tck


def class_rows(theirs: list[str], ours: list[str]) -> dict[int, int]:
    """Our class index -> the start's index of the class of the same name. Names must be equal:
    ``base``'s ``ksdd:defect`` is not a user's ``defect``, which would start from another set's notion of it."""
    at = {n: j for j, n in enumerate(theirs)}
    return {i: at[n] for i, n in enumerate(ours) if n in at}


def start_from(path: str, names: list[str], log=lambda msg: None):
    """The architecture of ``path`` with its weights, for ``names``' classes: every tensor whose name
    and shape fit is loaded, and the class layers row by row by class name in any order (a class the
    weights do not know starts afresh)."""
    ck = load_checkpoint(path)
    try:
        model = build_from_config({**ck["model_config"], "num_classes": len(names)})
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: bad model configuration ({e})") from None
    own = model.state_dict()
    theirs = list(ck.get("names", []))
    rows = class_rows(theirs, names)
    fit = {}
    for k, v in ck["model"].items():
        if k not in own:
            continue
        if not is_class_layer(k):
            if own[k].shape == v.shape:
                fit[k] = v
        elif rows and v.shape[0] == len(theirs) and own[k].shape[1:] == v.shape[1:]:
            t = own[k].clone()
            for i, j in rows.items():
                t[i] = v[j]
            fit[k] = t
    if not fit:
        raise ValueError(f"{path}: no weights fit a {model.cfg.name} model")
    model.load_state_dict(fit, strict=False)
    kept = [names[i] for i in rows]
    new = [n for i, n in enumerate(names) if i not in rows]
    if theirs == list(names):
        said = ""
    elif not kept:
        said = f" (its classes {theirs} differ: the class layers start afresh)"
    else:
        said = f" (classes kept from it: {kept}" + (f"; class layers start afresh for {new})" if new else ")")
    log(f"starting from {path}: {len(fit)} of {len(own)} tensors" + said)
    return model
