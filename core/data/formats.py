"""Dataset formats: Ultralytics data.yaml + YOLO txt, Pascal VOC folders, COCO JSON.

Readers turn any of them into one form: class names and, per split, a list of ``RawSample``
(image path + label entries as written, with parse problems). Boxes become pixels only in
``validate`` (YOLO boxes are normalised, so the image size is needed).
"""
from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .imageio import IMAGE_EXTS

SPLITS = ("train", "val", "test")
# The problem of an image that has no label file: nobody judged it, so it is neither a defect nor an
# OK part, and training it as defect-free would teach the model that its defects are not ones.
UNLABELLED = ("no label file: the image is unlabelled and is not trained on (label it, or mark it "
              "defect-free: an empty label file)")


@dataclass
class RawBox:
    cls: int | str          # class id (YOLO/COCO) or name (VOC)
    box: tuple[float, float, float, float]  # x1 y1 x2 y2; normalised when ``normalized``
    normalized: bool = False


@dataclass
class RawSample:
    image: Path
    boxes: list[RawBox] = field(default_factory=list)
    label_file: Path | None = None
    problem: str | None = None      # a label-level problem that makes the sample unusable
    size_hint: tuple[int, int] | None = None  # (w, h) as the label file claims


@dataclass
class DatasetSpec:
    root: Path
    format: str
    names: list[str]
    splits: dict[str, list[RawSample]]
    problems: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # split -> (file, why), not per image

    def split(self, name: str) -> list[RawSample]:
        if name not in self.splits:
            have = ", ".join(s for s in self.splits if self.splits[s]) or "none"
            raise ValueError(f"dataset {self.root} has no '{name}' split (has: {have})")
        return self.splits[name]


class DatasetError(ValueError):
    """The dataset as a whole cannot be read; the message says where and why."""


# --------------------------------------------------------------------------------- detection

def load_dataset(path: str | os.PathLike) -> DatasetSpec:
    """Read a dataset in any supported layout, detected from what ``path`` is."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder")
    if p.is_file():
        if p.suffix.lower() in (".yaml", ".yml"):
            return read_yolo(p)
        if p.suffix.lower() == ".json":
            return read_coco({s: p for s in SPLITS}, p.parent)
        raise DatasetError(f"{p}: not a dataset (expected a data.yaml, a COCO .json or a folder)")
    for name in ("data.yaml", "data.yml", "dataset.yaml"):
        if (p / name).is_file():
            return read_yolo(p / name)
    if (p / "annotations").is_dir() and any((p / "annotations").glob("*.xml")):
        return read_voc(p)
    if (p / "Annotations").is_dir():
        return read_voc(p, ann_dir="Annotations", img_dir="JPEGImages")
    jsons = {s: p / f"{s}.json" for s in SPLITS if (p / f"{s}.json").is_file()}
    if not jsons and (p / "annotations").is_dir():
        jsons = {s: f for s in SPLITS for f in (p / "annotations").glob(f"*{s}*.json")}
    if jsons:
        return read_coco(jsons, p)
    raise DatasetError(f"{p}: no dataset found (expected data.yaml, VOC annotations/*.xml with images/, "
                       "or COCO train.json/val.json)")


# ------------------------------------------------------------------------------------- YOLO

def _yolo_names(names, where: Path) -> list[str]:
    if isinstance(names, dict):
        try:
            ids = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise DatasetError(f"{where}: 'names' keys must be class ids 0..N-1") from None
        if ids != list(range(len(ids))):
            raise DatasetError(f"{where}: 'names' ids must be 0..N-1")
        names = [names[k] if k in names else names[str(k)] for k in ids]
    if not isinstance(names, list):
        raise DatasetError(f"{where}: 'names' must be a list or a mapping of id -> name")
    if not names:
        raise DatasetError(f"{where}: 'names' is empty")
    bad = [n for n in names if not isinstance(n, (str, int, float)) or isinstance(n, bool) or not str(n).strip()]
    if bad:
        raise DatasetError(f"{where}: class name {bad[0]!r} is not a name")
    return [str(n) for n in names]


def _list_images(entry, base: Path) -> list[Path]:
    entries = entry if isinstance(entry, list) else [entry]
    out: list[Path] = []
    for e in entries:
        if not isinstance(e, str):
            raise DatasetError(f"split entry {e!r} is not a path")
        q = Path(e)
        q = q if q.is_absolute() else base / q
        if q.is_dir():
            out += sorted(f for f in q.rglob("*") if f.suffix.lower() in IMAGE_EXTS)
        elif q.is_file() and q.suffix == ".txt":
            for line in q.read_text().splitlines():
                line = line.strip()
                if line:
                    f = Path(line)
                    out.append(f if f.is_absolute() else (q.parent / f))
        elif q.suffix.lower() in IMAGE_EXTS:
            out.append(q)
        else:
            raise DatasetError(f"split entry {q} does not exist")
    return out


def yolo_label_path(img: Path) -> Path:
    """images/.../x.jpg -> labels/.../x.txt (the last 'images' folder in the path)."""
    parts = list(img.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return img.with_suffix(".txt")


def parse_yolo_lines(text: str):
    """[(cls, cx, cy, w, h, the line as written)] of a YOLO label file's text, and the first problem
    (a bad line makes the whole file unusable) or None."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 5:
            return [], f"malformed label line {n}: expected 'class cx cy w h', got {len(parts)} fields"
        try:
            c = float(parts[0])
            cx, cy, w, h = map(float, parts[1:])
        except ValueError:
            return [], f"malformed label line {n}: non-numeric value"
        if c != int(c) or c < 0:
            return [], f"malformed label line {n}: class id '{parts[0]}' is not a non-negative integer"
        out.append((int(c), cx, cy, w, h, line))
    return out, None


