"""Verdict banner, counters and live plots (pyqtgraph, fed from bounded histories by a timer)."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QWidget

from app.plot_labels import class_label

VERDICT_STYLE = {
    "OK": ("OK", "#1b5e20", "#ffffff"),
    "NG": ("NG", "#b71c1c", "#ffffff"),
    "ERROR": ("ERROR", "#e65100", "#ffffff"),
    "NO SIGNAL": ("NO SIGNAL", "#4a148c", "#ffffff"),
    "IDLE": ("—", "#37474f", "#cfd8dc"),
    "PAUSED": ("PAUSED", "#455a64", "#ffffff"),
}


class VerdictBanner(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumHeight(110)
        self.detail = ""
        self.set("IDLE")

    def set(self, verdict: str, detail: str = ""):
        text, bg, fg = VERDICT_STYLE.get(verdict, VERDICT_STYLE["IDLE"])
        self.verdict = verdict
        self.setText(f"<div style='font-size:56px; font-weight:700'>{text}</div>"
                     f"<div style='font-size:13px'>{detail}</div>")
        self.setStyleSheet(f"QLabel {{ background:{bg}; color:{fg}; border-radius:8px; }}")


class Counters(QFrame):
    FIELDS = ("Total", "OK", "NG", "Error", "Yield", "Frames/s", "Latency", "Frame age")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.StyledPanel)
        grid = QGridLayout(self)
        self.values = {}
        for i, name in enumerate(self.FIELDS):
            k = QLabel(name)
            k.setStyleSheet("color:#90a4ae; font-size:12px")
            v = QLabel("0")
            v.setStyleSheet("font-size:20px; font-weight:600")
            v.setObjectName(f"counter_{name}")
            grid.addWidget(k, (i // 4) * 2, i % 4)
            grid.addWidget(v, (i // 4) * 2 + 1, i % 4)
            self.values[name] = v

    def update_from(self, s):
        """``s``: a ``StatsSnapshot``."""
        self.values["Total"].setText(str(s.total))
        self.values["OK"].setText(str(s.ok))
        self.values["NG"].setText(str(s.ng))
        self.values["Error"].setText(str(s.error))
        self.values["Yield"].setText(f"{s.yield_pct:.1f}%")
        self.values["Frames/s"].setText(f"{s.fps:.1f}")
        self.values["Latency"].setText(f"{s.summary['median_total_ms']:.0f} ms")
        self.values["Frame age"].setText(f"{s.summary['median_frame_age_ms']:.0f} ms")


class Plots(QWidget):
    """Throughput and latency over time, rolling yield, per-class Pareto."""

    def __init__(self, parent=None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background="#1e2125", foreground="#cfd8dc")
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.rate = pg.PlotWidget(title="Throughput (frames/s)")
        self.fps_curve = self.rate.plot(pen=pg.mkPen("#4fc3f7", width=2))
        self.latency = pg.PlotWidget(title="Latency (ms)")
        self.lat_curve = self.latency.plot(pen=pg.mkPen("#ffb74d", width=1))
        for w in (self.rate, self.latency):
            w.setLabel("bottom", "time (s; 0 = now)")
        self.yield_plot = pg.PlotWidget(title="Rolling yield (%, last 50)")
        self.yield_plot.setYRange(0, 100)
        self.yield_plot.setLabel("bottom", "judged frames")
        # a line once there are two frames, a dot for the first: short runs show their yield too
        self.yield_curve = self.yield_plot.plot(pen=pg.mkPen("#81c784", width=2), symbol="o", symbolSize=4,
                                                symbolBrush="#81c784", symbolPen=None)
        self.pareto = pg.PlotWidget(title="Defects per class")
        # horizontal bars: class names on the left axis stay readable (under the bars they overlapped)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush="#e57373")
        self.pareto.addItem(self.bars)
        self.pareto.invertY(True)   # the most frequent class on top
        for i, w in enumerate((self.rate, self.latency, self.yield_plot, self.pareto)):
            w.setMinimumHeight(150)
            w.showGrid(x=True, y=True, alpha=0.2)
            w.setMouseEnabled(x=False, y=False)
            w.hideButtons()
            for side in ("left", "bottom"):   # plain units: never "(x0.001)" on a short run
                w.getAxis(side).enableAutoSIPrefix(False)
            lay.addWidget(w, i // 2, i % 2)
        self.n_updates = 0

    def update_from(self, snap):
        """``snap``: a ``StatsSnapshot``."""
        hist, per_class = snap.times, snap.per_class
        self.n_updates += 1
        if len(hist) >= 2:
            t = np.array([h[0] for h in hist])
            lat = np.array([h[1] for h in hist])
            now = time.monotonic()
            # throughput as frames per second over a sliding 2 s window
            idx = np.searchsorted(t, t - 2.0)
            fps = (np.arange(len(t)) - idx) / np.maximum(t - t[idx], 1e-3)
            fps[: min(3, len(fps))] = np.nan
            self.fps_curve.setData(t - now, np.nan_to_num(fps), connect="finite")
            self.lat_curve.setData(t - now, lat)
        judged = np.array([1.0 if h[2] == "OK" else 0.0 for h in hist if h[2] in ("OK", "NG")])
        if len(judged):
            self.yield_curve.setData(np.arange(1, len(judged) + 1), rolling_yield(judged))
        if per_class:
            items = sorted(per_class.items(), key=lambda kv: -kv[1])
            self.bars.setOpts(x0=np.zeros(len(items)), y=np.arange(len(items)), width=[v for _, v in items],
                              height=0.7)
            ax = self.pareto.getAxis("left")
            names = [class_label(k) for k, _ in items]
            ax.setTicks([list(enumerate(names))])
            # wide enough for the longest name (NEU-DET's "rolled-in scale"), never more than half the plot
            fm = QFontMetrics(ax.style.get("tickFont") or ax.font())
            ax.setWidth(min(max(fm.horizontalAdvance(n) for n in names) + 14, max(60, self.pareto.width() // 2)))


def rolling_yield(ok: np.ndarray, window: int = 50) -> np.ndarray:
    """% OK over the last ``window`` judged frames at each frame (fewer at the start of a run)."""
    c = np.concatenate([[0.0], np.cumsum(ok)])
    i = np.arange(1, len(ok) + 1)
    lo = np.maximum(0, i - window)
    return 100.0 * (c[i] - c[lo]) / (i - lo)
