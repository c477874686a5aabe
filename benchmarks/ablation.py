"""What each part of SD-GASNet-n gives on NEU-DET, on one small budget (issue 21's ablation).

    python benchmarks/ablation.py --epochs 20 --imgsz 256 --batch 16 --root ../bench_runs/ablation

Rows, all from scratch with the same split, epochs, image size, batch and seed:
- full: the teacher (SD-GASNet-n as designed), then its self-distilled student;
- without distillation: that teacher itself (the student's recipe minus the teacher's guidance);
- without FGPEM (``fgpem=none``), without CS (``n5_block=repblock``, Gold-YOLO's N5 block at the
  same width), with the ``mlvt`` backbone: teachers, compared with the full teacher.

Resumable like ``train_neu.py`` (same stage runner); ROOT/ablation.json holds every row's command,
mAP50 / mAP50-95, per-class AP50 and wall time, and the script prints the Markdown table.

Five rows are about 6 hours on 2 cores, more than one sitting, and ROOT goes with its machine. So
``--record docs/data/ablation-neu-det.json`` (the default) keeps every finished row in the
repository: rows finished on another machine are read back from it (same budget only) and the
table is printed from the union, so ``--only no_fgpem`` on one machine and ``--only mlvt`` on the
next add up. The student row needs its teacher's weights, so run ``--only teacher student``
together.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_neu import NEU, ROOT, stage  # noqa: E402

from core.util.io import atomic_write_text  # noqa: E402

VARIANTS = {  # name: (label, model_overrides as given to --set)
    "no_fgpem": ("without FGPEM", "{fgpem: none}"),
    "no_cs": ("without CS (RepBlock N5)", "{n5_block: repblock}"),
    "mlvt": ("with the mlvt backbone", "{backbone: mlvt}"),
}


def row(label: str, d: Path, state: dict, name: str) -> dict:
    from core.model.checkpoint import load_checkpoint

    v = json.loads((d / "val_best.json").read_text())
    params = sum(t.numel() for k, t in load_checkpoint(d / "weights" / "best.pt")["model"].items()
                 if "running_" not in k and "num_batches" not in k)
    # the command to rerun, with the repository's and the data's paths relative (no machine paths)
    command = state[name]["command"].replace(str(NEU), os.path.relpath(NEU, ROOT)).replace(str(ROOT) + os.sep, "")
    return {"stage": name, "row": label, "command": command, "wall_min": round(state[name]["wall_s"] / 60, 1),
            "params_m": round(params / 1e6, 2),
            "map50": v["map50"], "map50_95": v["map50_95"],
            "per_class_ap50": {c: p["ap50"] for c, p in v["per_class"].items()}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--imgsz", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", default=str(NEU))
    ap.add_argument("--root", default=str(ROOT.parent / "bench_runs" / "ablation"))
    ap.add_argument("--only", nargs="*", help="run only these stages (teacher, student, no_fgpem, no_cs, mlvt)")
    ap.add_argument("--record", default=str(ROOT / "docs" / "data" / "ablation-neu-det.json"),
                    help="committed JSON that keeps finished rows across machines ('' for none)")
    a = ap.parse_args()
    root = Path(a.root)
    root.mkdir(parents=True, exist_ok=True)
    state_path = root / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    common = ["--data", a.data, "--epochs", str(a.epochs), "--imgsz", str(a.imgsz), "--batch", str(a.batch),
              "--device", a.device]
    wanted = lambda n: not a.only or n in a.only
    teacher = root / "teacher"
    stages = [("teacher", ["train", "--model", "sdgasnet-n", *common, "--out", str(teacher)], teacher),
              ("student", ["distill", "--teacher", str(teacher / "weights" / "best.pt"), *common,
                           "--out", str(root / "student")], root / "student")]
    stages += [(n, ["train", "--model", "sdgasnet-n", *common, "--set", f"model_overrides={o}", "--out", str(root / n)],
                root / n) for n, (_, o) in VARIANTS.items()]
    for name, cmd, d in stages:
        if wanted(name):
            stage(name, cmd, d, state, state_path)
    labels = {"student": "SD-GASNet-n (full: teacher + self-distillation)", "teacher": "without distillation (the teacher)",
              **{n: lbl for n, (lbl, _) in VARIANTS.items()}}
    order = ["student", "teacher", *VARIANTS]  # the full model first
    budget = {"epochs": a.epochs, "imgsz": a.imgsz, "batch": a.batch}
    here = {n: row(labels[n], d, state, n) for n, _, d in stages if state.get(n, {}).get("finished")}
    record = Path(a.record) if a.record else None
    kept, keep = {}, record is not None
    if record and record.exists():
        rec = json.loads(record.read_text())
        if {k: rec.get(k) for k in budget} == budget:
            kept = {r["stage"]: r for r in rec["rows"]}
        else:  # a smoke run on a tiny budget must not overwrite the real rows
            keep = False
            print(f"{record} holds another budget; rows of this run not kept there")
    merged = {**kept, **here}  # a row run here replaces the kept one
    rows = [merged[n] for n in order if n in merged]
    out = json.dumps({**budget, "rows": rows}, indent=2) + "\n"
    atomic_write_text(root / "ablation.json", out)
    if keep and here and merged != kept:
        atomic_write_text(record, out)
        print(f"rows kept in {record}: {', '.join(r['stage'] for r in rows)}")
    classes = list(rows[0]["per_class_ap50"]) if rows else []
    ap50 = lambda x: "—" if x is None else f"{x:.3f}"  # a class with no box in the val split
    print("| row | params (M) | mAP50 | mAP50-95 | " + " | ".join(classes) + " | wall min |")
    print("|---|---|---|---|" + "---|" * len(classes) + "---|")
    for r in rows:
        print(f"| {r['row']} | {r['params_m']} | {r['map50']:.3f} | {r['map50_95']:.3f} | "
              + " | ".join(ap50(r["per_class_ap50"][c]) for c in classes) + f" | {r['wall_min']} |")


if __name__ == "__main__":
    main()
