"""Pascal VOC: ``images/`` and ``annotations/*.xml`` (or the devkit's ``JPEGImages/`` and
``Annotations/``), ``classes.txt``, split lists in ``splits/`` or ``ImageSets/Main/`` (one image stem
a line; without them every image is train and val).

One XML per image, named by the image's stem, boxes in pixels under their class name. An XML
without objects is a defect-free image, no XML an unlabelled one. Two images of one stem
(``x.jpg`` and ``x.png``) would share ``x.xml``: its ``<filename>`` says whose it is, and the other
is reported by name, never read with its neighbour's boxes nor saved over them. The editor keeps
every field of an unchanged ``<object>`` and those of an edited one but its name and box; a file it
writes takes the writer's layout.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from core.data.annotation import Annotation, Box, Item
from core.util.io import atomic_write_text, read_regular

from . import base
from .base import (SPLITS, UNLABELLED, DatasetError, DatasetSpec, RawBox, RawSample, SaveConflict, class_list,
                   class_list_text, dataset_lock, image_key, keep_original, num)

NAME = "voc"
LOOKS_LIKE = "VOC annotations/*.xml with images/"
LAYOUTS = (("annotations", "images"), ("Annotations", "JPEGImages"))
SPLIT_DIRS = ("splits", "ImageSets/Main")


def detect(p: Path) -> Path | None:
    if p.is_dir() and (any((p / "annotations").glob("*.xml")) or (p / "Annotations").is_dir()):
        return p
    return None


def _layout(root: Path) -> tuple[Path, Path]:
    """(annotation folder, image folder)."""
    for a, i in LAYOUTS:
        if any((root / a).glob("*.xml")):
            return root / a, root / i
    for a, i in LAYOUTS:
        if (root / a).is_dir():
            return root / a, root / i
    return root / LAYOUTS[0][0], root / LAYOUTS[0][1]


# -------------------------------------------------------------------------------------- read
def _objects(root: ET.Element) -> list[tuple[str, float, float, float, float, ET.Element]]:
    """(name, x1, y1, x2, y2, element) of each ``<object>``; ValueError saying what is malformed."""
    out = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        bb = obj.find("bndbox")
        if not name or bb is None:
            raise ValueError("object without name or bndbox")
        try:
            x1, y1, x2, y2 = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError):
            raise ValueError(f"non-numeric box for '{name}'") from None
        out.append((name, x1, y1, x2, y2, obj))
    return out


def _size(root: ET.Element) -> tuple[int, int] | None:
    sz = root.find("size")
    try:
        return (int(float(sz.findtext("width"))), int(float(sz.findtext("height")))) if sz is not None else None
    except (TypeError, ValueError):
        return None


def _parse(data: bytes) -> ET.Element:
    """ParseError or ValueError with the reason."""
    return ET.fromstring(data)


def _owners(img_dir: Path, ann_dir: Path) -> tuple[dict[str, Path], dict[Path, str]]:
    """({stem: the image its XML is for}, {image: why it has no XML of its own, said of the XML}).
    Images of one stem share its XML; its ``<filename>`` names the one it is for, the others are
    reported."""
    by_stem: dict[str, list[Path]] = {}
    for f in base.images_in(img_dir):
        by_stem.setdefault(f.stem, []).append(f)
    owner, shut_out = {}, {}
    for stem, imgs in by_stem.items():
        if len(imgs) == 1:
            owner[stem] = imgs[0]
            continue
        xml = ann_dir / f"{stem}.xml"
        named = None
        try:
            named = (_parse(read_regular(xml)).findtext("filename") or "").strip()
        except (OSError, ET.ParseError, ValueError):
            pass
        mine = next((i for i in imgs if i.name == named), None)
        names = " and ".join(i.name for i in imgs)
        for i in imgs:
            if i is mine:
                owner[stem] = i
            elif mine is not None:
                shut_out[i] = (f"{i.name} shares it with {mine.name}, whose labels it holds (its <filename>): "
                               f"{i.name} is not used; rename it to label it")
            else:
                shut_out[i] = f"{names} share it and its <filename> names neither: rename one of them"
    return owner, shut_out


def _sample(img: Path, xml: Path) -> RawSample:
    try:
        data = base.read_bytes(xml)
    except OSError as e:
        return RawSample(img, [], xml, f"annotation unreadable: {e.strerror or e}")
    if data is None:  # an XML without objects marks a defect-free image
        return RawSample(img, [], xml, UNLABELLED)
    try:
        root = _parse(data)
    except ET.ParseError as e:
        return RawSample(img, [], xml, f"malformed annotation XML ({e})")
    size = _size(root)
    try:
        objs = _objects(root)
    except ValueError as e:
        return RawSample(img, [], xml, f"malformed annotation: {e}", size)
    return RawSample(img, [RawBox(n, (x1, y1, x2, y2)) for n, x1, y1, x2, y2, _ in objs], xml, None, size)


def read(root: Path) -> DatasetSpec:
    ann, imgs = _layout(root)
    if not imgs.is_dir():
        raise DatasetError(f"{root}: VOC layout needs an '{imgs.name}/' folder")
    owner, shut_out = _owners(imgs, ann)
    names = class_list(root / "classes.txt")
    if not (root / "classes.txt").is_file():  # derive from the annotations, sorted for stable ids
        names = sorted({str(r.cls) for x in ann.glob("*.xml") for r in _sample(x, x).boxes})
    shut_by_stem: dict[str, list[RawSample]] = {}
    for i, why in shut_out.items():
        shut_by_stem.setdefault(i.stem, []).append(RawSample(i, [], ann / f"{i.stem}.xml", why))

    def samples(stem: str) -> list[RawSample]:
        """The stem's image read with its XML, and the images of its stem that the XML is not for."""
        if stem in owner:
            return [_sample(owner[stem], ann / f"{stem}.xml"), *shut_by_stem.get(stem, [])]
        return shut_by_stem.get(stem) or [_sample(imgs / f"{stem}.jpg", ann / f"{stem}.xml")]

    splits: dict[str, list[RawSample]] = {}
    for s in SPLITS:
        listing = next((root / d / f"{s}.txt" for d in SPLIT_DIRS if (root / d / f"{s}.txt").is_file()), None)
        if listing is not None:
            stems = [ln.strip() for ln in read_regular(listing).decode("utf-8-sig").splitlines() if ln.strip()]
            splits[s] = [smp for stem in stems for smp in samples(stem)]
    if not splits:  # no split lists: every image is 'train' and 'val'
        every = sorted({*owner, *(i.stem for i in shut_out)})
        both = [smp for stem in every for smp in samples(stem)]
        splits = {"train": both, "val": both}
    return DatasetSpec(root, NAME, names, splits)


