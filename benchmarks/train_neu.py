"""Teacher, then self-distilled student, on NEU-DET (same epochs, image size and batch), on the CPU.

    python benchmarks/train_neu.py --epochs 30 --imgsz 320 --batch 16 --root ../bench_runs/neu

Resumable: rerun the same command after an interruption; a stage that finished is skipped, a
stage that stopped is continued with --resume. Wall time is accumulated across resumes in
ROOT/state.json; the summary (ROOT/summary.json) lists the command, epochs, wall time, images/s
and val mAP50 / mAP50-95 of teacher and student.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
NEU = ROOT.parent / "shared" / "data" / "neu-det"
sys.path.insert(0, str(ROOT))
from core.util.io import atomic_write_text  # noqa: E402


def stage(name: str, cmd: list[str], run_dir: Path, state: dict, state_path: Path) -> None:
    last = run_dir / "weights" / "last.pt"
    if state.get(name, {}).get("finished"):
        print(f"[{name}] finished earlier, skipped")
        return
    if last.exists():
        cmd = cmd + ["--resume"]
    print(f"[{name}] {' '.join(cmd)}", flush=True)
    st = state.setdefault(name, {"wall_s": 0.0})
    st["command"] = "python main.py " + " ".join(c for c in cmd if c != "--resume")
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), *cmd], cwd=ROOT)
    t, rc = time.time(), None
    while rc is None:
        # save the wall time every minute: a session that ends kills this script with the run, and
        # a total written only at the end would lose the whole sitting
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        now = time.time()
        st["wall_s"] += now - t
        t = now
        st["finished"] = rc == 0 and (run_dir / "val_best.json").exists()
        atomic_write_text(state_path, json.dumps(state, indent=2))
    if not st["finished"]:
        raise SystemExit(f"[{name}] stopped (exit {rc}); rerun this script to continue")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--root", default=str(ROOT.parent / "bench_runs" / "neu"))
    ap.add_argument("--data", default=str(NEU))
    ap.add_argument("--extra", nargs="*", default=[], help="extra --set KEY=VALUE for both stages")
    ap.add_argument("--kd-directions", nargs="+", default=["forward"], choices=["forward", "reverse"],
                    help="one student per KL direction (the first is 'student/', others 'student_<dir>/')")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--teacher", help="distil from this finished teacher (best.pt) instead of training one, "
                                      "e.g. to compare KL directions on a shorter student budget")
    a = ap.parse_args()
    root = Path(a.root)
    root.mkdir(parents=True, exist_ok=True)
    state_path = root / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    common = ["--data", a.data, "--epochs", str(a.epochs), "--imgsz", str(a.imgsz), "--batch", str(a.batch),
              "--device", a.device] + sum((["--set", kv] for kv in a.extra), [])
    if a.teacher:
        teacher_pt = Path(a.teacher).resolve()
        teacher_dir = teacher_pt.parent.parent
        runs = []
    else:
        teacher_dir = root / "teacher"
        teacher_pt = teacher_dir / "weights" / "best.pt"
        stage("teacher", ["train", "--model", "sdgasnet-n", *common, "--out", str(teacher_dir)], teacher_dir, state,
              state_path)
        runs = [("teacher", teacher_dir)]
    for i, direction in enumerate(a.kd_directions):
        name = "student" if i == 0 else f"student_{direction}"
        d = root / name
        stage(name, ["distill", "--teacher", str(teacher_pt), *common, "--out", str(d),
                     "--set", f"kd_direction={direction}"], d, state, state_path)
        runs.append((name, d))
    summary = {"machine": f"{platform.machine()} {platform.processor()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
               "epochs": a.epochs, "imgsz": a.imgsz, "batch": a.batch}
    if a.teacher:
        summary["teacher"] = {"checkpoint": str(teacher_pt), **{k: v for k, v in json.loads(
            (teacher_dir / "val_best.json").read_text()).items() if k in ("map50", "map50_95")}}
    for name, d in runs:
        v = json.loads((d / "val_best.json").read_text())
        rows = (d / "results.csv").read_text().splitlines()
        header = rows[0].split(",")
        ips = [float(r.split(",")[header.index("images_per_s")]) for r in rows[1:]]
        summary[name] = {"command": state[name]["command"], "wall_min": round(state[name]["wall_s"] / 60, 1),
                         "train_images_per_s": round(sum(ips) / len(ips), 2),
                         "map50": v["map50"], "map50_95": v["map50_95"], "precision": v["precision"],
                         "recall": v["recall"], "per_class": v["per_class"]}
    (root / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: (v if not isinstance(v, dict) else {kk: vv for kk, vv in v.items() if kk != "per_class"})
                      for k, v in summary.items()}, indent=2))


if __name__ == "__main__":
    main()
