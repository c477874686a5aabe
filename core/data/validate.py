"""Dataset validation: every problem listed by file with its reason; broken samples skipped, counted.

Policy: a missing or undecodable image, a malformed label file, a box of an unknown class, or boxes
in an annotation whose image size (VOC ``<size>``, COCO ``width``/``height``) is not the image's makes
the sample unusable (training it as background would teach the model that a defect is not one);
a box partly outside the image is clipped, a box of zero size (or wholly outside) is dropped;
a duplicate image (same bytes) is used once. Each case is a listed problem.
"""
from __future__ import annotations

import hashlib
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.util.io import NotRegularFile, read_regular
from core.util.text import plural

from .formats import UNLABELLED, DatasetSpec, RawSample
from .imageio import ImageError, decode_image

EDGE_TOL = 0.01  # boxes may overhang the image by 1% (annotation rounding) without a complaint


@dataclass
class Sample:
    image: Path
    boxes: np.ndarray   # (n, 4) float32, x1 y1 x2 y2 in pixels
    classes: np.ndarray  # (n,) int64
    width: int
    height: int


@dataclass
class Report:
    split: str
    names: list[str]
    n_listed: int = 0
    n_used: int = 0
    n_skipped: int = 0
    n_defect_free: int = 0
    n_unlabelled: int = 0
    boxes_per_class: Counter = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        unl = f" ({self.n_unlabelled} of them unlabelled)" if self.n_unlabelled else ""
        lines = [f"[{self.split}] {plural(self.n_listed, 'image')} listed, {self.n_used} usable, {self.n_skipped} "
                 f"skipped{unl}, {self.n_defect_free} defect-free, {plural(sum(self.boxes_per_class.values()), 'box')}"]
        width = max((len(n) for n in self.names), default=5)
        for i, n in enumerate(self.names):
            lines.append(f"  {i:>3} {n:<{width}}  {plural(self.boxes_per_class.get(i, 0), 'box'):>11}")
        if self.problems:
            lines.append(f"  {len(self.problems)} problem(s):")
            for f, why in self.problems[:200]:
                lines.append(f"    {f}: {why}")
            if len(self.problems) > 200:
                lines.append(f"    ... and {len(self.problems) - 200} more")
        return "\n".join(lines)


def _check_one(raw: RawSample, names: list[str]):
    """-> (Sample or None, [problems], md5)"""
    problems: list[str] = []
    if raw.problem:
        return None, [f"{raw.image if raw.problem == UNLABELLED else raw.label_file}: {raw.problem}"], None
    try:
        data = read_regular(raw.image)
    except FileNotFoundError:
        return None, [f"{raw.image}: image file missing"], None
    except NotRegularFile as e:
        return None, [str(e)], None
    except OSError as e:
        return None, [f"{raw.image}: cannot read ({e})"], None
    digest = hashlib.md5(data).hexdigest()
    try:
        img = decode_image(np.frombuffer(data, np.uint8), raw.image)  # the bytes already read for the hash
    except ImageError as e:
        return None, [str(e)], digest
    h, w = img.shape[:2]
    index = {n: i for i, n in enumerate(names)}
    boxes, classes = [], []
    src = raw.label_file or raw.image
    if raw.size_hint and all(raw.size_hint) and tuple(raw.size_hint) != (w, h):
        # boxes in pixels of another image (resized, rotated, swapped) would train in the wrong place
        sw, sh = raw.size_hint
        what = (f"{src}: the annotation gives the image size {sw}x{sh}, but {raw.image.name} is {w}x{h}")
        if raw.boxes:
            return None, [f"{what} (its boxes may not fit it; the image is not used)"], digest
        problems.append(what)
    for b in raw.boxes:
        cid = index.get(b.cls) if isinstance(b.cls, str) else b.cls
        if cid is None or not 0 <= cid < len(names):
            return None, [f"{src}: unknown class '{b.cls}' (classes: {', '.join(names)})"], digest
        x1, y1, x2, y2 = b.box
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            return None, [f"{src}: box {b.box} of class '{names[cid]}' has a non-finite coordinate "
                          "(the image is not used)"], digest
        if b.normalized:
            x1, x2, y1, y2 = x1 * w, x2 * w, y1 * h, y2 * h
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            problems.append(f"{src}: box {b.box} of class '{names[cid]}' has zero size (dropped)")
            continue
        cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if cx2 - cx1 < 1 or cy2 - cy1 < 1:
            problems.append(f"{src}: box {b.box} of class '{names[cid]}' lies outside the {w}x{h} image (dropped)")
            continue
        tol_x, tol_y = EDGE_TOL * w + 1, EDGE_TOL * h + 1
        if x1 < -tol_x or y1 < -tol_y or x2 > w + tol_x or y2 > h + tol_y:
            problems.append(f"{src}: box {b.box} of class '{names[cid]}' extends outside the {w}x{h} image (clipped)")
        boxes.append((cx1, cy1, cx2, cy2))
        classes.append(cid)
    if raw.boxes and not boxes:  # every box was invalid: this is not a defect-free image
        return None, problems + [f"{src}: none of its {len(raw.boxes)} box(es) is usable, so the image is not "
                                 "used (it would train as defect-free)"], digest
    s = Sample(raw.image, np.array(boxes, np.float32).reshape(-1, 4), np.array(classes, np.int64), w, h)
    return s, problems, digest


def validate(spec: DatasetSpec, split: str, workers: int = 4,
             keep_duplicates: bool = False) -> tuple[list[Sample], Report]:
    """Check every sample of ``split``; return the usable samples and the report. A duplicate image
    is reported and, for training, used once; ``keep_duplicates`` keeps it (conversion keeps every file)."""
    raws = spec.split(split)
    report = Report(split, spec.names, n_listed=len(raws))
    report.problems += list(spec.problems.get(split, []))  # found while reading, outside any sample
    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:  # decoding releases the GIL
        results = list(ex.map(lambda r: _check_one(r, spec.names), raws))
    seen: dict[str, Path] = {}
    samples = []
    for raw, (s, problems, digest) in zip(raws, results):
        for pr in problems:
            f, _, why = pr.partition(": ")
            report.problems.append((f, why))
        if s is None:
            report.n_skipped += 1
            report.n_unlabelled += raw.problem == UNLABELLED
            continue
        if digest in seen:
            report.problems.append((str(raw.image), f"duplicate of {seen[digest]} "
                                                     f"({'kept' if keep_duplicates else 'used once'})"))
            if not keep_duplicates:
                report.n_skipped += 1
                continue
        seen.setdefault(digest, raw.image)
        samples.append(s)
        report.n_used += 1
        if len(s.classes) == 0:
            report.n_defect_free += 1
        report.boxes_per_class.update(int(c) for c in s.classes)
    return samples, report


def split_problems(spec: DatasetSpec) -> list[tuple[str, str]]:
    """(where, why) for splits that cannot measure a model: no val images, or val images that train
    on too (their mAP says how well the model remembers, not how it judges new parts)."""
    train = {r.image.resolve() for r in spec.splits.get("train", [])}
    val = [r.image.resolve() for r in spec.splits.get("val", [])]
    where = str(spec.root)
    if not val:
        return [(where, "no val images: a model trained on it cannot be scored on parts it has not seen "
                        "(split the dataset: Labelling → Split…)")]
    both = sum(v in train for v in val)
    if both == len(val):
        return [(where, f"val lists the same {len(val)} images as train: its mAP would say how well the model "
                        "remembers them, not how it judges new parts (split the dataset: Labelling → Split…)")]
    if both:
        return [(where, f"{both} of the {len(val)} val images are also in train (they flatter the val mAP)")]
    return []