def parse_yolo_txt(path: Path) -> tuple[list[RawBox], str | None]:
    if not path.exists():  # an empty file marks a defect-free image; no file, one nobody judged
        return [], UNLABELLED
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        return [], f"label file unreadable ({e})"
    lines, problem = parse_yolo_lines(text)
    boxes = [RawBox(c, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), normalized=True)
             for c, cx, cy, w, h, _ in lines]
    return boxes, problem


def read_yolo(yaml_path: Path) -> DatasetSpec:
    try:
        cfg = yaml.safe_load(yaml_path.read_text()) or {}
    except yaml.YAMLError as e:
        raise DatasetError(f"{yaml_path}: not valid YAML ({e})") from None
    if not isinstance(cfg, dict) or "names" not in cfg:
        raise DatasetError(f"{yaml_path}: missing 'names'")
    names = _yolo_names(cfg["names"], yaml_path)
    if not isinstance(cfg.get("path") or "", str):
        raise DatasetError(f"{yaml_path}: 'path' must be a folder path (found {cfg['path']!r})")
    base = Path(cfg.get("path") or ".")
    if not base.is_absolute():   # relative to the data.yaml's folder
        base = (yaml_path.parent / base).resolve()
    splits: dict[str, list[RawSample]] = {}
    for s in SPLITS:
        if not cfg.get(s):
            continue
        samples = []
        try:
            images = _list_images(cfg[s], base)
        except DatasetError as e:
            raise DatasetError(f"{yaml_path}: '{s}': {e}") from None
        for img in images:
            lp = yolo_label_path(img)
            boxes, problem = parse_yolo_txt(lp)
            samples.append(RawSample(img, boxes, lp, problem))
        splits[s] = samples
    return DatasetSpec(base, "yolo", names, splits)


# -------------------------------------------------------------------------------------- VOC

def parse_voc_xml(path: Path) -> tuple[list[RawBox], str | None, tuple[int, int] | None]:
    if not path.exists():  # an XML without objects marks a defect-free image
        return [], UNLABELLED, None
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        return [], f"malformed annotation XML ({e})", None
    size = None
    sz = root.find("size")
    if sz is not None:
        try:
            size = (int(float(sz.findtext("width"))), int(float(sz.findtext("height"))))
        except (TypeError, ValueError):
            size = None
    boxes = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        bb = obj.find("bndbox")
        if not name or bb is None:
            return [], "malformed annotation: object without name or bndbox", size
        try:
            x1, y1, x2, y2 = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError):
            return [], f"malformed annotation: non-numeric box for '{name}'", size
        boxes.append(RawBox(name, (x1, y1, x2, y2)))
    return boxes, None, size


