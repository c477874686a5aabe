"""How much of the training step each loss term gets at the start of a distillation run.

    python tools/kd_grad_probe.py --teacher ../bench_runs/neu/teacher/weights/best.pt \
        [--student ../bench_runs/neu/student/weights/last.pt] [--set w_cwd=1]

On a few augmented NEU-DET training batches, prints each weighted loss term and the L2 norm of its
gradient over all student parameters, scaled as the trainer scales the loss (x batch), for a freshly
initialised student, optionally a student checkpoint, and the teacher's own weights put in training
mode (a stand-in for a well-trained student). The trainer clips the summed gradient to norm 10, so
a term whose gradient is many times the detection gradient's takes over the step: this is how a
too-heavy feature term can stall a student's head (docs/training.md, "Distillation weights").
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.cli_args import parse_sets  # noqa: E402
from core.data.dataset import DetectionDataset, collate  # noqa: E402
from core.data.formats import load_dataset  # noqa: E402
from core.data.validate import validate  # noqa: E402
from core.model.network import build_from_config  # noqa: E402
from core.model.checkpoint import load_checkpoint, load_model  # noqa: E402
from core.config import TrainConfig  # noqa: E402
from core.train.losses import DetectionLoss, cwd_loss, kd_cls_loss, kd_dfl_loss  # noqa: E402


def grad_norm(loss: torch.Tensor, params, scale: float) -> float:
    g = torch.autograd.grad(loss * scale, params, retain_graph=True, allow_unused=True)
    return float(torch.sqrt(sum((gi.float() ** 2).sum() for gi in g if gi is not None)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--student", help="a student checkpoint (last.pt of a distill run) to probe as well")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "neu-det"))
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="training settings")
    a = ap.parse_args()
    cfg = TrainConfig.from_dict(parse_sets(a.set)).loss_config()
    torch.manual_seed(0)
    teacher, ck = load_model(a.teacher)
    teacher.eval()
    students = {"fresh student": build_from_config(ck["model_config"])}
    if a.student:
        m = build_from_config(ck["model_config"])
        m.load_state_dict(load_checkpoint(a.student)["raw_model"])
        students[f"student {Path(a.student).parent.parent.name}"] = m
    trained = build_from_config(ck["model_config"])
    trained.load_state_dict(teacher.state_dict())
    students["teacher weights, train mode"] = trained
    samples, _ = validate(load_dataset(a.data), "train")
    ds = DetectionDataset(samples[:a.batch * a.batches * 4], a.imgsz, augment=True, seed=0)
    crit = DetectionLoss(len(ck["names"]), trained.cfg.reg_max, trained.cfg.strides, cfg)
    batches = [collate([ds[i] for i in range(b * a.batch, (b + 1) * a.batch)]) for b in range(a.batches)]
    print(f"w_cls {cfg.w_cls} w_iou {cfg.w_iou} w_dfl {cfg.w_dfl} d_cls {cfg.d_cls} d_dfl {cfg.d_dfl} "
          f"w_cwd {cfg.w_cwd} T {cfg.kd_temperature} kd_cls_norm {cfg.kd_cls_norm}; grad norms x batch {a.batch}")
    print(f"{'model':30s} {'term':16s} {'value':>9s} {'grad norm':>11s}")
    for name, model in students.items():
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        rows: dict[str, list[float]] = {}
        for imgs, targets, _ in batches:
            x = imgs.float() / 255
            out = model(x)
            with torch.no_grad():
                t = teacher(x, raw=True)
            det, _ = crit(out, targets, None, 0.0)
            fg = crit.last_fg
            parts = {"detection": det,
                     "kd_cls": cfg.w_cls * cfg.d_cls * kd_cls_loss(out["cls"], t["cls"], cfg.kd_temperature,
                                                                   cfg.kd_direction, cfg.kd_cls_norm),
                     "kd_dfl": cfg.w_dfl * cfg.d_dfl * kd_dfl_loss(out["dfl"], t["dfl"], fg, cfg.kd_temperature,
                                                                   cfg.kd_direction)}
            if cfg.kd_feat:
                parts["kd_feat"] = cfg.w_cwd * cwd_loss(out["feats"], [f.detach() for f in t["feats"]],
                                                        cfg.kd_feat_temperature, cfg.kd_direction)
            for k, v in parts.items():
                r = rows.setdefault(k, [0.0, 0.0])
                r[0] += float(v.detach()) / len(batches)
                r[1] += grad_norm(v, params, a.batch) / len(batches)
        for k, (v, n) in rows.items():
            print(f"{name:30s} {k:16s} {v:9.3f} {n:11.2f}")


if __name__ == "__main__":
    main()
