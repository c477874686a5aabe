"""The training engine shared by the teacher run (``train``) and the self-distillation run
(``distill``): SGD with Nesterov, warm-up, cosine schedule, EMA, per-epoch validation, best/last
checkpoints, exact resume, clean stop on SIGTERM/Ctrl-C, DistributedDataParallel under torchrun.
"""
from __future__ import annotations

import copy
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.utils.data import DataLoader

from core.config import GRAD_CLIP_NORM, LR_REFERENCE_BATCH, TrainConfig
from core.data.catalog import open_dataset
from core.data.dataset import DetectionDataset, collate, quiet_worker
from core.data.preprocess import Preprocess
from core.data.validate import validate
from core.eval.validator import run_validation
from core.model import build_from_config, build_model, count_params
from core.model.checkpoint import load_checkpoint, load_model, save_checkpoint
from core.util.device import cpu_has_bf16, select_device
from core.util.io import atomic_write_text, to_plain

from .auto_settings import MAX_EPOCHS
from .budget import EpochBudget
from .callbacks import default_callbacks
from .ema import ModelEMA, unwrap
from .freeze import freeze_backbone
from .losses import DetectionLoss, distill_weight
from .optim import build_optimizer
from .portable import is_portable
from .precise_bn import calibrated_copy
from .run_state import StopFlag, rng_state, set_rng_state
from .runs import ARGS_FILE
from .sampler import EpochDataset, EpochSampler
from .teacher import load_teacher, start_from


_LOSS_TERMS = ("cls", "iou", "dfl", "kd_cls", "kd_dfl", "kd_feat")
# An epoch's end writes last.pt (four copies of the model, ~80 MB) at most this often, besides the
# first epoch, each validation, the last epoch and a stop: a crash loses at most this much work, and
# runs of second-long epochs (tiny sets, the tests) no longer spend half their time writing it.
LAST_PT_EVERY_S = 30.0


