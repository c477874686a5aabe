"""Child processes the window starts beside the line (training runs, runtime exports): at the lowest
priority, so a live inspection on the same CPU keeps its pace. ``benchmarks/train_beside_live.py``,
2 cores: beside a training child at normal priority the live view's frames took 16 to 30 times as
long; at ``nice 10`` 1.0 to 1.4 times (two runs); at ``nice 19`` 1.0 to 1.07 times, and at 10
frames a second that child trained faster than the ``nice 10`` one in the same run (2.13 against
1.33 images/s)."""
from __future__ import annotations

import shutil
import subprocess
import sys

NICENESS = 19   # POSIX: the lowest; it still takes every core the line leaves idle


def below_normal(cmd: list[str]) -> tuple[list[str], dict]:
    """``cmd`` as started at low priority in a session of its own, and the ``Popen`` keywords.

    POSIX: through ``nice`` (it execs, so the pid is the program's), not a ``preexec_fn``, which is
    not safe in a process with threads (the window's). Windows: ``BELOW_NORMAL_PRIORITY_CLASS`` (not
    measured there), which the child's own children (data-loader workers) inherit, as a niceness is."""
    if sys.platform == "win32":
        return cmd, {"creationflags": subprocess.BELOW_NORMAL_PRIORITY_CLASS}
    nice = shutil.which("nice")
    return ([nice, "-n", str(NICENESS), *cmd] if nice else cmd), {"start_new_session": True}
