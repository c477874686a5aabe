"""Cost of one training step (forward, loss, backward, SGD) at batch 16, 320x320, per variant.

    python benchmarks/train_step.py --threads 2 --runs 10

Variants: fp32 (NCHW, the trainer's default), fp32 channels-last (`channels_last=true`; the stem
kept NCHW, SDGASNet.to_channels_last_), bf16 autocast, bf16 autocast channels-last. Steps are
interleaved round-robin in one process, so the ratios share the machine's state; the first step
of each variant is a warm-up and not timed.
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

VARIANTS = {"fp32": (False, False), "fp32 channels-last": (False, True),
            "bf16": (True, False), "bf16 channels-last": (True, True)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=6, help="timed steps per variant")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    x = torch.rand(a.batch, 3, a.imgsz, a.imgsz)
    s = a.imgsz
    t = torch.tensor([[b, b % 6, 0.15 * s, 0.15 * s, 0.45 * s, 0.4 * s] for b in range(a.batch)])
    crit = DetectionLoss(6)
    runs = {}
    for name in a.variants:
        torch.manual_seed(0)
        m = build_model("sdgasnet-n", 6).train()
        if VARIANTS[name][1]:
            m.to_channels_last_()
        runs[name] = (m, torch.optim.SGD(m.parameters(), lr=0.001), [])
    for r in range(a.runs + 1):
        for name, (m, opt, ts) in runs.items():
            st = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=VARIANTS[name][0]):
                out = m(x)
            loss, _ = crit(out, t)
            loss.backward()
            opt.step()
            opt.zero_grad()
            if r:
                ts.append(time.perf_counter() - st)
    base = statistics.median(runs[a.variants[0]][2])
    for name, (_, _, ts) in runs.items():
        med = statistics.median(ts)
        print(f"{name:20s} {med:.3f} s/step  speed-up over {a.variants[0]} {base / med:.2f}x")


if __name__ == "__main__":
    main()