# ------------------------------------------------------------------------------------- write
def document(filename: str, w: int, h: int) -> ET.Element:
    """A new annotation: the image's name and size, no objects yet."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = filename
    size = ET.SubElement(root, "size")
    for k, v in (("width", w), ("height", h), ("depth", 3)):
        ET.SubElement(size, k).text = str(int(v))
    return root


def new_object(name: str, box) -> ET.Element:
    el = ET.Element("object")
    ET.SubElement(el, "name").text = name
    ET.SubElement(el, "pose").text = "Unspecified"
    ET.SubElement(el, "truncated").text = "0"
    ET.SubElement(el, "difficult").text = "0"
    bb = ET.SubElement(el, "bndbox")
    for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box):
        ET.SubElement(bb, k).text = num(v)
    return el


def text(root: ET.Element) -> str:
    """The XML as written: indented, one file a line each element."""
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


class Writer(base.Writer):
    def __init__(self, out, names):
        super().__init__(out, names)
        self.split_lists: dict[str, list[str]] = {}

    def label(self, split, stem, name, boxes, classes, w, h, again):
        self.split_lists.setdefault(split, []).append(stem)
        if again:
            return
        doc = document(name, w, h)
        for b, c in zip(boxes, classes):
            doc.append(new_object(self.names[int(c)], b))
        atomic_write_text(self.out / "annotations" / f"{stem}.xml", text(doc))

    def close(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out / "classes.txt", class_list_text(self.names))
        for s, stems in self.split_lists.items():
            atomic_write_text(self.out / "splits" / f"{s}.txt", "".join(f"{st}\n" for st in stems))
        return self.out


# -------------------------------------------------------------------------------------- edit
class Editor(base.Editor):
    format = NAME
    names_in_labels = True

    def __init__(self, root: Path, names: list[str]):
        super().__init__(root, names)
        self.ann_dir, self.img_dir = _layout(root)
        self._names_read = list(names)
        self._shut_out: dict[Path, str] = {}

    @classmethod
    def open(cls, root: Path, spec: DatasetSpec) -> tuple["Editor", list[Item]]:
        ed = cls(spec.root, spec.names)
        img_dir = ed.img_dir if ed.img_dir.is_dir() else spec.root
        _, ed._shut_out = _owners(img_dir, ed.ann_dir)
        split_of: dict[Path, str] = {}
        for split, raws in spec.splits.items():
            for r in raws:
                split_of.setdefault(r.image, split)
        return ed, [ed._item(p, split_of.get(p, "")) for p in base.images_in(img_dir)]

    def label_file(self, item: Item) -> Path:
        return self._xml(item.image)

    def _xml(self, image: Path) -> Path:
        return self.ann_dir / f"{image.stem}.xml"

    def name_files(self) -> list[Path]:
        return [self.root / "classes.txt"]

    def _objects_of(self, xml: Path):
        """The XML's root and objects as on disk now; None when there is no file."""
        data = self._read(xml)
        if data is None:
            return None
        root = _parse(data)
        return root, _objects(root)

    def _item(self, image: Path, split: str) -> Item:
        xml = self._xml(image)
        it = Item(image, image_key(image, self.root), split, ref=xml)
        if image in self._shut_out:
            it.problem = f"{xml}: {self._shut_out[image]}"
            return it
        try:
            got = self._objects_of(xml)
        except (ET.ParseError, ValueError) as e:
            it.problem = f"{xml}: malformed annotation ({e})"
            return it
        if got is None:
            return it
        objs = got[1]
        index = {n: i for i, n in enumerate(self.names)}
        unknown = sorted({o[0] for o in objs if o[0] not in index})
        if unknown:
            it.problem = f"{xml}: unknown class(es) {', '.join(unknown)} (add them to the class list)"
        it.classes = frozenset(index[o[0]] for o in objs if o[0] in index)
        it.n_boxes = len(objs)
        it.state = "labelled" if objs else "ok"
        return it

    def load(self, item: Item, width: int, height: int) -> Annotation:
        if item.image in self._shut_out:
            return Annotation(width, height, [], "unlabelled")
        try:
            got = self._objects_of(self.label_file(item))
        except (ET.ParseError, ValueError):
            got = None
        if got is None:
            return Annotation(width, height, [], "unlabelled")
        index = {n: i for i, n in enumerate(self.names)}
        boxes = []
        for name, x1, y1, x2, y2, el in got[1]:
            if name not in index:  # named classes join the list rather than being dropped
                self.names.append(name)
                index[name] = len(self.names) - 1
            c = index[name]
            boxes.append(Box(c, x1, y1, x2, y2, raw=el, orig=(c, x1, y1, x2, y2)))
        return Annotation(width, height, boxes, "labelled" if boxes else "ok")

    def save(self, item: Item, ann: Annotation) -> None:
        if item.image in self._shut_out:
            raise ValueError(f"{self.label_file(item)}: {self._shut_out[item.image]}")
        xml = self.label_file(item)
        if item.problem:
            keep_original(xml)
        if ann.effective_state() == "unlabelled":
            self._remove(xml)
            return
        root = None
        if not item.problem:
            try:
                data = base.read_bytes(xml)
                root = _parse(data) if data is not None else None
            except (ET.ParseError, ValueError):
                root = None
        if root is None:
            root = document(item.image.name, ann.width, ann.height)
        for obj in list(root.iter("object")):
            root.remove(obj)
        for b in ann.boxes:
            el = b.raw if isinstance(b.raw, ET.Element) else None
            if el is None:
                el = new_object(self.names[b.cls], b.xyxy)
            else:
                if b.orig is None or b.orig[0] != b.cls:
                    el.find("name").text = self.names[b.cls]
                if b.coords_changed():
                    bb = el.find("bndbox")
                    for k, v in zip(("xmin", "ymin", "xmax", "ymax"), b.xyxy):
                        bb.find(k).text = num(v)
            root.append(el)
        self._write(xml, text(root))

    def write_names(self, names: list[str]) -> None:
        with dataset_lock(self.root):
            if class_list(self.root / "classes.txt") != self._names_read:
                raise SaveConflict(self.root / "classes.txt", "the class list")
            atomic_write_text(self.root / "classes.txt", class_list_text(names))
        self.names, self._names_read = list(names), list(names)

    def write_splits(self, splits: dict[str, list[Item]]) -> str:
        with dataset_lock(self.root):
            for s, items in splits.items():
                atomic_write_text(self.root / "splits" / f"{s}.txt", "".join(f"{it.image.stem}\n" for it in items))
        return self.data_spec()
