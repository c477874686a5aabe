"""Soak: the live pipeline on the demo line for a long time, sampling its health every interval.

    python benchmarks/soak.py --minutes 120 [--every 60] [--fps 8] [--weights demo] [--out soak.json]
    python benchmarks/soak.py --minutes 480 --full-disk [--disk-mb 256] [--fill-every 5 --full-for 2]
                              [--memory-rows 500] [--record-to docs/benchmarks.md]

Runs an ``InspectionSession`` (records to SQLite, NG images saved) and every ``--every`` seconds
samples the process's resident memory, threads, open files, frames judged and median latency.
Prints one line per sample and, at the end, the drift between the first and last quarter; the
samples go to ``--out`` (JSON). A healthy run keeps memory, threads and files flat and latency
steady.

``--full-disk``: the records database lives on a small file system (a tmpfs of ``--disk-mb`` MB,
mounted here, which needs root; or ``--disk DIR``, one you mounted, e.g. a loop device) that a
second process fills to the last byte every ``--fill-every`` minutes and frees again after
``--full-for`` minutes. Rows the database cannot take wait in memory (``--memory-rows``, small so
that the spool is used too), then in the spool on the ordinary disk. At the end, with the disk
free again, the next writer of the database sends the spool, and the run checks that every frame
judged has its row: frames judged = rows stored + frames refused (not judged, records full), no row
lost, no row twice. ``--record-to`` adds the figures as a row of the full-disk table in that file.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DOC_MARK = "<!-- benchmarks/soak.py --full-disk adds its rows to the table below -->"

# The second process: fills the disk to the last byte, holds it full (topping up what the records
# free, e.g. a checkpointed WAL) for FULL_FOR seconds, frees it, waits, again; one JSON line per event.
_FILLER = r"""
import json, os, sys, time
path, every, full_for = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
def say(event): print(json.dumps({"t": time.time(), "event": event}), flush=True)
while True:
    time.sleep(every - full_for)
    with open(path, "ab", buffering=0) as f:
        t_full = time.time()
        said = False
        while time.time() - t_full < full_for:
            try:
                f.write(b"\0" * 65536)
            except OSError:        # full: hold it, top up what is freed
                if not said:
                    say("full")
                    said = True
                time.sleep(0.5)
    os.unlink(path)
    say("free")
