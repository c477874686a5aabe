"""Nothing silently lost or wrong: split name clashes in conversion, non-finite boxes, COCO orphans and
duplicate ids, images whose every box is invalid, foreign records files, outputs checked up front."""
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from core.data.convert import convert_dataset
from core.data.formats import DatasetError, load_dataset
from core.data.validate import validate

ROOT = Path(__file__).resolve().parents[1]


def _img(p: Path, v=100):
    p.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(p), np.full((64, 64, 3), v, np.uint8))


def _yolo(root: Path, labels: dict[str, str], names=("a", "b")) -> Path:
    for rel, txt in labels.items():
        _img(root / "images" / rel)
        lp = root / "labels" / Path(rel).with_suffix(".txt")
        lp.parent.mkdir(parents=True, exist_ok=True)
        lp.write_text(txt)
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val",
                                                    "names": list(names)}))
    return root / "data.yaml"


def _all_boxes(spec_path):
    spec = load_dataset(spec_path)
    out = {}
    for split, raws in spec.splits.items():
        samples, _ = validate(spec, split)
        out[split] = sorted((s.image.name, tuple(int(c) for c in s.classes)) for s in samples)
    return out


@pytest.mark.parametrize("fmt", ["voc", "coco"])
def test_same_file_names_in_train_and_val_both_survive_conversion(tmp_path, fmt):
    src = _yolo(tmp_path / "src", {"train/0001.png": "0 0.5 0.5 0.2 0.2\n", "val/0001.png": "1 0.3 0.3 0.2 0.2\n"})
    out, _ = convert_dataset(src, fmt, tmp_path / fmt)
    got = _all_boxes(out)
    assert [c for _, c in got["train"]] == [(0,)] and [c for _, c in got["val"]] == [(1,)]
    assert got["train"][0][0] != got["val"][0][0]          # two files, not one shared


def test_non_finite_boxes_are_problems_in_every_format(tmp_path):
    y = _yolo(tmp_path / "y", {"train/a.png": "0 nan 0.5 0.2 0.2\n", "val/b.png": "1 0.5 0.5 inf 0.2\n"})
    spec = load_dataset(y)
    for split in ("train", "val"):
        samples, rep = validate(spec, split)
        assert not samples and any("non-finite" in why for _, why in rep.problems)
    coco = tmp_path / "c"
    _img(coco / "images" / "x.png")
    (coco / "train.json").write_text('{"images": [{"id": 1, "file_name": "x.png", "width": 64, "height": 64}], '
                                     '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, '
                                     '"bbox": [NaN, 1, 5, 5]}], "categories": [{"id": 1, "name": "a"}]}')
    samples, rep = validate(load_dataset(coco), "train")
    assert not samples and any("non-finite" in why for _, why in rep.problems)
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "dataset", "check", str(y)], capture_output=True, text=True)
    assert r.returncode == 1 and "non-finite" in r.stdout


def test_coco_orphans_duplicate_ids_and_missing_keys_are_named(tmp_path):
    coco = tmp_path / "c"
    _img(coco / "images" / "x.png")
    doc = {"images": [{"id": 1, "file_name": "x.png"}],
           "annotations": [{"id": 7, "image_id": 99, "category_id": 1, "bbox": [1, 1, 5, 5]},
                           {"id": 8, "category_id": 1, "bbox": [1, 1, 5, 5]}],
           "categories": [{"id": 1, "name": "a"}]}
    (coco / "train.json").write_text(json.dumps(doc))
    _, rep = validate(load_dataset(coco), "train")
    whys = " ".join(w for _, w in rep.problems)
    assert "annotation id 7" in whys and "image_id 99" in whys and "annotation id 8" in whys
    doc["categories"] = [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]
    (coco / "train.json").write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="category id"):
        load_dataset(coco)
    doc["categories"] = [{"name": "a"}]
    (coco / "train.json").write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="integer 'id'"):
        load_dataset(coco)
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "dataset", "check", str(coco)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "integer 'id'" in r.stderr and "Traceback" not in r.stderr


def test_an_image_whose_every_box_is_invalid_is_not_trained_as_defect_free(tmp_path):
    y = _yolo(tmp_path / "y", {"train/a.png": "0 0.5 0.5 0 0\n", "val/b.png": ""})
    samples, rep = validate(load_dataset(y), "train")
    assert not samples and any("not used" in why for _, why in rep.problems)
    samples, _ = validate(load_dataset(y), "val")
    assert len(samples) == 1                     # a really empty label is defect-free


