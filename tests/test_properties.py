"""Property-based tests (hypothesis): format round trips of generated datasets, and box arithmetic."""
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

hyp = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from core.data.convert import convert_dataset  # noqa: E402
from core.data.formats import load_dataset  # noqa: E402
from core.data.preprocess import letterbox_geometry, scale_boxes  # noqa: E402
from core.data.validate import validate  # noqa: E402
from core.eval.matching import iou_matrix  # noqa: E402
from core.infer.postprocess import batched_nms, box_iou, nms  # noqa: E402

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

box_st = st.tuples(st.integers(0, 90), st.integers(0, 70), st.integers(4, 40), st.integers(4, 30))
image_st = st.tuples(st.sampled_from(["train", "val"]), st.sampled_from(["a", "b", "c", "0001"]),
                     st.lists(st.tuples(st.integers(0, 2), box_st), max_size=3))


def _write_yolo(root: Path, images) -> Path:
    seen = set()
    for split, stem, boxes in images:
        if (split, stem) in seen:
            continue
        seen.add((split, stem))
        d = root / "images" / split
        d.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d / f"{stem}.png"), np.full((100, 130, 3), 30 + 10 * len(seen), np.uint8))
        lp = root / "labels" / split / f"{stem}.txt"
        lp.parent.mkdir(parents=True, exist_ok=True)
        lp.write_text("".join(f"{c} {(x + w / 2) / 130:.6f} {(y + h / 2) / 100:.6f} {w / 130:.6f} {h / 100:.6f}\n"
                              for c, (x, y, w, h) in boxes))
    cfg = {"path": str(root), "names": ["p", "q", "r"]}
    for s in ("train", "val"):
        if (root / "images" / s).is_dir():
            cfg[s] = f"images/{s}"
    (root / "data.yaml").write_text(yaml.safe_dump(cfg))
    return root / "data.yaml"


def _content(spec_path) -> dict:
    """{split: sorted [(image bytes hash, sorted boxes rounded to 1 px)]}"""
    import hashlib

    spec = load_dataset(spec_path)
    out = {}
    for split, raws in spec.splits.items():
        samples, _ = validate(spec, split, keep_duplicates=True)
        out[split] = sorted((hashlib.md5(s.image.read_bytes()).hexdigest(),
                             tuple(sorted((int(c), *np.round(b).astype(int).tolist())
                                          for b, c in zip(s.boxes, s.classes)))) for s in samples)
    return out


@FAST
@given(st.lists(image_st, min_size=1, max_size=6).filter(lambda xs: {s for s, *_ in xs} == {"train", "val"}))
def test_round_trips_keep_every_image_box_and_class(images):
    tmp = Path(tempfile.mkdtemp())
    try:
        src = _write_yolo(tmp / "src", images)
        want = _content(src)
        a, _ = convert_dataset(src, "voc", tmp / "voc")
        b, _ = convert_dataset(a, "coco", tmp / "coco")
        c, _ = convert_dataset(b, "yolo", tmp / "yolo")
        for step in (a, b, c):
            got = _content(step)
            for split in ("train", "val"):   # the same images (by content), each with the same boxes
                assert got.get(split) == want[split], (step, split)
    finally:
        shutil.rmtree(tmp)


xyxy = st.tuples(st.floats(0, 500), st.floats(0, 500), st.floats(1, 300), st.floats(1, 300)).map(
    lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))


@settings(max_examples=200, deadline=None)
@given(st.lists(xyxy, min_size=1, max_size=8), st.lists(xyxy, min_size=1, max_size=8))
def test_iou_is_symmetric_bounded_and_one_on_itself(a, b):
    A, B = np.array(a, float), np.array(b, float)
    m = iou_matrix(A, B)
    assert m.shape == (len(a), len(b)) and (m >= -1e-9).all() and (m <= 1 + 1e-9).all()
    assert np.allclose(m, iou_matrix(B, A).T)
    assert np.allclose(np.diag(iou_matrix(A, A)), 1.0)
    t = box_iou(torch.tensor(A), torch.tensor(B)).numpy()
    assert np.allclose(t, m, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.integers(16, 3000), st.integers(16, 3000), st.sampled_from([64, 320, 640]), st.lists(xyxy, max_size=5))
def test_letterbox_and_back_is_the_identity_on_boxes(w, h, size, boxes):
    _, _, _, info = letterbox_geometry(w, h, size)
    b = np.array(boxes, float).reshape(-1, 4)
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, w)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, h)
    fwd = b.copy()
    fwd[:, [0, 2]] = fwd[:, [0, 2]] * info.ratio + info.pad_x
    fwd[:, [1, 3]] = fwd[:, [1, 3]] * info.ratio + info.pad_y
    back = scale_boxes(fwd, info)
    assert np.allclose(back, b, atol=1e-3 * max(w, h) / min(w, h) + 1e-3)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(xyxy, st.floats(0.01, 1.0), st.integers(0, 2)), min_size=1, max_size=30),
       st.floats(0.1, 0.9))
def test_nms_invariants(dets, thr):
    boxes = torch.tensor([d[0] for d in dets], dtype=torch.float32)
    scores = torch.tensor([d[1] for d in dets], dtype=torch.float32)
    classes = torch.tensor([d[2] for d in dets])
    keep = batched_nms(boxes, scores, classes, thr)
    k = keep.tolist()
    assert len(set(k)) == len(k) and all(0 <= i < len(dets) for i in k)         # a subset, no repeats
    assert (scores[keep][:-1] >= scores[keep][1:]).all()                          # by descending score
    assert int(scores.argmax()) in k or scores[k].max() == scores.max()          # the best box survives
    kb, kc = boxes[keep], classes[keep]
    iou = box_iou(kb, kb)
    same = kc[:, None] == kc[None, :]
    off = ~torch.eye(len(k), dtype=torch.bool)
    assert not ((iou > thr + 1e-5) & same & off).any()                           # no kept pair overlaps
    for i in range(len(dets)):                                                    # every dropped box is
        if i in k:                                                                # covered by a kept one
            continue
        cover = (box_iou(boxes[i:i + 1], kb)[0] > thr - 1e-5) & (kc == classes[i]) & (scores[keep] >= scores[i])
        assert cover.any()
    assert len(nms(boxes, scores, thr, max_keep=2)) <= 2
