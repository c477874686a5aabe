"""On the line and across the plant, against real servers on loopback: PostgreSQL records through a
server restart, the audit trail, MQTT messages through a broker restart, the OPC UA handshake."""
import sqlite3
import time

import pytest

from servers import Mosquitto


def _rec(i, line="L1"):
    from core.inspect.records import InspectionRecord

    ng = i % 3 == 0
    return InspectionRecord(ts=f"2026-12-02T08:{i // 60:02d}:{i % 60:02d}.000+00:00", source="cam0", frame=str(i),
                            verdict="NG" if ng else "OK", n_defects=int(ng), model_id="demo", recipe_id="default",
                            latency_ms=10.0 + i % 7, line=line,
                            detections=[(1, "scratches", 0.9, 1, 2, 30, 40, 1)] if ng else [])


def _wait(cond, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline and not cond():
        time.sleep(0.05)
    return cond()


def test_postgres_gets_every_row_through_a_server_restart_and_reports_read_it(pg, tmp_path):
    import psycopg

    from core.inspect.records import RecordsWriter
    from core.report.gather import ReportFilter, gather

    outbox = tmp_path / "outbox.sqlite"
    w = RecordsWriter(pg.url, batch=10, interval=0.05, line="L1", outbox=outbox)
    w.audit("recipe", None, "default")
    for i in range(100):
        w.add(_rec(i))
    assert _wait(lambda: w.written == 100)
    pg.stop()                                   # the server goes away in the middle of the shift
    for i in range(100, 200):
        w.add(_rec(i))
        time.sleep(0.005)
    assert _wait(lambda: not w.connected, 10) and "127.0.0.1" in (w.error or "")
    pg.start()
    assert _wait(lambda: w.written == 200, 60), w.error
    w.close()
    with psycopg.connect(pg.url) as con:
        assert con.execute("SELECT COUNT(*), COUNT(DISTINCT uid), COUNT(DISTINCT frame) FROM inspections "
                           "WHERE line = 'L1'").fetchone() == (200, 200, 200)
        assert con.execute("SELECT COUNT(*) FROM detections").fetchone()[0] == 67
        assert con.execute("SELECT what, new_value FROM audit").fetchall() == [("recipe", "default")]

    # stopping while the server is away: the rows wait in the outbox and go first next time
    pg.stop()
    with pytest.raises(ConnectionError, match="cannot connect"):
        RecordsWriter(pg.url, line="L1", outbox=outbox)
    pg.start()
    w = RecordsWriter(pg.url, batch=10, interval=0.05, line="L1", outbox=outbox)
    pg.stop()
    for i in range(200, 220):
        w.add(_rec(i))
    w.close(timeout=2)
    assert w.kept_in_outbox == 20 and outbox.is_file()
    pg.start()
    w = RecordsWriter(pg.url, batch=10, interval=0.05, line="L1", outbox=outbox)
    w.close()
    assert not outbox.exists() and w.written == 20

    data = gather(pg.url, ReportFilter())       # reports read the plant database as they read a file
    assert (data.total, data.ng, data.ok) == (220, 74, 146)
    assert dict(data.per_class)["scratches"] == 74 and data.thumbs


def test_sqlite_v1_files_are_migrated_and_audit_is_kept(tmp_path):
    from core.inspect.records import RecordsWriter, connect

    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE inspections (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, source TEXT,"
                      " frame TEXT, image_path TEXT, verdict TEXT NOT NULL, n_defects INTEGER NOT NULL DEFAULT 0,"
                      " model_id TEXT, recipe_id TEXT, error TEXT, latency_ms REAL, frame_age_ms REAL);"
                      "CREATE TABLE detections (inspection_id INTEGER NOT NULL, class_id INTEGER NOT NULL,"
                      " class_name TEXT, score REAL, x1 REAL, y1 REAL, x2 REAL, y2 REAL,"
                      " is_defect INTEGER NOT NULL DEFAULT 1);"
                      "INSERT INTO inspections (ts, verdict) VALUES ('2026-01-01T00:00:00', 'OK');"
                      "PRAGMA user_version=1;")
    con.commit()
    con.close()
    w = RecordsWriter(db, batch=1, interval=0.01, line="L2")
    w.audit("threshold scratches", 0.5, 0.6)
    w.add(_rec(1, line=None))
    w.close()
    con = connect(db)
    from core.inspect.record_schema import SCHEMA_VERSION

    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("SELECT COUNT(*), COUNT(line) FROM inspections").fetchone() == (2, 1)
    assert con.execute("SELECT user, line, what, old_value, new_value FROM audit").fetchone()[1:] == \
        ("L2", "threshold scratches", "0.5", "0.6")


# ------------------------------------------------------------------------------------- MQTT
@pytest.fixture
def broker(tmp_path_factory):
    pytest.importorskip("paho.mqtt")
    b = Mosquitto(tmp_path_factory.mktemp("mqtt"))
    yield b
    b.stop()


class _Subscriber:
    """A consumer with a persistent session: the broker keeps its messages over a restart."""

    def __init__(self, broker, topic):
        import paho.mqtt.client as mqtt

        self.msgs = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="quality-dashboard", clean_session=False,
                             protocol=mqtt.MQTTv311)
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.c.on_message = lambda c, u, m: self.msgs.append(m.payload)
        self.c.reconnect_delay_set(0.2, 1)
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()
        assert _wait(lambda: self.c.is_connected(), 10)
        time.sleep(0.3)     # the subscription is in place

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_mqtt_messages_equal_the_records_through_a_broker_restart(broker, tmp_path):
    import json

    from core.detector import Detector

    sub = _Subscriber(broker, "plant/line1/results")
    db = tmp_path / "r.sqlite"
    s = Detector("demo").inspect("demo", db=str(db), demo_fps=25, max_frames=80, imgsz=128, line="line1",
                                 outputs={"mqtt": f"mqtt://{broker.host}:{broker.port}/plant/line1/results"})
    s.start()
    try:
        assert _wait(lambda: s.snapshot().total >= 20, 60)
        broker.stop()                                       # the broker is restarted mid-shift
        assert _wait(lambda: not s.output_states()[0].connected, 10)
        time.sleep(0.5)
        assert s.output_states()[0].queued > 0              # results wait in the client meanwhile
        broker.start()
        assert s.wait(120)
    finally:
        s.stop()
    st = s.output_states()[0]
    assert _wait(lambda: len({json.loads(m)["uid"] for m in sub.msgs}) >= 80, 30), st
    sub.close()
    got = {}
    for m in sub.msgs:                                      # QoS 1: at least once; uid tells copies apart
        d = json.loads(m)
        got[d["uid"]] = d
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = {r["uid"]: dict(r) for r in con.execute("SELECT * FROM inspections")}
    assert set(got) == set(rows) and len(rows) == 80
    for uid, r in rows.items():
        m = got[uid]
        assert {k: m[k] for k in ("ts", "frame", "verdict", "n_defects", "model_id", "line")} == \
            {k: r[k] for k in ("ts", "frame", "verdict", "n_defects", "model_id", "line")}
        dets = con.execute("SELECT class_id, score FROM detections WHERE inspection_id = ?", (r["id"],)).fetchall()
        assert [(d["class_id"], d["score"]) for d in m["detections"]] == [tuple(d) for d in dets]


