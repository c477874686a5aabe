"""The command line: dispatch, one-line errors, exit codes."""
import json
import subprocess
import sys
from pathlib import Path

from core.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_info_json(tmp_path, capsys):
    out = tmp_path / "info.json"
    assert main(["info", "--model", "sdgasnet-n", "--imgsz", "320", "--classes", "6", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["model"] == "sdgasnet-n" and d["imgsz"] == 320
    assert d["params"] > d["params_fused"] > 4e6
    assert 2.5 < d["gflops"] < 3.5
    assert "GFLOPs" in capsys.readouterr().out


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True, timeout=120)


def test_unknown_command_and_option_one_line_error():
    for args in (["bogus"], ["info", "--bad-option"], ["info", "--imgsz", "100"], ["info", "--model", "nope"]):
        r = run_cli(*args)
        assert r.returncode != 0
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, r.stderr


def test_bad_class_count_exit_nonzero():
    r = run_cli("info", "--classes", "0")
    assert r.returncode != 0 and "--classes" in r.stderr and "got 0" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
