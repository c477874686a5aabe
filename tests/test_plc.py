"""The station's PLC handshake on its real servers, driven by PLCs that share no code with it: an OPC UA
client from node-opcua and a Modbus TCP client from modbus-serial (tests/plc_node/plc.js, installed
from the npm registry by ``.ci/run``), in both timing patterns of docs/line.md. Every trigger must be
answered exactly once, by the frame read after it, as the records say.
"""
import asyncio
import json
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from servers import _missing, free_port

PLC = Path(__file__).resolve().parent / "plc_node"
N = 200


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if not exe or not (PLC / "node_modules" / "node-opcua-client").is_dir() or \
            not (PLC / "node_modules" / "modbus-serial").is_dir():
        _missing("node with tests/plc_node's packages (npm ci --prefix tests/plc_node)")
    return exe


def run_plc(node, transport, target, pattern, count, *extra, timeout=180):
    p = subprocess.run([node, str(PLC / "plc.js"), "--transport", transport, "--url", target, "--pattern", pattern,
                        "--count", str(count), "--timeout", "30", *map(str, extra)],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def _target(kind):
    port = free_port()
    return f"opc.tcp://127.0.0.1:{port}" if kind == "opcua" else f"127.0.0.1:{port}"


def _station(kind, tmp_path, source="demo", recipe=None, imgsz=64, on_state=None):
    """A station on the unpaced demo line (or ``source``): each trigger reads the source's next frame."""
    from core.detector import Detector
    from core.inspect.options import InspectOptions
    from core.inspect.recipe import Recipe

    target = _target(kind)
    opts = InspectOptions(source=source, recipe=recipe or Recipe(), db=str(tmp_path / "r.sqlite"), demo_fps=0,
                          imgsz=imgsz, outputs={kind: target})
    s = Detector("demo", "cpu").inspect(opts, on_state=on_state)
    s.start()
    return s, target


def _rows(tmp_path):
    con = sqlite3.connect(tmp_path / "r.sqlite")
    return con.execute("SELECT frame, verdict, n_defects, recipe_id, error FROM inspections ORDER BY id").fetchall()


@pytest.mark.parametrize("kind", ["opcua", "modbus"])
@pytest.mark.parametrize("pattern", ["documented", "held"])
def test_each_trigger_is_answered_once_by_the_frame_after_it(node, tmp_path, kind, pattern):
    """200 triggers in each timing pattern: 200 results, 1…200 in order, each the judgement of the
    next frame read after its trigger, equal to its record."""
    s, target = _station(kind, tmp_path)
    try:
        out = run_plc(node, kind, target, pattern, N)
        state = s.output_states()[0]
    finally:
        s.stop()
    res = out["results"]
    assert [r["InspectionId"] for r in res] == list(range(1, N + 1))
    assert all(r["ErrorCode"] == 0 and r["Verdict"] in ("OK", "NG") for r in res)
    assert [r["FrameId"] for r in res] == list(range(N))      # trigger k judged frame k-1: none read ahead
    rows = _rows(tmp_path)
    assert len(rows) == N
    for r, (frame, verdict, n, _, _) in zip(res, rows):
        assert (str(r["FrameId"]), r["Verdict"], r["DefectCount"]) == (frame, verdict, n)
        assert (r["ClassId"] >= 0) == (n > 0)
    assert {r["Verdict"] for r in res} == {"OK", "NG"}       # the demo line has both
    assert state.sent == N and state.errors == 0, state
    assert out["first"]["Ready"] and out["first"]["Alive"] and out["last"]["StationError"] == 0


@pytest.mark.parametrize("kind", ["opcua", "modbus"])
def test_trigger_edges_as_fast_as_a_client_writes_are_each_answered(node, tmp_path, kind):
    """Polling every 2 ms saw 90 of 1,000 edges. Each write now reaches the handshake: every edge gets
    one result, judged while the queue has room, refused with ErrorCode 2 beyond it, never silence."""
    s, target = _station(kind, tmp_path)
    try:
        out = run_plc(node, kind, target, "burst", N)
        state = s.output_states()[0]
    finally:
        s.stop()
    res = out["results"]
    assert [r["InspectionId"] for r in res] == list(range(1, N + 1))
    judged = [r for r in res if r["ErrorCode"] == 0]
    refused = [r for r in res if r["ErrorCode"] == 2]
    assert len(judged) + len(refused) == N and all(r["Verdict"] == "ERROR" for r in refused)
    assert len(judged) >= 9 and len(_rows(tmp_path)) == len(judged)       # the queue held 8 + the one shown
    assert state.detail.count(f"{len(refused)} trigger(s) refused"), state


@pytest.mark.parametrize("kind", ["opcua", "modbus"])
def test_a_plc_that_drops_off_mid_cycle_and_comes_back_gets_its_results(node, tmp_path, kind):
    s, target = _station(kind, tmp_path)
    try:
        out = run_plc(node, kind, target, "documented", 20, "--disconnect-every", 4)
    finally:
        s.stop()
    assert out["reconnects"] == 5
    assert [r["InspectionId"] for r in out["results"]] == list(range(1, 21))
    assert all(r["ErrorCode"] == 0 for r in out["results"])


# ---------------------------------------------------------------------- OPC UA, the server's own faults
async def _client(url, fn):
    from asyncua import Client

    from core.inspect.outputs.opcua import NAMESPACE

    async with Client(url, timeout=10) as c:
        ns = await c.get_namespace_index(NAMESPACE)
        return await fn(lambda name: c.get_node(f"ns={ns};s=Station.{name}"))


def test_a_bad_status_write_to_recipe_index_is_answered_and_the_port_stays_open(node, tmp_path):
    """One anonymous write of a bad-status value to RecipeIndex used to close the port while inspect
    ran on in silence."""
    from asyncua import ua

    s, url = _station("opcua", tmp_path)
    try:
        async def bad(node_of):
            await node_of("RecipeIndex").write_value(
                ua.DataValue(ua.Variant(1, ua.VariantType.Int32), StatusCode=ua.StatusCode(ua.StatusCodes.BadUnexpectedError)))
            await asyncio.sleep(0.3)
            return [await node_of(n).read_value() for n in ("StationError", "RecipeIndex", "Heartbeat")]

        code, index, _ = asyncio.run(_client(url, bad))
        assert (code, index) == (7, 0)                   # answered with BAD_WRITE; the recipe in force stays
        out = run_plc(node, "opcua", url, "documented", 5)
        assert [r["InspectionId"] for r in out["results"]] == [1, 2, 3, 4, 5]
        assert s.output_states()[0].connected and s.recipe.name == "default"
    finally:
        s.stop()


def test_a_server_that_fails_is_shown_restarted_and_the_plc_told(node, tmp_path):
    states = []
    s, url = _station("opcua", tmp_path, on_state=lambda st, msg: states.append((st, msg)))
    try:
        station = s.outputs[0]
        station._loop.call_soon_threadsafe(station._server.bserver._server.close)   # the listener dies under it
        deadline = time.time() + 20
        while time.time() < deadline and not any(st == "running" and "serving again" in m for st, m in states):
            time.sleep(0.05)
        assert any(st == "warning" and "the server failed" in m and "restarting" in m for st, m in states), states
        assert station.failures == 1 and "server failed 1 time" in s.output_states()[0].detail
        out = run_plc(node, "opcua", url, "held", 5)
        assert out["first"]["StationError"] == 8         # the PLC learns its server restarted
        assert [r["InspectionId"] for r in out["results"]] == [1, 2, 3, 4, 5]
    finally:
        s.stop()


def test_the_station_restarting_under_a_plc_mid_cycle(tmp_path):
    """The PLC holds Trigger and ResultAck when the station restarts. After reconnecting it writes its
    levels again, as PLCs do: the new station takes the held Trigger as one new trigger, holds its
    result back while ResultAck is high (StationError 5), and shows it once ResultAck falls."""
    from asyncua import Client, ua

    from core.inspect.outputs.opcua import NAMESPACE

    port = free_port()
    url = f"opc.tcp://127.0.0.1:{port}"

    async def plc(first: bool):
        async with Client(url, timeout=10) as c:
            ns = await c.get_namespace_index(NAMESPACE)
            node = lambda name: c.get_node(f"ns={ns};s=Station.{name}")     # noqa: E731

            async def put(name, v):
                await node(name).write_value(ua.DataValue(ua.Variant(v, ua.VariantType.Boolean)))

            async def until(name, v, timeout=20):
                end = time.monotonic() + timeout
                while await node(name).read_value() != v:
                    assert time.monotonic() < end, f"{name} never became {v}"
                    await asyncio.sleep(0.005)

            if first:                                   # mid-cycle: Trigger held, result shown, ResultAck up
                await put("Trigger", True)
                await until("ResultValid", True)
                await put("ResultAck", True)
                return None
            await put("Trigger", True)                  # the levels it holds, written again
            await put("ResultAck", True)
            await asyncio.sleep(0.3)
            held = [await node(n).read_value() for n in ("ResultValid", "StationError", "InspectionId")]
            await put("ResultAck", False)
            await until("ResultValid", True)
            got = await node("InspectionId").read_value()
            await put("ResultAck", True)
            await until("ResultValid", False)
            await put("Trigger", False)
            await put("ResultAck", False)
            await asyncio.sleep(0.3)
            return held, got, await node("QueueDepth").read_value(), await node("ResultValid").read_value()

    from core.detector import Detector

    d = Detector("demo", "cpu")
    s = d.inspect("demo", db=str(tmp_path / "a.sqlite"), demo_fps=0, imgsz=64, outputs={"opcua": url}).start()
    try:
        asyncio.run(plc(True))
    finally:
        s.stop()                                        # the station goes away mid-cycle
    s = d.inspect("demo", db=str(tmp_path / "b.sqlite"), demo_fps=0, imgsz=64, outputs={"opcua": url}).start()
    try:
        held, got, depth, valid = asyncio.run(plc(False))
    finally:
        s.stop()
    assert held[0] is False and held[1] == 5            # no result shown under a high ResultAck, and said why
    assert got == 1 and depth == 0 and valid is False   # one new trigger, answered once
    assert sqlite3.connect(tmp_path / "b.sqlite").execute("SELECT COUNT(*) FROM inspections").fetchone()[0] == 1


# ------------------------------------------------------------------------------- the PLC's recipe
def test_a_plc_switching_to_a_stricter_recipe_judges_as_a_session_started_on_it(node, tmp_path, monkeypatch):
    """The issue's case, through node-opcua: a station started on a lenient recipe; the PLC writes
    RecipeIndex for the saved `strict` recipe and triggers: every frame's verdict and defect count are
    those of a session started on `strict`, and each record names it."""
    from test_recipe_switch import BY_NAME, N_FRAMES, _run

    from core.detector import Detector
    from core.inspect.recipe import RecipeStore
    from core.inspect.sources import DemoSource
    from core.settings import recipes_dir

    import cv2

    folder = tmp_path / "parts"
    folder.mkdir()
    src = DemoSource(seed=3, fps=0)
    for k in range(N_FRAMES):
        cv2.imwrite(str(folder / f"part_{k:03d}.png"), src.frame_image(k)[0])
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    RecipeStore(recipes_dir()).save(BY_NAME["strict"])
    RecipeStore(recipes_dir()).save(BY_NAME["lenient"])
    d = Detector("demo", "cpu")
    strict = [o for _, o in _run(d, folder, BY_NAME["strict"])]
    usual = [o for _, o in _run(d, folder, BY_NAME["usual"])]
    assert [v for v, _ in strict] != [v for v, _ in usual]        # the switch must show

    s, url = _station("opcua", tmp_path, source=str(folder), recipe=BY_NAME["usual"], imgsz=None)
    try:
        names = s.recipe_names()
        out = run_plc(node, "opcua", url, "held", N_FRAMES, "--recipe", names.index("strict"))
    finally:
        s.stop()
    assert out["recipe_read_back"] == names.index("strict")
    res = out["results"]
    assert [r["FrameId"] for r in res] == list(range(N_FRAMES))
    assert [(r["Verdict"], r["DefectCount"]) for r in res] == [(v, len(dets)) for v, dets in strict]
    rows = _rows(tmp_path)
    assert [(v, n, recipe) for _, v, n, recipe, _ in rows] == [(v, len(dets), "strict") for v, dets in strict]
    who = sqlite3.connect(tmp_path / "r.sqlite").execute(
        "SELECT user FROM audit WHERE what = 'recipe' ORDER BY id DESC").fetchone()[0]
    assert who.startswith("PLC (OPC UA RecipeIndex)")


def test_an_unknown_recipe_index_over_modbus_is_refused_with_an_exception(tmp_path):
    """Modbus answers a holding-register write of an unknown recipe with ILLEGAL DATA VALUE; the recipe in
    force stays and StationError says 3. (pymodbus' client here: the server is what is tested.)"""
    from pymodbus.client import ModbusTcpClient

    s, target = _station("modbus", tmp_path)
    host, port = target.split(":")
    c = ModbusTcpClient(host, port=int(port))
    try:
        assert c.connect()
        r = c.write_register(0, 7)
        assert r.isError() and r.exception_code == 3
        assert c.read_input_registers(0, count=12).registers[7] == 3
        assert c.read_holding_registers(0, count=1).registers == [0]
    finally:
        c.close()
        s.stop()



def test_inspect_serves_a_modbus_plc_from_the_command_line(node, tmp_path):
    """`inspect --modbus HOST:PORT` as a line PC runs it: the PLC triggers, SIGTERM stops it cleanly."""
    import signal
    import sys

    from servers import _wait_port

    port = free_port()
    root = Path(__file__).resolve().parents[1]
    p = subprocess.Popen([sys.executable, str(root / "main.py"), "inspect", "--weights", "demo", "--source", "demo",
                          "--demo-fps", "0", "--imgsz", "64", "--db", str(tmp_path / "r.sqlite"),
                          "--modbus", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=root)
    try:
        _wait_port(port, True, 120)
        out = run_plc(node, "modbus", f"127.0.0.1:{port}", "held", 5)
    finally:
        p.send_signal(signal.SIGTERM)
        stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    assert [r["InspectionId"] for r in out["results"]] == [1, 2, 3, 4, 5]
    assert f"modbus 127.0.0.1:{port}: connected" in stdout and "(waiting for the PLC's Trigger)" in stdout
    assert "5 frames:" in stdout and len(_rows(tmp_path)) == 5
