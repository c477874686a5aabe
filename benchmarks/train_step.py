"""Cost of one training step (forward, loss, backward, SGD) at batch 16, 320x320, fp32 vs bf16.

    python benchmarks/train_step.py --threads 2
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.model import build_model  # noqa: E402
from core.train.losses import DetectionLoss  # noqa: E402


def step_time(bf16: bool, n: int, imgsz: int, batch: int) -> float:
    torch.manual_seed(0)
    m = build_model("sdgasnet-n", 6).train()
    x = torch.rand(batch, 3, imgsz, imgsz)
    t = torch.tensor([[b, b % 6, 50., 50., 150., 120.] for b in range(batch)])
    crit = DetectionLoss(6)
    opt = torch.optim.SGD(m.parameters(), lr=0.001)
    ts = []
    for _ in range(n):
        s = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = m(x)
        loss, _ = crit(out, t)
        loss.backward()
        opt.step()
        opt.zero_grad()
        ts.append(time.perf_counter() - s)
    return statistics.median(ts)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    f = step_time(False, a.runs, a.imgsz, a.batch)
    b = step_time(True, a.runs, a.imgsz, a.batch)
    print(f"fp32 {f:.3f} s/step, bf16 autocast {b:.3f} s/step, speed-up {f / b:.2f}x")
