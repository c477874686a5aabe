"""SD-GASNet Inspector core: the detector and its machinery. Never imports Qt."""
__version__ = "0.1.0"
