"""Distilling from several teachers at once (``ensemble_teachers``)."""
import os
from pathlib import Path

import pytest
import torch

from helpers import tiny_data
from core.config import TrainConfig
from core.model import build_model
from core.model.checkpoint import load_checkpoint
from core.train.ensemble import TeacherEnsemble
from core.train.losses import kd_cls_loss, kd_dfl_loss

ROOT = Path(__file__).resolve().parents[1]


def _models(n=2, nc=3):
    out = []
    for seed in range(n):
        torch.manual_seed(seed)
        out.append(build_model("sdgasnet-n", num_classes=nc).eval())
    return out


def test_the_ensemble_averages_probabilities_and_keeps_the_first_teachers_features():
    a, b = _models()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        oa, ob, oe = a(x, raw=True), b(x, raw=True), TeacherEnsemble([a, b])(x, raw=True)
    mean_p = (oa["cls"].sigmoid() + ob["cls"].sigmoid()) / 2
    assert torch.allclose(oe["cls"].sigmoid(), mean_p, atol=1e-5)
    mean_q = (oa["dfl"].softmax(-1) + ob["dfl"].softmax(-1)) / 2
    assert torch.allclose(oe["dfl"].softmax(-1), mean_q, atol=1e-5)
    assert torch.allclose(oe["box"], (oa["box"] + ob["box"]) / 2, atol=1e-5)
    assert all(torch.equal(f, g) for f, g in zip(oe["feats"], oa["feats"]))
    # against itself the ensemble is that teacher: the distillation terms read it unchanged
    with torch.no_grad():
        same = TeacherEnsemble([a, a])(x, raw=True)
    fg = torch.ones(oa["cls"].shape[:2], dtype=torch.bool)
    assert kd_cls_loss(same["cls"], oa["cls"], 4, "forward", "sum").abs() < 1e-3
    assert kd_dfl_loss(same["dfl"], oa["dfl"], fg, 4, "forward").abs() < 1e-5


def test_an_ensemble_needs_two_teachers_and_a_student_run():
    with pytest.raises(ValueError, match="two teachers"):
        TeacherEnsemble(_models(1))
    with pytest.raises(ValueError, match="needs a teacher"):
        TrainConfig(ensemble_teachers=["a.pt"]).validate()
    cfg = TrainConfig(teacher="t.pt", ensemble_teachers="a.pt, b.pt").validate()   # the dialog's text form
    assert cfg.ensemble_teachers == ["a.pt", "b.pt"]
    with pytest.raises(ValueError, match="list of weights files"):
        TrainConfig(teacher="t.pt", ensemble_teachers=[1, 2]).validate()


def test_cli_distills_from_an_ensemble_and_records_it(tmp_path, monkeypatch, capsys):
    """``distill --set ensemble_teachers=…``: the run trains against the average, records the
    files relative to here, and refuses a teacher of other classes, naming it."""
    from core.cli import main as cli
    from core.model.checkpoint import save_checkpoint

    monkeypatch.chdir(ROOT)
    data = tiny_data(tmp_path, n=4, classes=range(6))
    run = ["--data", data, "--epochs", "1", "--imgsz", "64", "--batch", "4", "--workers", "0", "--device", "cpu",
           "--set", "max_iters=1", "--set", "precise_bn_images=0"]
    assert cli(["distill", "--teacher", "default", "--set", "ensemble_teachers=[default]", *run,
                "--out", str(tmp_path / "s")]) == 0
    ck = load_checkpoint(tmp_path / "s" / "weights" / "last.pt")
    assert ck["kind"] == "student"
    assert ck["train_args"]["ensemble_teachers"] == [os.path.join("resources", "models", "default.pt")]
    assert "averaged with resources/models/default.pt" in capsys.readouterr().out

    other = build_model("sdgasnet-n", num_classes=2)
    bad = tmp_path / "two_classes.pt"
    save_checkpoint(bad, other.state_dict(), {"names": ["a", "b"], "imgsz": 64, "model_config": other.cfg.to_dict()})
    assert cli(["distill", "--teacher", "default", "--set", f"ensemble_teachers=[{bad}]", *run,
                "--out", str(tmp_path / "s2")]) != 0
    assert "two_classes.pt: ensemble teacher classes ['a', 'b'] differ" in capsys.readouterr().err
