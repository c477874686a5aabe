"""Walk the three users' journeys in the real window with real mouse clicks and keys (xdotool, on an
X display), check what each step must show, and save the user guides' screenshots (docs/images/).

    python tools/guide_screenshots.py prepare /tmp/walk            # once: boards, a tiny run, the runtime cache
    ../shared/tools/screenshot /tmp/walk/last.png 600 python tools/guide_screenshots.py walk /tmp/walk --out docs/images

``prepare`` makes an application folder: a folder of 20 boards from the demo line, a small labelled
dataset, a finished tiny training run, and the demo model's fastest runtime (minutes). ``walk`` runs
the application on it (``SDGAS_HOME``) and goes through the operator's shift (demo line, Pause,
Step, Stop, a folder inspected twice, Line connections with Test connection, History of changes, a
second start), the quality staff's report (Preview, Export PDF) and the engineer's tabs (a box drawn,
a run's curves), then F1. Every step prints what it saw (``walk.log`` in the application folder); a failed
check ends the walk with the reason.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LOG: list[str] = []


def say(msg: str):
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    LOG.append(line)
    print(line, flush=True)


# ------------------------------------------------------------------------------------ prepare
def prepare(home: Path):
    import cv2

    from core.data.synth import demo_frame

    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SDGAS_HOME": str(home)}
    boards = home / "boards"
    boards.mkdir(exist_ok=True)
    for k in range(20):
        cv2.imwrite(str(boards / f"board_{k:02d}.png"), demo_frame(7, k)[0])
    unlabelled = home / "new-line-images"
    unlabelled.mkdir(exist_ok=True)
    truth, k = {}, 0
    while len(truth) < 6:          # frames with a defect to draw a box on; their boxes kept for the walk
        img, boxes, _ = demo_frame(9, k)
        k += 1
        if len(boxes):
            name = f"img_{len(truth):02d}.png"
            cv2.imwrite(str(unlabelled / name), img)
            truth[name] = [[float(v) for v in b] for b in boxes]
    (home / "truth.json").write_text(json.dumps(truth))
    run = home / "runs" / "teacher" / "1"
    if not (run / "weights" / "best.pt").is_file():
        say("a tiny teacher run on demo:24 (3 epochs at 128 px) …")
        subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "--data", "demo:24", "--epochs", "3",
                        "--imgsz", "128", "--batch", "8", "--device", "cpu", "--out", str(run),
                        "--events", str(run / "events.jsonl")], env=env, check=True, cwd=str(ROOT))
    say("the demo model's fastest runtime for this CPU (minutes) …")
    subprocess.run([sys.executable, str(ROOT / "main.py"), "export", "--weights", "demo", "--fastest"], env=env,
                   check=True, cwd=str(ROOT))
    say(f"prepared {home}")


def fresh_shift(home: Path):
    """The walk starts as a shift does: the demo line, the bundled model, no records yet."""
    for name in ("records.sqlite", "records.sqlite-wal", "records.sqlite-shm"):
        (home / name).unlink(missing_ok=True)
    for name in ("images", "snapshots", "collected", "recipes"):
        shutil.rmtree(home / name, ignore_errors=True)
    (home / "settings.json").write_text(json.dumps({"source": "demo", "weights": "default", "line": "line-3",
                                                    "demo_fps": 8.0}))


def mosquitto(home: Path):
    """A real broker on a loopback port for Test connection, when Mosquitto is installed."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from servers import Mosquitto

        return Mosquitto(home / "mqtt")
    except BaseException as e:  # noqa: BLE001 - not installed: the test shows the failure instead
        say(f"no MQTT broker here ({type(e).__name__}): the test shows what a missing one looks like")
        return None


