"""Faults while writing: SIGKILL in the middle of a checkpoint save, and a disk that fills during
atomic writes (labels, settings, checkpoints) or a records batch: the old file or the new one,
never half, and the error names the file."""
import errno
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

_SAVER = """
import sys, torch
sys.path.insert(0, {root!r})
from core.model.checkpoint import save_checkpoint
i = 0
while True:
    i += 1
    save_checkpoint({path!r}, {{"w": torch.full((400000,), float(i))}}, {{"names": ["a"], "imgsz": 64,
                    "model_config": {{"name": "sdgasnet-n"}}, "step": i}})
"""


def test_a_checkpoint_save_killed_at_any_moment_leaves_a_loadable_file(tmp_path):
    from core.model.checkpoint import load_checkpoint, save_checkpoint

    target = tmp_path / "last.pt"
    save_checkpoint(target, {"w": torch.zeros(400000)}, {"names": ["a"], "imgsz": 64,
                                                        "model_config": {"name": "sdgasnet-n"}, "step": 0})
    for k in range(8):
        p = subprocess.Popen([sys.executable, "-c", _SAVER.format(root=str(ROOT), path=str(target))])
        time.sleep(1.5 + 0.2 * k)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        ck = load_checkpoint(target)   # verifies the content hash too
        assert float(ck["model"]["w"][0]) == ck["step"]


def _full_disk(monkeypatch, after_bytes: int = 10):
    """Every file write beyond ``after_bytes`` fails with ENOSPC, as on a full disk."""
    import io as _io

    real = os.fdopen

    class Full(_io.RawIOBase):
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, b):
            if self.n + len(b) > after_bytes:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.n += len(b)
            return self.f.write(b)

        def __getattr__(self, k):
            return getattr(self.f, k)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: Full(real(fd, *a, **k)))


@pytest.mark.parametrize("what", ["label", "settings", "checkpoint"])
def test_a_full_disk_keeps_the_old_file_and_names_the_new_one(tmp_path, monkeypatch, what):
    from core.model.checkpoint import save_checkpoint
    from core.util.io import atomic_write_text

    target = tmp_path / {"label": "a.txt", "settings": "settings.json", "checkpoint": "best.pt"}[what]
    target.write_bytes(b"old content")
    _full_disk(monkeypatch)
    with pytest.raises(OSError) as e:
        if what == "checkpoint":
            save_checkpoint(target, {"w": torch.zeros(10)}, {"names": ["a"], "imgsz": 64, "model_config": {}})
        else:
            atomic_write_text(target, "new content that does not fit")
    assert e.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"old content"
    assert [f.name for f in tmp_path.iterdir()] == [target.name]      # no temporary file left behind


def test_labels_in_the_labelling_view_survive_a_full_disk(tmp_path, monkeypatch):
    from core.data.annotation import Box
    from core.labels.project import LabelProject
    from test_labels import _yolo_set

    root = _yolo_set(tmp_path)
    before = (root / "labels" / "im0.txt").read_bytes()
    p = LabelProject.open(root / "data.yaml")
    it = next(i for i in p.items if i.image.name == "im0.png")
    ann, _ = p.load(it, 200, 100)
    ann.boxes.append(Box(2, 1, 1, 50, 50))
    _full_disk(monkeypatch)
    with pytest.raises(OSError):
        p.save(it, ann)
    assert (root / "labels" / "im0.txt").read_bytes() == before and it.n_boxes == 2


