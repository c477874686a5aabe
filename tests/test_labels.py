"""Labelling data: format round trips, edits that keep what was not touched, states, splits, merges,
crash-safe saves, and frames collected from the line coming back as proposals."""
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from core.data.convert import convert_dataset
from core.data.formats import load_dataset
from core.data.synth import write_dataset
from core.data.annotation import Annotation, Box
from core.labels.project import LabelProject
from core.labels.splits import stratified_split, write_splits

ROOT = Path(__file__).resolve().parents[1]


def _boxes_by_stem(spec_path) -> dict:
    """{image stem: sorted [(class name, x1, y1, x2, y2)]} over every split, in pixels."""
    from core.data.validate import validate

    spec = load_dataset(spec_path)
    out = {}
    for split, raws in spec.splits.items():
        if not raws:
            continue
        samples, _ = validate(spec, split, keep_duplicates=True)
        for s in samples:
            out[s.image.stem.rstrip("_")] = sorted(
                (spec.names[int(c)], *np.round(b, 0).tolist()) for b, c in zip(s.boxes, s.classes))
    return out


@pytest.mark.slow
def test_round_trips_keep_every_image_box_and_class_of_neu_det(neu_root, tmp_path):
    ref = _boxes_by_stem(neu_root)
    assert len(ref) == 1800 and sum(map(len, ref.values())) == 4189
    y, reports = convert_dataset(neu_root, "yolo", tmp_path / "y")
    assert any("duplicate" in why and "kept" in why for r in reports for _, why in r.problems)  # reported, kept
    c, _ = convert_dataset(y, "coco", tmp_path / "c")
    v, _ = convert_dataset(c, "voc", tmp_path / "v")
    for step in (y, c, v):
        got = _boxes_by_stem(step)
        assert got.keys() == ref.keys()
        for stem, boxes in ref.items():
            assert len(got[stem]) == len(boxes), stem
            for a, b in zip(got[stem], boxes):
                assert a[0] == b[0] and np.abs(np.array(a[1:]) - np.array(b[1:])).max() <= 1, (stem, a, b)


def _yolo_set(tmp_path, n=4):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        cv2.imwrite(str(root / "images" / f"im{i}.png"), np.full((100, 200, 3), 40 * i, np.uint8))
    (root / "labels" / "im0.txt").write_text("0 0.250000 0.500000 0.100000 0.200000\n1 0.7500001234 0.5 0.2 0.2\n")
    (root / "labels" / "im1.txt").write_text("")            # defect-free
    (root / "labels" / "im2.txt").write_text("2 0.5 0.5 0.5 0.5\n")
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "images", "val": "images",
                                                    "names": ["crack", "dent", "stain"]}))
    return root


def test_yolo_edit_keeps_untouched_lines_files_and_states(tmp_path):
    root = _yolo_set(tmp_path)
    before = {p.name: p.read_bytes() for p in (root / "labels").iterdir()}
    p = LabelProject.open(root / "data.yaml")
    by = {it.image.name: it for it in p.items}
    assert [by[f"im{i}.png"].state for i in range(4)] == ["labelled", "ok", "labelled", "unlabelled"]
    ann, _ = p.load(by["im0.png"], 200, 100)
    ann.boxes[0] = ann.boxes[0].copy(x2=ann.boxes[0].x2 + 10)           # edit one box
    p.save(by["im0.png"], ann)
    lines = (root / "labels" / "im0.txt").read_text().splitlines()
    assert lines[1] == "1 0.7500001234 0.5 0.2 0.2"                     # untouched: as written
    assert lines[0].startswith("0 ") and lines[0] != "0 0.250000 0.500000 0.100000 0.200000"
    for name in ("im1.txt", "im2.txt"):
        assert (root / "labels" / name).read_bytes() == before[name]
    ann, _ = p.load(by["im2.png"], 200, 100)                            # all boxes deleted: unlabelled again
    p.save(by["im2.png"], type(ann)(200, 100, [], "labelled"))
    assert not (root / "labels" / "im2.txt").exists() and by["im2.png"].state == "unlabelled"
    ann, _ = p.load(by["im3.png"], 200, 100)                            # marked OK: an empty file
    ann.state = "ok"
    p.save(by["im3.png"], ann)
    assert (root / "labels" / "im3.txt").read_text() == "" and by["im3.png"].state == "ok"
    p2 = LabelProject.open(root / "data.yaml")
    assert {it.image.name: it.state for it in p2.items} == {"im0.png": "labelled", "im1.png": "ok",
                                                           "im2.png": "unlabelled", "im3.png": "ok"}


