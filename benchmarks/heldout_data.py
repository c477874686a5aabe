"""Issue 51's held-out check: DeepPCB (tangsanli5201/DeepPCB, MIT), 200 training / 100 val images.

    python benchmarks/heldout_data.py --mirrors ../.mirror --out ../datasets
    python benchmarks/finetune_table.py --sets deeppcb --starts scratch default base

No model of this project was pretrained on DeepPCB (``benchmarks/pretrain_data.py`` never reads it):
it measures what a start is worth on a user's own small set from a domain none of the starts saw.
Each DeepPCB sample is a 640x640 binarised PCB image (``*_test.jpg``; its defect-free template
``*_temp.jpg`` is not used) with boxes ``x1 y1 x2 y2 type`` in ``*_not/*.txt``, six classes. The
200 training images are drawn (seeded) from the set's own ``trainval.txt``, the 100 val images from
its ``test.txt``, so train and val never share an image. Written to ``OUT/deeppcb/`` (outside the
repository: never commit the images) with ``data.yaml`` and ``data-200.yaml`` (the same split, the
name ``finetune_table.py`` reads).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pretrain_data import MARKER, Mirror, _fresh_dir, _yolo_lines  # noqa: E402

REPO = "tangsanli5201/DeepPCB"
NAMES = ["open", "short", "mousebite", "spur", "copper", "pin-hole"]   # types 1..6 of the set's README
SIZE = 640


def _pairs(m: Mirror, listing: str) -> list[tuple[str, str]]:
    """(image, annotation) paths of one of the set's lists; the list names ``X.jpg``, the file is ``X_test.jpg``."""
    out = []
    for line in m.read(f"PCBData/{listing}").decode().splitlines():
        if line.strip():
            img, ann = line.split()
            out.append((f"PCBData/{img[:-4]}_test.jpg", f"PCBData/{ann}"))
    return out


def _boxes(text: str) -> list[tuple[int, float, float, float, float]]:
    boxes = []
    for line in text.splitlines():
        f = [float(v) for v in re.split(r"[,\s]+", line.strip()) if v]
        if len(f) == 5:
            x1, y1, x2, y2, t = f
            boxes.append((int(t) - 1, x1, y1, x2, y2))
    return boxes


def build(mirrors: Path, out: Path, n_train: int, n_val: int, seed: int) -> dict:
    m = Mirror(mirrors, REPO)
    d = out / "deeppcb"
    try:
        _fresh_dir(d)
        counts = {}
        for split, listing, n in (("train", "trainval.txt", n_train), ("val", "test.txt", n_val)):
            pairs = sorted(random.Random(f"{seed}:deeppcb:{split}").sample(_pairs(m, listing), n))
            per_class = [0] * len(NAMES)
            for img, ann in pairs:
                stem = Path(img).stem.removesuffix("_test")
                (d / "images" / split / f"{stem}.jpg").write_bytes(m.read(img))
                lines = _yolo_lines(_boxes(m.read(ann).decode()), SIZE, SIZE)
                (d / "labels" / split / f"{stem}.txt").write_text("".join(f"{ln}\n" for ln in lines))
                for ln in lines:
                    per_class[int(ln.split()[0])] += 1
            counts[split] = {"images": len(pairs), "boxes_per_class": dict(zip(NAMES, per_class))}
        spec = {"path": str(d), "train": "images/train", "val": "images/val", "names": NAMES}
        for name in ("data.yaml", f"data-{n_train}.yaml"):
            (d / name).write_text(yaml.safe_dump(spec, sort_keys=False))
        (d / MARKER).write_text(json.dumps({"set": "deeppcb", "repository": REPO, "commit": m.commit,
                                            "licence": "MIT", "held_out": True, "seed": seed,
                                            "counts": counts}, indent=2) + "\n")
    finally:
        m.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirrors", type=Path, default=Path("../.mirror"))
    ap.add_argument("--out", type=Path, default=Path("../datasets"))
    ap.add_argument("--train", type=int, default=200)
    ap.add_argument("--val", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    print(json.dumps(build(a.mirrors, a.out.resolve(), a.train, a.val, a.seed), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
