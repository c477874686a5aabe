"""The training view: runs, their curves and results, and the model registry."""
