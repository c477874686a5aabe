"""AES-FPN: the SD-GASNet neck (architecture.md §9, seed paper §3.1–3.2).

MFA aligns the four backbone maps to the stride-16 map and fuses them; FGPEM re-weights the
channels of the two halves with PDCT (preset DCT-II frequency) attention, high frequencies for
P4 and low for P3; Inject gates those global features into the local ones; CS (three BR blocks
with learnable channel scales) rebuilds the channel information of the P5 path.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import ConvBNAct, RepBlock, RepVGG, SimConv, pool_to
from .architecture import ModelConfig

# The paper's eight preset frequencies on the base grid (4 low, 4 high).
LOW_FREQS = ((0, 0), (0, 1), (1, 0), (1, 1))
HIGH_FREQS = ((9, 9), (9, 8), (8, 9), (8, 8))


def dct_1d(pos: int, freq: int, n: int) -> float:
    """Orthonormal DCT-II basis value at ``pos`` for frequency ``freq`` on ``n`` points."""
    v = math.cos(math.pi * freq * (pos + 0.5) / n) / math.sqrt(n)
    return v * math.sqrt(2) if freq != 0 else v


def dct_filter(u: int, v: int, h: int, w: int) -> torch.Tensor:
    """2-D DCT-II basis (u along rows/height, v along columns/width), shape (h, w), on the CPU whatever
    the default device (a model built on the meta device to size it, ``core.model.size``)."""
    bu = torch.tensor([dct_1d(i, u, h) for i in range(h)], dtype=torch.float64, device="cpu")
    bv = torch.tensor([dct_1d(j, v, w) for j in range(w)], dtype=torch.float64, device="cpu")
    return torch.outer(bu, bv).float()


def pooling_matrix(n: int, out: int) -> torch.Tensor:
    """(out, n) matrix of 1-D adaptive average pooling from n to out points (PyTorch's bins:
    floor(i n / out) to ceil((i + 1) n / out)), in float64."""
    a = torch.zeros(out, n, dtype=torch.float64)
    for i in range(out):
        s, e = (i * n) // out, -((-(i + 1) * n) // out)
        a[i, s:e] = 1.0 / (e - s)
    return a


def split_channels(c: int, k: int) -> list[int]:
    """Split c channels into k contiguous groups as evenly as possible."""
    base, rem = divmod(c, k)
    return [base + (1 if i < rem else 0) for i in range(k)]


class PDCTAttention(nn.Module):
    """Channel attention from preset DCT frequencies (FcaNet-style, PDCT frequency sets).

    ``groups`` lists (channels, frequencies) pairs: each block of channels is split into
    contiguous groups, one per frequency. Frequencies on the ``base`` grid are scaled to the
    ``tile`` size; inputs of another size are adaptive-average-pooled to the tile first.

    Pooling and the DCT sum are both linear, so the pooling is folded into the filter: an input of
    size (h, w) meets ``A_h^T W A_w`` (the tile filter pulled back through the pooling matrices),
    which equals pooling then filtering (``tests/test_model.py``) without the adaptive pooling
    that ONNX cannot export (40x40 from a 20x20 map) and without upsampling small maps.
    """

    def __init__(self, groups: list[tuple[int, tuple]], base: int = 10, tile: int = 40, reduction: int = 16,
                 min_hidden: int = 4):
        super().__init__()
        self.tile = tile
        scale = tile // base
        filters, freqs = [], []
        for channels, fset in groups:
            for n, (u0, v0) in zip(split_channels(channels, len(fset)), fset):
                f = dct_filter(u0 * scale, v0 * scale, tile, tile)
                filters.append(f.expand(n, tile, tile))
                freqs.extend([(u0 * scale, v0 * scale)] * n)
        self.register_buffer("weight", torch.cat(filters, 0), persistent=False)
        self.freqs = freqs
        c = self.weight.shape[0]
        hidden = max(c // reduction, min_hidden)
        self.fc = nn.Sequential(nn.Linear(c, hidden, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(hidden, c, bias=False), nn.Sigmoid())
        self._folded: dict = {}

    def filter_for(self, h: int, w: int, dtype: torch.dtype) -> torch.Tensor:
        """The tile filter folded through adaptive pooling from (h, w) to the tile: (C, h, w)."""
        if (h, w) == (self.tile, self.tile):
            return self.weight.to(dtype)
        key = (h, w, self.weight.device, dtype)
        f = self._folded.get(key)
        if f is None:
            a_h = pooling_matrix(h, self.tile).to(self.weight.device)
            a_w = pooling_matrix(w, self.tile).to(self.weight.device)
            f = torch.einsum("ih,cij,jw->chw", a_h, self.weight.double(), a_w).to(dtype)
            if not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
                self._folded = {key: f}  # one size at a time: the size a model runs at is fixed
        return f

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """Per-channel response to its assigned frequency, shape (B, C)."""
        h, w = int(x.shape[-2]), int(x.shape[-1])
        return (x * self.filter_for(h, w, x.dtype)).sum(dim=(2, 3))

    def forward(self, x):
        a = self.fc(self.spectrum(x))
        return x * a[:, :, None, None]


class FGPEM(nn.Module):
    """Frequency-guided perception enhancement: returns (F_high, F_low) from the MFA halves."""

    def __init__(self, c_high: int, c_low: int, cfg: ModelConfig):
        super().__init__()
        self.mode = cfg.fgpem
        self.c_high = c_high
        kw = dict(base=cfg.dct_base, tile=cfg.dct_tile, reduction=cfg.dct_reduction, min_hidden=cfg.dct_hidden_min)
        if self.mode == "split":
            self.high = PDCTAttention([(c_high, HIGH_FREQS)], **kw)
            self.low = PDCTAttention([(c_low, LOW_FREQS)], **kw)
        elif self.mode == "joint":
            self.joint = PDCTAttention([(c_high, HIGH_FREQS), (c_low, LOW_FREQS)], **kw)

    def forward(self, g_high, g_low):
        if self.mode == "none":
            return g_high, g_low
        if self.mode == "split":
            return self.high(g_high), self.low(g_low)
        y = self.joint(torch.cat([g_high, g_low], 1))
        return y[:, : self.c_high], y[:, self.c_high:]


class MFA(nn.Module):
    """Multi-scale feature alignment: resample C2..C5 to the C4 size, concat, 1x1, 3 RepVGG, 1x1."""

    def __init__(self, in_channels, hidden: int, out_channels: int):
        super().__init__()
        self.reduce = ConvBNAct(sum(in_channels), hidden, 1, act="silu")
        self.blocks = nn.Sequential(*[RepVGG(hidden, hidden) for _ in range(3)])
        self.expand = ConvBNAct(hidden, out_channels, 1, act="silu")

    def forward(self, feats):
        c2, c3, c4, c5 = feats
        size = c4.shape[-2:]
        aligned = [pool_to(c2, size), pool_to(c3, size), c4,
                   F.interpolate(c5, size=size, mode="bilinear", align_corners=False)]
        return self.expand(self.blocks(self.reduce(torch.cat(aligned, 1))))


class LAF3(nn.Module):
    """Local fusion of three levels at the middle level's size (SimFusion_3in)."""

    def __init__(self, c_high_res: int, c_mid: int, c_low_res: int, co: int):
        super().__init__()
        self.mid = SimConv(c_mid, co, 1)
        self.fuse = SimConv(c_high_res + co + c_low_res, co, 1)

    def forward(self, x_high_res, x_mid, x_low_res):
        size = x_mid.shape[-2:]
        x0 = pool_to(x_high_res, size)
        x2 = F.interpolate(x_low_res, size=size, mode="bilinear", align_corners=False)
        return self.fuse(torch.cat([x0, self.mid(x_mid), x2], 1))


