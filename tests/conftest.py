import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Two cores: one pytest-xdist worker each (make test), or both for a single process. The processes
# a test starts (training runs, the CLI) inherit one thread under xdist: with OpenMP's default of
# a thread per core, two workers' children spin-wait on each other's cores: five of the longest tests
# took 527 s on a 2-core AMD EPYC, 84 s with this (docs/benchmarks.md "Test suite").
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"

import gc  # noqa: E402
import importlib  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

# In CI a missing test dependency is a failure, never a silent skip (requirements-dev.txt).
if os.environ.get("CI"):
    for _m in ("pycocotools", "pytestqt", "importlinter", "grimp", "hypothesis", "pypdf", "onnxruntime", "openvino",
               "nncf", "onnxscript", "asyncua", "pymodbus", "paho.mqtt", "psycopg", "pypylon", "harvesters", "xdist"):
        importlib.import_module(_m)

torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)

# A hard backstop under pytest-timeout's soft one (pyproject): a test stuck in C code with the GIL
# held never sees SIGALRM, and CI then waited out its 90 minutes in silence. faulthandler's watchdog
# needs no GIL: it prints every thread's stack and ends the run. It prints to the stderr the run
# started with: during a test, fd 2 is pytest's capture file, which dies with the process (a CI run
# once showed only "node down: Not properly terminated" after a 900 s hang).
HARD_TIMEOUT_S = int(os.environ.get("SDGAS_TEST_HARD_TIMEOUT", "900"))
_REAL_STDERR = None


def pytest_configure(config):
    global _REAL_STDERR
    _REAL_STDERR = os.fdopen(os.dup(2), "w")


# Python's cycle collector runs wherever an allocation trips it: in a worker thread it can delete a
# Qt object that an earlier test left in a reference cycle, under Qt's feet (the application turns it
# off and collects on its GUI thread: app.launch.collect_cycles_on_gui_thread). A CI run hung 900 s
# in the Reports view's preview, whose gathering runs in a worker, after 400 tests in one process;
# a probe hangs the same way (50 widgets in cycles, collected by a worker thread: stuck for good;
# collected on the GUI thread: 250 objects freed). The tests do as the application does: no
# automatic collection, a full one between tests, on the main thread.
gc.disable()


@pytest.fixture(autouse=True)
def _collect_between_tests():
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _hard_timeout():
    import faulthandler

    faulthandler.dump_traceback_later(HARD_TIMEOUT_S, exit=True, file=_REAL_STDERR or sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()

NEU = ROOT.parent / "shared" / "data" / "neu-det"


@pytest.fixture
def neu_root():
    if not NEU.exists():
        if os.environ.get("CI"):
            pytest.fail("NEU-DET must be at ../shared/data/neu-det in CI")
        pytest.skip("NEU-DET not available at ../shared/data/neu-det")
    return NEU


@pytest.fixture
def pg(tmp_path_factory):
    """A PostgreSQL server of its own for one test, on loopback (``tests/servers.py``)."""
    pytest.importorskip("psycopg")
    from servers import Postgres

    server = Postgres(tmp_path_factory.mktemp("pg"))
    yield server
    try:
        server.stop()
    except Exception:  # noqa: BLE001 - already stopped by the test
        pass


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An application folder whose settings choose no model (tests load their own) and prepare no
    runtime in the background (tests/test_fastest_runtime.py's subject)."""
    from helpers import app_home

    return app_home(tmp_path, monkeypatch, {"weights": "", "fastest_runtime": False})


@pytest.fixture
def window(qtbot, home):
    """The application's main window on ``home``, shown; its live view shut down after the test."""
    from app.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.live.shutdown()


def pytest_collection_modifyitems(items):
    """The long tests first (stable otherwise): under pytest-xdist (``make test``: two workers) they
    start at once on both cores instead of one of them ending the run alone."""
    items.sort(key=lambda it: 0 if it.get_closest_marker("slow") else 1)
