"""Qt-side services: they call the ``core`` facade off the GUI thread and hold the signals."""