# ----------------------------------------------------------------------------------- OPC UA
class _Plc:
    """The PLC side of the handshake, as an OPC UA client."""

    def __init__(self, client, ns):
        self.c, self.ns = client, ns

    def node(self, name):
        return self.c.get_node(f"ns={self.ns};s=Station.{name}")

    async def get(self, name):
        return await self.node(name).read_value()

    async def set(self, name, v):
        from asyncua import ua

        vt = ua.VariantType.Int32 if isinstance(v, int) and not isinstance(v, bool) else ua.VariantType.Boolean
        await self.node(name).write_value(ua.DataValue(ua.Variant(v, vt)))

    async def until(self, name, value, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.get(name) == value:
                return
            await __import__("asyncio").sleep(0.002)
        raise TimeoutError(f"{name} never became {value}")

    async def trigger(self):
        await self.set("Trigger", True)
        await self.until("TriggerAck", True)
        await self.set("Trigger", False)
        await self.until("TriggerAck", False)

    async def result(self):
        await self.until("ResultValid", True)
        r = {k: await self.get(k) for k in ("InspectionId", "Verdict", "DefectCount", "ClassId", "ErrorCode")}
        await self.set("ResultAck", True)
        await self.until("ResultValid", False)
        await self.set("ResultAck", False)
        return r


def _with_plc(url, fn):
    import asyncio

    from asyncua import Client

    from core.inspect.outputs.opcua import NAMESPACE

    async def main():
        async with Client(url, timeout=10) as c:
            return await fn(_Plc(c, await c.get_namespace_index(NAMESPACE)))

    return asyncio.run(main())


def test_opcua_handshake_50_triggers_a_full_queue_and_recipe_by_index(tmp_path, monkeypatch):
    pytest.importorskip("asyncua")
    from servers import free_port

    from core.detector import Detector
    from core.inspect.recipe import Recipe, RecipeStore
    from core.settings import recipes_dir

    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    RecipeStore(recipes_dir()).save(Recipe(name="strict", conf=0.1))
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    db = tmp_path / "r.sqlite"
    s = Detector("demo").inspect("demo", db=str(db), demo_fps=30, imgsz=128, outputs={"opcua": url})
    s.start()
    try:
        async def fifty(plc):
            await plc.until("Ready", True)      # as a PLC program does: the station may still be warming up
            assert await plc.get("ModelId")
            out = []
            for _ in range(50):
                await plc.trigger()
                out.append(await plc.result())
            return out

        res = _with_plc(url, fifty)
        assert [r["InspectionId"] for r in res] == list(range(1, 51))           # 50 results, in order
        assert all(r["Verdict"] in ("OK", "NG") and r["ErrorCode"] == 0 for r in res)
        assert all((r["ClassId"] >= 0) == (r["DefectCount"] > 0) for r in res)
        assert s.snapshot().total == 50                                         # one frame per trigger

        async def slow_plc(plc):        # triggers 12 times, acknowledges nothing, then reads them all
            for _ in range(12):
                await plc.trigger()
            await plc.until("Busy", False)
            ready = await plc.get("Ready")
            return ready, [await plc.result() for _ in range(12)]

        ready, res = _with_plc(url, slow_plc)
        assert [r["InspectionId"] for r in res] == list(range(51, 63))          # every trigger answered once
        judged = sum(r["ErrorCode"] == 0 for r in res)      # 8 waiting, + 1 shown if judged before the 9th came
        assert judged in (8, 9) and ready == (judged == 8)             # Ready: room for an 8th waiting result
        # the refused ones are ERROR with ErrorCode 2, never silence; the 9th is refused and a later one
        # taken instead when the first result was shown between them (the queue then had room again)
        assert res[0]["ErrorCode"] == 0 and all(r["Verdict"] in ("OK", "NG") for r in res if r["ErrorCode"] == 0)
        assert all(r["Verdict"] == "ERROR" and r["ErrorCode"] == 2 for r in res if r["ErrorCode"] != 0)
        assert s.output_states()[0].errors == 12 - judged and s.snapshot().total == 50 + judged

        async def recipes(plc):
            await plc.set("RecipeIndex", 1)
            await plc.until("RecipeIndex", 1)
            deadline = time.monotonic() + 10
            while s.recipe.name != "strict" and time.monotonic() < deadline:
                await __import__("asyncio").sleep(0.01)
            await plc.set("RecipeIndex", 7)                                     # no such recipe
            await plc.until("StationError", 3)
            assert await plc.get("RecipeIndex") == 1                            # the index in force, read back
            await plc.trigger()
            return await plc.result()

        r = _with_plc(url, recipes)
        assert s.recipe.name == "strict" and r["ErrorCode"] == 0
    finally:
        s.stop()
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM inspections").fetchone()[0] == s.snapshot().total   # each judged frame
    assert con.execute("SELECT COUNT(*) FROM inspections WHERE recipe_id = 'strict'").fetchone()[0] == 1
    who = con.execute("SELECT user, new_value FROM audit WHERE what = 'recipe' ORDER BY id DESC").fetchone()
    assert who[0].startswith("PLC") and '"name": "strict"' in who[1]


def test_an_opcua_port_in_use_is_one_clear_error_and_nothing_is_left_running(tmp_path):
    import socket
    import threading

    from core.detector import Detector

    pytest.importorskip("asyncua")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = threading.active_count()
        s = Detector("demo").inspect("demo", db=str(tmp_path / "r.sqlite"), outputs={"opcua": f"opc.tcp://127.0.0.1:{port}"})
        with pytest.raises(ValueError, match=f"--opcua opc.tcp://127.0.0.1:{port}: cannot serve.*in use"):
            s.start()
        assert _wait(lambda: threading.active_count() <= before, 10)
