"""The house's walls: declared layers (import-linter, pyproject.toml) and no import cycle in core."""
import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is a test dependency (requirements-dev.txt)"
    r = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_no_import_cycle_between_two_core_modules():
    g = grimp.build_graph("core", cache_dir=None)
    mods = sorted(m for m in g.modules if m != "core")
    cycles = [(a, b) for a, b in itertools.permutations(mods, 2)
              if g.direct_import_exists(importer=a, imported=b) and g.chain_exists(importer=b, imported=a)]
    assert not cycles, cycles
