"""The labelling view: canvas, file list, classes, splits and statistics, pre-labelling and review."""
