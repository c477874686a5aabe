"""CVAT for images 1.1: one ``annotations.xml`` beside ``images/``, as CVAT exports a task or project.

    <annotations><version>1.1</version>
      <meta><task><labels><label><name>crack</name>…</label></labels></task></meta>
      <image id="0" name="a.png" subset="Train" width="640" height="480">
        <box label="crack" source="manual" occluded="0" xtl="1.00" ytl="2.00" xbr="30.00" ybr="40.00" z_order="0"/>
      </image>
    </annotations>

Classes: the labels of ``<meta>``, in order (else the boxes' labels, sorted). Splits: each image's
``subset`` (Train, Validation, Test in any case); when no image names one, every image is train and
val. An ``<image>`` without boxes is a defect-free image, as a COCO image entry without annotations
(a CVAT export lists every image of its task, annotated or not: look before training); an image in
``images/`` that the file does not list is unlabelled. Only boxes are read; the editor keeps every
other shape, attribute and element, and reads the file again under the dataset lock before each
write, so another hand's saves of other images are kept and one of the same image is a conflict.
"""
from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path

from core.data.annotation import Annotation, Box, Item
from core.util.io import atomic_write_text, read_regular

from . import base
from .base import DatasetError, DatasetSpec, RawBox, RawSample, SaveConflict, dataset_lock, image_key

NAME = "cvat"
LOOKS_LIKE = "CVAT annotations.xml"
FILE = "annotations.xml"
SUBSETS = {"train": "train", "validation": "val", "val": "val", "test": "test"}   # CVAT's name -> our split
SUBSET_NAMES = {"train": "Train", "val": "Validation", "test": "Test"}
CORNERS = ("xtl", "ytl", "xbr", "ybr")


def detect(p: Path) -> Path | None:
    if p.is_file():
        if p.suffix.lower() != ".xml":
            return None
        try:
            _, first = next(ET.iterparse(p, events=("start",)))
        except (ET.ParseError, OSError, StopIteration):
            return None
        return p if first.tag == "annotations" else None
    return p / FILE if (p / FILE).is_file() else None


# -------------------------------------------------------------------------------------- read
def _document(xml: Path) -> ET.Element:
    try:
        root = ET.fromstring(read_regular(xml))
    except (ET.ParseError, OSError) as e:
        raise DatasetError(f"{xml}: not valid CVAT XML ({e})") from None
    if root.tag != "annotations":
        raise DatasetError(f"{xml}: not CVAT XML (its root is <{root.tag}>, not <annotations>)")
    return root


def _labels(root: ET.Element) -> list[str]:
    """The class names of ``<meta>``, in order, once each."""
    meta = root.find("meta")
    found = [(lb.findtext("name") or "").strip() for lb in meta.findall(".//labels/label")] if meta is not None else []
    return list(dict.fromkeys(n for n in found if n))


def _image_path(name: str, folder: Path) -> Path:
    p = Path(name)
    cands = [p if p.is_absolute() else folder / p, folder / "images" / p]
    return next((c for c in cands if c.exists()), cands[-1])


def _corners(el: ET.Element) -> tuple[float, float, float, float]:
    try:
        return tuple(float(el.get(k)) for k in CORNERS)
    except (TypeError, ValueError):
        raise ValueError(f"box of '{el.get('label')}' has a corner that is not a number") from None


def _shared_ids(root: ET.Element, xml: Path) -> dict[str, str]:
    """{image id: why} for ids that more than one ``<image>`` carries."""
    by_id: dict[str, list[str]] = {}
    for im in root.findall("image"):
        by_id.setdefault(im.get("id"), []).append(str(im.get("name")))
    return {i: (f"image id {i!r} is given to {' and '.join(n)} in {xml}: a box of it could belong to either, "
                "so none of them is used (give each image its own id)") for i, n in by_id.items() if len(n) > 1}


