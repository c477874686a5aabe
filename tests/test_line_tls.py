"""The line's connections over TLS against real servers on loopback, with the test's own certificate
authority: MQTT (mqtts://, a client certificate, a password) and PostgreSQL (sslmode=verify-full, SCRAM
password). And the station run as a line PC runs it, with every secret from the environment: no file or
stream it writes holds one (argv, stdout, stderr, the app folder, the records and audit trail, the MQTT
messages, the reports)."""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from servers import Mosquitto, Postgres, LocalCA

PG_PW, MQTT_PW, SVC_PW = "pg-Secret-0x51", "mqtt-Secret-0x52", "svc-Secret-0x53"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    pytest.importorskip("psycopg")
    folder = tmp_path_factory.mktemp("tls")
    ca = LocalCA(folder / "ca")
    pg = Postgres(folder / "pg", tls=ca, password=PG_PW)
    broker = Mosquitto(folder / "mqtt", tls=ca, users={"line3": MQTT_PW}, client_cert=True)
    client = ca.issue("line3-station", server=False)
    yield ca, pg, broker, client
    broker.stop()
    pg.stop()


def _pg_url(pg, ca):
    return f"{pg.url}?sslmode=verify-full&sslrootcert={ca.ca}"


def _mqtt_url(broker, ca, client):
    return f"mqtts://line3@127.0.0.1:{broker.port}/plant/l3?ca={ca.ca}&cert={client[0]}&key={client[1]}"


def _subscribe(broker, ca, client, topic="plant/l3"):
    import paho.mqtt.client as mqtt

    got, ready = [], threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.username_pw_set("line3", MQTT_PW)
    c.tls_set(ca_certs=str(ca.ca), certfile=str(client[0]), keyfile=str(client[1]))
    c.on_connect = lambda cl, *a: (cl.subscribe(topic, qos=1), ready.set())
    c.on_message = lambda cl, u, m: got.append(m.payload.decode())
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    assert ready.wait(10)
    time.sleep(0.3)
    return c, got


def test_mqtt_over_tls_with_a_client_certificate_and_a_password_from_the_store(servers, tmp_path, monkeypatch):
    from core.inspect.outputs.mqtt import MqttOutput
    from core.inspect.records import InspectionRecord
    from core.security.secrets import secret_env_name

    ca, pg, broker, client = servers
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path))
    monkeypatch.setenv(secret_env_name(f"mqtts://line3@127.0.0.1:{broker.port}"), MQTT_PW)
    sub, got = _subscribe(broker, ca, client)
    out = MqttOutput(_mqtt_url(broker, ca, client)).start(wait=5)
    try:
        assert out.connected, out.state()
        for i in range(5):
            out.publish(None, InspectionRecord(ts="t", source="s", frame=str(i), verdict="OK"))
        assert out.flush(10)
        end = time.time() + 10
        while len(got) < 5 and time.time() < end:
            time.sleep(0.05)
        assert [json.loads(m)["frame"] for m in got] == ["0", "1", "2", "3", "4"]
        assert out.state().target == f"mqtts://127.0.0.1:{broker.port}/plant/l3"
    finally:
        out.close()
        sub.loop_stop()
    # a broker whose certificate is not of the CA given is not trusted
    other = LocalCA(tmp_path / "other", "another CA")
    url = _mqtt_url(broker, ca, client).replace(f"ca={ca.ca}", f"ca={other.ca}")
    bad = MqttOutput(url).start(wait=3)
    try:
        assert not bad.connected
    finally:
        bad.close()


