"""Sub-commands beyond `info` (training, evaluation, prediction, datasets)."""
from __future__ import annotations


def register(sub, imgsz_type) -> None:
    """Add the sub-commands to the parser."""
