"""Shared test helpers: a small checkpoint and a tiny dataset, written on the fly."""
from pathlib import Path

import yaml

from core.data.synth import CLASSES, write_dataset
from core.model import build_model
from core.model.checkpoint import save_checkpoint


def tiny_weights(folder: Path, imgsz: int = 128) -> Path:
    m = build_model("sdgasnet-n", num_classes=len(CLASSES))
    p = Path(folder) / "tiny.pt"
    save_checkpoint(p, m.state_dict(), {"names": list(CLASSES), "imgsz": imgsz, "model_config": m.cfg.to_dict()})
    return p


def tiny_data(tmp_path, n=8, size=(128, 128), val_is_train=True, classes=(2, 5)):
    classes = list(classes)
    """A YOLO dataset of ``n`` synthetic images; its val split is the train split unless told."""
    d = write_dataset(Path(tmp_path) / "data", n, 0 if val_is_train else 4, "yolo", size=size, n_defects=(1, 2),
                      classes=list(classes))
    cfg = yaml.safe_load(d.read_text())
    if val_is_train:
        cfg["val"] = cfg["train"]
    d.write_text(yaml.safe_dump(cfg))
    return str(d)
