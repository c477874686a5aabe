"""Industrial cameras on real emulated devices: pypylon's camera emulation (``PYLON_CAMEMU``) and
harvesters with the GenTL producer the ``genicam`` wheel ships (``viky.cti``). No hardware.

What the camera did is read back through the vendor SDK itself (pylon's node map, pylon's own
pixel converter), not through our bookkeeping.
"""
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pylon = pytest.importorskip("pypylon.pylon")
genicam_pkg = pytest.importorskip("genicam")
pytest.importorskip("harvesters")

from core.infer.predictor import Detections  # noqa: E402
from core.inspect.cameras import list_cameras  # noqa: E402
from core.inspect.cameras.pixels import known_formats, to_bgr  # noqa: E402
from core.inspect.cameras.source import CameraSource  # noqa: E402
from core.inspect.options import InspectOptions  # noqa: E402
from core.inspect.outputs.handshake import TriggerQueue, TriggerToken  # noqa: E402
from core.inspect.pipeline import Pipeline  # noqa: E402
from core.inspect.recipe import Recipe  # noqa: E402
from core.inspect.records import RecordsWriter  # noqa: E402

VIKY = str(Path(genicam_pkg.__file__).parent / "viky.cti")


_STARTED: list = []


@pytest.fixture(autouse=True)
def emulated(monkeypatch):
    """Two emulated Basler cameras (0815-0000, 0815-0001) and the three Viky GenTL cameras; a test
    that fails midway still closes its cameras, so the next one can open them."""
    monkeypatch.setenv("PYLON_CAMEMU", "2")
    monkeypatch.setenv("GENICAM_GENTL64_PATH", str(Path(VIKY).parent))
    yield
    while _STARTED:
        _STARTED.pop().stop()


class Probe:
    """A predictor that finds nothing and notes, for each frame, what the camera's node map says
    at that moment (pypylon's own reading) when ``cam`` is set."""
    names = ["scratch"]
    model_id = "probe"

    def __init__(self):
        self.source = None
        self.seen = []

    def __call__(self, img, conf=None):
        dev = getattr(self.source, "device", None)
        exp = dev.cam.ExposureTime.Value if dev is not None and hasattr(dev, "cam") else None
        self.seen.append((img.shape, exp))
        z = np.zeros((0, 4), np.float32)
        return Detections(z, np.zeros(0, np.float32), np.zeros(0, int), self.names, img.shape[1], img.shape[0],
                          {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0})


class PLC:
    """An output that drives the inspection like the OPC UA handshake: one frame per trigger."""
    name = "plc"

    def __init__(self):
        self.trigger = TriggerQueue()
        self.results = []

    def fire(self, seq):
        self.trigger.put(TriggerToken(seq, time.monotonic()))

    def publish(self, r, rec):
        self.results.append((r.trigger.seq if r.trigger else None, r.verdict, rec))

    def close(self):
        pass