def test_postgres_with_verify_full_and_the_password_from_the_store_or_libpqs_file(servers, tmp_path, monkeypatch):
    import psycopg

    from core.inspect.records import InspectionRecord, RecordsWriter
    from core.security.secrets import secret_env_name

    ca, pg, broker, client = servers
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path))
    url = _pg_url(pg, ca)
    with pytest.raises(ConnectionError, match="password"):
        RecordsWriter(url)                                            # no password anywhere: refused by the server
    monkeypatch.setenv(secret_env_name(f"postgresql://sdgas@127.0.0.1:{pg.port}/postgres"), PG_PW)
    w = RecordsWriter(url, line="tls")
    w.add(InspectionRecord(ts="t", source="s", frame="1", verdict="OK"))
    w.close()
    assert w.written == 1
    with psycopg.connect(url, password=PG_PW) as con:
        assert con.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True
    # libpq's own password file, 0600, instead of the store
    monkeypatch.delenv(secret_env_name(f"postgresql://sdgas@127.0.0.1:{pg.port}/postgres"))
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{pg.port}:postgres:sdgas:{PG_PW}\n")
    os.chmod(passfile, 0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    RecordsWriter(url).close()
    # verify-full against another CA: the server is not trusted
    other = LocalCA(tmp_path / "other", "another CA")
    with pytest.raises(ConnectionError, match="certificate verify failed|certificate"):
        RecordsWriter(url.replace(str(ca.ca), str(other.ca)))


def test_no_secret_reaches_anything_the_station_writes(servers, tmp_path):
    """inspect with PostgreSQL (verify-full), MQTT over TLS and a service account, every password from the
    environment; then reports and the audit export. The secrets appear nowhere it wrote."""
    from core.security.secrets import secret_env_name
    from core.security.users import UserStore

    ca, pg, broker, client = servers
    home = tmp_path / "home"
    env = {**os.environ, "SDGAS_HOME": str(home),
           secret_env_name(f"postgresql://sdgas@127.0.0.1:{pg.port}/postgres"): PG_PW,
           secret_env_name(f"mqtts://line3@127.0.0.1:{broker.port}"): MQTT_PW,
           secret_env_name("user/line3-svc"): SVC_PW}
    os.environ["SDGAS_HOME"] = str(home)
    try:
        users = UserStore()
        users.add("line3-svc", "operator", SVC_PW)
        users.add("eng-anna", "engineer", "engineer-pw-1")
        from core.registry import ModelRegistry

        reg = ModelRegistry()
        reg.register(ROOT / "resources" / "models" / "demo.pt", "line3-v1")
        reg.approve("line3-v1", users.sign("eng-anna", "engineer-pw-1", "val on demo:200", "model.approve"))
    finally:
        os.environ.pop("SDGAS_HOME")
    sub, got = _subscribe(broker, ca, client)
    db, mqtt = _pg_url(pg, ca), _mqtt_url(broker, ca, client)
    argv = [sys.executable, str(ROOT / "main.py"), "inspect", "--weights", "line3-v1", "--source", "demo",
            "--demo-fps", "20", "--imgsz", "64", "--max-frames", "40", "--db", db, "--line", "line-3",
            "--mqtt", mqtt, "--user", "line3-svc", "--save-ng", str(tmp_path / "images")]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    cmdline = ""
    for _ in range(100):                            # what `ps` shows of the running station
        try:
            cmdline = Path(f"/proc/{p.pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            break
        if "inspect" in cmdline:
            break
        time.sleep(0.05)
    stdout, stderr = p.communicate(timeout=300)
    sub.loop_stop()
    assert p.returncode == 0, stderr
    assert "40 frames" in stdout and len(got) == 40
    reports = []
    for fmt in ("pdf", "html", "csv", "json"):
        out = tmp_path / f"report.{fmt}"
        r = subprocess.run([sys.executable, str(ROOT / "main.py"), "report", "--db", db, "--format", fmt,
                            "--out", str(out)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert r.returncode == 0, r.stderr
        reports += [r.stdout, r.stderr]
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "audit", "export", "--db", db, "--format", "csv",
                        "--out", str(tmp_path / "audit.csv")], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    import psycopg

    with psycopg.connect(db, password=PG_PW) as con:
        tables = [str(con.execute(f"SELECT * FROM {t}").fetchall()) for t in ("inspections", "detections", "audit")]
        who = con.execute('SELECT DISTINCT "user", role FROM audit').fetchall()
    assert who == [("line3-svc", "operator")]
    written = [cmdline, stdout, stderr, *reports, *got, *tables]
    for f in [*tmp_path.rglob("*"), *Path(home).rglob("*")]:
        if f.is_file():
            data = f.read_bytes()
            if f.suffix == ".pdf":
                from pypdf import PdfReader

                data = "".join(pg_.extract_text() for pg_ in PdfReader(f).pages).encode()
            written.append(data.decode("utf-8", errors="replace"))
    assert len(written) > 15
    for secret in (PG_PW, MQTT_PW, SVC_PW):
        hits = [w[:200] for w in written if secret in w]
        assert not hits, (secret, hits)
