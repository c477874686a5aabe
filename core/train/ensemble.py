"""Several frozen teachers distilled from as one (the ``ensemble_teachers`` setting).

Two NEU-DET models of one architecture at the same level make different mistakes: averaged
anchor by anchor they score +0.03 mAP50 above either (benchmarks/ensemble_headroom.py). A student
distilled from that average has a stronger teacher than any single model it could be given.
"""
from __future__ import annotations

import torch


class TeacherEnsemble(torch.nn.Module):
    """Frozen models whose raw outputs line up anchor by anchor (``same_outputs``), averaged.

    Class probabilities and box distributions are averaged as probabilities and handed back in the
    form one teacher's raw output has (class logits, distribution log-probabilities), so the
    distillation terms read them unchanged. Features are the first model's: the channel-wise term
    compares a channel's spatial distribution, and channels of separately trained models do not
    correspond, so their average would be no model's feature map.
    """

    def __init__(self, models: list[torch.nn.Module]):
        super().__init__()
        if len(models) < 2:
            raise ValueError("an ensemble needs two teachers or more")
        self.members = torch.nn.ModuleList(models)

    def forward(self, x: torch.Tensor, raw: bool = True) -> dict:
        outs = [m(x, raw=True) for m in self.members]
        p = torch.stack([o["cls"].float().sigmoid() for o in outs]).mean(0)
        out = {"cls": torch.logit(p, eps=1e-6), "box": torch.stack([o["box"].float() for o in outs]).mean(0),
               "feats": outs[0]["feats"], "dfl": None}
        if all(o["dfl"] is not None for o in outs):
            q = torch.stack([o["dfl"].float().softmax(-1) for o in outs]).mean(0)
            out["dfl"] = q.clamp_min(1e-12).log()
        return out

    def to_channels_last_(self) -> "TeacherEnsemble":
        for m in self.members:
            m.to_channels_last_()
        return self


def same_outputs(a, b) -> bool:
    """Whether two models' raw outputs line up anchor by anchor (strides and box distribution size)."""
    return tuple(a.cfg.strides) == tuple(b.cfg.strides) and a.cfg.reg_max == b.cfg.reg_max
