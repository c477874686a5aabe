"""Export to ONNX and OpenVINO: metadata inside, parity with the checkpoint, one backend interface."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.cli import main as cli
from core.detector import Detector
from core.infer.backends import open_backend, read_metadata, runtime_of
from core.model import build_model
from core.model.checkpoint import save_checkpoint
from tests.helpers import CLASSES, tiny_data

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

SIZE = 64


def trained_like_weights(folder: Path, imgsz: int = SIZE) -> Path:
    """A checkpoint whose head is not at its zero init, so outputs vary from anchor to anchor."""
    torch.manual_seed(0)
    m = build_model("sdgasnet-n", num_classes=len(CLASSES))
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "head" in name:
                p.add_(torch.randn_like(p) * 0.2)
            if "cls_pred.bias" in name:   # some anchors score high, so there are detections to compare
                p.copy_(torch.randn_like(p) * 2)
    p = Path(folder) / "w.pt"
    save_checkpoint(p, m.state_dict(), {"names": list(CLASSES), "imgsz": imgsz, "model_config": m.cfg.to_dict(),
                                        "metrics": {"map50": 0.5}, "kind": "teacher"})
    return p


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    w = trained_like_weights(d)
    onnx_res = Detector(str(w)).export("onnx", out=str(d / "m.onnx"))
    ov_res = Detector(str(w)).export("openvino", out=str(d / "m_openvino_model"))
    return w, onnx_res, ov_res


def test_exports_carry_their_metadata(exported):
    w, onnx_res, ov_res = exported
    src = read_metadata(w)
    for res, rt in ((onnx_res, "onnxruntime"), (ov_res, "openvino")):
        assert runtime_of(res.path) == rt
        meta = read_metadata(res.path)
        assert meta["names"] == list(CLASSES) and meta["imgsz"] == SIZE
        assert meta["preprocess"] == {**src.get("preprocess", {}), **meta["preprocess"]}
        assert meta["preprocess"]["imgsz"] == SIZE and meta["preprocess"]["pad_value"] == 114
        assert meta["source_hash"] == src["hash"] and meta["precision"] == "fp32"
        assert meta["thresholds"]["conf"] > 0 and meta["version"] and meta["metrics"] == {"map50": 0.5}
        d = Detector(str(res.path))
        assert d.names == list(CLASSES) and d.imgsz == SIZE
        assert d.info()["params_fused"] > 0


def test_fp32_exports_match_the_checkpoint(exported):
    """The check the issue asks for: the same images through both, deviations under 1e-3."""
    w, onnx_res, ov_res = exported
    for res in (onnx_res, ov_res):
        p = res.parity
        assert p is not None and p.images >= 8
        assert p.max_score_dev < 1e-3 and p.max_box_dev_all_px < 1e-3, p.line()
    src = open_backend(w, "cpu", channels_last=False)
    x = torch.rand(3, 3, SIZE, SIZE)   # dynamic batch: three images at once
    ref = src(x)
    for res in (onnx_res, ov_res):
        y = open_backend(res.path, "cpu", threads=1)(x)
        assert y.shape == ref.shape
        assert (y - ref).abs().max() < 1e-3


def test_every_entry_point_runs_exported_models_alike(exported, tmp_path):
    w, onnx_res, ov_res = exported
    from core.data.synth import make_image
    import cv2

    cv2.imwrite(str(tmp_path / "x.png"), make_image(3, (48, 80), (1, 2))[0])
    ref = Detector(str(w), "cpu").predict(str(tmp_path / "x.png"), conf=0.5)
    assert ref[0]["detections"], "the test model should find something to compare"
    data = tiny_data(tmp_path, n=4, size=(64, 64), classes=range(len(CLASSES)))
    ref_val = Detector(str(w), "cpu").val(data)
    for res in (onnx_res, ov_res):
        d = Detector(str(res.path), "cpu", threads=1)
        out = d.predict(str(tmp_path / "x.png"), conf=0.5)
        a, b = ref[0]["detections"], out[0]["detections"]
        assert len(a) == len(b)
        assert np.allclose(sorted(x["score"] for x in a), sorted(x["score"] for x in b), atol=1e-3)
        ba, bb = np.array([x["box"] for x in a]), np.array([x["box"] for x in b])
        assert np.abs(ba[:, None] - bb[None]).max(-1).min(1).max() < 0.05   # every box has its twin
        v = d.val(data)
        assert abs(v["map50"] - ref_val["map50"]) < 1e-6 and abs(v["map50_95"] - ref_val["map50_95"]) < 1e-6
        sess = d.inspect("demo", max_frames=3, db=str(tmp_path / f"{res.format}.sqlite"))
        sess.start()
        sess.wait(30)
        sess.stop()
        assert sess.snapshot().summary["frames"] == 3
        assert sess.predictor.runtime == runtime_of(res.path)


def test_cli_export_and_bad_requests(tmp_path, capsys):
    w = trained_like_weights(tmp_path)
    assert cli(["export", "--weights", str(w), "--format", "onnx", "--imgsz", "96", "--out", str(tmp_path / "a.onnx"),
                "--json", str(tmp_path / "a.json")]) == 0
    out = capsys.readouterr().out
    assert "parity on" in out and "largest score deviation" in out
    rep = json.loads((tmp_path / "a.json").read_text())
    assert rep["imgsz"] == 96 and rep["parity"]["max_score_dev"] < 1e-3
    assert read_metadata(tmp_path / "a.onnx")["imgsz"] == 96
    # one-line refusals
    for argv, msg in [(["--weights", str(tmp_path / "a.onnx"), "--format", "openvino"], "already exported"),
                      (["--weights", str(w), "--format", "onnx", "--int8"], "--int8 needs --data"),
                      (["--weights", str(w), "--format", "onnx", "--int8", "--half", "--data", "x"], "exclude"),
                      (["--weights", str(tmp_path / "nope.pt"), "--format", "onnx"], "nope.pt")]:
        assert cli(["export", *argv]) == 1
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(ValueError, match="exported at 96"):
        Detector(str(tmp_path / "a.onnx")).predictor(imgsz=128)


def test_foreign_and_damaged_exports_are_named(exported, tmp_path):
    import onnx

    m = onnx.load(str(exported[1].path))
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "foreign.onnx"))
    with pytest.raises(ValueError, match="foreign.onnx: exported without SD-GASNet metadata"):
        Detector(str(tmp_path / "foreign.onnx"))
    (tmp_path / "junk.onnx").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match="junk.onnx: not a readable ONNX model"):
        Detector(str(tmp_path / "junk.onnx"))
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(ValueError, match="not an exported OpenVINO model"):
        Detector(str(tmp_path / "empty_folder"))


@pytest.mark.parametrize("fmt", ["openvino", "onnx"])
def test_int8_export_runs_and_says_so(tmp_path, fmt):
    pytest.importorskip("nncf")
    w = trained_like_weights(tmp_path)
    data = tiny_data(tmp_path, n=6, size=(64, 64), classes=range(len(CLASSES)))
    res = Detector(str(w)).export(fmt, int8=True, data=data, out=str(tmp_path / ("q" if fmt == "openvino" else "q.onnx")))
    meta = read_metadata(res.path)
    assert meta["precision"] == "int8"
    assert set(res.accuracy) == {"fp32", "int8"}
    if fmt == "openvino":   # quantized, not a relabelled fp32 copy
        xml = (res.path / "model.xml").read_text()
        assert "FakeQuantize" in xml or "FakeConvert" in xml
    else:
        import onnx

        ops = {n.op_type for n in onnx.load(str(res.path)).graph.node}
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops, ops
    det = Detector(str(res.path), "cpu").predict("demo", max_frames=1)
    assert det and "detections" in det[0]


def test_gpu_throughput_script_runs_its_rows_on_the_cpu(tmp_path):
    """benchmarks/gpu_throughput.py waits for a GPU session; this keeps it from rotting until then."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    w = trained_like_weights(tmp_path)
    out = tmp_path / "gpu.json"
    subprocess.run([sys.executable, str(root / "benchmarks" / "gpu_throughput.py"), "--weights", str(w), "--device", "cpu",
                    "--sizes", "64", "--batches", "1", "2", "--runs", "1", "--warmup", "0", "--no-compile",
                    "--json", str(out)], check=True, capture_output=True, cwd=root, timeout=300)
    got = json.loads(out.read_text())
    configs = {(r["config"], r["batch"]) for r in got["rows"]}
    assert {("PyTorch eager fp32", 1), ("PyTorch eager fp32", 2), ("PyTorch eager fp32 channels-last", 2)} <= configs
    assert any(c.startswith("frame end to end") for c, _ in configs)
    assert all(r["images_per_s"] > 0 for r in got["rows"])
    assert any("no GPU provider" in n for n in got["notes"])  # the CPU build's ORT says why it has no GPU row
