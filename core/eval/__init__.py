"""Evaluation: COCO-style metrics, confusion matrix, OK/NG figures, plots."""
