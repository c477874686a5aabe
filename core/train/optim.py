"""Optimizer with YOLOv6's parameter groups, fixed so that every learnable scale is trained."""
from __future__ import annotations

import torch
import torch.nn as nn


def param_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Split parameters into: ``decay`` (conv/linear weights), ``bn`` (norm weights, no decay),
    ``bias`` (no decay) and ``scale`` (BR/BottleRep alphas and other free scales, no decay).

    YOLOv6 walks modules for ``.weight``/``.bias`` only, so its BottleRep alpha never reaches
    the optimizer (architecture.md §3.1); here every trainable parameter lands in one group.
    """
    groups = {"decay": [], "bn": [], "bias": [], "scale": []}
    seen = set()
    for mod in model.modules():
        for name, p in mod.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            if name == "bias" or name.endswith("_bias"):
                groups["bias"].append(p)
            elif name == "weight" and isinstance(mod, (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)):
                groups["bn"].append(p)
            elif name == "weight" or name.endswith("proj_weight"):
                groups["decay"].append(p)
            else:
                groups["scale"].append(p)
    return groups


def build_optimizer(model: nn.Module, lr: float, momentum: float = 0.937, weight_decay: float = 5e-4,
                    nesterov: bool = True, kind: str = "sgd") -> torch.optim.Optimizer:
    """SGD (Nesterov) or AdamW (``momentum`` is its beta1) with four groups; only conv/linear
    weights get weight decay."""
    g = param_groups(model)
    if kind == "adamw":
        opt = torch.optim.AdamW(g["bn"], lr=lr, betas=(momentum, 0.999), weight_decay=0.0)
    elif kind == "sgd":
        opt = torch.optim.SGD(g["bn"], lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=0.0)
    else:
        raise ValueError(f"unknown optimizer '{kind}' (sgd or adamw)")
    opt.param_groups[0]["name"] = "bn"
    for name, wd in (("decay", weight_decay), ("bias", 0.0), ("scale", 0.0)):
        if g[name]:
            opt.add_param_group({"params": g[name], "weight_decay": wd, "name": name})
    return opt
