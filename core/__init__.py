"""SD-GASNet Inspector core: the detector and its machinery. Never imports Qt.

``from core import Detector`` is the facade (``core.detector``); it loads lazily so that
``import core.util.io`` and friends stay light.
"""
from core.util.version import VERSION as __version__
__all__ = ["Detector", "__version__"]


def __getattr__(name):
    if name == "Detector":
        from core.detector import Detector

        return Detector
    raise AttributeError(f"module 'core' has no attribute '{name}'")
