"""Reading and writing one image's labels in YOLO, VOC and COCO, changing nothing the user did not touch.

- YOLO: one txt per image (``images/`` -> ``labels/``, or beside the image in a plain folder); an
  unchanged line is written back as it was read; an empty file is a defect-free image, no file an
  unlabelled one. Names: ``data.yaml`` ``names`` (or ``classes.txt`` in a plain folder).
- VOC: one XML per image; unchanged ``<object>`` elements are kept with all their fields, edited ones
  keep theirs but name and box; an XML without objects is defect-free. Names: ``classes.txt``.
- COCO: one JSON per split; an image's annotations are replaced, every other annotation, image and
  field is kept; an image entry without annotations is defect-free, an image on disk without an
  entry unlabelled.
Every write is atomic. A label file that could not be read is kept as ``<file>.orig`` before the
first save over it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from core.data.formats import SPLITS, load_dataset, parse_yolo_lines, yolo_label_path
from core.data.imageio import IMAGE_EXTS
from core.util.io import atomic_write_text

from .annotation import Annotation, Box, Item


def _keep_original(path: Path) -> None:
    if path.exists() and not path.with_name(path.name + ".orig").exists():
        shutil.copy2(path, path.with_name(path.name + ".orig"))


def _fmt(v: float) -> str:
    return f"{v:.6f}"


# ------------------------------------------------------------------------------------- YOLO
class YoloBackend:
    format = "yolo"

    def __init__(self, root: Path, names: list[str], yaml_path: Path | None):
        self.root, self.names, self.yaml_path = root, list(names), yaml_path

    @classmethod
    def open_folder(cls, folder: Path) -> tuple["YoloBackend", list[Item]]:
        """A plain folder of images (a new dataset): labels beside the images, names in classes.txt."""
        names = []
        if (folder / "classes.txt").is_file():
            names = [ln.strip() for ln in (folder / "classes.txt").read_text().splitlines() if ln.strip()]
        be = cls(folder, names, None)
        imgs = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS and ".sdgas" not in p.parts)
        return be, [be._item(p, "") for p in imgs]

    @classmethod
    def open_spec(cls, spec, yaml_path: Path) -> tuple["YoloBackend", list[Item]]:
        """The listed images, then the images beside them (and beside data.yaml) that no split lists
        yet: a folder split in the labelling view lists only what was judged, its other images stay
        to be labelled."""
        be = cls(spec.root, spec.names, yaml_path)
        items, seen = [], set()
        for split, raws in spec.splits.items():
            for r in raws:
                if r.image in seen:
                    continue
                seen.add(r.image)
                items.append(be._item(r.image, split))
        for d in sorted({p.parent for p in seen} | {yaml_path.parent}):
            if d.is_dir():
                items += [be._item(p, "") for p in sorted(d.iterdir())
                          if p.suffix.lower() in IMAGE_EXTS and p not in seen]
        return be, sorted(items, key=lambda it: it.key)   # by name, not in a split list's shuffled order

    def label_path(self, image: Path) -> Path:
        return yolo_label_path(image)

    def _item(self, image: Path, split: str) -> Item:
        lp = self.label_path(image)
        it = Item(image, _key(image, self.root), split, ref=lp)
        if not lp.exists():
            return it
        try:
            lines, problem = parse_yolo_lines(lp.read_text())
        except (OSError, UnicodeDecodeError) as e:
            lines, problem = [], f"label file unreadable ({e})"
        if problem:
            it.problem, it.state = f"{lp}: {problem}", "unlabelled"
            return it
        it.classes = frozenset(c for c, *_ in lines)
        it.n_boxes = len(lines)
        it.state = "labelled" if lines else "ok"
        return it

    def load(self, item: Item, width: int, height: int) -> Annotation:
        lp = self.label_path(item.image)
        if not lp.exists():
            return Annotation(width, height, [], "unlabelled")
        try:
            lines, problem = parse_yolo_lines(lp.read_text())
        except (OSError, UnicodeDecodeError) as e:
            lines, problem = [], str(e)
        if problem:
            return Annotation(width, height, [], "unlabelled")
        boxes = []
        for c, cx, cy, w, h, raw in lines:
            x1, y1, x2, y2 = (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height
            boxes.append(Box(c, x1, y1, x2, y2, raw=raw, orig=(c, x1, y1, x2, y2)))
        return Annotation(width, height, boxes, "labelled" if boxes else "ok")

    def save(self, item: Item, ann: Annotation) -> None:
        lp = self.label_path(item.image)
        if item.problem:
            _keep_original(lp)
        state = ann.effective_state()
        if state == "unlabelled":
            if lp.exists():
                os.replace(lp, lp.with_name(lp.name + ".unlabelled")) if item.problem else lp.unlink()
            return
        out = []
        for b in ann.boxes:
            if not b.coords_changed() and b.raw is not None:
                parts = b.raw.split()
                out.append(b.raw.strip() if b.orig[0] == b.cls else " ".join([str(b.cls), *parts[1:]]))
                continue
            W, H = ann.width, ann.height
            out.append(f"{b.cls} {_fmt((b.x1 + b.x2) / 2 / W)} {_fmt((b.y1 + b.y2) / 2 / H)} "
                       f"{_fmt((b.x2 - b.x1) / W)} {_fmt((b.y2 - b.y1) / H)}")
        atomic_write_text(lp, "\n".join(out) + ("\n" if out else ""))

    def write_names(self, names: list[str]) -> None:
        """The class list into ``classes.txt`` (a plain folder: no splits yet, so no data.yaml that would
        train every image) and into ``data.yaml`` once there is one, in the file's own layout; both
        stay in step."""
        self.names = list(names)
        txt = self.root / "classes.txt"
        if self.yaml_path is None or txt.is_file():
            atomic_write_text(txt, "\n".join(names) + "\n")
        if self.yaml_path is not None:
            atomic_write_text(self.yaml_path, _with_names(self.yaml_path.read_text(), names))

    def write_yaml(self, splits: dict) -> Path:
        """A data.yaml for this dataset with these split entries (a plain folder gets its first one)."""
        p = self.yaml_path or self.root / "data.yaml"
        cfg = {}
        if p.exists():
            cfg = yaml.safe_load(p.read_text()) or {}
        cfg.setdefault("path", str(self.root.resolve()))
        for s in SPLITS:
            cfg.pop(s, None)
        cfg.update(splits)
        as_map = isinstance(cfg.get("names"), dict)   # the file's own form of the class list
        cfg["names"] = dict(enumerate(self.names)) if as_map else list(self.names)
        atomic_write_text(p, yaml.safe_dump(cfg, sort_keys=False))
        self.yaml_path = p
        return p

    def data_spec(self) -> str:
        return str(self.yaml_path or self.root / "data.yaml")


def _scalar(name: str) -> str:
    """``name`` as a YAML scalar (quoted where YAML needs it)."""
    return yaml.safe_dump([name], default_flow_style=True, width=1 << 16).strip()[1:-1]


def _with_names(text: str, names: list[str]) -> str:
    """data.yaml's ``text`` with its class list replaced and every other line kept as written; the
    list keeps its form (a mapping of id -> name or a list; block or flow). Falls back to a dump of
    the whole file, still in the list's form, for a layout this does not follow."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith("names:")), None)
    cfg = yaml.safe_load(text) or {}
    as_map = isinstance(cfg.get("names"), dict)
    if start is not None:
        rest = lines[start][len("names:"):].strip()
        end = start + 1
        if not rest or rest.startswith("#"):   # block style: the indented (or dashed) lines below
            while end < len(lines) and (lines[end][:1] in (" ", "\t") or lines[end].startswith("-")):
                end += 1
            child = next((ln for ln in lines[start + 1:end] if ln.strip() and not ln.lstrip().startswith("#")), "  ")
            ind = child[:len(child) - len(child.lstrip())]
            body = "".join(f"{ind}{i}: {_scalar(n)}\n" if as_map else f"{ind}- {_scalar(n)}\n"
                           for i, n in enumerate(names))
            block = "names:\n" + body
        else:
            flow = "{" + ", ".join(f"{i}: {_scalar(n)}" for i, n in enumerate(names)) + "}" if as_map \
                else "[" + ", ".join(_scalar(n) for n in names) + "]"
            block = f"names: {flow}\n"
        out = "".join(lines[:start]) + block + "".join(lines[end:])
        out = re.sub(r"(?m)^nc:[ \t]*\d+", f"nc: {len(names)}", out)   # Ultralytics' class count, if written
        try:
            got = yaml.safe_load(out).get("names")
            if [str(v) for v in (got.values() if isinstance(got, dict) else got)] == list(names):
                return out
        except (yaml.YAMLError, AttributeError, TypeError):
            pass
    cfg["names"] = dict(enumerate(names)) if as_map else list(names)
    if "nc" in cfg:
        cfg["nc"] = len(names)
    return yaml.safe_dump(cfg, sort_keys=False)