def test_a_class_name_with_a_line_break_is_refused_before_converting(tmp_path):
    src = _yolo(tmp_path / "src", {"train/a.png": "0 0.5 0.5 0.2 0.2\n", "val/b.png": ""}, names=("a\nb", "c"))
    with pytest.raises(DatasetError, match="line break"):
        convert_dataset(src, "voc", tmp_path / "v")


def test_a_foreign_sqlite_file_is_refused_and_left_as_it_was(tmp_path):
    from core.inspect.records import RecordsWriter, connect

    foreign = tmp_path / "crm.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    with pytest.raises(ValueError, match="customers"):
        RecordsWriter(foreign)
    assert foreign.read_bytes() == before and not Path(str(foreign) + "-wal").exists()
    partial = tmp_path / "partial.sqlite"
    con = sqlite3.connect(partial)
    con.execute("CREATE TABLE inspections (id INTEGER, ts TEXT)")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="lacks the column"):
        connect(partial)
    env = {**os.environ, "SDGAS_HOME": str(tmp_path / "home")}
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "inspect", "--weights", "demo", "--source", "demo",
                        "--db", str(partial), "--max-frames", "2"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1 and "lacks the column" in r.stderr


def test_predict_checks_its_outputs_first_and_keeps_same_stem_images(tmp_path):
    folder = tmp_path / "imgs"
    _img(folder / "x.jpg", 50)
    _img(folder / "x.png", 150)
    env = {**os.environ, "SDGAS_HOME": str(tmp_path / "home")}
    cli = [sys.executable, str(ROOT / "main.py"), "predict", "--weights", "demo", "--source", str(folder), "--quiet"]
    blocked = tmp_path / "a_file"          # a folder that cannot exist: its name is a file's
    blocked.write_text("x")
    r = subprocess.run(cli + ["--json", str(blocked / "out.json")], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "out.json" in r.stderr and "image(s)" not in r.stdout
    r = subprocess.run(cli + ["--save-dir", str(tmp_path / "vis")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "vis").glob("*.jpg"))) == 2


def test_options_out_of_range_are_one_line_answers(tmp_path, monkeypatch, capsys):
    """In process (12 interpreters starting torch took 38 s): an exception the CLI does not turn
    into its one line would reach pytest, and the catch-all's line is refused below."""
    from core.cli import main as cli

    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SDGAS_DEBUG", raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cases = [["predict", "--weights", "demo", "--source", "demo", "--conf", "1.5"],
             ["val", "--weights", "demo", "--data", "demo:5", "--iou", "nan"],
             ["inspect", "--weights", "demo", "--source", "demo", "--db", str(tmp_path / "r.sqlite"),
              "--max-frames", "-3"],
             ["train", "--data", "demo:5", "--imgsz", "99999"],
             ["train", "--data", "demo:5", "--epochs", "1", "--set", "lr0=abc", "--out", str(tmp_path / "t")],
             ["train", "--data", "demo:5", "--epochs", "1", "--lr0", "nan", "--out", str(tmp_path / "t")],
             ["train", "--data", "demo:5", "--epochs", "0"],
             ["val", "--weights", "demo", "--data", "demo:5", "--batch", "0"],
             ["inspect", "--weights", "demo", "--source", "demo", "--db", str(tmp_path / "r.sqlite"),
              "--demo-fps", "nan"],
             # a regular file stands in the way of each output folder: refused before any work
             ["inspect", "--weights", "demo", "--source", "demo", "--db", str(tmp_path / "r.sqlite"),
              "--save-ng", str(blocker / "ng"), "--max-frames", "2"],
             ["predict", "--weights", "demo", "--source", "demo", "--save-dir", str(blocker / "vis")],
             ["report", "--db", str(tmp_path / "r.sqlite"), "--format", "csv", "--out", str(blocker / "r.csv")]]
    for c in cases:
        try:
            rc = cli(c)
        except SystemExit as e:   # argparse's refusals
            rc = e.code
        err = capsys.readouterr().err
        assert rc != 0 and "unexpected error" not in err, (c, err)
        assert len(err.strip().splitlines()) == 1, (c, err)


def test_ctrl_c_closes_the_gui_cleanly(tmp_path):
    import signal
    import time

    env = {**os.environ, "SDGAS_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen",
           "SDGAS_NO_CAMERA_PROBE": "1"}
    p = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "gui"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0 and "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_sizes_are_checked_before_allocating(tmp_path):
    import struct
    import zlib

    import torch

    from core.data.imageio import ImageError, read_image
    from core.model.checkpoint import CheckpointError, load_model, save_checkpoint

    # a PNG whose header claims 100,000 x 100,000 pixels: refused from the header, never decoded
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(ImageError, match="too large.*not decoded"):
        read_image(tmp_path / "bomb.png")
    # a small checkpoint asking for an enormous model: refused before the model is built
    w = tmp_path / "huge.pt"
    save_checkpoint(w, {"x": torch.zeros(1)}, {"names": ["a"], "imgsz": 320,
                                               "model_config": {"name": "sdgasnet-n", "num_classes": 1,
                                                                "width": 64.0, "neck_p4": 100000}})
    with pytest.raises(CheckpointError, match="width"):
        load_model(w)


