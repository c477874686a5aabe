"""The PLC handshake's round trip: a PLC (an OPC UA client in this process) sets Trigger and waits
for ResultValid, on the demo line, through the station's OPC UA server.

    python benchmarks/plc_handshake.py [--triggers 200] [--weights demo] [--imgsz 256] [--fps 30]
                                       [--runtime pt|onnx] [--out handshake.json]
                                       [--source "pylon://?trigger=software" --camera Width=640 ...]

With ``--source`` an industrial camera in software-trigger mode (PYLON_CAMEMU=1 gives pylon's
emulated one), each Trigger fires the camera and that frame is judged: no wait for a frame period,
but the exposure and the transfer instead. ``--camera`` sets its features (the recipe's camera).

The round trip (Trigger written -> ResultValid read) holds: the OPC UA write, the station seeing the
rising edge (it polls every 2 ms), waiting for the next camera frame (the demo camera runs at
``--fps``: half a frame period on average), the model, and the client's read. Printed: median,
p95 and max, beside the median model time of the same frames, so the handshake's own share shows.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def plc(url: str, n: int) -> list[float]:
    from asyncua import Client, ua

    from core.inspect.outputs.opcua import NAMESPACE

    async with Client(url, timeout=10) as c:
        ns = await c.get_namespace_index(NAMESPACE)
        node = {k: c.get_node(f"ns={ns};s=Station.{k}") for k in ("Trigger", "TriggerAck", "ResultValid",
                                                                     "ResultAck", "InspectionId")}

        async def put(name, v):
            await node[name].write_value(ua.DataValue(ua.Variant(v, ua.VariantType.Boolean)))

        async def until(name, v):
            while await node[name].read_value() != v:
                await asyncio.sleep(0.0005)

        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            await put("Trigger", True)
            await until("TriggerAck", True)
            await put("Trigger", False)
            await until("ResultValid", True)
            out.append((time.perf_counter() - t0) * 1e3)
            await put("ResultAck", True)
            await until("ResultValid", False)
            await put("ResultAck", False)
            await until("TriggerAck", False)
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--triggers", type=int, default=200)
    ap.add_argument("--weights", default="demo")
    ap.add_argument("--imgsz", type=int, default=256)
    ap.add_argument("--fps", type=float, default=30.0, help="the demo camera's frame rate")
    ap.add_argument("--runtime", choices=["pt", "onnx"], default="pt")
    ap.add_argument("--out", default="")
    ap.add_argument("--source", default="demo", help="demo, or a camera such as pylon://?trigger=software")
    ap.add_argument("--camera", nargs="*", default=[], metavar="FEATURE=VALUE",
                    help="the camera's settings (SFNC), e.g. Width=640 Height=480 PixelFormat=BayerRG8")
    a = ap.parse_args()

    from core.detector import Detector

    weights = a.weights
    tmp = Path(tempfile.mkdtemp(prefix="handshake_"))
    if a.runtime == "onnx":
        weights = str(Detector(a.weights).export("onnx", imgsz=a.imgsz, out=str(tmp / "m.onnx")).path)
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    from core.inspect.cameras.settings import FEATURES
    from core.inspect.recipe import Recipe

    camera = {k: FEATURES[k](v) for k, v in (kv.split("=", 1) for kv in a.camera)}
    s = Detector(weights).inspect(a.source, db=str(tmp / "r.sqlite"), demo_fps=a.fps, imgsz=a.imgsz,
                                  outputs={"opcua": url}, recipe=Recipe(camera=camera))
    s.start()
    try:
        asyncio.run(plc(url, 10))                    # warm-up: model, first frames, the client's session
        rt = asyncio.run(plc(url, a.triggers))
        station = list(s.outputs[0].round_trips_ms)[-a.triggers:]
        model = s.snapshot().summary["median_total_ms"]
    finally:
        s.stop()
    q = statistics.quantiles(rt, n=20)
    res = {"triggers": a.triggers, "weights": a.weights, "runtime": a.runtime, "imgsz": a.imgsz, "source": a.source,
           "camera": camera, "camera_fps": a.fps if a.source == "demo" else None,
           "round_trip_ms": {"median": round(statistics.median(rt), 1), "p95": round(q[18], 1),
                             "max": round(max(rt), 1)},
           "station_trigger_to_valid_ms": round(statistics.median(station), 1),
           "model_median_ms": round(model, 1),
           "half_frame_period_ms": round(500 / a.fps, 1) if a.source == "demo" else None}
    print(json.dumps(res, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
