"""One stable colour per class id, shared by plots, saved images and the GUI overlays."""
from __future__ import annotations

# BGR, ordered so that neighbouring class ids differ in hue (the first classes, the ones a small
# dataset has, are red, sky blue, green, orange, violet, yellow...), all saturated enough to show on
# grey steel
PALETTE = [(56, 56, 255), (255, 194, 0), (10, 249, 72), (29, 178, 255), (255, 56, 203), (49, 210, 207),
           (236, 24, 0), (134, 219, 61), (255, 56, 132), (31, 112, 255), (168, 153, 44), (187, 212, 0),
           (151, 157, 255), (52, 147, 26), (255, 115, 100), (23, 204, 146), (147, 69, 52), (133, 0, 82)]


def class_color(i: int) -> tuple[int, int, int]:
    """A stable BGR colour per class id."""
    return PALETTE[i % len(PALETTE)]
