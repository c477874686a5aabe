"""The SD-GASNet network: backbones, AES-FPN, head, building and fusion.

The names that need torch (the network itself) load on first use, so that reading the model
configuration (``core.model.architecture``, and through it every default in ``core.config``) needs no torch.
"""
from .architecture import MODEL_NAMES, ModelConfig, check_imgsz, model_config

_NETWORK = ("SDGASNet", "build_from_config", "build_model", "count_gflops", "count_params")

__all__ = ["MODEL_NAMES", "ModelConfig", "check_imgsz", "model_config", *_NETWORK]


def __getattr__(name: str):
    if name in _NETWORK:
        from . import network

        return getattr(network, name)
    raise AttributeError(f"module 'core.model' has no attribute '{name}'")
