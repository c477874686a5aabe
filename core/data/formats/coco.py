"""COCO: one JSON per split (``train.json``, ``val.json``, ``test.json``, or ``annotations/*train*.json``)
with ``images``, ``annotations`` (``bbox`` = ``[x, y, w, h]`` in pixels) and ``categories``; or one
JSON file for every split.

An image entry without annotations is a defect-free image; an image on disk that no JSON lists, an
unlabelled one. Two image entries of one id are refused by name: a box of that id could belong to
either. The editor replaces one image's annotations where they stood and keeps every other
annotation, image and field; the JSON is read again under the dataset lock before each write, so
another hand's saves of other images are kept, and a change to the same image is a conflict.
"""
from __future__ import annotations

import json
from pathlib import Path

from core.data.annotation import Annotation, Box, Item
from core.util.io import atomic_write_text, read_regular

from . import base
from .base import SPLITS, DatasetError, DatasetSpec, RawBox, RawSample, SaveConflict, dataset_lock, image_key

NAME = "coco"
LOOKS_LIKE = "COCO train.json/val.json"


def _files(anchor: Path) -> dict[str, Path]:
    """{split: its JSON}; one file given alone holds every split."""
    if anchor.is_file():
        return {s: anchor for s in SPLITS}
    files = {s: anchor / f"{s}.json" for s in SPLITS if (anchor / f"{s}.json").is_file()}
    if not files and (anchor / "annotations").is_dir():
        files = {s: f for s in SPLITS for f in sorted((anchor / "annotations").glob(f"*{s}*.json"))}
    return files


def detect(p: Path) -> Path | None:
    if p.is_file():
        return p if p.suffix.lower() == ".json" else None
    return p if _files(p) else None


def _id(v):
    """An image or category id as COCO files write it (a number or a string), else None."""
    return v if isinstance(v, (int, str)) and not isinstance(v, bool) else None


def _image_path(file_name: str, base_dir: Path, root: Path) -> Path:
    fn = Path(file_name)
    cands = [fn if fn.is_absolute() else base_dir / fn, base_dir / "images" / fn, root / "images" / fn, root / fn]
    return next((c for c in cands if c.exists()), cands[0])


def _document(f: Path) -> dict:
    try:
        d = json.loads(read_regular(f).decode("utf-8-sig"))
    except (OSError, ValueError) as e:
        raise DatasetError(f"{f}: not valid COCO JSON ({e})") from None
    if not isinstance(d, dict) or not isinstance(d.get("images"), list) or not isinstance(d.get("categories"), list):
        raise DatasetError(f"{f}: COCO JSON needs 'images' and 'categories' lists")
    if not isinstance(d.get("annotations", []), list):
        raise DatasetError(f"{f}: 'annotations' must be a list (found {type(d['annotations']).__name__})")
    return d


def _categories(d: dict, f: Path) -> list[dict]:
    """The categories by id; DatasetError when an id or name is unusable or an id repeats."""
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
    return cats


def _shared_ids(d: dict, f: Path) -> dict:
    """{image id: why} for the ids that more than one image entry carries."""
    by_id: dict = {}
    for im in d["images"]:
        if isinstance(im, dict) and _id(im.get("id")) is not None:
            by_id.setdefault(im["id"], []).append(str(im.get("file_name")))
    return {i: (f"image id {i!r} is given to {' and '.join(names)} in {f}: a box of that id could belong to "
                "either, so none of them is used (give each image its own id)")
            for i, names in by_id.items() if len(names) > 1}


