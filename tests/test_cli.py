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


def test_distill_takes_the_teachers_settings_unless_given(tmp_path, monkeypatch, capsys):
    """A student of a teacher trained at 96 px for 7 epochs in batches of 3 (and its augmentation)
    trains so too; what the command gives wins; a teacher that records nothing leaves the defaults."""
    from core.config import TrainConfig
    from core.detector import Detector
    from helpers import tiny_data, tiny_weights

    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    teacher = tiny_weights(tmp_path, imgsz=96, train_args={"epochs": 7, "imgsz": 96, "batch": 3, "mosaic": 0.25,
                                                           "lr0": 0.5})
    data = tiny_data(tmp_path, n=2, size=(64, 64), val_is_train=False)
    runs: list = []
    monkeypatch.setattr(Detector, "train", lambda self, data, callbacks=None, **cfg: runs.append(cfg)
                        or {"status": "finished"})
    assert main(["distill", "--data", data, "--teacher", str(teacher), "--out", str(tmp_path / "s1")]) == 0
    assert (runs[-1]["epochs"], runs[-1]["imgsz"], runs[-1]["batch"], runs[-1]["mosaic"]) == (7, 96, 3, 0.25)
    assert "lr0" not in runs[-1] and "from the teacher's run: epochs 7, imgsz 96, batch 3" in capsys.readouterr().out
    assert main(["distill", "--data", data, "--teacher", str(teacher), "--imgsz", "128", "--set", "mosaic=0",
                 "--out", str(tmp_path / "s2")]) == 0
    assert (runs[-1]["epochs"], runs[-1]["imgsz"], runs[-1]["batch"], runs[-1]["mosaic"]) == (7, 128, 3, 0)
    bare = tiny_weights(tmp_path, imgsz=96, name="bare.pt")
    assert main(["distill", "--data", data, "--teacher", str(bare), "--out", str(tmp_path / "s3")]) == 0
    assert not {"epochs", "imgsz", "batch"} & set(runs[-1])     # TrainConfig's defaults then
    assert TrainConfig.from_dict({"data": data, **runs[-1]}).epochs == TrainConfig().epochs
    assert main(["train", "--data", data, "--out", str(tmp_path / "t")]) == 0
    assert "imgsz" not in runs[-1] and "teacher" not in runs[-1]   # a teacher run: TrainConfig's defaults
