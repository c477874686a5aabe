"""Shared convolution blocks: Conv+BN+act, RepVGG, RepBlock, BottleRep, SimCSPSPPF.

Every block that has a training form different from its inference form implements
``fuse_()``, which rewrites it in place into plain biased convolutions (architecture.md §1–§3).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-3
BN_MOMENTUM = 0.03


def make_bn(c: int) -> nn.BatchNorm2d:
    """BatchNorm with YOLOv6's eps/momentum."""
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


def make_act(name: str | None) -> nn.Module:
    if name is None or name == "none":
        return nn.Identity()
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "silu":
        return nn.SiLU(inplace=True)
    raise ValueError(f"unknown activation '{name}'")


def fold_bn(weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.BatchNorm2d):
    """Return (W', b') of a conv followed by BatchNorm in eval mode."""
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    w = weight * scale.reshape(-1, 1, 1, 1)
    b0 = bias if bias is not None else torch.zeros_like(bn.running_mean)
    b = bn.bias + (b0 - bn.running_mean) * scale
    return w, b


class ConvBNAct(nn.Module):
    """Conv2d(k, s, pad k//2, no bias) -> BN -> act. After ``fuse_`` a single biased conv -> act."""

    def __init__(self, ci: int, co: int, k: int = 1, s: int = 1, act: str | None = "relu", groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(ci, co, k, s, k // 2, groups=groups, bias=False)
        self.bn = make_bn(co)
        self.act = make_act(act)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse_(self):
        if isinstance(self.bn, nn.Identity):
            return
        w, b = fold_bn(self.conv.weight, self.conv.bias, self.bn)
        c = self.conv
        fused = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding,
                          groups=c.groups, bias=True).to(w.device, w.dtype)
        fused.weight.copy_(w)
        fused.bias.copy_(b)
        self.conv = fused
        self.bn = nn.Identity()


def maxpool_same(x: torch.Tensor, k: int) -> torch.Tensor:
    """Stride-1 max-pool with "same" padding, computed separably with shifted maxima.

    Equal to ``F.max_pool2d(x, k, 1, k // 2)``; oneDNN's stride-1 max-pool is ~50x slower on
    small maps on CPU, where this costs a few element-wise maxima.
    """
    r = k // 2
    h, w = x.shape[-2:]
    xp = F.pad(x, [r, r, 0, 0], value=float("-inf"))
    y = xp[..., 0:w]
    for i in range(1, k):
        y = torch.maximum(y, xp[..., i:i + w])
    yp = F.pad(y, [0, 0, r, r], value=float("-inf"))
    out = yp[..., 0:h, :]
    for i in range(1, k):
        out = torch.maximum(out, yp[..., i:i + h, :])
    return out


def pool_to(x: torch.Tensor, size) -> torch.Tensor:
    """Adaptive average pooling to ``size``; a plain strided average pool when sizes divide."""
    h, w = x.shape[-2:]
    th, tw = int(size[0]), int(size[1])
    if (h, w) == (th, tw):
        return x
    if th <= h and tw <= w and h % th == 0 and w % tw == 0:
        return F.avg_pool2d(x, (h // th, w // tw))
    return F.adaptive_avg_pool2d(x, (th, tw))


def SimConv(ci, co, k=1, s=1):  # noqa: N802 - name kept from the reference design
    return ConvBNAct(ci, co, k, s, act="relu")


class RepVGG(nn.Module):
    """RepVGG block: ReLU(BN(conv3x3) + BN(conv1x1) + BN(x)); the branches are summed.

    The identity branch exists only when ci == co and stride == 1. ``fuse_`` folds all
    three into a single 3x3 conv with bias.
    """

    def __init__(self, ci: int, co: int, s: int = 1, groups: int = 1):
        super().__init__()
        self.ci, self.co, self.s, self.groups = ci, co, s, groups
        self.dense = ConvBNAct(ci, co, 3, s, act=None, groups=groups)
        self.one = ConvBNAct(ci, co, 1, s, act=None, groups=groups)
        self.ident = make_bn(ci) if (ci == co and s == 1) else None
        self.act = nn.ReLU(inplace=True)
        self.fused: nn.Conv2d | None = None

    def forward(self, x):
        if self.fused is not None:
            return self.act(self.fused(x))
        y = self.dense(x) + self.one(x)
        if self.ident is not None:
            y = y + self.ident(x)
        return self.act(y)

    @torch.no_grad()
    def fused_kernel(self):
        """The equivalent single 3x3 kernel and bias."""
        k3, b3 = fold_bn(self.dense.conv.weight, None, self.dense.bn)
        k1, b1 = fold_bn(self.one.conv.weight, None, self.one.bn)
        k = k3 + F.pad(k1, [1, 1, 1, 1])
        b = b3 + b1
        if self.ident is not None:
            per_group = self.ci // self.groups
            kid = torch.zeros(self.ci, per_group, 3, 3, device=k.device, dtype=k.dtype)
            for i in range(self.ci):
                kid[i, i % per_group, 1, 1] = 1.0
            kid, bid = fold_bn(kid, None, self.ident)
            k = k + kid
            b = b + bid
        return k, b

    @torch.no_grad()
    def fuse_(self):
        if self.fused is not None:
            return
        k, b = self.fused_kernel()
        conv = nn.Conv2d(self.ci, self.co, 3, self.s, 1, groups=self.groups, bias=True).to(k.device, k.dtype)
        conv.weight.copy_(k)
        conv.bias.copy_(b)
        self.fused = conv
        del self.dense, self.one, self.ident
        self.ident = None


class RepBlock(nn.Module):
    """n RepVGG blocks in a chain (the first ci -> co)."""

    def __init__(self, ci: int, co: int, n: int = 1):
        super().__init__()
        self.blocks = nn.Sequential(RepVGG(ci, co), *[RepVGG(co, co) for _ in range(n - 1)])

    def forward(self, x):
        return self.blocks(x)


class BottleRep(nn.Module):
    """Two RepVGG blocks with a residual scaled by a learnable scalar alpha (init 1.0)."""

    def __init__(self, ci: int, co: int, weight: bool = True):
        super().__init__()
        self.conv1 = RepVGG(ci, co)
        self.conv2 = RepVGG(co, co)
        self.shortcut = ci == co
        self.alpha = nn.Parameter(torch.ones(1)) if weight else None

    def forward(self, x):
        y = self.conv2(self.conv1(x))
        if not self.shortcut:
            return y
        return y + (self.alpha * x if self.alpha is not None else x)


class SimCSPSPPF(nn.Module):
    """CSP spatial pyramid pooling (YOLOv6 v3 n/s), all ConvBNReLU."""

    def __init__(self, ci: int, co: int, k: int = 5, e: float = 0.5):
        super().__init__()
        h = int(co * e)
        self.cv1 = SimConv(ci, h, 1)
        self.cv2 = SimConv(ci, h, 1)
        self.cv3 = SimConv(h, h, 3)
        self.cv4 = SimConv(h, h, 1)
        self.k = k
        self.cv5 = SimConv(4 * h, h, 1)
        self.cv6 = SimConv(h, h, 3)
        self.cv7 = SimConv(2 * h, co, 1)

    def forward(self, x):
        x1 = self.cv4(self.cv3(self.cv1(x)))
        y0 = self.cv2(x)
        p1 = maxpool_same(x1, self.k)
        p2 = maxpool_same(p1, self.k)
        p3 = maxpool_same(p2, self.k)
        y3 = self.cv6(self.cv5(torch.cat([x1, p1, p2, p3], 1)))
        return self.cv7(torch.cat([y0, y3], 1))


def fuse_module_(model: nn.Module) -> nn.Module:
    """Fuse every RepVGG and Conv+BN in ``model`` in place (eval-mode equivalence)."""
    for m in list(model.modules()):
        if isinstance(m, RepVGG):
            m.fuse_()
    for m in list(model.modules()):
        if isinstance(m, ConvBNAct):
            m.fuse_()
    return model