def mosaic_off_epoch(epochs: int, close_mosaic: int) -> int:
    """First epoch (0-based) trained without mosaic: the last ``close_mosaic`` epochs, at most half
    the run: short runs need their mosaic-free epochs (docs/experiments/2026-11-27-mosaic-free-epochs.md)."""
    return epochs - min(max(close_mosaic, 0), epochs // 2)


def _terms_text(sums: dict, count: int, keys=None) -> str:
    """Running means of the logged loss terms as "name value ..." (n_pos left out)."""
    return " ".join(f"{k} {v / max(count, 1):.3f}" for k, v in sums.items()
                    if k != "n_pos" and (keys is None or k in keys))


class Trainer:
    """One run: a teacher (``cfg.teacher`` unset) or a student distilled from ``cfg.teacher``."""

    clock = staticmethod(time.monotonic)    # durations: epochs, and a time budget's seconds

    def __init__(self, cfg: TrainConfig, callbacks: list | None = None):
        self.cfg = cfg.validate()
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        self.main = self.rank == 0
        self.callbacks = default_callbacks() if callbacks is None else list(callbacks)
        self.stop = StopFlag()

    def _emit(self, event: str, **data):
        """Progress leaves the trainer only here: every callback sees every event (main rank only)."""
        if not self.main:
            return
        for cb in self.callbacks:
            cb(self, event, data)

    def log(self, message: str):
        self._emit("log", message=message)

    # ---------------------------------------------------------------------------------- set-up
    def _run_dir(self) -> Path:
        if not self.cfg.out:
            from .runs import next_run_dir

            self.cfg.out = str(next_run_dir("runs", "student" if self.cfg.teacher else "teacher"))
        out = Path(self.cfg.out)
        if self.cfg.resume:
            if not (out / "weights" / "last.pt").is_file():
                raise FileNotFoundError(f"{out}/weights/last.pt: nothing to resume")
            return out
        if (out / "weights" / "last.pt").exists():
            raise FileExistsError(f"{out} already holds a run; use --resume to continue it or choose another --out")
        return out

    def _setup_ddp(self):
        if self.world > 1 and not dist.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            if self.device.type == "cuda":
                torch.cuda.set_device(self.local_rank)
            dist.init_process_group(backend)

    def _barrier(self):
        if self.world > 1 and dist.is_initialized():
            dist.barrier()

    # -------------------------------------------------------------------------------------- run
    def run(self) -> dict:
        cfg = self.cfg
        self.device = select_device(cfg.device)
        if self.world > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", self.local_rank)
        self._setup_ddp()
        self.stop.install()
        try:
            return self._run()
        except KeyboardInterrupt:
            if not hasattr(self, "ema"):
                raise
            self.log("abandoned the current step")
            self._save_last(abandoned=True)
            self._emit("end", epoch=self.epoch, status="stopped")
            return {"status": "stopped", "run_dir": str(self.run_dir)}
        except Exception as e:
            self._emit("error", epoch=getattr(self, "epoch", 0), message=str(e))
            raise
        finally:
            self.stop.restore()
            if self.world > 1 and dist.is_initialized():
                dist.destroy_process_group()

    def _run(self) -> dict:
        cfg = self.cfg
        self._t_origin = self.clock()      # the budget's clock: this sitting's start, less the earlier ones'
        self.run_dir = self._run_dir()
        resume_ckpt = None
        if cfg.resume:
            resume_ckpt = load_checkpoint(self.run_dir / "weights" / "last.pt")
            stored = dict(resume_ckpt.get("train_args", {}))
            stored.update(resume=True, device=cfg.device, workers=cfg.workers, events=cfg.events or stored.get("events"),
                          max_iters=cfg.max_iters)
            self.cfg = cfg = TrainConfig.from_saved(stored)
            if resume_ckpt.get("finished"):
                self.log(f"{self.run_dir}: the run already finished ({cfg.epochs} epochs)")
                return {"status": "finished", "run_dir": str(self.run_dir), **resume_ckpt.get("metrics", {})}
        if self.main:
            (self.run_dir / "weights").mkdir(parents=True, exist_ok=True)
            if cfg.events is None:
                cfg.events = str(self.run_dir / "events.jsonl")
            atomic_write_text(self.run_dir / ARGS_FILE, yaml.safe_dump(to_plain(cfg.to_dict()), sort_keys=False))
        torch.manual_seed(cfg.seed + self.rank)
        np.random.seed(cfg.seed + self.rank)
        random.seed(cfg.seed + self.rank)

        # data: validated before anything else, the reports printed
        spec = open_dataset(cfg.data)
        self.names = spec.names
        if not self.names:
            raise ValueError(f"{cfg.data}: the dataset defines no classes")
        train_samples, train_report = validate(spec, "train")
        val_samples, val_report = validate(spec, "val" if "val" in spec.splits else "train")
        self.log(train_report.summary())
        self.log(val_report.summary())
        if not train_samples:
            raise ValueError(f"{cfg.data}: no usable training images")
        self.val_samples = val_samples
        aug = cfg.augment()
        cache = {"auto": "auto", "ram": True, "none": False}[cfg.cache]
        self.preprocess = Preprocess(cfg.imgsz)
        self.train_ds = DetectionDataset(train_samples, cfg.imgsz, augment=True, aug=aug, cache=cache, seed=cfg.seed,
                                         preprocess=self.preprocess)
        self.val_ds = DetectionDataset(val_samples, cfg.imgsz, augment=False, cache=cache, preprocess=self.preprocess)
        t = time.time()
        self.train_ds.fill_cache()
        if self.main:
            self.val_ds.fill_cache()
        self.log(f"images cached in {time.time() - t:.1f}s")

        # model, teacher, loss, optimiser, EMA
        nc = len(self.names)
        self.teacher = None
        if cfg.teacher:
            self.teacher, tck = load_teacher(cfg.teacher, self.names, cfg.ensemble_teachers, cfg.teacher_bn, self.device)
            # the student has the teacher's architecture; from scratch, or from ``cfg.weights``
            model = build_from_config(tck["model_config"])
            if cfg.weights:
                start = start_from(cfg.weights, self.names, self.log)
                if start.cfg != model.cfg:
                    raise ValueError(f"{cfg.weights}: a {start.cfg.name} model, not the teacher's architecture"
                                     f" ({model.cfg.name} as configured in {cfg.teacher})")
                model = start
            model = model.to(self.device)
            also = f" averaged with {', '.join(cfg.ensemble_teachers)}" if cfg.ensemble_teachers else ""
            self.log(f"teacher: {cfg.teacher}{also} (frozen, BatchNorm {cfg.teacher_bn})")
        elif cfg.weights:  # on resume too: its architecture (the restore then loads the run's own weights)
            model = start_from(cfg.weights, self.names, self.log).to(self.device)
        else:
            model = build_model(cfg.model, nc, **(cfg.model_overrides or {})).to(self.device)
        cfg.model = model.cfg.name
        self.channels_last = cfg.channels_last and self.device.type == "cpu"
        if self.channels_last:  # before the optimizer and the EMA copy are made from the parameters
            model.to_channels_last_()
            if self.teacher is not None:
                self.teacher.to_channels_last_()
        self.criterion = DetectionLoss(nc, model.cfg.reg_max, model.cfg.strides, cfg.loss_config())
        B = cfg.batch
        self.accumulate = max(1, round(cfg.nominal_batch / (B * self.world)))
        wd = cfg.weight_decay * B * self.world * self.accumulate / cfg.nominal_batch
        lr0 = cfg.lr0 * B / LR_REFERENCE_BATCH
        self.optimizer = build_optimizer(model, lr0, cfg.momentum, wd, kind=cfg.optimizer)
        for g in self.optimizer.param_groups:
            g["initial_lr"] = lr0
        self.ema = ModelEMA(model, cfg.ema_decay, cfg.ema_tau)
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp and self.device.type == "cuda")
        # mixed precision: fp16 + loss scaling on CUDA; bf16 on CPUs with native bf16 (AVX512-BF16 /
        # AMX) only when asked (cpu_bf16): ~1.8x faster steps (benchmarks/train_step.py), lower mAP
        if self.device.type == "cuda":
            self.amp_dtype = torch.float16 if cfg.amp else None
        else:
            self.amp_dtype = torch.bfloat16 if cfg.cpu_bf16 and cpu_has_bf16() else None
            if cfg.cpu_bf16 and self.amp_dtype is None:   # emulated bf16 is several times slower than fp32
                self.log("cpu_bf16 was asked, but this CPU has no native bf16 (AVX512-BF16 or AMX): training in fp32")
        self.model = model
        if self.world > 1:
            self.model = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[self.local_rank] if self.device.type == "cuda" else None)

        self.start_epoch, self.start_iter, self.global_iter, self.best_fitness = 0, 0, 0, -1.0
        self.history: list[dict] = []
        if resume_ckpt is not None:
            self._restore(resume_ckpt)
        self.epoch = self.start_epoch
        self.log(f"{cfg.model}: {count_params(model) / 1e6:.2f} M params, {nc} classes, imgsz {cfg.imgsz}, batch {B}"
                 f" x {self.world} process(es), accumulate {self.accumulate}, device {self.device}"
                 f"{' (' + str(self.amp_dtype).replace('torch.', '') + ' autocast)' if self.amp_dtype else ''}"
                 f"{', channels-last' if self.channels_last else ''}, "
                 f"run folder {self.run_dir}")
        calib = min(cfg.precise_bn_images, len(train_samples))   # each validation: EMA, then recomputed BN
        val_images = len(val_samples) * (2 if calib else 1) + calib
        self._emit("start", epoch=self.start_epoch, run_dir=str(self.run_dir), model=cfg.model, pid=os.getpid(),
                    precision=str(self.amp_dtype or torch.float32).replace("torch.", ""),
                    distill=bool(cfg.teacher), epochs=cfg.epochs, n_train=len(train_samples), n_val=len(val_samples),
                    problems=len(train_report.problems) + len(val_report.problems), val_interval=cfg.val_interval,
                    val_images=val_images)
        self.budget = None
        if cfg.time_budget_s:   # the final validation is one pass over val; an epoch's runs val_images images
            self.budget = EpochBudget(cfg.time_budget_s, cfg.val_interval, len(val_samples) / max(1, val_images))
            self.log(f"time budget {cfg.time_budget_s / 60:.0f} min ({self._spent():.0f} s of it gone): the epochs "
                     "are re-planned from this run's own times after each validation")
        return self._loop()

    def _spent(self) -> float:
        """Seconds of the run so far, over all its sittings."""
        return self.clock() - self._t_origin

    def _restore(self, ck: dict):
        if is_portable(ck):  # core.train.portable: the EMA stands for the raw weights; momentum restarts
            unwrap(self.model).load_state_dict(ck["model"])
            self.ema.ema.load_state_dict(ck["model"])
            self.log("resuming from a portable point: raw weights from the EMA, the optimizer's momentum from zero,"
                     " best.pt from this machine on")
        else:
            unwrap(self.model).load_state_dict(ck["raw_model"])
            self.ema.ema.load_state_dict(ck.get("ema", ck["model"]))
            self.optimizer.load_state_dict(ck["optimizer"])
        self.ema.updates = int(ck["ema_updates"])
        if "scaler" in ck and ck["scaler"]:
            self.scaler.load_state_dict(ck["scaler"])
        self.start_epoch = int(ck["epoch"])
        self.start_iter = int(ck.get("iter_in_epoch", 0))
        self.global_iter = int(ck["global_iter"])
        self.best_fitness = -1.0 if is_portable(ck) else float(ck.get("best_fitness", -1.0))
        self._t_origin -= float(ck.get("spent_s", 0.0))
        self.history = list(ck.get("history", []))
        if "rng" in ck:
            set_rng_state(ck["rng"])
        self.log(f"resuming {self.run_dir} at epoch {self.start_epoch + 1}, batch {self.start_iter}")

    def _loader(self, sampler) -> DataLoader:
        workers = min(self.cfg.workers, os.cpu_count() or 1)
        return DataLoader(EpochDataset(self.train_ds), batch_size=self.cfg.batch, sampler=sampler,
                          num_workers=workers, collate_fn=collate, pin_memory=self.device.type == "cuda",
                          drop_last=False, worker_init_fn=quiet_worker)

    def _lf(self, epoch: int) -> float:
        return ((1 - math.cos(math.pi * epoch / self.cfg.epochs)) / 2) * (self.cfg.lrf - 1) + 1

    def _loop(self) -> dict:
        cfg = self.cfg
        sampler = EpochSampler(len(self.train_ds), cfg.seed, True, self.rank, self.world)
        nb = math.ceil(len(sampler) / cfg.batch)
        n_warm = max(round(cfg.warmup_epochs * nb), cfg.warmup_min_iters)
        last_opt_iter = self.global_iter
        t_run = time.time()
        n_images = 0
        epoch = self.start_epoch
        while epoch < cfg.epochs:          # a time budget may re-plan the epochs (core.train.budget)
            self.epoch = epoch
            close_at = mosaic_off_epoch(cfg.epochs, cfg.close_mosaic)
            if epoch >= close_at and self.train_ds.mosaic_enabled:
                self.train_ds.close_mosaic()
                self.log(f"mosaic closed for the last {cfg.epochs - epoch} epochs")
            start = self.start_iter if epoch == self.start_epoch else 0
            t_wall = self.clock() if start == 0 else None     # a resumed part of an epoch times nothing
            sampler.set_epoch(epoch, start * cfg.batch)
            loader = self._loader(sampler)
            self.model.train()
            if cfg.freeze_epochs:
                freeze_backbone(self.model, epoch < cfg.freeze_epochs)
                if epoch == self.start_epoch and epoch < cfg.freeze_epochs:
                    self.log(f"backbone kept as loaded through epoch {cfg.freeze_epochs}")
                elif epoch == cfg.freeze_epochs:
                    self.log("backbone released: every layer trains from here")
            lam = distill_weight(epoch, cfg.epochs, cfg.kd_lambda_floor) if self.teacher is not None else 0.0
            for g in self.optimizer.param_groups:
                g["lr"] = g["initial_lr"] * self._lf(epoch)
            sums: dict[str, float] = {}
            count = 0
            self._emit("epoch_start", epoch=epoch, epochs=cfg.epochs, batches=nb, start=start)
            self.iter_in_epoch = start
            self._last_step_iter_in_epoch = start
            t_epoch = self.clock()
            for imgs, targets, _ in loader:
                ni = self.global_iter
                if ni <= n_warm:  # warm-up: lr, momentum and accumulation ramp per iteration
                    self.accumulate_now = max(1, round(np.interp(ni, [0, n_warm], [1, self.accumulate])))
                    adam = cfg.optimizer == "adamw"
                    for g in self.optimizer.param_groups:
                        lo = cfg.warmup_bias_lr if g.get("name") == "bias" and not adam else 0.0
                        g["lr"] = float(np.interp(ni, [0, n_warm], [lo, g["initial_lr"] * self._lf(epoch)]))
                        m = float(np.interp(ni, [0, n_warm], [cfg.warmup_momentum, cfg.momentum]))
                        if adam:
                            g["betas"] = (m, g["betas"][1])
                        else:
                            g["momentum"] = m
                else:
                    self.accumulate_now = self.accumulate
                x = self.preprocess.to_input(imgs, self.device)
                with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                                    enabled=self.amp_dtype is not None):
                    out = self.model(x)
                    t_out = None
                    if self.teacher is not None:
                        with torch.no_grad():
                            t_out = self.teacher(x, raw=True)
                loss, terms = self.criterion(out, targets, t_out, lam)
                if not math.isfinite(loss.item()):
                    raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch + 1}, iteration {ni}; "
                                             "lower --lr0 or check the labels")
                # DDP averages gradients over ranks: x world keeps the sum semantics of accumulation
                scale = self.world * (len(imgs) if cfg.loss_scale == "batch" else 1)
                self.scaler.scale(loss * scale).backward()
                self.global_iter += 1
                self.iter_in_epoch += 1
                n_images += len(imgs)
                count += 1
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                if self.global_iter - last_opt_iter >= self.accumulate_now or self.iter_in_epoch >= nb:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), GRAD_CLIP_NORM)
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                    self.optimizer.zero_grad(set_to_none=True)
                    self.ema.update(self.model)
                    last_opt_iter = self.global_iter
                    self._last_step_iter_in_epoch = self.iter_in_epoch
                    if self._should_stop():
                        self._emit("train_end", done=self.iter_in_epoch, text=_terms_text(sums, count), stopped=True)
                        self._save_last()
                        self._emit("end", epoch=epoch, status="stopped", iteration=self.global_iter)
                        self.log(f"stopped at epoch {epoch + 1}, batch {self.iter_in_epoch}; "
                                 f"continue with --resume --out {self.run_dir}")
                        return {"status": "stopped", "run_dir": str(self.run_dir)}
                self._emit("batch", done=self.iter_in_epoch, text=_terms_text(sums, count, _LOSS_TERMS),
                           terms={k: sums[k] / count for k in _LOSS_TERMS if k in sums}, images=len(imgs))
            means = {k: v / max(count, 1) for k, v in sums.items()}
            train_time = self.clock() - t_epoch
            self._emit("train_end", done=self.iter_in_epoch, text=_terms_text(sums, count), stopped=False)
            self.start_iter = 0
            self.iter_in_epoch = 0
            self._last_step_iter_in_epoch = 0
            self._end_epoch(epoch, means, lam, train_time, t_wall)
            epoch += 1
        return self._finish(time.time() - t_run, n_images)

    def _should_stop(self) -> bool:
        stop = self.stop.requested or (self.cfg.max_iters and self.global_iter >= self.cfg.max_iters)
        if self.world > 1:
            t = torch.tensor([1.0 if stop else 0.0], device=self.device)
            dist.all_reduce(t)
            stop = t.item() > 0
        return bool(stop)

    def _best_statistics(self):
        """Score the EMA with its own BatchNorm statistics and with recomputed ones; keep the better.

        Recomputed statistics win early and on tiny sets, where the running ones lag the weights; on
        long NEU-DET runs the EMA's own score higher (training.md). Returns (model, result, "ema"|"precise", a note for the log line)."""
        ema = copy.deepcopy(self.ema.ema).eval()
        res = self._validate(ema)
        if min(self.cfg.precise_bn_images, len(self.train_ds)) <= 0:
            return ema, res, "ema", ""
        cal = calibrated_copy(self.ema.ema, self.train_ds, self.cfg.precise_bn_images, self.cfg.batch, self.cfg.seed,
                              self.preprocess, self.device)
        res_cal = self._validate(cal)
        note = (f"; EMA statistics {res.map50:.4f} / {res.map50_95:.4f}, "
                f"recomputed {res_cal.map50:.4f} / {res_cal.map50_95:.4f}")
        if res.map50_95 >= res_cal.map50_95:
            return ema, res, "ema", note
        return cal, res_cal, "precise", note

    def _validate(self, model):
        # a fused copy: the RepVGG branches folded as inference runs them (val and the live view
        # score the same network), about twice as fast as the training form
        fused = copy.deepcopy(model).fuse()
        res, _ = run_validation(fused, self.val_samples, self.names, self.cfg.imgsz, batch=self.cfg.batch * 2,
                                device=self.device, conf=self.cfg.val_conf, iou=self.cfg.val_iou, dataset=self.val_ds)
        return res

    def _end_epoch(self, epoch: int, means: dict, lam: float, train_time: float, t_wall: float | None):
        cfg = self.cfg
        if self.budget and self.main and epoch < cfg.epochs - 1 and self.budget.spent(self._spent()):
            cfg.epochs = epoch + 1
            self.log(f"the time budget is spent: epoch {epoch + 1} is the last")
        last_epoch = epoch == cfg.epochs - 1
        metrics = {}
        if self.main and ((epoch + 1) % cfg.val_interval == 0 or last_epoch):
            t = time.time()
            self.eval_model, res, bn, note = self._best_statistics()
            metrics = {"precision": res.precision, "recall": res.recall, "map50": res.map50, "map50_95": res.map50_95,
                       "bn": bn}
            self.log(f"  val: P {res.precision:.3f} R {res.recall:.3f} mAP50 {res.map50:.4f} "
                     f"mAP50-95 {res.map50_95:.4f} ({time.time() - t:.1f}s{note})")
            self._emit("val", epoch=epoch + 1, **metrics)
        if self.budget and self.main:
            if t_wall is not None:
                self.budget.record(self.clock() - t_wall, train_time, bool(metrics))
            if metrics:        # at the planned last epoch too: time left buys more epochs
                self._replan(epoch)
        last_epoch = epoch == cfg.epochs - 1
        row = {"epoch": epoch + 1, "train/box_loss": means.get("iou", 0.0), "train/cls_loss": means.get("cls", 0.0),
               "train/dfl_loss": means.get("dfl", 0.0)}
        if self.teacher is not None:
            row.update({"train/kd_cls": means.get("kd_cls", 0.0), "train/kd_dfl": means.get("kd_dfl", 0.0),
                        "train/kd_feat": means.get("kd_feat", 0.0), "distill/lambda": lam})
        row.update({"metrics/precision(B)": metrics.get("precision", ""), "metrics/recall(B)": metrics.get("recall", ""),
                    "metrics/mAP50(B)": metrics.get("map50", ""), "metrics/mAP50-95(B)": metrics.get("map50_95", "")})
        for i, g in enumerate(self.optimizer.param_groups):
            row[f"lr/pg{i}"] = g["lr"]
        row["time/train_s"] = round(train_time, 2)
        row["images_per_s"] = round(len(self.train_ds) / max(train_time, 1e-9), 2)
        self.history.append(row)
        if not self.main:
            self._barrier()
            self._share_epochs()
            return
        self._emit("epoch", epoch=epoch + 1, epochs=cfg.epochs, lr=self.optimizer.param_groups[0]["lr"],
                   kd_lambda=lam if self.teacher is not None else None, images_per_s=row["images_per_s"], **means)
        fitness = metrics.get("map50_95", -1.0) if metrics else -1.0
        finished = last_epoch
        self.epoch = epoch + 1
        due = time.time() - getattr(self, "_last_pt_at", float("-inf")) >= LAST_PT_EVERY_S
        if finished or metrics or due:
            self._save_last(finished=finished, metrics=metrics)
        if metrics and fitness > self.best_fitness:
            self.best_fitness = fitness
            self._save(self.run_dir / "weights" / "best.pt", metrics, epoch + 1)
            self._emit("checkpoint", epoch=epoch + 1, path=str(self.run_dir / "weights" / "best.pt"), best=True,
                        **metrics)
        self._barrier()
        self._share_epochs()

    def _replan(self, epoch: int):
        """After a validation: the epochs that fit what is left of the time budget (``core.train.budget``)."""
        spent = self._spent()
        epochs = self.budget.plan(epoch + 1, spent, MAX_EPOCHS)
        if epochs is None or epochs == self.cfg.epochs:
            return
        ep_s, val_s = self.budget.times()
        was, self.cfg.epochs = self.cfg.epochs, epochs
        self.log(f"time budget: {epochs} epochs, not {was} ({ep_s:.0f} s an epoch, {val_s:.0f} s a validation here;"
                 f" {max(0.0, self.cfg.time_budget_s - spent) / 60:.1f} min left)")
        self._emit("plan", epoch=epoch + 1, epochs=epochs, was=was, epoch_s=round(ep_s, 1), val_s=round(val_s, 1),
                   left_s=round(self.cfg.time_budget_s - spent, 1))

    def _share_epochs(self):
        """Every rank trains the epochs the main rank planned."""
        if self.world > 1 and self.cfg.time_budget_s and dist.is_initialized():
            t = torch.tensor([self.cfg.epochs], device=self.device)
            dist.broadcast(t, 0)
            self.cfg.epochs = int(t.item())

    def _meta(self, metrics: dict, epoch: int) -> dict:
        m = unwrap(self.model)
        return {"names": list(self.names), "imgsz": self.cfg.imgsz, "model_config": m.cfg.to_dict(),
                "train_args": to_plain(self.cfg.to_dict()), "metrics": to_plain(metrics), "epoch": epoch,
                "kind": "student" if self.teacher is not None else "teacher", "created": time.time(),
                "preprocess": self.preprocess.to_dict()}

    def _inference_state(self) -> dict:
        """Weights for inference: the better-scoring BatchNorm statistics of the last validation, else the EMA."""
        m = getattr(self, "eval_model", None) or self.ema.ema
        return m.state_dict()

    def _save(self, path: Path, metrics: dict, epoch: int):
        save_checkpoint(path, self._inference_state(), self._meta(metrics, epoch))

    def _save_last(self, finished: bool = False, metrics: dict | None = None, abandoned: bool = False):
        if not self.main or not hasattr(self, "ema"):
            return
        iter_in_epoch = self._last_step_iter_in_epoch if abandoned else getattr(self, "iter_in_epoch", 0)
        if abandoned:  # gradients of the abandoned step are dropped; replay from the last optimizer step
            self.global_iter -= getattr(self, "iter_in_epoch", 0) - iter_in_epoch
        extra = {"raw_model": {k: v.detach().cpu() for k, v in unwrap(self.model).state_dict().items()},
                 "ema": {k: v.detach().cpu() for k, v in self.ema.ema.state_dict().items()},
                 "optimizer": self.optimizer.state_dict(), "ema_updates": self.ema.updates,
                 "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
                 "iter_in_epoch": iter_in_epoch, "global_iter": self.global_iter, "best_fitness": self.best_fitness,
                 "history": to_plain(self.history), "rng": rng_state(), "finished": finished,
                 "spent_s": self._spent()}
        epoch = self.epoch
        self._last_pt_at = time.time()
        save_checkpoint(self.run_dir / "weights" / "last.pt", self._inference_state(),
                        self._meta(metrics or {}, epoch), extra)
        self._emit("checkpoint", epoch=epoch, path=str(self.run_dir / "weights" / "last.pt"), best=False)

    def _finish(self, wall: float, n_images: int) -> dict:
        cfg = self.cfg
        result = {"status": "finished", "run_dir": str(self.run_dir)}
        if self.main:
            best = self.run_dir / "weights" / "best.pt"
            model = load_model(best)[0].to(self.device) if best.exists() else self.ema.ema
            res = self._validate(model)
            self._emit("final_val", result=res, run_dir=self.run_dir)
            result.update(map50=res.map50, map50_95=res.map50_95, precision=res.precision, recall=res.recall,
                          wall_s=round(wall, 1), images_per_s=round(n_images / max(wall, 1e-9), 2))
            self.log(f"done: best mAP50 {res.map50:.4f} mAP50-95 {res.map50_95:.4f}; {self.run_dir}")
            self._emit("end", epoch=cfg.epochs, status="finished", **{k: v for k, v in result.items() if k != "status"})
        return result


def train(cfg: TrainConfig, callbacks: list | None = None) -> dict:
    """Run a teacher (or, with ``cfg.teacher``, a distillation) run; returns final figures.
    ``callbacks`` replace ``default_callbacks()`` (add to that list to keep the console and files)."""
    return Trainer(cfg, callbacks).run()
