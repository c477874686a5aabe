"""Model inputs from a dataset split, through the model's one preprocessing spec (calibration, parity)."""
from __future__ import annotations

import numpy as np

from core.data.imageio import ImageError, read_image
from core.data.preprocess import Preprocess


def dataset_inputs(data: str, split: str, pre: Preprocess, n: int, seed: int | None = None,
                   log=lambda msg: None) -> list[np.ndarray]:
    """Up to ``n`` images of ``split`` as (1, 3, S, S) inputs: the first ``n``, or with ``seed`` a
    random spread. An image that no longer reads is skipped and said."""
    from core.data.catalog import open_dataset
    from core.data.validate import validate

    samples, _ = validate(open_dataset(data), split)
    idx = range(min(n, len(samples))) if seed is None else sorted(np.random.default_rng(seed).permutation(len(samples))[:n])
    out = []
    for i in idx:
        try:
            out.append(pre(read_image(samples[i].image))[0][None].numpy())
        except ImageError as e:  # validated, but the file may have changed since
            log(f"skipped {e}")
    return out
