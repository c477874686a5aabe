"""Model configuration: every size of SD-GASNet and every open design choice, validated.

Each open question of architecture.md §10 is a field here; the default is the decision taken
there, and the comment beside it says why.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

MODEL_NAMES = ("sdgasnet-n", "sdgasnet-s", "sdgasnet-t")
MAX_IMGSZ = 4096   # the largest model input; larger images are tiled, not resized into one huge tensor
# classes when none are given (an architecture's figures, a model built to look at): COCO's 80, so that
# parameters and GFLOPs compare with published detectors'; a dataset's own count replaces it for training
NUM_CLASSES = 80


@dataclass(frozen=True)
class ModelConfig:
    name: str = "sdgasnet-n"
    num_classes: int = NUM_CLASSES
    width: float = 0.25
    depth: float = 0.33
    # Default EfficientRep: the paper's MLVT backbone could not be identified (architecture.md §8);
    # EfficientRep-n reproduces the published Gold-YOLO-N size. "mlvt" is a MobileViT-style option.
    backbone: str = "efficientrep"
    # Widths of the three head levels (P3, N4, N5); MFA splits into P4 (=N4) and P3 widths.
    neck_p3: int = 32
    neck_p4: int = 64
    mfa_hidden: int = 96        # Low-IFM embedding width (Gold-YOLO embed_dim_p)
    neck_repeats: int = 4       # RepVGG blocks per neck RepBlock (round(12 * 0.33))
    # MFA reference level: C4 (stride 16), as Gold-YOLO's Low-FAM; the paper's symbol was lost.
    mfa_ref: str = "c4"
    # FGPEM: two 4-frequency attentions after the split ("split") or one 8-group attention on
    # all MFA channels then split ("joint"). Both cost < 1K params; "split" keeps each branch's
    # frequencies on the channels that feed its target level.
    fgpem: str = "split"        # "none": the MFA halves go to Inject unchanged (the ablation)
    dct_base: int = 10          # index 9 is used, so the base grid must be >= 10
    dct_tile: int = 40          # MFA map size at 640; other sizes are pooled to it (FcaNet)
    dct_reduction: int = 16
    # Hidden width floor of the PDCT attention MLP. The spec's 4 leaves the 32-channel low branch
    # with all four ReLUs dead at init in ~2.5% of random inits (its DC-dominated input points the
    # same way for every image), freezing FGPEM-low; with 8 none of 200 inits died.
    dct_hidden_min: int = 8
    # Inject: apply h_sigmoid to the gate in the pooling branch too (the reference forgets it).
    inject_pool_hsigmoid: bool = True
    # N4 fuses pooled P3 with "p4h" (the 1x1-reduced P4, Gold-YOLO bottom-up path) or "p4".
    n4_input: str = "p4h"
    # CS output width: "head" (= 2 * neck_p4, the N5/head width) or "c5" (backbone C5 width).
    cs_out: str = "head"
    cs_parts: int = 3           # the paper splits the 384-channel up-projection into three
    # N5 fusion block: the paper's CS, or Gold-YOLO's RepBlock at the same width (the ablation).
    n5_block: str = "cs"
    br_ratio: float = 0.5       # BR bottleneck ratio (c -> c*ratio -> c)
    br_alpha_init: float = 1.0  # channel-wise alpha through a sigmoid: starts at 0.73
    reg_max: int = 16
    # Initial expected DFL distance, in strides. YOLOv6 initialises the DFL logits uniform (zero
    # weights, bias 1.0), i.e. reg_max/2 = 8 strides a side: at imgsz 320 every P5 box starts at
    # 512 px, larger than the image, the task-aligned assigner (IoU^6) never picks a P5 anchor and
    # the P5 head is never trained (docs/experiments/2026-11-27-dfl-init.md). 2.5 starts each level's boxes at 5 strides, the prior box of ATSS, so each
    # level starts with the objects of its size. 0 = YOLOv6's uniform init.
    dfl_init_dist: float = 2.5
    # Inference box branch: "lrtb" (direct distances, the distill_ns head) or "dfl".
    infer_branch: str = "lrtb"
    strides: tuple[int, int, int] = (8, 16, 32)

    def validate(self) -> "ModelConfig":
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")
        # Bounds before anything is built: a checkpoint's configuration is checked against these
        # before its model is allocated (a small file must not ask for gigabytes).
        for key, hi in SIZE_LIMITS.items():
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= hi:
                raise ValueError(f"{key} must be in (0, {hi}]; got {v!r}")
        if tuple(self.strides) != (8, 16, 32):
            raise ValueError(f"strides must be (8, 16, 32); got {self.strides}")
        choices = {
            "backbone": ("efficientrep", "mlvt"), "mfa_ref": ("c4",), "fgpem": ("split", "joint", "none"),
            "n4_input": ("p4h", "p4"), "cs_out": ("head", "c5"), "infer_branch": ("lrtb", "dfl"), "n5_block": ("cs", "repblock"),
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}; got '{getattr(self, key)}'")
        if self.dct_base < 10:
            raise ValueError("dct_base must be >= 10 (the high frequencies use index 9)")
        if self.dct_tile < self.dct_base:
            raise ValueError("dct_tile must be >= dct_base")
        if self.reg_max < 1:
            raise ValueError("reg_max must be >= 1")
        if not 0 <= self.dfl_init_dist < self.reg_max / 2 + 1e-9:
            raise ValueError(f"dfl_init_dist must be in [0, reg_max/2]; got {self.dfl_init_dist}")
        if not 0 < self.br_ratio <= 1:
            raise ValueError("br_ratio must be in (0, 1]")
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["strides"] = list(self.strides)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model configuration keys: {', '.join(sorted(unknown))}")
        d = dict(d)
        if "strides" in d:
            d["strides"] = tuple(d["strides"])
        return cls(**d).validate()


SIZE_LIMITS = {"num_classes": 10000, "width": 2.0, "depth": 2.0, "neck_p3": 1024, "neck_p4": 2048,
               "mfa_hidden": 2048, "neck_repeats": 32, "dct_tile": 320, "dct_reduction": 1024,
               "dct_hidden_min": 1024, "cs_parts": 16, "reg_max": 64}

_PRESETS = {
    "sdgasnet-n": dict(width=0.25, depth=0.33, neck_p3=32, neck_p4=64, mfa_hidden=96),
    "sdgasnet-s": dict(width=0.50, depth=0.33, neck_p3=64, neck_p4=128, mfa_hidden=128),
    # Not the paper's: -n's neck and head on a thinner, shallower EfficientRep (3.0 of 6.5 GFLOPs at
    # 640 against -n's 8.0 of 11.6), the candidate for YOLO26n's latency (docs/benchmarks.md).
    "sdgasnet-t": dict(width=0.1875, depth=0.2, neck_p3=32, neck_p4=64, mfa_hidden=96),
}


def model_config(name: str, num_classes: int = NUM_CLASSES, **overrides) -> ModelConfig:
    """The configuration of a named model, with optional field overrides."""
    if name not in _PRESETS:
        raise ValueError(f"unknown model '{name}' (choose from: {', '.join(MODEL_NAMES)})")
    known = {f.name for f in fields(ModelConfig)}
    bad = set(overrides) - known
    if bad:
        raise ValueError(f"unknown model configuration keys: {', '.join(sorted(bad))}")
    cfg = ModelConfig(name=name, num_classes=num_classes, **_PRESETS[name])
    return replace(cfg, **overrides).validate()


def imgsz_problem(v) -> str | None:
    """The one image-size rule (CLI, training settings, checkpoints, export): a whole multiple of 32
    (the largest stride) from 32 to MAX_IMGSZ; None when ``v`` keeps it, else what is wrong."""
    if isinstance(v, bool) or not isinstance(v, int) or not 32 <= v <= MAX_IMGSZ or v % 32:
        return f"an image size is a multiple of 32 from 32 to {MAX_IMGSZ} (got {v!r})"
    return None


def check_imgsz(h: int, w: int | None = None) -> None:
    """Raise ValueError unless ``h`` (and ``w``) keep the image-size rule."""
    for v in (h, w if w is not None else h):
        problem = imgsz_problem(v)
        if problem:
            raise ValueError(problem)