"""


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def small_disk(a, work: Path) -> tuple[Path, bool]:
    """The small file system for the records: ``--disk``, or a tmpfs mounted here (root)."""
    if a.disk:
        return Path(a.disk), False
    mnt = work / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={a.disk_mb}m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"--full-disk: cannot mount a tmpfs ({r.stderr.strip()}); run as root, or mount a small file "
                 "system yourself and give it as --disk DIR")
    return mnt, True


def rows(db: Path) -> tuple[int, int]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*), COUNT(DISTINCT uid) FROM inspections").fetchone()
    finally:
        con.close()


def record_row(doc: Path, row: str) -> None:
    """Append ``row`` to the table that follows DOC_MARK in ``doc``."""
    lines = doc.read_text().splitlines()
    i = lines.index(DOC_MARK) + 1
    while i < len(lines) and not lines[i].startswith("|"):
        i += 1
    while i < len(lines) and lines[i].startswith("|"):
        i += 1
    lines.insert(i, row)
    doc.write_text("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=120)
    ap.add_argument("--every", type=float, default=60)
    ap.add_argument("--fps", type=float, default=8.0, help="pace of the demo line (the GUI's default)")
    ap.add_argument("--weights", default="demo")
    ap.add_argument("--out", default="soak.json")
    ap.add_argument("--full-disk", action="store_true", help="the records' disk fills and frees on a schedule")
    ap.add_argument("--disk", help="with --full-disk: a small file system you mounted (default: a tmpfs, root)")
    ap.add_argument("--disk-mb", type=int, default=256, help="size of the tmpfs (it must hold the whole run's records)")
    ap.add_argument("--fill-every", type=float, default=5, help="minutes between two fillings of the disk")
    ap.add_argument("--full-for", type=float, default=2, help="minutes the disk stays full each time")
    ap.add_argument("--memory-rows", type=int, default=500, help="rows kept in memory before the spool")
    ap.add_argument("--record-to", help="add the full-disk figures to this Markdown file's table")
    a = ap.parse_args()
    from core.detector import Detector
    from core.inspect.records import RecordsWriter

    work = Path(tempfile.mkdtemp(prefix="soak_"))
    disk, mounted, filler = (None, False, None)
    states: list = []
    if a.full_disk:
        disk, mounted = small_disk(a, work)
    db = (disk or work) / "records.sqlite"
    spool = work / "spool"
    sess = Detector(a.weights, "cpu", source="demo").inspect(
        "demo", db=str(db), save_ng=str(work / "ng"), demo_fps=a.fps, spool=str(spool),
        on_state=lambda s, m: states.append((round(time.time(), 1), s, m)))
    sess.start()
    rec = sess.records
    rec.memory_rows = a.memory_rows
    events: list = []
    if a.full_disk:
        filler = subprocess.Popen([sys.executable, "-c", _FILLER, str(disk / "filler"), str(a.fill_every * 60),
                                   str(a.full_for * 60)], stdout=subprocess.PIPE, text=True)
        threading.Thread(target=lambda: events.extend(json.loads(x) for x in filler.stdout), daemon=True).start()
    samples, t0 = [], time.time()
    try:
        while time.time() - t0 < a.minutes * 60:
            time.sleep(a.every)
            sm = sess.snapshot().summary
            s = {"t_min": round((time.time() - t0) / 60, 2), "rss_mib": round(rss_mib(), 1),
                 "threads": threading.active_count(), "open_files": len(os.listdir("/proc/self/fd")),
                 "frames": sm["frames"], "median_latency_ms": sm["median_total_ms"], "fps": sm["fps"],
                 "written": rec.written, "kept": rec.kept, "spooled": rec.spooled, "refused": rec.refused,
                 "full": rec.full}
            samples.append(s)
            print(json.dumps(s), flush=True)
    finally:
        sess.stop()
        if filler is not None:
            filler.terminate()         # its process only: the disk is freed below
            filler.wait()
            (disk / "filler").unlink(missing_ok=True)
    q = max(1, len(samples) // 4)
    first, last = samples[:q], samples[-q:]

    def mean(xs, k):
        return statistics.fmean(x[k] for x in xs)

    drift = {k: round(mean(last, k) - mean(first, k), 2) for k in ("rss_mib", "threads", "open_files",
                                                                    "median_latency_ms")}
    sm = sess.snapshot().summary
    result = {"minutes": a.minutes, "fps": a.fps, "weights": a.weights, "samples": samples,
              "drift_last_vs_first_quarter": drift, "records": rec.written, "frames": sm["frames"]}
    if a.full_disk:
        stored_at_stop, _ = rows(db)
        at_stop = {"stored": stored_at_stop, "spooled": rec.kept_in_outbox, "refused": rec.refused, "lost": rec.lost}
        RecordsWriter(db, spool=str(spool)).close()    # the disk is free: the next writer sends the spool
        stored, distinct = rows(db)
        ok = stored == distinct == sm["frames"] - rec.refused and rec.lost == 0
        warnings = [m for _, s, m in states if s == "warning"]
        result["full_disk"] = {
            "disk": str(disk), "disk_mb": a.disk_mb if mounted else None, "fill_every_min": a.fill_every,
            "full_for_min": a.full_for, "memory_rows": a.memory_rows, "fillings": sum(e["event"] == "full" for e in events),
            "at_stop": at_stop, "stored_after_spool_sent": stored, "distinct_uids": distinct,
            "frames_judged_equal_rows": ok, "warnings_said": len(warnings), "first_warning": warnings[:1],
            "max_spooled": max((s["spooled"] for s in samples), default=0),
            "max_kept": max((s["kept"] for s in samples), default=0)}
        fd = result["full_disk"]
        print(f"full disk: {fd['fillings']} fillings; frames {sm['frames']}, rows {stored} "
              f"({at_stop['stored']} at the stop + {at_stop['spooled']} from the spool), refused {rec.refused}, "
              f"lost {rec.lost}: {'frames judged = rows stored' if ok else 'MISMATCH'}")
        if a.record_to:
            rss = [s["rss_mib"] for s in samples] or [0]
            row = (f"| {dt.date.today()} | {a.minutes:g} | {platform.node()} ({os.cpu_count()} cores) | "
                   f"{f'{a.disk_mb} MB tmpfs' if mounted else disk}: {fd['fillings']} × full {a.full_for:g} min "
                   f"every {a.fill_every:g} min | {sm['frames']:,} | "
                   f"{stored:,} ({at_stop['spooled']:,} sent from the spool after the stop) | {fd['max_kept']:,} / "
                   f"{fd['max_spooled']:,} | {rec.refused} | {rec.lost} | {len(warnings)} | "
                   f"{min(rss):.0f}–{max(rss):.0f} MiB | {'yes' if ok else '**no**'} |")
            record_row(Path(a.record_to), row)
        if mounted:
            subprocess.run(["umount", str(disk)], check=False)
    Path(a.out).write_text(json.dumps(result, indent=2))
    print(f"drift (last quarter - first quarter): {drift}; {rec.written} records; samples in {a.out}")
    shutil.rmtree(work, ignore_errors=True)
    if a.full_disk and not result["full_disk"]["frames_judged_equal_rows"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
