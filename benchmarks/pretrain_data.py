"""Rebuild the public surface-defect pretraining sets in Ultralytics YOLO layout, and the merged sets.

    .venv/bin/python benchmarks/pretrain_data.py --mirrors ../.mirror --out ../datasets
    .venv/bin/python benchmarks/pretrain_data.py --mirrors ../.mirror --out ../datasets \\
        --merge-only --exclude bsdata            # adds ../datasets/pretrain-no-bsdata (leave-one-out)
    .venv/bin/python benchmarks/pretrain_data.py --mirrors ../.mirror --out ../datasets \\
        --sets agdd --more                       # an extra set, then ../datasets/pretrain-more

Every set is read from a bare git mirror made by the session tool ``fetch`` (``github:owner/name``
lands in ``MIRRORS/owner+name/repo``); blobs are read with ``git cat-file --batch``, nothing is
downloaded at run time. NEU-DET is read from its shared copy (``--neu``, VOC layout with
``splits/train.txt`` / ``splits/val.txt``); its images are symlinked, not copied.

For each set ``OUT/<dir>/`` gets ``images/{train,val}``, ``labels/{train,val}`` (normalised
``cls cx cy w h``, an empty file for a defect-free image), ``data.yaml``, ``train200.txt`` (a seeded
200-image subset of train, all of train when it is smaller) with ``data-200.yaml``, and
``SOURCE.json`` (repository, commit, licence, how the boxes were made, counts).

Conversion rules, the same for every set:
  * exact duplicate images (same bytes) are kept once;
  * masks become boxes through connected components (8-connectivity) of the binary mask after a
    5x5 elliptic dilation; a component with fewer than 16 mask pixels is skipped; each box is the
    extent of the *undilated* mask pixels of its component;
  * images whose longest side exceeds 1024 px are downscaled to 1024 (INTER_AREA, boxes scaled);
    the others are copied byte for byte;
  * boxes narrower or lower than 2 px (after scaling) are dropped;
  * defect-free images are kept up to ``--neg-ratio`` x the number of defective ones (seeded);
  * the val split is fixed and seeded, by image, stratified by the image's first class
    (``--val-frac``), unless the set ships its own split (BSData, NEU-DET, AGDD).

The default sets (``ALL_KEYS``) are the five that ``pretrain-all`` was made from; sets added later
(``EXTRA_KEYS``) are built only when named in ``--sets`` and are merged, with the five, into
``OUT/pretrain-more/`` by ``--more``, so ``pretrain-all`` and the leave-one-out sets stay as they were.

``OUT/pretrain-all/`` (or ``pretrain-no-<set>[-<set>...]`` with ``--exclude``) symlinks the images
of the chosen sets into its own ``images/{train,val}/<set>__<file>``, writes labels with the ids
of the union class list ``<set>:<class>``, and lists the images in ``train.txt`` / ``val.txt``
(absolute paths) that its ``data.yaml`` names. DeepPCB (tangsanli5201/DeepPCB) is the project's
held-out test set: no mirror of it is read here.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

MAX_SIDE = 1024
MIN_BOX_PX = 2
MIN_COMPONENT_PX = 16
DILATE = 5
MARKER = "SOURCE.json"   # a folder under OUT is only ever deleted if it holds this file


# ------------------------------------------------------------------------------------ mirrors

class MirrorMissing(SystemExit):
    pass


class Mirror:
    """Read-only access to HEAD of a bare mirror ``ROOT/owner+name/repo``."""

    def __init__(self, root: Path, repo: str):
        self.repo = repo
        self.git_dir = root / repo.replace("/", "+") / "repo"
        if not (self.git_dir / "HEAD").is_file():
            raise MirrorMissing(f"mirror of {repo} not found at {self.git_dir}\n"
                                f"  get it with the session tool: fetch source=github:{repo}")
        self.commit = self._git("rev-parse", "HEAD").decode().strip()
        self.tree: dict[str, str] = {}
        for entry in self._git("ls-tree", "-r", "-z", "--full-tree", "HEAD").split(b"\0"):
            if entry:
                meta, path = entry.split(b"\t", 1)
                _mode, kind, sha = meta.split()
                if kind == b"blob":
                    self.tree[path.decode("utf-8", "surrogateescape")] = sha.decode()
        self._cat = subprocess.Popen(["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def _git(self, *args: str) -> bytes:
        return subprocess.run(["git", "--git-dir", str(self.git_dir), *args], check=True,
                              capture_output=True).stdout

    def paths(self, prefix: str = "", suffix: str = "") -> list[str]:
        return sorted(p for p in self.tree if p.startswith(prefix) and p.endswith(suffix))

    def read(self, path: str) -> bytes:
        sha = self.tree[path]
        self._cat.stdin.write(sha.encode() + b"\n")
        self._cat.stdin.flush()
        header = self._cat.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            raise SystemExit(f"{self.repo}@{self.commit[:12]}: blob of {path} is absent from the snapshot "
                             "(files of 4 MiB and more, and LFS content, are not in fetch snapshots)")
        data = self._cat.stdout.read(int(header[2]))
        self._cat.stdout.read(1)  # the newline after the content
        return data

    def close(self) -> None:
        if self._cat.poll() is None:
            self._cat.stdin.close()
            self._cat.wait()


# ------------------------------------------------------------------------------------ samples

@dataclass
class Item:
    """One image of a set before writing: its bytes, boxes in original pixels, a unique file stem."""
    stem: str
    data: bytes
    ext: str
    boxes: list[tuple[int, float, float, float, float]]   # (cls, x1, y1, x2, y2), original pixels
    split: str | None = None                             # a split the set ships, else None


@dataclass
class SetSpec:
    key: str          # used in the merged class names ("<key>:<class>") and in --exclude
    dirname: str      # OUT/<dirname>
    repo: str         # owner/name of the mirror ("" for NEU-DET)
    commit: str       # the commit the counts in docs/data/pretrain-sets.md were made from
    licence: str
    domain: str
    boxes_from: str
    names: list[str] = field(default_factory=list)
    notes: str = ""


def mask_boxes(mask: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Boxes (x1, y1, x2, y2) of the connected components of a binary mask (see module doc)."""
    fg = (mask > 127).astype(np.uint8)
    if not fg.any():
        return []
    grown = cv2.dilate(fg, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (DILATE, DILATE)))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h = stats[i, :4]
        sub = (lab[y:y + h, x:x + w] == i) & (fg[y:y + h, x:x + w] > 0)
        if int(sub.sum()) < MIN_COMPONENT_PX:
            continue
        ys, xs = np.nonzero(sub)
        out.append((float(x + xs.min()), float(y + ys.min()), float(x + xs.max() + 1), float(y + ys.max() + 1)))
    return out


