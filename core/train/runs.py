"""Training runs as child processes, and what a run folder says about itself.

A run started here is ``main.py train|distill --cfg RUN/args.yaml --out RUN --events RUN/events.jsonl``
in its own session (it outlives the window that started it): its settings go whole in one file,
checked once by the child (``core.config.read_train_file``); its output is in ``RUN/output.log`` and
``RUN/process.json`` (pid, command, kind, started; the exit code once the launcher saw it end).
``run_info`` reads a folder's state from those files, its events and ``args.yaml``; it never
needs the process that wrote them.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.util.io import atomic_write_text, to_plain, write_json
from core.util.proc import below_normal

from .events import read_events

MAIN = Path(__file__).resolve().parents[2] / "main.py"
PROCESS_FILE = "process.json"
OUTPUT_FILE = "output.log"
EVENTS_FILE = "events.jsonl"
ARGS_FILE = "args.yaml"    # the run's settings: written here at launch, completed by the trainer
QUIET_S = 900   # a run that names no process counts as running while it wrote within this
_LAUNCH_KEYS = ("out", "resume", "events")   # given on the command line: where this launch writes


@dataclass
class RunInfo:
    path: Path
    kind: str = "teacher"            # teacher | student
    status: str = "unknown"          # starting | running | stopped | finished | failed | unknown
    reason: str = ""                 # why it failed
    dataset: str = ""
    model: str = ""
    teacher: str = ""
    epochs: int = 0
    epoch: int = 0                   # epochs finished
    best_map50: float | None = None
    best_map50_95: float | None = None
    started: float = 0.0
    pid: int | None = None
    args: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def alive(self) -> bool:
        return self.status in ("starting", "running")

    @property
    def resumable(self) -> bool:
        return not self.alive and self.status in ("stopped", "failed") and (self.path / "weights" / "last.pt").is_file()

    @property
    def best_weights(self) -> Path:
        return self.path / "weights" / "best.pt"


def pid_alive(pid: int | None, run_dir: str | Path | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, on Linux, is the training of ``run_dir``."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            if "\nState:\tZ" in (proc / "status").read_text():
                return False
            if run_dir is not None:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                return Path(run_dir).name in cmd
        except OSError:
            return False
    return True


def _read_json(p: Path) -> dict:
    try:
        d = json.loads(p.read_text())
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def _read_args(run: Path) -> dict:
    try:
        d = yaml.safe_load((run / ARGS_FILE).read_text())
        return d if isinstance(d, dict) else {}
    except (OSError, yaml.YAMLError):
        return {}


def output_tail(run: str | Path, lines: int = 1) -> str:
    """The last non-empty lines of the run's output (the reason a process gave for dying)."""
    try:
        with open(Path(run) / OUTPUT_FILE, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    rows = [ln.strip() for ln in text.replace("\r", "\n").split("\n") if ln.strip()]
    return "\n".join(rows[-lines:])


def _death_reason(proc: dict, run: Path) -> str:
    code = proc.get("exit_code")
    tail = output_tail(run)
    if isinstance(code, int) and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    elif isinstance(code, int):
        how = f"exit code {code}"
    else:
        how = "the process is gone"
    return f"the training process ended before finishing ({how})" + (f": {tail}" if tail else "")


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def run_info(run: str | Path) -> RunInfo:
    """A run folder's state, read from its files."""
    run = Path(run)
    proc = _read_json(run / PROCESS_FILE)
    args = _read_args(run)
    events = read_events(run / EVENTS_FILE)
    info = RunInfo(path=run, args=args, pid=proc.get("pid"), started=float(proc.get("started") or 0.0))
    info.kind = proc.get("kind") or ("student" if args.get("teacher") else "teacher")
    info.dataset = str(args.get("data") or proc.get("data") or "")
    info.model = str(args.get("model") or "")
    info.teacher = str(args.get("teacher") or "")
    info.epochs = int(args.get("epochs") or proc.get("epochs") or 0)
    last = None
    for r in events:
        ev = r.get("event")
        if ev == "start":
            info.started = info.started or float(r.get("time", 0))
            info.epochs = int(r.get("epochs") or info.epochs)
        elif ev == "plan":          # a time budget's re-plan
            info.epochs = int(r.get("epochs") or info.epochs)
        elif ev == "epoch":
            info.epoch = max(info.epoch, int(r.get("epoch", 0)))
        elif ev == "checkpoint" and r.get("best"):
            info.best_map50, info.best_map50_95 = r.get("map50"), r.get("map50_95")
        if ev in ("start", "end", "error"):
            last = r
    if not info.started:
        try:
            info.started = (run / ARGS_FILE).stat().st_mtime
        except OSError:
            pass
    if last is not None and last["event"] == "start" and last.get("pid") and not proc:
        info.pid = int(last["pid"])  # a run started elsewhere (the command line) names its process
    alive = pid_alive(info.pid, run)
    if info.pid is None and last is not None and last["event"] == "start":
        # written before runs named their process: judged by how recently it wrote
        alive = time.time() - _mtime(run / EVENTS_FILE) < QUIET_S
    # a launch after the last record (a resume) is judged by its process, not by the older record
    relaunched = last is not None and float(proc.get("started") or 0) > float(last.get("time", 0))
    if alive:
        info.status = "running" if last is not None and last["event"] == "start" and not relaunched else "starting"
    elif last is not None and last["event"] == "end" and not relaunched:
        info.status = last.get("status", "stopped")
        if info.status == "finished" and last.get("map50") is not None and info.best_map50 is None:
            info.best_map50, info.best_map50_95 = last.get("map50"), last.get("map50_95")
    elif last is not None and last["event"] == "error" and not relaunched:
        info.status, info.reason = "failed", str(last.get("message", "error"))
    elif proc or last is not None:
        info.status, info.reason = "failed", _death_reason(proc, run)
    return info


def scan_runs(root: str | Path) -> list[RunInfo]:
    """Every run folder under ``root`` (depth 1 or 2: ``root/run`` or ``root/train/exp``), newest first."""
    root = Path(root)
    found = []
    if not root.is_dir():
        return found
    for d in root.iterdir():
        if not d.is_dir():
            continue
        if _is_run(d):
            found.append(run_info(d))
        else:
            found += [run_info(e) for e in d.iterdir() if e.is_dir() and _is_run(e)]
    return sorted(found, key=lambda r: r.started, reverse=True)


def _is_run(d: Path) -> bool:
    return any((d / f).exists() for f in (PROCESS_FILE, ARGS_FILE, EVENTS_FILE))


def command(kind: str, settings: dict, out: str | Path, resume: bool = False, python: str | None = None) -> list[str]:
    """The command line of a run: ``kind`` teacher (``train``) or student (``distill``). A new run's
    ``settings`` (``TrainConfig`` keys) are written to ``out/args.yaml`` for ``--cfg``; a resumed one
    reads them from its checkpoint."""
    if kind not in ("teacher", "student"):
        raise ValueError(f"unknown run kind '{kind}'")
    out = Path(out)
    cmd = [python or sys.executable, str(MAIN), "train" if kind == "teacher" else "distill"]
    if resume:
        data = settings.get("data") or _read_args(out).get("data")
        return cmd + ["--data", str(data), "--out", str(out), "--events", str(out / EVENTS_FILE), "--resume"]
    if not settings.get("data"):
        raise ValueError("choose a dataset first")
    if kind == "student" and not settings.get("teacher"):
        raise ValueError("a student run needs a teacher")
    cfg = {k: v for k, v in settings.items() if v is not None and k not in _LAUNCH_KEYS
           and not (kind == "student" and k == "model")}   # a student has its teacher's architecture
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / ARGS_FILE, yaml.safe_dump(to_plain(cfg), sort_keys=False, allow_unicode=True))
    return cmd + ["--cfg", str(out / ARGS_FILE), "--out", str(out), "--events", str(out / EVENTS_FILE)]