def test_records_keep_every_committed_row_when_a_batch_fails(tmp_path, monkeypatch):
    from core.inspect.records import InspectionRecord, RecordsWriter, SqliteStore

    db = tmp_path / "r.sqlite"
    w = RecordsWriter(db, batch=5, interval=0.05)
    for i in range(5):
        w.add(InspectionRecord(ts=f"2026-12-02T00:00:0{i}", source="s", frame=str(i), verdict="OK"))
    time.sleep(0.5)
    calls = {"n": 0}
    real = SqliteStore.commit

    def flaky(self, recs):  # the disk fills for two batches, then there is room again
        calls["n"] += 1
        if calls["n"] <= 2:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, recs)

    monkeypatch.setattr(SqliteStore, "commit", flaky)
    for i in range(5, 10):
        w.add(InspectionRecord(ts=f"2026-12-02T00:00:1{i - 5}", source="s", frame=str(i), verdict="NG",
                               detections=[(0, "a", 0.9, 1, 1, 5, 5, 1)]))
    deadline = time.time() + 20
    while time.time() < deadline and w.written < 10:
        time.sleep(0.1)
    w.close()
    assert "disk is full" in (w.error or "")
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM inspections").fetchone()[0] == 10
    assert con.execute("SELECT COUNT(*) FROM detections").fetchone()[0] == 5
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_camera_that_vanishes_and_returns_is_judged_again(tmp_path):
    """Frames, then the cable is pulled (reads raise, and reopening fails a while), then it is back:
    the line shows no signal meanwhile, never OK, and judges frames again once it returns."""
    from core.data.synth import make_image
    from core.infer.predictor import Predictor
    from core.inspect.pipeline import Pipeline
    from core.inspect.options import InspectOptions
    from core.inspect.sources import Frame, Source
    from helpers import tiny_weights

    class Returning(Source):
        live = True
        name = "returning"

        def __init__(self):
            self.reads = self.opens = 0
            self.t_gone = None

        def open(self):
            self.opens += 1
            if self.t_gone is not None and time.time() - self.t_gone < 1.5:
                raise ConnectionError("camera not found")

        def read(self):
            self.reads += 1
            if self.reads == 4:
                self.t_gone = time.time()
            if self.t_gone is not None and time.time() - self.t_gone < 1.5:
                raise ConnectionError("camera unplugged")
            time.sleep(0.02)
            return Frame(self.reads, str(self.reads), make_image(self.reads, (64, 64))[0], None, time.monotonic(),
                         "returning")

    pred = Predictor(tiny_weights(tmp_path, imgsz=64), device="cpu", conf=0.05)
    results, states = [], []
    cam = Returning()
    p = Pipeline(cam, pred, InspectOptions(), on_result=results.append, on_state=lambda s, m: states.append(s))
    p.start()
    deadline = time.time() + 30
    while time.time() < deadline and not (any(r.verdict == "ERROR" for r in results)
                                         and sum(r.verdict != "ERROR" for r in results) > 8):
        time.sleep(0.1)
    p.stop()
    verdicts = [r.verdict for r in results]
    first_err = verdicts.index("ERROR")
    assert "no signal" in states and cam.opens >= 2
    assert any(v in ("OK", "NG") for v in verdicts[first_err:])          # judged again after it came back
    assert all(r.verdict == "ERROR" for r in results if r.frame.image is None)


_LABELER = """
import sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from core.data.annotation import Box
from core.labels.project import LabelProject
p = LabelProject.open({data!r})
it = next(i for i in p.items if i.image.name == "im0.png")
k = 0
while True:
    k += 1
    ann, _ = p.load(it, 200, 100)
    n = k % 40 + 1                       # version k: n boxes, all of class k % 3
    ann.boxes[:] = [Box(k % 3, 10 + j, 10, 30 + j, 40) for j in range(n)]
    p.save(it, ann)
"""


def test_a_label_save_killed_at_any_moment_leaves_the_old_or_the_new_file(tmp_path):
    from core.data.formats.yolo import parse_lines as parse_yolo_lines
    from test_labels import _yolo_set

    root = _yolo_set(tmp_path)
    label = root / "labels" / "im0.txt"
    for k in range(6):
        p = subprocess.Popen([sys.executable, "-c", _LABELER.format(root=str(ROOT), tests=str(ROOT / "tests"),
                                                                    data=str(root / "data.yaml"))])
        time.sleep(1.2 + 0.15 * k)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        lines, problem = parse_yolo_lines(label.read_text())
        assert problem is None and lines
        assert len({c for c, *_ in lines}) == 1                  # one version, never two mixed
        assert all(w > 0 for *_, w, _h, _line in lines)


def _pipeline_on(tmp_path, cam, **kw):
    from core.infer.predictor import Predictor
    from core.inspect.pipeline import Pipeline
    from core.inspect.options import InspectOptions
    from helpers import tiny_weights

    pred = Predictor(tiny_weights(tmp_path, imgsz=64), device="cpu", conf=0.05)
    results, states = [], []
    p = Pipeline(cam, pred, InspectOptions(), on_result=results.append, on_state=lambda s, m: states.append((s, m)),
                 **kw)
    return p, results, states


