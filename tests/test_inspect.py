"""Inspection core: recipes, records, sources, the pipeline and the headless `inspect` command."""
import os
import sqlite3
import time

import cv2
import numpy as np
import pytest

from core.cli import main
from core.data.synth import make_image
from core.infer.predictor import Predictor
from core.inspect.pipeline import Pipeline
from core.inspect.recipe import Recipe, RecipeStore
from core.inspect.record_schema import SCHEMA_VERSION
from core.inspect.records import RecordsWriter, connect
from core.inspect.sources import DemoSource, FolderSource, Frame, Source, open_source
from helpers import tiny_weights


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    return Predictor(str(tiny_weights(tmp_path_factory.mktemp("w"))), "cpu", conf=0.001)


def test_recipe_rules_and_store(tmp_path):
    names = ["a", "b"]
    boxes = np.array([[0, 0, 10, 10], [0, 0, 2, 2], [0, 0, 10, 10.]])
    scores = np.array([0.5, 0.9, 0.2])
    classes = np.array([0, 1, 1])
    r = Recipe("line-1", conf=0.3, class_conf={"b": 0.1}, min_area=0, class_min_area={"b": 20})
    v, m = r.verdict(boxes, scores, classes, names)
    assert v == "NG" and m.tolist() == [True, False, True]
    assert Recipe(conf=0.95).verdict(boxes, scores, classes, names)[0] == "OK"
    assert Recipe().verdict(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), names)[0] == "OK"
    store = RecipeStore(tmp_path)
    store.save(r)
    assert store.names() == ["line-1"] and store.load("line-1") == r
    with pytest.raises(ValueError):
        Recipe("x", conf=1.5).validate()
    with pytest.raises(ValueError, match="no recipe"):
        store.load("nope")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        store.load("bad")


def test_records_batches_and_reads_while_running(tmp_path):
    from core.inspect.records import InspectionRecord

    db = tmp_path / "r.db"
    w = RecordsWriter(db, batch=5, interval=0.1)
    for i in range(12):
        w.add(InspectionRecord("2026-01-01T00:00:00Z", "demo", str(i), "NG" if i % 2 else "OK", 1,
                               detections=[(0, "a", 0.9, 1, 2, 3, 4, 1)]))
    time.sleep(0.6)
    other = sqlite3.connect(db)  # another tool reads committed rows while the app writes
    assert other.execute("select count(*) from inspections").fetchone()[0] >= 10
    w.close()
    assert other.execute("select count(*) from inspections").fetchone()[0] == 12
    assert other.execute("select count(*) from detections").fetchone()[0] == 12
    assert connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def run_pipeline(source, predictor, recipe, db, **kw):
    from dataclasses import fields

    from core.inspect.options import InspectOptions

    rec = RecordsWriter(db)
    results = []
    opts = {k: kw.pop(k) for k in list(kw) if k in {f.name for f in fields(InspectOptions)}}
    p = Pipeline(source, predictor, InspectOptions(recipe=recipe, **opts), rec, on_result=results.append, **kw)
    p.start()
    return p, rec, results


def test_demo_every_frame_judged(tmp_path, predictor):
    src = DemoSource(seed=1, size=(120, 160), fps=0)
    assert not src.live
    p, rec, results = run_pipeline(src, predictor, Recipe(conf=0.001), tmp_path / "d.db", max_frames=6,
                                   save_ng=str(tmp_path / "ng"))
    assert p.wait(60)
    p.stop()
    rec.close()
    assert len(results) == 6 and [r.frame.index for r in results] == list(range(6))
    con = sqlite3.connect(tmp_path / "d.db")
    assert con.execute("select count(*) from inspections").fetchone()[0] == 6
    assert con.execute("select count(*) from inspections where verdict='NG'").fetchone()[0] == 6
    assert con.execute("select count(*) from detections").fetchone()[0] > 0
    paths = [r[0] for r in con.execute("select image_path from inspections")]
    assert all(paths) and all(cv2.imread(x) is not None for x in paths)
    st = p.stats.summary()
    assert st["frames"] == 6 and st["median_inference_ms"] > 0


