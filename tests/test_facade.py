"""The facade, the one preprocessing spec, the one configuration and the events file."""
import json
from pathlib import Path
import threading
import time

import cv2
import numpy as np
import pytest
import torch

from core import Detector
from core.config import LossConfig, TrainConfig
from core.data.formats import load_dataset
from core.data.preprocess import Preprocess
from core.data.synth import make_image
from core.data.validate import validate
from core.eval.validator import run_validation
from core.infer.predictor import Predictor
from core.model import build_model
from core.model.checkpoint import load_model, save_checkpoint
from core.train.events import EventWriter, follow, read_events
from core.train.losses import DetectionLoss
from helpers import tiny_weights


def one_class_weights(folder, imgsz=128):
    torch.manual_seed(0)
    m = build_model("sdgasnet-n", num_classes=1)
    p = folder / "one.pt"
    save_checkpoint(p, m.state_dict(), {"names": ["defect"], "imgsz": imgsz, "model_config": m.cfg.to_dict(),
                                        "preprocess": Preprocess(imgsz).to_dict()})
    return p


def test_val_and_predict_see_the_same_image_and_give_the_same_boxes(tmp_path):
    """One non-square image through the validator and the predictor: identical model input,
    identical boxes in original pixels (one class, so val's multi-label NMS changes nothing)."""
    img = make_image(4, (150, 200))[0]
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), img)
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [defect]\n")
    w = one_class_weights(tmp_path)
    spec = load_dataset(tmp_path / "data.yaml")
    samples, _ = validate(spec, "val")
    model, ck = load_model(w)
    model = model.fuse()
    pre = Preprocess.from_checkpoint(ck)
    seen = []
    model.register_forward_pre_hook(lambda m, a: seen.append(a[0].clone()))
    _, results = run_validation(model, samples, spec.names, pre.imgsz, batch=1, conf=0.001, preprocess=pre)
    pred = Predictor(str(w), "cpu", conf=0.001, channels_last=False)
    pred.model.register_forward_pre_hook(lambda m, a: seen.append(a[0].clone()))
    det = pred(img)
    assert torch.equal(seen[0], seen[1])
    val_dets = results[0].dets
    assert len(det) == len(val_dets) > 0
    np.testing.assert_array_equal(det.boxes, val_dets[:, :4].astype(np.float32))
    np.testing.assert_array_equal(det.scores, val_dets[:, 4].astype(np.float32))


def test_checkpoints_carry_their_preprocessing(tmp_path):
    ck = {"imgsz": 320, "preprocess": Preprocess(320, pad_value=0).to_dict()}
    assert Preprocess.from_checkpoint(ck) == Preprocess(320, pad_value=0)
    # older checkpoints: a description without the size, or none at all
    assert Preprocess.from_checkpoint({"imgsz": 256, "preprocess": {"letterbox": True}}) == Preprocess(256)
    assert Preprocess.from_checkpoint({"imgsz": 256}, imgsz=320).imgsz == 320
    with pytest.raises(ValueError, match="multiple of 32"):
        Preprocess(100)


def test_one_configuration():
    # the bare loss is the loss training uses
    assert DetectionLoss(3).cfg == TrainConfig().loss_config() == LossConfig()
    # every numeric setting is range-checked: no ZeroDivisionError half-way through a run
    for k, v in (("val_interval", 0), ("epochs", 0), ("lrf", 0.0), ("ema_decay", 1.0), ("mosaic", 1.5),
                 ("kd_temperature", 0), ("lr0", float("nan")), ("workers", -1)):
        with pytest.raises(ValueError, match=k):
            TrainConfig(**{k: v}).validate()
    with pytest.raises(ValueError, match="did you mean 'epochs'"):
        TrainConfig.from_dict({"epoch": 3})
    # runs saved before a setting existed resume as they trained
    old = TrainConfig.from_saved({"amp": True})
    assert (old.loss_cls, old.kd_temperature, old.cpu_bf16, old.channels_last) == (1.0, 20.0, True, False)


def test_detector_facade(tmp_path):
    w = tiny_weights(tmp_path)
    d = Detector(str(w), "cpu")
    assert d.names and d.imgsz == 128 and d.metadata["model_config"]["name"] == "sdgasnet-n"
    info = d.info()
    assert info["params"] > info["params_fused"] > 0 and info["num_classes"] == len(d.names)
    cv2.imwrite(str(tmp_path / "x.png"), make_image(0, (96, 128))[0])
    out = d.predict(str(tmp_path / "x.png"), conf=0.0001)
    assert len(out) == 1 and out[0]["width"] == 128 and out[0]["height"] == 96
    res = d.export("onnx", out=str(tmp_path / "t.onnx"), imgsz=64)
    assert res.path.is_file() and Detector(str(res.path)).names == d.names
    with pytest.raises(ValueError, match="untrained"):
        Detector("sdgasnet-n").predict("demo")
    with pytest.raises((ValueError, FileNotFoundError), match="nope.pt"):
        Detector(str(tmp_path / "nope.pt"))