def read(xml: Path) -> DatasetSpec:
    root = _document(xml)
    shared = _shared_ids(root, xml)
    samples, subsets = [], []
    for im in root.findall("image"):
        name = im.get("name")
        if not name:
            raise DatasetError(f"{xml}: an <image> (id {im.get('id')!r}) has no 'name'")
        try:
            size = (int(im.get("width")), int(im.get("height")))
        except (TypeError, ValueError):
            size = None
        smp = RawSample(_image_path(name, xml.parent), [], xml, shared.get(im.get("id")), size)
        try:
            smp.boxes = [RawBox(b.get("label") or "", _corners(b)) for b in im.findall("box")]
        except ValueError as e:
            smp.problem = smp.problem or f"{name}: {e}"
        samples.append(smp)
        subsets.append(SUBSETS.get((im.get("subset") or "").strip().lower()))
    names = _labels(root) or sorted({str(b.cls) for s in samples for b in s.boxes})
    problems = {}
    if not any(subsets):   # no image names a split: every one is train and val
        splits = {"train": samples, "val": samples}
    else:
        splits = {s: [smp for smp, sub in zip(samples, subsets) if sub == s] for s in ("train", "val", "test")}
        splits = {s: v for s, v in splits.items() if v}
        left = sum(sub is None for sub in subsets)
        if left:
            problems["train"] = [(str(xml), f"{left} image(s) name no subset Train, Validation or Test: "
                                            "they are in no split")]
    return DatasetSpec(xml.parent, NAME, names, splits, problems)


# ------------------------------------------------------------------------------------- write
def _coord(v: float) -> str:
    return f"{float(v):.2f}"   # as CVAT writes them


def document(names: list[str]) -> ET.Element:
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    ET.SubElement(task, "mode").text = "annotation"
    labels = ET.SubElement(task, "labels")
    for n in names:
        labels.append(label_element(n))
    return root


def label_element(name: str) -> ET.Element:
    el = ET.Element("label")
    ET.SubElement(el, "name").text = name
    ET.SubElement(el, "type").text = "rectangle"
    ET.SubElement(el, "attributes")
    return el


def image_element(iid: int, name: str, w: int, h: int, subset: str | None = None) -> ET.Element:
    attrs = {"id": str(iid), "name": name, **({"subset": subset} if subset else {}),
             "width": str(int(w)), "height": str(int(h))}
    return ET.Element("image", attrs)


def box_element(label: str, box) -> ET.Element:
    return ET.Element("box", {"label": label, "source": "manual", "occluded": "0",
                              **{k: _coord(v) for k, v in zip(CORNERS, box)}, "z_order": "0"})


def text(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


class Writer(base.Writer):
    def __init__(self, out, names):
        super().__init__(out, names)
        self.images: dict[str, tuple] = {}     # stem -> (name, w, h, box elements)
        self.splits: dict[str, list[str]] = {}

    def label(self, split, stem, name, boxes, classes, w, h, again):
        self.splits.setdefault(stem, []).append(split)
        if not again:
            self.images[stem] = (name, w, h, [box_element(self.names[int(c)], b) for b, c in zip(boxes, classes)])

    def close(self) -> Path:
        """An image in several splits is written in its first (CVAT gives an image one subset), but
        when every image is in the same splits, none is named: train and val are then every image."""
        root = document(self.names)
        named = len({tuple(s) for s in self.splits.values()}) > 1 or len(next(iter(self.splits.values()), [])) == 1
        for k, (stem, (name, w, h, boxes)) in enumerate(self.images.items()):
            im = image_element(k, name, w, h, SUBSET_NAMES[self.splits[stem][0]] if named else None)
            im.extend(boxes)
            root.append(im)
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out / FILE, text(root))
        return self.out / FILE


# -------------------------------------------------------------------------------------- edit
def _snapshot(im: ET.Element | None) -> str:
    """An ``<image>`` as comparable text, whatever its indentation."""
    if im is None:
        return ""
    im = copy.deepcopy(im)
    ET.indent(im)
    im.tail = None
    return ET.tostring(im, encoding="unicode")