def decode(data: bytes, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if img is None:
        raise ValueError("undecodable image")
    return img


# ------------------------------------------------------------------------------------ readers

MAGTILE = SetSpec(
    key="magtile", dirname="magtile", repo="abin24/Magnetic-tile-defect-datasets.",
    commit="cc4eb530b57b9cb7225bf76023873043ffd50655",
    licence="no licence stated (README: 'welcomed to use', cite Huang et al., Visual Computer 2020)",
    domain="magnetic tile (ferrite ceramic) surface",
    boxes_from="pixel masks -> connected components",
    names=["Blowhole", "Break", "Crack", "Fray", "Uneven"],
    notes="MT_Free (defect-free) images subsampled by --neg-ratio")


def read_magtile(m: Mirror, spec: SetSpec) -> list[Item]:
    items = []
    folders = {f"MT_{n}": i for i, n in enumerate(spec.names)} | {"MT_Free": None}
    for folder, cls in folders.items():
        for p in m.paths(f"{folder}/Imgs/", ".jpg"):
            mask_path = p[:-4] + ".png"
            if mask_path not in m.tree:
                continue
            boxes = []
            if cls is not None:
                boxes = [(cls, *b) for b in mask_boxes(decode(m.read(mask_path), cv2.IMREAD_GRAYSCALE))]
                if not boxes:   # a defect image whose mask is empty or all below 16 px: not usable either way
                    continue
            items.append(Item(f"{folder[3:].lower()}_{Path(p).stem}", m.read(p), ".jpg", boxes))
    return items


KSDD = SetSpec(
    key="ksdd", dirname="ksdd", repo="stoy95536/KolektorSDD_Yolov8_Datasets",
    commit="81e5cf333010730a05f11d1c0357bc0f24ecf502",
    licence="CC BY-NC-SA 4.0 (original KolektorSDD, ViCoS Ljubljana; the mirror states none)",
    domain="electrical commutator surface (KolektorSDD)",
    boxes_from="mirror's mask contours (YOLO-seg polygons) rasterised -> connected components",
    names=["defect"],
    notes="399 images 500x~1250, 52 defective; the mirror's own train/val split is ignored")


def read_ksdd(m: Mirror, spec: SetSpec) -> list[Item]:
    items = []
    for p in m.paths("Datasets/images/", ".jpg"):
        data = m.read(p)
        h, w = decode(data, cv2.IMREAD_GRAYSCALE).shape[:2]
        lab = p.replace("Datasets/images/", "Datasets/labels/", 1)[:-4] + ".txt"
        mask = np.zeros((h, w), np.uint8)
        for line in (m.read(lab).decode().splitlines() if lab in m.tree else []):
            v = line.split()
            if len(v) >= 7:
                pts = np.array(v[1:], np.float64).reshape(-1, 2) * (w, h)
                cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
        items.append(Item(Path(p).stem, data, ".jpg", [(0, *b) for b in mask_boxes(mask)]))
    return items


BSDATA = SetSpec(
    key="bsdata", dirname="bsdata", repo="2Obe/BSData",
    commit="7204b28a621733c01cd75899ed9ea27f6ea0b9e3",
    licence="CC BY-SA 4.0 (LICENSE file)",
    domain="ball screw drive spindle surface (machine tool, steel)",
    boxes_from="labelme instance polygons -> one box per polygon",
    names=["Pitting"],
    notes="only the 394 annotated images (all show pitting); 710 unannotated images skipped; "
          "the authors' train/test split (image_data.json) is used as train/val")


def read_bsdata(m: Mirror, spec: SetSpec) -> list[Item]:
    meta = json.loads(m.read("image_data.json"))["images"]
    items = []
    for rec in meta:
        if not rec.get("annotations"):
            continue
        ann = json.loads(m.read(f"label/{rec['annotations']}"))
        boxes = []
        for s in ann["shapes"]:
            if s["label"] != "Pitting":
                raise SystemExit(f"BSData: unexpected label {s['label']!r} in {rec['annotations']}")
            pts = np.array(s["points"], np.float64)
            boxes.append((0, *pts.min(0), *pts.max(0)))
        split = {"train": "train", "test": "val"}[rec["train_test_split"]]
        items.append(Item(Path(rec["filename"]).stem, m.read(f"data/{rec['filename']}"), ".jpg", boxes, split))
    return items


CRACKFOREST = SetSpec(
    key="crackforest", dirname="crackforest", repo="cuilimeng/CrackForest-dataset",
    commit="ed57c2d96754e6c7d105805cd29aeeb3a799f267",
    licence="non-commercial research only (README, section 2)",
    domain="asphalt road surface cracks",
    boxes_from="crack masks (seg/*.seg, label 1) -> connected components",
    names=["crack"],
    notes="118 of the 155 images have ground truth; the others are skipped. Thin cracks: boxes are "
          "crack segments joined by the 5x5 dilation")


def _read_seg(text: str) -> np.ndarray:
    """A BSDS ``.seg`` file (ascii, 'label row col_from col_to' runs) as a label image."""
    lines = text.splitlines()
    head = dict(ln.split(None, 1) for ln in lines[:lines.index("data")] if " " in ln)
    seg = np.zeros((int(head["height"]), int(head["width"])), np.uint8)
    for ln in lines[lines.index("data") + 1:]:
        if ln.strip():
            lab, r, c1, c2 = map(int, ln.split())
            seg[r, c1:c2 + 1] = lab
    return seg


def read_crackforest(m: Mirror, spec: SetSpec) -> list[Item]:
    items = []
    for p in m.paths("seg/", ".seg"):
        img = f"image/{Path(p).stem}.jpg"
        seg = _read_seg(m.read(p).decode())
        data = m.read(img)
        if decode(data, cv2.IMREAD_GRAYSCALE).shape[:2] != seg.shape:
            raise SystemExit(f"CrackForest: {p} does not match the size of {img}")
        items.append(Item(Path(p).stem, data, ".jpg", [(0, *b) for b in mask_boxes((seg == 1) * 255)]))
    return items


NEU = SetSpec(
    key="neu", dirname="neu-det-yolo", repo="siddhartamukherjee/NEU-DET-Steel-Surface-Defect-Detection",
    commit="351bee21b56bbf97a1e1d18262bceb202eb7ef41",
    licence="no licence file; NEU distributes it for research use (see shared/data/neu-det/PROVENANCE.md)",
    domain="hot-rolled steel strip",
    boxes_from="Pascal VOC xml",
    notes="read from the shared copy; images are symlinks; the project's train/val split (splits/*.txt); "
          "exact duplicate patches_105 (of patches_101) dropped")


AGDD = SetSpec(
    key="agdd", dirname="agdd", repo="core128/AGDD",
    commit="4b5daa92929934f30b1155033c3ce67b7701960f",
    licence="CC BY-NC-SA 4.0 (README and LICENSE file)",
    domain="aircraft glass canopy surface (transparent acrylic), dual illumination",
    boxes_from="the authors' rectangular boxes (data/labels_rect, YOLO)",
    names=["contusion", "scratches", "crack", "spot"],
    notes="219 defect samples, each shot under two illuminations (data/images -> '<stem>_a', data/image -> "
          "'<stem>_b'); both images carry the sample's boxes and stay in its split; the authors' train/val "
          "split is used; no defect-free images in the set")


def read_agdd(m: Mirror, spec: SetSpec) -> list[Item]:
    items = []
    for split in ("train", "val"):
        for lab in m.paths(f"data/labels_rect/{split}/", ".txt"):
            stem = Path(lab).stem
            rows = [ln.split() for ln in m.read(lab).decode().splitlines() if ln.strip()]
            for folder, tag in (("images", "a"), ("image", "b")):
                data = m.read(f"data/{folder}/{split}/{stem}.png")
                h, w = decode(data, cv2.IMREAD_GRAYSCALE).shape[:2]
                boxes = []
                for v in rows:
                    cx, cy, bw, bh = (float(x) for x in v[1:5])
                    boxes.append((int(v[0]), (cx - bw / 2) * w, (cy - bh / 2) * h,
                                  (cx + bw / 2) * w, (cy + bh / 2) * h))
                items.append(Item(f"{stem}_{tag}", data, ".png", boxes, split))
    return items


BASE_SETS = [(MAGTILE, read_magtile), (KSDD, read_ksdd), (BSDATA, read_bsdata), (CRACKFOREST, read_crackforest)]
EXTRA_SETS = [(AGDD, read_agdd)]
SETS = {s.key: (s, r) for s, r in BASE_SETS + EXTRA_SETS}
ALL_KEYS = [*(s.key for s, _ in BASE_SETS), NEU.key]   # the default: pretrain-all and its leave-one-out sets
EXTRA_KEYS = [s.key for s, _ in EXTRA_SETS]            # built only when named in --sets; merged by --more
MORE_NAME = "pretrain-more"                            # ALL_KEYS + EXTRA_KEYS


# ------------------------------------------------------------------------------------ writing

def _fresh_dir(d: Path) -> None:
    if d.exists():
        if not (d / MARKER).is_file() and any(d.iterdir()):
            raise SystemExit(f"{d} exists and was not written by this script ({MARKER} missing): not touching it")
        shutil.rmtree(d)
    for s in ("train", "val"):
        (d / "images" / s).mkdir(parents=True)
        (d / "labels" / s).mkdir(parents=True)


def _yolo_lines(boxes, w: int, h: int) -> list[str]:
    out = []
    for c, x1, y1, x2, y2 in boxes:
        x1, y1, x2, y2 = max(x1, 0.0), max(y1, 0.0), min(x2, float(w)), min(y2, float(h))
        if x2 - x1 < MIN_BOX_PX or y2 - y1 < MIN_BOX_PX:
            continue
        out.append(f"{c} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    return out


def _split(items: list[Item], names: list[str], frac: float, seed: int, key: str) -> None:
    """Assign item.split where the set has none: seeded, by image, stratified by first class."""
    if all(it.split for it in items):
        return
    groups: dict[str, list[Item]] = {}
    for it in sorted(items, key=lambda i: i.stem):
        groups.setdefault(names[it.boxes[0][0]] if it.boxes else "-", []).append(it)
    rng = random.Random(f"{seed}:{key}:split")
    for g in groups.values():
        rng.shuffle(g)
        n_val = round(frac * len(g))
        for i, it in enumerate(g):
            it.split = "val" if i < n_val else "train"


def _subset_lists(d: Path, train: list[str], seed: int, key: str, n: int = 200) -> None:
    pick = sorted(random.Random(f"{seed}:{key}:train{n}").sample(train, min(n, len(train))))
    (d / f"train{n}.txt").write_text("".join(f"{p}\n" for p in pick))
    names = yaml.safe_load((d / "data.yaml").read_text())["names"]
    (d / f"data-{n}.yaml").write_text(yaml.safe_dump(
        {"path": str(d), "train": f"train{n}.txt", "val": "images/val", "names": names}, sort_keys=False))


def _write_meta(d: Path, spec: SetSpec, commit: str, stats: dict, params: dict) -> None:
    (d / "data.yaml").write_text(yaml.safe_dump(
        {"path": str(d), "train": "images/train", "val": "images/val", "names": spec.names}, sort_keys=False))
    src = {"set": spec.key, "repository": spec.repo, "commit": commit, "licence": spec.licence,
           "domain": spec.domain, "boxes_from": spec.boxes_from, "notes": spec.notes,
           "names": spec.names, "params": params, "counts": stats}
    (d / MARKER).write_text(json.dumps(src, indent=2) + "\n")


def build_set(spec: SetSpec, reader, mirrors: Path, out: Path, args) -> dict:
    m = Mirror(mirrors, spec.repo)
    try:
        if m.commit != spec.commit:
            print(f"  note: {spec.repo} is at {m.commit[:12]}, the documented counts are from {spec.commit[:12]}")
        items = reader(m, spec)
    finally:
        m.close()
    seen, unique = set(), []
    for it in sorted(items, key=lambda i: i.stem):
        h = hashlib.md5(it.data).hexdigest()
        if h not in seen:
            seen.add(h)
            unique.append(it)
    n_dup = len(items) - len(unique)
    pos = [it for it in unique if it.boxes]
    neg = sorted((it for it in unique if not it.boxes), key=lambda i: i.stem)
    n_neg = min(len(neg), int(round(args.neg_ratio * len(pos))))
    neg = sorted(random.Random(f"{args.seed}:{spec.key}:neg").sample(neg, n_neg), key=lambda i: i.stem)
    keep = pos + neg
    _split(keep, spec.names, args.val_frac, args.seed, spec.key)

    d = out / spec.dirname
    _fresh_dir(d)
    stats = {s: {"images": 0, "defect_free": 0, "boxes": 0, "resized": 0, "dropped_boxes": 0}
             for s in ("train", "val")}
    per_class = {s: [0] * len(spec.names) for s in ("train", "val")}
    train_rel = []
    for it in sorted(keep, key=lambda i: i.stem):
        img = decode(it.data)
        h, w = img.shape[:2]
        scale = min(1.0, MAX_SIDE / max(h, w))
        st = stats[it.split]
        rel = f"images/{it.split}/{it.stem}{it.ext}"
        if scale < 1.0:
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            ok, buf = cv2.imencode(it.ext, cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA),
                                   [cv2.IMWRITE_JPEG_QUALITY, 95] if it.ext == ".jpg" else [])
            assert ok
            (d / rel).write_bytes(buf.tobytes())
            sx, sy = nw / w, nh / h
            boxes = [(c, x1 * sx, y1 * sy, x2 * sx, y2 * sy) for c, x1, y1, x2, y2 in it.boxes]
            w, h = nw, nh
            st["resized"] += 1
        else:
            (d / rel).write_bytes(it.data)
            boxes = it.boxes
        lines = _yolo_lines(boxes, w, h)
        if boxes and not lines:   # every box under 2 px: the image must not train as defect-free
            (d / rel).unlink()
            st["dropped_boxes"] += len(boxes)
            continue
        (d / "labels" / it.split / f"{it.stem}.txt").write_text("".join(f"{ln}\n" for ln in lines))
        st["images"] += 1
        st["defect_free"] += not lines
        st["boxes"] += len(lines)
        st["dropped_boxes"] += len(boxes) - len(lines)
        for ln in lines:
            per_class[it.split][int(ln.split()[0])] += 1
        if it.split == "train":
            train_rel.append(rel)
    stats["duplicates_removed"] = n_dup
    stats["defect_free_available"] = len([it for it in unique if not it.boxes])
    stats["boxes_per_class"] = {s: dict(zip(spec.names, v)) for s, v in per_class.items()}
    _write_meta(d, spec, m.commit, stats, {"seed": args.seed, "val_frac": args.val_frac,
                                           "neg_ratio": args.neg_ratio, "max_side": MAX_SIDE,
                                           "dilate": DILATE, "min_component_px": MIN_COMPONENT_PX,
                                           "min_box_px": MIN_BOX_PX})
    _subset_lists(d, train_rel, args.seed, spec.key)
    return stats


def build_neu(neu: Path, out: Path, args) -> dict:
    neu = neu.resolve()   # the images are symlinked: a relative --neu made links that point nowhere
    if not (neu / "annotations").is_dir():
        raise SystemExit(f"NEU-DET not found at {neu} (expected annotations/, images/, splits/)")
    names = [n.strip() for n in (neu / "classes.txt").read_text().splitlines() if n.strip()]
    spec = NEU
    spec.names = names
    d = out / spec.dirname
    _fresh_dir(d)
    stats = {s: {"images": 0, "defect_free": 0, "boxes": 0, "resized": 0, "dropped_boxes": 0}
             for s in ("train", "val")}
    per_class = {s: [0] * len(names) for s in ("train", "val")}
    train_rel, seen, dropped = [], {}, []
    for split in ("train", "val"):
        for stem in sorted(s.strip() for s in (neu / "splits" / f"{split}.txt").read_text().splitlines() if s.strip()):
            digest = hashlib.md5((neu / "images" / f"{stem}.jpg").read_bytes()).hexdigest()
            if digest in seen:   # patches_105 repeats patches_101 byte for byte (PROVENANCE.md)
                dropped.append(f"{stem} (= {seen[digest]})")
                continue
            seen[digest] = stem
            root = ET.parse(neu / "annotations" / f"{stem}.xml").getroot()
            w, h = int(root.findtext("size/width")), int(root.findtext("size/height"))
            boxes = []
            for o in root.iter("object"):
                bb = o.find("bndbox")
                boxes.append((names.index(o.findtext("name").strip()),
                              *(float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))))
            lines = _yolo_lines(boxes, w, h)
            (d / "images" / split / f"{stem}.jpg").symlink_to(neu / "images" / f"{stem}.jpg")
            (d / "labels" / split / f"{stem}.txt").write_text("".join(f"{ln}\n" for ln in lines))
            st = stats[split]
            st["images"] += 1
            st["defect_free"] += not lines
            st["boxes"] += len(lines)
            st["dropped_boxes"] += len(boxes) - len(lines)
            for ln in lines:
                per_class[split][int(ln.split()[0])] += 1
            if split == "train":
                train_rel.append(f"images/train/{stem}.jpg")
    stats["duplicates_removed"] = dropped
    stats["boxes_per_class"] = {s: dict(zip(names, v)) for s, v in per_class.items()}
    _write_meta(d, spec, spec.commit, stats, {"source": str(neu), "split": "splits/train.txt, splits/val.txt",
                                              "min_box_px": MIN_BOX_PX})
    _subset_lists(d, train_rel, args.seed, spec.key)
    return stats


