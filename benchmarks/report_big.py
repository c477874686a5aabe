"""Report speed on a large records database: N inspections (default 100,000) over one shift.

    python benchmarks/report_big.py [--n 100000] [--db /tmp/report_big.sqlite]

Writes the database once (realistic verdicts, detections, NG image paths, a few errors), then times
each format and reports the peak resident memory. Also used by the tests with a small N.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLASSES = ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"]


def make_db(path: str | Path, n: int, images: list[str] | None = None, seed: int = 0,
            start: dt.datetime | None = None, hours: float = 8.0, hostile: bool = False) -> dict:
    """A records database like a shift of the line; returns the true counts."""
    from core.inspect.records import connect

    rng = random.Random(seed)
    start = start or dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.timezone.utc)
    con = connect(path)
    counts = {"OK": 0, "NG": 0, "ERROR": 0, "detections": 0, "defects": {}}
    src = "line-7 <camera \"A\"> & co" if hostile else "line-7"
    rows, dets = [], []
    for i in range(n):
        ts = (start + dt.timedelta(seconds=hours * 3600 * i / max(n, 1))).isoformat(timespec="milliseconds")
        r = rng.random()
        verdict = "ERROR" if r < 0.01 else ("NG" if r < 0.2 else "OK")
        counts[verdict] += 1
        err = rng.choice(["read failed: truncated JPEG", "no signal <script>alert(1)</script>"]) \
            if verdict == "ERROR" else None
        img = images[i % len(images)] if verdict == "NG" and images else None
        rows.append((i + 1, ts, src, f"frame_{i}", img, verdict, 0, "sdgasnet-n:0123456789ab", "default", err,
                     rng.uniform(40, 90), rng.uniform(5, 30)))
        if verdict == "NG":
            for _ in range(rng.randint(1, 2)):
                c = rng.randrange(len(CLASSES))
                name = (CLASSES[c] + "<b>&amp;") if hostile and c == 0 else CLASSES[c]
                x, y = rng.uniform(0, 150), rng.uniform(0, 150)
                dets.append((i + 1, c, name, rng.uniform(0.3, 0.99), x, y, x + 40, y + 30, 1))
                counts["detections"] += 1
                counts["defects"][name] = counts["defects"].get(name, 0) + 1
        if len(rows) >= 20000:
            _flush(con, rows, dets)
    _flush(con, rows, dets)
    con.close()
    return counts


def _flush(con: sqlite3.Connection, rows, dets):
    with con:
        con.executemany("INSERT INTO inspections (id, ts, source, frame, image_path, verdict, n_defects, model_id, "
                        "recipe_id, error, latency_ms, frame_age_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.executemany("INSERT INTO detections (inspection_id, class_id, class_name, score, x1, y1, x2, y2, "
                        "is_defect) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", dets)
    rows.clear()
    dets.clear()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--db", default="/tmp/report_big.sqlite")
    ap.add_argument("--out", default="/tmp/report_big")
    a = ap.parse_args()
    db = Path(a.db)
    if not db.exists():
        t = time.perf_counter()
        imgs = sorted(str(p) for p in (ROOT.parent / "shared" / "data" / "neu-det" / "images").glob("*.jpg"))[:200]
        make_db(db, a.n, imgs)
        print(f"database of {a.n} inspections written in {time.perf_counter() - t:.1f} s")
    from core.report import make_report

    Path(a.out).mkdir(parents=True, exist_ok=True)
    for fmt in ("json", "csv", "html", "pdf"):
        t = time.perf_counter()
        files = make_report(db, fmt, Path(a.out) / f"report.{fmt}")
        print(f"{fmt}: {time.perf_counter() - t:.2f} s, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB; "
              f"peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
