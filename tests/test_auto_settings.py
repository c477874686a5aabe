"""Settings that pick themselves from a dataset's statistics and a time budget (core.train.auto_settings)."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.train.auto_settings import RUN_OVERHEAD, DatasetStats, Speed, parse_budget, suggest

ROOT = Path(__file__).resolve().parents[1]
SPEED = Speed(320, train_s=0.1, val_s=0.03)   # seconds per image at 320 px


def stats(n=200, long_side=400, small=0.05, n_val=50):
    return DatasetStats(n, n_val, 2 * n, {"a": n, "b": n}, long_side, small)


def test_budgets_are_read_as_people_write_them():
    assert parse_budget("30min") == 1800 and parse_budget("1h") == 3600 and parse_budget("overnight") == 8 * 3600
    assert parse_budget("2.5h") == 9000 and parse_budget("90 s") == 90 and parse_budget("45m") == 2700
    for bad in ("soon", "10", "-1h", "30s"):
        with pytest.raises(ValueError, match="budget"):
            parse_budget(bad)


def test_the_budget_buys_thirty_epochs_then_pixels_up_to_the_images_own_size():
    # a long budget: the images' own size (rounded up to the stride), capped at 640
    assert suggest(stats(long_side=1000, small=0.02), 8 * 3600, SPEED, True).settings["imgsz"] == 640
    assert suggest(stats(long_side=300, small=0.01), 8 * 3600, SPEED, True).settings["imgsz"] == 320
    s = suggest(stats(small=0.3), 8 * 3600, SPEED, True)               # 400-px images: 416, and says so
    assert s.settings["imgsz"] == 416 and "images' own size" in s.reasons["imgsz"]
    # a shorter budget: the largest size above the recipe's 320 that leaves 30 epochs beyond the
    # estimate's spread (38), and no larger
    s = suggest(stats(long_side=1000, small=0.05), 1800, SPEED, True)
    size, epochs = s.settings["imgsz"], s.settings["epochs"]
    assert 320 < size < 640 and epochs >= 38 and "38+ epochs" in s.reasons["imgsz"]
    assert "not 38+ at the next size up" in s.reasons["imgsz"]
    bigger = SPEED.at(size + 32)
    assert 38 * (200 * bigger.train_s * RUN_OVERHEAD) > 1800 * 0.9    # 38 epochs at the next size would not fit


def test_resolved_defects_keep_the_recipes_size_unless_a_larger_one_leaves_thirty_epochs():
    """CrackForest (94 images, cracks 13 px at 320): the rules bought 352 px on the estimate's 29
    epochs (and 32 on the next estimate), and such runs scored 0.35 mAP50 where 320 px for 30 scored
    0.42 to 0.50 on the same time."""
    cracks = DatasetStats(94, 24, 136, {"crack": 136}, 480, 13 / 320)
    for train_s in (0.17, 0.15):                                 # 29 and 33 epochs at 352 px fit 680 s
        s = suggest(cracks, 680, Speed(320, train_s=train_s, val_s=0.05), True)
        assert s.settings["imgsz"] == 320 and s.settings["epochs"] >= 30, (train_s, s.settings)
        assert "27+ epochs at it and not 38+ at the next size up" in s.reasons["imgsz"]
    pace = Speed(320, train_s=0.17, val_s=0.05)
    assert suggest(cracks, 2 * 680, pace, True).settings["imgsz"] > 320        # a longer budget buys pixels
    # tiny defects on big images: capped at 640, and the reason says tiling
    s = suggest(stats(long_side=4000, small=0.002), 8 * 3600, SPEED, True)
    assert s.settings["imgsz"] == 640 and "tiling" in s.reasons["imgsz"]


def test_defects_under_8_px_buy_pixels_before_epochs_down_to_13_and_a_shorter_budget_says_what_they_lose():
    """BSData's pits are 2.5 px at 320: 480 px for 13 epochs beat 320 px for 30 in about the same time."""
    tiny = stats(long_side=1000, small=0.01)            # 8 px needs 800: 640 at most
    long = suggest(tiny, 8 * 3600, SPEED, True)
    assert long.settings["imgsz"] == 640 and long.settings["epochs"] >= 27
    mid = suggest(tiny, 2400, SPEED, True)               # 640 leaves 13 or more but fewer than 27 epochs
    assert mid.settings["imgsz"] == 640 and 13 <= mid.settings["epochs"] < 27, mid.settings
    assert "pixels come before epochs" in mid.reasons["imgsz"] and "tiling" in mid.reasons["imgsz"]
    epochs_first = suggest(stats(long_side=1000, small=0.05), 2400, SPEED, True)   # resolved defects: 30 epochs
    assert epochs_first.settings["imgsz"] < 640 and epochs_first.settings["epochs"] >= 27
    short = suggest(tiny, 1200, SPEED, True)
    assert short.settings["imgsz"] < 640 and (short.settings["epochs"] >= 13 or short.settings["imgsz"] == 256)
    assert "640 px would give" in short.reasons["imgsz"] and "fewer than 13 epochs" in short.reasons["imgsz"]
    for s, budget in ((mid, 2400), (short, 1200), (epochs_first, 2400)):     # each budget holds
        assert s.settings["epochs"] * s.epoch_s <= budget * 1.02, (budget, s.settings)


