"""Image loading, the shared letterbox, dataset formats and the validation report."""
import json
import struct

import cv2
import numpy as np
import pytest

from core.data.dataset import DetectionDataset, collate
from core.data.formats import load_dataset
from core.data.imageio import ImageError, read_image
from core.data.preprocess import letterbox, scale_boxes
from core.data.synth import write_dataset
from core.data.validate import validate


def _exif_jpeg(img, orientation):
    """A JPEG whose EXIF says how to rotate it."""
    ok, buf = cv2.imencode(".jpg", img)
    data = buf.tobytes()
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, orientation) + struct.pack("<I", 0)
    app1 = b"Exif\x00\x00" + tiff
    seg = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    return data[:2] + seg + data[2:]


def test_read_image_kinds(tmp_path):
    gray = (np.arange(40 * 60) % 256).astype(np.uint8).reshape(40, 60)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    cv2.imwrite(str(tmp_path / "g16.png"), gray.astype(np.uint16) * 257)
    rgba = np.dstack([np.full((40, 60, 3), 200, np.uint8), np.full((40, 60), 255, np.uint8)])
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    (tmp_path / "zero.jpg").write_bytes(b"")
    (tmp_path / "bad.jpg").write_bytes(b"not an image at all")
    (tmp_path / "ünïcode.png").write_bytes((tmp_path / "g.png").read_bytes())
    for name in ("g.png", "g16.png", "a.png", "ünïcode.png"):
        im = read_image(tmp_path / name)
        assert im.shape == (40, 60, 3) and im.dtype == np.uint8, name
    assert np.array_equal(read_image(tmp_path / "g16.png")[:, :, 0], gray)
    assert read_image(tmp_path / "a.png")[0, 0, 0] == 200
    for name, why in (("zero.jpg", "empty"), ("bad.jpg", "not a decodable"), ("missing.png", "not found")):
        with pytest.raises(ImageError, match=why) as e:
            read_image(tmp_path / name)
        assert name in str(e.value)


def test_exif_rotation_applied(tmp_path):
    img = np.zeros((30, 80, 3), np.uint8)
    img[:, :10] = 255  # bright band on the left
    (tmp_path / "r.jpg").write_bytes(_exif_jpeg(img, 6))  # 6: rotate 90 degrees clockwise
    out = read_image(tmp_path / "r.jpg")
    assert out.shape[:2] == (80, 30)
    assert out[:10].mean() > 200  # the band is now at the top


def test_letterbox_roundtrip():
    img = np.zeros((200, 400, 3), np.uint8)
    lb, info = letterbox(img, 320)
    assert lb.shape == (320, 320, 3)
    assert info.ratio == pytest.approx(0.8) and info.pad_y == 80 and info.pad_x == 0
    boxes = np.array([[10, 20, 110, 120.]])
    fwd = boxes * info.ratio + [info.pad_x, info.pad_y, info.pad_x, info.pad_y]
    assert np.allclose(scale_boxes(fwd, info), boxes, atol=1e-4)
    lb, _ = letterbox(img, (256, 320))
    assert lb.shape == (256, 320, 3)


@pytest.mark.parametrize("fmt", ["yolo", "voc", "coco"])
def test_formats_roundtrip(tmp_path, fmt):
    d = write_dataset(tmp_path / fmt, 6, 3, fmt, size=(96, 128), n_defects=(0, 2), seed=3)
    spec = load_dataset(d)
    assert spec.format == fmt and len(spec.names) == 6
    tr, rep = validate(spec, "train")
    assert rep.ok and len(tr) == 6
    ref = write_dataset(tmp_path / "ref", 6, 3, "yolo", size=(96, 128), n_defects=(0, 2), seed=3)
    ref_tr, _ = validate(load_dataset(ref), "train")
    for a, b in zip(sorted(tr, key=lambda s: s.image.stem), sorted(ref_tr, key=lambda s: s.image.stem)):
        assert np.array_equal(a.classes, b.classes)
        assert np.allclose(a.boxes, b.boxes, atol=0.2)


def test_validation_lists_every_problem(tmp_path):
    d = write_dataset(tmp_path / "ds", 6, 2, "yolo", size=(64, 64), n_defects=(1, 1), classes=[2, 5])
    root = tmp_path / "ds"
    imgs = sorted((root / "images" / "train").glob("*.png"))
    lab = root / "labels" / "train"
    imgs[0].write_bytes(b"garbage")                                          # undecodable
    (lab / f"{imgs[1].stem}.txt").write_text("0 0.5 0.5 0.2\n")              # malformed
    (lab / f"{imgs[2].stem}.txt").write_text("7 0.5 0.5 0.2 0.2\n")          # unknown class
    (lab / f"{imgs[3].stem}.txt").write_text("0 0.5 0.5 0 0.2\n1 1.5 1.5 0.1 0.1\n0 0.9 0.5 0.4 0.2\n")  # zero, outside, overhang
    (root / "images" / "train" / "dup.png").write_bytes(imgs[4].read_bytes())  # duplicate
    (lab / f"{imgs[5].stem}.txt").unlink()               # no label file: unlabelled, not a defect-free part
    (lab / "dup.txt").write_text((lab / f"{imgs[4].stem}.txt").read_text())
    samples, rep = validate(load_dataset(d), "train")
    text = rep.summary()
    for needle in ("not a decodable image", "malformed label line 1", "unknown class '7'", "zero size",
                   "lies outside", "extends outside", "duplicate of", "(1 of them unlabelled)"):
        assert needle in text, needle
    assert rep.n_skipped == 5 and rep.n_used == 2 and rep.n_unlabelled == 1
    assert imgs[5] not in {s.image for s in samples}
    assert any(f == str(imgs[5]) and "unlabelled" in why for f, why in rep.problems)
    files = {f for f, _ in rep.problems}
    assert str(imgs[0]) in files


