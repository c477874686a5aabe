"""One module per dataset format: ``dataset convert`` and a save in the labelling view write the same
files; CVAT for images 1.1 reads, writes and edits as the others do; class edits keep every box in
its class in every format."""
import collections
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.data.annotation import Box
from core.data.convert import convert_dataset
from core.data.formats import FORMATS, dataset_writer, load_dataset
from core.labels.project import LabelProject

NAMES = ["crack", 'dent "deep" <b> & co', "Ölfleck"]
W = H = 64
# (class, x1, y1, x2, y2) per image, whole pixels: exact in every format's numbers
BOXES = {"train": [[(0, 8, 8, 24, 40), (2, 30, 10, 60, 20)], [(1, 4, 4, 12, 12)], []],
         "val": [[(2, 16, 16, 48, 48)], [(0, 0, 0, 64, 32), (1, 10, 40, 20, 60)]]}


def _source(root: Path) -> Path:
    """A small YOLO dataset: three train and two val images (one defect-free)."""
    w = dataset_writer(root, "yolo", NAMES)
    for split, images in BOXES.items():
        for k, boxes in enumerate(images):
            img = np.full((H, W, 3), 30 + 40 * k, np.uint8)
            w.add(split, f"{split}{k}", img, [b[1:] for b in boxes], [b[0] for b in boxes], W, H)
    return w.close()


def _files(root: Path) -> dict:
    """{relative path: bytes} of a dataset folder (the lock and review folder aside; data.yaml's
    absolute ``path`` named by a placeholder)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and ".sdgas" not in p.parts:
            data = p.read_bytes()
            out[p.relative_to(root).as_posix()] = data.replace(str(root.resolve()).encode(), b"ROOT")
    return out


def _edit(p: LabelProject) -> None:
    """Move and re-class the first train image's first box; add a box to the last train image."""
    by = {it.image.stem: it for it in p.items}
    first, last = by["train0"], by[f"train{len(BOXES['train']) - 1}"]
    ann, _ = p.load(first, W, H)
    ann.boxes[0] = ann.boxes[0].copy(cls=1, x1=6.0, y1=10.0, x2=30.0, y2=42.0)
    p.save(first, ann)
    ann, _ = p.load(last, W, H)
    ann.boxes.append(Box(2, 20, 24, 44, 50))
    p.save(last, ann)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_converted_dataset_saved_unchanged_in_the_labelling_view_keeps_every_byte(tmp_path, fmt):
    out, _ = convert_dataset(_source(tmp_path / "src"), fmt, tmp_path / fmt)
    before = _files(tmp_path / fmt)
    p = LabelProject.open(out)
    assert p.format == fmt and p.names == NAMES and len(p.items) == 5
    for it in p.items:
        ann, _ = p.load(it, W, H)
        p.save(it, ann)
    assert _files(tmp_path / fmt) == before


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_an_edit_saved_in_the_labelling_view_writes_what_convert_writes(tmp_path, fmt):
    """Edit the converted dataset in the labelling view; make the same edit in the YOLO source and
    convert that: the two folders hold the same files, byte for byte."""
    src = _source(tmp_path / "src")
    edited, _ = convert_dataset(src, fmt, tmp_path / "edited")
    _edit(LabelProject.open(edited))
    _edit(LabelProject.open(src))
    convert_dataset(src, fmt, tmp_path / "converted")
    a, b = _files(tmp_path / "edited"), _files(tmp_path / "converted")
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == b[k], (k, a[k][:400], b[k][:400])


def _cvat_export(root: Path) -> Path:
    """annotations.xml as CVAT exports a project: labels with colours and attributes, subsets, a
    polygon and a tag beside the boxes, box attributes."""
    (root / "images").mkdir(parents=True)
    for n in ("a.png", "b.png", "c.png"):
        cv2.imwrite(str(root / "images" / n), np.zeros((48, 80, 3), np.uint8))
    (root / "annotations.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n  <meta>\n'
        '    <project><id>3</id><name>line 7</name><labels>\n'
        '      <label><name>scratch</name><color>#ff0000</color><type>rectangle</type><attributes>'
        '<attribute><name>depth</name><input_type>text</input_type></attribute></attributes></label>\n'
        '      <label><name>dent</name><color>#00ff00</color><type>any</type><attributes/></label>\n'
        '    </labels></project>\n  </meta>\n'
        '  <image id="0" name="a.png" subset="Train" width="80" height="48">\n'
        '    <box label="scratch" source="manual" occluded="1" xtl="1.50" ytl="2.00" xbr="30.25" ybr="40.00" '
        'z_order="2"><attribute name="depth">0.3 mm</attribute></box>\n'
        '    <polygon label="dent" source="manual" occluded="0" points="1,1;5,5;1,5" z_order="0"/>\n'
        '    <box label="dent" source="auto" occluded="0" xtl="40" ytl="5" xbr="70" ybr="20" z_order="0"/>\n'
        '    <tag label="dent" source="manual"/>\n  </image>\n'
        '  <image id="1" name="b.png" subset="Validation" width="80" height="48">\n  </image>\n'
        '</annotations>\n')
    return root


