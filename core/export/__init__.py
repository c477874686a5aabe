"""Export: a trained checkpoint to ONNX or OpenVINO, with its metadata, checked for parity."""
