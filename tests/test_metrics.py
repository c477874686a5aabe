"""Our COCO-style evaluator agrees with pycocotools on the same predictions."""
import numpy as np
import pytest

from core.eval.metrics import ImageResult, evaluate, image_verdicts

pycoco = pytest.importorskip("pycocotools.cocoeval")


def make_case(seed, n_img=40, nc=3):
    rng = np.random.default_rng(seed)
    results = []
    for i in range(n_img):
        m = rng.integers(0, 5)
        xy = rng.uniform(0, 150, (m, 2))
        wh = rng.uniform(8, 60, (m, 2))
        g = np.concatenate([rng.integers(0, nc, (m, 1)), xy, xy + wh], 1)
        dets = []
        for row in g:  # a jittered detection per GT (sometimes the wrong class), plus noise
            if rng.random() < 0.85:
                b = row[1:] + rng.normal(0, 4, 4)
                b[2:] = np.maximum(b[2:], b[:2] + 1)  # detectors emit valid boxes (x2 > x1)
                c = row[0] if rng.random() < 0.9 else rng.integers(0, nc)
                dets.append([*b, rng.uniform(0.3, 1.0), c])
        for _ in range(rng.integers(0, 6)):
            p = rng.uniform(0, 150, 2)
            s = rng.uniform(8, 60, 2)
            dets.append([*p, *(p + s), rng.uniform(0.0, 0.6), rng.integers(0, nc)])
        d = np.array(dets, float).reshape(-1, 6)
        results.append(ImageResult(d, g.astype(float)))
    return results


def coco_reference(results, nc):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = {"images": [], "annotations": [], "categories": [{"id": c + 1, "name": str(c)} for c in range(nc)]}
    dt = []
    aid = 1
    for i, r in enumerate(results):
        gt["images"].append({"id": i + 1, "width": 256, "height": 256})
        for c, x1, y1, x2, y2 in r.gts:
            gt["annotations"].append({"id": aid, "image_id": i + 1, "category_id": int(c) + 1,
                                      "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
            aid += 1
        for x1, y1, x2, y2, s, c in r.dets:
            dt.append({"image_id": i + 1, "category_id": int(c) + 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s})
    cg = COCO()
    cg.dataset = gt
    cg.createIndex()
    cd = cg.loadRes(dt)
    e = COCOeval(cg, cd, "bbox")
    e.evaluate()
    e.accumulate()
    e.summarize()
    return e.stats[0], e.stats[1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_agrees_with_pycocotools(seed):
    results = make_case(seed)
    ours = evaluate(results, ["a", "b", "c"])
    ref_5095, ref_50 = coco_reference(results, 3)
    assert abs(ours.map50_95 - ref_5095) < 1e-3
    assert abs(ours.map50 - ref_50) < 1e-3


def test_perfect_predictions_and_verdicts():
    g = np.array([[0, 10, 10, 50, 50], [1, 60, 60, 90, 100.]])
    d = np.array([[10, 10, 50, 50, 0.9, 0], [60, 60, 90, 100, 0.8, 1.]])
    clean = ImageResult(np.array([[0, 0, 5, 5, 0.5, 0.]]), np.zeros((0, 5)))
    res = evaluate([ImageResult(d, g), clean], ["x", "y"], conf=0.25)
    assert res.map50 == pytest.approx(1.0) and res.map50_95 == pytest.approx(1.0)
    assert res.confusion[0, 0] == 1 and res.confusion[1, 1] == 1 and res.confusion[2, 0] == 1
    v = image_verdicts([ImageResult(d, g), clean], conf=0.25)
    assert v["escape_rate"] == 0 and v["overkill_rate"] == 1.0
    j = res.to_json()
    assert j["convention"] == "coco-101" and set(j["per_class"]) == {"x", "y"}


def test_ultralytics_convention_caps_a_perfect_model_at_0995():
    g = np.array([[0, 10, 10, 50, 50.0], [1, 60, 60, 90, 99.0]])
    d = np.array([[10, 10, 50, 50, 0.9, 0], [60, 60, 90, 99, 0.8, 1]])
    res = evaluate([ImageResult(d, g)], ["a", "b", "c"])
    assert res.map50_95 == pytest.approx(1.0)
    assert res.ultralytics["map50"] == pytest.approx(0.995)
    assert res.ultralytics["map50_95"] == pytest.approx(0.995)
    assert res.ultralytics["ap50"][2] is None            # no ground truth: left out of the mean
    assert res.to_json()["ultralytics"] == {"map50": 0.995, "map50_95": 0.995}


def test_ultralytics_convention_does_not_offer_a_detection_its_second_choice():
    # det 0 sits on B exactly; det 1 overlaps B (0.85) more than A (0.79). COCO gives det 1 the
    # still-free A; Ultralytics lets det 1 claim only B, which det 0 (higher score) already holds.
    g = np.array([[0, 0, 0, 100, 100.0], [0, 20, 0, 120, 100.0]])
    d = np.array([[0, 0, 100, 100, 0.9, 0], [8, 0, 108, 100, 0.3, 0]])
    res = evaluate([ImageResult(d, g)], ["a"])
    assert res.map50 == pytest.approx(1.0)
    assert res.ultralytics["map50"] == pytest.approx(0.625, abs=0.01)
