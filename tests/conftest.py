import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import importlib  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

# In CI a missing test dependency is a failure, never a silent skip (requirements-dev.txt).
if os.environ.get("CI"):
    for _m in ("pycocotools", "pytestqt", "importlinter", "grimp", "hypothesis", "pypdf", "onnxruntime", "openvino",
               "nncf", "onnxscript"):
        importlib.import_module(_m)

torch.set_num_threads(2)

NEU = ROOT.parent / "shared" / "data" / "neu-det"


@pytest.fixture
def neu_root():
    if not NEU.exists():
        if os.environ.get("CI"):
            pytest.fail("NEU-DET must be at ../shared/data/neu-det in CI")
        pytest.skip("NEU-DET not available at ../shared/data/neu-det")
    return NEU