def test_dataset_items_and_augmentation(tmp_path):
    d = write_dataset(tmp_path / "ds", 8, 2, "yolo", size=(100, 150), n_defects=(1, 3))
    samples, _ = validate(load_dataset(d), "train")
    for augment in (False, True):
        ds = DetectionDataset(samples, 128, augment=augment)
        ds.fill_cache()
        imgs, targets, idx = collate([ds[i] for i in range(len(ds))])
        assert imgs.shape == (8, 3, 128, 128) and imgs.dtype.is_floating_point is False
        if len(targets):
            b = targets[:, 2:]
            assert (b >= 0).all() and (b <= 128).all() and (b[:, 2] > b[:, 0]).all()
    # without augmentation the item is exactly the inference letterbox of the image
    ds = DetectionDataset(samples, 128)
    img, _, _ = ds[0]
    ref, _ = letterbox(read_image(samples[0].image), 128)
    assert np.array_equal(img.numpy().transpose(1, 2, 0)[:, :, ::-1], ref)


def test_dataset_check_cli(tmp_path):
    from core.cli import main

    d = write_dataset(tmp_path / "ok", 3, 2, "voc", size=(64, 64))
    assert main(["dataset", "check", str(d)]) == 0
    bad = write_dataset(tmp_path / "bad", 3, 2, "coco", size=(64, 64), n_defects=(1, 1))
    j = json.loads((bad / "train.json").read_text())
    j["annotations"][0]["category_id"] = 99
    (bad / "train.json").write_text(json.dumps(j))
    assert main(["dataset", "check", str(bad)]) == 1
    assert main(["dataset", "check", str(tmp_path / "nothing")]) == 1


@pytest.mark.parametrize("src_fmt,dst_fmt", [("voc", "yolo"), ("yolo", "coco"), ("coco", "voc")])
def test_convert_roundtrip(tmp_path, src_fmt, dst_fmt):
    from core.cli import main

    src = write_dataset(tmp_path / "src", 5, 3, src_fmt, size=(80, 100), n_defects=(0, 2), seed=7)
    assert main(["dataset", "convert", str(src), "--to", dst_fmt, "--out", str(tmp_path / "dst")]) == 0
    a, b = load_dataset(src), load_dataset(tmp_path / "dst" / ("data.yaml" if dst_fmt == "yolo" else ""))
    assert a.names == b.names and b.format == dst_fmt
    for split in ("train", "val"):
        sa = sorted(validate(a, split)[0], key=lambda s: s.image.stem)
        sb = sorted(validate(b, split)[0], key=lambda s: s.image.stem)
        assert len(sa) == len(sb)
        for x, y in zip(sa, sb):
            assert np.array_equal(x.classes, y.classes) and np.allclose(x.boxes, y.boxes, atol=0.2)
    assert main(["dataset", "convert", str(src), "--to", dst_fmt, "--out", str(tmp_path / "dst")]) == 1


def test_dataset_check_reports_unlabelled_images_and_a_val_split_that_is_train(tmp_path, capsys):
    """A folder as the labelling view used to leave it (data.yaml with train: . and val: .): the
    unlabelled images are not trained as OK parts, and check says so, and that val is train."""
    import yaml

    from core.cli import main

    d = tmp_path / "folder"
    d.mkdir()
    for i in range(4):
        cv2.imwrite(str(d / f"f{i}.png"), np.full((40, 60, 3), 50 * i, np.uint8))
    (d / "f0.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (d / "f1.txt").write_text("")                       # marked defect-free
    (d / "data.yaml").write_text(yaml.safe_dump({"path": str(d), "train": ".", "val": ".", "names": ["scratch"]}))
    assert main(["dataset", "check", str(d / "data.yaml")]) == 1
    out = capsys.readouterr().out
    assert "2 usable, 2 skipped (2 of them unlabelled)" in out and "1 defect-free" in out
    assert f"{d / 'f2.png'}: no label file: the image is unlabelled" in out
    assert "val lists the same 4 images as train" in out and "no problems found" not in out
    samples, _ = validate(load_dataset(d / "data.yaml"), "train")
    assert sorted(s.image.name for s in samples) == ["f0.png", "f1.png"]
