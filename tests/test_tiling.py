"""Tiled inference: a small defect in a 4k image is found tiled and lost untiled."""
from __future__ import annotations

import numpy as np
import pytest

from core.data.synth import make_image, steel_background
from core.detector import Detector
from core.infer.tiling import windows


def test_windows_cover_the_image_with_equal_tiles():
    w = windows(3840, 2160, 640, 0.2)
    assert all((x1 - x0, y1 - y0) == (640, 640) for x0, y0, x1, y1 in w)
    covered = np.zeros((2160, 3840), bool)
    for x0, y0, x1, y1 in w:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    assert windows(300, 200, 640) == [(0, 0, 300, 200)]
    for bad in ((16, 0.2), (640, 1.0), (640, -0.1)):
        with pytest.raises(ValueError):
            windows(1000, 1000, *bad)


def four_k_with_one_small_defect():
    """A 3840x2160 strip; one demo-line frame (640x480, one defect) pasted into it."""
    import cv2

    rng = np.random.default_rng(5)
    big = cv2.cvtColor(np.clip(steel_background(rng, 2160, 3840), 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    for seed in range(40):
        frame, boxes, classes = make_image(1000 + seed, (480, 640), (1, 1))
        bw, bh = boxes[0, 2] - boxes[0, 0], boxes[0, 3] - boxes[0, 1]
        if 30 < max(bw, bh) < 120:   # small against 3840 px: ~1-3 % of the width
            break
    x0, y0 = 2100, 1300
    big[y0:y0 + 480, x0:x0 + 640] = frame
    return big, boxes[0] + [x0, y0, x0, y0], int(classes[0])


def test_small_defect_in_4k_found_tiled_missed_untiled():
    big, box, cls = four_k_with_one_small_defect()
    d = Detector("demo", "cpu")

    def hit(det):
        from core.infer.postprocess import box_iou
        import torch

        if not len(det):
            return False
        iou = box_iou(torch.tensor(det.boxes), torch.tensor(box[None], dtype=torch.float32))[:, 0].numpy()
        return bool(((iou > 0.5) & (det.classes == cls)).any())

    untiled = d.predictor(conf=0.25)(big)
    tiled = d.predictor(conf=0.25, tile=640, tile_overlap=0.2)(big)
    assert not hit(untiled), "resized to the model's size the defect should be lost"
    assert hit(tiled), f"tiled, the defect should be found: {tiled.boxes}, {tiled.classes}, wanted {box} {cls}"
    assert len(tiled) <= 3   # tile seams do not multiply detections
