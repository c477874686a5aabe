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
        self.where_label = _line("where_label", "color:#78909c; font-size:11px")
        self.outputs_label = _line("outputs_label")      # coloured by the connections' state
        self.error_label = _line("error_label", "color:#ff8a65")
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


def _line(name: str, style: str = "") -> QLabel:
    """An empty label that wraps, named for tests and style sheets."""
    label = QLabel("")
    label.setWordWrap(True)
    label.setObjectName(name)
    label.setStyleSheet(style)
    return label
