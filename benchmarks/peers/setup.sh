#!/usr/bin/env bash
# Create benchmarks/peers/.venv with Ultralytics (YOLO26n, YOLO11n) for the peer benchmarks.
# torch 2.14.1 / torchvision 0.29.1 come from the machine's wheel folder when it has them (no
# download); the rest from the package index. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
py="${PY:-python3.11}"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
extra=()
[ -d /opt/wheels ] && extra+=(--find-links /opt/wheels)
"$venv/bin/python" -m pip install -q "${extra[@]}" -r "$here/requirements.txt"
"$venv/bin/python" - <<'PY'
import torch, ultralytics
print(f"peers env: ultralytics {ultralytics.__version__}, torch {torch.__version__}")
PY
