"""The Reports view: choose a range, source, model or recipe; preview the report; export it.

Gathering, thumbnails and writing run in the background (``core.report``); the preview shows the
same figures as the exported files.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QDateTime, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QDateTimeEdit, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPushButton, QSplitter, QVBoxLayout, QWidget)

from app.plot_labels import class_label
from app.services.background import Background
from core.report import FORMATS, ReportFilter, distinct, gather, make_report, read_validation
from core.inspect.model_id import describe_model_id
from core.report import content as C
from core.settings import Settings, app_dir

PRESETS = ("This shift", "Today", "Last 24 h", "Last 7 days", "Lot: all of the chosen source", "Everything", "Custom")
OPEN_RANGE = ("Everything", "Lot: all of the chosen source")
SHIFT_STARTS = (6, 14, 22)   # three 8-hour shifts


def preset_range(name: str, now: dt.datetime | None = None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(from, to) in local time for a preset; None = open."""
    now = now or dt.datetime.now()
    if name == "This shift":
        start_h = max((h for h in SHIFT_STARTS if h <= now.hour), default=SHIFT_STARTS[-1])
        start = now.replace(hour=start_h, minute=0, second=0, microsecond=0)
        if now.hour < SHIFT_STARTS[0]:
            start -= dt.timedelta(days=1)
        return start, start + dt.timedelta(hours=8)
    if name == "Today":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + dt.timedelta(days=1)
    if name == "Last 24 h":
        return now - dt.timedelta(hours=24), now
    if name == "Last 7 days":
        return now - dt.timedelta(days=7), now
    return None, None


def _thumbs(data):
    """Worker: (thumbnail JPEG bytes, caption) of the report's NG images."""
    from core.report.gather import local
    from core.report.thumbs import thumbnail

    names = [c for c, _ in data.per_class]
    out = []
    for t in data.thumbs:
        jpg, problem = thumbnail(t.image_path, t.detections, names)
        cap = f"{local(t.ts)[11:]} {t.frame}" + ("" if problem is None else f" (image not shown: {problem})")
        out.append((jpg, cap))
    return out