# -------------------------------------------------------------------------------------- VOC
class VocBackend:
    format = "voc"

    def __init__(self, root: Path, names: list[str], ann_dir: Path):
        self.root, self.names, self.ann_dir = root, list(names), ann_dir

    @classmethod
    def open_spec(cls, spec) -> tuple["VocBackend", list[Item]]:
        ann_dir = next((spec.root / d for d in ("annotations", "Annotations") if (spec.root / d).is_dir()),
                       spec.root / "annotations")
        be = cls(spec.root, spec.names, ann_dir)
        img_dir = next((spec.root / d for d in ("images", "JPEGImages") if (spec.root / d).is_dir()), spec.root)
        split_of: dict[Path, str] = {}
        for split, raws in spec.splits.items():
            for r in raws:
                split_of.setdefault(r.image, split)
        all_imgs = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        return be, [be._item(p, split_of.get(p, "")) for p in all_imgs]

    def xml_path(self, image: Path) -> Path:
        return self.ann_dir / f"{image.stem}.xml"

    def _parse(self, xml: Path):
        root = ET.parse(xml).getroot()
        objs = []
        for obj in root.iter("object"):
            name = (obj.findtext("name") or "").strip()
            bb = obj.find("bndbox")
            if not name or bb is None:
                raise ValueError("object without name or bndbox")
            x1, y1, x2, y2 = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            objs.append((name, x1, y1, x2, y2, obj))
        return root, objs

    def _item(self, image: Path, split: str) -> Item:
        xml = self.xml_path(image)
        it = Item(image, _key(image, self.root), split, ref=xml)
        if not xml.exists():
            return it
        try:
            _, objs = self._parse(xml)
        except (ET.ParseError, OSError, ValueError, TypeError) as e:
            it.problem = f"{xml}: malformed annotation ({e})"
            return it
        index = {n: i for i, n in enumerate(self.names)}
        unknown = sorted({o[0] for o in objs if o[0] not in index})
        if unknown:
            it.problem = f"{xml}: unknown class(es) {', '.join(unknown)} (add them to the class list)"
        it.classes = frozenset(index[o[0]] for o in objs if o[0] in index)
        it.n_boxes = len(objs)
        it.state = "labelled" if objs else "ok"
        return it

    def load(self, item: Item, width: int, height: int) -> Annotation:
        xml = self.xml_path(item.image)
        if not xml.exists():
            return Annotation(width, height, [], "unlabelled")
        try:
            _, objs = self._parse(xml)
        except (ET.ParseError, OSError, ValueError, TypeError):
            return Annotation(width, height, [], "unlabelled")
        index = {n: i for i, n in enumerate(self.names)}
        boxes = []
        for name, x1, y1, x2, y2, el in objs:
            if name not in index:  # named classes join the list rather than being dropped
                self.names.append(name)
                index[name] = len(self.names) - 1
            c = index[name]
            boxes.append(Box(c, x1, y1, x2, y2, raw=el, orig=(c, x1, y1, x2, y2)))
        return Annotation(width, height, boxes, "labelled" if boxes else "ok")

    def save(self, item: Item, ann: Annotation) -> None:
        xml = self.xml_path(item.image)
        if item.problem:
            _keep_original(xml)
        if ann.effective_state() == "unlabelled":
            if xml.exists():
                xml.unlink()
            return
        try:
            root = ET.parse(xml).getroot() if xml.exists() and not item.problem else None
        except (ET.ParseError, OSError):
            root = None
        if root is None:
            root = ET.Element("annotation")
            ET.SubElement(root, "filename").text = item.image.name
            size = ET.SubElement(root, "size")
            for k, v in (("width", ann.width), ("height", ann.height), ("depth", 3)):
                ET.SubElement(size, k).text = str(v)
        for obj in list(root.iter("object")):
            root.remove(obj)
        for b in ann.boxes:
            el = b.raw if isinstance(b.raw, ET.Element) else None
            if el is None:
                el = ET.Element("object")
                ET.SubElement(el, "name")
                ET.SubElement(el, "pose").text = "Unspecified"
                ET.SubElement(el, "truncated").text = "0"
                ET.SubElement(el, "difficult").text = "0"
                bb = ET.SubElement(el, "bndbox")
                for k in ("xmin", "ymin", "xmax", "ymax"):
                    ET.SubElement(bb, k)
            if b.orig is None or b.orig[0] != b.cls:
                el.find("name").text = self.names[b.cls]
            if b.coords_changed():
                bb = el.find("bndbox")
                for k, v in zip(("xmin", "ymin", "xmax", "ymax"), b.xyxy):
                    bb.find(k).text = str(int(round(v)))
            root.append(el)
        ET.indent(root) if not xml.exists() else None
        atomic_write_text(xml, ET.tostring(root, encoding="unicode") + "\n")

    def write_names(self, names: list[str]) -> None:
        self.names = list(names)
        atomic_write_text(self.root / "classes.txt", "\n".join(names) + "\n")

    def data_spec(self) -> str:
        return str(self.root)


