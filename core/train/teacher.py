"""The teacher side of a distillation run, and the weights a run starts from.

``load_teacher`` gives the frozen teacher (optionally averaged with more teachers, ``ensemble_teachers``)
in the BatchNorm mode the run asks for; ``start_from`` loads a run's starting weights into the
architecture they were trained as, for the dataset's classes (the class layers start afresh when the
classes differ).
"""
from __future__ import annotations

import torch

from core.model import build_from_config
from core.model.checkpoint import load_checkpoint, load_model

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


def start_from(path: str, names: list[str], log=lambda msg: None):
    """The architecture of ``path`` with its weights, for ``names``' classes: every tensor whose name
    and shape fit is loaded; for other classes the class layers start afresh."""
    ck = load_checkpoint(path)
    try:
        model = build_from_config({**ck["model_config"], "num_classes": len(names)})
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: bad model configuration ({e})") from None
    own = model.state_dict()
    fit = {k: v for k, v in ck["model"].items() if k in own and own[k].shape == v.shape}
    if not fit:
        raise ValueError(f"{path}: no weights fit a {model.cfg.name} model")
    model.load_state_dict(fit, strict=False)
    same = list(ck.get("names", [])) == list(names)
    log(f"starting from {path}: {len(fit)} of {len(own)} tensors"
        + ("" if same else f" (its classes {list(ck.get('names', []))} differ: the class layers start afresh)"))
    return model