def test_a_camera_that_stops_delivering_is_an_error_and_frames_again_are_judged(tmp_path):
    """The driver blocks in read() and raises nothing (a hung camera): after the stall limit the
    line records ERROR ('no frame for N s'), and when frames come again they are judged."""
    from core.data.synth import make_image
    from core.inspect.sources import Frame, Source

    class Hanging(Source):
        live = True
        name = "hanging"

        def __init__(self):
            self.n = 0
            self.resume = threading.Event()

        def read(self):
            self.n += 1
            if self.n == 10:
                self.resume.wait(30)               # stuck in the driver
            time.sleep(0.02)
            return Frame(self.n, str(self.n), make_image(self.n, (64, 64))[0] + (self.n % 7), None,
                         time.monotonic(), "hanging")

    cam = Hanging()
    p, results, states = _pipeline_on(tmp_path, cam, stall_s=1.0)
    p.start()
    deadline = time.time() + 30
    while time.time() < deadline and not any(r.verdict == "ERROR" for r in results):
        time.sleep(0.05)
    cam.resume.set()
    t_err = time.time()
    while time.time() < deadline and sum(r.verdict != "ERROR" for r in results) < 15:
        time.sleep(0.05)
    p.stop()
    errors = [r for r in results if r.verdict == "ERROR"]
    assert errors and "no frame for" in errors[0].error
    assert time.time() - t_err < 20
    assert any(s == "no signal" and "no frame for" in m for s, m in states)
    assert any(s == "running" and "frames again" in m for s, m in states)
    assert results.index(errors[0]) < len(results) - 3   # judged again afterwards


def test_a_camera_that_delivers_garbage_gives_error_records_and_the_line_goes_on(tmp_path):
    from core.data.synth import make_image
    from core.inspect.sources import Frame, Source

    garbage = [np.zeros((0, 0, 3), np.uint8), np.full((64, 64, 3), np.nan, np.float32), np.zeros((64, 64, 5), np.uint8),
               np.zeros((64,), np.uint8), "not an image", np.zeros((2, 100000, 3), np.uint8)]

    class Garbage(Source):
        live = True
        name = "garbage"

        def __init__(self):
            self.n = 0

        def read(self):
            self.n += 1
            time.sleep(0.03)
            img = garbage[self.n - 1] if self.n <= len(garbage) else make_image(self.n, (64, 64))[0] + (self.n % 5)
            return Frame(self.n, str(self.n), img, None, time.monotonic(), "garbage")

    p, results, states = _pipeline_on(tmp_path, Garbage())
    p.start()
    deadline = time.time() + 30
    while time.time() < deadline and sum(r.verdict in ("OK", "NG") for r in results) < 5:
        time.sleep(0.05)
    p.stop()
    judged = [r for r in results if r.verdict in ("OK", "NG")]
    assert len(judged) >= 5
    for r in results:
        if r.frame.index <= len(garbage):
            assert r.verdict == "ERROR" and r.error, (r.frame.index, r.verdict)


def test_a_disk_that_fills_while_ng_images_are_saved_keeps_every_record(tmp_path, monkeypatch):
    from core.inspect.pipeline import Pipeline
    from core.inspect.records import RecordsWriter
    from core.inspect.sources import open_source
    from core.infer.predictor import Predictor
    from core.inspect.options import InspectOptions
    from helpers import tiny_weights

    pred = Predictor(tiny_weights(tmp_path, imgsz=64), device="cpu", conf=0.05)
    _full_disk(monkeypatch)      # the records' SQLite writes do not go through os.fdopen: only the images fail
    db = tmp_path / "r.sqlite"
    states = []
    rec = RecordsWriter(db, batch=4, interval=0.05)
    p = Pipeline(open_source("demo", demo_fps=30), pred,
                 InspectOptions(save_ng=str(tmp_path / "ng"), save_all=True, max_frames=12), rec,
                 on_state=lambda s, m: states.append((s, m)))
    p.start()
    assert p.wait(60)
    p.stop()
    rec.close()
    warnings = [m for s, m in states if s == "warning"]
    assert warnings and "could not save" in warnings[0] and "No space left" in warnings[0] and ".png" in warnings[0]
    assert not list((tmp_path / "ng").rglob("*.png"))
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM inspections").fetchone()[0] == 12


# ---------------------------------------------------------------------------------- records on a full disk
_FULL_DISK = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
from core.inspect.records import InspectionRecord, RecordsWriter
db, spool, how, filler = sys.argv[1:5]
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
if how == "ulimit":    # ulimit -f 192: no file of this process grows past 192 KB, as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (192 * 1024, hard))
t0, states = time.time(), []
w = RecordsWriter(db, batch=10, interval=0.02, spool=spool, memory_rows=40,
                  on_state=lambda s, m: states.append((round(time.time() - t0, 2), s, m)))
