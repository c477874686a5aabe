"""Inference: the predictor, post-processing (decode, NMS) and drawing."""
