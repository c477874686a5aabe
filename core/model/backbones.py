"""Backbones behind one small interface: ``forward(x) -> (C2, C3, C4, C5)`` at strides
4/8/16/32, and a ``channels`` attribute with their channel counts.

- ``efficientrep``: the EfficientRep backbone of YOLOv6 v3 / Gold-YOLO (default).
- ``mlvt``: a light hybrid CNN-transformer in the MobileViT style. The paper's "MLVT" backbone
  could not be identified (architecture.md §8); this option lets its intent be tried.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import ConvBNAct, RepBlock, RepVGG, SimCSPSPPF


class Backbone(nn.Module):
    """Interface: subclasses set ``self.channels`` (4 ints) and return four maps."""

    channels: tuple[int, int, int, int]


class EfficientRep(Backbone):
    """EfficientRep with fuse_P2: returns (C2, C3, C4, C5)."""

    def __init__(self, widths: list[int], repeats: list[int]):
        super().__init__()
        c0, c1, c2, c3, c4 = widths
        _, n1, n2, n3, n4 = repeats
        self.stem = RepVGG(3, c0, s=2)
        self.er2 = nn.Sequential(RepVGG(c0, c1, s=2), RepBlock(c1, c1, n1))
        self.er3 = nn.Sequential(RepVGG(c1, c2, s=2), RepBlock(c2, c2, n2))
        self.er4 = nn.Sequential(RepVGG(c2, c3, s=2), RepBlock(c3, c3, n3))
        self.er5 = nn.Sequential(RepVGG(c3, c4, s=2), RepBlock(c4, c4, n4), SimCSPSPPF(c4, c4))
        self.channels = (c1, c2, c3, c4)

    def forward(self, x):
        x = self.stem(x)
        c2 = self.er2(x)
        c3 = self.er3(c2)
        c4 = self.er4(c3)
        c5 = self.er5(c4)
        return c2, c3, c4, c5


# ---------------------------------------------------------------------------------------------
# MobileViT-style hybrid ("mlvt")

class InvertedResidual(nn.Module):
    """MobileNetV2 block (expand 1x1, depthwise 3x3, project 1x1), SiLU."""

    def __init__(self, ci: int, co: int, s: int, expand: int = 4):
        super().__init__()
        h = ci * expand
        self.use_res = s == 1 and ci == co
        self.block = nn.Sequential(
            ConvBNAct(ci, h, 1, act="silu"),
            ConvBNAct(h, h, 3, s, act="silu", groups=h),
            ConvBNAct(h, co, 1, act=None),
        )

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res else y


class TransformerLayer(nn.Module):
    """Pre-norm transformer encoder layer."""

    def __init__(self, d: int, heads: int, mlp_ratio: float = 2.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        h = int(d * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, h), nn.SiLU(), nn.Linear(h, d))

    def forward(self, x):
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class MobileViTBlock(nn.Module):
    """Local 3x3 conv, global attention over 2x2 patches, fusion with the input."""

    def __init__(self, c: int, d: int, layers: int, heads: int = 4, patch: int = 2):
        super().__init__()
        self.patch = patch
        self.local = nn.Sequential(ConvBNAct(c, c, 3, act="silu"), nn.Conv2d(c, d, 1, bias=False))
        self.transformer = nn.Sequential(*[TransformerLayer(d, heads) for _ in range(layers)], nn.LayerNorm(d))
        self.proj = ConvBNAct(d, c, 1, act="silu")
        self.fuse = ConvBNAct(2 * c, c, 3, act="silu")

    def forward(self, x):
        B, _, H, W = x.shape
        p = self.patch
        y = self.local(x)
        # Pad odd maps (non-square inputs) to a multiple of the patch, crop after.
        ph, pw = (-H) % p, (-W) % p
        if ph or pw:
            y = F.pad(y, [0, pw, 0, ph])
        Hp, Wp = y.shape[2], y.shape[3]
        d = y.shape[1]
        nh, nw = Hp // p, Wp // p
        # (B, d, nh, p, nw, p) -> (B*p*p, nh*nw, d): attention among patches at the same offset.
        t = y.reshape(B, d, nh, p, nw, p).permute(0, 3, 5, 2, 4, 1).reshape(B * p * p, nh * nw, d)
        t = self.transformer(t)
        y = t.reshape(B, p, p, nh, nw, d).permute(0, 5, 3, 1, 4, 2).reshape(B, d, Hp, Wp)
        y = y[:, :, :H, :W]
        return self.fuse(torch.cat([x, self.proj(y)], 1))


class MLVT(Backbone):
    """MobileViT-style backbone: MV2 stages at /2 and /4, MobileViT blocks at /8, /16, /32."""

    def __init__(self, widths: list[int], dims: list[int], layers=(2, 4, 3), heads: int = 4):
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        self.stem = nn.Sequential(ConvBNAct(3, c1, 3, 2, act="silu"), InvertedResidual(c1, c1, 1))
        self.s2 = nn.Sequential(InvertedResidual(c1, c2, 2), InvertedResidual(c2, c2, 1))
        self.s3 = nn.Sequential(InvertedResidual(c2, c3, 2), MobileViTBlock(c3, dims[0], layers[0], heads))
        self.s4 = nn.Sequential(InvertedResidual(c3, c4, 2), MobileViTBlock(c4, dims[1], layers[1], heads))
        self.s5 = nn.Sequential(InvertedResidual(c4, c5, 2), MobileViTBlock(c5, dims[2], layers[2], heads))
        self.channels = (c2, c3, c4, c5)

    def forward(self, x):
        x = self.stem(x)
        c2 = self.s2(x)
        c3 = self.s3(c2)
        c4 = self.s4(c3)
        c5 = self.s5(c4)
        return c2, c3, c4, c5


def scale_width(c: int, width: float) -> int:
    return int(math.ceil(c * width / 8) * 8)


def scale_depth(n: int, depth: float) -> int:
    return max(round(n * depth), 1) if n > 1 else n


def build_backbone(name: str, width: float, depth: float) -> Backbone:
    """Build a backbone by name at the given width/depth multipliers."""
    if name == "efficientrep":
        widths = [scale_width(c, width) for c in (64, 128, 256, 512, 1024)]
        repeats = [scale_depth(n, depth) for n in (1, 6, 12, 18, 6)]
        return EfficientRep(widths, repeats)
    if name == "mlvt":
        # MobileViT-XXS widths at width 0.25 (n), XS at 0.5 (s).
        if width <= 0.25:
            return MLVT([16, 24, 48, 64, 80], [64, 80, 96])
        return MLVT([32, 48, 64, 80, 96], [96, 120, 144])
    raise ValueError(f"unknown backbone '{name}' (choose from: efficientrep, mlvt)")
