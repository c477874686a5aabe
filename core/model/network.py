"""SD-GASNet: backbone -> AES-FPN -> decoupled DFL head."""
from __future__ import annotations

import torch
import torch.nn as nn

from .backbones import build_backbone
from .aes_fpn import AESFPN
from .blocks import fuse_module_
from .architecture import NUM_CLASSES, ModelConfig, check_imgsz, model_config
from .head import DetectHead


class SDGASNet(nn.Module):
    """The detector. ``forward`` in training mode (or with ``raw=True``) returns a dict:

    - ``cls``: class logits (B, A, nc)
    - ``dfl``: DFL logits (B, A, 4, reg_max + 1)
    - ``box``: direct l, t, r, b distances in stride units (B, A, 4)
    - ``feats``: the three AES-FPN output maps [P3, N4, N5]

    In eval mode it returns (B, A, 4 + nc): x1 y1 x2 y2 in input pixels, then class scores.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg.validate()
        self.backbone = build_backbone(cfg.backbone, cfg.width, cfg.depth)
        self.neck = AESFPN(self.backbone.channels, cfg)
        self.head = DetectHead(self.neck.out_channels, cfg.num_classes, cfg.reg_max, cfg.strides, cfg.infer_branch,
                               cfg.dfl_init_dist)
        self.fused = False
        _init_bn(self)

    @property
    def num_classes(self) -> int:
        return self.cfg.num_classes

    def forward(self, x: torch.Tensor, raw: bool = False):
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected input (B, 3, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"input height and width must be multiples of 32, got {tuple(x.shape[2:])}")
        feats = self.neck(self.backbone(x))
        if self.training or raw:
            if self.fused:
                raise RuntimeError("a fused model is for inference only")
            cls, dfl, box = self.head.forward_raw(feats)
            return {"cls": cls, "dfl": dfl, "box": box, "feats": feats}
        return self.head.decode(feats)

    def to_channels_last_(self) -> "SDGASNet":
        """Channels-last memory format for training on the CPU, in place; the stem stays NCHW.

        The stem's RepVGG has a 1x1 stride-2 branch on the 3-channel image, and torch 2.13's CPU
        backward of exactly that convolution in channels-last (weight gradient only, as the image
        needs none) corrupts the heap ("munmap_chunk(): invalid pointer"); a 3x3 branch, a 1x1
        stride-1 conv or a 4-channel input do not. The stem's output is converted by the next conv.
        """
        self.to(memory_format=torch.channels_last)
        self.backbone.stem.to(memory_format=torch.contiguous_format)
        return self

    def fuse(self) -> "SDGASNet":
        """Fold RepVGG branches and BatchNorm into single convs, in place; inference only."""
        if not self.fused:
            fuse_module_(self)
            self.head.drop_training_branches_()
            self.fused = True
        return self.eval()


def _init_bn(model: nn.Module):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps, m.momentum = 1e-3, 0.03


def build_model(name: str = "sdgasnet-n", num_classes: int = NUM_CLASSES, **overrides) -> SDGASNet:
    """Build a named SD-GASNet in training form. ``overrides`` set ModelConfig fields."""
    return SDGASNet(model_config(name, num_classes, **overrides))


def build_from_config(cfg: dict | ModelConfig, imgsz: int = 640) -> SDGASNet:
    """Build from a stored configuration (a dict from a checkpoint, or a ModelConfig); a configuration
    whose model would be too large, in parameters or in memory for one image at ``imgsz``, is a
    ValueError with the numbers, before anything is allocated (``core.model.size``)."""
    from .size import size_problem

    if isinstance(cfg, dict):
        cfg = ModelConfig.from_dict(cfg)
    problem = size_problem(cfg, imgsz, SDGASNet)
    if problem:
        raise ValueError(problem)
    return SDGASNet(cfg)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_gflops(model: nn.Module, imgsz: int | tuple[int, int] = 640) -> float:
    """GFLOPs (2 x MACs of conv/linear/matmul) of one eval forward at ``imgsz``."""
    from torch.utils.flop_counter import FlopCounterMode

    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    check_imgsz(h, w)
    was_training = model.training
    model.eval()
    p = next(model.parameters())
    x = torch.zeros(1, 3, h, w, device=p.device, dtype=p.dtype)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() / 1e9