def build_merged(out: Path, keys: list[str], name: str) -> dict:
    """OUT/<name>: symlinked images and relabelled boxes of ``keys``, class names '<key>:<class>'."""
    dirs = {k: out / (NEU.dirname if k == NEU.key else SETS[k][0].dirname) for k in keys}
    for k, d in dirs.items():
        if not (d / MARKER).is_file():
            raise SystemExit(f"{d} is missing: build the set '{k}' first (run without --merge-only)")
    d = out / name
    _fresh_dir(d)
    names, offset = [], {}
    for k in keys:
        offset[k] = len(names)
        names += [f"{k}:{n}" for n in yaml.safe_load((dirs[k] / "data.yaml").read_text())["names"]]
    counts = {}
    for split in ("train", "val"):
        listed = []
        for k in keys:
            for img in sorted((dirs[k] / "images" / split).iterdir()):
                link = d / "images" / split / f"{k}__{img.name}"
                link.symlink_to(img.absolute())
                src = (dirs[k] / "labels" / split / img.name).with_suffix(".txt")
                lines = [ln.split() for ln in src.read_text().splitlines() if ln.strip()]
                (d / "labels" / split / f"{k}__{img.stem}.txt").write_text(
                    "".join(f"{int(v[0]) + offset[k]} {' '.join(v[1:])}\n" for v in lines))
                listed.append(str(link.absolute()))
                counts.setdefault(split, {}).setdefault(k, 0)
                counts[split][k] += 1
        (d / f"{split}.txt").write_text("".join(f"{p}\n" for p in listed))
    (d / "data.yaml").write_text(yaml.safe_dump(
        {"path": str(d.absolute()), "train": "train.txt", "val": "val.txt", "names": names}, sort_keys=False))
    (d / MARKER).write_text(json.dumps({"merged": keys, "names": len(names), "images": counts}, indent=2) + "\n")
    return {"names": len(names), "images": counts}


