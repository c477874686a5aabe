"""What a model configuration costs before it is built: its parameters, and the memory that one
image's forward pass holds at once at a given input size.

Both come from the product of the configuration's fields (widths, depths, channels, classes), taken
by PyTorch itself: the model is built on the meta device (shapes, no memory) and one forward pass is
traced there. A small file whose fields are each within bounds can still ask for gigabytes together;
such a model is refused before anything is allocated, with the numbers.
"""
from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass, replace

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from .architecture import MODEL_NAMES, ModelConfig, model_config

# 10x the largest preset (sdgasnet-s: 19 M parameters, 1.3 GB at 4096 px): room for custom models
MAX_PARAMS = 200_000_000
MAX_ACTIVATION_BYTES = 4 << 30
PRESET_CLASSES = 100


@dataclass(frozen=True)
class ModelSize:
    params: int
    activation_bytes: int     # the most that one float32 image's eval forward holds at once


class _PeakMemory(TorchDispatchMode):
    """The most bytes of tensors alive at once while the mode is on (meta tensors: shapes only)."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0
        self._held: dict[int, weakref.finalize] = {}

    def _freed(self, key: int, n: int) -> None:
        self.live -= n
        self._held.pop(key, None)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t._base is None and id(t) not in self._held:
                n = t.numel() * t.element_size()
                self._held[id(t)] = weakref.finalize(t, self._freed, id(t), n)
                self.live += n
                self.peak = max(self.peak, self.live)
        return out


@functools.lru_cache(maxsize=16)
def model_size(cfg: ModelConfig, imgsz: int, network, forward: bool = True) -> ModelSize:
    """Parameters of the model ``network(cfg)`` (the network's class, ``core.model.network.SDGASNet``),
    and (``forward``) the peak activation memory of one image at ``imgsz`` in eval mode; nothing is
    allocated."""
    with torch.device("meta"):
        model = network(cfg)
    params = sum(p.numel() for p in model.parameters())
    if not forward:
        return ModelSize(params, 0)
    model.to("meta").eval()     # its few constant buffers (DCT filters) were made on the CPU
    with torch.no_grad(), _PeakMemory() as peak:
        model(torch.empty(1, 3, imgsz, imgsz, device="meta"))
    return ModelSize(params, peak.peak)


def known_to_fit(cfg: ModelConfig) -> bool:
    """A preset's configuration with up to ``PRESET_CLASSES`` classes fits at every image size up to
    MAX_IMGSZ (tests/test_bad_inputs.py measures it), so its forward pass need not be traced (the
    trace costs a second or two the first time in a process)."""
    return (cfg.name in MODEL_NAMES and cfg.num_classes <= PRESET_CLASSES
            and replace(cfg, num_classes=1) == model_config(cfg.name, 1))


def size_problem(cfg: ModelConfig, imgsz: int, network) -> str | None:
    """Why the model ``network(cfg)`` run at ``imgsz`` is refused (too many parameters, or too much
    memory for one image), with the numbers; None when it is within ``MAX_PARAMS`` and
    ``MAX_ACTIVATION_BYTES``."""
    s = model_size(cfg, imgsz, network, forward=False)
    if s.params > MAX_PARAMS:
        return (f"the model would have {s.params:,} parameters ({s.params * 4 / 1e9:.1f} GB), more than the "
                f"{MAX_PARAMS:,} allowed")
    if known_to_fit(cfg):
        return None
    s = model_size(cfg, imgsz, network)
    if s.activation_bytes > MAX_ACTIVATION_BYTES:
        return (f"one {imgsz}x{imgsz} image would need {s.activation_bytes / 1e9:.1f} GB of activations in this "
                f"model, more than the {MAX_ACTIVATION_BYTES / 1e9:.1f} GB allowed")
    return None