def launch(kind: str, settings: dict, out: str | Path, resume: bool = False) -> subprocess.Popen:
    """Start a run in a child process of its own session, at low priority (a live inspection beside
    it keeps its pace: ``core.util.proc``); its output goes to ``out/output.log``."""
    out = Path(out)
    if not resume and (out / "weights" / "last.pt").exists():
        raise FileExistsError(f"{out} already holds a run; resume it or choose another folder")
    cmd, popen_kw = below_normal(command(kind, settings, out, resume))   # the line keeps the CPU first
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t0 = time.time()  # before the child can write its first record
    with open(out / OUTPUT_FILE, "ab") as log:
        log.write(f"\n$ {' '.join(cmd)}\n".encode())
        log.flush()
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd=str(MAIN.parent), env=env, **popen_kw)
    write_json(out / PROCESS_FILE, {"pid": p.pid, "command": cmd, "kind": kind, "started": t0,
                                    "data": settings.get("data") or "", "epochs": settings.get("epochs")})
    return p


def record_exit(run: str | Path, code: int) -> None:
    """The launcher saw the process end: keep its exit code beside the pid."""
    p = Path(run) / PROCESS_FILE
    d = _read_json(p)
    if d:
        d["exit_code"] = int(code)
        write_json(p, d)


def stop(run: str | Path, hard: bool = False) -> bool:
    """Ask the run's process to stop (SIGTERM: it saves a resumable ``last.pt``); ``hard``: SIGKILL."""
    pid = run_info(run).pid
    if not pid_alive(pid, run):
        return False
    os.kill(pid, signal.SIGKILL if hard else signal.SIGTERM)
    return True


