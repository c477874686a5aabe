"""Training settings that pick themselves from a dataset's own statistics and a time budget.

An engineer with a few hundred images says how long training may take ("about 30 min", "1 h",
"overnight"); this module reads the training split (images, boxes per class, box sizes against
image size), times a few training steps of the model on this machine, and chooses the image size,
epochs, batch, learning rate, warm-up, backbone freezing and augmentation strength, each with the
reason in one line. The training dialog shows them and any can be overridden; ``train --budget``
uses them for every setting the command line does not give.

The rules, and the leave-one-dataset-out runs that chose them, are in docs/training.md ("Settings
that pick themselves").
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import numpy as np

from core.config import MAX_IMGSZ, augment_preset

BUDGETS = {"30min": 1800, "1h": 3600, "overnight": 8 * 3600}   # the dialog's choices
MIN_BOX_PX = 8          # the finest output level has stride 8: a defect smaller than a cell is hard to see
IMGSZ_FLOOR, IMGSZ_CAP = 256, 640
MIN_EPOCHS, MAX_EPOCHS = 5, 300
GOOD_EPOCHS = 30        # a fine-tune of a few hundred images has settled by here: budget beyond buys pixels
ENOUGH_EPOCHS = 27      # 30 within the estimate's 10%: the recipe's size is not given up for its last 3 epochs
RECIPE_IMGSZ = 320      # the hand-set recipe's size: above it, resolved defects buy pixels only past 30 epochs
PAST_RECIPE_EPOCHS = 38 # ... after the estimate's spread (two timed steps varied by 25%): CrackForest (13 px at
                        # 320) bought 352 and 416 px on estimates of 29 and 27 epochs, got 26 and 21, and scored
                        # 0.351 and 0.343 mAP50 where 320 px for 30 scored 0.416 and 0.495 on the same time
PIXEL_EPOCHS = 13       # defects under 8 px buy pixels before epochs down to this many (BSData, 2.5 px at 320:
                        # 480 px for 13 epochs beat 320 px for 30 in about the same time)
TINY_SET = 50           # below this many training images: strong augmentation and a frozen start
VALIDATIONS = 6         # about this many per run pick the best epoch; the rest of the budget trains
SPEED_IMGSZ = 320       # timed at the size most runs pick: per image, a step at 256 px is slower than at 320
RUN_OVERHEAD = 1.08     # image loading, EMA, checkpoints and start-up over the timed steps (BSData: 707 s for 651)


def batch_for(n_train: int) -> int:
    """The batch for ``n_train`` images: the hand-set recipe's 16, or the whole set when smaller.

    On CrackForest's 94 images the self-picked runs scored 0.354 and 0.386 (two seeds) at batch 8
    and 0.437 and 0.544 at 16; why is not settled (with 100 warm-up steps, batch 8 leaves warm-up
    twice as early)."""
    return max(1, min(16, n_train))


def parse_budget(text: str) -> float:
    """``"30min"``, ``"1h"``, ``"overnight"``, ``"90s"``, ``"2.5h"`` -> seconds."""
    t = str(text).strip().lower().replace(" ", "")
    if t in BUDGETS:
        return float(BUDGETS[t])
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|min|h)", t)
    if not m:
        raise ValueError(f"a budget is 30min, 1h, overnight or a number with s, min or h (got '{text}')")
    v, unit = float(m.group(1)), m.group(2)
    secs = v * {"s": 1, "m": 60, "min": 60, "h": 3600}[unit]
    if secs < 60:
        raise ValueError(f"a budget of {text} is too short to train anything (at least 1 min)")
    return secs


@dataclass
class DatasetStats:
    n_train: int
    n_val: int
    n_boxes: int
    boxes_per_class: dict[str, int]
    median_long_side: int           # of the training images, pixels
    small_box: float                # 10th percentile of the box's short side over the image's long side

    @classmethod
    def of(cls, spec) -> "DatasetStats":
        from core.data.validate import validate

        train, _ = validate(spec, "train")
        val_split = "val" if "val" in spec.splits else "train"
        n_val = len(spec.splits.get(val_split, []))
        per_class = {n: 0 for n in spec.names}
        rel, long_sides = [], []
        for s in train:
            long_side = max(s.width, s.height)
            long_sides.append(long_side)
            for b, c in zip(s.boxes, s.classes):
                per_class[spec.names[int(c)]] += 1
                rel.append(min(b[2] - b[0], b[3] - b[1]) / long_side)
        return cls(len(train), n_val, len(rel), per_class, int(np.median(long_sides)) if long_sides else 0,
                   float(np.percentile(rel, 10)) if rel else 1.0)


@dataclass
class Speed:
    """Seconds per training image and per validation image, measured here at ``imgsz``."""
    imgsz: int
    train_s: float
    val_s: float

    def at(self, imgsz: int) -> "Speed":
        k = (imgsz / self.imgsz) ** 2         # cost grows with the pixels
        return self.scaled(k, imgsz)

    def scaled(self, k: float, imgsz: int | None = None) -> "Speed":
        return Speed(imgsz or self.imgsz, self.train_s * k, self.val_s * k)


def measure_speed(model: str | dict = "sdgasnet-n", imgsz: int = SPEED_IMGSZ, bf16: bool = False, batch: int = 16,
                  steps: int = 2) -> Speed:
    """Time ``steps`` training steps (forward, loss, backward, SGD) and forward passes on random
    images, after one warm-up of each: a few seconds that make the budget honest on this machine.
    Time them at the run's own batch: per image, batch 4 was 10% slower than the runs' 16, and the
    estimate then left 30 epochs at 320 px out of a budget they fitted (magnetic tile, issue 51).
    ``model``: an architecture's name, or the configuration of the weights the run starts from."""
    import torch

    from core.model import build_from_config, build_model
    from core.train.losses import DetectionLoss

    torch.manual_seed(0)
    m = (build_model(model, 2) if isinstance(model, str) else build_from_config({**model, "num_classes": 2})).train()
    opt = torch.optim.SGD(m.parameters(), lr=1e-4)
    crit = DetectionLoss(2, m.cfg.reg_max, m.cfg.strides)
    x = torch.rand(batch, 3, imgsz, imgsz)
    t = torch.tensor([[b, b % 2, 0.2 * imgsz, 0.2 * imgsz, 0.5 * imgsz, 0.45 * imgsz] for b in range(batch)])
    times = []
    for i in range(steps + 1):
        st = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = m(x)
        loss, _ = crit(out, t)
        loss.backward()
        opt.step()
        opt.zero_grad()
        if i:
            times.append(time.perf_counter() - st)
    m.eval()
    fwd = []
    with torch.no_grad():
        for i in range(steps + 1):
            st = time.perf_counter()
            m(x)
            if i:
                fwd.append(time.perf_counter() - st)
    return Speed(imgsz, float(np.median(times)) / batch, float(np.median(fwd)) / batch)


