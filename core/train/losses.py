"""Detection and distillation losses (architecture.md §3.5, §5.2; seed paper §3.4).

Detection: varifocal loss, GIoU on both box branches (DFL-decoded and direct lrtb), DFL.
Distillation: KL on class distributions (all anchors) and DFL distributions (positives) at
temperature T, channel-wise feature distillation on the three AES-FPN outputs, all scaled by the
cosine-annealed weight lambda (the paper's "enhanced KL"). The IoU branch is not distilled.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from core.config import LossConfig
from core.model.head import bbox2dist, dist2bbox, dfl_expectation, make_anchors

from .assigner import TaskAlignedAssigner


def giou(b1: torch.Tensor, b2: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Element-wise GIoU of (n, 4) xyxy boxes."""
    iw = (torch.minimum(b1[:, 2], b2[:, 2]) - torch.maximum(b1[:, 0], b2[:, 0])).clamp(min=0)
    ih = (torch.minimum(b1[:, 3], b2[:, 3]) - torch.maximum(b1[:, 1], b2[:, 1])).clamp(min=0)
    inter = iw * ih
    a1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    a2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    union = a1 + a2 - inter + eps
    iou = inter / union
    cw = torch.maximum(b1[:, 2], b2[:, 2]) - torch.minimum(b1[:, 0], b2[:, 0])
    ch = torch.maximum(b1[:, 3], b2[:, 3]) - torch.minimum(b1[:, 1], b2[:, 1])
    c_area = cw * ch + eps
    return iou - (c_area - union) / c_area


def varifocal_loss(logits, target_scores, labels_onehot, alpha=0.75, gamma=2.0):
    """Sum of BCE(p, q) * (alpha p^gamma (1 - label) + q label), in fp32."""
    logits, q = logits.float(), target_scores.float()
    p = logits.sigmoid()
    weight = alpha * p.pow(gamma) * (1 - labels_onehot) + q * labels_onehot
    return (F.binary_cross_entropy_with_logits(logits, q, reduction="none") * weight).sum()


def dfl_loss(dfl_logits, target_dist, reg_max: int):
    """(n, 4, R+1) logits, (n, 4) target distances -> (n,) loss averaged over the 4 sides."""
    tl = target_dist.long()
    tr = tl + 1
    wl = tr.float() - target_dist
    wr = 1 - wl
    logits = dfl_logits.reshape(-1, reg_max + 1)
    ce_l = F.cross_entropy(logits, tl.reshape(-1), reduction="none").view(tl.shape)
    ce_r = F.cross_entropy(logits, tr.clamp(max=reg_max).reshape(-1), reduction="none").view(tl.shape)
    return (ce_l * wl + ce_r * wr).mean(-1)


def distill_weight(epoch: int, epochs: int, floor: float = 0.0) -> float:
    """Cosine decay of the distillation weight from 1 at epoch 0 to ``floor`` at the last epoch."""
    if epochs <= 1:
        return 1.0
    e = min(max(epoch, 0), epochs - 1) / (epochs - 1)
    return floor + (1 - floor) * (1 + math.cos(math.pi * e)) / 2


def _kl(p_log_a, p_log_b, direction: str):
    """KL between two distributions given as log-probabilities (a = teacher, b = student)."""
    if direction == "forward":   # KL(teacher || student)
        return (p_log_a.exp() * (p_log_a - p_log_b)).sum(-1)
    return (p_log_b.exp() * (p_log_b - p_log_a)).sum(-1)


def kd_cls_loss(s_logits, t_logits, T: float, direction: str, norm: str):
    s = s_logits.float().sigmoid().reshape(-1, s_logits.shape[-1])
    t = t_logits.float().sigmoid().reshape(-1, t_logits.shape[-1])
    kl = _kl(F.log_softmax(t / T, -1), F.log_softmax(s / T, -1), direction) * T * T
    return kl.sum() if norm == "sum" else kl.mean()


def kd_dfl_loss(s_dfl, t_dfl, fg_mask, T: float, direction: str):
    if not fg_mask.any():
        return s_dfl.sum() * 0
    s = s_dfl[fg_mask].float().reshape(-1, s_dfl.shape[-1])
    t = t_dfl[fg_mask].float().reshape(-1, t_dfl.shape[-1])
    return _kl(F.log_softmax(t / T, -1), F.log_softmax(s / T, -1), direction).mean() * T * T


def cwd_loss(s_feats, t_feats, T: float = 1.0, direction: str = "forward"):
    """Channel-wise distillation: spatial softmax per channel, KL, T^2 / (N * C), summed over levels."""
    total = 0.0
    for s, t in zip(s_feats, t_feats):
        n, c = s.shape[:2]
        ls = F.log_softmax(s.float().reshape(n, c, -1) / T, -1)
        lt = F.log_softmax(t.float().reshape(n, c, -1) / T, -1)
        total = total + _kl(lt, ls, direction).sum() * T * T / (n * c)
    return total


