"""Train/val/test splits, stratified by class and reproducible by seed, written in the dataset's format.

Only images a person judged are split: labelled ones and those marked defect-free (OK). Unlabelled
images and images with problems stay out. Each image is placed by its rarest class (defect-free
images are a stratum of their own); strata are dealt out in turn so that every class reaches every
split in proportion and the shares hold for the whole set, small sets included. A split without val
images is refused: a model could not be scored on parts it has not seen.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict

from core.data.annotation import Item


def stratified_split(items: list[Item], fractions: dict[str, float], seed: int = 0) -> dict[str, list[Item]]:
    """{split: items}; raises ValueError with the reason when train or val would be empty."""
    if not fractions or any(v < 0 for v in fractions.values()) or sum(fractions.values()) <= 0:
        raise ValueError("split fractions must be non-negative and not all zero")
    if not fractions.get("train") or not fractions.get("val"):
        raise ValueError("a split needs train and val shares: the model is scored on val images it did not train on")
    usable = [it for it in items if it.state in ("labelled", "ok") and not it.problem]
    if not usable:
        raise ValueError("no labelled or defect-free images to split (unlabelled images stay out)")
    freq = Counter(c for it in usable for c in it.classes)
    strata: dict[object, list[Item]] = defaultdict(list)
    for it in sorted(usable, key=lambda i: i.key):
        strata[min(it.classes, key=lambda c: (freq[c], c)) if it.classes else "ok"].append(it)
    total = sum(fractions.values())
    names = list(fractions)
    share = {s: fractions[s] / total for s in names}
    out: dict[str, list[Item]] = {s: [] for s in names}
    rng = random.Random(seed)
    k = 0
    for key in sorted(strata, key=str):
        group = strata[key]
        rng.shuffle(group)
        for it in group:  # each image to the split furthest behind its share so far
            k += 1
            s = max(names, key=lambda s: (k * share[s] - len(out[s]), -names.index(s)))
            out[s].append(it)
    for s in ("train", "val"):
        if not out[s]:
            raise ValueError(f"the {s} split would be empty: {len(usable)} labelled or defect-free image(s) are "
                             f"too few for a {100 * share[s]:.0f}% share (label more images, or give {s} a larger share)")
    return out


def write_splits(project, splits: dict[str, list[Item]]) -> str:
    """Write the split lists in the dataset's format; returns what ``--data`` takes."""
    spec = project.editor.write_splits(splits)
    for s, items in splits.items():
        for it in items:
            it.split = s
    return spec