def test_folder_with_corrupt_files_gives_error_rows(tmp_path, predictor):
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), make_image(0, (64, 64))[0])
    (folder / "b.png").write_bytes(b"")
    (folder / "c.jpg").write_bytes(b"\xff\xd8 truncated")
    cv2.imwrite(str(folder / "d.png"), make_image(1, (64, 64))[0])
    p, rec, results = run_pipeline(FolderSource(str(folder)), predictor, Recipe(), tmp_path / "f.db")
    assert p.wait(60)
    p.stop()
    rec.close()
    rows = sqlite3.connect(tmp_path / "f.db").execute("select frame, verdict, error from inspections order by id").fetchall()
    assert [r[0] for r in rows] == ["a.png", "b.png", "c.jpg", "d.png"]
    assert rows[1][1] == "ERROR" and "empty" in rows[1][2]
    assert rows[2][1] == "ERROR" and rows[2][2]
    assert rows[0][1] in ("OK", "NG") and rows[3][1] in ("OK", "NG")


class FlakyCamera(Source):
    """Opens, gives two frames, then the 'cable is pulled': every read raises."""

    live = True
    name = "flaky"

    def __init__(self):
        self.reads = 0
        self.opens = 0

    def open(self):
        self.opens += 1

    def read(self):
        self.reads += 1
        if self.reads > 2:
            raise ConnectionError("camera unplugged")
        time.sleep(0.01)
        return Frame(self.reads, str(self.reads), make_image(self.reads, (64, 64))[0], None, time.monotonic(), "flaky")


def test_source_failure_is_no_signal_never_ok(tmp_path, predictor):
    cam = FlakyCamera()
    states = []
    p, rec, results = run_pipeline(cam, predictor, Recipe(), tmp_path / "c.db",
                                   on_state=lambda s, m: states.append((s, m)))
    deadline = time.time() + 20
    while time.time() < deadline and sum(r.verdict == "ERROR" for r in results) < 2:
        time.sleep(0.1)
    p.stop()
    rec.close()
    assert any(s == "no signal" and "camera unplugged" in m for s, m in states)
    errors = [r for r in results if r.verdict == "ERROR"]
    assert errors and all(r.frame.image is None for r in errors)
    assert all(r.verdict != "OK" for r in results if r.frame.image is None)
    assert cam.opens >= 2  # it reconnects with back-off


def test_open_source_dispatch(tmp_path):
    assert isinstance(open_source("demo"), DemoSource)
    assert open_source("0").live
    with pytest.raises(FileNotFoundError):
        open_source(str(tmp_path / "missing.png"))
    with pytest.raises(RuntimeError, match="harvesters|no GenTL producer"):   # without the SDK, or the .cti
        src = open_source("genicam:/nonexistent.cti")
        src.open()


def test_headless_inspect_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    w = tiny_weights(tmp_path)
    db = tmp_path / "i.db"
    assert main(["inspect", "--weights", str(w), "--source", "demo", "--db", str(db), "--max-frames", "5",
                 "--device", "cpu", "--save-ng", str(tmp_path / "ng"), "--conf", "0.001"]) == 0
    out = capsys.readouterr().out
    assert "5 frames" in out and "records: 5 rows" in out
    assert sqlite3.connect(db).execute("select count(*) from inspections").fetchone()[0] == 5
    assert main(["inspect", "--weights", str(tmp_path / "nope.pt"), "--source", "demo", "--db", str(db)]) == 1


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_memory_stays_flat_with_live_source(tmp_path, predictor):
    """A fast live source with large frames runs through a session for seconds: the process's
    resident memory stays flat (a leak of every judged frame would add n x 0.9 MB)."""
    from core.inspect.session import InspectionSession

    src = DemoSource(seed=2, size=(480, 640), fps=200)
    from core.inspect.options import InspectOptions

    s = InspectionSession(InspectOptions(source=src, db=str(tmp_path / "m.db")), predictor).start()
    try:
        time.sleep(2.0)  # warm-up: allocator pools, first inferences, the records writer
        rss0, n0 = _rss_mb(), s.snapshot().total
        peak = rss0
        t_end = time.time() + 5.0
        while time.time() < t_end:
            time.sleep(0.25)
            peak = max(peak, _rss_mb())
        n = s.snapshot().total - n0
    finally:
        s.stop()
    frame_mb = 480 * 640 * 3 / 2**20
    assert n >= 30, n
    assert peak - rss0 < min(25.0, 0.5 * n * frame_mb), (rss0, peak, n)
    assert s.pipeline._grabber.dropped > 0  # newest frame only: older ones were dropped, not queued


