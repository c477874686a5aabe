"""Task-aligned assigner (TAL): top-k 13, alpha 1, beta 6 (architecture.md §3.4)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from core.model.architecture import NUM_CLASSES


def _pairwise_iou(gt: torch.Tensor, pd: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """gt (B, M, 4), pd (B, A, 4) -> IoU (B, M, A)."""
    lt = torch.maximum(gt[:, :, None, :2], pd[:, None, :, :2])
    rb = torch.minimum(gt[:, :, None, 2:], pd[:, None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    a1 = (gt[..., 2] - gt[..., 0]).clamp(min=0) * (gt[..., 3] - gt[..., 1]).clamp(min=0)
    a2 = (pd[..., 2] - pd[..., 0]).clamp(min=0) * (pd[..., 3] - pd[..., 1]).clamp(min=0)
    return inter / (a1[:, :, None] + a2[:, None, :] - inter + eps)


class TaskAlignedAssigner:
    def __init__(self, topk: int = 13, num_classes: int = NUM_CLASSES, alpha: float = 1.0, beta: float = 6.0, eps: float = 1e-9):
        self.topk, self.nc, self.alpha, self.beta, self.eps = topk, num_classes, alpha, beta, eps

    @torch.no_grad()
    def __call__(self, pd_scores, pd_bboxes, anc_points, gt_labels, gt_bboxes, mask_gt, anc_reach=None):
        """
        pd_scores (B, A, nc) probabilities, pd_bboxes (B, A, 4) and anc_points (A, 2) in pixels;
        gt_labels (B, M, 1), gt_bboxes (B, M, 4), mask_gt (B, M, 1) marks real (not padding) GTs.
        anc_reach (A,), optional: the farthest side distance in pixels each anchor's DFL branch can
        express (reg_max strides). Given, an anchor is a candidate for a GT only if every side of
        the GT is within reach, unless no anchor inside that GT reaches it (then all inside count).
        Returns target_labels (B, A), target_bboxes (B, A, 4), target_scores (B, A, nc),
        fg_mask (B, A) bool, target_gt_idx (B, A).
        """
        B, A = pd_scores.shape[:2]
        M = gt_bboxes.shape[1]
        dev = pd_scores.device
        if M == 0:
            return (torch.full((B, A), self.nc, device=dev, dtype=torch.long), torch.zeros_like(pd_bboxes),
                    torch.zeros_like(pd_scores), torch.zeros((B, A), dtype=torch.bool, device=dev),
                    torch.zeros((B, A), dtype=torch.long, device=dev))
        pd_scores, pd_bboxes, gt_bboxes = pd_scores.float(), pd_bboxes.float(), gt_bboxes.float()
        # candidates: anchor centres strictly inside the GT box
        lt = anc_points[None, None] - gt_bboxes[:, :, None, :2]
        rb = gt_bboxes[:, :, None, 2:] - anc_points[None, None]
        ltrb = torch.cat([lt, rb], -1)
        in_gts = ltrb.amin(-1) > self.eps                                # (B, M, A)
        if anc_reach is not None:
            # a long thin defect (a scratch) holds many fine-level anchors whose DFL targets would
            # be clipped: their boxes fall short and their IoU-aware class targets sink with them
            reach = in_gts & (ltrb.amax(-1) <= anc_reach[None, None])
            in_gts = torch.where(reach.any(-1, keepdim=True), reach, in_gts)
        valid = in_gts & mask_gt.bool()
        overlaps = _pairwise_iou(gt_bboxes, pd_bboxes) * valid
        labels = gt_labels.long().squeeze(-1).clamp(0, self.nc - 1)      # (B, M)
        bbox_scores = pd_scores.gather(2, labels[:, None, :].expand(B, A, M)).permute(0, 2, 1)  # (B, M, A)
        align = bbox_scores.pow(self.alpha) * overlaps.pow(self.beta) * valid
        # top-k anchors per GT by alignment (among candidates)
        k = min(self.topk, A)
        topk_idx = align.topk(k, dim=-1).indices
        mask_topk = torch.zeros_like(align, dtype=torch.bool).scatter_(-1, topk_idx, True)
        mask_pos = mask_topk & valid
        # an anchor claimed by several GTs goes to the one of highest IoU
        fg_count = mask_pos.sum(1)                                       # (B, A)
        if (fg_count > 1).any():
            multi = (fg_count > 1)[:, None, :].expand(-1, M, -1)
            best = overlaps.argmax(1)                                    # (B, A)
            is_best = F.one_hot(best, M).permute(0, 2, 1).bool()
            mask_pos = torch.where(multi, is_best & mask_pos.any(1, keepdim=True), mask_pos)
        fg_mask = mask_pos.any(1)
        target_gt_idx = mask_pos.float().argmax(1)                       # (B, A)
        batch_idx = torch.arange(B, device=dev)[:, None]
        target_labels = labels[batch_idx, target_gt_idx]
        target_bboxes = gt_bboxes[batch_idx, target_gt_idx]
        target_scores = F.one_hot(target_labels, self.nc).float() * fg_mask[..., None]
        # soft targets: alignment normalised by the best IoU of the GT's positives
        align = align * mask_pos
        pos_align = align.amax(-1, keepdim=True)
        pos_ious = (overlaps * mask_pos).amax(-1, keepdim=True)
        norm = (align * pos_ious / (pos_align + self.eps)).amax(1)       # (B, A)
        target_scores = target_scores * norm[..., None]
        return target_labels, target_bboxes, target_scores, fg_mask, target_gt_idx

