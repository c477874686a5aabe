"""Child processes the window starts beside the line (training runs, runtime exports): below normal
priority, so a live inspection on the same CPU keeps its pace. ``benchmarks/train_beside_live.py``,
2 cores: beside a training child at normal priority the live view's frames took 16 to 30 times as
long; at ``nice 10`` they kept their time alone at 10 frames a second, and the child trained at 58%
of its speed alone."""
from __future__ import annotations

import shutil
import subprocess
import sys

NICENESS = 10   # POSIX: the scheduler gives a nice-10 process about a tenth of a normal one's share


def below_normal(cmd: list[str]) -> tuple[list[str], dict]:
    """``cmd`` as started below normal priority in a session of its own, and the ``Popen`` keywords.

    POSIX: through ``nice`` (it execs, so the pid is the program's), not a ``preexec_fn``, which is
    not safe in a process with threads (the window's). Windows: ``BELOW_NORMAL_PRIORITY_CLASS``,
    which the child's own children (data-loader workers) inherit, as they inherit a niceness."""
    if sys.platform == "win32":
        return cmd, {"creationflags": subprocess.BELOW_NORMAL_PRIORITY_CLASS}
    nice = shutil.which("nice")
    return ([nice, "-n", str(NICENESS), *cmd] if nice else cmd), {"start_new_session": True}
