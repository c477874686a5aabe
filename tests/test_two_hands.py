"""Two hands on one dataset, in two real processes: a save merges with what another process saved
since it read the files, or is refused with the file named; nothing is overwritten silently."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.data.annotation import Box
from core.data.formats import SaveConflict, load_dataset
from core.labels.project import LabelProject
from test_formats import _source

ROOT = Path(__file__).resolve().parents[1]

# A second labeller: opens the dataset, says so, waits for "go", then saves its boxes on one image
# ROUNDS times (one more box each time), reading the image again before each save as the view does.
_HAND = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from core.data.annotation import Box
from core.labels.project import LabelProject
p = LabelProject.open({data!r})
it = next(i for i in p.items if i.image.stem == {stem!r})
Path({ready!r}).touch()
while not Path({go!r}).exists():
    time.sleep(0.01)
for k in range({rounds}):
    ann, _ = p.load(it, 64, 64)
    ann.boxes.append(Box({cls}, 1 + k, 1 + k, 9 + k, 9 + k))
    p.save(it, ann)
"""


def _hand(tmp_path, data, stem, cls, rounds):
    ready, go = tmp_path / f"ready-{stem}", tmp_path / "go"
    code = _HAND.format(root=str(ROOT), data=str(data), stem=stem, ready=str(ready), go=str(go), cls=cls,
                        rounds=rounds)
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True), ready


def _boxes_of(data, stem) -> list:
    spec = load_dataset(data)
    raw = next(r for raws in spec.splits.values() for r in raws if r.image.stem == stem)
    return sorted(tuple(round(v) for v in b.box) for b in raw.boxes) if raw.boxes and not raw.boxes[0].normalized \
        else sorted(tuple(round(v * 64) for v in b.box) for b in raw.boxes)


@pytest.mark.parametrize("fmt", ["coco", "cvat"])
def test_two_processes_saving_different_images_of_one_file_keep_both(tmp_path, fmt):
    """Both open the dataset (each holds its own copy of the file), then save their own image, ten
    times each, at once: every box of both survives (the file was rewritten from a stale copy)."""
    data = _source(tmp_path / "src")
    from core.data.convert import convert_dataset

    data, _ = convert_dataset(data, fmt, tmp_path / fmt)
    hands = [_hand(tmp_path, data, stem, cls, 10) for stem, cls in (("train1", 0), ("train2", 2))]
    deadline = time.time() + 120
    while not all(r.exists() for _, r in hands):
        assert time.time() < deadline and all(p.poll() is None for p, _ in hands), [p.stderr.read() for p, _ in hands]
        time.sleep(0.05)
    (tmp_path / "go").touch()
    for p, _ in hands:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    mine = {(1 + k, 1 + k, 9 + k, 9 + k) for k in range(10)}
    assert set(_boxes_of(data, "train1")) >= mine and set(_boxes_of(data, "train2")) == mine
    assert len(_boxes_of(data, "train1")) == 11        # its own box from before, and the ten


@pytest.mark.parametrize("fmt", ["yolo", "voc", "coco", "cvat"])
def test_a_save_over_an_image_another_process_saved_is_refused_by_name(tmp_path, fmt):
    """This window opens the image; another process saves it; this window's save is refused with the
    file named, and the other's boxes stay. After a reload the edit goes through."""
    from core.data.convert import convert_dataset

    data, _ = convert_dataset(_source(tmp_path / "src"), fmt, tmp_path / fmt)
    p = LabelProject.open(data)
    it = next(i for i in p.items if i.image.stem == "train2")
    ann, _ = p.load(it, 64, 64)
    other, ready = _hand(tmp_path, data, "train2", 1, 1)
    (tmp_path / "go").touch()
    assert other.wait(timeout=120) == 0, other.stderr.read()
    theirs = _boxes_of(data, "train2")
    assert theirs == [(1, 1, 9, 9)]
    ann.boxes.append(Box(0, 30, 30, 50, 50))
    with pytest.raises(SaveConflict, match="changed on disk") as e:
        p.save(it, ann)
    assert e.value.path.exists() and str(e.value.path) in str(e.value)
    assert _boxes_of(data, "train2") == theirs
    p = LabelProject.open(data)                                    # reload: their box, then mine
    it = next(i for i in p.items if i.image.stem == "train2")
    ann, _ = p.load(it, 64, 64)
    ann.boxes.append(Box(0, 30, 30, 50, 50))
    p.save(it, ann)
    assert _boxes_of(data, "train2") == [(1, 1, 9, 9), (30, 30, 50, 50)]


def test_a_class_added_by_another_process_is_not_overwritten(tmp_path):
    root = tmp_path / "folder"
    root.mkdir()
    p = LabelProject.open(root)
    q = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                        "from core.labels.project import LabelProject; "
                        f"LabelProject.open({str(root)!r}).add_class('dent')"], capture_output=True, text=True)
    assert q.returncode == 0, q.stderr
    with pytest.raises(SaveConflict, match="class list"):
        p.add_class("scratch")
    assert (root / "classes.txt").read_text() == "dent\n"


def test_frames_collected_into_a_folder_open_for_labelling_all_reach_the_review_queue(tmp_path):
    """``inspect --collect`` writes into a folder while a labeller there keeps saving decisions: every
    collected frame is in review.json at the end (the labeller's old copy rewrote it before)."""
    import cv2
    import numpy as np

    from core.labels.review import ReviewStore

    folder = tmp_path / "c"
    (folder / "images").mkdir(parents=True)
    cv2.imwrite(str(folder / "images" / "old.png"), np.zeros((48, 64, 3), np.uint8))
    (folder / "classes.txt").write_text("crazing\n")
    ReviewStore(folder).set_proposals("images/old.png", [Box(0, 1, 1, 20, 20, score=0.9)], from_line=True,
                                      reviewed=False)
    p = LabelProject.open(folder)
    it = p.items[0]
    env = {**os.environ, "SDGAS_HOME": str(tmp_path / "home")}
    inspect = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "inspect", "--weights", "demo", "--source",
                                "demo", "--db", str(tmp_path / "r.sqlite"), "--max-frames", "16", "--collect",
                                str(folder), "--collect-every", "1"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    saves = 0
    while inspect.poll() is None:
        ann, props = p.load(it, 64, 48)
        p.save(it, ann, props)        # a decision: the proposals stay for now
        saves += 1
        time.sleep(0.02)
    out, err = inspect.communicate()
    assert inspect.returncode == 0, err
    collected = sorted(f"images/{f.name}" for f in (folder / "images").iterdir() if f.name != "old.png")
    assert len(collected) == 16 and saves > 5, (len(collected), saves, out)
    review = json.loads((folder / ".sdgas" / "review.json").read_text())
    assert sorted(k for k in review if k != "images/old.png") == collected
    assert all(review[k]["from_line"] and not review[k]["reviewed"] for k in collected)
    assert LabelProject.open(folder).counts()["unreviewed"] == 17