# ------------------------------------------------------------------------------------- COCO
class CocoBackend:
    format = "coco"

    def __init__(self, root: Path, names: list[str], files: dict[str, Path]):
        self.root, self.names, self.files = root, list(names), files
        self.docs: dict[Path, dict] = {}
        for f in set(files.values()):
            self.docs[f] = json.loads(f.read_text())
        first = next(iter(self.docs.values()))
        self.cat_ids = [c["id"] for c in sorted(first["categories"], key=lambda c: c["id"])]

    @classmethod
    def open_spec(cls, spec, files: dict[str, Path]) -> tuple["CocoBackend", list[Item]]:
        be = cls(spec.root, spec.names, files)
        items, seen = [], set()
        for split, f in files.items():
            doc = be.docs[f]
            anns: dict[int, list] = {}
            for a in doc.get("annotations", []):
                anns.setdefault(a.get("image_id"), []).append(a)
            for im in doc["images"]:
                path = _coco_image_path(im["file_name"], f.parent, spec.root)
                if path in seen:
                    continue
                seen.add(path)
                mine = [a for a in anns.get(im["id"], []) if not a.get("iscrowd")]
                it = Item(path, _key(path, spec.root), split, ref=(f, im["id"]))
                idx = {cid: i for i, cid in enumerate(be.cat_ids)}
                it.classes = frozenset(idx[a["category_id"]] for a in mine if a.get("category_id") in idx)
                it.n_boxes = len(mine)
                it.state = "labelled" if mine else "ok"
                items.append(it)
        img_dir = spec.root / "images"
        if img_dir.is_dir():  # images on disk that no JSON lists yet: unlabelled
            for p in sorted(img_dir.iterdir()):
                if p.suffix.lower() in IMAGE_EXTS and p not in seen:
                    items.append(Item(p, _key(p, spec.root), "", ref=None))
        return be, items

    def _doc_for(self, item: Item) -> tuple[Path, dict, dict | None]:
        if item.ref is not None:
            f, iid = item.ref
            doc = self.docs[f]
            im = next((i for i in doc["images"] if i["id"] == iid), None)
            return f, doc, im
        f = self.files.get("train") or next(iter(self.files.values()))
        return f, self.docs[f], None

    def load(self, item: Item, width: int, height: int) -> Annotation:
        if item.ref is None:
            return Annotation(width, height, [], "unlabelled")
        f, doc, im = self._doc_for(item)
        idx = {cid: i for i, cid in enumerate(self.cat_ids)}
        boxes = []
        for a in doc.get("annotations", []):
            if a.get("image_id") != item.ref[1] or a.get("iscrowd") or a.get("category_id") not in idx:
                continue
            x, y, w, h = map(float, a["bbox"])
            c = idx[a["category_id"]]
            boxes.append(Box(c, x, y, x + w, y + h, raw=a, orig=(c, x, y, x + w, y + h)))
        return Annotation(width, height, boxes, "labelled" if boxes else "ok")

    def save(self, item: Item, ann: Annotation) -> None:
        f, doc, im = self._doc_for(item)
        state = ann.effective_state()
        if im is None and state == "unlabelled":
            return
        if im is None:
            iid = max((i["id"] for i in doc["images"]), default=0) + 1
            bare = doc["images"] and "/" not in str(doc["images"][0].get("file_name", ""))
            try:  # follow the file's own convention: bare names for images/, else relative paths
                name = item.image.relative_to(f.parent / "images" if bare else f.parent).as_posix()
            except ValueError:
                name = item.image.name
            im = {"id": iid, "file_name": name, "width": int(ann.width), "height": int(ann.height)}
            doc["images"].append(im)
            item.ref = (f, iid)
        iid = im["id"]
        others = [a for a in doc.get("annotations", []) if a.get("image_id") != iid or a.get("iscrowd")]
        if state == "unlabelled":
            doc["images"] = [i for i in doc["images"] if i["id"] != iid]
            doc["annotations"] = others
            item.ref = None
        else:
            next_id = max((a.get("id", 0) for a in doc.get("annotations", [])), default=0) + 1
            mine = []
            for b in ann.boxes:
                a = dict(b.raw) if isinstance(b.raw, dict) else {"id": None, "image_id": iid, "iscrowd": 0}
                if a.get("id") is None:
                    a["id"], next_id = next_id, next_id + 1
                if b.changed():
                    a["category_id"] = self.cat_ids[b.cls]
                if b.coords_changed():
                    w, h = b.x2 - b.x1, b.y2 - b.y1
                    a["bbox"], a["area"] = [b.x1, b.y1, w, h], w * h
                    a.pop("segmentation", None)
                mine.append(a)
            doc["annotations"] = others + mine
        atomic_write_text(f, json.dumps(doc))

    def write_names(self, names: list[str]) -> None:
        while len(self.cat_ids) < len(names):
            self.cat_ids.append(max(self.cat_ids, default=0) + 1)
        for f, doc in self.docs.items():
            by_id = {c["id"]: c for c in doc["categories"]}
            cats = []
            for cid, n in zip(self.cat_ids, names):
                c = dict(by_id.get(cid, {"id": cid, "supercategory": "defect"}))
                c["name"] = n
                cats.append(c)
            doc["categories"] = cats
            atomic_write_text(f, json.dumps(doc))
        self.names = list(names)

    def remove_category(self, index: int) -> None:
        self.cat_ids.pop(index)

    def data_spec(self) -> str:
        return str(self.root)


