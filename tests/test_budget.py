"""A time budget holds: the epochs are re-planned from the run's own times (core.train.budget)."""
import json
import math

import pytest

from helpers import tiny_data
from core.config import LR_REFERENCE_BATCH, TrainConfig
from core.model.checkpoint import load_checkpoint
from core.train.events import EventWriter
from core.train.budget import EpochBudget


def test_the_plan_is_the_most_epochs_whose_trainings_and_validations_fit_what_is_left():
    b = EpochBudget(100.0, val_interval=2, final_share=1.0)
    assert b.plan(1, 10.0, 300) is None                     # nothing timed: the plan stands
    b.record(10.0, 10.0, validated=False)
    b.record(14.0, 10.0, validated=True)
    # 24 s spent, 4 s kept for the final validation: epochs 3..8 cost 10 s each and 4 s a validation
    # (epochs 4, 6, 8; the last always validates): 72 s exactly
    assert b.plan(2, 24.0, 300) == 8
    assert b.plan(2, 24.0, 5) == 5                          # never above the cap
    assert b.plan(2, 99.0, 300) == 2                        # nothing fits: the run ends now
    assert b.spent(100.0) and not b.spent(99.9)


def test_every_epoch_validating_times_the_training_loop_as_the_epoch():
    b = EpochBudget(60.0, val_interval=1, final_share=0.5)
    for _ in range(3):
        b.record(9.0, 6.0, validated=True)
    assert b.times() == (6.0, 3.0)
    assert b.plan(3, 27.0, 300) == 6                        # 33 - 1.5 s left: three epochs of 9 s


class FakeClock:
    """The trainer's clock, moved by its own events: 10 s a batch, 4 s a validation (the final one too)."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def callback(self, trainer, event, data):
        self.t += {"batch": 10.0, "val": 4.0, "final_val": 4.0}.get(event, 0.0)


def _run(tmp_path, name, monkeypatch, clock, **kw):
    import core.train.trainer as trainer_module

    monkeypatch.setattr(trainer_module.Trainer, "clock", staticmethod(clock))
    data = tmp_path / "data" / "data.yaml"
    cfg = TrainConfig(data=str(data) if data.exists() else tiny_data(tmp_path, n=4, size=(64, 64)),
                      out=str(tmp_path / name), imgsz=64, batch=4, workers=0, device="cpu", precise_bn_images=0,
                      warmup_min_iters=2, val_interval=2, mosaic=1.0, close_mosaic=15, time_budget_s=100.0, **kw)
    logs = []
    result = trainer_module.train(cfg, callbacks=[clock.callback, EventWriter(),
                                                  lambda t, e, d: e == "log" and logs.append(d["message"])])
    events = [json.loads(line) for line in (tmp_path / name / "events.jsonl").read_text().splitlines()]
    return result, events, logs


def test_a_run_with_a_budget_ends_within_it_and_its_schedule_follows_the_new_plan(tmp_path, monkeypatch):
    """Planned for 20 epochs of 10 s with a validation (4 s) every second one, 100 s buy 8: after the
    first validation the run re-plans, closes mosaic for the last half of the 8 and ends its cosine
    schedule at the 8th, and the clock reads 100 s at the end (final validation included)."""
    clock = FakeClock()
    result, events, logs = _run(tmp_path, "run", monkeypatch, clock, epochs=20)
    assert result["status"] == "finished"
    plans = [e for e in events if e["event"] == "plan"]
    assert [(p["epoch"], p["was"], p["epochs"]) for p in plans] == [(2, 20, 8)]
    assert plans[0]["epoch_s"] == 10.0 and plans[0]["val_s"] == 4.0 and plans[0]["left_s"] == 76.0
    assert [e["epochs"] for e in events if e["event"] == "epoch"] == [20] + [8] * 7
    assert events[-1]["event"] == "end" and events[-1]["epoch"] == 8
    assert clock.t == pytest.approx(100.0)
    assert "mosaic closed for the last 4 epochs" in logs
    assert any("time budget: 8 epochs, not 20" in m for m in logs)
    ck = load_checkpoint(tmp_path / "run" / "weights" / "last.pt")
    assert ck["finished"] and ck["train_args"]["epochs"] == 8 and ck["spent_s"] == pytest.approx(96.0)
    cfg = TrainConfig()
    lr0 = cfg.lr0 * 4 / LR_REFERENCE_BATCH
    lf = ((1 - math.cos(math.pi * 7 / 8)) / 2) * (cfg.lrf - 1) + 1         # the 8th epoch of a cosine over 8
    assert ck["history"][-1]["lr/pg0"] == pytest.approx(lr0 * lf, rel=1e-6)


def test_time_left_buys_more_epochs_and_a_stopped_run_keeps_its_clock(tmp_path, monkeypatch):
    """Planned for 2 epochs, the same 100 s buy 8; a run stopped in its 3rd epoch and resumed an
    hour later plans the same 8: the hour it stood still is not spent (counted, it would end the
    run at once)."""
    from core.train.trainer import train

    result, events, _ = _run(tmp_path, "grow", monkeypatch, FakeClock(), epochs=2)
    assert [(p["was"], p["epochs"]) for p in events if p["event"] == "plan"] == [(2, 8)]
    assert events[-1]["epoch"] == 8
    clock = FakeClock()
    r1, _, _ = _run(tmp_path, "stopped", monkeypatch, clock, epochs=2, max_iters=3)
    assert r1["status"] == "stopped"     # after its 3rd epoch's one step, before that step's event: 24 s
    ck = load_checkpoint(tmp_path / "stopped" / "weights" / "last.pt")
    assert ck["spent_s"] == pytest.approx(24.0) and ck["train_args"]["epochs"] == 8
    clock.t += 3600.0
    r2 = train(TrainConfig(data=ck["train_args"]["data"], out=str(tmp_path / "stopped"), resume=True, device="cpu",
                           workers=0), callbacks=[clock.callback])
    assert r2["status"] == "finished"
    assert load_checkpoint(tmp_path / "stopped" / "weights" / "last.pt")["train_args"]["epochs"] == 8
    # the resumed 3rd epoch (its step already taken) is not timed; epochs 4..8 and 3 validations, the final one
    assert clock.t == pytest.approx(3624.0 + 50.0 + 12.0 + 4.0)
