"""Ultralytics YOLO: ``data.yaml`` (``path``, ``train``/``val``/``test``, ``names``) and one txt per image.

A split entry is a folder of images, a list file of image paths, or an image. An image's labels
are in ``labels/`` where its path says ``images/`` (beside the image in a plain folder), one line
``class cx cy w h`` per box, normalised. An empty file is a defect-free image, no file an
unlabelled one. A plain folder of images (a new dataset) keeps its class list in ``classes.txt``
until it is split; then ``data.yaml`` names the splits and the classes, and both stay in step.
The editor writes an unchanged line back as it was read, and ``data.yaml`` in the file's own
layout (a comment, ``names`` as a list or a mapping, ``nc``) with only the class list changed.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from core.data.annotation import Annotation, Box, Item
from core.data.imageio import IMAGE_EXTS
from core.util.io import atomic_write_text, read_regular

from . import base
from .base import (SPLITS, UNLABELLED, DatasetError, DatasetSpec, RawBox, RawSample, SaveConflict, class_list,
                   class_list_text, dataset_lock, image_key, keep_original)

NAME = "yolo"
LOOKS_LIKE = "a data.yaml"
YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml")


def detect(p: Path) -> Path | None:
    if p.is_file():
        return p if p.suffix.lower() in (".yaml", ".yml") else None
    return next((p / n for n in YAML_NAMES if (p / n).is_file()), None)


# -------------------------------------------------------------------------------------- read
def _names(names, where: Path) -> list[str]:
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


def _list_images(entry, base_dir: Path) -> list[Path]:
    entries = entry if isinstance(entry, list) else [entry]
    out: list[Path] = []
    for e in entries:
        if not isinstance(e, str):
            raise DatasetError(f"split entry {e!r} is not a path")
        q = Path(e)
        q = q if q.is_absolute() else base_dir / q
        if q.is_dir():
            out += sorted(f for f in q.rglob("*") if f.suffix.lower() in IMAGE_EXTS)
        elif q.is_file() and q.suffix == ".txt":
            for line in read_regular(q).decode("utf-8-sig").splitlines():
                line = line.strip()
                if line:
                    f = Path(line)
                    out.append(f if f.is_absolute() else (q.parent / f))
        elif q.suffix.lower() in IMAGE_EXTS:
            out.append(q)
        else:
            raise DatasetError(f"split entry {q} does not exist")
    return out


def label_path(img: Path) -> Path:
    """images/.../x.jpg -> labels/.../x.txt (the last 'images' folder in the path), else x.txt beside it."""
    parts = list(img.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return img.with_suffix(".txt")


def parse_lines(text: str):
    """[(cls, cx, cy, w, h, the line as written)] of a label file's text, and the first problem (a
    bad line makes the whole file unusable) or None. A byte-order mark (Windows editors) is allowed."""
    out = []
    for n, line in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
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


def _decode(data: bytes):
    """(lines, problem) of a label file's bytes."""
    try:
        return parse_lines(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        return [], f"label file unreadable ({e})"


def _sample(img: Path) -> RawSample:
    lp = label_path(img)
    try:
        data = base.read_bytes(lp)
    except OSError as e:
        return RawSample(img, [], lp, f"label file unreadable: {e.strerror or e}")
    if data is None:  # an empty file marks a defect-free image; no file, one nobody judged
        return RawSample(img, [], lp, UNLABELLED)
    lines, problem = _decode(data)
    boxes = [RawBox(c, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), normalized=True)
             for c, cx, cy, w, h, _ in lines]
    return RawSample(img, boxes, lp, problem)


def _config(yaml_path: Path) -> dict:
    try:
        cfg = yaml.safe_load(read_regular(yaml_path).decode("utf-8-sig")) or {}
    except yaml.YAMLError as e:
        raise DatasetError(f"{yaml_path}: not valid YAML ({e})") from None
    if not isinstance(cfg, dict) or "names" not in cfg:
        raise DatasetError(f"{yaml_path}: missing 'names'")
    return cfg