def _wait(cond, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def _run(uri, recipe=None, n=0, outputs=(), db=None, predictor=None):
    src = CameraSource(uri)
    pred = predictor or Probe()
    pred.source = src
    results, states = [], []
    recs = RecordsWriter(db) if db else None
    p = Pipeline(src, pred, InspectOptions(recipe=recipe or Recipe(), max_frames=n), recs,
                 on_result=results.append, on_state=lambda s, m: states.append((s, m)), outputs=outputs)
    _STARTED.append(p)
    return p, src, pred, results, states, recs


# ------------------------------------------------------------------------------------------ listing
def test_both_backends_list_their_emulated_cameras():
    cams, problems = list_cameras()
    uris = {c.uri for c in cams}
    assert {"pylon://0815-0000", "pylon://0815-0001"} <= uris
    assert {"genicam://0", "genicam://1", "genicam://2"} <= uris
    assert problems == []
    assert any(c.transport == "emulation" for c in cams)


def test_cameras_command_lists_and_explains(capsys, monkeypatch):
    from core.cli import main

    assert main(["cameras"]) == 0
    out = capsys.readouterr().out
    assert "pylon://0815-0000" in out and "genicam://1" in out
    monkeypatch.setenv("GENICAM_GENTL64_PATH", "")
    assert main(["cameras"]) == 0
    out = capsys.readouterr().out
    assert "genicam: no GenTL producer" in out and "pylon://0815-0001" in out


def test_a_camera_not_there_is_a_clear_error():
    src = CameraSource("pylon://NOPE-123")
    with pytest.raises(RuntimeError, match="pylon://NOPE-123: no such camera .*0815-0000"):
        src.open()
    with pytest.raises(RuntimeError, match="trigger=sometimes"):
        CameraSource("pylon://0815-0000?trigger=sometimes")


# ------------------------------------------------------------------------------------------ pylon
def test_exposure_gain_and_roi_are_written_and_read_back_by_pylon():
    cam = {"ExposureTime": 4321.0, "Gain": 6.0, "Width": 320, "Height": 200, "OffsetX": 16, "OffsetY": 8,
           "AcquisitionFrameRate": 25.0}
    p, src, pred, results, states, _ = _run("pylon://0815-0001?trigger=software", Recipe(camera=cam), n=3)
    p.start()
    assert p.wait(20)
    c = src.device.cam
    assert c.ExposureTime.Value == pytest.approx(4321.0, abs=0.1) and c.Gain.Value == pytest.approx(6.0, abs=0.1)
    assert (c.Width.Value, c.Height.Value, c.OffsetX.Value, c.OffsetY.Value) == (320, 200, 16, 8)
    assert c.AcquisitionFrameRate.Value == pytest.approx(25.0) and c.AcquisitionFrameRateEnable.Value
    assert c.TriggerMode.Value == "On" and c.TriggerSource.Value == "Software"
    p.stop()
    assert [r.frame.image.shape for r in results] == [(200, 320, 3)] * 3
    assert src.applied["ExposureTime"] == pytest.approx(4321.0, abs=0.1)


def test_software_trigger_count_equals_frames_judged_and_never_an_older_buffered_frame(tmp_path):
    plc = PLC()
    p, src, pred, results, states, recs = _run("pylon://0815-0000?trigger=software", outputs=[plc],
                                               db=tmp_path / "r.db")
    p.start()
    time.sleep(0.3)
    assert results == []                                   # no trigger, nothing judged
    for k in range(1, 21):
        if k % 5 == 0:   # frames left in the camera's buffers (a trigger that came from elsewhere)
            src.device.cam.TriggerSoftware.Execute()
            src.device.cam.TriggerSoftware.Execute()
            time.sleep(0.05)
        plc.fire(k)
        assert _wait(lambda: len(results) == k)
    time.sleep(0.3)
    p.stop()
    recs.close()
    assert len(results) == 20 and [s for s, _, _ in plc.results] == list(range(1, 21))
    ids = [r.frame.camera_frame_id for r in results]
    assert ids == sorted(ids) and len(set(ids)) == 20
    # after the extra frames (the camera takes one or two: a trigger while it exposes is dropped),
    # the judged frame is the newest: the ids skipped are exactly the stale frames thrown away
    jumps = [b - a - 1 for a, b in zip(ids, ids[1:])]
    assert [j > 0 for j in jumps] == [k % 5 == 4 for k in range(1, 20)]
    assert src.stale == sum(jumps) >= 4
    rows = sqlite3.connect(tmp_path / "r.db").execute("select camera_frame_id, verdict from inspections").fetchall()
    assert [r[0] for r in rows] == ids and {r[1] for r in rows} == {"OK"}


def test_hardware_trigger_judges_every_frame_and_records_lost_ones_as_errors(tmp_path):
    """The test plays the line's sensor: the camera is triggered from outside the pipeline (its
    TriggerSource is the software line here, the emulation has no wired Line1)."""
    p, src, pred, results, states, recs = _run("pylon://0815-0000?trigger=hardware&line=Software",
                                               Recipe(camera={"ExposureTime": 100.0}), db=tmp_path / "r.db")
    p.start()
    cam = src.device.cam
    assert cam.TriggerMode.Value == "On"
    cam.AcquisitionStatusSelector.Value = "FrameTriggerWait"
    for k in range(30):
        if k == 10:
            cam.ForceFailedBufferCount.Value = 3
            cam.ForceFailedBuffer.Execute()
        assert _wait(lambda: cam.AcquisitionStatus.Value, 5)     # the camera waits for a trigger (a real
        cam.TriggerSoftware.Execute()                            # camera drops one that comes while busy)
        assert _wait(lambda: src.index == k + 1, 5)
    assert _wait(lambda: len(results) >= 30)
    time.sleep(0.3)
    p.stop()
    recs.close()
    assert len(results) == 30                               # every frame the camera delivered
    errors = [r for r in results if r.verdict == "ERROR"]
    assert len(errors) == 3 and all("lost in transport: buffer incomplete" in r.error for r in errors)
    assert src.lost == 3 and any("3 frame(s) lost" in m for s, m in states if s == "warning")
    assert [r.frame.camera_frame_id for r in results] == list(range(30))
    db = sqlite3.connect(tmp_path / "r.db")
    assert db.execute("select count(*) from inspections where verdict='ERROR' and error like 'lost in transport%'"
                      ).fetchone()[0] == 3
    assert db.execute("select count(distinct camera_frame_id) from inspections").fetchone()[0] == 30


def test_gaps_in_frame_ids_are_counted_and_recorded():
    from core.inspect.cameras.base import Grab

    src = CameraSource("pylon://0815-0000?trigger=hardware")
    img = np.zeros((4, 4), np.uint8)
    for fid in (5, 6, 9, 10):
        src._take(Grab(img, "Mono8", 4, 4, fid, 0))
    out = list(src._out)
    assert [f.camera_frame_id for f in out] == [5, 6, 7, 8, 9, 10] and src.lost == 2
    assert [f.error is not None for f in out] == [False, False, True, True, False, False]
    assert "frame id 7 never arrived" in out[2].error


@pytest.mark.parametrize("fmt", ["Mono8", "Mono12", "BayerRG8", "BayerBG8", "BayerGR8", "BayerGB12", "RGB8Packed",
                                 "BGR8Packed", "BGRA8Packed"])
def test_pixel_formats_match_pylons_own_converter(fmt):
    """Our conversion of each format equals what pylon's ImageFormatConverter makes of the same buffer."""
    tl = pylon.TlFactory.GetInstance()
    cam = pylon.InstantCamera(tl.CreateDevice(next(d for d in tl.EnumerateDevices() if d.GetSerialNumber() == "0815-0001")))
    cam.Open()
    try:
        cam.Width.Value, cam.Height.Value, cam.PixelFormat.Value = 64, 48, fmt
        r = cam.GrabOne(2000)
        conv = pylon.ImageFormatConverter()
        conv.OutputPixelFormat = pylon.PixelType_BGR8packed
        want = conv.Convert(r).GetArray()
        got = to_bgr(np.frombuffer(bytes(r.GetBuffer()), np.uint8), fmt, r.GetWidth(), r.GetHeight())
        r.Release()
    finally:
        cam.Close()
    assert got.shape == want.shape == (48, 64, 3) and got.dtype == np.uint8
    inner = (slice(2, -2), slice(2, -2))     # debayering differs at the border only
    assert np.abs(got[inner].astype(int) - want[inner].astype(int)).max() <= (8 if "Bayer" in fmt else 1)


def test_an_unknown_pixel_format_is_an_error_that_names_it(tmp_path):
    assert "RGB16Packed" not in known_formats()
    p, src, pred, results, states, recs = _run("pylon://0815-0001?trigger=software",
                                               Recipe(camera={"PixelFormat": "RGB16Packed", "Width": 64,
                                                              "Height": 48}), n=2, db=tmp_path / "r.db")
    p.start()
    assert p.wait(20)
    p.stop()
    recs.close()
    assert [r.verdict for r in results] == ["ERROR", "ERROR"]
    assert "pixel format RGB16Packed is not supported" in results[0].error and "Mono8" in results[0].error
    assert any("RGB16Packed is not supported" in m for s, m in states if s == "warning")
    assert pred.seen == []                               # never judged


def test_a_read_only_or_absent_feature_is_reported_not_raised():
    from core.inspect.cameras import settings

    src = CameraSource("pylon://0815-0000")
    src.open()
    try:
        dev = src.device
        assert dev.get("SensorWidth").access == "ro" and dev.get("NoSuchFeature").access == "absent"
        assert dev.get("TriggerSoftware").kind == "command"
        # Width is locked while the camera acquires (TLParamsLocked): refused, named, no exception
        back, problems = settings.apply(dev, {"Width": 128, "ExposureTime": 2000})
        assert any("Width is read-only now" in m for m in problems)
        assert back["ExposureTime"] == pytest.approx(2000) and dev.cam.ExposureTime.Value == pytest.approx(2000)
    finally:
        src.close()


def test_a_recipe_switch_changes_exposure_before_the_first_frame_judged_under_it(tmp_path):
    """Thresholds and camera settings switch together: every frame judged under B was taken with B's
    exposure (pylon's node map, read as the frame is judged), and the audit trail has both."""
    from core.inspect.session import InspectionSession

    a = Recipe(name="A", conf=0.5, camera={"ExposureTime": 1000.0, "Gain": 1.0})
    b = Recipe(name="B", conf=0.3, camera={"ExposureTime": 9000.0, "Gain": 3.0})
    from core.inspect.sources import open_source

    pred = Probe()
    pred.source = open_source("pylon://0815-0000?trigger=software")   # read from the first frame on
    seen = []
    s = InspectionSession(InspectOptions(source=pred.source, recipe=a, db=str(tmp_path / "r.db")), pred,
                          on_result=lambda r: seen.append((r.recipe.name, pred.seen[-1][1] if pred.seen else None)))
    s.start()
    _STARTED.append(s)
    assert _wait(lambda: len(seen) >= 5)
    s.set_recipe(b)
    n = len(seen)
    assert _wait(lambda: len(seen) >= n + 5)
    s.stop()
    names = [x[0] for x in seen]
    k = names.index("B")
    assert set(names[k:]) == {"B"}                          # from the switch on, B only
    assert {e for _, e in seen[:k]} == {1000.0} and {e for _, e in seen[k:]} == {9000.0}
    db = sqlite3.connect(tmp_path / "r.db")
    audit = db.execute("select what, new_value from audit order by id").fetchall()
    assert any(w == "recipe" and '"ExposureTime": 9000.0' in v for w, v in audit)
    assert any(w.startswith("camera pylon://0815-0000") and '"ExposureTime": 9000.0' in v for w, v in audit)


def test_a_pylon_camera_that_vanishes_and_returns_is_never_ok_meanwhile(tmp_path, monkeypatch):
    """The device is removed (pylon's removal callback, and it no longer enumerates), then comes
    back: NO SIGNAL and ERROR rows meanwhile, reopened with back-off, settings written again."""
    cam = {"ExposureTime": 3333.0, "Width": 96, "Height": 64}
    p, src, pred, results, states, recs = _run("pylon://0815-0001?trigger=hardware&line=Software",
                                               Recipe(camera=cam), db=tmp_path / "r.db")
    p.start()
    first = src.device

    def sensor(stop):   # the line keeps triggering whatever camera is there
        while not stop.is_set():
            try:
                src.device.cam.TriggerSoftware.Execute()
            except Exception:  # noqa: BLE001 - no camera at the moment
                pass
            time.sleep(0.05)

    stop = threading.Event()
    t = threading.Thread(target=sensor, args=(stop,), daemon=True)
    t.start()
    assert _wait(lambda: len(results) >= 5)
    monkeypatch.setenv("PYLON_CAMEMU", "0")         # it no longer enumerates ...
    first.cam.FirePnPCallback.Execute()             # ... and pylon reports it removed
    assert _wait(lambda: any(s == "no signal" for s, _ in states))
    time.sleep(1.5)
    assert src.device is None
    monkeypatch.setenv("PYLON_CAMEMU", "2")         # back
    assert _wait(lambda: src.device is not None and src.device is not first)
    n = len(results)
    assert _wait(lambda: sum(r.verdict == "OK" for r in results[n:]) >= 3)
    stop.set()
    p.stop()
    recs.close()
    verdicts = [r.verdict for r in results]
    gone = verdicts.index("ERROR")
    assert all("no signal" in r.error for r in results if r.verdict == "ERROR")
    assert sum(v == "ERROR" for v in verdicts) >= 2            # the loss, and a failed reopen
    assert all(r.frame.image is None for r in results[gone:] if r.verdict == "ERROR")
    assert src.reconnects == 1 and src.device is None          # closed by stop
    assert pred.seen[-1][0] == (64, 96, 3)                     # the ROI written again on the new device
    assert any(s == "live" and "settings written" in m for s, m in states)


# ------------------------------------------------------------------------------------------ harvesters
def test_harvesters_acquires_from_the_genicam_wheels_producer():
    """Acquisition start and stop, frames, width/height and pixel format, through GenTL."""
    for fmt, width in (("Mono8", 320), ("RGBa8", 200)):
        p, src, pred, results, states, _ = _run("genicam://1", Recipe(camera={"PixelFormat": fmt, "Width": width}), n=4)
        p.start()
        assert p.wait(20)
        nm = src.device.ia.remote_device.node_map
        assert (nm.PixelFormat.value, nm.Width.value) == (fmt, width)
        assert src.device.ia.is_acquiring()
        p.stop()
        assert [r.frame.image.shape for r in results] == [(400, width, 3)] * 4
        ids = [r.frame.camera_frame_id for r in results]
        assert ids == sorted(ids) and all(r.verdict == "OK" for r in results)


def test_harvesters_absent_and_read_only_features_are_reported():
    p, src, pred, results, states, _ = _run("genicam://0", Recipe(camera={"ExposureTime": 500.0, "Width": 300}), n=2)
    p.start()
    assert p.wait(20)
    dev = src.device
    assert dev.get("ExposureTime").access == "absent" and dev.get("PayloadSize").access == "ro"
    p.stop()
    assert any("no feature ExposureTime" in m for s, m in states if s == "warning")
    assert [r.frame.image.shape for r in results] == [(400, 300, 3)] * 2   # the rest applied, frames judged
    assert src.applied == {"ExposureTime": None, "Width": 300, "TriggerMode": None}


def test_harvesters_unknown_pixel_format_is_a_clear_error(monkeypatch):
    """Viky delivers only Mono8 and RGBa8: the table forgets RGBa8 to show the message on a real buffer."""
    from core.inspect.cameras import pixels

    monkeypatch.delitem(pixels._COLOR, "RGBa8")
    p, src, pred, results, states, _ = _run("genicam://2", Recipe(camera={"PixelFormat": "RGBa8"}), n=2)
    p.start()
    assert p.wait(20)
    p.stop()
    assert [r.verdict for r in results] == ["ERROR", "ERROR"]
    assert "pixel format RGBa8 is not supported" in results[0].error


def test_a_genicam_camera_that_vanishes_and_returns_is_never_ok_meanwhile():
    """The producer drops the device under the acquirer (as on a pulled cable): NO SIGNAL, ERROR,
    reopened with its settings."""
    p, src, pred, results, states, _ = _run("genicam://0", Recipe(camera={"Width": 256}))
    p.start()
    assert _wait(lambda: len(results) >= 3)
    src.device.ia.destroy()
    assert _wait(lambda: src.reconnects == 1 and len(results) >= 8)
    p.stop()
    verdicts = [r.verdict for r in results]
    assert "ERROR" in verdicts and verdicts[-1] == "OK"
    assert any(s == "no signal" for s, _ in states)
    assert all(r.frame.image is None for r in results if r.verdict == "ERROR")
    assert results[-1].frame.image.shape == (400, 256, 3)


def test_a_schema_2_records_file_gains_the_camera_columns(tmp_path):
    from core.inspect.records import connect
    from core.inspect.record_types import InspectionRecord

    db = tmp_path / "v2.sqlite"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE inspections (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, source TEXT,"
                      " frame TEXT, image_path TEXT, verdict TEXT NOT NULL, n_defects INTEGER NOT NULL DEFAULT 0,"
                      " model_id TEXT, recipe_id TEXT, error TEXT, latency_ms REAL, frame_age_ms REAL, line TEXT,"
                      " uid TEXT);"
                      "INSERT INTO inspections (ts, verdict, uid) VALUES ('2026-01-01T00:00:00', 'OK', 'a');"
                      "PRAGMA user_version=2;")
    con.commit()
    con.close()
    w = RecordsWriter(db, batch=1, interval=0.01)
    w.add(InspectionRecord("2026-01-02T00:00:00", "pylon://X", "7", "ERROR", error="lost in transport",
                           part_id="p1", camera_frame_id=7, camera_ts=123456789012))
    w.close()
    con = connect(db)
    from core.inspect.record_schema import SCHEMA_VERSION

    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("SELECT part_id, camera_frame_id, camera_ts FROM inspections ORDER BY id").fetchall() == \
        [(None, None, None), ("p1", 7, 123456789012)]


class EveryNth(Probe):
    """Finds one sure defect in every n-th frame it judges."""

    def __init__(self, n):
        super().__init__()
        self.n, self.calls = n, 0

    def __call__(self, img, conf=None):
        d = super().__call__(img, conf)
        self.calls += 1
        if self.calls % self.n == 0:
            d.boxes = np.array([[1, 1, 30, 30]], np.float32)
            d.scores, d.classes = np.array([0.99], np.float32), np.array([0])
        return d


def test_two_emulated_cameras_in_one_station_give_one_verdict_per_trigger(tmp_path, monkeypatch):
    """Top and bottom of a part: each its camera, model and recipe (its own ROI and exposure); per PLC
    trigger one row per view sharing a part id, and one result to the PLC: NG if any view is NG."""
    from core.inspect.options import ViewOptions
    from core.inspect.recipe import RecipeStore
    from core.inspect.session import InspectionSession

    store = RecipeStore(tmp_path / "recipes")
    store.save(Recipe(name="top", camera={"Width": 160, "Height": 120, "ExposureTime": 2000.0}))
    store.save(Recipe(name="bottom", camera={"Width": 96, "Height": 64, "ExposureTime": 7000.0}))
    views = (ViewOptions("top", "pylon://0815-0000?trigger=software", recipe="top"),
             ViewOptions("bottom", "pylon://0815-0001?trigger=software", recipe="bottom"))
    top, bottom = EveryNth(3), EveryNth(4)
    plc = PLC()
    parts = []
    import core.inspect.outputs

    monkeypatch.setattr(core.inspect.outputs, "open_outputs", lambda *a, **k: [plc])   # the PLC handshake
    s = InspectionSession(InspectOptions(views=views, db=str(tmp_path / "r.db"), outputs={"opcua": "plc"}), top,
                          on_result=parts.append, recipe_store=store, view_predictors=[top, bottom])
    s.start()
    _STARTED.append(s)
    time.sleep(0.3)
    assert parts == []                                                       # no trigger, no part
    for k in range(1, 13):
        plc.fire(k)
        assert _wait(lambda: len(parts) == k)
    time.sleep(0.2)
    cams = [v.source.device.cam for v in s.pipeline.views]
    assert [c.ExposureTime.Value for c in cams] == [2000.0, 7000.0]
    s.stop()
    assert [seq for seq, _, _ in plc.results] == list(range(1, 13))           # one result per trigger
    want = ["NG" if k % 3 == 0 or k % 4 == 0 else "OK" for k in range(1, 13)]
    assert [v for _, v, _ in plc.results] == want
    assert [p.views[0].frame.image.shape for p in parts] == [(120, 160, 3)] * 12
    assert [p.views[1].frame.image.shape for p in parts] == [(64, 96, 3)] * 12
    db = sqlite3.connect(tmp_path / "r.db")
    rows = db.execute("select part_id, source, verdict, recipe_id from inspections order by id").fetchall()
    assert len(rows) == 24 and len({r[0] for r in rows}) == 12
    by_part = {}
    for pid, src, verdict, recipe in rows:
        by_part.setdefault(pid, []).append((src.split(" ")[0], verdict, recipe))
    assert all(sorted(x[0] for x in v) == ["pylon://0815-0000", "pylon://0815-0001"] for v in by_part.values())
    assert {x[2] for v in by_part.values() for x in v} == {"top", "bottom"}
    assert [rec.part_id for _, _, rec in plc.results] == [p.part_id for p in parts]


def test_a_station_file_runs_from_the_command_line(tmp_path, capsys, monkeypatch):
    import json

    from core.cli import main
    from helpers import tiny_weights

    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    w = tiny_weights(tmp_path, imgsz=64)
    st = tmp_path / "bolt.json"
    st.write_text(json.dumps({"views": [{"name": "top", "source": "pylon://0815-0000"},     # two vendors, free-run
                                        {"name": "side", "source": "genicam://1", "weights": str(w)}]}))
    db = tmp_path / "r.db"
    assert main(["inspect", "--weights", str(w), "--source", str(st), "--db", str(db), "--max-frames", "3",
                 "--device", "cpu"]) == 0
    rows = sqlite3.connect(db).execute("select part_id, source, verdict from inspections").fetchall()
    assert len(rows) == 6 and len({r[0] for r in rows}) == 3 and all(r[2] != "ERROR" for r in rows)
    st.write_text('{"views": [{"name": "top"}]}')
    assert main(["inspect", "--weights", str(w), "--source", str(st), "--db", str(db)]) == 1
    assert "not a station file" in capsys.readouterr().err
    st.write_text(json.dumps({"views": [{"name": "top", "source": "pylon://0815-0000?trigger=software"},
                                        {"name": "side", "source": "genicam://1"}]}))
    assert main(["inspect", "--weights", str(w), "--source", str(st), "--db", str(db)]) == 1
    assert "must share one acquisition mode" in capsys.readouterr().err


def test_the_plcs_trigger_fires_the_camera_and_its_recipe_index_switches_exposure(tmp_path, monkeypatch):
    """Through the station's OPC UA server, with an OPC UA client as the PLC: each Trigger fires the
    camera once (camera frame count = triggers = rows), and RecipeIndex switches thresholds and
    exposure together before the next frame."""
    pytest.importorskip("asyncua")
    from servers import free_port
    from test_line import _with_plc

    from core.detector import Detector
    from core.inspect.recipe import RecipeStore
    from core.settings import recipes_dir

    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    RecipeStore(recipes_dir()).save(Recipe(name="bright", conf=0.4, camera={"ExposureTime": 7777.0}))
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    db = tmp_path / "r.sqlite"
    s = Detector("demo").inspect("pylon://0815-0000?trigger=software", db=str(db), imgsz=128, outputs={"opcua": url},
                                 recipe=Recipe(name="dark", camera={"ExposureTime": 1111.0, "Width": 320,
                                                                    "Height": 240}))
    s.start()
    _STARTED.append(s)
    cam = s.pipeline.source.device.cam
    seen = []

    async def line(plc):
        out = []
        for k in range(20):
            if k == 10:
                await plc.set("RecipeIndex", 1)
                await plc.until("RecipeIndex", 1)
                assert _wait(lambda: s.recipe.name == "bright", 10)
            await plc.trigger()
            out.append(await plc.result())
            seen.append(cam.ExposureTime.Value)
        return out

    res = _with_plc(url, line)
    stats = cam.GetStreamGrabberNodeMap().GetNode("Statistic_Total_Buffer_Count").GetValue()
    s.stop()
    assert [r["InspectionId"] for r in res] == list(range(1, 21)) and all(r["ErrorCode"] == 0 for r in res)
    assert stats == 20                                              # the camera took one frame per Trigger
    assert seen == [1111.0] * 10 + [7777.0] * 10
    con = sqlite3.connect(db)
    rows = con.execute("SELECT recipe_id, camera_frame_id FROM inspections ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["dark"] * 10 + ["bright"] * 10 and [r[1] for r in rows] == list(range(20))
    who = con.execute("SELECT user, new_value FROM audit WHERE what = 'recipe' ORDER BY id DESC").fetchone()
    assert who[0].startswith("PLC") and '"ExposureTime": 7777.0' in who[1]
    cams = con.execute("SELECT new_value FROM audit WHERE what LIKE 'camera %' ORDER BY id").fetchall()
    assert '"ExposureTime": 1111.0' in cams[0][0] and '"ExposureTime": 7777.0' in cams[-1][0]


def test_a_parts_result_counts_every_views_defects_under_their_own_class_names():
    from core.inspect.frame import Frame
    from core.inspect.multiview import MultiViewPipeline, PartFrame, View

    class Fixed(Probe):
        def __init__(self, names, cls):
            super().__init__()
            self.names, self.cls = names, cls

        def __call__(self, img, conf=None):
            d = super().__call__(img, conf)
            d.boxes, d.scores, d.classes = np.array([[0, 0, 9, 9]], np.float32), np.array([0.9], np.float32), \
                np.array([self.cls])
            return d

    img = np.zeros((16, 16, 3), np.uint8)     # two views with models of their own classes (never opened)
    views = [View("top", CameraSource("pylon://A"), Fixed(["scratch", "dent"], 1), Recipe()),
             View("side", CameraSource("pylon://B"), Fixed(["crack"], 0), Recipe())]
    p = MultiViewPipeline(views)
    r = p._judge(PartFrame(0, "part-1", None, None, time.monotonic(), "x",
                           views=[Frame(0, "0", img, None, time.monotonic()), Frame(0, "0", img.copy(), None,
                                                                                   time.monotonic())]))
    assert r.verdict == "NG" and int(r.defect.sum()) == 2
    assert [r.names[int(c)] for c in r.classes] == ["dent", "crack"]
    p.stats.add(r)
    assert p.stats.per_class == {"dent": 1, "crack": 1}


def test_a_camera_is_found_by_serial_user_defined_name_or_position():
    """(pylon's emulation keeps no DeviceUserID in its device list, so the names are given here.)"""
    from core.inspect.cameras.base import Backend, CameraInfo

    found = [CameraInfo("pylon", "21900001", user_name="top"), CameraInfo("pylon", "21900002", user_name="bottom")]
    b = Backend()
    b.name = "pylon"
    assert b.find("bottom", found).serial == "21900002" and b.find("21900001", found).user_name == "top"
    assert b.find("#1", found).serial == "21900002" and b.find("", found).serial == "21900001"
    with pytest.raises(RuntimeError, match="no such camera"):
        b.find("side", found)
    from core.inspect.cameras import parse_uri
    assert parse_uri("pylon://top?trigger=hardware&line=Line2") == ("pylon", "top", {"trigger": "hardware",
                                                                                      "line": "Line2"})
    assert parse_uri("genicam://?index=2&cti=/opt/x.cti")[1] == "#2"


def test_without_the_camera_sdks_the_app_runs_and_a_camera_says_what_to_install(monkeypatch):
    import subprocess
    import sys

    code = ("import sys; import core.inspect.sources, core.inspect.recipe, core.inspect.pipeline, core.cli; "
            "print(sorted(m for m in ('pypylon', 'harvesters', 'genicam') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "[]", out.stderr                   # nothing loaded until a camera is named
    for m in ("pypylon", "pypylon.pylon", "pypylon.genicam", "harvesters", "harvesters.core"):
        monkeypatch.setitem(sys.modules, m, None)                  # as if not installed
    cams, problems = list_cameras()
    assert any("pip install pypylon" in p for p in problems) and any("pip install harvesters" in p for p in problems)
    with pytest.raises(RuntimeError, match="Basler cameras need pypylon"):
        CameraSource("pylon://0815-0000").open()


def test_a_hardware_triggered_station_pairs_each_cameras_frames_and_a_lost_one_makes_the_part_error(tmp_path):
    """One sensor triggers both cameras (played by the test): the k-th frames of each make part k; a
    buffer lost on one camera is that view's ERROR row and the part's ERROR, never OK."""
    from core.inspect.multiview import MultiViewPipeline, View

    srcs = [CameraSource(f"pylon://0815-000{i}?trigger=hardware&line=Software") for i in (0, 1)]
    views = [View(n, s, Probe(), Recipe(camera={"ExposureTime": 100.0, "Width": 64, "Height": 48}))
             for n, s in zip(("top", "bottom"), srcs)]
    parts = []
    recs = RecordsWriter(tmp_path / "r.db")
    p = MultiViewPipeline(views, InspectOptions(), recs, on_result=parts.append)
    _STARTED.append(p)
    p.start()
    cams = [s.device.cam for s in srcs]
    for c in cams:
        c.AcquisitionStatusSelector.Value = "FrameTriggerWait"
    for k in range(8):
        if k == 5:
            cams[1].ForceFailedBufferCount.Value = 1
            cams[1].ForceFailedBuffer.Execute()
        for i, c in enumerate(cams):
            assert _wait(lambda: c.AcquisitionStatus.Value, 5)
            c.TriggerSoftware.Execute()
            assert _wait(lambda: srcs[i].index == k + 1, 5)
    assert _wait(lambda: len(parts) == 8)
    p.stop()
    recs.close()
    assert [[v.frame.camera_frame_id for v in r.views] for r in parts] == [[k, k] for k in range(8)]
    assert [r.verdict for r in parts] == ["OK"] * 5 + ["ERROR"] + ["OK"] * 2
    assert "bottom: lost in transport" in parts[5].error
    rows = sqlite3.connect(tmp_path / "r.db").execute("select part_id, verdict from inspections").fetchall()
    assert len(rows) == 16 and sum(v == "ERROR" for _, v in rows) == 1


def test_a_view_whose_source_raises_makes_that_part_error_and_the_station_goes_on(tmp_path):
    """A view's read that raises (a driver error, a cable pulled) is that part's ERROR; the next parts
    are judged (it ended the view's reader thread, and the station waited for its frame forever)."""
    from core.inspect.frame import Frame, Source
    from core.inspect.multiview import MultiViewPipeline, View

    class Flaky(Source):
        live = False

        def __init__(self, fail_at):
            self.k, self.fail_at, self.name = 0, fail_at, f"flaky-{fail_at}"

        def read(self):
            k, self.k = self.k, self.k + 1
            if k >= 4:
                return None
            if k == self.fail_at:
                raise OSError("cable pulled")
            return Frame(k, str(k), np.zeros((48, 64, 3), np.uint8), None, time.monotonic(), self.name)

    views = [View("top", Flaky(-1), Probe(), Recipe()), View("bottom", Flaky(2), Probe(), Recipe())]
    parts = []
    recs = RecordsWriter(tmp_path / "r.db")
    p = MultiViewPipeline(views, InspectOptions(), recs, on_result=parts.append)
    _STARTED.append(p)
    p.start()
    assert _wait(lambda: len(parts) == 4, 20), [r.verdict for r in parts]
    p.stop()
    recs.close()
    assert [r.verdict for r in parts] == ["OK", "OK", "ERROR", "OK"]
    assert "cable pulled" in parts[2].error
