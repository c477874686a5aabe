"""Real servers for the line-integration tests, on loopback only: a PostgreSQL cluster and a
Mosquitto broker in a temporary folder, which a test can stop and start again.

In CI (``CI`` set) a missing server program is a failure; elsewhere the test is skipped.
``.ci/run`` installs Mosquitto when it is missing; PostgreSQL's programs come with the machine.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, up: bool, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            s.settimeout(0.3)
            ok = s.connect_ex(("127.0.0.1", port)) == 0
        if ok == up:
            return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} still {'closed' if up else 'open'} after {timeout} s")


def _missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what} is needed in CI (.ci/run installs it)")
    pytest.skip(f"{what} not installed")


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(PG_BIN.glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    _missing(f"PostgreSQL ({name})")


class Postgres:
    """A throw-away cluster: ``url``, ``stop()``, ``start()``. As root it runs as the postgres user."""

    def __init__(self, folder: Path):
        self.initdb, self.pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
        self.dir = Path(folder) / "pgdata"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        Path(folder).mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(folder, "postgres")
            os.chmod(folder, 0o755)
            for p in Path(folder).parents:   # the postgres user must reach its folder
                if str(p).startswith("/tmp") and p != Path("/tmp"):
                    os.chmod(p, os.stat(p).st_mode | 0o711)
        self._run([self.initdb, "-D", str(self.dir), "-A", "trust", "-U", "sdgas", "--no-sync", "-E", "UTF8"])
        self.url = f"postgresql://sdgas@127.0.0.1:{self.port}/postgres"
        self.start()

    def _run(self, cmd):
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self):
        self._run([self.pg_ctl, "-D", str(self.dir), "-l", str(self.dir.parent / "pg.log"), "-w", "-o",
                   f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off", "start"])
        _wait_port(self.port, True)

    def stop(self):
        self._run([self.pg_ctl, "-D", str(self.dir), "-m", "fast", "-w", "stop"])
        _wait_port(self.port, False)


class Mosquitto:
    """A broker on a loopback port: ``host``, ``port``, ``stop()``, ``start()`` (persistence off)."""

    def __init__(self, folder: Path):
        self.exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if self.exe is None:
            _missing("Mosquitto")
        self.host, self.port = "127.0.0.1", free_port()
        self.conf = Path(folder) / "mosquitto.conf"
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        _wait_port(self.port, True)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
        _wait_port(self.port, False)