class ReportView(QWidget):
    status = Signal(str)

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.bg = Background(self, name="reports")
        self.data = None
        self.known: dict = {}             # weights hash -> model name
        self._noticed = False
        self.last_folder = ""
        self.exported: list = []
        self.db_edit = QLineEdit(settings["db"] or str(app_dir() / "records.sqlite"))
        self.db_edit.setObjectName("report_db")
        self.db_edit.setToolTip("a records file, or a plant database: postgresql://user@server/dbname")
        self.db_edit.editingFinished.connect(self.refresh_choices)
        b_db = QPushButton("Records…")
        b_db.clicked.connect(self._browse_db)
        self.preset = QComboBox()
        self.preset.addItems(PRESETS)
        self.preset.currentTextChanged.connect(self._preset)
        self.t_from, self.t_to = QDateTimeEdit(), QDateTimeEdit()
        for w in (self.t_from, self.t_to):
            w.setCalendarPopup(True)
            w.setDisplayFormat("yyyy-MM-dd HH:mm")
            w.dateTimeChanged.connect(lambda *_: self.preset.setCurrentText("Custom")
                                      if not self._setting_range else None)
        self._setting_range = False
        self.source, self.model, self.recipe = QComboBox(), QComboBox(), QComboBox()
        self.val_edit = QLineEdit("")
        self.val_edit.setPlaceholderText("optional: a val --json file, for escape and overkill rates against ground truth")
        b_val = QPushButton("Ground truth…")
        b_val.clicked.connect(self._browse_val)
        b_preview = QPushButton("Preview")
        b_preview.setObjectName("report_preview")
        b_preview.clicked.connect(self.preview)
        top = QGridLayout()
        top.addWidget(QLabel("Records"), 0, 0)
        top.addWidget(self.db_edit, 0, 1, 1, 4)
        top.addWidget(b_db, 0, 5)
        top.addWidget(QLabel("Range"), 1, 0)
        top.addWidget(self.preset, 1, 1)
        top.addWidget(self.t_from, 1, 2)
        top.addWidget(QLabel("to"), 1, 3)
        top.addWidget(self.t_to, 1, 4)
        for j, (lab, box) in enumerate((("Source", self.source), ("Model", self.model), ("Recipe", self.recipe))):
            top.addWidget(QLabel(lab), 2, 2 * j if j else 0)
            top.addWidget(box, 2, 2 * j + 1)
        top.addWidget(b_preview, 1, 5)
        top.addWidget(QLabel("Ground truth"), 3, 0)
        top.addWidget(self.val_edit, 3, 1, 1, 4)
        top.addWidget(b_val, 3, 5)
        exports = QHBoxLayout()
        exports.addWidget(QLabel("Export:"))
        self.export_buttons = {}
        for fmt in FORMATS:
            b = QPushButton(fmt.upper() + "…")
            b.setObjectName(f"export_{fmt}")
            b.clicked.connect(lambda _=False, f=fmt: self.export_dialog(f))
            exports.addWidget(b)
            self.export_buttons[fmt] = b
        exports.addStretch(1)

        self.summary = QLabel("Choose a range and press Preview.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setObjectName("report_summary")
        self.summary.setAlignment(Qt.AlignTop)
        pg.setConfigOptions(background="#1e2125", foreground="#cfd8dc")
        self.pareto = pg.PlotWidget(title="Defects per class")
        self.ng_plot = pg.PlotWidget(title="NG rate over time (% of judged)")
        self.rate_plot = pg.PlotWidget(title="Throughput (inspections / min)")
        for p in (self.pareto, self.ng_plot, self.rate_plot):
            p.setMinimumHeight(180)
            p.showGrid(x=True, y=True, alpha=0.2)
        self.thumbs = QListWidget()
        self.thumbs.setViewMode(QListWidget.IconMode)
        self.thumbs.setIconSize(QSize(200, 150))
        self.thumbs.setResizeMode(QListWidget.Adjust)
        self.thumbs.setMinimumHeight(200)
        charts = QWidget()
        cl = QGridLayout(charts)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.pareto, 0, 0, 1, 2)
        cl.addWidget(self.ng_plot, 1, 0)
        cl.addWidget(self.rate_plot, 1, 1)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.summary)
        split.addWidget(charts)
        split.setSizes([460, 940])
        vs = QSplitter(Qt.Vertical)
        vs.addWidget(split)
        vs.addWidget(self.thumbs)
        vs.setSizes([520, 260])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(exports)
        lay.addWidget(vs, 1)
        self._preset(self.preset.currentText())
        self.refresh_choices()

    def showEvent(self, e):
        """The records may have been written since the tab was last seen (the first run makes the file)."""
        super().showEvent(e)
        self.refresh_choices()

    # ------------------------------------------------------------------------------- inputs
    def _browse_db(self):
        f, _ = QFileDialog.getOpenFileName(self, "Records database", str(Path(self.db_edit.text()).parent),
                                           "SQLite (*.sqlite *.db);;All (*)")
        if f:
            self.db_edit.setText(f)
            self.refresh_choices()

    def _browse_val(self):
        f, _ = QFileDialog.getOpenFileName(self, "val --json file", "", "JSON (*.json);;All (*)")
        if f:
            self.val_edit.setText(f)

    def _preset(self, name: str):
        if name == "Custom":
            return
        a, b = preset_range(name)
        self._setting_range = True
        now = QDateTime.currentDateTime()
        self.t_from.setDateTime(QDateTime(a) if a else now.addYears(-20))
        self.t_to.setDateTime(QDateTime(b) if b else now.addYears(20))
        self._setting_range = False

    def refresh_choices(self):
        """The sources, models and recipes in the records (off the GUI thread); a file not written yet
        is said plainly, and the message goes once the file is there."""
        db = self.db_edit.text().strip()

        def work():
            from core.detector import known_models
            from core.report.gather import is_url

            if not is_url(db) and not Path(db).is_file():
                return None
            return {c: distinct(db, c) for c in ("source", "model", "recipe")}, known_models()

        def done(found):
            if found is None:
                self._notice(f"No records yet in {db}: the live view writes them there at its first Start "
                             "(or choose another file with Records…).")
                return
            ch, self.known = found
            if self._noticed:
                self._notice("Choose a range and press Preview.")
            for box, key in ((self.source, "source"), (self.model, "model"), (self.recipe, "recipe")):
                keep = box.currentText()
                box.clear()
                box.addItem("(all)")
                for v in ch[key]:
                    box.addItem(describe_model_id(v, self.known) if key == "model" else v, v)
                if keep:
                    box.setCurrentText(keep)

        self.bg.submit(work, done, lambda e: self._notice(f"<span style='color:#ff8a65'>{_esc(e)}</span>"))

    def _notice(self, html: str):
        """A message in place of the figures (only while none are shown)."""
        if self.data is None or self._noticed:
            self.summary.setText(html)
            self._noticed = True

    def report_filter(self) -> ReportFilter:
        def pick(box):
            v = box.currentData()          # a model's recorded id behind its name
            t = box.currentText() if v is None else v
            return None if t in ("", "(all)") else t

        open_range = self.preset.currentText() in OPEN_RANGE
        return ReportFilter(t_from=None if open_range else self.t_from.dateTime().toPython(),
                            t_to=None if open_range else self.t_to.dateTime().toPython(),
                            source=pick(self.source), model=pick(self.model), recipe=pick(self.recipe))

    # ------------------------------------------------------------------------------ preview
    def preview(self):
        db, flt, val = self.db_edit.text(), self.report_filter(), self.val_edit.text().strip()
        self.summary.setText("gathering …")

        def work():          # touches no widget: they are read above, on the GUI thread
            from core.detector import known_models

            data = gather(db, flt, validation=read_validation(val), known_models=known_models())
            return data, _thumbs(data)

        self.bg.submit(work, self._show, lambda e: self.summary.setText(f"<span style='color:#ff8a65'>{e}</span>"))

    def _show(self, result):
        data, thumbs = result
        self.data = data
        self._noticed = False
        rows = C.header_rows(data) + ([] if not data.total else C.totals_rows(data) + C.validation_rows(data))
        html = "<table>" + "".join(f"<tr><td><b>{_esc(k)}</b></td><td>{_esc(v)}</td></tr>" for k, v in rows) + "</table>"
        if not data.total:
            html += "<p><b>No inspections in this range.</b></p>"
        if data.error_reasons:
            html += "<p><b>ERROR reasons</b><br>" + "<br>".join(f"{n}× {_esc(r)}" for r, n in data.error_reasons) + "</p>"
        self.summary.setText(html)
        for p in (self.pareto, self.ng_plot, self.rate_plot):
            p.clear()
        if data.per_class:
            x = np.arange(len(data.per_class))
            self.pareto.addItem(pg.BarGraphItem(x=x, height=[n for _, n in data.per_class], width=0.6, brush="#e57373"))
            self.pareto.getAxis("bottom").setTicks([[(i, class_label(c, 14)) for i, (c, _) in enumerate(data.per_class)]])
        labels, ng_rate, rate = C.timeline_series(data)
        if labels:
            x = np.arange(len(labels))
            self.ng_plot.plot(x, ng_rate, pen=pg.mkPen("#e57373", width=2), symbol="o" if len(x) == 1 else None)
            self.rate_plot.plot(x, rate, pen=pg.mkPen("#4fc3f7", width=2), symbol="o" if len(x) == 1 else None)
            ticks = [[(i, labels[i]) for i in sorted({0, len(x) // 2, len(x) - 1})]]
            self.ng_plot.getAxis("bottom").setTicks(ticks)
            self.rate_plot.getAxis("bottom").setTicks(ticks)
        self.thumbs.clear()
        for jpg, cap in thumbs:
            img = QImage.fromData(jpg)
            self.thumbs.addItem(QListWidgetItem(QIcon(QPixmap.fromImage(img)), cap))
        self.status.emit(f"report: {data.total} parts ({data.inspections} inspections), {data.ng} NG")

    # ------------------------------------------------------------------------------- export
    def default_name(self, fmt: str) -> str:
        """report_<line>_<date>_<shift or range>.<fmt>: the next shift's export never overwrites this one."""
        flt = self.report_filter()
        line = self.settings["line"] or (flt.source and Path(flt.source).name) or "all"
        preset = self.preset.currentText()
        if flt.t_from is None:
            when = "all" if preset == "Everything" else "lot"
        elif preset == "This shift":
            when = f"{flt.t_from:%Y-%m-%d}_shift-{flt.t_from:%H}-{flt.t_to:%H}"
        elif preset == "Today":
            when = f"{flt.t_from:%Y-%m-%d}"
        else:
            when = f"{flt.t_from:%Y-%m-%d_%H%M}_to_{flt.t_to:%Y-%m-%d_%H%M}"
        stem = "_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", x).strip("-") for x in ("report", line, when))
        return f"{stem}.{fmt}"

    def export_dialog(self, fmt: str):
        folder = Path(self.last_folder or Path.home())
        f, _ = QFileDialog.getSaveFileName(self, f"Export {fmt.upper()} report", str(folder / self.default_name(fmt)),
                                           f"{fmt.upper()} (*.{fmt})")
        if f:
            self.last_folder = str(Path(f).parent)
            self.export(fmt, f)

    def export(self, fmt: str, out: str):
        db, flt, val = self.db_edit.text(), self.report_filter(), self.val_edit.text().strip()
        self.status.emit(f"writing {out} …")
        self.exported = []

        def work():
            from core.detector import known_models

            return make_report(db, fmt, out, flt, read_validation(val), known_models=known_models())

        def done(files):
            self.exported = list(files)
            self.status.emit("written: " + ", ".join(map(str, files)))

        self.bg.submit(work, done, lambda e: self.status.emit(f"report failed: {e}"))

    def menus(self) -> dict[str, list]:
        a = QAction("Preview report", self)
        a.triggered.connect(self.preview)
        return {"&Reports": [a]}

    def shutdown(self):
        self.bg.shutdown()


def _esc(v) -> str:
    from html import escape

    return escape(str(v))