def h_sigmoid(x):
    return F.relu6(x + 3) / 6


class Inject(nn.Module):
    """Gated injection of a global feature into a local one: loc * gate(global) + emb(global)."""

    def __init__(self, c_local: int, c_global: int, co: int, pool_hsigmoid: bool = True):
        super().__init__()
        self.local_embedding = ConvBNAct(c_local, co, 1, act=None)
        self.global_act = ConvBNAct(c_global, co, 1, act=None)
        self.global_embedding = ConvBNAct(c_global, co, 1, act=None)
        self.pool_hsigmoid = pool_hsigmoid

    def forward(self, x_local, x_global):
        size = x_local.shape[-2:]
        loc = self.local_embedding(x_local)
        act = self.global_act(x_global)
        emb = self.global_embedding(x_global)
        if x_global.shape[-2] > size[0]:
            act = h_sigmoid(act) if self.pool_hsigmoid else act
            act = pool_to(act, size)
            emb = pool_to(emb, size)
        else:
            act = F.interpolate(h_sigmoid(act), size=size, mode="bilinear", align_corners=False)
            emb = F.interpolate(emb, size=size, mode="bilinear", align_corners=False)
        return loc * act + emb


class BR(nn.Module):
    """Bottle Rep: ReLU(F(x) + sigmoid(alpha) * x), alpha learnable per channel."""

    def __init__(self, c: int, ratio: float = 0.5, alpha_init: float = 1.0):
        super().__init__()
        h = max(int(c * ratio), 1)
        self.body = nn.Sequential(ConvBNAct(c, h, 1, act="relu"), ConvBNAct(h, h, 3, act="relu"),
                                  ConvBNAct(h, c, 1, act=None))
        self.alpha = nn.Parameter(torch.full((c,), float(alpha_init)))

    def forward(self, x):
        return F.relu(self.body(x) + torch.sigmoid(self.alpha)[None, :, None, None] * x)