max_kept = 0
for i in range(240):
    w.add(InspectionRecord(ts=f"2026-12-02T08:00:{{i:03d}}", source="cam", frame=str(i), verdict="NG" if i % 3 else "OK",
                           n_defects=1, detections=[(1, "scratches", 0.9, 1, 2, 30, 40, 1)] if i % 3 else []))
    max_kept = max(max_kept, w.kept)
    time.sleep(0.003)
deadline = time.time() + 30
while time.time() < deadline and not (w.spooled and len(states) >= 2):
    time.sleep(0.05)
before = dict(spooled=w.spooled, kept=w.kept, written=w.written, max_kept=max_kept, t_free=round(time.time() - t0, 2))
if how == "ulimit":    # room again
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
else:
    os.unlink(filler)
while time.time() < deadline + 30 and w.written < 240:
    time.sleep(0.05)
w.close(timeout=5)
print(json.dumps(dict(before=before, states=states, written=w.written, spooled=w.spooled, lost=w.lost,
                      left=w.kept_in_outbox, outbox=str(w.outbox))))
"""


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 256 KB file system (a tmpfs: needs root); skipped elsewhere, where the ulimit case runs."""
    d = tmp_path / "disk"
    d.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(d)],
                                           capture_output=True).returncode:
        pytest.skip("a small tmpfs needs root; the ulimit -f case covers this machine")
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.mark.parametrize("how", ["tmpfs", "ulimit"])
def test_records_on_a_full_disk_are_kept_said_at_once_and_all_written_when_there_is_room(tmp_path, how, request):
    """The database's disk fills: the rows stay in memory up to the bound, then wait in the spool (a
    folder on another disk), the writer says so at once; once there is room every row is stored once."""
    import json

    from core.inspect.records import connect

    if how == "tmpfs":
        disk = request.getfixturevalue("small_tmpfs")
        connect(disk / "r.sqlite").close()
        filler = disk / "filler"
        st = os.statvfs(disk)
        filler.write_bytes(b"\0" * (st.f_bavail * st.f_frsize - 40 * 1024))     # 40 KB left for the records
    else:
        disk, filler = tmp_path, tmp_path / "none"
    db, spool = disk / "r.sqlite", tmp_path / "spool"
    r = subprocess.run([sys.executable, "-c", _FULL_DISK.format(root=str(ROOT)), str(db), str(spool), how, str(filler)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    before, states = out["before"], out["states"]
    said = [(t, m) for t, s, m in states if s == "warning" and t <= before["t_free"]]
    assert any("records cannot be written" in m and str(db) in m for _, m in said), states
    assert any("wait in" in m and str(spool) in m for _, m in said), states        # the spool, on another disk
    # memory holds about memory_rows (40; 80 leaves a loaded machine's writer thread a batch behind), unless
    # the spool refused rows too: under ``ulimit -f`` the spool file has the same limit, and the writer then
    # says the station must stop judging (the pipeline refuses frames: test_when_no_record_can_be_kept_the_station_stops_judging…)
    spool_full = any("cannot be kept" in m for _, m in said)
    assert before["spooled"] > 0 and before["written"] < 240 and (before["max_kept"] <= 80 or spool_full), (before, states)
    assert out["written"] == 240 and out["lost"] == 0 and out["left"] == 0 and not Path(out["outbox"]).exists()
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT uid), COUNT(DISTINCT frame) FROM inspections").fetchone() == \
        (240, 240, 240)
    assert con.execute("SELECT COUNT(*) FROM detections").fetchone()[0] == 160
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


_STOP_JUDGING = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from core.infer.predictor import Predictor
from core.inspect.options import InspectOptions
from core.inspect.pipeline import Pipeline
from core.inspect.records import RecordsWriter
from core.inspect.sources import DemoSource
from helpers import tiny_weights
folder, db, blocked = sys.argv[1:4]
pred = Predictor(tiny_weights(folder, imgsz=64), device="cpu", conf=0.05)

class Plc:                   # what the PLC is told, frame by frame
    name, trigger = "plc", None
    def __init__(self):
        self.told = []
    def publish(self, r, rec):
        self.told.append(rec.verdict)

_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (128 * 1024, hard))     # the disk is full past 128 KB
plc, results, states = Plc(), [], []
rec = RecordsWriter(db, batch=5, interval=0.02, spool=blocked, memory_rows=30,   # and the spool is unusable
                    on_state=lambda s, m: states.append((s, m)))