def test_voc_and_coco_edits_keep_every_other_field(tmp_path):
    root = tmp_path / "voc"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    cv2.imwrite(str(root / "images" / "a.jpg"), np.zeros((50, 80, 3), np.uint8))
    xml = ("<annotation><folder>x</folder><filename>a.jpg</filename><size><width>80</width><height>50</height>"
           "<depth>3</depth></size><object><name>crack</name><pose>Left</pose><truncated>1</truncated>"
           "<difficult>1</difficult><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox>"
           "</object><object><name>dent</name><pose>Front</pose><truncated>0</truncated><difficult>0</difficult>"
           "<bndbox><xmin>40</xmin><ymin>5</ymin><xmax>70</xmax><ymax>20</ymax></bndbox></object></annotation>")
    (root / "annotations" / "a.xml").write_text(xml)
    (root / "classes.txt").write_text("crack\ndent\n")
    p = LabelProject.open(root)
    it = p.items[0]
    ann, _ = p.load(it, 80, 50)
    ann.boxes[1] = ann.boxes[1].copy(x1=45.0)
    ann.boxes.append(Box(0, 10, 10, 20, 20))
    p.save(it, ann)
    r = ET.parse(root / "annotations" / "a.xml").getroot()
    objs = r.findall("object")
    assert r.findtext("folder") == "x" and len(objs) == 3
    assert (objs[0].findtext("pose"), objs[0].findtext("truncated"), objs[0].findtext("difficult")) == ("Left", "1", "1")
    assert objs[1].findtext("pose") == "Front" and objs[1].find("bndbox").findtext("xmin") == "45"
    assert objs[2].findtext("name") == "crack"

    coco = tmp_path / "coco"
    (coco / "images").mkdir(parents=True)
    cv2.imwrite(str(coco / "images" / "b.png"), np.zeros((50, 80, 3), np.uint8))
    cv2.imwrite(str(coco / "images" / "c.png"), np.zeros((50, 80, 3), np.uint8))
    doc = {"info": {"v": 1}, "licenses": [{"id": 9}], "categories": [{"id": 3, "name": "crack", "x": 1},
                                                                    {"id": 7, "name": "dent"}],
           "images": [{"id": 5, "file_name": "b.png", "width": 80, "height": 50, "site": "L7"}],
           "annotations": [{"id": 11, "image_id": 5, "category_id": 3, "bbox": [1, 2, 10, 10], "area": 100,
                            "iscrowd": 0, "note": "keep"},
                           {"id": 12, "image_id": 5, "category_id": 7, "bbox": [30, 5, 10, 10], "area": 100,
                            "iscrowd": 0, "segmentation": [[1, 2]]}]}
    (coco / "train.json").write_text(json.dumps(doc))
    p = LabelProject.open(coco)
    by = {it.image.name: it for it in p.items}
    assert by["b.png"].state == "labelled" and by["c.png"].state == "unlabelled"
    ann, _ = p.load(by["b.png"], 80, 50)
    ann.boxes[1] = ann.boxes[1].copy(cls=0)
    ann.boxes.append(Box(1, 50, 20, 60, 30))
    p.save(by["b.png"], ann)
    ann, _ = p.load(by["c.png"], 80, 50)
    ann.state = "ok"
    p.save(by["c.png"], ann)
    d = json.loads((coco / "train.json").read_text())
    assert d["info"] == {"v": 1} and d["licenses"] == [{"id": 9}] and d["categories"][0]["x"] == 1
    a = {x["id"]: x for x in d["annotations"]}
    assert a[11]["note"] == "keep" and a[11]["bbox"] == [1, 2, 10, 10]
    assert a[12]["category_id"] == 3 and a[12]["segmentation"] == [[1, 2]]   # class changed, box kept
    assert a[13]["category_id"] == 7 and a[13]["bbox"] == [50, 20, 10, 10]
    assert d["images"][0]["site"] == "L7" and any(i["file_name"] == "c.png" for i in d["images"])


