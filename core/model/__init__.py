"""The SD-GASNet network: backbones, AES-FPN, head, building and fusion."""
from .config import MODEL_NAMES, ModelConfig, check_imgsz, model_config
from .detector import SDGASNet, build_from_config, build_model, count_gflops, count_params

__all__ = ["MODEL_NAMES", "ModelConfig", "SDGASNet", "build_model", "build_from_config",
           "check_imgsz", "count_gflops", "count_params", "model_config"]