def test_epochs_fill_the_budget_with_about_six_validations_counted():
    s = suggest(stats(n=200, small=0.3, n_val=50), 3600, SPEED, True)
    k = (s.settings["imgsz"] / 320) ** 2
    # an epoch; a validation (EMA scored twice); each with the run's loading and bookkeeping over the timed steps
    train, val = 200 * 0.1 * k * RUN_OVERHEAD, (2 * 50 + 200) * 0.03 * k * RUN_OVERHEAD
    epochs, interval = s.settings["epochs"], s.settings["val_interval"]
    assert 5 <= -(-epochs // interval) <= 8 and interval > 1, (epochs, interval)
    assert epochs * train + -(-epochs // interval) * val <= 3600 * 1.02            # the budget holds
    assert epochs * train + -(-epochs // interval) * val >= 3600 * 0.9             # and is used
    assert epochs > int(3600 // (train + val))      # more epochs than validating each one would leave
    assert abs(s.epoch_s - (train + val / interval)) < 1e-6 and "validations" in s.reasons["val_interval"]
    # a budget of a few epochs validates each
    assert suggest(stats(n=200, small=0.3, n_val=50), 120, SPEED, True).settings["val_interval"] == 1


def test_the_hand_set_recipe_except_on_a_few_dozen_images():
    """lr0 0.02, no frozen layers and the default augmentation, as the recipe that scored best on the
    held-out set; under 50 images a fine-tune freezes its first epochs and augments strongly."""
    for from_weights in (True, False):
        s = suggest(stats(n=200), 3600, SPEED, from_weights).settings
        assert s["lr0"] == 0.02 and s["freeze_epochs"] == 0 and s["mosaic"] == 1.0 and s["scale"] == 0.5
        assert s["warmup_epochs"] == 3.0 and s["warmup_min_iters"] == 100 and s["close_mosaic"] == 15
    few = suggest(stats(n=40), 3600, SPEED, True)
    assert 1 <= few.settings["freeze_epochs"] <= 10 and few.settings["scale"] == 0.7     # 'strong'
    assert suggest(stats(n=40), 3600, SPEED, False).settings["freeze_epochs"] == 0        # scratch: nothing to keep
    assert suggest(stats(n=60), 3600, SPEED, True).settings["batch"] == 16
    assert "strong" in few.reasons["scale"] and "default" in suggest(stats(n=200), 3600, SPEED, True).reasons["scale"]


def test_a_size_is_not_given_up_for_the_last_epochs_within_the_estimates_error():
    """Magnetic tile: 30 epochs at 320 px fitted the hand-set run's 672 s; an estimate a few percent
    high must not drop the run to 288 px (it scored 0.55 to 0.58 there against 0.605). With defects
    resolved at 320 (here 16 px) the budget buys epochs first; magnetic tile's own 10th percentile,
    6.4 px at 320 here, buys its images' own 416 px first."""
    mag = DatasetStats(200, 95, 179, {"a": 179}, 400, 0.05)
    for slow in (0.95, 1.0, 1.06):         # the estimate a little fast or slow
        sp = Speed(320, 0.0925 / RUN_OVERHEAD * slow, 0.049 / RUN_OVERHEAD * slow)   # the run's own pace
        s = suggest(mag, 672, sp, True).settings
        assert s["imgsz"] == 320 and 27 <= s["epochs"] <= 31, (slow, s["imgsz"], s["epochs"])
    pace = Speed(320, 0.0925 / RUN_OVERHEAD, 0.049 / RUN_OVERHEAD)
    assert suggest(mag, 540, pace, True).settings["imgsz"] == 288
    own = suggest(DatasetStats(200, 95, 179, {"a": 179}, 400, 0.02), 672, pace, True).settings
    assert own["imgsz"] == 416 and 13 <= own["epochs"] < 27, own


def test_dataset_statistics_read_the_training_split(tmp_path):
    from core.data.catalog import open_dataset
    from helpers import tiny_data

    st = DatasetStats.of(open_dataset(tiny_data(tmp_path, n=6, size=(96, 128))))
    assert st.n_train == 6 and st.median_long_side == 128 and sum(st.boxes_per_class.values()) == st.n_boxes > 0
    assert 0 < st.small_box < 1


def test_train_budget_on_the_command_line_prints_each_choice_and_keeps_what_is_given(tmp_path):
    from helpers import tiny_data

    data = tiny_data(tmp_path, n=6, size=(64, 64))
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "main.py", "train", "--data", data, "--budget", "2min", "--epochs", "3", "--imgsz", "64",
                        "--device", "cpu", "--set", "max_iters=1", "--set", "workers=0", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "epochs = 3  (given)" in r.stdout and "imgsz = 64  (given)" in r.stdout
    assert "freeze_epochs = 0  from scratch" in r.stdout and "mosaic = 1.0  'strong' augmentation" in r.stdout
    args = yaml.safe_load((out / "args.yaml").read_text())
    assert args["epochs"] == 3 and args["imgsz"] == 64 and args["batch"] == 6 and args["flipud"] == 0.5


def test_the_speed_is_timed_at_the_batch_the_run_will_use(tmp_path, monkeypatch):
    """A batch of 4 timed 10% slower per image than the runs' 16 and cost magnetic tile its 320 px."""
    from core.train import auto_settings
    from helpers import tiny_data

    timed = {}

    def fake(model, **kw):
        timed.update(kw)
        return SPEED

    monkeypatch.setattr(auto_settings, "measure_speed", fake)
    s = auto_settings.suggest_for(tiny_data(tmp_path, n=6, size=(64, 64)), "30min", from_weights=True)
    assert timed["batch"] == s.settings["batch"] == auto_settings.batch_for(6) == 6
    assert auto_settings.batch_for(94) == auto_settings.batch_for(200) == 16


def test_the_speed_is_timed_on_the_architecture_the_run_trains(tmp_path, monkeypatch):
    """A run that starts from the bundled ``fast`` trains an sdgasnet-t, whatever ``--model`` says: its
    budget is timed on that model (the -n's speed would leave the smaller model epochs short)."""
    from core.cli import build_parser
    from core.cli_train import _run_settings
    from core.train import auto_settings
    from helpers import tiny_data

    timed = []
    monkeypatch.setattr(auto_settings, "measure_speed", lambda model, **kw: timed.append(model) or SPEED)
    data = tiny_data(tmp_path, n=6, size=(64, 64))
    for extra in (["--weights", "fast"], ["--model", "sdgasnet-t"], []):
        _run_settings(build_parser().parse_args(["train", "--data", data, "--budget", "30min", "--out",
                                                 str(tmp_path / "r"), *extra]), "train")
    assert timed[0]["name"] == "sdgasnet-t" and timed[1:] == ["sdgasnet-t", "sdgasnet-n"]
    # a stored configuration is built as it is, and timed
    t = auto_settings.measure_speed(timed[0], imgsz=64, batch=2, steps=1)
    n = auto_settings.measure_speed("sdgasnet-n", imgsz=64, batch=2, steps=1)
    assert 0 < t.train_s and 0 < n.train_s
