"""The version of SD-GASNet Inspector (one place; ``core.__version__`` re-exports it)."""
VERSION = "0.1.0"
