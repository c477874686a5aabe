"""INT8 post-training quantization with NNCF, calibrated on training images.

The calibration images go through the model's one preprocessing spec, as at inference. RepVGG's
re-parameterised 3x3 convolutions are plain convolutions, what INT8 runs best, but they carry the
known RepVGG quantization loss: folding the 1x1 and identity branches in widens weight and
activation ranges. On the bundled NEU-DET model NNCF's defaults lost 0.12 mAP50; two settings
bring it within 0.003 (docs/experiments/2026-12-02-int8.md): activation ranges from the mean of
per-image quantiles instead of min/max (outliers no longer stretch the 8-bit grid), and the
stem's first three convolutions (3-channel input, the most sensitive layers) kept in float.
"""
from __future__ import annotations

import numpy as np

from core.data.preprocess import Preprocess

from .inputs import dataset_inputs


def calibration_images(data: str, pre: Preprocess, n: int = 300, seed: int = 0, log=print) -> list[np.ndarray]:
    """Up to ``n`` training images of ``data`` (a dataset spec), spread at random, as model inputs."""
    out = dataset_inputs(data, "train", pre, n, seed, log=log)
    if not out:
        raise ValueError(f"{data}: no usable training images to calibrate INT8 on")
    log(f"INT8 calibration: {len(out)} training images of {data}")
    return out


FLOAT_STEM_CONVS = 3


def first_convs(model, n: int = FLOAT_STEM_CONVS) -> list[str]:
    """Names of the first ``n`` convolutions in execution order (OpenVINO model or ONNX proto)."""
    if hasattr(model, "get_ordered_ops"):
        return [o.get_friendly_name() for o in model.get_ordered_ops() if o.get_type_name() == "Convolution"][:n]
    return [nd.name for nd in model.graph.node if nd.op_type == "Conv"][:n]


def quantize_int8(model, images: list[np.ndarray]):
    """NNCF's post-training quantization of an ``openvino.Model`` or ONNX ``ModelProto``."""
    import logging

    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    logging.getLogger("nncf").setLevel(logging.ERROR)
    adv = AdvancedQuantizationParameters(
        activations_range_estimator_params=RangeEstimatorParametersSet.MEAN_QUANTILE)
    if hasattr(model, "graph"):   # ONNX: NNCF feeds ONNX Runtime, which takes {input name: array}
        name = model.graph.input[0].name
        ds = nncf.Dataset(images, lambda x: {name: x})
    else:
        ds = nncf.Dataset(images)
    return nncf.quantize(model, ds, subset_size=len(images),
                         preset=nncf.QuantizationPreset.PERFORMANCE, advanced_parameters=adv,
                         ignored_scope=nncf.IgnoredScope(names=first_convs(model), validate=False))