def delete(run: str | Path) -> None:
    info = run_info(run)
    if info.alive:
        raise RuntimeError(f"{run}: the run is still going; stop it first")
    shutil.rmtree(run)


def newest_teacher(runs: list[RunInfo], dataset: str = "") -> RunInfo | None:
    """The newest finished teacher run (for ``dataset`` when given) that has a best.pt."""
    for r in sorted(runs, key=lambda r: r.started, reverse=True):
        if r.kind == "teacher" and r.status == "finished" and r.best_weights.is_file() \
                and (not dataset or r.dataset == dataset):
            return r
    return None


def next_run_dir(root: str | Path, kind: str) -> Path:
    """``root/teacher-YYYYmmdd-HHMMSS`` (or student-…), unique."""
    base = Path(root) / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    p, k = base, 2
    while p.exists():
        p, k = Path(f"{base}-{k}"), k + 1
    return p


class RunHistory:
    """The curves of one run, accumulated from its events (fed whole or one record at a time)."""

    def __init__(self, events: list[dict] | None = None):
        self.epochs: list[int] = []
        self.terms: dict[str, list[float]] = {}   # loss term -> value per finished epoch
        self.kd_lambda: list[float] = []
        self.val_epochs: list[int] = []
        self.map50: list[float] = []
        self.map50_95: list[float] = []
        self.images_per_s: float | None = None
        self.epoch_times: list[float] = []        # when each epoch record came
        self.progress: dict = {}
        self.total_epochs = 0
        self.last_time = 0.0
        self.n_train = 0
        self.n_val = 0
        self.val_interval = 1
        self.val_images = 0                       # images each validation runs through the model
        self._epoch_pts: list[tuple[float, int]] = []   # (time, batches done) in the running epoch
        self._s_per_batch: float | None = None    # the last finished epoch's training pace
        self._train_end: float | None = None      # when the running epoch's last batch was done
        self._overheads: list[tuple[bool, float]] = []  # (validated, s from last batch to epoch end)
        for r in events or []:
            self.feed(r)

    def feed(self, r: dict) -> None:
        ev = r.get("event")
        self.last_time = float(r.get("time", self.last_time))
        if ev == "start":
            self.total_epochs = int(r.get("epochs") or self.total_epochs)
            self.n_train = int(r.get("n_train") or 0)
            self.n_val = int(r.get("n_val") or 0)
            self.val_interval = max(int(r.get("val_interval") or 1), 1)
            self.val_images = int(r.get("val_images") or self.n_val)
            self._epoch_pts, self._train_end = [], None
        elif ev == "progress":
            if self.progress.get("epoch") != r.get("epoch"):
                self._epoch_pts = []
            self.progress = r
            self.images_per_s = r.get("images_per_s", self.images_per_s)
            self.total_epochs = int(r.get("epochs") or self.total_epochs)
            done, batches = int(r.get("done", 0)), int(r.get("batches", 0) or 0)
            self._epoch_pts.append((self.last_time, done))
            if batches and done >= batches:
                self._train_end = self.last_time
                (t0, d0), (t1, d1) = self._epoch_pts[0], self._epoch_pts[-1]
                if d1 > d0 and t1 > t0:
                    self._s_per_batch = (t1 - t0) / (d1 - d0)
        elif ev == "epoch":
            e = int(r["epoch"])
            if e in self.epochs:  # a resumed run repeats no epoch, but be safe
                return
            self.epochs.append(e)
            self.epoch_times.append(self.last_time)
            if self._train_end is not None:
                self._overheads.append((bool(self.val_epochs) and self.val_epochs[-1] == e,
                                        self.last_time - self._train_end))
                self._train_end = None
            for k in ("cls", "iou", "dfl", "kd_cls", "kd_dfl", "kd_feat"):
                if k in r:
                    self.terms.setdefault(k, []).append(float(r[k]))
            if r.get("kd_lambda") is not None:
                self.kd_lambda.append(float(r["kd_lambda"]))
            if r.get("images_per_s"):
                self.images_per_s = float(r["images_per_s"])
        elif ev == "plan":       # a time budget re-planned the epochs: the ETA and the counter follow
            self.total_epochs = int(r.get("epochs") or self.total_epochs)
        elif ev == "val":
            self.val_epochs.append(int(r["epoch"]))
            self.map50.append(float(r.get("map50", 0.0)))
            self.map50_95.append(float(r.get("map50_95", 0.0)))

    def eta_s(self) -> float | None:
        """Seconds left, as of the last record: the batches left at the running epoch's pace (else
        the last epoch's), plus the validations and saves left at their measured length (before the
        first one: its images at the pace of the batches, which leaves the first batches' warm-up
        out). None until there is a pace. The batch pace
        alone left validation out, which on a CPU takes as long per image as training or longer
        (200 + 95 images: 30 s of batches, then 85 s of validation; benchmarks/eta_replay.py)."""
        p, total = self.progress, self.total_epochs
        batches = int(p.get("batches", 0) or 0)
        if not p or not total or not batches:
            return None
        spb = self._s_per_batch
        pts = self._epoch_pts
        if len(pts) >= 2 and pts[-1][1] > pts[0][1] and pts[-1][0] > pts[0][0]:
            spb = (pts[-1][0] - pts[0][0]) / (pts[-1][1] - pts[0][1])
        if spb is None:
            return None
        finished = max(self.epochs) if self.epochs else 0
        running = max(int(p.get("epoch", 0)), finished)          # 0-based
        done = int(p.get("done", 0)) if int(p.get("epoch", -1)) == running else 0
        val_s = [s for v, s in self._overheads if v][-3:]
        plain_s = [s for v, s in self._overheads if not v][-3:]
        if val_s:
            per_val = sum(val_s) / len(val_s)
        else:
            ips = self.n_train / (batches * spb) if self.n_train else self.images_per_s
            per_val = self.val_images / ips if ips else 0.0
        per_plain = sum(plain_s) / len(plain_s) if plain_s else 0.0
        n_val = sum((e + 1) % self.val_interval == 0 or e == total - 1 for e in range(running, total))
        eta = max((total - running) * batches - done, 0) * spb + n_val * per_val + (total - running - n_val) * per_plain
        if self._train_end is not None:   # validating now: the part of it already gone
            eta -= self.last_time - self._train_end
        return max(eta, 0.0)