class DetectionLoss:
    """The SD-GASNet loss. Call with the student's training output, targets (N, 6) [b, cls, xyxy]
    in input pixels, and optionally the teacher's output and the distillation weight lambda.
    Returns (total loss, dict of detached terms)."""

    def __init__(self, num_classes: int, reg_max: int = 16, strides=(8, 16, 32), cfg: LossConfig | None = None):
        self.nc, self.reg_max, self.strides = num_classes, reg_max, tuple(strides)
        self.cfg = cfg or LossConfig()
        self.assigner = TaskAlignedAssigner(self.cfg.topk, num_classes, self.cfg.tal_alpha, self.cfg.tal_beta)
        self.last_fg: torch.Tensor | None = None   # foreground mask of the last call (diagnostics)
        self.last_labels: torch.Tensor | None = None   # and the class each anchor was assigned

    @staticmethod
    def _pad_targets(targets: torch.Tensor, batch: int):
        if targets.numel() == 0:
            z = targets.new_zeros((batch, 0, 1))
            return z, targets.new_zeros((batch, 0, 4)), z.bool()
        b = targets[:, 0].long()
        counts = torch.bincount(b, minlength=batch)
        m = int(counts.max())
        labels = targets.new_zeros((batch, m, 1))
        boxes = targets.new_zeros((batch, m, 4))
        mask = torch.zeros((batch, m, 1), dtype=torch.bool, device=targets.device)
        order = torch.argsort(b, stable=True)
        b_sorted = b[order]
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.arange(len(b), device=targets.device) - starts[b_sorted]
        labels[b_sorted, slot, 0] = targets[order, 1]
        boxes[b_sorted, slot] = targets[order, 2:6]
        mask[b_sorted, slot, 0] = True
        return labels, boxes, mask

    def __call__(self, out: dict, targets: torch.Tensor, teacher: dict | None = None, lam: float = 0.0):
        cfg = self.cfg
        cls, dfl, box, feats = out["cls"], out["dfl"], out["box"], out["feats"]
        B = cls.shape[0]
        shapes = [f.shape[-2:] for f in feats]
        points, stride_t = make_anchors(shapes, self.strides, cls.device, torch.float32)  # grid units
        dfl_dist = dfl_expectation(dfl.float(), self.reg_max)                  # (B, A, 4) stride units
        pred_dfl_boxes = dist2bbox(dfl_dist, points)                           # stride units
        pred_lrtb_boxes = dist2bbox(box.float(), points)
        gt_labels, gt_boxes, mask_gt = self._pad_targets(targets.to(cls.device).float(), B)
        assign_boxes = pred_lrtb_boxes if cfg.tal_boxes == "lrtb" else pred_dfl_boxes
        reach = stride_t[:, 0] * self.reg_max if cfg.tal_reach else None
        t_labels, t_boxes, t_scores, fg, _ = self.assigner(
            cls.detach().sigmoid(), (assign_boxes.detach() * stride_t), points * stride_t,
            gt_labels, gt_boxes, mask_gt, anc_reach=reach)
        t_boxes = t_boxes / stride_t                                           # stride units
        self.last_fg, self.last_labels = fg, t_labels
        tss = max(t_scores.sum().item(), 1.0)
        onehot = F.one_hot(t_labels.clamp(max=self.nc - 1), self.nc).float() * fg[..., None]
        l_cls = varifocal_loss(cls, t_scores, onehot, cfg.vfl_alpha, cfg.vfl_gamma) / tss
        if fg.any():
            w = t_scores.sum(-1)[fg]
            l_iou = ((1 - giou(pred_dfl_boxes[fg], t_boxes[fg])) * w).sum() / tss
            if cfg.both_box_branches:
                l_iou = l_iou + ((1 - giou(pred_lrtb_boxes[fg], t_boxes[fg])) * w).sum() / tss
            anchors_fg = points[None].expand(B, -1, -1)[fg]
            target_dist = bbox2dist(anchors_fg, t_boxes[fg], self.reg_max)
            l_dfl = (dfl_loss(dfl[fg].float(), target_dist, self.reg_max) * w).sum() / tss
        else:
            l_iou = (box.sum() + dfl.sum()) * 0.0
            l_dfl = dfl.sum() * 0.0
        total = cfg.w_cls * l_cls + cfg.w_iou * l_iou + cfg.w_dfl * l_dfl
        terms = {"cls": l_cls.detach(), "iou": l_iou.detach(), "dfl": l_dfl.detach()}
        if teacher is not None:
            T = cfg.kd_temperature
            kd_c = kd_cls_loss(cls, teacher["cls"], T, cfg.kd_direction, cfg.kd_cls_norm)
            kd_d = kd_dfl_loss(dfl, teacher["dfl"], fg, T, cfg.kd_direction)
            total = total + lam * (cfg.w_cls * cfg.d_cls * kd_c + cfg.w_dfl * cfg.d_dfl * kd_d)
            terms.update(kd_cls=kd_c.detach(), kd_dfl=kd_d.detach())
            if cfg.kd_feat:
                kd_f = cwd_loss(feats, [f.detach() for f in teacher["feats"]], cfg.kd_feat_temperature, cfg.kd_direction)
                total = total + lam * cfg.w_cwd * kd_f
                terms["kd_feat"] = kd_f.detach()
            terms["lambda"] = torch.tensor(lam)
        terms = {k: float(v) for k, v in terms.items()}
        terms["n_pos"] = int(fg.sum())
        return total, terms