def test_events_file_is_followed_while_it_grows(tmp_path):
    path = tmp_path / "ev" / "events.jsonl"

    class T:  # what EventWriter reads of a trainer
        class cfg:
            events = str(path)

    got = []
    reader = threading.Thread(target=lambda: got.extend(follow(path, poll_s=0.02)), daemon=True)
    reader.start()  # before the file exists
    w = EventWriter()
    w(T, "start", {"epoch": 0, "epochs": 2})
    w(T, "log", {"message": "not an event of the file"})
    with open(path, "a") as f:  # a half-written line is held back until it is complete
        f.write('{"event": "epoch", "epo')
        f.flush()
        time.sleep(0.1)
        f.write('ch": 1}\n')
    w(T, "end", {"epoch": 2, "status": "finished"})
    reader.join(5)
    assert [e["event"] for e in got] == ["start", "epoch", "end"]
    assert got[1]["epoch"] == 1
    assert [e["event"] for e in read_events(path)] == ["start", "epoch", "end"]
    json.loads(path.read_text().splitlines()[0])


def test_demo_line_as_a_dataset(tmp_path):
    from core.data.catalog import demo_dataset, open_dataset, parse_demo
    from core.inspect.sources import DemoSource

    assert parse_demo("demo") == (200, 0) and parse_demo("demo:12:3") == (12, 3) and parse_demo("data.yaml") is None
    for bad in ("demo:x", "demo:0", "demo:1:2:3"):
        with pytest.raises(ValueError, match="demo"):
            parse_demo(bad)
    y = demo_dataset(6, 0, root=tmp_path)
    assert demo_dataset(6, 0, root=tmp_path) == y  # written once, then reused
    spec = open_dataset(str(y))
    val, report = validate(spec, "val")
    train, _ = validate(spec, "train")
    assert len(val) == len(train) == 6 and not report.problems
    # the val split is what the demo source plays, labels where the line drew its defects
    src = DemoSource(seed=0, fps=0)
    for k, s in enumerate(sorted(val, key=lambda s: s.image.name)):
        img, boxes, classes = src.frame_image(k)
        assert np.array_equal(cv2.imread(str(s.image)), img)
        np.testing.assert_allclose(s.boxes, boxes, atol=0.01)
        assert s.classes.tolist() == classes.tolist()
    assert not {s.image.name for s in val} & {s.image.name for s in train}
    # --source demo:N:SEED plays exactly the N val frames of --data demo:N:SEED, then ends
    from core.inspect.sources import open_source

    src = open_source("demo:6:0", demo_fps=0)
    src.open()
    played = [f.image for f in iter(src.read, None)]
    assert len(played) == 6
    for img, s in zip(played, sorted(val, key=lambda s: s.image.name)):
        assert np.array_equal(cv2.imread(str(s.image)), img)


def test_bundled_models_by_name(monkeypatch, tmp_path):
    import core.detector as det

    monkeypatch.setattr(det, "MODELS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="bundled 'default'"):
        det.resolve_weights("default")
    (tmp_path / "demo.pt").write_bytes(b"x")
    assert det.resolve_weights("default", source="demo") == tmp_path / "demo.pt"
    with pytest.raises(FileNotFoundError, match="default.pt"):
        det.resolve_weights("default", source="images/")
    (tmp_path / "default.pt").write_bytes(b"x")
    assert det.resolve_weights("default", source="images/") == tmp_path / "default.pt"
    assert det.resolve_weights("runs/x.pt") == Path("runs/x.pt")


def test_every_bundled_model_is_complete_and_describes_itself():
    """The shipped files load (weights_only, hash checked), build, and carry their provenance."""
    import core.detector as det
    from core.model.checkpoint import load_checkpoint, model_from_checkpoint

    found = {}
    for name, f in det.BUNDLED.items():
        p = det.MODELS_DIR / f
        assert p.is_file() and p.stat().st_size < 25 * 2**20, p
        ck = load_checkpoint(p)
        b = ck["bundle"]
        assert b["name"] == name and b["command"] and b["data"] and 0 < b["val"]["map50"] <= 1
        assert ck["imgsz"] % 32 == 0
        found[name] = sum(t.numel() for t in model_from_checkpoint(ck, p).parameters())
        if name in det.TRAINING_STARTS:   # a start for training: every set's classes, not offered to a station
            assert len(ck["names"]) == 14 and all(":" in n for n in ck["names"]) and name not in det.model_names()
        else:
            assert len(ck["names"]) == 6 and name in det.model_names()
    assert found["fast"] < 0.6 * found["default"] and found["base-fast"] < 0.6 * found["base"]  # the smaller variant


def test_a_detector_of_weights_fine_tunes_them_as_ultralytics_users_expect(tmp_path):
    """``Detector("best.pt").train(...)`` starts from those weights; a Detector of an architecture
    name trains from scratch; ``weights=`` says otherwise."""
    from helpers import tiny_data, tiny_weights
    import yaml

    data = tiny_data(tmp_path, n=4, size=(64, 64))
    w = tiny_weights(tmp_path, imgsz=64)
    common = dict(epochs=1, imgsz=64, batch=2, device="cpu", workers=0, max_iters=1, precise_bn_images=0)
    Detector(str(w)).train(data, out=str(tmp_path / "ft"), callbacks=[], **common)
    assert yaml.safe_load((tmp_path / "ft" / "args.yaml").read_text())["weights"] == str(w)
    Detector("sdgasnet-n").train(data, out=str(tmp_path / "scratch"), callbacks=[], **common)
    assert yaml.safe_load((tmp_path / "scratch" / "args.yaml").read_text())["weights"] is None
