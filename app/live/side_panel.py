"""Beside the frame: the verdict, the counters and plots, which model judges, where the records go,
the line connections' state and the last error."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.live.panels import Counters, Plots, VerdictBanner


class SidePanel(QWidget):
    def __init__(self, model_label: QLabel, parent=None):
        """``model_label``: the model choice's own label (it names the model and its runtime)."""
        super().__init__(parent)
        self.banner = VerdictBanner()
        self.counters = Counters()
        self.plots = Plots()
        self.where_label = QLabel("")
        self.where_label.setWordWrap(True)
        self.where_label.setStyleSheet("color:#78909c; font-size:11px")
        self.outputs_label = QLabel("")
        self.outputs_label.setWordWrap(True)
        self.outputs_label.setObjectName("outputs_label")
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setObjectName("error_label")
        self.error_label.setStyleSheet("color:#ff8a65")
        lay = QVBoxLayout(self)
        lay.addWidget(self.banner)
        lay.addWidget(self.counters)
        lay.addWidget(self.plots, 1)
        for w in (model_label, self.where_label, self.outputs_label, self.error_label):
            lay.addWidget(w)
        self.setMaximumWidth(640)

    def update_from(self, snap) -> None:
        """``snap``: the run's ``StatsSnapshot``."""
        self.counters.update_from(snap)
        self.plots.update_from(snap)

    def show_where(self, records: str, options) -> None:
        """Where the run's records and images go (``options``: its ``InspectOptions``)."""
        self.where_label.setText(f"records: {records}" + (f" (line {options.line})" if options.line else "")
                                 + f"\nimages: {options.save_ng} ({'all' if options.save_all else 'NG'})")

    def show_outputs(self, states) -> None:
        """The line connections' states (``OutputState``), amber while any is down or failing."""
        bad = any(not st.connected or st.errors for st in states)
        self.outputs_label.setStyleSheet(f"color:{'#ffb74d' if bad else '#81c784'}; font-size:11px")
        self.outputs_label.setText("\n".join(st.line() for st in states))