@pytest.mark.slow
def test_records_survive_a_killed_process(tmp_path):
    """Rows committed before the app dies stay readable (WAL, batched commits)."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    w = tiny_weights(tmp_path)
    db = tmp_path / "k.db"
    p = subprocess.Popen([sys.executable, str(root / "main.py"), "inspect", "--weights", str(w), "--source", "demo",
                          "--db", str(db), "--device", "cpu"], cwd=root, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env={**__import__("os").environ, "SDGAS_HOME": str(tmp_path)})
    deadline = time.time() + 90
    n = 0
    while time.time() < deadline and n < 5:
        time.sleep(0.5)
        try:
            n = sqlite3.connect(db).execute("select count(*) from inspections").fetchone()[0]
        except sqlite3.Error:
            n = 0
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    assert n >= 5
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("select count(*) from inspections").fetchone()[0] >= n
    # a batch is one transaction: no detection without its inspection, no inspection short of its defects
    assert con.execute("select count(*) from detections d left join inspections i on d.inspection_id = i.id "
                       "where i.id is null").fetchone()[0] == 0
    assert con.execute("select count(*) from inspections i where n_defects != (select count(*) from detections d "
                       "where d.inspection_id = i.id and d.is_defect = 1)").fetchone()[0] == 0


class FrozenCamera(Source):
    """A stuck driver: the very same image, forever."""

    live = True
    name = "frozen"

    def __init__(self):
        self.img = make_image(3, (64, 64))[0]
        self.i = 0

    def read(self):
        self.i += 1
        time.sleep(0.002)
        return Frame(self.i, str(self.i), self.img.copy(), None, time.monotonic(), "frozen")


def test_frozen_camera_is_flagged_not_judged_ok(tmp_path, predictor):
    states = []
    p, rec, results = run_pipeline(FrozenCamera(), predictor, Recipe(), tmp_path / "z.db",
                                   on_state=lambda s, m: states.append(s))
    deadline = time.time() + 20
    while time.time() < deadline and not any(r.verdict == "ERROR" for r in results):
        time.sleep(0.05)
    p.stop()
    rec.close()
    assert "frozen" in states
    err = [r for r in results if r.verdict == "ERROR"]
    assert err and "frozen" in err[0].error


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tif"])
def test_a_file_written_slowly_into_a_watched_folder_is_read_once_it_is_whole(tmp_path, ext):
    """A camera PC that takes 1.5 s to write a frame over a share: the frame is judged whole, once
    (a PNG was judged ERROR 'not decodable' for good, a JPEG judged half grey)."""
    import threading

    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = cv2.imencode(ext, img)[1].tobytes()

    def write_slowly():
        with open(tmp_path / f"slow{ext}", "wb") as f:
            for i in range(0, len(data), len(data) // 10 + 1):
                f.write(data[i:i + len(data) // 10 + 1])
                f.flush()
                time.sleep(0.15)

    src = FolderSource(str(tmp_path), watch=True, poll=0.1)
    src.open()
    writer = threading.Thread(target=write_slowly)
    writer.start()
    frame = src.read()
    writer.join()
    src.interrupt()
    assert frame.error is None and frame.image.shape == (64, 64, 3), frame.error
    assert np.array_equal(frame.image, cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
    assert src.read() is None           # once: nothing else waits
