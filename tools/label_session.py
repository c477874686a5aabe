"""Drive the labelling view through a real labelling pass and time it (the app's share of the work).

    python tools/label_session.py [--n 30] [--out /tmp/label_session]

Copies the first N NEU-DET val images into a new folder (a new dataset with NEU's class list),
opens it in the labelling view, and for each image draws every ground-truth box with mouse events
(press, move, release), gives it its class with a digit key, and moves on with D (which saves).
Prints the wall time per box and per image, and checks every saved label against the ground truth.
What it measures is the application's own time per action (event handling, drawing, loading,
saving), not a person's: the person's time is what docs/labelling.md reports separately.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--out", default="/tmp/label_session")
    ap.add_argument("--hold", type=float, default=0.0, help="keep the window open this long at the end (screenshots)")
    a = ap.parse_args()
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from core.data.formats import load_dataset

    neu = ROOT.parent / "shared" / "data" / "neu-det"
    spec = load_dataset(neu)
    raws = spec.split("val")[: a.n]
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for r in raws:
        shutil.copy2(r.image, out / r.image.name)
    (out / "classes.txt").write_text("\n".join(spec.names) + "\n")
    app = QApplication.instance() or QApplication([])
    from app.label.label_view import LabelView
    from core.settings import Settings

    v = LabelView(Settings())
    v.resize(1400, 900)
    v.show()

    def wait(cond, timeout=30.0):
        t = time.time()
        while not cond():
            app.processEvents()
            if time.time() - t > timeout:
                raise TimeoutError("the view did not get there")

    v.open_path(str(out))
    wait(lambda: v.project is not None and v.ann is not None)
    index = {n: i for i, n in enumerate(spec.names)}
    gt = {r.image.name: r.boxes for r in raws}
    n_boxes, t0, per_box = 0, time.perf_counter(), []
    vp = v.canvas.viewport()
    for k in range(len(raws)):
        wait(lambda: v.ann is not None and v.canvas.width_px > 0)
        name = v.item.image.name
        for b in gt[name]:
            x1, y1, x2, y2 = b.box
            tb = time.perf_counter()
            p1 = v.canvas.mapFromScene(QPointF(x1, y1))
            p2 = v.canvas.mapFromScene(QPointF(x2, y2))
            QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, p1)
            QTest.mouseMove(vp, (p1 + p2) / 2)
            QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, p2)
            QTest.keyClick(v.canvas, Qt.Key(Qt.Key_1 + index[b.cls]))
            app.processEvents()
            per_box.append(time.perf_counter() - tb)
            n_boxes += 1
        if k < len(raws) - 1:
            QTest.keyClick(v.canvas, Qt.Key_D)
            wait(lambda: v.item is not None and v.item.image.name != name)
    v.save()
    total = time.perf_counter() - t0
    # check what was saved
    from core.labels.project import LabelProject

    p = LabelProject.open(out)
    bad = 0
    for it in p.items:
        w, h = 200, 200
        ann, _ = p.load(it, w, h)
        want = sorted((index[b.cls], *b.box) for b in gt[it.image.name])
        got = sorted((bx.cls, *bx.xyxy) for bx in ann.boxes)
        if len(want) != len(got) or any(g[0] != w_[0] or max(abs(a_ - b_) for a_, b_ in zip(g[1:], w_[1:])) > 2
                                        for g, w_ in zip(got, want)):
            bad += 1
    print(f"{len(raws)} images, {n_boxes} boxes in {total:.2f} s: {1000 * sum(per_box) / max(n_boxes, 1):.1f} ms "
          f"per box (draw + class), {1000 * total / len(raws):.0f} ms per image including load and save; "
          f"{len(raws) - bad}/{len(raws)} images saved exactly as drawn")
    t = time.time()
    while time.time() - t < a.hold:
        app.processEvents()
        time.sleep(0.02)


if __name__ == "__main__":
    main()
