"""The fastest checked runtime of a checkpoint on this CPU, prepared once and cached by its hash.

    choice = cached_choice(weights_hash)            # None until prepared
    choice = prepare_fastest(weights, weights_hash, export, data=D, log=print)
    choice.path                                     # the export to run, or None: run the .pt

Candidates, best first: OpenVINO INT8 (calibrated on the model's own data, kept only when its mAP50
on that data's validation split is within ``INT8_MAX_MAP50_DROP`` of the weights'), then OpenVINO
fp32 (kept when its scores match the weights' within ``FP32_MAX_SCORE_DEV`` on the parity images).
The kept export is timed against PyTorch on this machine, frame by frame in turns (a load that
comes and goes weighs on both alike), and runs only when it is faster. The
choice, its checks and timings are written beside it (``choice.json``); the cache lives in the
application folder (``<app>/runtimes/<hash>/``) and a folder appears there whole or not at all.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.util.io import write_json
from core.util.paths import app_dir

INT8_MAX_MAP50_DROP = 0.01      # what an INT8 export may lose on the model's validation data
FP32_MAX_SCORE_DEV = 1e-3       # an fp32 export's largest score deviation from the weights
TIMED_RUNS = 15                 # inferences timed per runtime (after 3 warm-up runs)


@dataclass
class RuntimeChoice:
    runtime: str                    # "openvino-int8", "openvino-fp32" or "pytorch-fp32"
    path: str | None                # the export that runs; None: the weights themselves (PyTorch)
    why: str                        # one line for the person who chose the model
    latency_ms: dict = field(default_factory=dict)    # runtime -> median ms per frame on this machine
    checks: dict = field(default_factory=dict)        # runtime -> parity / accuracy figures
    prepared: str = ""

    def describe(self) -> str:
        """E.g. 'OpenVINO INT8'."""
        return {"openvino-int8": "OpenVINO INT8", "openvino-fp32": "OpenVINO fp32",
                "pytorch-fp32": "PyTorch fp32"}.get(self.runtime, self.runtime)

    def timing(self) -> str:
        """E.g. 'chosen on 2026-12-06: 12 ms/frame, PyTorch 41 ms' (the machine's load then included)."""
        ms, base = self.latency_ms.get(self.runtime), self.latency_ms.get("pytorch-fp32")
        when = f"chosen {self.prepared[:16].replace('T', ' ')}" if self.prepared else "chosen"
        if ms is None:
            return when
        return f"{when}: {ms:.0f} ms/frame" + (f", PyTorch {base:.0f} ms" if base and self.runtime != "pytorch-fp32"
                                               else "")


def cache_root() -> Path:
    return app_dir() / "runtimes"


def cache_entry(weights_hash: str) -> Path:
    return cache_root() / str(weights_hash)[:16]


def cached_choice(weights_hash: str) -> RuntimeChoice | None:
    """The choice made earlier for these weights, when its export is still there."""
    if not weights_hash:
        return None
    f = cache_entry(weights_hash) / "choice.json"
    try:
        c = RuntimeChoice(**json.loads(f.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if c.path is not None:
        c.path = str(f.parent / c.path)
        if not Path(c.path).exists():
            return None
    return c


def openvino_here() -> bool:
    try:
        import openvino  # noqa: F401
        import nncf  # noqa: F401
    except ImportError:
        return False
    return True


def prepare_fastest(weights: str | Path, weights_hash: str, export, data: str | None = None,
                    log=print) -> RuntimeChoice:
    """Export, check, time and cache; ``export(format, int8=, data=, out=, log=)`` is the facade's
    ``Detector.export``. Returns the cached choice when there is one."""
    have = cached_choice(weights_hash)
    if have is not None:
        return have
    if not weights_hash:
        raise ValueError(f"{weights}: no weights hash in the checkpoint; it cannot be cached")
    entry = cache_entry(weights_hash)
    entry.parent.mkdir(parents=True, exist_ok=True)
    for old in entry.parent.glob(f".{entry.name}-*"):   # left by a preparation that was killed
        if time.time() - old.stat().st_mtime > 3600:
            shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        choice = _choose(Path(weights), export, data, tmp, log)
        write_json(tmp / "choice.json", {**asdict(choice), "path": Path(choice.path).name if choice.path else None})
        try:
            os.replace(tmp, entry)
        except OSError:       # prepared meanwhile (another window, the CLI): that one is kept
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return cached_choice(weights_hash) or choice


def _choose(weights: Path, export, data: str | None, tmp: Path, log) -> RuntimeChoice:
    checks: dict = {}
    kept: tuple[str, Path] | None = None
    notes = []
    if not openvino_here():
        notes.append("OpenVINO is not installed")
    else:
        if data:
            log(f"preparing OpenVINO INT8, calibrated and checked on {data} …")
            r = export("openvino", int8=True, data=data, out=str(tmp / "openvino-int8"), log=log)
            acc = r.accuracy or {}
            drop = acc["fp32"]["map50"] - acc["int8"]["map50"] if acc else None
            checks["openvino-int8"] = {"accuracy": acc, "parity": vars(r.parity) if r.parity else None,
                                       "map50_drop": drop}
            if drop is not None and drop <= INT8_MAX_MAP50_DROP:
                kept = ("openvino-int8", Path(r.path))
            else:
                notes.append(f"INT8 lost {drop:.3f} mAP50 on {data} (at most {INT8_MAX_MAP50_DROP} allowed)"
                             if drop is not None else "INT8 accuracy not measured")
                shutil.rmtree(r.path, ignore_errors=True)
        else:
            notes.append("no data of its own here to calibrate INT8 on")
        if kept is None:
            log("preparing OpenVINO fp32 …")
            r = export("openvino", data=data, out=str(tmp / "openvino-fp32"), log=log)
            dev = r.parity.max_score_dev if r.parity else None
            checks["openvino-fp32"] = {"parity": vars(r.parity) if r.parity else None}
            if dev is not None and dev <= FP32_MAX_SCORE_DEV:
                kept = ("openvino-fp32", Path(r.path))
            else:
                notes.append(f"the fp32 export deviates by {dev} in scores" if dev is not None
                             else "fp32 parity not measured")
                shutil.rmtree(r.path, ignore_errors=True)
    if kept is None:
        return RuntimeChoice("pytorch-fp32", None, "; ".join(notes), {}, checks, _now())
    latency = time_runtimes({"pytorch-fp32": weights, kept[0]: kept[1]})
    log("timed on this machine, in turns: " + ", ".join(f"{k} {v:.1f} ms" for k, v in latency.items()))
    if latency[kept[0]] < latency["pytorch-fp32"]:
        why = "the fastest checked runtime on this machine" + (f" ({'; '.join(notes)})" if notes else "")
        return RuntimeChoice(kept[0], str(kept[1]), why, latency, checks, _now())
    notes.append(f"{kept[0]} was not faster here")
    shutil.rmtree(kept[1], ignore_errors=True)
    return RuntimeChoice("pytorch-fp32", None, "; ".join(notes), latency, checks, _now())


def time_runtimes(paths: dict, runs: int = TIMED_RUNS) -> dict:
    """Median ms of one frame (preprocess, model, NMS; a demo-line frame) of each runtime on the CPU,
    timed in turns, frame by frame, so that a load that comes and goes on the PC weighs on all alike;
    on a thread of its own, as the inspection's inference thread runs them (PyTorch's two OpenMP
    threads on a busy 2-core PC took 650 ms a frame from the main thread, 48 ms from another)."""
    import threading

    out: dict = {}
    t = threading.Thread(target=lambda: out.update(_time_in_turns(paths, runs)), name="runtime-timing")
    t.start()
    t.join()
    if not out:
        raise RuntimeError("timing the runtimes failed")
    return out


def _time_in_turns(paths: dict, runs: int) -> dict:
    from core.data.synth import demo_frame
    from core.infer.backends import open_backend
    from core.infer.predictor import Predictor

    preds = {k: Predictor.of_backend(open_backend(w, "cpu")) for k, w in paths.items()}
    img = demo_frame(0, 0)[0]
    for p in preds.values():
        for _ in range(3):
            p(img)
    ts: dict = {k: [] for k in preds}
    for _ in range(runs):
        for k, p in preds.items():
            t0 = time.perf_counter()
            p(img)
            ts[k].append((time.perf_counter() - t0) * 1e3)
    return {k: round(statistics.median(v), 2) for k, v in ts.items()}


def _now() -> str:
    import datetime as dt

    return dt.datetime.now().astimezone().isoformat(timespec="seconds")
