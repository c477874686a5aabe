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
