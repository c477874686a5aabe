"""How far a hand-labelled folder agrees with a reference dataset's labels, per class.

    python tools/label_agreement.py FOLDER [--ref ../shared/data/neu-det] [--iou 0.5]

FOLDER is what the labelling view saved (a plain image folder, labelled): each of its images is
looked up by file name in the reference, and each reference box is matched to the labeller's
unmatched box of highest IoU. Prints, per reference class, the boxes on both sides, the share of
reference boxes matched at the IoU threshold and their mean IoU. Two careful labellers disagree
most where a defect has no natural extent (a field of pits, a network of cracks), so read the
per-class rows, not only the total.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--ref", default=str(ROOT.parent / "shared" / "data" / "neu-det"))
    ap.add_argument("--iou", type=float, default=0.5)
    a = ap.parse_args()
    from core.data.formats import load_dataset
    from core.eval.matching import iou_matrix
    from core.labels.project import LabelProject

    ref = load_dataset(Path(a.ref))
    by_name = {r.image.name: r for split in ref.splits for r in ref.split(split)}
    proj = LabelProject.open(a.folder)
    rows = defaultdict(lambda: {"mine": 0, "ref": 0, "matched": 0, "iou": [], "same_class": 0})
    for it in proj.items:
        r = by_name.get(it.image.name)
        if r is None:
            print(f"{it.image.name}: not in {a.ref}, skipped")
            continue
        w, h = r.size_hint or cv2.imread(str(r.image), cv2.IMREAD_GRAYSCALE).shape[::-1]
        ref_cls = [b.cls if isinstance(b.cls, str) else ref.names[b.cls] for b in r.boxes]
        ann, _ = proj.load(it, w, h)
        mine = np.array([[b.x1, b.y1, b.x2, b.y2] for b in ann.boxes]).reshape(-1, 4)
        mine_cls = [proj.names[b.cls] for b in ann.boxes]
        gts = np.array([b.box for b in r.boxes]).reshape(-1, 4)
        key = ref_cls[0] if ref_cls else "(none)"   # NEU-DET: one defect class per image
        rows[key]["mine"] += len(mine)
        rows[key]["ref"] += len(gts)
        iou = iou_matrix(gts, mine)
        free = set(range(len(mine)))
        for g in range(len(gts)):
            cand = [(iou[g, k], k) for k in free]
            if cand and max(cand)[0] >= a.iou:
                v, k = max(cand)
                free.discard(k)
                rows[key]["matched"] += 1
                rows[key]["iou"].append(v)
                rows[key]["same_class"] += mine_cls[k] == ref_cls[g]
    print(f"{'class':<16} {'mine':>5} {'ref':>5} {'matched':>8} {'mean IoU':>9} {'same class':>11}")
    tot = defaultdict(float)
    all_iou = []
    for k, v in sorted(rows.items()):
        share = v["matched"] / v["ref"] if v["ref"] else 0.0
        print(f"{k:<16} {v['mine']:>5} {v['ref']:>5} {share:>8.0%} {np.mean(v['iou']) if v['iou'] else 0:>9.2f} "
              f"{v['same_class']:>5}/{v['matched']}")
        for f in ("mine", "ref", "matched", "same_class"):
            tot[f] += v[f]
        all_iou += v["iou"]
    print(f"{'all':<16} {int(tot['mine']):>5} {int(tot['ref']):>5} {tot['matched'] / max(tot['ref'], 1):>8.0%} "
          f"{np.mean(all_iou) if all_iou else 0:>9.2f} {int(tot['same_class']):>5}/{int(tot['matched'])}")


if __name__ == "__main__":
    main()