def read_voc(root: Path, ann_dir: str = "annotations", img_dir: str = "images") -> DatasetSpec:
    ann = root / ann_dir
    imgs = root / img_dir
    if not imgs.is_dir():
        raise DatasetError(f"{root}: VOC layout needs an '{img_dir}/' folder")
    by_stem: dict[str, Path] = {}
    for f in sorted(imgs.iterdir()):
        if f.suffix.lower() in IMAGE_EXTS:
            by_stem.setdefault(f.stem, f)
    names: list[str]
    if (root / "classes.txt").is_file():
        names = [ln.strip() for ln in (root / "classes.txt").read_text().splitlines() if ln.strip()]
    else:  # derive from the annotations, sorted for stable ids
        found = set()
        for x in ann.glob("*.xml"):
            b, _, _ = parse_voc_xml(x)
            found.update(str(r.cls) for r in b)
        names = sorted(found)
    split_dirs = [root / "splits", root / "ImageSets" / "Main"]
    splits: dict[str, list[RawSample]] = {}
    for s in SPLITS:
        listing = next((d / f"{s}.txt" for d in split_dirs if (d / f"{s}.txt").is_file()), None)
        if listing is None:
            continue
        samples = []
        for stem in (ln.strip() for ln in listing.read_text().splitlines()):
            if not stem:
                continue
            img = by_stem.get(stem, imgs / f"{stem}.jpg")
            xml = ann / f"{stem}.xml"
            boxes, problem, size = parse_voc_xml(xml)
            samples.append(RawSample(img, boxes, xml, problem, size))
        splits[s] = samples
    if not splits:  # no split lists: every image is 'train' and 'val'
        samples = []
        for stem, img in by_stem.items():
            xml = ann / f"{stem}.xml"
            boxes, problem, size = parse_voc_xml(xml)
            samples.append(RawSample(img, boxes, xml, problem, size))
        splits = {"train": samples, "val": samples}
    return DatasetSpec(root, "voc", names, splits)


# ------------------------------------------------------------------------------------- COCO

def _coco_id(v):
    """An image or category id as COCO files write it (a number or a string), else None."""
    return v if isinstance(v, (int, str)) and not isinstance(v, bool) else None