class CS(nn.Module):
    """Channel split: 1x1 up to parts*c, split, one BR per part, concat, 1x1 down."""

    def __init__(self, ci: int, part: int, co: int, parts: int = 3, ratio: float = 0.5, alpha_init: float = 1.0):
        super().__init__()
        self.parts = parts
        self.up = ConvBNAct(ci, parts * part, 1, act="relu")
        self.brs = nn.ModuleList([BR(part, ratio, alpha_init) for _ in range(parts)])
        self.down = ConvBNAct(parts * part, co, 1, act="relu")
        self.hidden = parts * part

    def forward(self, x):
        chunks = self.up(x).chunk(self.parts, 1)
        return self.down(torch.cat([br(c) for br, c in zip(self.brs, chunks)], 1))


class AESFPN(nn.Module):
    """The neck: backbone maps (C2..C5) -> head inputs [P3, N4, N5] at strides 8/16/32."""

    def __init__(self, in_channels, cfg: ModelConfig):
        super().__init__()
        c2, c3, c4, c5 = in_channels
        p3, p4, n = cfg.neck_p3, cfg.neck_p4, cfg.neck_repeats
        self.n4_input = cfg.n4_input
        self.mfa = MFA(in_channels, cfg.mfa_hidden, p4 + p3)
        self.split = (p4, p3)
        self.fgpem = FGPEM(p4, p3, cfg)
        self.reduce_c5 = SimConv(c5, p4, 1)
        self.laf_p4 = LAF3(c3, c4, p4, p4)
        self.inject_p4 = Inject(p4, p4, p4, cfg.inject_pool_hsigmoid)
        self.rep_p4 = RepBlock(p4, p4, n)
        self.reduce_p4 = SimConv(p4, p3, 1)
        self.laf_p3 = LAF3(c2, c3, p3, p3)
        self.inject_p3 = Inject(p3, p3, p3, cfg.inject_pool_hsigmoid)
        self.rep_p3 = RepBlock(p3, p3, n)
        n4_in = p3 + (p3 if cfg.n4_input == "p4h" else p4)
        self.rep_n4 = RepBlock(n4_in, p4, n)
        n5_width = 2 * p4
        cs_out = n5_width if cfg.cs_out == "head" else c5
        if cfg.n5_block == "cs":
            self.cs = CS(p4 + p4, n5_width, cs_out, cfg.cs_parts, cfg.br_ratio, cfg.br_alpha_init)
        else:  # the name stays, so checkpoints and hooks address N5's block the same way
            self.cs = RepBlock(p4 + p4, cs_out, n)
        self.out_channels = (p3, p4, cs_out)

    def forward(self, feats):
        c2, c3, c4, c5 = feats
        m = self.mfa(feats)
        g_high, g_low = m.split(self.split, 1)
        f_high, f_low = self.fgpem(g_high, g_low)
        c5h = self.reduce_c5(c5)
        p4 = self.rep_p4(self.inject_p4(self.laf_p4(c3, c4, c5h), f_high))
        p4h = self.reduce_p4(p4)
        p3 = self.rep_p3(self.inject_p3(self.laf_p3(c2, c3, p4h), f_low))
        right = p4h if self.n4_input == "p4h" else p4
        n4 = self.rep_n4(torch.cat([pool_to(p3, right.shape[-2:]), right], 1))
        n5 = self.cs(torch.cat([pool_to(n4, c5h.shape[-2:]), c5h], 1))
        return [p3, n4, n5]
