"""NMS and post-processing in plain torch."""
import torch

from core.infer.postprocess import batched_nms, box_iou, nms, postprocess


def naive_nms(boxes, scores, thr):
    order = scores.argsort(descending=True, stable=True).tolist()
    keep = []
    for i in order:
        if all(box_iou(boxes[i:i + 1], boxes[k:k + 1])[0, 0] <= thr for k in keep):
            keep.append(i)
    return keep


def random_boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 40 + 2
    return torch.cat([xy, xy + wh], 1), torch.rand(n, generator=g)


def test_nms_matches_greedy_reference():
    for seed in range(5):
        b, s = random_boxes(120, seed)
        for thr in (0.3, 0.5, 0.7):
            assert nms(b, s, thr).tolist() == naive_nms(b, s, thr)


def test_batched_nms_is_class_aware():
    b = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10.]])
    s = torch.tensor([0.9, 0.8, 0.7])
    c = torch.tensor([0, 0, 1])
    assert sorted(batched_nms(b, s, c, 0.5).tolist()) == [0, 2]


def test_postprocess_shapes_and_limits():
    pred = torch.zeros(2, 50, 4 + 3)
    b, _ = random_boxes(50, 0)
    pred[0, :, :4] = b
    pred[0, :, 4] = torch.linspace(0.1, 0.9, 50)
    out = postprocess(pred, conf_thres=0.5, iou_thres=0.5, max_det=5)
    assert out[0].shape[1] == 6 and len(out[0]) <= 5
    assert (out[0][:, 4] > 0.5).all() and (out[0][:, 5] == 0).all()
    assert out[1].shape == (0, 6)
    assert len(nms(torch.zeros(0, 4), torch.zeros(0), 0.5)) == 0
