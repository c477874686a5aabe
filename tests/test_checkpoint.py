"""Checkpoints load safely: corrupt, truncated, foreign or code-carrying files give clear errors."""
import pickle

import pytest
import torch

from core.model import build_model
from core.model.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint


def meta(m):
    return {"names": ["a", "b"], "imgsz": 64, "model_config": m.cfg.to_dict()}


@pytest.fixture
def good(tmp_path):
    m = build_model("sdgasnet-n", num_classes=2)
    p = tmp_path / "good.pt"
    save_checkpoint(p, m.state_dict(), meta(m))
    return p, m


def test_roundtrip(good):
    p, m = good
    loaded, ck = load_model(p)
    assert ck["names"] == ["a", "b"] and ck["imgsz"] == 64 and len(ck["hash"]) == 64
    for k, v in m.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])


def test_truncated_and_garbage(good, tmp_path):
    p, _ = good
    data = p.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.pt").write_bytes(b"\x00\x01garbage" * 100)
    (tmp_path / "empty.pt").write_bytes(b"")
    for name, msg in (("trunc.pt", "corrupt or truncated"), ("junk.pt", "corrupt or truncated|refused"),
                      ("empty.pt", "empty"), ("missing.pt", "no such")):
        with pytest.raises(CheckpointError, match=msg) as e:
            load_checkpoint(tmp_path / name)
        assert name in str(e.value)


class Evil:
    def __reduce__(self):
        import os
        return (os.system, (f"touch {MARK}",))


MARK = None


def test_pickle_with_code_is_refused_not_run(tmp_path):
    global MARK
    MARK = tmp_path / "pwned"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": "sdgas-checkpoint", "x": Evil()}, f)
    torch.save({"model": {}, "payload": Evil()}, tmp_path / "evil2.pt")
    for name in ("evil.pt", "evil2.pt"):
        with pytest.raises(CheckpointError, match="refused|corrupt"):
            load_checkpoint(tmp_path / name)
    assert not MARK.exists()


def test_foreign_and_mismatched_checkpoints(good, tmp_path):
    torch.save({"model": {"w": torch.zeros(1)}, "epoch": 3}, tmp_path / "ultra.pt")
    with pytest.raises(CheckpointError, match="not an SD-GASNet checkpoint"):
        load_checkpoint(tmp_path / "ultra.pt")
    m6 = build_model("sdgasnet-n", num_classes=6)
    bad = meta(m6)
    bad["model_config"] = build_model("sdgasnet-n", num_classes=2).cfg.to_dict()
    save_checkpoint(tmp_path / "mismatch.pt", m6.state_dict(), {**bad, "names": list("ab")})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(tmp_path / "mismatch.pt")
    cfg = m6.cfg.to_dict()
    cfg["backbone"] = "vgg"
    save_checkpoint(tmp_path / "badcfg.pt", m6.state_dict(), {"names": list("abcdef"), "model_config": cfg})
    with pytest.raises(CheckpointError, match="bad model configuration"):
        load_model(tmp_path / "badcfg.pt")


def test_tampered_weights_fail_hash(good, tmp_path):
    p, _ = good
    ck = torch.load(p, weights_only=True)
    k = next(iter(ck["model"]))
    ck["model"][k] = ck["model"][k] + 1
    torch.save(ck, tmp_path / "tampered.pt")
    with pytest.raises(CheckpointError, match="content hash"):
        load_checkpoint(tmp_path / "tampered.pt")