# --------------------------------------------------------------------------------------- walk
class Walker:
    """Runs on a thread of its own, as a person in front of the screen: it moves the real pointer and
    presses real keys (xdotool), and reads the window only through ``gui(fn)``, which runs ``fn`` on
    the GUI thread (also while a modal dialog's loop runs) and returns its result."""

    def __init__(self, app, out: Path):
        import queue

        from PySide6.QtCore import QTimer

        self.app, self.out = app, out
        self.requests: queue.Queue = queue.Queue()
        self.timer = QTimer()
        self.timer.timeout.connect(self._serve)
        self.timer.start(20)

    def _serve(self):           # GUI thread
        import queue

        while True:
            try:
                fn, fut = self.requests.get_nowait()
            except queue.Empty:
                return
            try:
                fut.set_result(fn())
            except BaseException as e:  # noqa: BLE001 - handed to the walker
                fut.set_exception(e)

    def gui(self, fn):
        import concurrent.futures as cf

        fut: cf.Future = cf.Future()
        self.requests.put((fn, fut))
        return fut.result(timeout=60)

    def pump(self, s: float = 0.05):
        time.sleep(s)

    def until(self, cond, timeout: float, what: str):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.gui(cond):
                return
            time.sleep(0.05)
        raise AssertionError(f"{what}: not within {timeout:.0f} s")

    def xdo(self, *args):
        subprocess.run(["xdotool", *map(str, args)], check=True, timeout=30)
        time.sleep(0.15)

    def click(self, widget, pos=None, double=False):
        def where():
            p = widget.mapToGlobal(pos if pos is not None else widget.rect().center())
            return p.x(), p.y()

        x, y = self.gui(where)
        self.xdo("mousemove", x, y)
        self.xdo("click", *(["--repeat", "2", "--delay", "80"] if double else []), "1")

    def drag(self, widget, a, b):
        ax, ay = self.gui(lambda: (widget.mapToGlobal(a).x(), widget.mapToGlobal(a).y()))
        bx, by = self.gui(lambda: (widget.mapToGlobal(b).x(), widget.mapToGlobal(b).y()))
        self.xdo("mousemove", ax, ay)
        self.xdo("mousedown", "1")
        for k in range(1, 9):
            self.xdo("mousemove", ax + (bx - ax) * k // 8, ay + (by - ay) * k // 8)
        self.xdo("mouseup", "1")

    def key(self, *keys):
        self.xdo("key", *keys)

    def type(self, text: str):
        self.xdo("type", "--delay", "20", text)

    def menu(self, window, title: str, item: str):
        """Open a menu of the menu bar and click its item, with the mouse."""
        bar = self.gui(window.menuBar)
        act = self.gui(lambda: next(a for a in bar.actions() if a.text().replace("&", "") == title))
        self.click(bar, self.gui(lambda: bar.actionGeometry(act).center()))
        m = self.gui(act.menu)
        self.until(m.isVisible, 5, f"menu {title}")
        self.pump(0.3)
        it = self.gui(lambda: next(a for a in m.actions() if a.text().replace("&", "") == item))
        self.click(m, self.gui(lambda: m.actionGeometry(it).center()))

    def modal(self, timeout: float = 20):
        from PySide6.QtWidgets import QApplication

        self.until(lambda: QApplication.activeModalWidget() is not None, timeout, "a dialog opens")
        self.pump(0.4)
        return self.gui(QApplication.activeModalWidget)

    def shot(self, name: str, widget):
        """The screen, cut to the widget's window."""
        import cv2

        self.pump(0.5)
        tmp = self.out / f".{name}.full.png"
        subprocess.run(["import", "-window", "root", str(tmp)], check=True)
        img = cv2.imread(str(tmp))
        tmp.unlink()
        g = self.gui(lambda: widget.window().frameGeometry())
        crop = img[max(0, g.y()):g.y() + g.height(), max(0, g.x()):g.x() + g.width()]
        from PIL import Image      # 256 colours: a quarter of the bytes, the same picture for a guide

        Image.fromarray(crop[..., ::-1]).quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            self.out / f"{name}.png", optimize=True)
        say(f"screenshot {name}.png ({crop.shape[1]}×{crop.shape[0]})")