def test_cvat_reads_edits_and_round_trips_through_every_format(tmp_path):
    root = _cvat_export(tmp_path / "cvat")
    spec = load_dataset(root)
    assert spec.format == "cvat" and spec.names == ["scratch", "dent"]
    tr, va = spec.splits["train"], spec.splits["val"]
    assert [s.image.name for s in tr] == ["a.png"] and [s.image.name for s in va] == ["b.png"]
    assert [(b.cls, b.box) for b in tr[0].boxes] == [("scratch", (1.5, 2.0, 30.25, 40.0)),
                                                     ("dent", (40.0, 5.0, 70.0, 20.0))]
    # the labelling view: c.png is not listed (unlabelled), b.png is (defect-free)
    p = LabelProject.open(root)
    by = {it.image.name: it for it in p.items}
    assert (by["a.png"].state, by["b.png"].state, by["c.png"].state) == ("labelled", "ok", "unlabelled")
    ann, _ = p.load(by["a.png"], 80, 48)
    ann.boxes[1] = ann.boxes[1].copy(x1=42.0)
    ann.boxes.append(Box(0, 10, 10, 20, 20))
    p.save(by["a.png"], ann)
    ann, _ = p.load(by["c.png"], 80, 48)
    ann.boxes.append(Box(1, 5, 5, 15, 15))
    p.save(by["c.png"], ann)
    doc = ET.parse(root / "annotations.xml").getroot()
    a = doc.find("image[@name='a.png']")
    assert [el.tag for el in a] == ["box", "box", "box", "polygon", "tag"]     # boxes where the first stood
    kept = a.findall("box")[0]
    assert (kept.get("occluded"), kept.get("z_order"), kept.findtext("attribute"), kept.get("xtl")) == \
        ("1", "2", "0.3 mm", "1.50")                                        # untouched: as written
    assert a.findall("box")[1].get("xtl") == "42.00" and a.findall("box")[1].get("source") == "auto"
    assert doc.find("meta/project/labels/label/color").text == "#ff0000"
    c = doc.find("image[@name='c.png']")
    assert c.get("id") == "2" and c.find("box").get("label") == "dent"
    # round trip: CVAT -> YOLO -> VOC -> COCO -> CVAT keeps every box, class and split
    ref = _boxes(root)
    step = root
    for i, fmt in enumerate(("yolo", "voc", "coco", "cvat")):
        step, _ = convert_dataset(step, fmt, tmp_path / f"{i}-{fmt}")
        assert _boxes(step) == ref, fmt
    assert load_dataset(step).names == ["scratch", "dent"]


def _boxes(data) -> dict:
    """{split: {image stem: sorted [(class name, x1, y1, x2, y2)]}}, pixels to 0.01."""
    from core.data.validate import validate

    spec = load_dataset(data)
    out = {}
    for split, raws in spec.splits.items():
        if raws:
            samples, _ = validate(spec, split, keep_duplicates=True)
            out[split] = {s.image.stem: sorted((spec.names[int(c)], *np.round(b, 2).tolist())
                                               for b, c in zip(s.boxes, s.classes)) for s in samples}
    return out


def _names_of_boxes(data) -> collections.Counter:
    spec = load_dataset(data)
    return collections.Counter(spec.names[b.cls] if isinstance(b.cls, int) else b.cls
                               for raws in spec.splits.values() for r in {id(r): r for r in raws}.values()
                               for b in r.boxes)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_merge_and_rename_keep_every_box_in_its_class(tmp_path, fmt):
    """Merging the first class into the last moves its boxes there and no others; a rename renames
    the boxes of that class, wherever the format keeps their names."""
    data, _ = convert_dataset(_source(tmp_path / "src"), fmt, tmp_path / fmt)
    before = _names_of_boxes(data)
    LabelProject.open(data).merge_class(0, 2)
    after = _names_of_boxes(data)
    assert load_dataset(data).names == NAMES[1:]
    assert after == {NAMES[1]: before[NAMES[1]], NAMES[2]: before[NAMES[2]] + before[NAMES[0]]}, (before, after)
    LabelProject.open(data).rename_class(1, "oil")
    assert _names_of_boxes(data) == {NAMES[1]: after[NAMES[1]], "oil": after[NAMES[2]]}
    assert load_dataset(data).names == [NAMES[1], "oil"]


def test_cvat_splits_written_in_the_labelling_view(tmp_path):
    from core.labels.splits import stratified_split, write_splits

    data, _ = convert_dataset(_source(tmp_path / "src"), "cvat", tmp_path / "c")
    p = LabelProject.open(data)
    spec = write_splits(p, stratified_split(p.items, {"train": 0.6, "val": 0.4}, seed=1))
    got = load_dataset(spec)
    train = {r.image.name for r in got.splits["train"]}
    val = {r.image.name for r in got.splits["val"]}
    assert train | val == {it.image.name for it in p.items} and train and val and not train & val
    assert json.dumps(sorted(train)) == json.dumps(sorted(it.image.name for it in p.items if it.split == "train"))
