"""Runs as child processes, run-folder states, the model registry and training presets (no Qt)."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import tiny_weights
from core.train import runs as R
from core.train.presets import PresetStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _events(run: Path, *recs):
    run.mkdir(parents=True, exist_ok=True)
    with open(run / R.EVENTS_FILE, "a") as f:
        for r in recs:
            f.write(json.dumps({"time": time.time(), **r}) + "\n")


def test_command_line_of_teacher_and_student_runs(tmp_path):
    """A new run is launched from one settings file, RUN/args.yaml (``--cfg``); a resumed one from its checkpoint."""
    import yaml

    s = {"data": "d.yaml", "epochs": 5, "imgsz": 64, "model": "sdgasnet-n", "mosaic": 0.0, "kd_direction": "reverse",
         "model_overrides": {"backbone": "mlvt"}, "ensemble_teachers": None}
    run = tmp_path / "r"
    cmd = R.command("teacher", s, run)
    assert cmd[1:] == [str(R.MAIN), "train", "--cfg", str(run / R.ARGS_FILE), "--out", str(run),
                       "--events", str(run / R.EVENTS_FILE)]
    assert yaml.safe_load((run / R.ARGS_FILE).read_text()) == {k: v for k, v in s.items() if v is not None}
    st = R.command("student", {"data": "d.yaml", "teacher": "t.pt", "weights": "w.pt", "model": "sdgasnet-s"},
                   tmp_path / "s")
    assert st[2] == "distill" and yaml.safe_load((tmp_path / "s" / R.ARGS_FILE).read_text()) == \
        {"data": "d.yaml", "teacher": "t.pt", "weights": "w.pt"}          # a student is its teacher's architecture
    with pytest.raises(ValueError, match="teacher"):
        R.command("student", {"data": "d.yaml"}, tmp_path / "s2")
    with pytest.raises(ValueError, match="dataset"):
        R.command("teacher", {}, tmp_path / "s3")
    assert R.command("teacher", {"data": "d.yaml"}, tmp_path / "r", resume=True)[-1] == "--resume"


def test_a_run_starts_from_its_settings_file_and_the_options_given_override_it(tmp_path, monkeypatch, capsys):
    """The child's own command line, run here: the file's settings reach the trainer, an option on the
    command line wins over the file, and a file with a bad setting is refused by name."""
    from core.cli import main
    from core.detector import Detector
    from helpers import tiny_data

    data = tiny_data(tmp_path, n=2, size=(64, 64), val_is_train=False)
    runs: list = []
    monkeypatch.setattr(Detector, "train", lambda self, data, callbacks=None, **cfg: runs.append(
        (self.model_name, data, cfg)) or {"status": "finished"})
    run = tmp_path / "run"
    cmd = R.command("teacher", {"data": data, "model": "sdgasnet-s", "epochs": 4, "imgsz": 64, "mosaic": 0.0,
                                "model_overrides": {"backbone": "mlvt"}}, run)
    assert main(cmd[2:]) == 0
    model, got, cfg = runs[-1]
    assert (model, got, cfg["epochs"], cfg["imgsz"], cfg["mosaic"], cfg["model_overrides"], cfg["out"]) == \
        ("sdgasnet-s", data, 4, 64, 0.0, {"backbone": "mlvt"}, str(run))
    assert main([*cmd[2:], "--epochs", "2", "--model", "sdgasnet-n", "--set", "mosaic=0.5"]) == 0
    model, _, cfg = runs[-1]
    assert (model, cfg["epochs"], cfg["imgsz"], cfg["mosaic"]) == ("sdgasnet-n", 2, 64, 0.5)
    args = run / R.ARGS_FILE
    for bad, says in (("mosiac: 0.0\n", "did you mean 'mosaic'"), ("imgsz: 100000\n", "image size")):
        args.write_text(f"data: {data}\n{bad}")
        n = len(runs)
        assert main(cmd[2:]) == 1 and len(runs) == n
        err = capsys.readouterr().err
        assert str(args) in err and says in err, err
    args.write_text("epochs: 3\n")
    assert main(cmd[2:]) == 1 and "needs --data" in capsys.readouterr().err


def test_run_states_read_from_the_folder(tmp_path):
    start = {"event": "start", "epoch": 0, "epochs": 4, "distill": False}
    fin = tmp_path / "finished"
    (fin).mkdir()
    (fin / "args.yaml").write_text("data: d.yaml\nmodel: sdgasnet-n\nepochs: 4\nteacher: null\n")
    (fin / "weights").mkdir()
    (fin / "weights" / "best.pt").write_bytes(b"x")
    _events(fin, start, {"event": "epoch", "epoch": 1, "cls": 1.0}, {"event": "val", "epoch": 1, "map50": 0.4,
                                                                     "map50_95": 0.2},
            {"event": "checkpoint", "epoch": 1, "best": True, "map50": 0.4, "map50_95": 0.2},
            {"event": "end", "epoch": 4, "status": "finished", "map50": 0.4, "map50_95": 0.2})
    i = R.run_info(fin)
    assert (i.status, i.kind, i.dataset, i.epoch, i.epochs, i.best_map50) == ("finished", "teacher", "d.yaml", 1, 4, 0.4)

    planned = tmp_path / "elsewhere" / "planned"     # a time budget re-planned 4 epochs to 3: the table says 3
    _events(planned, start, {"event": "epoch", "epoch": 1}, {"event": "plan", "epoch": 1, "epochs": 3, "was": 4})
    assert R.run_info(planned).epochs == 3
    shutil.rmtree(planned.parent)        # the listing below is of the other runs

    stopped = tmp_path / "stopped"
    _events(stopped, start, {"event": "end", "epoch": 2, "status": "stopped"})
    assert R.run_info(stopped).status == "stopped"

    err = tmp_path / "error"
    _events(err, start, {"event": "error", "epoch": 0, "message": "loss became nan at epoch 1"})
    i = R.run_info(err)
    assert i.status == "failed" and "nan" in i.reason

    dead = tmp_path / "dead"   # the process vanished without a word: its exit code and last output say why
    _events(dead, start)
    (dead / R.PROCESS_FILE).write_text(json.dumps({"pid": 2 ** 22 + 12345, "kind": "student", "exit_code": -9}))
    (dead / R.OUTPUT_FILE).write_text("epoch 1/4 ...\n")
    i = R.run_info(dead)
    assert i.status == "failed" and "SIGKILL" in i.reason and i.kind == "student"

    resumed = tmp_path / "resumed"   # stopped, then resumed: the last start decides
    _events(resumed, start, {"event": "end", "epoch": 2, "status": "stopped"}, {**start, "pid": 2 ** 22 + 12345})
    assert R.run_info(resumed).status == "failed"   # the process the last start names is gone

    older = tmp_path / "older"   # written before runs named their process: judged by its last write
    _events(older, start)
    assert R.run_info(older).status == "running"
    os.utime(older / R.EVENTS_FILE, (time.time() - 2 * R.QUIET_S,) * 2)
    assert R.run_info(older).status == "failed"

    found = R.scan_runs(tmp_path)
    assert {r.name for r in found} == {"finished", "stopped", "error", "dead", "resumed", "older"}
    assert R.newest_teacher(found, "d.yaml").name == "finished" and R.newest_teacher(found, "other") is None


def test_history_accumulates_curves_progress_and_eta():
    h = R.RunHistory([{"event": "start", "epochs": 4, "n_val": 10, "val_images": 30, "time": 0.0}])
    h.feed({"event": "progress", "epoch": 0, "epochs": 4, "done": 5, "batches": 10, "images_per_s": 3.0, "time": 10.0})
    h.feed({"event": "progress", "epoch": 0, "epochs": 4, "done": 10, "batches": 10, "time": 20.0})
    # 30 batches left at 2 s, and 4 validations of 30 images at the training pace (3 images/s)
    assert h.eta_s() == pytest.approx(30 * 2 + 4 * 10.0)
    h.feed({"event": "val", "epoch": 1, "map50": 0.5, "map50_95": 0.25, "time": 45.0})
    h.feed({"event": "epoch", "epoch": 1, "cls": 1.0, "iou": 2.0, "dfl": 3.0, "kd_cls": 4.0, "kd_lambda": 0.9,
            "time": 45.0})
    assert h.epochs == [1] and h.terms["kd_cls"] == [4.0] and h.kd_lambda == [0.9] and h.map50 == [0.5]
    # the first validation took 25 s: the 3 left are counted at that, with the batches at their pace
    h.feed({"event": "progress", "epoch": 1, "epochs": 4, "done": 2, "batches": 10, "time": 49.0})
    h.feed({"event": "progress", "epoch": 1, "epochs": 4, "done": 6, "batches": 10, "time": 57.0})
    assert h.eta_s() == pytest.approx((3 * 10 - 6) * 2 + 3 * 25.0)
    h.feed({"event": "progress", "epoch": 1, "epochs": 4, "done": 10, "batches": 10, "time": 65.0})
    h.feed({"event": "log", "time": 75.0})           # validating for 10 s now
    assert h.eta_s() == pytest.approx(2 * 10 * 2 + 3 * 25.0 - 10)
    h.feed({"event": "plan", "epoch": 2, "epochs": 3, "was": 4, "time": 80.0})   # a time budget's re-plan
    assert h.total_epochs == 3 and h.eta_s() == pytest.approx(1 * 10 * 2 + 2 * 25.0 - 15)


def test_eta_replay_of_a_real_run_counts_validation(tmp_path):
    """A real run's events (a CPU run on 200 + 95 images): the ETA is scored against when it really ended."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    events = root / "docs" / "data" / "eta-events-magtile-2026-12-06.jsonl"
    out = tmp_path / "eta.json"
    r = subprocess.run([sys.executable, str(root / "benchmarks" / "eta_replay.py"), str(events), "--json", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())[0]
    assert 0.8 <= res["median_real_over_eta"] <= 1.25, res       # the old estimate: 1.57 (optimistic)
    assert res["median_real_over_old_eta"] > 1.4


@pytest.mark.slow
def test_a_launched_run_is_followed_stopped_resumed_and_a_killed_one_fails(tmp_path):
    from helpers import tiny_data

    data = tiny_data(tmp_path, n=16, size=(64, 64))
    s = {"data": data, "epochs": 30, "imgsz": 64, "batch": 2, "device": "cpu", "workers": 0, "mosaic": 0.0,
         "precise_bn_images": 4}
    run = tmp_path / "run"
    p = R.launch("teacher", s, run)
    assert R.run_info(run).status in ("starting", "running")
    deadline = time.time() + 120
    while time.time() < deadline and R.run_info(run).epoch < 1:
        time.sleep(0.2)
    assert R.stop(run)
    assert p.wait(120) == 0
    R.record_exit(run, p.returncode)
    i = R.run_info(run)
    assert i.status == "stopped" and i.resumable
    with pytest.raises(FileExistsError):
        R.launch("teacher", s, run)
    p = R.launch("teacher", s, run, resume=True)
    time.sleep(0.5)
    os.kill(p.pid, 9)   # killed before it wrote a word: the launch after the "stopped" record decides
    p.wait(30)
    R.record_exit(run, p.returncode)
    i = R.run_info(run)
    assert i.status == "failed" and "SIGKILL" in i.reason, i


def test_registry_register_list_resolve_and_cli(tmp_path, home):
    from core.detector import Detector, model_names, resolve_weights
    from core.registry import ModelRegistry

    w = tiny_weights(tmp_path)
    reg = ModelRegistry()
    card = reg.register(w, "line-7")
    assert card.hash and card.classes and card.imgsz == 128 and card.kind == "teacher"
    assert json.loads((home / "models" / "line-7" / "card.json").read_text())["name"] == "line-7"
    assert resolve_weights("line-7") == reg.path("line-7") and "line-7" in model_names()
    assert Detector("line-7").names == card.classes
    with pytest.raises(FileExistsError):
        reg.register(w, "line-7")
    for bad in ("default", "../x", ""):
        with pytest.raises(ValueError):
            reg.register(w, bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt"):
        reg.register(junk, "junk")
    env = {**os.environ, "SDGAS_HOME": str(home)}
    cli = [sys.executable, str(ROOT / "main.py"), "models"]
    r = subprocess.run(cli + ["register", str(w), "--name", "cli-model"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "--weights cli-model" in r.stdout, r.stderr
    r = subprocess.run(cli + ["list", "--json"], capture_output=True, text=True, env=env)
    rows = {m["name"]: m for m in json.loads(r.stdout)}
    assert {"line-7", "cli-model"} <= set(rows) and rows["cli-model"]["hash"] == card.hash
    r = subprocess.run(cli + ["list", "--json", str(tmp_path / "models.json")], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "cli-model" in r.stdout
    assert {m["name"] for m in json.loads((tmp_path / "models.json").read_text())} == set(rows)
    r = subprocess.run(cli + ["register", str(junk), "--name", "j"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "junk.pt" in r.stderr and "Traceback" not in r.stderr


def test_presets_save_load_and_refuse_bad_settings(home):
    store = PresetStore()
    store.save("fast", {"epochs": 5, "imgsz": 64, "data": "ignored", "mosaic": 0.0})
    assert store.names() == ["fast"] and store.load("fast") == {"epochs": 5, "imgsz": 64, "mosaic": 0.0}
    with pytest.raises(ValueError, match="lr0"):
        store.save("bad", {"lr0": -1.0})
    (home / "train_presets" / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        store.load("broken")


def test_long_run_points_are_committable_and_an_ignored_folder_is_refused(tmp_path):
    """A long run's point lives only as long as the machine unless git commits it: the points
    folders the scripts name (``benchmarks/long_runs`` and its ``e30/``) are not ignored, and a
    sitting aimed at an ignored folder stops before it trains (an e30 point was lost so)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from long_run import POINTS, ignored_points, run_stages

    names = ["base", "base-no-bsdata", "teacher"]
    assert ignored_points(POINTS, names) == []
    assert ignored_points(POINTS / "e30", names) == []
    assert ignored_points(ROOT / "runs", ["base"]) == ["runs/base.pt", "runs/base.json"]
    with pytest.raises(SystemExit, match="ignored by .gitignore"):
        run_stages({"base": ["train"]}, ["base"], tmp_path / "scratch", ROOT / "runs", time.time() + 60)
    assert not (tmp_path / "scratch").exists()
