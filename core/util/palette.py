"""One stable colour per class id, shared by plots, saved images and the GUI overlays."""
from __future__ import annotations

PALETTE = [(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
           (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0),
           (147, 69, 52), (255, 115, 100), (236, 24, 0), (255, 56, 132), (133, 0, 82), (255, 56, 203)]


def class_color(i: int) -> tuple[int, int, int]:
    """A stable BGR colour per class id."""
    return PALETTE[i % len(PALETTE)]
