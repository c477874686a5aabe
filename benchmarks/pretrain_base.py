"""The ``base`` model (issue 51): SD-GASNet-n pretrained on every public surface-defect set we have,
a few hours a sitting, carried across machines by committed points (as ``long_run.py``).

    python benchmarks/pretrain_data.py --mirrors ../.mirror --out ../datasets   # the sets, once
    python benchmarks/pretrain_base.py --hours 2            # continues the first unfinished stage

Stages, each ``train --weights default`` (the NEU-DET model; ``fast`` for ``base-fast``: the class
layers start afresh) on a
merged set of ``benchmarks/pretrain_data.py`` for ``--epochs`` at 320 px, batch 16, lr0 0.01, under
bf16 autocast (1.76x an fp32 step on this CPU, ``benchmarks/train_step.py --threads 1``), validating
every 5 epochs (a validation of the 561 merged val images cost as much as an epoch):

- ``base``: every set (``pretrain-all``): the model shipped as ``base``;
- ``base-fast``: the same from the bundled ``fast`` (``sdgasnet-t``): a start of the small variant;
- ``base-no-SET``: every set but SET, for the leave-one-dataset-out table (fine-tuned on 200
  images of SET by ``benchmarks/finetune_table.py``).

A sitting stops its stage cleanly when ``--hours`` is up and writes the stage's portable point to
``benchmarks/long_runs/STAGE.pt`` with its history in ``STAGE.json``: commit both; the next sitting
resumes from them when the scratch run folder (``--root``) is gone.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from long_run import POINTS, run_stages  # noqa: E402

HELD_OUT = ("magtile", "bsdata", "crackforest")   # the leave-one-out sets (KolektorSDD has 50 images)


def stages(datasets: Path, epochs: int, imgsz: int, only: list[str] | None = None) -> dict:
    """name: the command's arguments after ``main.py`` (the run folder is added)."""
    common = ["--lr0", "0.01", "--epochs", str(epochs), "--imgsz", str(imgsz),
              "--batch", "16", "--device", "cpu", "--set", "cpu_bf16=true", "--set", "val_interval=5"]
    sets = {"base": ("pretrain-all", "default"), "base-fast": ("pretrain-all", "fast"),
            **{f"base-no-{s}": (f"pretrain-no-{s}", "default") for s in HELD_OUT}}
    plan = {}
    for name, (folder, start) in sets.items():
        if only and name not in only:
            continue
        yaml = datasets / folder / "data.yaml"
        if not yaml.is_file():
            sys.exit(f"{yaml}: missing; build it with benchmarks/pretrain_data.py (its docstring says how)")
        lists = [datasets / folder / f"{split}.txt" for split in ("train", "val")]
        missing = [ln for f in lists for ln in f.read_text().split() if not Path(ln).exists()]
        if missing:   # the trainer would skip them and pretrain for hours on what is left
            sys.exit(f"{yaml.parent}: {len(missing)} listed images are missing (e.g. {missing[0]}); "
                     "build the sets again with benchmarks/pretrain_data.py")
        plan[name] = ["train", "--data", os.path.relpath(yaml, ROOT), "--weights", start, *common]   # no machine's paths in a record
    return plan


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, required=True, help="how long this sitting trains")
    ap.add_argument("--root", default=str(ROOT.parent / "bench_runs" / "pretrain"), help="scratch run folders")
    ap.add_argument("--datasets", default=str(ROOT.parent / "datasets"))
    ap.add_argument("--stage", nargs="*", help="these stages only, in this order (default: all)")
    ap.add_argument("--points", default=str(POINTS))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--imgsz", type=int, default=320)
    a = ap.parse_args()
    end = time.time() + a.hours * 3600
    points = Path(a.points).resolve()
    plan = stages(Path(a.datasets), a.epochs, a.imgsz, a.stage)
    order = a.stage or list(plan)
    run_stages(plan, order, Path(a.root), points, end)


if __name__ == "__main__":
    main()