p = Pipeline(DemoSource(seed=1, size=(96, 128), fps=0), pred, InspectOptions(), rec, on_result=results.append,
             on_state=lambda s, m: states.append((s, m)), outputs=[plc])
p.start()
deadline = time.time() + 60
while time.time() < deadline and rec.refused < 10:
    time.sleep(0.02)
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))             # room again
n = len(results)
while time.time() < deadline and not any(r.verdict != "ERROR" for r in results[n:]):
    time.sleep(0.02)
p.stop()
rec.close(timeout=10)
print(json.dumps(dict(verdicts=[r.verdict for r in results], errors=[r.error for r in results], told=plc.told,
                      refused=rec.refused, written=rec.written, spooled=rec.spooled, lost=rec.lost, states=states)))
"""


def test_when_no_record_can_be_kept_the_station_stops_judging_and_says_so(tmp_path):
    """Records that can be neither written (a full disk) nor kept (memory at its bound, the spool
    unusable): every frame is ERROR "records cannot be written", to the PLC too, never judged without
    its record; once there is room the line judges again, and every judged frame has its row."""
    import json

    blocked = tmp_path / "a file"
    blocked.write_text("a spool folder that cannot be made")
    db = tmp_path / "r.sqlite"
    r = subprocess.run([sys.executable, "-c", _STOP_JUDGING.format(root=str(ROOT), tests=str(ROOT / "tests")),
                        str(tmp_path), str(db), str(blocked)], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    v, errors = out["verdicts"], out["errors"]
    refused = [i for i, e in enumerate(errors) if e and e.startswith("records cannot be written")]
    assert len(refused) == out["refused"] >= 10
    first, last = refused[0], refused[-1]
    assert all(x == "ERROR" for x in v[first:last + 1])                   # not one frame judged meanwhile
    assert any(x in ("OK", "NG") for x in v[:first]) and any(x in ("OK", "NG") for x in v[last + 1:])
    assert out["told"] == v                                               # the PLC got ERROR for each
    assert any(s == "warning" and "stops judging" in m for s, m in out["states"])
    assert out["lost"] == out["spooled"] == 0
    rows = sqlite3.connect(db).execute("SELECT COUNT(*) FROM inspections").fetchone()[0]
    assert rows == out["written"] == len(v) - out["refused"]             # every judged frame has its row


def test_inspect_on_a_full_disk_says_so_while_it_runs_and_loses_no_row(tmp_path, monkeypatch):
    """`ulimit -f` under `inspect --db`: the warning comes on stderr while frames are judged (not at
    the end); at the stop, the rows not written wait in the spool and the next writer of the database
    sends them: frames judged = rows stored."""
    import re
    import resource

    from core.inspect.records import RecordsWriter, connect
    from helpers import tiny_weights

    w = tiny_weights(tmp_path, imgsz=64)
    db = tmp_path / "r.sqlite"
    connect(db).close()                       # the file is there; its disk fills as the line runs
    env = {**os.environ, "SDGAS_HOME": str(tmp_path / "home")}
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    p = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "inspect", "--weights", str(w), "--source", "demo",
                          "--demo-fps", "0", "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (128 * 1024, hard)))
    said = []
    try:
        for line in p.stderr:
            said.append(line)
            if line.startswith("warning: records cannot be written"):
                break
        time.sleep(0.5)                       # a little longer on the full disk
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    err = "".join(said) + err
    assert said and said[-1].startswith("warning: records cannot be written") and str(db) in said[-1], err
    assert "Traceback" not in err, err
    frames = int(re.search(r"(\d+) frames:", out).group(1))
    stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM inspections").fetchone()[0]
    spool = re.search(r"wait in (\S+\.sqlite)", err)
    waiting = sqlite3.connect(spool.group(1)).execute("SELECT COUNT(*) FROM inspections").fetchone()[0] if spool else 0
    assert stored + waiting == frames and p.returncode == (1 if waiting else 0), (stored, waiting, frames, err)
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    RecordsWriter(db).close()                # room again: the next writer sends them first
    assert sqlite3.connect(db).execute("SELECT COUNT(*), COUNT(DISTINCT uid) FROM inspections").fetchone() == \
        (frames, frames)
    assert not (spool and Path(spool.group(1)).exists())


@pytest.mark.timeout(180)
def test_a_deleted_watched_folder_is_said_once_and_judging_resumes_when_it_returns(tmp_path):
    """`inspect --watch` on a folder that is deleted (a share unmounted): one warning on the console,
    one ERROR row (not two a second), and when the folder is made again its new files are judged,
    also one named like a file judged before (a camera PC that counts from 1 again)."""
    import shutil

    import cv2

    from helpers import record_rows, tiny_weights

    def rows():
        return record_rows(db)

    def wait_rows(n, limit):
        deadline = time.time() + limit
        while time.time() < deadline and len(rows()) < n and p.poll() is None:
            time.sleep(0.2)
        return rows()

    w = tiny_weights(tmp_path, imgsz=64)
    folder, db = tmp_path / "in", tmp_path / "r.sqlite"
    folder.mkdir()
    cv2.imwrite(str(folder / "1.png"), np.full((64, 64, 3), 90, np.uint8))
    env = {**os.environ, "SDGAS_HOME": str(tmp_path / "home")}
    p = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "inspect", "--weights", str(w), "--source",
                          str(folder), "--watch", "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(p.stderr), daemon=True)
    reader.start()
    try:
        assert len(wait_rows(1, 90)) == 1, err
        time.sleep(0.5)
        shutil.rmtree(folder)
        time.sleep(4.0)                        # gone a while: polled with back-off
        gone = rows()
        folder.mkdir()
        for n in ("1.png", "2.png"):
            cv2.imwrite(str(folder / n), np.full((64, 64, 3), 120, np.uint8))
        back = wait_rows(4, 30)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
        reader.join(5)
    finally:
        p.kill()
    said = "".join(err)
    assert p.returncode == 0 and "Traceback" not in said, said[-2000:]
    assert len(gone) == 2 and gone[1][1] == "ERROR" and gone[1][2].startswith(f"watched folder gone: {folder}"), gone
    assert said.count("warning: watched folder gone") == 1 and "is back" in said, said
    assert back[:2] == gone and sorted(f for f, v, _ in back[2:] if v in ("OK", "NG")) == ["1.png", "2.png"], back


# ------------------------------------------------------------------------------------------ PostgreSQL
def _pg_rec(i):
    from core.inspect.records import InspectionRecord

    return InspectionRecord(ts=f"2026-12-02T08:00:{i:02d}", source="cam0", frame=str(i), verdict="OK", line="L1")


def test_a_foreign_postgres_table_of_our_name_is_refused_and_left_as_it_was(pg):
    import psycopg

    from core.inspect.records import RecordsWriter

    with psycopg.connect(pg.url, autocommit=True) as con:
        con.execute("CREATE TABLE inspections (id SERIAL PRIMARY KEY, customer TEXT, amount NUMERIC)")
        con.execute("INSERT INTO inspections (customer, amount) VALUES ('ACME', 12.5)")
    with pytest.raises(ValueError, match="table 'inspections' of another program") as e:
        RecordsWriter(pg.url, line="L1")
    assert "ts" in str(e.value) and "verdict" in str(e.value)
    with psycopg.connect(pg.url) as con:
        cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = "
                                          "'inspections' ORDER BY ordinal_position")]
        assert cols == ["id", "customer", "amount"]                      # nothing added to their table
        assert con.execute("SELECT customer FROM inspections").fetchall() == [("ACME",)]
        assert con.execute("SELECT to_regclass('detections'), to_regclass('audit')").fetchone() == (None, None)


def test_rows_waiting_for_postgres_are_sent_after_the_password_changed(pg, tmp_path, monkeypatch):
    """The spool is named by server, database, user and line: a new password finds the rows."""
    import psycopg

    from core.inspect.records import RecordsWriter

    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    host = pg.url.split("@", 1)[1]
    w = RecordsWriter(f"postgresql://sdgas:old-secret@{host}", batch=5, interval=0.05, line="L1")
    pg.stop()
    for i in range(12):
        w.add(_pg_rec(i))
    w.close(timeout=2)
    assert w.kept_in_outbox == 12 and w.outbox.is_file()
    assert "old-secret" not in str(w.outbox) and not any("old-secret" in p.name for p in w.outbox.parent.iterdir())
    pg.start()
    w = RecordsWriter(f"postgresql://sdgas:new-secret@{host}", batch=5, interval=0.05, line="L1")
    w.close()
    assert w.written == 12 and not w.outbox.exists()
    with psycopg.connect(pg.url) as con:
        assert con.execute("SELECT COUNT(*) FROM inspections WHERE line = 'L1'").fetchone()[0] == 12