@dataclass
class Suggestion:
    settings: dict                                  # TrainConfig keys -> values
    reasons: dict = field(default_factory=dict)     # key -> why, in a sentence
    epoch_s: float = 0.0                            # the estimated time of one epoch, validation included
    stats: DatasetStats | None = None

    def text(self) -> str:
        return "\n".join(f"{k} = {self.settings[k]}: {self.reasons[k]}" for k in self.settings if k in self.reasons)


def _round32(v: float) -> int:
    return int(math.ceil(v / 32) * 32)


def suggest(stats: DatasetStats, budget_s: float, speed: Speed, from_weights: bool, bf16: bool = False,
            precise_bn_images: int = 256) -> Suggestion:
    """The settings for ``stats`` within ``budget_s`` at ``speed`` (measured at any size).

    The hand-set recipe that scored best on the held-out DeepPCB set (30 epochs at 320 px, lr0 0.02,
    no frozen layers, the default augmentation) is the model: the budget first buys the size at which
    the smallest tenth of the defects is 8 px, down to ``PIXEL_EPOCHS`` epochs; then about
    ``GOOD_EPOCHS`` epochs (``ENOUGH_EPOCHS`` or more at the recipe's 320 px and below,
    ``PAST_RECIPE_EPOCHS`` by the estimate above it); then pixels up to the images' own size (640 at
    most); then epochs (docs/experiments/2026-12-06-heldout-deeppcb.md, 2026-12-07-pixels-or-epochs.md,
    2026-12-07-a-budget-that-holds.md)."""
    s, why = {}, {}
    # the size the small defects need (the 10th percentile at 8 px), not above the images' own size
    need = MIN_BOX_PX / max(stats.small_box, 1e-6)
    top = min(max(_round32(max(stats.median_long_side, 32)), IMGSZ_FLOOR), IMGSZ_CAP, MAX_IMGSZ)
    first = min(max(_round32(need), IMGSZ_FLOOR), top)
    s["batch"] = batch_for(stats.n_train)

    def plan(size: int) -> tuple[int, int, float]:
        """epochs, validation interval, seconds an epoch (its share of validation included)."""
        sp = speed.at(size).scaled(RUN_OVERHEAD)
        bn = min(precise_bn_images, stats.n_train)
        train = stats.n_train * sp.train_s
        # each validation scores the EMA twice (its own and recomputed BatchNorm statistics)
        val = (2 * stats.n_val + bn) * sp.val_s
        interval = max(1, round(max(1.0, (budget_s - VALIDATIONS * val) / train) / VALIDATIONS))
        per_epoch = train + val / interval
        return int(min(MAX_EPOCHS, max(MIN_EPOCHS, budget_s // per_epoch))), interval, per_epoch

    def enough(size: int) -> int:
        """The epochs a size must leave: the small defects' 8 px come before epochs; the recipe's size
        is kept within the estimate's error; a larger one must leave 30 beyond it."""
        return PIXEL_EPOCHS if size <= first else ENOUGH_EPOCHS if size <= RECIPE_IMGSZ else PAST_RECIPE_EPOCHS

    imgsz = top
    while imgsz > IMGSZ_FLOOR and plan(imgsz)[0] < enough(imgsz):
        imgsz -= 32
    s["imgsz"] = imgsz
    px = stats.small_box * imgsz
    own = (" (the images' own size)" if top >= _round32(max(stats.median_long_side, 32)) else
           f" (the largest size, {top})") if imgsz >= top else ""
    pixels_first = (f": for defects this small pixels come before epochs ({PIXEL_EPOCHS} or more, not "
                    f"{ENOUGH_EPOCHS})" if plan(imgsz)[0] < ENOUGH_EPOCHS else "")
    if px < MIN_BOX_PX and imgsz < first:
        why["imgsz"] = (f"{first} px would give the smallest defects (10th percentile) {MIN_BOX_PX} px but leave fewer "
                        f"than {PIXEL_EPOCHS} epochs in the budget; at {imgsz} they are {px:.0f} px: a longer budget "
                        "gives them more")
    elif px < MIN_BOX_PX:
        why["imgsz"] = (f"the smallest defects (10th percentile) are only {px:.0f} px even at {imgsz}{own}"
                        f"{pixels_first}; consider tiling (--tile) at inspection")
    elif pixels_first and imgsz <= first:
        why["imgsz"] = (f"the smallest defects (10th percentile) are {px:.0f} px at this size{own} and under "
                        f"{MIN_BOX_PX} px below it{pixels_first}")
    else:
        why["imgsz"] = (f"the smallest defects (10th percentile) are {px:.0f} px at this size, and the budget affords "
                        f"{enough(imgsz)}+ epochs at it" + (own or (f" and not {enough(imgsz + 32)}+ at the next size up"
                                                                     if imgsz > IMGSZ_FLOOR else "")))
    why["batch"] = ("the hand-set recipe's batch" if s["batch"] == 16 else
                    f"all {stats.n_train} training images in one batch")
    epochs, interval, et = plan(imgsz)
    s["epochs"] = epochs
    why["epochs"] = (f"about {et:.0f} s an epoch here (validation included) fits {budget_s / 60:.0f} min"
                     + (" (at least 5)" if epochs == MIN_EPOCHS and budget_s // et < MIN_EPOCHS else ""))
    s["time_budget_s"] = float(budget_s)
    why["time_budget_s"] = ("the run ends within the budget: after each validation its epochs are re-planned from "
                            "its own times (this estimate timed two steps)")
    s["val_interval"] = interval
    why["val_interval"] = (f"about {math.ceil(epochs / interval)} validations pick the best epoch; the rest of the "
                           "budget trains" if interval > 1 else "a short run: every epoch is validated")
    s["lr0"] = 0.02
    why["lr0"] = ("the hand-set recipe's rate, which scored best from weights on the held-out set" if from_weights
                  else "training from scratch")
    iters = math.ceil(stats.n_train / s["batch"])
    s["warmup_epochs"], s["warmup_min_iters"] = 3.0, 100
    warm = max(s["warmup_epochs"] * iters, s["warmup_min_iters"])
    why["warmup_epochs"] = why["warmup_min_iters"] = (f"warm-up of {warm:.0f} steps, {warm / iters:.0f} of {epochs} "
                                                      "epochs")
    tiny = stats.n_train < TINY_SET
    s["freeze_epochs"] = int(min(10, max(1, round(0.1 * epochs)))) if from_weights and tiny else 0
    why["freeze_epochs"] = ("the head learns the new classes before the loaded features move, on so few images"
                            if s["freeze_epochs"] else "from scratch: nothing to keep" if not from_weights else
                            f"{stats.n_train} images: the loaded features train from the start, as in the hand-set recipe")
    preset = "strong" if tiny else "default"
    for k, v in augment_preset(preset).items():
        s[k] = v
        why[k] = (f"'{preset}' augmentation for {stats.n_train} training images"
                  + ("" if tiny else " ('strong' lost 0.03 mAP50 on 200 held-out images)"))
    s["close_mosaic"] = int(min(15, max(1, epochs // 2)))
    why["close_mosaic"] = f"the last {s['close_mosaic']} epochs see whole, unmixed images"
    s["cpu_bf16"] = bool(bf16)
    why["cpu_bf16"] = ("this CPU computes bf16 natively: 1.7x faster steps at fp32's accuracy" if bf16
                       else "this CPU has no native bf16: fp32")
    return Suggestion(s, why, et, stats)


def suggest_for(data: str, budget: str | float, from_weights: bool, model: str | dict = "sdgasnet-n") -> Suggestion:
    """``suggest`` for a dataset path and a budget, measuring this machine's speed first with the
    run's own architecture (``model``: a name, or the configuration of the weights it starts from)."""
    from core.data.catalog import open_dataset
    from core.util.device import cpu_has_bf16

    budget_s = budget if isinstance(budget, (int, float)) else parse_budget(budget)
    stats = DatasetStats.of(open_dataset(data))
    if stats.n_train == 0:
        raise ValueError(f"{data}: no usable training images")
    bf16 = cpu_has_bf16()
    return suggest(stats, budget_s, measure_speed(model, bf16=bf16, batch=batch_for(stats.n_train)), from_weights,
                   bf16)