def read(anchor: Path) -> DatasetSpec:
    files = _files(anchor)
    root = anchor.parent if anchor.is_file() else anchor
    names: list[str] | None = None
    splits: dict[str, list[RawSample]] = {}
    problems: dict[str, list[tuple[str, str]]] = {}
    for s, f in files.items():
        d = _document(f)
        cats = _categories(d, f)
        cat_index = {c["id"]: i for i, c in enumerate(cats)}
        these = [str(c["name"]) for c in cats]
        if names is None:
            names = these
        elif names != these:
            raise DatasetError(f"{f}: categories differ from the other splits")
        shared = _shared_ids(d, f)
        samples: list[RawSample] = []
        by_id: dict = {}
        found: list[tuple[str, str]] = []
        for im in d["images"]:
            if not isinstance(im, dict) or _id(im.get("id")) is None or not isinstance(im.get("file_name"), str):
                found.append((str(f), f"image entry {str(im)[:80]} lacks a usable 'id' (a number or a string) or "
                                      "'file_name' (skipped)"))
                continue
            try:
                size = (int(im["width"]), int(im["height"])) if "width" in im and "height" in im else None
            except (TypeError, ValueError):
                size = None
            smp = RawSample(_image_path(im["file_name"], f.parent, root), [], f, shared.get(im["id"]), size)
            samples.append(smp)
            by_id[im["id"]] = smp
        for a in d.get("annotations") or []:
            if not isinstance(a, dict):
                found.append((str(f), f"annotation {str(a)[:80]} is not an object (skipped)"))
                continue
            smp = by_id.get(_id(a.get("image_id")))
            if smp is None:
                found.append((str(f), f"annotation id {a.get('id')} points at image_id {a.get('image_id')!r}, "
                                      "which the file does not list (its box is not used)"))
                continue
            if a.get("iscrowd") or a.get("image_id") in shared:
                continue
            try:
                x, y, w, h = map(float, a["bbox"])
            except (KeyError, TypeError, ValueError):
                smp.problem = f"malformed annotation id {a.get('id')}: bad bbox"
                continue
            cid = _id(a.get("category_id"))
            smp.boxes.append(RawBox(cat_index.get(cid, f"category_id {a.get('category_id')!r}"), (x, y, x + w, y + h)))
        splits[s] = samples
        problems[s] = found
    return DatasetSpec(root, NAME, names or [], splits, problems)


# ------------------------------------------------------------------------------------- write
def category(cid: int, name: str) -> dict:
    return {"id": cid, "name": name}


def image_entry(iid: int, file_name: str, w: int, h: int) -> dict:
    return {"id": iid, "file_name": file_name, "width": int(w), "height": int(h)}


def _box(x1, y1, x2, y2) -> tuple[list[float], float]:
    """COCO's ``bbox`` (x, y, w, h, to 0.01 px) and ``area`` of a box in pixels."""
    x, y, w, h = (round(float(v), 2) for v in (x1, y1, x2 - x1, y2 - y1))
    return [x, y, w, h], round(w * h, 2)


def annotation(aid: int, iid, cid: int, box) -> dict:
    bbox, area = _box(*box)
    return {"id": aid, "image_id": iid, "category_id": cid, "bbox": bbox, "area": area, "iscrowd": 0}


def text(doc: dict) -> str:
    return json.dumps(doc)


