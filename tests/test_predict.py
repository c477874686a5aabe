"""predict and val end to end through the CLI, on a checkpoint saved by the tests."""
import json

import cv2
import pytest

from core.cli import main
from core.data.synth import make_image, write_dataset
from core.model import build_model
from core.model.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    d = tmp_path_factory.mktemp("w")
    m = build_model("sdgasnet-n", num_classes=6)
    save_checkpoint(d / "m.pt", m.state_dict(), {"names": ["crazing", "inclusion", "patches", "pitted_surface",
                                                            "rolled-in_scale", "scratches"],
                                                  "imgsz": 128, "model_config": m.cfg.to_dict()})
    return d / "m.pt"


def test_predict_image_folder_video(tmp_path, weights):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for k in range(3):
        cv2.imwrite(str(folder / f"i{k}.png"), make_image(k, (90, 120))[0])
    (folder / "broken.jpg").write_bytes(b"oops")
    vid = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(vid), cv2.VideoWriter_fourcc(*"MJPG"), 5, (120, 90))
    for k in range(4):
        w.write(make_image(k, (90, 120))[0])
    w.release()
    out = tmp_path / "pred.json"
    assert main(["predict", "--weights", str(weights), "--source", str(folder), "--conf", "0.0001",
                 "--save-dir", str(tmp_path / "vis"), "--json", str(out), "--device", "cpu", "--quiet"]) == 0
    res = json.loads(out.read_text())
    assert len(res) == 4
    errs = [r for r in res if "error" in r]
    assert len(errs) == 1 and "broken.jpg" in errs[0]["image"]
    ok = [r for r in res if "error" not in r][0]
    assert ok["width"] == 120 and ok["height"] == 90
    for det in ok["detections"]:
        assert set(det) == {"class_id", "class_name", "score", "box"}
        x1, y1, x2, y2 = det["box"]
        assert 0 <= x1 <= x2 <= 120 and 0 <= y1 <= y2 <= 90
    assert len(list((tmp_path / "vis").glob("*.jpg"))) == 3
    if cv2.VideoCapture(str(vid)).isOpened():
        assert main(["predict", "--weights", str(weights), "--source", str(vid), "--json", str(out), "--device", "cpu",
                     "--quiet"]) == 0
        assert len(json.loads(out.read_text())) == 4


def test_predict_bad_inputs(tmp_path, weights):
    assert main(["predict", "--weights", str(tmp_path / "none.pt"), "--source", "x.png"]) == 1
    assert main(["predict", "--weights", str(weights), "--source", str(tmp_path / "nope")]) == 1


def test_val_json(tmp_path, weights):
    d = write_dataset(tmp_path / "ds", 2, 3, "voc", size=(64, 64))
    out = tmp_path / "val.json"
    assert main(["val", "--weights", str(weights), "--data", str(d), "--json", str(out), "--device", "cpu",
                 "--save-dir", str(tmp_path / "plots")]) == 0
    j = json.loads(out.read_text())
    assert {"map50", "map50_95", "precision", "recall", "n_images", "per_class", "convention"} <= set(j)
    assert j["n_images"] == 3 and j["convention"] == "coco-101"
    assert (tmp_path / "plots" / "PR_curve.png").exists()