def test_merge_and_rename_across_the_dataset(tmp_path):
    root = _yolo_set(tmp_path)
    p = LabelProject.open(root / "data.yaml")
    p.rename_class(1, "dent-deep")
    assert yaml.safe_load((root / "data.yaml").read_text())["names"] == ["crack", "dent-deep", "stain"]
    n = p.merge_class(0, 2)                   # crack -> stain; dent-deep and stain move down one id
    assert n == 2 and p.names == ["dent-deep", "stain"]
    assert [ln.split()[0] for ln in (root / "labels" / "im0.txt").read_text().splitlines()] == ["1", "0"]
    assert (root / "labels" / "im0.txt").read_text().splitlines()[1] == "0 0.7500001234 0.5 0.2 0.2"
    assert (root / "labels" / "im2.txt").read_text().split()[0] == "1"
    with pytest.raises(ValueError):
        p.rename_class(0, "stain")


def test_splits_are_stratified_reproducible_and_leave_unlabelled_out(tmp_path):
    from core.data.annotation import Item

    items = [Item(tmp_path / f"{i}.png", f"{i}.png", state="labelled", classes=frozenset({i % 3}))
             for i in range(60)] + [Item(tmp_path / f"u{i}.png", f"u{i}.png") for i in range(5)] + \
            [Item(tmp_path / f"ok{i}.png", f"ok{i}.png", state="ok") for i in range(10)]
    a = stratified_split(items, {"train": 0.8, "val": 0.2}, seed=1)
    b = stratified_split(items, {"train": 0.8, "val": 0.2}, seed=1)
    assert [i.key for i in a["val"]] == [i.key for i in b["val"]]
    assert len(a["train"]) + len(a["val"]) == 70
    for c in range(3):
        assert sum(c in i.classes for i in a["val"]) == 4
    assert sum(i.state == "ok" for i in a["val"]) == 2
    assert not any(i.key.startswith("u") for s in a.values() for i in s)
    root = _yolo_set(tmp_path)
    p = LabelProject.open(root / "data.yaml")
    spec = write_splits(p, stratified_split(p.items, {"train": 0.5, "val": 0.5}, seed=0))
    ds = load_dataset(spec)
    listed = {r.image.name for s in ds.splits.values() for r in s}
    assert listed == {"im0.png", "im1.png", "im2.png"}        # im3 is unlabelled


_WRITER = """
import sys
sys.path.insert(0, {root!r})
from core.util.io import atomic_write_text
i = 0
while True:
    i += 1
    atomic_write_text({path!r}, ("%d " % i) * 200000 + "END")
"""


def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_file(tmp_path):
    target = tmp_path / "labels.txt"
    target.write_text("0 " * 200000 + "END")
    for k in range(12):
        p = subprocess.Popen([sys.executable, "-c", _WRITER.format(root=str(ROOT), path=str(target))])
        time.sleep(0.15 + 0.05 * k)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        text = target.read_text()
        n = text.split(" ", 1)[0]
        assert text.endswith("END") and text == (n + " ") * 200000 + "END", f"partial file after kill {k}"


