"""Real servers for the line-integration tests, on loopback only: a PostgreSQL cluster and a
Mosquitto broker in a temporary folder, which a test can stop and start again; either over TLS with a
certificate authority the test makes (``LocalCA``) and a password.

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


class LocalCA:
    """A throw-away certificate authority (the ``cryptography`` package): ``ca`` (PEM file), and
    ``issue(name, server=…)`` -> (cert.pem, key.pem) for 127.0.0.1 and localhost."""

    def __init__(self, folder: Path, name: str = "sdgas test CA"):
        import datetime as dt

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._x509, self._hashes, self._ser, self._ec, self._dt = x509, hashes, serialization, ec, dt
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca = self.dir / f"{name.replace(' ', '_')}.pem"
        self.ca.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, server: bool = True) -> tuple[Path, Path]:
        import ipaddress

        x509, dt = self._x509, self._dt
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = self._ec.generate_private_key(self._ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
             .issuer_name(self.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                             x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                critical=False)
        cert = b.sign(self.key, self._hashes.SHA256())
        c, k = self.dir / f"{name}.pem", self.dir / f"{name}.key"
        c.write_bytes(cert.public_bytes(self._ser.Encoding.PEM))
        k.write_bytes(key.private_bytes(self._ser.Encoding.PEM, self._ser.PrivateFormat.PKCS8,
                                        self._ser.NoEncryption()))
        os.chmod(k, 0o600)
        return c, k


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
    """A throw-away cluster: ``url``, ``stop()``, ``start()``. As root it runs as the postgres user.
    With ``tls`` (a ``LocalCA``) it serves TLS with a certificate of that CA, and with ``password`` the
    user ``sdgas`` must give it (SCRAM): ``url`` then carries neither."""

    def __init__(self, folder: Path, tls: "LocalCA | None" = None, password: str | None = None):
        self.initdb, self.pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
        self.dir = Path(folder) / "pgdata"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        Path(folder).mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(folder, "postgres")
            os.chmod(folder, 0o755)
            self._reach()
        auth = ["-A", "trust"]
        if password:
            pwfile = Path(folder) / "pw"
            pwfile.write_text(password + "\n")
            if self.as_root:
                shutil.chown(pwfile, "postgres")
            auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        self._run([self.initdb, "-D", str(self.dir), *auth, "-U", "sdgas", "--no-sync", "-E", "UTF8"])
        self.ssl = ""
        if tls is not None:
            cert, key = tls.issue("postgres-server")
            for f in (cert, key):
                target = self.dir / f"server{f.suffix}"
                shutil.copyfile(f, target)
                os.chmod(target, 0o600)
                if self.as_root:
                    shutil.chown(target, "postgres")
            self.ssl = f" -c ssl=on -c ssl_cert_file={self.dir / 'server.pem'} -c ssl_key_file={self.dir / 'server.key'}"
        self.url = f"postgresql://sdgas@127.0.0.1:{self.port}/postgres"
        self.start()

    def _reach(self):
        """The postgres user must reach its folder (pytest sets its base folder back to 0700 now and then:
        a server it could not stop was left running)."""
        for p in self.dir.parents:
            if str(p).startswith("/tmp") and p != Path("/tmp"):
                os.chmod(p, os.stat(p).st_mode | 0o711)

    def _run(self, cmd):
        if self.as_root:
            self._reach()
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self):
        self._run([self.pg_ctl, "-D", str(self.dir), "-l", str(self.dir.parent / "pg.log"), "-w", "-o",
                   f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off{self.ssl}",
                   "start"])
        _wait_port(self.port, True)

    def stop(self):
        self._run([self.pg_ctl, "-D", str(self.dir), "-m", "fast", "-w", "stop"])
        _wait_port(self.port, False)


class Mosquitto:
    """A broker on a loopback port: ``host``, ``port``, ``stop()``, ``start()`` (persistence off). With
    ``tls`` (a ``LocalCA``) it speaks TLS only, with a certificate of that CA, and asks clients for a
    certificate of it when ``client_cert``; with ``users`` ({name: password}) anonymous clients are refused."""

    def __init__(self, folder: Path, tls: "LocalCA | None" = None, users: dict | None = None,
                 client_cert: bool = False):
        self.exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if self.exe is None:
            _missing("Mosquitto")
        self.host, self.port = "127.0.0.1", free_port()
        self.conf = Path(folder) / "mosquitto.conf"
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        conf = [f"listener {self.port} 127.0.0.1", "persistence false"]
        if tls is not None:
            cert, key = tls.issue("mosquitto-server")
            os.chmod(key, 0o644)      # the broker may drop to its own user; a test key in a temporary folder
            conf += [f"cafile {tls.ca}", f"certfile {cert}", f"keyfile {key}",
                     f"require_certificate {'true' if client_cert else 'false'}"]
        if users:
            pw = Path(folder) / "passwd"
            pw.write_text("")
            for name, secret in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), name, secret], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os.chmod(pw, 0o644)
            conf += ["allow_anonymous false", f"password_file {pw}"]
        else:
            conf += ["allow_anonymous true"]
        if os.geteuid() == 0:
            conf += ["user root"]
        self.conf.write_text("\n".join(conf) + "\n")
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


class MjpegCamera:
    """A camera stand-in: an MJPEG stream over HTTP on loopback (``url``), as IP cameras serve one,
    read by OpenCV's FFmpeg like any network camera. Each frame differs (a live sensor never
    repeats itself exactly); ``fps`` paces it; ``stop()`` ends it."""

    def __init__(self, size: tuple[int, int] = (64, 64), fps: float = 20.0):
        import http.server
        import socketserver
        import threading

        import cv2
        import numpy as np

        cam = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                rng = np.random.default_rng(0)
                try:
                    while not cam.stopping:
                        img = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
                        buf = cv2.imencode(".jpg", img)[1].tobytes()
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(buf)).encode() + b"\r\n\r\n" + buf + b"\r\n")
                        cam.served += 1
                        time.sleep(1.0 / fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.stopping = False
        self.served = 0
        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        self._thread = threading.Thread(target=self.server.serve_forever, name="mjpeg-camera", daemon=True)
        self._thread.start()

    def stop(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()
