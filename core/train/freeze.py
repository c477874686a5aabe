"""The backbone kept as loaded for the first epochs of a fine-tune (``TrainConfig.freeze_epochs``).

With a few hundred images, a head that starts afresh sends large, noisy gradients through features
that were learnt on thousands: holding the backbone (weights and BatchNorm statistics) for the first
epochs lets the head settle first. Frozen parameters get no gradient, so the optimizer (and its
weight decay) leaves them as they are.
"""
from __future__ import annotations

import torch


def freeze_backbone(model: torch.nn.Module, frozen: bool) -> None:
    """Freeze or release ``model.backbone`` (a DDP wrapper is looked through). Call after
    ``model.train()``: a frozen backbone's BatchNorm layers are put in eval mode."""
    net = getattr(model, "module", model)
    bb = net.backbone
    for p in bb.parameters():
        p.requires_grad_(not frozen)
    if frozen:
        for m in bb.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