@pytest.mark.parametrize("yml, answer", [
    ({"names": {"a": 1}, "train": "images"}, "keys must be class ids"),
    ({"names": [[1, 2]], "train": "images"}, "is not a name"),
    ({"names": [], "train": "images"}, "'names' is empty"),
    ({"names": ["a"], "train": 5}, "'train': split entry 5 is not a path"),
    ({"names": ["a"], "train": ["images", {"x": 1}]}, "is not a path"),
    ({"names": ["a"], "path": 5, "train": "images"}, "'path' must be a folder path"),
    ({"names": ["a"], "train": "images", "val": "gone"}, "'val': split entry"),
])
def test_a_data_yaml_of_wrong_types_is_named_in_one_line(tmp_path, yml, answer):
    _img(tmp_path / "images" / "a.png")
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(yml))
    with pytest.raises(DatasetError, match=answer) as e:
        load_dataset(tmp_path / "data.yaml")
    assert "data.yaml" in str(e.value)


def test_a_relative_dataset_path_reads_the_same_as_an_absolute_one(tmp_path, monkeypatch):
    y = _yolo(tmp_path / "ds", {"train/a.png": "0 0.5 0.5 0.2 0.2\n", "val/b.png": ""})
    cfg = yaml.safe_load(y.read_text())
    del cfg["path"]                     # no 'path': relative to the data.yaml's folder
    y.write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(tmp_path)
    assert _all_boxes(Path("ds")) == _all_boxes(y) == {"train": [("a.png", (0,))], "val": [("b.png", ())]}


@pytest.mark.parametrize("coco, answer", [
    ({"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": ["a"]}]}, "a 'name' \\(a string\\)"),
    ({"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": "a"}], "annotations": {"x": 1}},
     "'annotations' must be a list"),
])
def test_coco_of_wrong_types_is_refused_by_name(tmp_path, coco, answer):
    (tmp_path / "train.json").write_text(json.dumps(coco))
    with pytest.raises(DatasetError, match=answer):
        load_dataset(tmp_path)


def test_coco_ids_of_wrong_types_are_problems_not_crashes(tmp_path):
    _img(tmp_path / "images" / "a.png")
    coco = {"images": [{"id": [1], "file_name": "a.png"}, {"id": 2, "file_name": "a.png"}],
            "categories": [{"id": 1, "name": "a"}],
            "annotations": [{"id": 7, "image_id": [1], "bbox": [1, 2, 3, 4], "category_id": 1},
                            {"id": 8, "image_id": 2, "bbox": [1, 2, 3, 4], "category_id": {"a": 1}}]}
    (tmp_path / "train.json").write_text(json.dumps(coco))
    samples, rep = validate(load_dataset(tmp_path), "train")
    why = " | ".join(w for _, w in rep.problems)
    assert not samples and "lacks a usable 'id'" in why and "annotation id 7" in why and "unknown class" in why


def test_duplicate_class_names_are_refused_before_converting(tmp_path):
    src = _yolo(tmp_path / "src", {"train/a.png": "1 0.5 0.5 0.2 0.2\n", "val/b.png": ""}, names=("dent", "dent"))
    with pytest.raises(DatasetError, match="more than one class id"):
        convert_dataset(src, "voc", tmp_path / "v")


def test_checkpoint_metadata_of_wrong_types_is_refused_by_name(tmp_path):
    import copy

    import torch

    from core.infer.predictor import Predictor
    from core.model.checkpoint import CheckpointError, load_checkpoint

    base = load_checkpoint(ROOT / "resources" / "models" / "demo.pt")
    cases = {"names": ({"a": 1}, "'names' is not"), "imgsz": ("abc", "'imgsz': an image size is a multiple of 32"),
             "model_config": ([1], "'model_config' is not a mapping"), "model": ([1, 2], "'model' is not a mapping"),
             "preprocess": ({"imgsz": "z"}, "'preprocess.imgsz'"), "version": ("x", "'version' is not")}
    for key, (value, answer) in cases.items():
        ck = copy.copy(base)
        ck[key] = value
        f = tmp_path / f"{key}.pt"
        torch.save(ck, f)
        with pytest.raises(CheckpointError, match=answer) as e:
            Predictor(f, device="cpu")
        assert str(f) in str(e.value)
