"""Decoupled detection head with a DFL distribution branch and a direct (lrtb) box branch.

Anchor-free points at strides 8/16/32 (centre offset 0.5). The DFL branch is trained (and
distilled); inference reads the direct branch by default (the distill_ns head of YOLOv6 v3).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .blocks import ConvBNAct

CLASS_LAYER = "cls_pred"    # the one layer per level whose rows are the classes


def is_class_layer(key: str) -> bool:
    """Whether a state-dict key is a class layer's weight or bias (one row per class)."""
    return key.split(".")[-2:-1] == [CLASS_LAYER]


def make_anchors(shapes, strides, device, dtype=torch.float32, offset: float = 0.5):
    """Anchor points in grid units (A, 2) as (x, y), and the stride of each (A, 1)."""
    points, stride_t = [], []
    for (h, w), s in zip(shapes, strides):
        sy = torch.arange(h, device=device, dtype=dtype) + offset
        sx = torch.arange(w, device=device, dtype=dtype) + offset
        yy, xx = torch.meshgrid(sy, sx, indexing="ij")
        points.append(torch.stack([xx, yy], -1).reshape(-1, 2))
        stride_t.append(torch.full((h * w, 1), float(s), device=device, dtype=dtype))
    return torch.cat(points), torch.cat(stride_t)


def dist2bbox(distance: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(l, t, r, b) distances around points -> (x1, y1, x2, y2)."""
    lt, rb = distance[..., :2], distance[..., 2:]
    return torch.cat([points - lt, points + rb], -1)


def bbox2dist(points: torch.Tensor, boxes: torch.Tensor, reg_max: float) -> torch.Tensor:
    """(x1, y1, x2, y2) boxes -> (l, t, r, b) distances, clipped to [0, reg_max - 0.01]."""
    lt = points - boxes[..., :2]
    rb = boxes[..., 2:] - points
    return torch.cat([lt, rb], -1).clamp(0, reg_max - 0.01)


def dfl_expectation(dfl_logits: torch.Tensor, reg_max: int) -> torch.Tensor:
    """(..., 4, reg_max+1) logits -> (..., 4) expected distances."""
    proj = torch.arange(reg_max + 1, device=dfl_logits.device, dtype=dfl_logits.dtype)
    return (dfl_logits.softmax(-1) * proj).sum(-1)


def dfl_init_logits(reg_max: int, mean: float) -> torch.Tensor:
    """Logits -k/tau over bins 0..reg_max whose softmax has expectation ``mean`` (0: uniform)."""
    # on the CPU whatever the default device: a model built on the meta device (its size, before
    # any memory is taken: core.model.size) needs these numbers too
    k = torch.arange(reg_max + 1, dtype=torch.float64, device="cpu")
    if mean <= 0 or mean >= reg_max / 2:
        return torch.zeros(reg_max + 1, device="cpu")
    lo, hi = 1e-3, 1e3                      # expectation rises with tau: bisect on log tau
    for _ in range(100):
        tau = math.sqrt(lo * hi)
        if float((torch.softmax(-k / tau, 0) * k).sum()) < mean:
            lo = tau
        else:
            hi = tau
    return (-k / math.sqrt(lo * hi)).float()


class HeadLevel(nn.Module):
    def __init__(self, c: int, nc: int, reg_max: int, dfl_init_dist: float = 0.0):
        super().__init__()
        self.stem = ConvBNAct(c, c, 1, act="silu")
        self.cls_conv = ConvBNAct(c, c, 3, act="silu")
        self.reg_conv = ConvBNAct(c, c, 3, act="silu")
        self.cls_pred = nn.Conv2d(c, nc, 1)
        self.reg_dist = nn.Conv2d(c, 4 * (reg_max + 1), 1)
        self.reg_lrtb = nn.Conv2d(c, 4, 1)
        prior = -math.log((1 - 0.01) / 0.01)
        for conv, bias in ((self.cls_pred, prior), (self.reg_dist, 1.0), (self.reg_lrtb, 1.0)):
            nn.init.zeros_(conv.weight)
            nn.init.constant_(conv.bias, bias)
        if dfl_init_dist > 0:
            with torch.no_grad():
                self.reg_dist.bias.copy_(dfl_init_logits(reg_max, dfl_init_dist).repeat(4) + 1.0)


class DetectHead(nn.Module):
    """Per-level decoupled head. ``forward`` returns flattened (B, A, ...) tensors."""

    def __init__(self, in_channels, nc: int, reg_max: int = 16, strides=(8, 16, 32), infer_branch="lrtb",
                 dfl_init_dist: float = 0.0):
        super().__init__()
        self.nc, self.reg_max, self.strides = nc, reg_max, tuple(strides)
        self.infer_branch = infer_branch
        self.levels = nn.ModuleList([HeadLevel(c, nc, reg_max, dfl_init_dist) for c in in_channels])
        self._anchor_cache: dict = {}

    def anchors(self, shapes, device, dtype):
        key = (tuple(shapes), device, dtype)
        if key not in self._anchor_cache:
            self._anchor_cache.clear()
            self._anchor_cache[key] = make_anchors(shapes, self.strides, device, dtype)
        return self._anchor_cache[key]

    def forward_raw(self, feats, with_dfl: bool = True):
        """cls logits (B,A,nc), DFL logits (B,A,4,R+1) or None, lrtb (B,A,4) in stride units."""
        cls_out, dfl_out, box_out = [], [], []
        for x, lv in zip(feats, self.levels):
            x = lv.stem(x)
            c = lv.cls_pred(lv.cls_conv(x))
            r = lv.reg_conv(x)
            cls_out.append(c.flatten(2))
            box_out.append(lv.reg_lrtb(r).flatten(2))
            if with_dfl and lv.reg_dist is not None:
                dfl_out.append(lv.reg_dist(r).flatten(2))
        cls = torch.cat(cls_out, 2).permute(0, 2, 1)
        box = torch.cat(box_out, 2).permute(0, 2, 1)
        dfl = None
        if dfl_out:
            b = cls.shape[0]
            dfl = torch.cat(dfl_out, 2).permute(0, 2, 1).reshape(b, -1, 4, self.reg_max + 1)
        return cls, dfl, box

    def decode(self, feats):
        """Eval output (B, A, 4 + nc): x1 y1 x2 y2 in input pixels, then class scores."""
        use_dfl = self.infer_branch == "dfl"
        cls, dfl, box = self.forward_raw(feats, with_dfl=use_dfl)
        shapes = [f.shape[-2:] for f in feats]
        points, strides = self.anchors(shapes, cls.device, cls.dtype)
        dist = dfl_expectation(dfl, self.reg_max) if use_dfl else box
        boxes = dist2bbox(dist, points) * strides
        return torch.cat([boxes, cls.sigmoid()], -1)

    def drop_training_branches_(self):
        """Remove the branch that inference does not read (after fusion)."""
        for lv in self.levels:
            if self.infer_branch == "lrtb":
                lv.reg_dist = None