def test_collected_frames_come_back_as_unreviewed_proposals(tmp_path):
    env = {**os.environ, "SDGAS_HOME": str(tmp_path / "home")}
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "inspect", "--weights", "demo", "--source", "demo",
                        "--db", str(tmp_path / "r.sqlite"), "--max-frames", "12", "--collect", str(tmp_path / "c"),
                        "--collect-every", "4", "--collect-band", "0.3-0.6"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "collected" in r.stdout
    p = LabelProject.open(tmp_path / "c")
    assert p.items and all(it.from_line and it.state == "unlabelled" for it in p.items)
    assert p.names[:2] == ["crazing", "inclusion"]
    withp = [it for it in p.items if p.review.proposals(it.key)]
    assert withp and all(it.unreviewed for it in withp)
    it = withp[0]
    ann, props = p.load(it, 640, 480)
    assert props and all(b.score is not None for b in props) and not ann.boxes
    ann.boxes.append(props[0].copy(score=None))        # one accepted, the rest rejected
    p.save(it, ann, [])
    assert it.state == "labelled" and not it.unreviewed and not p.review.proposals(it.key)
    assert not LabelProject.open(tmp_path / "c").review.unreviewed(it.key)
    bad = subprocess.run([sys.executable, str(ROOT / "main.py"), "inspect", "--weights", "demo", "--source", "demo",
                          "--db", str(tmp_path / "r2.sqlite"), "--max-frames", "1", "--collect-band", "0.3-0.6"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 1 and "--collect DIR" in bad.stderr


def test_class_list_edits_keep_the_files_layout_and_stay_in_step(tmp_path):
    """data.yaml as a person wrote it (a comment, names as a mapping, nc): a class edit changes the
    class list and nc, nothing else; a folder's classes.txt follows."""
    root = _yolo_set(tmp_path)
    text = ("# line 7 (camera 2)\npath: .\ntrain: images\nval: images\nnc: 3\nnames:\n  0: crack\n  1: dent\n"
            "  2: stain\n# end\n")
    (root / "data.yaml").write_text(text)
    (root / "classes.txt").write_text("crack\ndent\nstain\n")
    p = LabelProject.open(root / "data.yaml")
    p.add_class("pit")
    assert (root / "data.yaml").read_text() == text.replace("nc: 3", "nc: 4").replace("  2: stain\n",
                                                                                       "  2: stain\n  3: pit\n")
    assert (root / "classes.txt").read_text() == "crack\ndent\nstain\npit\n"
    p.rename_class(0, "crack: deep")
    assert yaml.safe_load((root / "data.yaml").read_text())["names"][0] == "crack: deep"
    assert (root / "classes.txt").read_text().splitlines()[0] == "crack: deep"
    flow = tmp_path / "flow.yaml"
    flow.write_text(f"names: [crack, dent, stain]  # flow\npath: {root}\ntrain: images\n")
    LabelProject.open(flow).add_class("pit")
    assert flow.read_text().splitlines()[0] == "names: [crack, dent, stain, pit]"


def test_class_edits_are_undone_in_each_format(tmp_path):
    """Merge in COCO and in YOLO, rename in VOC: the backup puts the class list and every rewritten
    label file back byte for byte; undoing an add is refused while boxes use the class."""
    def snapshot(d):
        return {p: p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file() and ".sdgas" not in p.parts}

    yolo = _yolo_set(tmp_path / "y")
    v = write_dataset(tmp_path / "v", 4, 2, "voc", size=(64, 64), n_defects=(1, 2), classes=[0, 1, 2])
    c = write_dataset(tmp_path / "c", 4, 2, "coco", size=(64, 64), n_defects=(1, 2), classes=[0, 1, 2])
    for path, edit in ((yolo / "data.yaml", lambda p: p.merge_class(0, 2)), (v, lambda p: p.rename_class(1, "xx")),
                       (c, lambda p: p.merge_class(1, 0))):
        root = LabelProject.open(path).root
        before = snapshot(root)
        p = LabelProject.open(path)
        edit(p)
        assert snapshot(root) != before
        assert "'" in p.backups.latest()["what"]
        assert LabelProject.open(path).undo_class_edit()
        assert snapshot(root) == before, path
        assert LabelProject.open(path).backups.latest() is None
    p = LabelProject.open(yolo / "data.yaml")
    p.add_class("pit")
    it = p.items[3]
    p.save(it, Annotation(200, 100, [Box(3, 10, 10, 20, 20)], "labelled"))
    with pytest.raises(ValueError, match="boxes of 'pit' exist"):
        p.undo_class_edit()
    p.save(it, Annotation(200, 100, [], "unlabelled"))
    assert p.undo_class_edit() == "add 'pit'" and LabelProject.open(yolo / "data.yaml").names == ["crack", "dent",
                                                                                                  "stain"]