def _coco_image_path(file_name: str, base: Path, root: Path) -> Path:
    fn = Path(file_name)
    cands = [fn if fn.is_absolute() else base / fn, base / "images" / fn, root / "images" / fn, root / fn]
    return next((c for c in cands if c.exists()), cands[0])


def _key(image: Path, root: Path) -> str:
    try:
        return image.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return image.resolve().as_posix()


def open_backend(path: str | os.PathLike):
    """(backend, items) for a dataset in any layout, or a plain folder of images (a new dataset)."""
    p = Path(path)
    if p.is_dir() and not _looks_like_dataset(p):
        return YoloBackend.open_folder(p)
    spec = load_dataset(p)
    if spec.format == "yolo":
        y = p if p.is_file() else next(p / n for n in ("data.yaml", "data.yml", "dataset.yaml") if (p / n).is_file())
        return YoloBackend.open_spec(spec, y)
    if spec.format == "voc":
        return VocBackend.open_spec(spec)
    files = {}
    for s, raws in spec.splits.items():
        if raws and raws[0].label_file is not None:
            files[s] = raws[0].label_file
    if not files:
        files = {"train": p if p.is_file() else p / "train.json"}
    return CocoBackend.open_spec(spec, files)


def _looks_like_dataset(p: Path) -> bool:
    return any((p / n).is_file() for n in ("data.yaml", "data.yml", "dataset.yaml", "train.json", "val.json")) \
        or any((p / d).is_dir() and any((p / d).glob("*.xml")) for d in ("annotations", "Annotations"))
