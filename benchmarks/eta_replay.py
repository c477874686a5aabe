"""How right the training view's ETA is: replay a run's events file and compare, at points through
the run, the ETA shown then with the time the run really took from there.

    python benchmarks/eta_replay.py RUN/events.jsonl [...] [--json OUT]

A run still going is scored up to its last finished epoch (the ETA is asked for that epoch). For
comparison the old estimate is replayed too: the pace of the last ~2 minutes of batches, which
left validation out. A ratio real / predicted above 1 is an optimistic ETA.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.train.events import read_events  # noqa: E402
from core.train.runs import RunHistory  # noqa: E402


def _old_eta(pts: list[tuple[float, float]]) -> float | None:
    """The view's ETA before: the fraction of batches done over the last 120 progress records."""
    if len(pts) < 2:
        return None
    (t0, f0), (t1, f1) = pts[0], pts[-1]
    return None if f1 <= f0 or t1 <= t0 else (1.0 - f1) * (t1 - t0) / (f1 - f0)


def _with_val_images(recs: list[dict], run: Path) -> list[dict]:
    """Runs from before the start event said how many images a validation takes, and how often: from
    args.yaml (as the run folder has it: a resumed run's last settings)."""
    import yaml

    try:
        args = yaml.safe_load((run / "args.yaml").read_text()) or {}
    except OSError:
        args = {}
    out = []
    for r in recs:
        if r["event"] == "start" and "val_images" not in r:
            calib = min(int(args.get("precise_bn_images", 256)), int(r.get("n_train", 0)))
            r = {**r, "val_images": int(r.get("n_val", 0)) * (2 if calib else 1) + calib,
                 "val_interval": int(args.get("val_interval", 1))}
        out.append(r)
    return out


def replay(path: Path, points: int = 20) -> dict:
    recs = _with_val_images(read_events(path), path.parent)
    ends = {int(r["epoch"]): r["time"] for r in recs if r["event"] == "epoch"}
    if len(ends) < 2:
        raise SystemExit(f"{path}: fewer than 2 finished epochs to score against")
    k = max(ends)
    target = ends[k]
    prog = [i for i, r in enumerate(recs) if r["event"] == "progress" and r["time"] < target]
    picks = set(prog[:: max(len(prog) // points, 1)])
    h = RunHistory()
    old_pts: list[tuple[float, float]] = []
    rows = []
    for i, r in enumerate(recs):
        if r["time"] >= target:
            break
        h.feed(r)
        h.total_epochs = k
        if r["event"] == "progress":
            old_pts = (old_pts + [(r["time"], (r["epoch"] + r["done"] / r["batches"]) / k)])[-120:]
        if i in picks:
            real = target - r["time"]
            new, old = h.eta_s(), _old_eta(old_pts)
            rows.append({"at_s": round(r["time"] - recs[0]["time"], 1), "real_s": round(real, 1),
                         "eta_s": None if new is None else round(new, 1),
                         "old_eta_s": None if old is None else round(old, 1)})

    def ratio(key):
        v = [x["real_s"] / x[key] for x in rows if x[key]]
        return round(statistics.median(v), 3) if v else None

    return {"events": str(path), "epochs_scored": k, "points": rows,
            "median_real_over_eta": ratio("eta_s"), "median_real_over_old_eta": ratio("old_eta_s")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("events", nargs="+")
    ap.add_argument("--json")
    a = ap.parse_args()
    out = [replay(Path(p)) for p in a.events]
    for r in out:
        print(f"{r['events']}: {r['epochs_scored']} epochs; real / ETA (median of {len(r['points'])} points): "
              f"now {r['median_real_over_eta']}, before {r['median_real_over_old_eta']}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