def read(yaml_path: Path) -> DatasetSpec:
    cfg = _config(yaml_path)
    names = _names(cfg["names"], yaml_path)
    if not isinstance(cfg.get("path") or "", str):
        raise DatasetError(f"{yaml_path}: 'path' must be a folder path (found {cfg['path']!r})")
    root = Path(cfg.get("path") or ".")
    if not root.is_absolute():   # relative to the data.yaml's folder
        root = (yaml_path.parent / root).resolve()
    splits: dict[str, list[RawSample]] = {}
    for s in SPLITS:
        if not cfg.get(s):
            continue
        try:
            images = _list_images(cfg[s], root)
        except DatasetError as e:
            raise DatasetError(f"{yaml_path}: '{s}': {e}") from None
        splits[s] = [_sample(img) for img in images]
    return DatasetSpec(root, NAME, names, splits)


# ------------------------------------------------------------------------------------- write
def line(cls: int, x1: float, y1: float, x2: float, y2: float, w: int, h: int) -> str:
    """One box (pixels) as a label line."""
    x1, y1, x2, y2 = map(float, (x1, y1, x2, y2))
    return f"{int(cls)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"


def label_text(lines: list[str]) -> str:
    return "\n".join(lines) + ("\n" if lines else "")


class Writer(base.Writer):
    images_per_split = True

    def label(self, split, stem, name, boxes, classes, w, h, again):
        if again:
            raise ValueError("a YOLO dataset keeps a folder per split: give the image again for another split")
        atomic_write_text(self.out / "labels" / split / f"{stem}.txt",
                          label_text([line(c, *b, w, h) for b, c in zip(boxes, classes)]))

    def close(self) -> Path:
        img = self.out / "images"
        splits = sorted(p.name for p in img.iterdir() if p.is_dir()) if img.is_dir() else []
        cfg = {"path": str(self.out.resolve()), "names": self.names, **{s: f"images/{s}" for s in splits}}
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out / "data.yaml", yaml.safe_dump(cfg, sort_keys=False))
        return self.out / "data.yaml"