class Editor(base.Editor):
    format = NAME
    names_in_labels = True

    def __init__(self, xml: Path, names: list[str]):
        super().__init__(xml.parent, names)
        self.xml = xml
        self._doc, self._stamp = _document(xml), base.stamp(xml)
        self._labels_read = _labels(self._doc)
        self._as_read = {im.get("id"): _snapshot(im) for im in self._doc.findall("image")}

    @classmethod
    def open(cls, xml: Path, spec: DatasetSpec) -> tuple["Editor", list[Item]]:
        ed = cls(xml, spec.names)
        split_of = {r.image: s for s, raws in reversed(spec.splits.items()) for r in raws}
        shared = _shared_ids(ed._doc, xml)
        items, seen = [], set()
        for im in ed._doc.findall("image"):
            path = _image_path(im.get("name") or "", xml.parent)
            if path in seen:
                continue
            seen.add(path)
            it = Item(path, image_key(path, ed.root), split_of.get(path, ""), ref=im.get("id"),
                      problem=shared.get(im.get("id"), ""))
            labels = [b.get("label") for b in im.findall("box")]
            it.classes = frozenset(ed.names.index(n) for n in labels if n in ed.names)
            it.n_boxes = len(labels)
            it.state = "labelled" if labels else "ok"
            items.append(it)
        for p in base.images_in(xml.parent / "images"):   # images the file does not list: unlabelled
            if p not in seen:
                items.append(Item(p, image_key(p, ed.root), "", ref=None))
        return ed, items

    def shared_files(self) -> list[Path]:
        return [self.xml]

    def data_spec(self) -> str:
        return str(self.xml)

    def _fresh(self) -> ET.Element:
        """The file as on disk now (parsed again only when it changed)."""
        st = base.stamp(self.xml)
        if st != self._stamp:
            self._doc, self._stamp = _document(self.xml), st
        return self._doc

    def load(self, item: Item, width: int, height: int) -> Annotation:
        im = _image(self._fresh(), item.ref) if item.ref is not None else None
        self._as_read[item.ref] = _snapshot(im)
        if im is None or item.ref in _shared_ids(self._doc, self.xml):
            return Annotation(width, height, [], "unlabelled")
        boxes = []
        for el in im.findall("box"):
            try:
                x1, y1, x2, y2 = _corners(el)
            except ValueError:
                continue
            name = el.get("label") or ""
            if name not in self.names:  # named classes join the list rather than being dropped
                self.names.append(name)
            c = self.names.index(name)
            boxes.append(Box(c, x1, y1, x2, y2, raw=el, orig=(c, x1, y1, x2, y2)))
        return Annotation(width, height, boxes, "labelled" if boxes else "ok")

    def save(self, item: Item, ann: Annotation) -> None:
        state = ann.effective_state()
        if item.ref is None and state == "unlabelled":
            return
        with dataset_lock(self.root):
            root = _document(self.xml)            # what is on disk now: other images' saves are kept
            if _labels(root) != self._labels_read:
                raise SaveConflict(self.xml, "its class list")
            if item.ref is not None:
                im = _image(root, item.ref)
                if _snapshot(im) != self._as_read.get(item.ref):
                    raise SaveConflict(self.xml, f"the labels of {item.image.name}")
                if item.ref in _shared_ids(root, self.xml):
                    raise ValueError(_shared_ids(root, self.xml)[item.ref])
            else:
                im = self._new_image(root, item, ann)
            if state == "unlabelled":
                root.remove(im)
            else:
                self._apply(im, ann)
            atomic_write_text(self.xml, text(root))
            self._doc, self._stamp = root, base.stamp(self.xml)
        item.ref = None if state == "unlabelled" else im.get("id")
        if item.ref is not None:
            self._as_read[item.ref] = _snapshot(im)

    def _new_image(self, root: ET.Element, item: Item, ann: Annotation) -> ET.Element:
        """An ``<image>`` for an image the file did not list (refused if another hand listed it meanwhile)."""
        if any(_image_path(im.get("name") or "", self.xml.parent) == item.image for im in root.findall("image")):
            raise SaveConflict(self.xml, f"the entry of {item.image.name}")
        ids = [int(i) for i in (im.get("id") for im in root.findall("image")) if i and i.isdigit()]
        try:
            name = item.image.relative_to(self.xml.parent / "images").as_posix()
        except ValueError:
            name = item.image.name
        im = image_element(max(ids, default=-1) + 1, name, ann.width, ann.height)
        root.append(im)
        return im

    def _apply(self, im: ET.Element, ann: Annotation) -> None:
        """The image's boxes become ``ann``'s, where its boxes stood; its other shapes stay."""
        kids = list(im)
        olds = [k for k, el in enumerate(kids) if el.tag == "box"]
        at = olds[0] if olds else len(kids)
        for el in kids:
            if el.tag == "box":
                im.remove(el)
        mine = []
        for b in ann.boxes:
            el = b.raw if isinstance(b.raw, ET.Element) else box_element(self.names[b.cls], b.xyxy)
            if b.orig is not None and b.orig[0] != b.cls:
                el.set("label", self.names[b.cls])
            if b.raw is not None and b.coords_changed():
                for k, v in zip(CORNERS, b.xyxy):
                    el.set(k, _coord(v))
            mine.append(el)
        at -= sum(1 for k in olds if k < at)
        im[at:at] = mine

    def write_names(self, names: list[str]) -> None:
        """The labels of ``<meta>`` become ``names``: a renamed label keeps its other fields."""
        with dataset_lock(self.root):
            root = _document(self.xml)
            if _labels(root) != self._labels_read:
                raise SaveConflict(self.xml, "its class list")
            meta = root.find("meta")
            if meta is None:
                meta = ET.Element("meta")
                root.insert(1 if root.find("version") is not None else 0, meta)
            holder = meta.find(".//labels")
            if holder is None:
                task = meta.find("task")
                holder = ET.SubElement(task if task is not None else ET.SubElement(meta, "task"), "labels")
            old = {(lb.findtext("name") or "").strip(): lb for lb in holder.findall("label")}
            was = self._labels_read
            for lb in list(holder.findall("label")):
                holder.remove(lb)
            for i, n in enumerate(names):
                renamed = was[i] if i < len(was) and was[i] not in names else None   # the same place, a new name
                lb = next((old[k] for k in (n, renamed) if k in old), None)
                lb = label_element(n) if lb is None else lb
                lb.find("name").text = n
                holder.append(lb)
            atomic_write_text(self.xml, text(root))
            self._doc, self._stamp = root, base.stamp(self.xml)
        self.names, self._labels_read = list(names), list(names)

    def write_splits(self, splits: dict[str, list[Item]]) -> str:
        subset = {it.ref: SUBSET_NAMES[s] for s, items in splits.items() for it in items if it.ref is not None}
        with dataset_lock(self.root):
            root = _document(self.xml)
            for im in root.findall("image"):
                attrs = {k: v for k, v in im.attrib.items() if k != "subset"}
                if im.get("id") in subset:   # CVAT's order: id, name, subset, width, height
                    attrs = dict(list(attrs.items())[:2] + [("subset", subset[im.get("id")])] + list(attrs.items())[2:])
                im.attrib.clear()
                im.attrib.update(attrs)
            atomic_write_text(self.xml, text(root))
            self._doc, self._stamp = root, base.stamp(self.xml)
        return self.data_spec()


def _image(root: ET.Element, iid: str) -> ET.Element | None:
    return next((im for im in root.findall("image") if im.get("id") == iid), None)
