"""What every image source gives (``Frame``) and the interface it keeps (``Source``); the sources
themselves are in ``sources`` and, for industrial cameras, ``cameras``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Frame:
    index: int
    name: str
    image: np.ndarray | None
    error: str | None = None
    t_capture: float = 0.0   # time.monotonic() when grabbed
    source: str = ""
    capture_ms: float = 0.0  # time the source took to deliver it (read, decode)
    camera_frame_id: int | None = None   # an industrial camera's own frame (block) id
    camera_ts: int | None = None         # ... and its timestamp (device clock ticks)
    recipe: object = None    # a camera's frame: the recipe whose camera settings it was taken with


class Source:
    """Base class. ``live``: keep only the newest frame (a camera); otherwise every frame counts."""

    live = False
    name = "source"

    def open(self) -> None:
        pass

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def interrupt(self) -> None:
        """Wake a ``read()`` that is waiting (a watched folder, a paced demo) so that it returns None
        at once: the run is stopping. Called from another thread; ``close`` stays with the reader."""

    def describe(self) -> str:
        return self.name