# -------------------------------------------------------------------------------------- edit
class Editor(base.Editor):
    format = NAME

    def __init__(self, root: Path, names: list[str], yaml_path: Path | None):
        super().__init__(root, names)
        self.yaml_path = yaml_path
        self._names_read = list(names)      # the class list on disk as last read or written here

    @classmethod
    def open_folder(cls, folder: Path) -> tuple["Editor", list[Item]]:
        """A plain folder of images (a new dataset): labels beside the images, names in classes.txt."""
        ed = cls(folder, class_list(folder / "classes.txt"), None)
        imgs = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS and ".sdgas" not in p.parts)
        return ed, [ed._item(p, "") for p in imgs]

    @classmethod
    def open(cls, yaml_path: Path, spec: DatasetSpec) -> tuple["Editor", list[Item]]:
        """The listed images, then the images beside them (and beside data.yaml) that no split lists
        yet: a folder split in the labelling view lists only what was judged, its other images stay
        to be labelled."""
        ed = cls(spec.root, spec.names, yaml_path)
        items, seen = [], set()
        for split, raws in spec.splits.items():
            for r in raws:
                if r.image in seen:
                    continue
                seen.add(r.image)
                items.append(ed._item(r.image, split))
        for d in sorted({p.parent for p in seen} | {yaml_path.parent}):
            items += [ed._item(p, "") for p in base.images_in(d) if p not in seen]
        return ed, sorted(items, key=lambda it: it.key)   # by name, not in a split list's shuffled order

    def label_file(self, item: Item) -> Path:
        return label_path(item.image)

    def name_files(self) -> list[Path]:
        return [self.root / "classes.txt", *([self.yaml_path] if self.yaml_path else [])]

    def _lines(self, lp: Path):
        """(lines, problem) of the image's label file as on disk now; None when there is none."""
        data = self._read(lp)
        return None if data is None else _decode(data)

    def _item(self, image: Path, split: str) -> Item:
        lp = label_path(image)
        it = Item(image, image_key(image, self.root), split, ref=lp)
        got = self._lines(lp)
        if got is None:
            return it
        lines, problem = got
        if problem:
            it.problem, it.state = f"{lp}: {problem}", "unlabelled"
            return it
        it.classes = frozenset(c for c, *_ in lines)
        it.n_boxes = len(lines)
        it.state = "labelled" if lines else "ok"
        return it

    def load(self, item: Item, width: int, height: int) -> Annotation:
        got = self._lines(label_path(item.image))
        if got is None or got[1]:
            return Annotation(width, height, [], "unlabelled")
        boxes = []
        for c, cx, cy, w, h, raw in got[0]:
            x1, y1, x2, y2 = (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height
            boxes.append(Box(c, x1, y1, x2, y2, raw=raw, orig=(c, x1, y1, x2, y2)))
        return Annotation(width, height, boxes, "labelled" if boxes else "ok")

    def save(self, item: Item, ann: Annotation) -> None:
        lp = label_path(item.image)
        if item.problem:
            keep_original(lp)
        if ann.effective_state() == "unlabelled":
            self._remove(lp, lp.with_name(lp.name + ".unlabelled") if item.problem else None)
            return
        out = []
        for b in ann.boxes:
            if not b.coords_changed() and b.raw is not None:
                parts = b.raw.split()
                out.append(b.raw.strip() if b.orig[0] == b.cls else " ".join([str(b.cls), *parts[1:]]))
            else:
                out.append(line(b.cls, *b.xyxy, ann.width, ann.height))
        self._write(lp, label_text(out))

    # ----------------------------------------------------------------------------- classes
    def _names_on_disk(self) -> list[str]:
        if self.yaml_path is not None and self.yaml_path.is_file():
            try:
                return _names(_config(self.yaml_path)["names"], self.yaml_path)
            except DatasetError:
                return []
        return class_list(self.root / "classes.txt")

    def write_names(self, names: list[str]) -> None:
        """The class list into ``classes.txt`` (a plain folder: no splits yet, so no data.yaml that would
        train every image) and into ``data.yaml`` once there is one, in the file's own layout; both
        stay in step. Refused if another hand changed the class list since it was read here."""
        with dataset_lock(self.root):
            if self._names_on_disk() != self._names_read:
                raise SaveConflict(self.yaml_path or self.root / "classes.txt", "the class list")
            txt = self.root / "classes.txt"
            if self.yaml_path is None or txt.is_file():
                atomic_write_text(txt, class_list_text(names))
            if self.yaml_path is not None:
                atomic_write_text(self.yaml_path, _with_names(self.yaml_path.read_text(encoding="utf-8-sig"), names))
        self.names, self._names_read = list(names), list(names)

    def write_yaml(self, splits: dict) -> Path:
        """A data.yaml for this dataset with these split entries (a plain folder gets its first one)."""
        p = self.yaml_path or self.root / "data.yaml"
        with dataset_lock(self.root):
            cfg = (yaml.safe_load(p.read_text(encoding="utf-8-sig")) or {}) if p.exists() else {}
            cfg.setdefault("path", str(self.root.resolve()))
            for s in SPLITS:
                cfg.pop(s, None)
            cfg.update(splits)
            as_map = isinstance(cfg.get("names"), dict)   # the file's own form of the class list
            cfg["names"] = dict(enumerate(self.names)) if as_map else list(self.names)
            atomic_write_text(p, yaml.safe_dump(cfg, sort_keys=False))
        self.yaml_path = p
        return p

    def write_splits(self, splits: dict[str, list[Item]]) -> str:
        with dataset_lock(self.root):
            for s, items in splits.items():
                atomic_write_text(self.root / "splits" / f"{s}.txt",
                                  "".join(f"{it.image.absolute()}\n" for it in items))
            self.write_yaml({s: f"splits/{s}.txt" for s, items in splits.items() if items})
        return self.data_spec()

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
