"""Training settings: every default in one place, validated; unknown keys rejected with a hint."""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, fields

from core.data.dataset import AugmentConfig

_AUG = AugmentConfig()


@dataclass
class TrainConfig:
    data: str = ""
    model: str = "sdgasnet-n"
    teacher: str | None = None          # set for a distillation run
    epochs: int = 100
    imgsz: int = 640
    batch: int = 16
    device: str = "auto"
    out: str = "runs/train"
    resume: bool = False
    events: str | None = None
    seed: int = 0
    workers: int = 2
    cache: str = "auto"                 # auto | ram | none
    # optimisation (YOLOv6 / Gold-YOLO n recipe, architecture.md §6)
    # "sgd" (Nesterov) or "adamw" (momentum is beta1; bias warm-up starts at 0, as Ultralytics does:
    # a 0.1 bias lr would wreck Adam). Ultralytics' optimizer=auto picks AdamW at lr 0.002*5/(4+nc)
    # and momentum 0.9 for runs under 10,000 iterations (docs/training.md).
    optimizer: str = "sgd"
    lr0: float = 0.02                   # at batch 32; rescaled by batch / (world * 32)
    lrf: float = 0.01
    momentum: float = 0.937
    weight_decay: float = 5e-4
    nominal_batch: int = 64             # gradients accumulate to this batch
    # "batch": the loss is multiplied by the per-process batch size (Ultralytics); "none": YOLOv6's
    # per-target normalisation alone. With SGD that is a batch-size factor in the step size: YOLOv6
    # tunes lr0 for 300-400 epochs, and on a 30-epoch NEU-DET run at 320 it had reached only
    # mAP50 0.06 after 6 epochs (docs/training.md), so short industrial runs default to "batch".
    loss_scale: str = "batch"
    # Warm-up: max(warmup_epochs epochs, warmup_min_iters iterations). YOLOv6's 1,000-iteration
    # minimum is longer than a whole short run on a few hundred images; Ultralytics' 100 fits.
    warmup_epochs: float = 3.0
    warmup_min_iters: int = 100
    warmup_bias_lr: float = 0.1
    warmup_momentum: float = 0.8
    ema_decay: float = 0.9999
    ema_tau: float = 2000.0
    # loss weights. architecture.md §3.5 (YOLOv6) has class 1.0, IoU 2.5 per box branch, DFL 0.5,
    # tuned for YOLOv6's per-target loss scale over 300+ epochs; under our batch-scaled SGD the
    # class weight 2 trained the 30-epoch NEU-DET teacher to 0.627 / 0.299 against 0.621 / 0.294 and
    # 0.606 / 0.284 at 1 (docs/benchmarks.md, "Class weight 2"). YOLOv8's cls 0.5 / box 7.5 / dfl 1.5
    # halved the mAP there. LossConfig keeps the spec's 1.0 for the bare loss.
    loss_cls: float = 2.0
    loss_iou: float = 2.5
    loss_dfl: float = 0.5
    # boxes the task-aligned assigner scores: "dfl" (YOLOv6) or "lrtb" (the branch inference reads)
    tal_boxes: str = "dfl"
    # assign a GT only to anchors whose DFL range (reg_max strides) reaches all four of its sides
    # where any inside anchor does: long scratches go to P4/P5, not to clipped P3 anchors
    tal_reach: bool = False
    # task-aligned assigner (architecture.md §3.5, YOLOv6: top-k 13, alpha 1, beta 6); YOLOv8 uses
    # 10 / 0.5 / 6 (docs/benchmarks.md measures it here)
    tal_topk: int = 13
    tal_alpha: float = 1.0
    tal_beta: float = 6.0
    close_mosaic: int = 15              # mosaic off for the last N epochs (at most half of the run)
    amp: bool = True                    # mixed precision on CUDA: fp16 autocast + loss scaling
    # bf16 autocast on CPUs with native bf16 (AVX512-BF16 / AMX): ~1.8x faster training steps, but on
    # NEU-DET the 30-epoch teacher scored 0.011 mAP50-95 below the same run in fp32
    # (docs/benchmarks.md, "fp32 training on the CPU"), so CPU runs train in fp32 unless asked.
    cpu_bf16: bool = False
    # channels-last memory format on the CPU (the stem stays NCHW: SDGASNet.to_channels_last_):
    # 1.12-1.19x faster fp32 training steps on the 2-core machine (benchmarks/train_step.py), but
    # its 30-epoch NEU-DET teacher scored 0.278 mAP50-95, below the NCHW seeds (0.294, 0.284), which
    # the rule set before the run turns into opt-in (docs/benchmarks.md, "Channels-last teacher")
    channels_last: bool = False
    # augmentation (defaults live in core.data.dataset.AugmentConfig)
    hsv_h: float = _AUG.hsv_h
    hsv_s: float = _AUG.hsv_s
    hsv_v: float = _AUG.hsv_v
    degrees: float = _AUG.degrees
    translate: float = _AUG.translate
    scale: float = _AUG.scale
    shear: float = _AUG.shear
    flipud: float = _AUG.flipud
    fliplr: float = _AUG.fliplr
    mosaic: float = _AUG.mosaic
    # evaluation
    val_conf: float = 0.001
    val_iou: float = 0.65
    val_interval: int = 1
    # Re-estimate BatchNorm statistics of the EMA weights on this many (un-augmented) training
    # images before each validation and save ("precise BN"). With BN momentum 0.03 the running
    # statistics lag the weights by hundreds of steps, which on short industrial runs costs a lot
    # of mAP (an 8-image overfit run scored mAP50 0.17 lagged vs ~1.0 recalibrated). 0 = off.
    precise_bn_images: int = 256
    # distillation (architecture.md §5, §9.4)
    # YOLOv6 uses 20; 4 was measured better on NEU-DET (docs/training.md "Distillation temperature")
    kd_temperature: float = 4.0
    kd_feat_temperature: float = 1.0
    kd_direction: str = "forward"       # forward = KL(teacher || student); reverse = KL(student || teacher)
    kd_cls_norm: str = "sum"
    kd_lambda_floor: float = 0.0        # paper: 1 -> 0; 0.01 reproduces YOLOv6
    # YOLOv6's d_cls 1 / w_cwd 10 stall a student on NEU-DET: with the summed KD_cls and the
    # feature term, the distillation gradient is 5-5,000x the detection gradient, the clipped step
    # (norm 10) leaves the zero-initialised head almost nothing, and its losses do not move
    # (benchmarks/kd_grad_probe.py, docs/training.md "Distillation weights"). These two keep each
    # distillation gradient about level with the detection gradient.
    d_cls: float = 0.1
    d_dfl: float = 1.0
    w_cwd: float = 0.01
    kd_feat: bool = True
    teacher_bn: str = "eval"            # eval: running stats (recommended); batch: reference quirk
    # model configuration overrides (ModelConfig fields), e.g. {"backbone": "mlvt"}
    model_overrides: dict | None = None
    max_iters: int = 0                  # stop after this many iterations in total (tests, smoke runs)

    def validate(self) -> "TrainConfig":
        from core.model.config import MODEL_NAMES, check_imgsz

        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown model '{self.model}' (choose from: {', '.join(MODEL_NAMES)})")
        check_imgsz(self.imgsz)
        if self.epochs < 1:
            raise ValueError("epochs must be >= 1")
        if self.batch < 1:
            raise ValueError("batch must be >= 1")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError("optimizer must be 'sgd' or 'adamw'")
        if self.kd_direction not in ("forward", "reverse"):
            raise ValueError("kd_direction must be 'forward' or 'reverse'")
        if self.kd_cls_norm not in ("sum", "mean"):
            raise ValueError("kd_cls_norm must be 'sum' or 'mean'")
        if self.teacher_bn not in ("eval", "batch"):
            raise ValueError("teacher_bn must be 'eval' or 'batch'")
        if self.tal_boxes not in ("dfl", "lrtb"):
            raise ValueError("tal_boxes must be 'dfl' or 'lrtb'")
        if self.tal_topk < 1 or self.tal_alpha < 0 or self.tal_beta < 0:
            raise ValueError("tal_topk must be >= 1, tal_alpha and tal_beta >= 0")
        if min(self.loss_cls, self.loss_iou, self.loss_dfl) < 0:
            raise ValueError("loss weights (loss_cls, loss_iou, loss_dfl) must be >= 0")
        if self.loss_scale not in ("batch", "none"):
            raise ValueError("loss_scale must be 'batch' or 'none'")
        if self.cache not in ("auto", "ram", "none"):
            raise ValueError("cache must be auto, ram or none")
        return self

    def loss_config(self):
        """The loss weights and distillation settings as the loss takes them (core.train.losses.LossConfig)."""
        from .losses import LossConfig

        return LossConfig(kd_temperature=self.kd_temperature, kd_feat_temperature=self.kd_feat_temperature,
                          kd_direction=self.kd_direction, kd_cls_norm=self.kd_cls_norm, d_cls=self.d_cls,
                          d_dfl=self.d_dfl, w_cwd=self.w_cwd, kd_feat=self.kd_feat, tal_boxes=self.tal_boxes,
                          tal_reach=self.tal_reach, topk=self.tal_topk, tal_alpha=self.tal_alpha,
                          tal_beta=self.tal_beta,
                          w_cls=self.loss_cls, w_iou=self.loss_iou, w_dfl=self.loss_dfl)

    def augment(self) -> AugmentConfig:
        return AugmentConfig(**{f.name: getattr(self, f.name) for f in fields(AugmentConfig)})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        bad = [k for k in d if k not in known]
        if bad:
            hints = []
            for k in bad:
                close = difflib.get_close_matches(k, known, n=1)
                hints.append(f"'{k}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            raise ValueError(f"unknown training setting(s): {', '.join(hints)}")
        return cls(**d).validate()

    @classmethod
    def from_saved(cls, d: dict) -> "TrainConfig":
        """The settings a checkpoint was trained with, read so that resuming trains the same way."""
        d = dict(d)
        # runs saved before cpu_bf16 existed trained in bf16 on CPU whenever amp was on
        d.setdefault("cpu_bf16", d.get("amp", True))
        d.setdefault("channels_last", False)  # and in NCHW before channels_last existed
        d.setdefault("loss_cls", 1.0)  # the class weight before it became 2
        d.setdefault("kd_temperature", 20.0)  # and the distillation temperature before it became 4
        return cls.from_dict(d)
