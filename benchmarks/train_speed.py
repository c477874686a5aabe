"""Training images/s on this CPU: SD-GASNet-n in fp32 and bf16 against Ultralytics' YOLO26n trainer.

    benchmarks/peers/setup.sh                      # once: the peers' venv (Ultralytics)
    python benchmarks/train_speed.py --steps 30 --rounds 2

Same data (NEU-DET's training split; Ultralytics reads the YOLO copy that
benchmarks/peers/train_peers.py converts), 320 px, batch 16, 2 loader workers, no validation; each
variant times ``--steps`` training steps after ``--warmup``, in ``--rounds`` rounds (the order
reversed each round, so machine drift falls on all alike). Our steps include the data loader, the
loss, the backward pass, the optimizer and the EMA, as in a real run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "peers"))
NEU = ROOT.parent / "shared" / "data" / "neu-det"
PEER_PY = ROOT / "benchmarks" / "peers" / ".venv" / "bin" / "python"


def ours(bf16: bool, a) -> float:
    from core.config import TrainConfig
    from core.train.trainer import train

    stamps = []

    def cb(trainer, event, data):
        if event == "batch":
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        train(TrainConfig(data=str(NEU), epochs=1, imgsz=a.imgsz, batch=a.batch, workers=2, device="cpu",
                          cpu_bf16=bf16, precise_bn_images=0, max_iters=a.warmup + a.steps + 1,
                          out=str(Path(tmp) / "run")), callbacks=[cb])
    timed = stamps[a.warmup:a.warmup + a.steps + 1]
    return (len(timed) - 1) * a.batch / (timed[-1] - timed[0])


def peer(model: str, a) -> float:
    from train_peers import yolo_data

    data = yolo_data(Path(a.root))
    out = subprocess.run([str(PEER_PY), str(ROOT / "benchmarks" / "peers" / "train_speed_peer.py"), "--data", str(data),
                          "--model", model, "--imgsz", str(a.imgsz), "--batch", str(a.batch), "--steps", str(a.steps),
                          "--warmup", str(a.warmup)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["images_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--root", default=str(ROOT.parent / "bench_runs" / "peers"))
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    variants = {"SD-GASNet-n fp32": lambda: ours(False, a), "SD-GASNet-n bf16": lambda: ours(True, a),
                "YOLO26n (Ultralytics, fp32)": lambda: peer("yolo26n", a)}
    got = {k: [] for k in variants}
    for r in range(a.rounds):
        for name in (list(variants) if r % 2 == 0 else list(reversed(variants))):
            got[name].append(variants[name]())
            print(f"round {r + 1}: {name}: {got[name][-1]:.2f} images/s", flush=True)
    ref = statistics.median(got["YOLO26n (Ultralytics, fp32)"])
    rows = {k: {"images_per_s": round(statistics.median(v), 2), "runs": [round(x, 2) for x in v],
                "vs_yolo26n": round(statistics.median(v) / ref, 2)} for k, v in got.items()}
    for k, r in rows.items():
        print(f"{k:30s} {r['images_per_s']:7.2f} images/s  {r['vs_yolo26n']:.2f}x YOLO26n")
    if a.json:
        Path(a.json).write_text(json.dumps({"imgsz": a.imgsz, "batch": a.batch, "steps": a.steps, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
