import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)

NEU = ROOT.parent / "shared" / "data" / "neu-det"


@pytest.fixture
def neu_root():
    if not NEU.exists():
        pytest.skip("NEU-DET not available at ../shared/data/neu-det")
    return NEU
