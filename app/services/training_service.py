"""Training runs for the views: start, stop, resume and follow child processes (``core.train.runs``).

All file reading (run scans, the growing events files, the output logs) happens in a worker
thread; the GUI thread only receives the results. A run started elsewhere, or left running by an
earlier session of the window, is followed the same way once the scan finds it.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.services.background import Background
from core.train import runs as R
from core.train.events import parse_line
from core.util.paths import app_dir
from core.util.tail import LineTail


def runs_dir(setting: str = "") -> Path:
    return Path(setting) if setting else app_dir() / "runs"


def _reap(procs: dict) -> list[tuple[str, int]]:
    """Poll child processes (off the GUI thread); keep each exit code in its run folder."""
    exits = []
    for key, p in procs.items():
        code = p.poll()
        if code is not None:
            R.record_exit(key, code)
            exits.append((key, code))
    return exits


class TrainingService(QObject):
    runs = Signal(list)            # [RunInfo], newest first, after each scan
    events = Signal(str, list)     # run folder, new event records
    output = Signal(str, str)      # run folder, new output text
    ended = Signal(str, int)       # run folder, exit code (a process this window started)
    failed = Signal(str)           # a message

    def __init__(self, root: str | Path, parent=None, poll_ms: int = 500, scan_ms: int = 5000):
        super().__init__(parent)
        self.root = Path(root)
        self._bg = Background(self, name="training-io")
        self._procs: dict[str, subprocess.Popen] = {}
        self._tails: dict[str, tuple[LineTail, LineTail]] = {}
        self._polling = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)
        self._timer.start(poll_ms)
        self._scan_timer = QTimer(self)
        self._scan_timer.timeout.connect(self.refresh)
        self._scan_timer.start(scan_ms)
        self.last_runs: list[R.RunInfo] = []

    # ----------------------------------------------------------------------------- control
    def start(self, kind: str, settings: dict, out: str | Path | None = None) -> Path:
        """Launch a run (raises ValueError/FileExistsError with a message); returns its folder."""
        out = Path(out) if out else R.next_run_dir(self.root, kind)
        self._procs[str(out)] = R.launch(kind, settings, out)
        self.follow(out)
        self.refresh()
        return out

    def resume(self, run: R.RunInfo) -> None:
        self._procs[str(run.path)] = R.launch(run.kind, {"data": run.dataset}, run.path, resume=True)
        self.follow(run.path)
        self.refresh()

    def stop(self, run: str | Path, hard: bool = False) -> bool:
        return R.stop(run, hard)

    def running_here(self) -> list[str]:
        """Runs this window started whose processes still run."""
        return [k for k, p in self._procs.items() if p.poll() is None]

    def follow(self, run: str | Path) -> None:
        """Emit the run's events and output from the beginning, then as they grow."""
        key = str(run)
        if key not in self._tails:
            self._tails[key] = (LineTail(Path(run) / R.EVENTS_FILE), LineTail(Path(run) / R.OUTPUT_FILE))

    def unfollow(self, run: str | Path) -> None:
        self._tails.pop(str(run), None)

    def refresh(self) -> None:
        root, procs = self.root, dict(self._procs)

        def work():
            # reap this window's children first: a killed child is a zombie until polled, and a scan
            # that saw only its dead pid would report "the process is gone" instead of its exit code
            exits = _reap(procs)
            infos = R.scan_runs(root)
            ended = {k for k, _ in exits}
            late = _reap({k: p for k, p in procs.items() if k not in ended})
            if late:          # one died during the scan: scan again, with its exit code kept
                infos = R.scan_runs(root)
            return infos, exits + late

        self._bg.submit(work, self._scanned, lambda e: self.failed.emit(f"{root}: {e}"))

    def _scanned(self, result):
        infos, exits = result
        self._ended(exits)
        self.last_runs = infos
        for r in infos:  # runs going on elsewhere (or left running before) are followed too
            if r.alive:
                self.follow(r.path)
        self.runs.emit(infos)

    # ------------------------------------------------------------------------------ polling
    def _poll(self):
        if self._polling:
            return
        self._polling = True
        tails = dict(self._tails)
        procs = dict(self._procs)

        def work():
            out = []
            for key, (ev, log) in tails.items():
                recs = [r for r in (parse_line(ln) for ln in ev.read()) if r is not None]
                text = "\n".join(log.read())
                out.append((key, recs, text))
            return out, _reap(procs)

        self._bg.submit(work, self._polled, self._poll_failed)

    def _poll_failed(self, e):
        self._polling = False
        self.failed.emit(str(e))

    def _polled(self, result):
        self._polling = False
        out, exits = result
        for key, recs, text in out:
            if recs:
                self.events.emit(key, recs)
            if text:
                self.output.emit(key, text)
        if self._ended(exits):
            self.refresh()

    def _ended(self, exits: list) -> bool:
        """Emit ``ended`` once per child that exited; whether any had not been reported yet."""
        new = [(k, c) for k, c in exits if self._procs.pop(k, None) is not None]
        for key, code in new:
            self.ended.emit(key, code)
        return bool(new)

    def shutdown(self):
        self._timer.stop()
        self._scan_timer.stop()
        self._bg.shutdown()
