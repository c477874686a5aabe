"""The PLC handshake as the PLC sees it: Trigger written -> ResultValid read, over OPC UA or Modbus TCP,
on the demo line, measured by a PLC in another process and another stack (tests/plc_node/plc.js:
node-opcua, modbus-serial; `npm ci --prefix tests/plc_node` first).

    python benchmarks/plc_handshake.py [--transport opcua|modbus] [--pattern documented|held]
        [--triggers 1000] [--weights demo | PATH.xml] [--imgsz 256] [--fps 30] [--load]
        [--edges 1000] [--out result.json] [--source "pylon://?trigger=software" --camera Width=640 ...]

With ``--source`` an industrial camera in software-trigger mode (PYLON_CAMEMU=1 gives pylon's
emulated one), each Trigger fires the camera and that frame is judged: no wait for a frame period,
but the exposure and the transfer instead. ``--camera`` sets its features (the recipe's camera).

The round trip holds the PLC's write, the station's answer, the wait for the next camera frame (the
demo camera runs at ``--fps``: half a frame period on average), the model, and the PLC's reads until
it sees ResultValid. ``--load`` runs a second process that keeps both cores busy with PyTorch
matrix products (a line PC that also trains). ``--edges N`` also writes N Trigger edges as fast as
the client can, then reads every result: each edge must be answered (judged, or refused with
ErrorCode 2). Printed: median, p99 and max, beside the station's median model time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PLC = ROOT / "tests" / "plc_node" / "plc.js"

LOAD = """
import torch, time
torch.set_num_threads(2)
a = torch.randn(768, 768)
while True:
    a = torch.tanh(a @ a) * 0.5
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_plc(transport: str, target: str, pattern: str, count: int) -> dict:
    node = shutil.which("node")
    if node is None or not (PLC.parent / "node_modules").is_dir():
        sys.exit("needs node and tests/plc_node's packages: npm ci --prefix tests/plc_node")
    p = subprocess.run([node, str(PLC), "--transport", transport, "--url", target, "--pattern", pattern,
                        "--count", str(count), "--timeout", "60"], capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"the PLC failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def ms(values: list[float]) -> dict:
    v = sorted(values)
    return {"median": round(statistics.median(v), 1), "p99": round(v[min(len(v) - 1, int(0.99 * len(v)))], 1),
            "max": round(v[-1], 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--transport", choices=["opcua", "modbus"], default="opcua")
    ap.add_argument("--pattern", choices=["documented", "held"], default="documented")
    ap.add_argument("--triggers", type=int, default=1000)
    ap.add_argument("--weights", default="demo", help="demo, or an exported model (e.g. an OpenVINO .xml)")
    ap.add_argument("--imgsz", type=int, default=256)
    ap.add_argument("--fps", type=float, default=30.0, help="the demo camera's frame rate")
    ap.add_argument("--load", action="store_true", help="a second process keeps both cores busy")
    ap.add_argument("--edges", type=int, default=0, help="also write N Trigger edges as fast as the client can")
    ap.add_argument("--out", default="")
    ap.add_argument("--source", default="demo", help="demo, or a camera such as pylon://?trigger=software")
    ap.add_argument("--camera", nargs="*", default=[], metavar="FEATURE=VALUE",
                    help="the camera's settings (SFNC), e.g. Width=640 Height=480 PixelFormat=BayerRG8")
    a = ap.parse_args()

    from core.detector import Detector

    tmp = Path(tempfile.mkdtemp(prefix="handshake_"))
    port = free_port()
    target = f"opc.tcp://127.0.0.1:{port}" if a.transport == "opcua" else f"127.0.0.1:{port}"
    from core.inspect.cameras.settings import FEATURES
    from core.inspect.recipe import Recipe

    camera = {k: FEATURES[k](v) for k, v in (kv.split("=", 1) for kv in a.camera)}
    load = subprocess.Popen([sys.executable, "-c", LOAD]) if a.load else None
    s = Detector(a.weights).inspect(a.source, db=str(tmp / "r.sqlite"), demo_fps=a.fps, imgsz=a.imgsz,
                                    outputs={a.transport: target}, recipe=Recipe(camera=camera))
    s.start()
    try:
        time.sleep(2.0 if load else 0.5)
        run_plc(a.transport, target, a.pattern, 10)          # warm-up: the model, first frames, the client
        t0 = time.perf_counter()
        out = run_plc(a.transport, target, a.pattern, a.triggers)
        wall = time.perf_counter() - t0
        station = list(s.outputs[0].round_trips_ms)[-min(a.triggers, 1000):]
        model = s.snapshot().summary["median_total_ms"]
        model_id = getattr(s.predictor, "model_id", a.weights)
        burst = run_plc(a.transport, target, "burst", a.edges) if a.edges else None
    finally:
        s.stop()
        if load is not None:
            load.kill()
    ids = [r["InspectionId"] for r in out["results"]]
    first = ids[0]
    res = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.node()}, {platform.processor() or platform.machine()}",
           "transport": a.transport, "pattern": a.pattern, "triggers": a.triggers, "model": model_id,
           "imgsz": a.imgsz, "source": a.source, "camera": camera,
           "camera_fps": a.fps if a.source == "demo" else None, "second_process_load": a.load,
           "every_trigger_answered_once": ids == list(range(first, first + a.triggers)),
           "errors": sum(r["ErrorCode"] != 0 for r in out["results"]),
           "trigger_to_result_valid_ms": ms(out["round_trips_ms"]),
           "station_trigger_to_valid_ms": ms(station), "model_median_ms": round(model, 1),
           "half_frame_period_ms": round(500 / a.fps, 1) if a.source == "demo" else None, "triggers_per_s": round(a.triggers / wall, 1),
           "load_average_1min_at_end": round(os.getloadavg()[0], 1)}
    if burst is not None:
        codes = [r["ErrorCode"] for r in burst["results"]]
        bids = [r["InspectionId"] for r in burst["results"]]
        res["edges"] = {"written": a.edges, "write_ms": round(burst["burst_ms"], 1), "answered": len(bids),
                        "answered_once_in_order": bids == list(range(bids[0], bids[0] + a.edges)),
                        "judged": codes.count(0), "refused_code_2": codes.count(2)}
    print(json.dumps(res, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