def walk(home: Path, out: Path) -> int:
    import threading

    os.environ["SDGAS_HOME"] = str(home)
    out.mkdir(parents=True, exist_ok=True)
    fresh_shift(home)
    from PySide6.QtWidgets import QApplication

    from app.services.single_instance import SingleInstance

    app = QApplication(sys.argv[:1])
    app.setApplicationName("SD-GASNet Inspector")
    one = SingleInstance(home)
    assert one.claim(), one.message
    from app.main_window import MainWindow

    w = Walker(app, out)
    win = MainWindow()
    raised = []
    one.raise_requested.connect(lambda: raised.append(1))
    win.move(0, 0)
    win.show()
    result = {"rc": 1}

    def person():
        try:
            operator(w, win, win.live, home, raised)
            quality(w, win, home)
            engineer(w, win, home)
            say("walk finished: every check held")
            result["rc"] = 0
        except BaseException as e:  # noqa: BLE001 - the reason ends the walk, in the log
            import traceback

            say(f"WALK FAILED: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        finally:
            (home / "walk.log").write_text("\n".join(LOG) + "\n")
            w.requests.put((win.close, concurrent.futures.Future()))      # the window closes as Quit does

    threading.Thread(target=person, name="walker", daemon=True).start()
    app.exec()
    one.release()
    return result["rc"]


def stop_time(w: Walker, live) -> str:
    """Click Stop; the times, taken on the GUI thread, from the click to the button reading Start again
    and to the run's records being closed."""
    marks = {}

    def pressed():
        marks.setdefault("click", time.perf_counter())

    def closed():      # after the view's own slot: the button says what the operator sees now
        marks.setdefault("closed", time.perf_counter())
        if live.btn_start.text() == "Start" and live.btn_start.isEnabled():
            marks.setdefault("start_gui", marks["closed"])

    w.gui(lambda: (live.btn_start.pressed.connect(pressed), live.ctrl.closed.connect(closed)))
    w.click(live.btn_start)
    w.until(lambda: live.btn_start.text() == "Start" and live.btn_start.isEnabled(), 10, "Stop answers")
    w.gui(lambda: marks.setdefault("start", time.perf_counter()))
    w.gui(lambda: (live.btn_start.pressed.disconnect(pressed), live.ctrl.closed.disconnect(closed)))
    return (f"the button read Start again {marks['start_gui'] - marks['click']:.2f} s after the press, its records "
            f"closed (seen by this walker's thread after {marks['start'] - marks['click']:.2f} s)")


def operator(w: Walker, win, live, home: Path, raised: list):
    say("OPERATOR: the window opens on the demo line with the bundled model")
    w.until(lambda: live.models.detector is not None and live.models.box.currentText() == "demo", 120, "the demo model")
    say(f"model box: {w.gui(live.models.box.currentText)!r}; under the counters: {w.gui(live.models.label.text)!r}")
    assert "demo.pt" in w.gui(live.models.label.text)
    w.shot("live-ready", win)

    w.click(live.btn_start)
    assert w.gui(live.btn_start.text) == "Stop"
    w.until(lambda: live.ctrl.snapshot() and live.ctrl.snapshot().total >= 25, 90, "frames judged")
    w.pump(1.0)
    snap = w.gui(live.ctrl.snapshot)
    say(f"running: {snap.total} judged, OK {snap.ok}, NG {snap.ng}, {snap.fps:.1f} frames/s; banner "
        f"{w.gui(lambda: live.panel.banner.verdict)}")
    w.shot("live-running", win)

    w.key("space")
    w.until(lambda: live.btn_pause.text() == "Resume", 5, "Pause")
    w.pump(1.0)
    n = w.gui(lambda: live.ctrl.snapshot().total)
    w.key("F10")
    w.until(lambda: live.ctrl.snapshot().total == n + 1, 10, "Step judges one frame")
    w.pump(0.8)
    assert w.gui(lambda: live.ctrl.snapshot().total) == n + 1
    say(f"paused at {n}; F10 judged exactly one more ({n + 1})")
    w.shot("live-paused", win)
    say(f"Stop: {stop_time(w, live)}")

    say("OPERATOR: a folder of 20 boards, typed into the source field, inspected twice")
    w.click(live.source_box.lineEdit())
    w.key("ctrl+a")
    w.type(str(home / "boards"))
    w.key("Return")
    for k in (1, 2):
        w.click(live.btn_start)
        w.until(lambda: live.ctrl.snapshot().total == 20, 120, "20 boards judged")
        w.pump(1.5)
        snap = w.gui(live.ctrl.snapshot)
        say(f"pass {k}: {snap.total} judged (OK {snap.ok}, NG {snap.ng}); the folder is watched: nothing more comes")
        if k == 1:
            w.shot("live-folder", win)
        say(f"Stop on the watched folder: {stop_time(w, live)}")
    names = sorted(t.name for t in __import__("threading").enumerate())
    say(f"threads after the runs: {names}")

    say("OPERATOR: Line connections, Test connection")
    broker = mosquitto(home)
    try:
        w.menu(win, "Inspection", "Line connections…")
        dlg = w.modal()
        w.click(dlg.line)
        w.key("ctrl+a")
        w.type("line-3")
        w.click(dlg.opcua)
        w.type("opc.tcp://0.0.0.0:4840")
        w.click(dlg.mqtt)
        w.type(f"mqtt://127.0.0.1:{broker.port if broker else 1883}/plant/line-3/results")
        w.click(dlg.btn_test)
        w.until(lambda: dlg.btn_test.isEnabled() and "MQTT" in dlg.test_result.text(), 30, "the test answers")
        say(f"test result: {w.gui(dlg.test_result.text)!r}")
        w.shot("line-connections", dlg)
        w.key("Escape")
        w.until(lambda: not dlg.isVisible(), 5, "the dialog closes")
    finally:
        if broker:
            broker.stop()

    w.menu(win, "Inspection", "History of changes…")
    dlg = w.modal()
    rows = w.gui(lambda: [[dlg.table.item(i, j).text() for j in range(6)] for i in range(min(dlg.table.rowCount(), 6))])
    say(f"history, newest first: {rows}")
    w.shot("history", dlg)
    w.key("Escape")
    w.until(lambda: not dlg.isVisible(), 5, "the history closes")

    say("OPERATOR: the program started a second time")
    p = subprocess.run([sys.executable, str(ROOT / "main.py")], env=dict(os.environ), capture_output=True, text=True,
                       cwd=str(ROOT), timeout=120)
    w.pump(0.5)
    say(f"second copy: exit {p.returncode}, said {(p.stdout + p.stderr).strip()!r}; the first window was asked "
        f"forward: {bool(raised)}")
    assert p.returncode == 0 and raised


def quality(w: Walker, win, home: Path):
    say("QUALITY: the Reports tab, this shift, Preview")
    bar = w.gui(win.tabs.tabBar)
    w.click(bar, w.gui(lambda: bar.tabRect(win.tabs.indexOf(win.reports)).center()))
    rv = win.reports
    w.until(lambda: rv.source.count() > 1, 20, "the records' sources are listed")
    say(f"sources offered: {w.gui(lambda: [rv.source.itemText(i) for i in range(rv.source.count())])}; "
        f"models: {w.gui(lambda: [rv.model.itemText(i) for i in range(rv.model.count())])}")
    preview = w.gui(lambda: next(b for b in rv.findChildren(type(win.live.btn_start))
                                 if b.objectName() == "report_preview"))
    w.click(preview)
    w.until(lambda: rv.data is not None, 60, "the preview")
    d = w.gui(lambda: rv.data)
    say(f"report: parts {d.total}, inspections {d.inspections}, re-inspections {d.reinspections}, OK {d.ok}, NG {d.ng}, "
        f"ERROR {d.error}; models {[m['text'] + ': ' + str(m['frames']) for m in d.models]}; recipes "
        f"{[(r['name'], r.get('conf'), r['frames']) for r in d.recipes]}")
    w.pump(1.5)
    w.shot("reports-preview", win)
    w.click(rv.export_buttons["pdf"])
    dlg = w.modal()
    proposed = w.gui(lambda: [e.text() for e in dlg.findChildren(type(rv.db_edit)) if e.text()])
    say(f"the save dialog proposes: {proposed}")
    w.shot("report-save", dlg)
    target = home / "reports" / proposed[0]
    target.parent.mkdir(exist_ok=True)
    target.unlink(missing_ok=True)
    w.key("ctrl+a")
    w.type(str(target))             # kept with the walk, not in the home folder
    w.key("Return")
    w.until(lambda: bool(rv.exported), 60, "the PDF is written")
    pdf = Path(w.gui(lambda: rv.exported)[0])
    say(f"written: {pdf}")
    if shutil.which("gs"):
        subprocess.run(["gs", "-q", "-sDEVICE=png16m", "-r80", "-dFirstPage=1", "-dLastPage=1",
                        "-o", str(w.out / "report-pdf.png"), str(pdf)], check=True)
        say("report-pdf.png: the PDF's first page (rendered by Ghostscript)")

    say("QUALITY: F1 on the Reports tab")
    w.click(rv.summary)             # the window has the keyboard again after the save dialog
    w.key("F1")
    w.until(lambda: win.guide is not None and win.guide.isVisible(), 10, "the guide opens")
    assert w.gui(lambda: win.guide.current) == "quality"
    w.gui(lambda: win.guide.move(60, 40))
    w.shot("guide", win.guide)
    w.gui(win.guide.close)


def engineer(w: Walker, win, home: Path):
    say("ENGINEER: Labelling, Open image folder…, the folder typed into the dialog")
    bar = w.gui(win.tabs.tabBar)
    w.click(bar, w.gui(lambda: bar.tabRect(win.tabs.indexOf(win.labelling)).center()))
    w.menu(win, "Labelling", "Open image folder…")
    w.modal()
    w.key("ctrl+a")
    w.type(str(home / "new-line-images"))
    w.key("Return")
    lv = win.labelling
    w.until(lambda: lv.project is not None, 30, "the folder opens")
    w.pump(1.0)
    say("ENGINEER: a class added (Add…), a box drawn with the mouse over the defect, its class by key 1")
    add = w.gui(lambda: next(b for b in lv.classes.findChildren(type(win.live.btn_start)) if b.text() == "Add…"))
    w.click(add)
    w.modal()
    w.type("pitted surface")
    w.key("Return")
    w.until(lambda: lv.project.names == ["pitted surface"], 10, "the class is added")
    from PySide6.QtCore import QPoint

    x1, y1, x2, y2 = json.loads((home / "truth.json").read_text())["img_00.png"][0]

    def box_on_screen():      # the image's first defect, in the canvas's coordinates
        v = lv.canvas
        a = v.mapFromScene(x1 - 4, y1 - 4)
        b = v.mapFromScene(x2 + 4, y2 + 4)
        return QPoint(a.x(), a.y()), QPoint(b.x(), b.y())

    a, b = w.gui(box_on_screen)
    w.drag(lv.canvas.viewport(), a, b)
    w.key("1")
    w.pump(1.0)
    say(f"labelling header: {w.gui(lv.header.text)!r}")
    w.shot("labelling", win)
    w.key("ctrl+s")

    say("ENGINEER: Training, the tiny run selected")
    w.click(bar, w.gui(lambda: bar.tabRect(win.tabs.indexOf(win.training)).center()))
    tv = win.training
    w.until(lambda: tv.table.rowCount() >= 1, 30, "the run is listed")
    w.click(tv.table.viewport(), w.gui(lambda: tv.table.visualItemRect(tv.table.item(0, 0)).center()))
    w.pump(3.0)
    say(f"runs listed: {w.gui(tv.table.rowCount)}; Use for inspection enabled: {w.gui(tv.btn_use.isEnabled)}")
    w.shot("training", win)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["prepare", "walk"])
    ap.add_argument("home", type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if a.what == "prepare":
        prepare(a.home)
    else:
        raise SystemExit(walk(a.home, a.out))


if __name__ == "__main__":
    main()