def read_coco(files: dict[str, Path], root: Path) -> DatasetSpec:
    names: list[str] | None = None
    splits: dict[str, list[RawSample]] = {}
    problems: dict[str, list[tuple[str, str]]] = {}
    for s, f in files.items():
        try:
            d = json.loads(Path(f).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise DatasetError(f"{f}: not valid COCO JSON ({e})") from None
        if not isinstance(d, dict) or not isinstance(d.get("images"), list) or not isinstance(d.get("categories"), list):
            raise DatasetError(f"{f}: COCO JSON needs 'images' and 'categories' lists")
        try:
            cats = sorted(d["categories"], key=lambda c: int(c["id"]))
            ids = [int(c["id"]) for c in cats]
            if not all(isinstance(c["name"], str) and c["name"].strip() for c in cats):
                raise TypeError
        except (KeyError, TypeError, ValueError):
            raise DatasetError(f"{f}: every category needs an integer 'id' and a 'name' (a string)") from None
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise DatasetError(f"{f}: category id(s) {', '.join(map(str, dup))} used by more than one category")
        cat_index = {c["id"]: i for i, c in enumerate(cats)}
        these = [str(c["name"]) for c in cats]
        if names is None:
            names = these
        elif names != these:
            raise DatasetError(f"{f}: categories differ from the other splits")
        base = Path(f).parent
        samples: dict[int, RawSample] = {}
        found: list[tuple[str, str]] = []
        for im in d["images"]:
            if not isinstance(im, dict) or _coco_id(im.get("id")) is None or not isinstance(im.get("file_name"), str):
                found.append((str(f), f"image entry {str(im)[:80]} lacks a usable 'id' (a number or a string) or 'file_name' (skipped)"))
                continue
            fn = Path(im["file_name"])
            cands = [fn if fn.is_absolute() else base / fn, base / "images" / fn, root / "images" / fn, root / fn]
            path = next((c for c in cands if c.exists()), cands[0])
            try:
                size = (int(im["width"]), int(im["height"])) if "width" in im and "height" in im else None
            except (TypeError, ValueError):
                size = None
            samples[im["id"]] = RawSample(path, [], Path(f), None, size)
        anns = d.get("annotations") or []
        if not isinstance(anns, list):
            raise DatasetError(f"{f}: 'annotations' must be a list (found {type(anns).__name__})")
        for a in anns:
            if not isinstance(a, dict):
                found.append((str(f), f"annotation {str(a)[:80]} is not an object (skipped)"))
                continue
            smp = samples.get(_coco_id(a.get("image_id")))
            if smp is None:
                found.append((str(f), f"annotation id {a.get('id')} points at image_id {a.get('image_id')!r}, "
                                      "which the file does not list (its box is not used)"))
                continue
            if a.get("iscrowd"):
                continue
            try:
                x, y, w, h = map(float, a["bbox"])
            except (KeyError, TypeError, ValueError):
                smp.problem = f"malformed annotation id {a.get('id')}: bad bbox"
                continue
            cid = _coco_id(a.get("category_id"))
            smp.boxes.append(RawBox(cat_index.get(cid, f"category_id {a.get('category_id')!r}"), (x, y, x + w, y + h)))
        splits[s] = list(samples.values())
        problems[s] = found
    return DatasetSpec(root, "coco", names or [], splits, problems)


# ------------------------------------------------------------------------------------ writers

def write_yolo_label(path: Path, boxes, classes, w: int, h: int) -> None:
    from core.util.io import atomic_write_text

    lines = []
    for (x1, y1, x2, y2), c in zip(boxes, classes):
        lines.append(f"{int(c)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


def _voc_xml(filename: str, w: int, h: int, boxes, classes, names) -> str:
    from xml.sax.saxutils import escape

    objs = "".join(
        f"  <object>\n    <name>{escape(names[int(c)])}</name>\n    <difficult>0</difficult>\n    <bndbox>"
        f"<xmin>{b[0]:.1f}</xmin><ymin>{b[1]:.1f}</ymin><xmax>{b[2]:.1f}</xmax><ymax>{b[3]:.1f}</ymax></bndbox>\n"
        f"  </object>\n" for b, c in zip(boxes, classes))
    return (f"<annotation>\n  <filename>{escape(filename)}</filename>\n  <size><width>{w}</width><height>{h}</height>"
            f"<depth>3</depth></size>\n{objs}</annotation>\n")


class DatasetWriter:
    """Writes a dataset in one of the three layouts; ``close()`` returns what ``--data`` takes.

    Images are given as a file to copy or an array to encode (PNG); labels are written atomically.
    """

    def __init__(self, out: str | os.PathLike, fmt: str, names: list[str]):
        if fmt not in ("yolo", "voc", "coco"):
            raise ValueError(f"unknown format '{fmt}' (yolo, voc or coco)")
        self.out, self.fmt, self.names = Path(out), fmt, list(names)
        self.coco: dict[str, dict] = {}
        self.split_lists: dict[str, list[str]] = {}

    def add(self, split: str, stem: str, image, boxes, classes, w: int, h: int) -> None:
        """``image``: a file to copy, an array to encode, or None for an image added already under
        ``stem`` (VOC and COCO list it in this split too)."""
        import shutil

        import cv2

        from core.util.io import atomic_write_bytes, atomic_write_text

        img_dir = self.out / "images" / split if self.fmt == "yolo" else self.out / "images"
        img_dir.mkdir(parents=True, exist_ok=True)
        self._files = getattr(self, "_files", {})
        if image is None:
            name = self._files[stem]
            if self.fmt == "voc":
                self.split_lists.setdefault(split, []).append(stem)
                return
        elif isinstance(image, (str, os.PathLike)):
            name = f"{stem}{Path(image).suffix.lower()}"
            shutil.copy2(image, img_dir / name)
        else:
            name = f"{stem}.png"
            ok, buf = cv2.imencode(".png", image)
            if not ok:
                raise ValueError(f"cannot encode image {stem}")
            atomic_write_bytes(img_dir / name, buf.tobytes())
        self._files[stem] = name
        if self.fmt == "yolo":
            write_yolo_label(self.out / "labels" / split / f"{stem}.txt", boxes, classes, w, h)
        elif self.fmt == "voc":
            atomic_write_text(self.out / "annotations" / f"{stem}.xml", _voc_xml(name, w, h, boxes, classes, self.names))
            self.split_lists.setdefault(split, []).append(stem)
        else:
            d = self.coco.setdefault(split, {"images": [], "annotations": [], "categories": [
                {"id": i + 1, "name": n} for i, n in enumerate(self.names)]})
            iid = len(d["images"]) + 1
            d["images"].append({"id": iid, "file_name": name, "width": int(w), "height": int(h)})
            for b, c in zip(boxes, classes):
                bw, bh = float(b[2] - b[0]), float(b[3] - b[1])
                d["annotations"].append({"id": len(d["annotations"]) + 1, "image_id": iid, "category_id": int(c) + 1,
                                         "bbox": [float(b[0]), float(b[1]), bw, bh], "area": bw * bh, "iscrowd": 0})

    def close(self) -> Path:
        from core.util.io import atomic_write_text

        self.out.mkdir(parents=True, exist_ok=True)
        if self.fmt == "yolo":
            splits = sorted(p.name for p in (self.out / "images").iterdir() if p.is_dir()) if (self.out / "images").exists() else []
            cfg = {"path": str(self.out.resolve()), "names": self.names, **{s: f"images/{s}" for s in splits}}
            atomic_write_text(self.out / "data.yaml", yaml.safe_dump(cfg, sort_keys=False))
            return self.out / "data.yaml"
        if self.fmt == "voc":
            atomic_write_text(self.out / "classes.txt", "\n".join(self.names) + "\n")
            for s, stems in self.split_lists.items():
                atomic_write_text(self.out / "splits" / f"{s}.txt", "\n".join(stems) + "\n")
            return self.out
        for s, d in self.coco.items():
            atomic_write_text(self.out / f"{s}.json", json.dumps(d))
        return self.out
