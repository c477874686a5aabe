"""Issue 21's long NEU-DET schedule, a few hours a sitting, carried across machines by the repository.

    python benchmarks/long_run.py --hours 2            # continues wherever the run stands

A sitting continues the first unfinished stage for ``--hours``, stops it cleanly (SIGTERM: the
trainer ends the step and writes last.pt) and writes the stage's portable point (the EMA in fp16
and the schedule's place, 10 MB; core/train/portable.py) to ``benchmarks/long_runs/STAGE.pt``, with
the per-epoch history in ``STAGE.json``. Commit both: the next sitting, on any machine, resumes
from them when its scratch run folder (``--root``) is gone. Stages:

- ``teacher``: the bundled ``default`` (70 epochs) trained on for a 150-epoch cosine schedule at the
  full learning rate (0.02), 256 px, batch 16: about 105 s an epoch on 2 cores, 4.5 h;
- ``student``: a self-distilled student of that teacher (its final point), from scratch, 150 epochs:
  about 6 h.

After a sitting, ``python main.py val --weights benchmarks/long_runs/STAGE.pt --data
../shared/data/neu-det`` scores the point's EMA weights; when they beat the bundled ``default``,
``tools/bundle_model.py benchmarks/long_runs/STAGE.pt default`` bundles them (issue 21: commit the
best weights as they improve).
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from core.model.checkpoint import load_checkpoint  # noqa: E402
from core.train.portable import write_portable_point  # noqa: E402
from core.util.io import atomic_write_text  # noqa: E402

POINTS = ROOT / "benchmarks" / "long_runs"
NEU = "../shared/data/neu-det"  # relative to the repository, as the commands are run from it


def stages(points: Path, data: str = NEU, epochs: int = 150, imgsz: int = 256) -> dict:
    """name: the command's arguments after ``main.py`` (the run folder is added)."""
    common = ["--data", data, "--epochs", str(epochs), "--imgsz", str(imgsz), "--batch", "16", "--device", "cpu"]
    return {"teacher": ["train", "--weights", "default", "--lr0", "0.02", *common],
            "student": ["distill", "--teacher", _rel(points / "teacher.pt"), *common]}


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def stage_state(name: str, run_dir: Path, points: Path) -> str:
    """'finished', 'running' (a point or a run folder to continue) or 'new'."""
    for f in (run_dir / "weights" / "last.pt", points / f"{name}.pt"):
        if f.is_file():
            return "finished" if load_checkpoint(f).get("finished") else "running"
    return "new"


def sit(name: str, args: list[str], run_dir: Path, point: Path, seconds: float) -> int:
    """Run (or continue) one stage for at most ``seconds``; returns the trainer's exit code."""
    last = run_dir / "weights" / "last.pt"
    if not last.exists() and point.exists():  # a new machine: continue from the committed point
        last.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(point, last)
        print(f"[{name}] continuing from {_rel(point)}", flush=True)
    cmd = [sys.executable, str(ROOT / "main.py"), *args, "--out", str(run_dir)] + (["--resume"] if last.exists() else [])
    print(f"[{name}] {' '.join(cmd[1:])}", flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT)
    try:
        rc = proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        print(f"[{name}] the sitting's time is up: stopping after the current step", flush=True)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait()
    return rc


def save_point(name: str, args: list[str], run_dir: Path, points: Path, sitting_s: float) -> dict:
    """The committed point and the history beside it, from the run folder's last.pt."""
    points.mkdir(parents=True, exist_ok=True)
    meta = write_portable_point(run_dir / "weights" / "last.pt", points / f"{name}.pt", root=ROOT)
    record_path = points / f"{name}.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {"sittings": []}
    hist = [{"epoch": h["epoch"], "map50": h["metrics/mAP50(B)"], "map50_95": h["metrics/mAP50-95(B)"]}
            for h in meta.get("history", []) if h.get("metrics/mAP50(B)") not in (None, "")]
    record.update(stage=name, command="python main.py " + " ".join(args) + " --out DIR",
                  epochs_done=meta["epoch"], epochs=meta["train_args"]["epochs"], finished=bool(meta.get("finished")),
                  history=hist)
    record["sittings"].append({"date": time.strftime("%Y-%m-%d"), "hours": round(sitting_s / 3600, 2),
                               "to_epoch": meta["epoch"]})
    atomic_write_text(record_path, json.dumps(record, indent=1))
    best = max(hist, key=lambda h: h.get("map50", -1), default=None)
    print(f"[{name}] at epoch {meta['epoch']}/{record['epochs']}"
          + (f"; best so far mAP50 {best['map50']:.4f} (epoch {best['epoch']})" if best else "")
          + f"; point: {_rel(points / f'{name}.pt')} (commit it with {_rel(record_path)})",
          flush=True)
    return record


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, required=True, help="how long this sitting trains")
    ap.add_argument("--root", default=str(ROOT.parent / "bench_runs" / "long"), help="scratch run folders")
    ap.add_argument("--stage", choices=["teacher", "student"], help="this stage only (default: the first unfinished)")
    ap.add_argument("--points", default=str(POINTS), help="where the committed points live")
    ap.add_argument("--data", default=NEU)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--imgsz", type=int, default=256)
    a = ap.parse_args()
    end = time.time() + a.hours * 3600
    points = Path(a.points).resolve()
    plan = stages(points, a.data, a.epochs, a.imgsz)
    run_stages(plan, [a.stage] if a.stage else list(plan), Path(a.root), points, end)


def ignored_points(points: Path, names: list[str]) -> list[str]:
    """The points among ``names`` that git would not commit (inside the repository and ignored)."""
    if not points.is_relative_to(ROOT):
        return []
    paths = [_rel(points / f"{n}{ext}") for n in names for ext in (".pt", ".json")]
    out = subprocess.run(["git", "check-ignore", "--", *paths], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.split()


def run_stages(plan: dict, order: list[str], root: Path, points: Path, end: float) -> None:
    """Sit each unfinished stage of ``order`` in turn until ``end`` (``plan``: name -> the command's
    arguments), writing its point after each sitting; exits when a stage stops unfinished."""
    # A point git ignores is lost with the machine (an e30 point was, on 2026-12-07): refuse up front.
    if lost := ignored_points(points, order):
        sys.exit(f"{', '.join(lost)}: ignored by .gitignore, so the point could not be committed; "
                 "choose --points under benchmarks/long_runs/ or allow the path in .gitignore")
    for i, name in enumerate(order):
        run_dir = root / name
        if stage_state(name, run_dir, points) == "finished":
            print(f"[{name}] finished", flush=True)
            continue
        if i and end - time.time() < 600:  # a next stage is not begun for a few minutes
            break
        t = time.time()
        rc = sit(name, plan[name], run_dir, points / f"{name}.pt", max(end - time.time(), 1))
        if (run_dir / "weights" / "last.pt").exists():
            save_point(name, plan[name], run_dir, points, time.time() - t)
        if rc != 0 or stage_state(name, run_dir, points) != "finished":
            sys.exit(0 if rc == 0 else rc)

if __name__ == "__main__":
    main()
