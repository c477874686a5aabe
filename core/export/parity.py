"""Source against export: the same images through both, the largest deviations of their outputs."""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from core.data.preprocess import Preprocess

from .inputs import dataset_inputs


@dataclass
class Parity:
    images: int
    where: str                  # what the images were
    max_score_dev: float        # over every anchor and class
    max_box_dev_px: float       # over the anchors either model scores >= 0.05 (boxes of nothing are noise)
    max_box_dev_all_px: float   # over every anchor

    def line(self) -> str:
        return (f"parity on {self.images} {self.where}: largest score deviation {self.max_score_dev:.2e}, "
                f"largest box deviation {self.max_box_dev_px:.2e} px (scored anchors; "
                f"{self.max_box_dev_all_px:.2e} px over all)")


def parity_images(pre: Preprocess, data: str | None, n: int = 16) -> tuple[list[np.ndarray], str]:
    """Model inputs of ``n`` validation images of ``data``, else of ``n`` demo-line frames."""
    imgs = dataset_inputs(data, "val", pre, n) if data else []
    if imgs:
        return imgs, f"validation images of {data}"
    from core.data.synth import demo_frame

    return [pre(demo_frame(0, k)[0])[0][None].numpy() for k in range(n)], "demo-line frames"


def compare(source, exported, images: list[np.ndarray], where: str) -> Parity:
    """``source``/``exported``: backends (``core.infer.backends``) on the same inputs."""
    s_dev = b_dev = b_all = 0.0
    for x in images:
        a, b = source(x).numpy(), exported(x).numpy()
        if a.shape != b.shape:
            raise ValueError(f"exported output {b.shape} differs in shape from the source's {a.shape}")
        s_dev = max(s_dev, float(np.abs(a[..., 4:] - b[..., 4:]).max()))
        d = np.abs(a[..., :4] - b[..., :4]).max(-1)
        b_all = max(b_all, float(d.max()))
        scored = np.maximum(a[..., 4:].max(-1), b[..., 4:].max(-1)) >= 0.05
        if scored.any():
            b_dev = max(b_dev, float(d[scored].max()))
    return Parity(len(images), where, s_dev, b_dev, b_all)
