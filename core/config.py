"""Every default in one place, in sections: augment, loss, train, val, predict, inspect, app.

The CLI's defaults, the loss and the augmentation read these; nothing copies them. Each choice
that was measured links to the page that chose it (docs/training.md, "How each default was
chosen"). ``TrainConfig`` is flat so that ``--set KEY=VALUE`` and saved runs name one key each;
its augment and loss fields take their defaults from ``AugmentConfig`` and ``LossConfig``.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, fields

from core.model.architecture import MAX_IMGSZ  # noqa: F401  (re-exported: the CLI and export read it here)

# ------------------------------------------------------------------------------------ constants
NMS_IOU = 0.65              # NMS IoU for val, predict and inspection (YOLOv6's evaluation value)
PREDICT_CONF = 0.25         # confidence for predictions, verdicts and the confusion matrix
VAL_CONF = 0.001            # confidence floor for mAP
MAX_DET = 300               # detections kept per image
LR_REFERENCE_BATCH = 32     # lr0 is given for this batch per process and rescaled linearly
GRAD_CLIP_NORM = 10.0       # gradient norm clip of every optimizer step (YOLOv6)
TILE_OVERLAP = 0.2          # overlap of neighbouring tiles in tiled inference


# ------------------------------------------------------------------------------ bundled models
# The models shipped in resources/models (its README says how each was made). ``--weights NAME``,
# the registry (which refuses these names), the CLI help and ``models list`` all read this table.
BUNDLED_MODELS = {
    "default": ("default.pt", "SD-GASNet-n on NEU-DET steel (the demo model on the demo line)"),
    "demo": ("demo.pt", "SD-GASNet-n on the synthetic demo line"),
    "fast": ("fast.pt", "the smaller sdgasnet-t on NEU-DET, for line PCs that need speed"),
    "base": ("base.pt", "SD-GASNet-n pretrained on five public surface-defect sets: a start for training on your "
                        "own images (new classes get fresh class layers), not a model for the line"),
    "base-fast": ("base-fast.pt", "the smaller sdgasnet-t pretrained on the same five sets: a start for training a "
                                  "fast model on your own images, not a model for the line"),
}
# bundled models that are starts for training, not line models: the training dialog offers them first,
# the live and labelling views do not offer them
TRAINING_STARTS = ("base", "base-fast")


# ------------------------------------------------------------------------------------- augment
@dataclass
class AugmentConfig:
    """Training augmentation (Ultralytics' defaults; flipud measured and kept off)."""
    hsv_h: float = 0.015
    hsv_s: float = 0.7
    hsv_v: float = 0.4
    degrees: float = 0.0
    translate: float = 0.1
    scale: float = 0.5
    shear: float = 0.0
    flipud: float = 0.0
    fliplr: float = 0.5
    mosaic: float = 1.0


# ---------------------------------------------------------------------------------------- loss
@dataclass
class LossConfig:
    """The loss training uses: ``DetectionLoss(nc)`` with no config is exactly this."""
    w_cls: float = 2.0               # spec 1.0; 2 measured better under batch-scaled SGD (training.md)
    w_iou: float = 2.5
    w_dfl: float = 0.5
    vfl_alpha: float = 0.75
    vfl_gamma: float = 2.0
    topk: int = 13                   # task-aligned assigner, architecture.md §3.5 (YOLOv6)
    tal_alpha: float = 1.0
    tal_beta: float = 6.0
    both_box_branches: bool = True   # GIoU on DFL-decoded and direct boxes (distill_ns head)
    tal_boxes: str = "dfl"           # boxes the assigner scores: "dfl" (YOLOv6) or "lrtb" (inference's)
    tal_reach: bool = False          # candidates only where the DFL range reaches every GT side
    # distillation (architecture.md §5)
    kd_temperature: float = 4.0      # YOLOv6 uses 20; 4 keeps the DFL bins' shape (training.md)
    kd_feat_temperature: float = 1.0
    kd_direction: str = "forward"    # forward: KL(teacher || student); reverse: KL(student || teacher)
    kd_cls_norm: str = "sum"         # "sum" over all anchors (reference) or "mean" per anchor
    # YOLOv6's d_cls 1 / w_cwd 10 stall the student; these keep each distillation gradient level
    # with the detection gradient (tools/kd_grad_probe.py, training.md "Distillation weights")
    d_cls: float = 0.1
    d_dfl: float = 1.0
    w_cwd: float = 0.01
    kd_feat: bool = True


_AUG = AugmentConfig()
_LOSS = LossConfig()
# TrainConfig field -> LossConfig field
_LOSS_KEYS = {"loss_cls": "w_cls", "loss_iou": "w_iou", "loss_dfl": "w_dfl", "tal_topk": "topk",
              "tal_alpha": "tal_alpha", "tal_beta": "tal_beta", "tal_boxes": "tal_boxes", "tal_reach": "tal_reach",
              "kd_temperature": "kd_temperature", "kd_feat_temperature": "kd_feat_temperature",
              "kd_direction": "kd_direction", "kd_cls_norm": "kd_cls_norm", "d_cls": "d_cls", "d_dfl": "d_dfl",
              "w_cwd": "w_cwd", "kd_feat": "kd_feat"}


# --------------------------------------------------------------------------------------- train
def split_names(text: str) -> list[str]:
    """``"a.pt, b.pt"`` -> ``["a.pt", "b.pt"]`` (a list setting typed as text)."""
    return [t.strip() for t in text.split(",") if t.strip()]


@dataclass
class TrainConfig:
    """One training run (teacher, or a student with ``teacher`` set)."""
    data: str = ""
    model: str = "sdgasnet-n"
    teacher: str | None = None          # set for a distillation run
    weights: str | None = None          # a teacher run starts from these weights (fine-tuning)
    epochs: int = 100
    imgsz: int = 640
    batch: int = 16
    device: str = "auto"
    out: str = ""                       # the run folder ("": a new runs/teacher-YYYYmmdd-HHMMSS or student-...)
    resume: bool = False
    events: str | None = None
    seed: int = 0
    workers: int = 2
    cache: str = "auto"                 # auto | ram | none
    # optimisation: YOLOv6 / Gold-YOLO n recipe (architecture.md §6)
    optimizer: str = "sgd"              # sgd (Nesterov) | adamw (bias warm-up from 0, as Ultralytics)
    lr0: float = 0.02                   # at LR_REFERENCE_BATCH; rescaled by batch / (world * 32)
    lrf: float = 0.01
    momentum: float = 0.937
    weight_decay: float = 5e-4
    nominal_batch: int = 64             # gradients accumulate to this batch
    loss_scale: str = "batch"           # batch: loss x batch size (Ultralytics); none: YOLOv6 (training.md)
    warmup_epochs: float = 3.0          # warm-up: max(these epochs, warmup_min_iters iterations)
    warmup_min_iters: int = 100         # YOLOv6's 1,000 outlast a short industrial run
    warmup_bias_lr: float = 0.1
    warmup_momentum: float = 0.8
    ema_decay: float = 0.9999
    ema_tau: float = 2000.0
    loss_cls: float = _LOSS.w_cls
    loss_iou: float = _LOSS.w_iou
    loss_dfl: float = _LOSS.w_dfl
    tal_boxes: str = _LOSS.tal_boxes
    tal_reach: bool = _LOSS.tal_reach
    tal_topk: int = _LOSS.topk
    tal_alpha: float = _LOSS.tal_alpha
    tal_beta: float = _LOSS.tal_beta
    close_mosaic: int = 15              # mosaic off for the last N epochs (at most half of the run)
    amp: bool = True                    # CUDA: fp16 autocast + loss scaling
    cpu_bf16: bool = False              # bf16 autocast on CPUs with native bf16: faster, lower mAP (training.md)
    channels_last: bool = False         # CPU channels-last: faster steps, lower mAP (training.md)
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
    val_conf: float = VAL_CONF
    val_iou: float = NMS_IOU
    val_interval: int = 1
    # BatchNorm statistics of the EMA weights re-estimated on this many un-augmented training images
    # before each validation and save ("precise BN"); 0 = off (training.md)
    precise_bn_images: int = 256
    kd_temperature: float = _LOSS.kd_temperature
    kd_feat_temperature: float = _LOSS.kd_feat_temperature
    kd_direction: str = _LOSS.kd_direction
    kd_cls_norm: str = _LOSS.kd_cls_norm
    kd_lambda_floor: float = 0.0        # distillation weight decays 1 -> this (0.01 reproduces YOLOv6)
    d_cls: float = _LOSS.d_cls
    d_dfl: float = _LOSS.d_dfl
    w_cwd: float = _LOSS.w_cwd
    kd_feat: bool = _LOSS.kd_feat
    teacher_bn: str = "eval"            # eval: running stats (recommended); batch: reference quirk
    # more frozen teachers of the teacher's architecture: their class probabilities and box distributions
    # are averaged with the teacher's into the soft targets (features stay the teacher's own)
    ensemble_teachers: list[str] | None = None
    model_overrides: dict | None = None  # ModelConfig fields, e.g. {"backbone": "mlvt"}
    max_iters: int = 0                  # stop after this many iterations in total (tests, smoke runs)
    # the backbone's weights and BatchNorm statistics stay as loaded for the first N epochs of a run
    # that starts from weights (fine-tuning a few hundred images: the head learns the new classes
    # before the features move; docs/training.md)
    freeze_epochs: int = 0
    # about this many seconds for the whole run: after each validation the epochs become the most
    # that fit what is left, from the run's own times (core.train.budget); 0: the epochs as given
    time_budget_s: float = 0.0

    def validate(self) -> "TrainConfig":
        from core.model.architecture import MODEL_NAMES, check_imgsz  # here: reading defaults needs no torch

        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown model '{self.model}' (choose from: {', '.join(MODEL_NAMES)})")
        check_imgsz(self.imgsz)
        if min(self.loss_cls, self.loss_iou, self.loss_dfl) < 0:
            raise ValueError("loss weights (loss_cls, loss_iou, loss_dfl) must be >= 0")
        if isinstance(self.ensemble_teachers, str):   # the dialog's text field, or --set NAME=a.pt,b.pt
            self.ensemble_teachers = split_names(self.ensemble_teachers)
        if self.ensemble_teachers is not None and not (isinstance(self.ensemble_teachers, list) and all(
                isinstance(t, str) and t for t in self.ensemble_teachers)):
            raise ValueError(f"ensemble_teachers must be a list of weights files (got {self.ensemble_teachers!r})")
        if self.ensemble_teachers and not self.teacher:
            raise ValueError("ensemble_teachers needs a teacher: it is a setting of a student (distill) run")
        self.ensemble_teachers = self.ensemble_teachers or None
        check_ranges(self, TRAIN_RANGES)
        for k, allowed in TRAIN_CHOICES.items():
            if getattr(self, k) not in allowed:
                raise ValueError(f"{k} must be one of: {', '.join(map(str, allowed))} (got '{getattr(self, k)}')")
        return self

    def loss_config(self) -> LossConfig:
        """The loss weights and distillation settings as the loss takes them."""
        return LossConfig(**{lk: getattr(self, tk) for tk, lk in _LOSS_KEYS.items()})

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
        for k, default in SAVED_RUN_DEFAULTS.items():
            if k not in d:
                d[k] = default(d) if callable(default) else default
        return cls.from_dict(d)


def read_train_file(path) -> dict:
    """A YAML file of ``TrainConfig`` settings (``train --cfg FILE``; a run's ``args.yaml``), checked
    here once so that an error names the file. Returns the settings as written."""
    from pathlib import Path

    import yaml

    try:
        d = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as e:
        raise ValueError(f"{path}: cannot be read ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({e})") from None
    d = {} if d is None else d
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected training settings as 'key: value' lines, found {type(d).__name__}")
    try:
        TrainConfig.from_dict(dict(d))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None
    return d


# What runs saved before a setting existed trained with (resume reads these, not today's defaults).
SAVED_RUN_DEFAULTS = {
    "cpu_bf16": lambda d: d.get("amp", True),  # bf16 on the CPU whenever amp was on
    "channels_last": False,                     # NCHW
    "loss_cls": 1.0,                            # the spec's class weight
    "kd_temperature": 20.0,                     # YOLOv6's temperature
}

TRAIN_CHOICES = {
    "optimizer": ("sgd", "adamw"), "kd_direction": ("forward", "reverse"), "kd_cls_norm": ("sum", "mean"),
    "teacher_bn": ("eval", "batch"), "tal_boxes": ("dfl", "lrtb"), "loss_scale": ("batch", "none"),
    "cache": ("auto", "ram", "none"),
}

# (low, high, low inclusive, high inclusive); None = unbounded. Every numeric setting has a range.
TRAIN_RANGES = {
    "epochs": (1, None, True, True), "batch": (1, None, True, True), "seed": (0, None, True, True),
    "workers": (0, None, True, True), "lr0": (0, None, False, True), "lrf": (0, 1, False, True),
    "momentum": (0, 1, True, False), "weight_decay": (0, None, True, True), "nominal_batch": (1, None, True, True),
    "warmup_epochs": (0, None, True, True), "warmup_min_iters": (0, None, True, True),
    "warmup_bias_lr": (0, None, True, True), "warmup_momentum": (0, 1, True, True),
    "ema_decay": (0, 1, False, False), "ema_tau": (0, None, False, True),
    "loss_cls": (0, None, True, True), "loss_iou": (0, None, True, True), "loss_dfl": (0, None, True, True),
    "tal_topk": (1, None, True, True), "tal_alpha": (0, None, True, True), "tal_beta": (0, None, True, True),
    "close_mosaic": (0, None, True, True),
    "hsv_h": (0, 1, True, True), "hsv_s": (0, 1, True, True), "hsv_v": (0, 1, True, True),
    "degrees": (0, 180, True, True), "translate": (0, 1, True, False), "scale": (0, 1, True, False),
    "shear": (0, 90, True, False), "flipud": (0, 1, True, True), "fliplr": (0, 1, True, True),
    "mosaic": (0, 1, True, True), "val_conf": (0, 1, True, True), "val_iou": (0, 1, False, True),
    "val_interval": (1, None, True, True), "precise_bn_images": (0, None, True, True),
    "kd_temperature": (0, None, False, True), "kd_feat_temperature": (0, None, False, True),
    "kd_lambda_floor": (0, 1, True, True), "d_cls": (0, None, True, True), "d_dfl": (0, None, True, True),
    "w_cwd": (0, None, True, True), "max_iters": (0, None, True, True), "imgsz": (32, MAX_IMGSZ, True, True),
    "freeze_epochs": (0, None, True, True), "time_budget_s": (0, None, True, True),
}


# One line of help per setting: the training dialog's tooltips and docs read these.
TRAIN_HELP = {
    "data": "dataset: data.yaml, a VOC or COCO folder, or demo[:N] (the synthetic line)",
    "model": "network size: n trains fastest; s and m are larger and slower",
    "teacher": "the frozen teacher's weights (a student run)",
    "weights": "start from these weights instead of from scratch (fine-tuning; other classes get a new class layer)",
    "epochs": "passes over the training images",
    "imgsz": "square input size in pixels, a multiple of 32",
    "batch": "images per step (gradients accumulate to nominal_batch)",
    "device": "auto picks CUDA when present, else the CPU",
    "out": "the run folder",
    "seed": "random seed of sampling and augmentation",
    "workers": "data-loading processes",
    "cache": "keep decoded images in RAM: auto does when they fit",
    "optimizer": "sgd (Nesterov, the paper's) or adamw",
    "lr0": f"initial learning rate at batch {LR_REFERENCE_BATCH}, rescaled for the batch",
    "lrf": "final learning rate as a fraction of lr0 (cosine schedule)",
    "momentum": "SGD momentum (AdamW beta1)",
    "weight_decay": "L2 weight decay of conv and linear weights",
    "nominal_batch": "gradients accumulate to this many images per optimizer step",
    "loss_scale": "batch: loss times batch size (Ultralytics); none: YOLOv6's scale",
    "warmup_epochs": "learning-rate warm-up length in epochs",
    "warmup_min_iters": "the warm-up lasts at least this many iterations",
    "warmup_bias_lr": "bias learning rate at the start of warm-up",
    "warmup_momentum": "momentum at the start of warm-up",
    "ema_decay": "decay of the weights' moving average (the saved model)",
    "ema_tau": "iterations over which the EMA decay ramps up",
    "loss_cls": "weight of the classification (varifocal) loss",
    "loss_iou": "weight of the box (GIoU) loss",
    "loss_dfl": "weight of the distribution focal loss",
    "tal_boxes": "boxes the assigner scores: dfl (YOLOv6) or lrtb",
    "tal_reach": "assign only anchors whose DFL range reaches every box side",
    "tal_topk": "candidate anchors per object in the task-aligned assigner",
    "tal_alpha": "assigner: exponent of the class score",
    "tal_beta": "assigner: exponent of the IoU",
    "close_mosaic": "mosaic off for the last N epochs",
    "amp": "CUDA: mixed precision (fp16) training",
    "cpu_bf16": "CPU: bf16 autocast where supported (faster, lower mAP)",
    "channels_last": "CPU: channels-last memory (faster steps, lower mAP)",
    "hsv_h": "augmentation: hue jitter (fraction)",
    "hsv_s": "augmentation: saturation jitter (fraction)",
    "hsv_v": "augmentation: brightness jitter (fraction)",
    "degrees": "augmentation: rotation range in degrees",
    "translate": "augmentation: shift as a fraction of the image",
    "scale": "augmentation: zoom range (gain +/- this)",
    "shear": "augmentation: shear in degrees",
    "flipud": "augmentation: probability of a vertical flip",
    "fliplr": "augmentation: probability of a horizontal flip",
    "mosaic": "augmentation: probability of a 4-image mosaic",
    "val_conf": "validation: confidence floor for mAP",
    "val_iou": "validation: NMS IoU",
    "val_interval": "validate every N epochs (and always at the end)",
    "freeze_epochs": "keep the backbone as loaded for the first N epochs (fine-tuning from weights)",
    "precise_bn_images": "re-estimate BatchNorm on this many images before each validation (0: off)",
    "kd_temperature": "distillation: how soft the teacher's hints are (higher: smoother)",
    "kd_feat_temperature": "distillation: temperature of the channel-wise feature term",
    "kd_direction": "distillation: forward: cover all the teacher sees; reverse: follow its surest answers",
    "kd_cls_norm": "distillation: class term summed over anchors or averaged",
    "kd_lambda_floor": "distillation: the teacher's say falls from full to this by the run's end",
    "d_cls": "distillation: how much the student copies the teacher's class scores",
    "d_dfl": "distillation: how much the student copies the teacher's box edges",
    "w_cwd": "distillation: how much the student copies the teacher's feature maps",
    "kd_feat": "distillation: also copy the teacher's feature maps",
    "teacher_bn": "teacher BatchNorm: eval (running stats) or batch",
    "ensemble_teachers": "distillation: more teachers (weights files, comma-separated) averaged with the teacher",
    "model_overrides": "network changes, e.g. {backbone: mlvt} (ablations)",
    "max_iters": "stop after this many iterations (smoke runs; 0: no limit)",
    "time_budget_s": "end within about this many seconds: the epochs are re-planned from the run's own times "
                     "after each validation (0: train the epochs given)",
}

# A row's name in the dialogs, in plain words (the setting's key stays in its tooltip); a setting
# without one is named by its key.
TRAIN_LABELS = {
    "model": "Network size", "epochs": "Epochs (passes over the images)", "imgsz": "Image size (px)",
    "batch": "Images per step", "device": "Train on",
    "kd_temperature": "Softness of the teacher's hints", "kd_direction": "How the student follows",
    "d_cls": "Copy the teacher's class scores", "d_dfl": "Copy the teacher's box edges",
    "w_cwd": "Copy the teacher's feature maps", "kd_feat": "Learn from its feature maps",
    "kd_lambda_floor": "Teacher's say at the end",
}

# What the dialogs show up front; every other setting sits behind "Advanced".
TRAIN_BASIC = ("model", "epochs", "imgsz", "batch", "device")
DISTILL_OPTIONS = ("kd_temperature", "kd_direction", "d_cls", "d_dfl", "w_cwd", "kd_feat", "kd_lambda_floor")
AUGMENT_KEYS = tuple(f.name for f in fields(AugmentConfig))
# What a student takes from its teacher's run unless told otherwise: a student at another image size
# or schedule than its teacher is a different experiment, not "a student of this teacher".
STUDENT_INHERITS = ("epochs", "imgsz", "batch", "close_mosaic", *AUGMENT_KEYS)
# Named augmentation strengths; "default" is AugmentConfig as it stands.
AUGMENT_PRESETS = {
    "default": {},
    "light": {"mosaic": 0.5, "scale": 0.25, "translate": 0.05, "hsv_s": 0.35, "hsv_v": 0.2},
    "strong": {"mosaic": 1.0, "scale": 0.7, "translate": 0.2, "degrees": 5.0, "flipud": 0.5, "hsv_v": 0.5},
    "none": {"mosaic": 0.0, "scale": 0.0, "translate": 0.0, "hsv_h": 0.0, "hsv_s": 0.0, "hsv_v": 0.0,
             "fliplr": 0.0, "flipud": 0.0, "degrees": 0.0, "shear": 0.0},
}


def augment_preset(name: str) -> dict:
    """Every augmentation setting of a named preset (unknown names raise ValueError)."""
    if name not in AUGMENT_PRESETS:
        raise ValueError(f"unknown augmentation preset '{name}' (choose from: {', '.join(AUGMENT_PRESETS)})")
    return {**asdict(AugmentConfig()), **AUGMENT_PRESETS[name]}


def check_ranges(obj, ranges: dict) -> None:
    """Raise ValueError naming the first setting outside its range (NaN is never in range)."""
    for k, (lo, hi, lo_inc, hi_inc) in ranges.items():
        v = getattr(obj, k)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{k} must be a number (got {v!r})")
        ok = not (isinstance(v, float) and math.isnan(v))
        if ok and lo is not None:
            ok = v >= lo if lo_inc else v > lo
        if ok and hi is not None:
            ok = v <= hi if hi_inc else v < hi
        if not ok:
            lo_s = "" if lo is None else f"{lo} {'<=' if lo_inc else '<'} "
            hi_s = "" if hi is None else f" {'<=' if hi_inc else '<'} {hi}"
            raise ValueError(f"{k} must be in the range {lo_s}{k}{hi_s} (got {v})")


# ----------------------------------------------------------------------------- val and predict
@dataclass
class ValConfig:
    batch: int = 16
    conf: float = VAL_CONF
    iou: float = NMS_IOU
    verdict_conf: float = PREDICT_CONF
    max_det: int = MAX_DET


# ------------------------------------------------------------------------------ inspect and app
@dataclass
class InspectConfig:
    demo_fps: float = 0.0               # headless inspect: the demo line as fast as possible
    queue_frames: int = 4               # folder/video frames read ahead of the model
    save_queue: int = 32                # images waiting to be written; beyond, images are not saved
    stall_s: float = 5.0                # a live stream silent this long (or 10 of its frame intervals) stalled
    # records the database cannot take wait in memory up to this many rows (about 1 KB each), then in
    # the spool file; when neither can keep them the station stops judging (core.inspect.records)
    records_memory_rows: int = 20000


# The GUI's persisted settings (core.settings.Settings); unknown keys in a file are dropped.
APP_DEFAULTS = {
    "source": "demo",
    "weights": "default",               # the bundled model (the demo model on the demo line)
    "device": "auto",
    "fastest_runtime": True,            # the live view runs a model's fastest checked runtime (core.export.fastest)
    "recipe": "default",
    "db": "",
    "save_ng": "",
    "save_all": False,
    "show_labels": True,
    "show_boxes": True,
    "demo_fps": 8.0,                    # the GUI's demo line runs at a watchable pace
    "view_hz": 10.0,
    "watch_folder": True,
    "recent_weights": [],
    "runs_dir": "",                     # training runs started from the GUI ("": <app folder>/runs)
    "label_shortcuts": {},              # labelling: action -> key, over app/label/shortcuts.py's defaults
    "label_last": "",                   # the dataset the labelling view had open
    "collect_dir": "",                  # frames collected from the live view ("": <app folder>/collected)
    "line": "",                         # this line's name in a shared records database
    "opcua": "",                        # the PLC handshake's endpoint, e.g. opc.tcp://0.0.0.0:4840 ("": off)
    "modbus": "",                       # the PLC handshake over Modbus TCP, e.g. 0.0.0.0:502 ("": off)
    "mqtt": "",                         # results to a broker, e.g. mqtt://broker:1883/line1/results ("": off)
    "opcua_security": "auto",           # auto: SecurityPolicy None and anonymous on loopback only; strict; open
    "modbus_allow": "",                 # PLC addresses a Modbus server answers, e.g. "10.1.2.5, 10.1.3.0/24"
    "kiosk_user": "",                   # an operator account logged in at start (a kiosk), "": ask
    "idle_lock_min": 15,                # the GUI locks after this many minutes without input (0: never)
    "retention": {},                    # image retention (core.security.retention.Policy), {}: keep all
}