class Writer(base.Writer):
    def __init__(self, out, names):
        super().__init__(out, names)
        self.docs: dict[str, dict] = {}

    def label(self, split, stem, name, boxes, classes, w, h, again):
        d = self.docs.setdefault(split, {"images": [], "annotations": [],
                                         "categories": [category(i + 1, n) for i, n in enumerate(self.names)]})
        iid = len(d["images"]) + 1
        d["images"].append(image_entry(iid, name, w, h))
        for b, c in zip(boxes, classes):
            d["annotations"].append(annotation(len(d["annotations"]) + 1, iid, int(c) + 1, b))

    def close(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        for s, d in self.docs.items():
            atomic_write_text(self.out / f"{s}.json", text(d))
        return self.out


# -------------------------------------------------------------------------------------- edit
def _dicts(entries) -> list[dict]:
    """The entries of a list that are objects (the reader reports the others)."""
    return [e for e in entries or [] if isinstance(e, dict)]


def _next_id(values) -> int:
    return max((v for v in values if isinstance(v, int) and not isinstance(v, bool)), default=0) + 1


class Editor(base.Editor):
    format = NAME
    splits_here = False     # one JSON per split: convert to re-split

    def __init__(self, root: Path, names: list[str], files: dict[str, Path]):
        super().__init__(root, names)
        self.files = files
        self.docs: dict[Path, dict] = {}
        self._stamps: dict[Path, tuple] = {}
        for f in dict.fromkeys(files.values()):
            self._doc(f)
        self._cats = {f: _cat_pairs(d) for f, d in self.docs.items()}   # each file's categories as read
        first = next(iter(self.docs))
        self.cat_ids = [c["id"] for c in _categories(self.docs[first], first)]
        self._as_read: dict[tuple[Path, object], str] = {}   # (file, image id) -> its entry and boxes as read

    @classmethod
    def open(cls, anchor: Path, spec: DatasetSpec) -> tuple["Editor", list[Item]]:
        files = _files(anchor) or {"train": anchor / "train.json"}
        ed = cls(spec.root, spec.names, files)
        items, seen = [], set()
        idx = {cid: i for i, cid in enumerate(ed.cat_ids)}
        for split, f in files.items():
            doc = ed.docs[f]
            shared = _shared_ids(doc, f)
            ed._as_read.update({(f, iid): snap for iid, snap in _snapshots(doc).items()})
            anns: dict = {}
            for a in _dicts(doc.get("annotations")):
                anns.setdefault(a.get("image_id"), []).append(a)
            for im in _dicts(doc["images"]):
                if _id(im.get("id")) is None or not isinstance(im.get("file_name"), str):
                    continue   # reported by the reader
                path = _image_path(im["file_name"], f.parent, spec.root)
                if path in seen:
                    continue
                seen.add(path)
                mine = [a for a in anns.get(im["id"], []) if not a.get("iscrowd")]
                it = Item(path, image_key(path, spec.root), split, ref=(f, im["id"]), problem=shared.get(im["id"], ""))
                it.classes = frozenset(idx[a["category_id"]] for a in mine if a.get("category_id") in idx)
                it.n_boxes = len(mine)
                it.state = "labelled" if mine else "ok"
                items.append(it)
        for p in base.images_in(spec.root / "images"):  # images on disk that no JSON lists yet: unlabelled
            if p not in seen:
                items.append(Item(p, image_key(p, spec.root), "", ref=None))
        return ed, items

    def shared_files(self) -> list[Path]:
        return list(self.docs)

    def _doc(self, f: Path) -> dict:
        """The JSON as on disk now (read again only when the file changed)."""
        st = base.stamp(f)
        if self._stamps.get(f) != st or f not in self.docs:
            self.docs[f], self._stamps[f] = _document(f), st
        return self.docs[f]

    def _file_of(self, item: Item) -> Path:
        return item.ref[0] if item.ref is not None else self.files.get("train") or next(iter(self.files.values()))

    def load(self, item: Item, width: int, height: int) -> Annotation:
        if item.ref is None:
            return Annotation(width, height, [], "unlabelled")
        f, iid = item.ref
        doc = self._doc(f)
        self._as_read[(f, iid)] = _snapshot(doc, iid)
        if iid in _shared_ids(doc, f):
            return Annotation(width, height, [], "unlabelled")
        idx = {cid: i for i, cid in enumerate(self.cat_ids)}
        boxes = []
        for a in _dicts(doc.get("annotations")):
            if a.get("image_id") != iid or a.get("iscrowd") or a.get("category_id") not in idx:
                continue
            x, y, w, h = map(float, a["bbox"])
            c = idx[a["category_id"]]
            boxes.append(Box(c, x, y, x + w, y + h, raw=a, orig=(c, x, y, x + w, y + h)))
        return Annotation(width, height, boxes, "labelled" if boxes else "ok")

    def save(self, item: Item, ann: Annotation) -> None:
        f = self._file_of(item)
        state = ann.effective_state()
        if item.ref is None and state == "unlabelled":
            return
        with dataset_lock(self.root):
            doc = _document(f)                       # what is on disk now: other images' saves are kept
            self._check_categories(doc, f)
            if item.ref is not None:
                iid = item.ref[1]
                if _snapshot(doc, iid) != self._as_read.get((f, iid)):
                    raise SaveConflict(f, f"the labels of {item.image.name}")
                if iid in _shared_ids(doc, f):
                    raise ValueError(_shared_ids(doc, f)[iid])
            else:
                iid = self._new_image(doc, f, item, ann)
            self._apply(doc, f, iid, ann, state)
            atomic_write_text(f, text(doc))
            self.docs[f], self._stamps[f] = doc, base.stamp(f)
        item.ref = None if state == "unlabelled" else (f, iid)
        self._as_read[(f, iid)] = _snapshot(doc, iid)

    def _new_image(self, doc: dict, f: Path, item: Item, ann: Annotation):
        """An entry for an image the JSON did not list (refused if another hand listed it meanwhile)."""
        if any(_image_path(str(i.get("file_name")), f.parent, self.root) == item.image for i in _dicts(doc["images"])):
            raise SaveConflict(f, f"the entry of {item.image.name}")
        iid = _next_id(i.get("id") for i in _dicts(doc["images"]))
        listed = _dicts(doc["images"])
        bare = listed and "/" not in str(listed[0].get("file_name", ""))
        try:  # follow the file's own convention: bare names for images/, else relative paths
            name = item.image.relative_to(f.parent / "images" if bare else f.parent).as_posix()
        except ValueError:
            name = item.image.name
        doc["images"].append(image_entry(iid, name, ann.width, ann.height))
        return iid

    def _apply(self, doc: dict, f: Path, iid, ann: Annotation, state: str) -> None:
        """Image ``iid``'s boxes become ``ann``'s, where its annotations stood; the ones not shown
        (crowds, categories the file does not list) stay."""
        old = doc.get("annotations") or []
        shown = {cid for cid, _ in self._cats[f]}
        mine_at = [k for k, a in enumerate(old) if isinstance(a, dict) and a.get("image_id") == iid and not a.get("iscrowd")
                   and a.get("category_id") in shown]
        at = mine_at[0] if mine_at else len(old)
        mine_at = set(mine_at)
        kept = [a for k, a in enumerate(old) if k not in mine_at]
        at -= sum(1 for k in mine_at if k < at)
        mine = []
        if state == "unlabelled":
            doc["images"] = [i for i in doc["images"] if not isinstance(i, dict) or i.get("id") != iid]
        else:
            next_id = _next_id(a.get("id") for a in _dicts(old))
            for b in ann.boxes:
                if isinstance(b.raw, dict):
                    a = dict(b.raw)
                    if b.changed():
                        a["category_id"] = self.cat_ids[b.cls]
                    if b.coords_changed():
                        a["bbox"], a["area"] = _box(*b.xyxy)
                        a.pop("segmentation", None)
                else:
                    a, next_id = annotation(next_id, iid, self.cat_ids[b.cls], b.xyxy), next_id + 1
                mine.append(a)
        doc["annotations"] = kept[:at] + mine + kept[at:]

    def _check_categories(self, doc: dict, f: Path) -> None:
        if _cat_pairs(doc) != self._cats[f]:
            raise SaveConflict(f, "its class list")

    def write_names(self, names: list[str]) -> None:
        while len(self.cat_ids) < len(names):
            self.cat_ids.append(max(self.cat_ids, default=0) + 1)
        with dataset_lock(self.root):
            fresh = {f: _document(f) for f in self.docs}
            for f, doc in fresh.items():
                self._check_categories(doc, f)
            for f, doc in fresh.items():
                by_id = {c["id"]: c for c in doc["categories"]}
                cats = []
                for cid, n in zip(self.cat_ids, names):
                    c = dict(by_id.get(cid, category(cid, n)))
                    c["name"] = n
                    cats.append(c)
                doc["categories"] = cats
                atomic_write_text(f, text(doc))
                self.docs[f], self._stamps[f], self._cats[f] = doc, base.stamp(f), _cat_pairs(doc)
        self.names = list(names)

    def use_classes(self, names: list[str], removed: int | None = None) -> None:
        if removed is not None:    # category ids, not positions, are stored: the others keep theirs
            self.cat_ids.pop(removed)
        self.names = list(names)


def _cat_pairs(doc: dict) -> list:
    return [(c.get("id"), c.get("name")) for c in doc["categories"] if isinstance(c, dict)]


def _snapshot(doc: dict, iid) -> str:
    """Image ``iid``'s entry and annotations, as comparable text (another hand changed them if it differs)."""
    return json.dumps([[i for i in _dicts(doc["images"]) if i.get("id") == iid],
                       [a for a in _dicts(doc.get("annotations")) if a.get("image_id") == iid]], sort_keys=True)


def _snapshots(doc: dict) -> dict:
    """``_snapshot`` of every image, in one pass."""
    ims: dict = {}
    anns: dict = {}
    for i in _dicts(doc["images"]):
        ims.setdefault(i.get("id"), []).append(i)
    for a in _dicts(doc.get("annotations")):
        anns.setdefault(a.get("image_id"), []).append(a)
    return {iid: json.dumps([v, anns.get(iid, [])], sort_keys=True) for iid, v in ims.items()}
