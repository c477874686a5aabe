"""Device selection shared by training, validation and inference."""
from __future__ import annotations

import torch


def select_device(device: str | None = "auto") -> torch.device:
    """'auto' -> cuda when available, else cpu. A cuda request without CUDA is an error."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but is not available on this machine (use --device cpu)")
    if device not in ("cpu",) and not str(device).startswith("cuda"):
        raise ValueError(f"unknown device '{device}' (cpu, cuda, cuda:N or auto)")
    return torch.device(device)


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
