"""Shared test helpers: a small checkpoint written on the fly."""
from pathlib import Path

from core.data.synth import CLASSES
from core.model import build_model
from core.model.checkpoint import save_checkpoint


def tiny_weights(folder: Path, imgsz: int = 128) -> Path:
    m = build_model("sdgasnet-n", num_classes=len(CLASSES))
    p = Path(folder) / "tiny.pt"
    save_checkpoint(p, m.state_dict(), {"names": list(CLASSES), "imgsz": imgsz, "model_config": m.cfg.to_dict()})
    return p
