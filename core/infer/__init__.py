"""Inference: predictor, post-processing (decode, NMS), export."""
