"""One copy of the application per settings folder: a second start brings the first window forward
and ends, or says why it cannot start (two copies once recorded the same parts twice)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

ROOT = Path(__file__).resolve().parents[1]


def _env(home):
    return {**os.environ, "SDGAS_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}


def test_a_second_start_brings_the_first_window_forward_and_ends(qtbot, tmp_path):
    from app.services.single_instance import SingleInstance

    first = SingleInstance(tmp_path / "home")
    assert first.claim()
    raised = []
    first.raise_requested.connect(lambda: raised.append(1))
    try:
        # the real program, as a second start from a desktop icon would run it
        p = subprocess.Popen([sys.executable, str(ROOT / "main.py")], cwd=str(ROOT), env=_env(tmp_path / "home"),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        qtbot.waitUntil(lambda: p.poll() is not None, timeout=120000)   # the first copy answers meanwhile
        out = p.stdout.read()
        assert p.returncode == 0, out
        assert "already running" in out and "brought forward" in out
        assert raised == [1]
    finally:
        first.release()


def test_a_copy_that_does_not_answer_is_named_and_a_crashed_one_is_taken_over(qtbot, tmp_path):
    from app.services.single_instance import SingleInstance

    home = tmp_path / "home"
    home.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from PySide6.QtCore import QLockFile
        lock = QLockFile({str(home / "inspector.lock")!r})
        assert lock.tryLock(0)
        print("locked", flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = SingleInstance(home)
        assert not second.claim(timeout_ms=500)
        assert "does not answer" in second.message and f"process {holder.pid}" in second.message
    finally:
        holder.kill()
        holder.wait()
    third = SingleInstance(home)              # the holder is gone: its lock is stale and taken over
    assert third.claim()
    third.release()