# ------------------------------------------------------------------------------------ preview

def preview(out: Path, keys: list[str], dest: Path, n: int, seed: int) -> None:
    """Draw ``n`` seeded images of each set with their boxes to DEST/<set>_<stem>.png."""
    dest.mkdir(parents=True, exist_ok=True)
    for k in keys:
        d = out / (NEU.dirname if k == NEU.key else SETS[k][0].dirname)
        names = yaml.safe_load((d / "data.yaml").read_text())["names"]
        imgs = [p for s in ("train", "val") for p in sorted((d / "images" / s).iterdir())]
        with_boxes = [p for p in imgs if (d / "labels" / p.parent.name / f"{p.stem}.txt").stat().st_size]
        for p in random.Random(f"{seed}:{k}:preview").sample(with_boxes, min(n, len(with_boxes))):
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            h, w = img.shape[:2]
            for ln in (d / "labels" / p.parent.name / f"{p.stem}.txt").read_text().splitlines():
                c, cx, cy, bw, bh = ln.split()
                cx, cy, bw, bh = float(cx) * w, float(cy) * h, float(bw) * w, float(bh) * h
                p1 = (int(cx - bw / 2), int(cy - bh / 2))
                cv2.rectangle(img, p1, (int(cx + bw / 2), int(cy + bh / 2)), (0, 0, 255), 2)
                cv2.putText(img, names[int(c)], (p1[0], max(12, p1[1] - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.45, (0, 255, 255), 1, cv2.LINE_AA)
            cv2.imwrite(str(dest / f"{k}_{p.stem}.png"), img)


# ------------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirrors", type=Path, default=Path("../.mirror"), help="folder of fetch mirrors")
    ap.add_argument("--out", type=Path, default=Path("../datasets"), help="output root (outside the repo)")
    ap.add_argument("--neu", type=Path, default=Path("../shared/data/neu-det"), help="shared NEU-DET (VOC)")
    ap.add_argument("--sets", nargs="+", choices=ALL_KEYS + EXTRA_KEYS, default=ALL_KEYS,
                    help=f"sets to (re)build (default: {' '.join(ALL_KEYS)}; extra: {' '.join(EXTRA_KEYS)})")
    ap.add_argument("--exclude", nargs="+", choices=ALL_KEYS, default=[],
                    help="also write the leave-out merged set pretrain-no-<set>[-<set>...]")
    ap.add_argument("--merge-only", action="store_true", help="reuse the per-set folders, only write merged sets")
    ap.add_argument("--more", action="store_true",
                    help=f"also write OUT/{MORE_NAME}: the default sets plus the extra ones (build those first)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-frac", type=float, default=0.2)
    ap.add_argument("--neg-ratio", type=float, default=0.25, help="defect-free images kept per defective one")
    ap.add_argument("--preview", type=Path, default=None, help="draw a few images per set with boxes here")
    ap.add_argument("--preview-n", type=int, default=3)
    args = ap.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    summary_path = out / "pretrain-stats.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    if not args.merge_only:
        for k in args.sets:
            print(f"[{k}]", flush=True)
            stats = build_neu(args.neu, out, args) if k == NEU.key else build_set(*SETS[k], args.mirrors, out, args)
            summary[k] = stats
            print(f"  train {stats['train']['images']} images / {stats['train']['boxes']} boxes, "
                  f"val {stats['val']['images']} / {stats['val']['boxes']}", flush=True)
    summary["pretrain-all"] = build_merged(out, ALL_KEYS, "pretrain-all")
    print(f"[pretrain-all] {summary['pretrain-all']}")
    if args.exclude:
        name = "pretrain-no-" + "-".join(args.exclude)
        summary[name] = build_merged(out, [k for k in ALL_KEYS if k not in args.exclude], name)
        print(f"[{name}] {summary[name]}")
    if args.more:
        summary[MORE_NAME] = build_merged(out, ALL_KEYS + EXTRA_KEYS, MORE_NAME)
        print(f"[{MORE_NAME}] {summary[MORE_NAME]}")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    if args.preview:
        preview(out, args.sets, args.preview, args.preview_n, args.seed)
        print(f"previews in {args.preview}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
