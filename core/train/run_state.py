"""What a run carries besides its weights: the stop request (SIGTERM / Ctrl-C) and the random
state that an exact resume restores."""
from __future__ import annotations

import os
import random
import signal
import sys

import numpy as np
import torch


class StopFlag:
    """SIGTERM / Ctrl-C: the first asks to stop after the current step; a second abandons it."""

    def __init__(self):
        self.requested = False
        self._old = {}

    def install(self):
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        self._pid = os.getpid()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        # A DataLoader worker forked after install() inherits this handler until its
        # worker_init_fn (quiet_worker) runs; a Ctrl-C to the process group in that window must
        # not make the worker report a stop, or stop it: the main process does the stopping.
        if os.getpid() != self._pid:
            return
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        sys.stderr.write(f"\n{signal.Signals(signum).name}: stopping after the current step "
                         "(send again to abandon it); last.pt will be written\n")

    def restore(self):
        for sig, h in self._old.items():
            signal.signal(sig, h)
        self._old.clear()


def rng_state() -> dict:
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "numpy_pos": int(np_state[2]), "python": [py_state[0], list(py_state[1]), py_state[2]]}


def set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    np.random.set_state(("MT19937", s["numpy_keys"].numpy().astype(np.uint32), s["numpy_pos"], 0, 0.0))
    random.setstate((s["python"][0], tuple(s["python"][1]), s["python"][2]))
