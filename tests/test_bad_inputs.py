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


@pytest.mark.parametrize("which", ["empty.pt", "random.pt", "text.pt", "code.pt", "foreign.pt", "crafted.pt"])
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
