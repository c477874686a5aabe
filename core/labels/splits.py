"""Train/val/test splits, stratified by class and reproducible by seed, written in the dataset's format.

Each image is placed by its rarest class (defect-free images are a stratum of their own), so every
class reaches every split in proportion. Unlabelled images and images with problems stay out.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict

from core.util.io import atomic_write_text

from .annotation import Item


def stratified_split(items: list[Item], fractions: dict[str, float], seed: int = 0) -> dict[str, list[Item]]:
    if not fractions or any(v < 0 for v in fractions.values()) or sum(fractions.values()) <= 0:
        raise ValueError("split fractions must be non-negative and not all zero")
    usable = [it for it in items if it.state in ("labelled", "ok") and not it.problem]
    freq = Counter(c for it in usable for c in it.classes)
    strata: dict[object, list[Item]] = defaultdict(list)
    for it in sorted(usable, key=lambda i: i.key):
        strata[min(it.classes, key=lambda c: (freq[c], c)) if it.classes else "ok"].append(it)
    total = sum(fractions.values())
    names = list(fractions)
    out: dict[str, list[Item]] = {s: [] for s in names}
    rng = random.Random(seed)
    for key in sorted(strata, key=str):
        group = strata[key]
        rng.shuffle(group)
        n = len(group)
        cuts, acc = [], 0.0
        for s in names[:-1]:
            acc += fractions[s] / total
            cuts.append(round(acc * n))
        start = 0
        for s, end in zip(names, cuts + [n]):
            out[s] += group[start:end]
            start = end
    return out


def write_splits(project, splits: dict[str, list[Item]]) -> str:
    """Write the split lists; returns what ``--data`` takes."""
    be = project.backend
    root = project.root
    if project.format == "coco":
        raise ValueError("COCO keeps one JSON per split: convert the dataset to YOLO or VOC to re-split it "
                         "(python main.py dataset convert D --to yolo --out DIR)")
    for s, items in splits.items():
        if project.format == "voc":
            text = "\n".join(it.image.stem for it in items)
        else:
            text = "\n".join(str(it.image.resolve()) for it in items)
        atomic_write_text(root / "splits" / f"{s}.txt", text + ("\n" if items else ""))
        for it in items:
            it.split = s
    if project.format == "yolo":
        be.write_yaml({s: f"splits/{s}.txt" for s, items in splits.items() if items})
    return project.data_spec()
