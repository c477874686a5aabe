"""The PLC handshake over Modbus TCP (pymodbus): the station is the server, the PLC a client.

The handshake is ``handshake.py``; this file only carries it, on the register map ``MAP`` (docs/line.md
prints it from here). Every coil or holding-register write reaches the handshake in the device's
``action`` hook before the write is answered, so the PLC reads the station's answer as soon as its
write returns. An unknown recipe index is refused with the Modbus exception ILLEGAL DATA VALUE
(and StationError 3).

Modbus TCP has no security of its own (no login, no encryption): the station belongs on an isolated
cell network, and ``modbus_allow`` (addresses or networks, e.g. ``192.168.10.5, 10.1.2.0/24``) is the
list of PLCs it answers; a connection from anywhere else is closed at once, counted and shown.
"""
from __future__ import annotations

import contextlib
import ipaddress
import logging
import urllib.parse

from .line_server import LineServer

COIL, DISCRETE, INPUT, HOLDING = "coil", "discrete input", "input register", "holding register"
# (table, address from 0, signal, Modbus type, meaning): what a PLC programmer types in.
MAP = (
    (COIL, 0, "Trigger", "BOOL", "PLC: rising edge judges the next frame"),
    (COIL, 1, "ResultAck", "BOOL", "PLC: rising edge, the result has been read"),
    (DISCRETE, 0, "Ready", "BOOL", "a Trigger now would be accepted"),
    (DISCRETE, 1, "Busy", "BOOL", "a trigger is being judged"),
    (DISCRETE, 2, "TriggerAck", "BOOL", "mirrors Trigger once the station has seen it"),
    (DISCRETE, 3, "ResultValid", "BOOL", "the input registers 0–10 hold a result for the PLC"),
    (DISCRETE, 4, "Alive", "BOOL", "the inspection runs (false: paused, stopped or hung)"),
    (INPUT, 0, "Verdict", "UINT16", "0 none yet, 1 OK, 2 NG, 3 ERROR"),
    (INPUT, 1, "DefectCount", "UINT16", "defects under the recipe"),
    (INPUT, 2, "ClassId", "INT16", "class of the worst defect, −1 none"),
    (INPUT, 3, "ErrorCode", "UINT16", "the result's error code (table above)"),
    (INPUT, 4, "InspectionId", "UINT32", "1, 2, 3 … per trigger; high word at 4, low word at 5"),
    (INPUT, 6, "Heartbeat", "UINT16", "+1 every second while the inspection runs (wraps at 65535)"),
    (INPUT, 7, "StationError", "UINT16", "the station's latest error (table above), 0 after a good ResultAck"),
    (INPUT, 8, "QueueDepth", "UINT16", "InspectionIds not yet shown to the PLC"),
    (INPUT, 9, "FrameId", "INT32", "the judged frame's number at the source, −1 none; high word at 9, low at 10"),
    (INPUT, 11, "RecipeIndex", "UINT16", "the recipe in force"),
    (HOLDING, 0, "RecipeIndex", "UINT16", "PLC: the recipe to judge with from the next frame"),
)
VERDICT_CODE = {"": 0, "OK": 1, "NG": 2, "ERROR": 3}
_FC_WRITE = {5: COIL, 15: COIL, 6: HOLDING, 16: HOLDING}
_FC_SET = {DISCRETE: 2, INPUT: 4, HOLDING: 3}       # how the station sets its own values


def parse_modbus_target(spec: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``modbus://HOST:PORT``) -> (host, port); the port defaults to 502."""
    u = urllib.parse.urlsplit(spec if "://" in spec else f"modbus://{spec}")
    try:
        port = u.port or 502
    except ValueError:
        port = None
    if u.scheme not in ("modbus", "tcp") or not u.hostname or port is None:
        raise ValueError(f"--modbus {spec}: expected HOST:PORT (e.g. 0.0.0.0:502)")
    return u.hostname, port


def parse_allow_list(spec) -> tuple:
    """``"10.1.2.5, 10.1.3.0/24"`` (or a list) -> the networks a PLC may connect from; empty: any."""
    items = [x.strip() for x in (spec.replace(";", ",").split(",") if isinstance(spec, str) else spec or ()) if x.strip()]
    try:
        return tuple(ipaddress.ip_network(x, strict=False) for x in items)
    except ValueError as e:
        raise ValueError(f"--modbus-allow: {e} (expected addresses or networks, e.g. 10.1.2.5,10.1.3.0/24)") from None


def _words(name: str, kind: str, value) -> list[int]:
    v = VERDICT_CODE.get(value, 3) if name == "Verdict" else int(value)
    if kind in ("UINT32", "INT32"):
        v &= 0xFFFFFFFF
        return [v >> 16, v & 0xFFFF]
    return [v & 0xFFFF]


class ModbusStation(LineServer):
    name = "modbus"
    kind = "client"

    def __init__(self, spec: str, modbus_allow=(), **context):
        self.host, self.port = parse_modbus_target(spec)
        self.allow = parse_allow_list(modbus_allow)
        self.refused_ips: dict[str, int] = {}
        self._n_clients = 0
        super().__init__(f"{self.host}:{self.port}", **context)
        from .opcua import is_loopback

        if not self.allow and not is_loopback(self.host):
            self.on_state("warning", f"modbus {self.target}: Modbus TCP has no login nor encryption and no "
                                     "allow-list is set: any device on this network may trigger and switch "
                                     "recipes (keep it on an isolated cell network; --modbus-allow)")
        self._where = {name: (table, addr, kind) for table, addr, name, kind, _ in MAP if table in (DISCRETE, INPUT)}
        self._where["RecipeIndex@plc"] = (HOLDING, 0, "UINT16")

    @contextlib.asynccontextmanager
    async def _serving(self):
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # failures reach state() and the log here
        size = {t: 1 + max(a + (2 if k.endswith("32") else 1) - 1 for tt, a, _, k, _ in MAP if tt == t)
                for t in (COIL, DISCRETE, INPUT, HOLDING)}
        device = SimDevice(id=0, action=self._action, simdata=(
            [SimData(0, values=[False] * size[COIL], datatype=DataType.BITS)],
            [SimData(0, values=[False] * size[DISCRETE], datatype=DataType.BITS)],
            [SimData(0, values=[0] * size[HOLDING], datatype=DataType.REGISTERS)],
            [SimData(0, values=[0] * size[INPUT], datatype=DataType.REGISTERS)]))
        station = self

        class Server(ModbusTcpServer):
            def callback_new_connection(self):
                handler = super().callback_new_connection()
                made = handler.connection_made

                def connection_made(transport):     # before a byte is read: a stranger is closed at once
                    ip = (transport.get_extra_info("peername") or ("?",))[0]
                    if not station.allowed(ip):
                        station.refuse(ip)
                        transport.abort()
                        return
                    made(transport)
                handler.connection_made = connection_made
                return handler

        server = Server(device, address=(self.host, self.port), trace_connect=self._connection)
        if not await server.listen():
            raise OSError(f"cannot listen on {self.host}:{self.port} (address in use, or not this PC's)")
        self._server = server
        try:
            await self._set_plc_bits()
            yield
        finally:
            await server.shutdown()

    async def _set_plc_bits(self):
        """A restarted server shows the PLC's bits as the handshake last saw them."""
        await self._server.async_setValues(0, 5, 0, [self.hs.levels["Trigger"], self.hs.levels["ResultAck"]])
        await self._write_signal("RecipeIndex", self.hs.signals["RecipeIndex"])

    async def _write_signal(self, name: str, value) -> None:
        if name not in self._where:
            return                                   # e.g. FrameName: OPC UA only
        names = [name, "RecipeIndex@plc"] if name == "RecipeIndex" else [name]
        for n in names:
            table, addr, kind = self._where[n]
            if table == DISCRETE:
                await self._server.async_setValues(0, 2, addr, [bool(value)])
            else:
                await self._server.async_setValues(0, _FC_SET[table], addr, _words(name, kind, value))

    async def _action(self, fc, _start, address, count, _registers, values):
        """Every request; a PLC write (coils, the holding register) goes to the handshake first."""
        from pymodbus.constants import ExcCodes

        table = _FC_WRITE.get(fc)
        if table is None or values is None:
            return None
        try:
            refused = False
            if table == COIL:
                for i, v in enumerate(values[:count]):
                    name = {0: "Trigger", 1: "ResultAck"}.get(address + i)
                    if name:
                        self.hs.plc_write(name, bool(v))
            elif address == 0:
                v = int(values[0])
                refused = not self.hs.plc_write("RecipeIndex", v - 0x10000 if v >= 0x8000 else v)
            await self._flush()
            return ExcCodes.ILLEGAL_VALUE if refused else None
        except Exception as e:  # noqa: BLE001 - a PLC write must never take the server down
            logging.getLogger("sdgas.line").exception("modbus: a PLC write could not be handled: %s", e)
            self.hs.bad_write("?")
            return ExcCodes.DEVICE_FAILURE

    def allowed(self, ip: str) -> bool:
        if not self.allow:
            return True
        try:
            addr = ipaddress.ip_address(ip.split("%")[0])
        except ValueError:
            return False
        if addr.version == 6 and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.allow)

    def refuse(self, ip: str) -> None:
        first = ip not in self.refused_ips
        self.refused_ips[ip] = self.refused_ips.get(ip, 0) + 1
        if first:
            self.on_state("warning", f"modbus {self.target}: refused a connection from {ip} (not on the allow-list)")

    def state(self):
        """As every line server's, with the connections refused by the allow-list."""
        from dataclasses import replace

        st = super().state()
        if not self.refused_ips:
            return st
        note = "refused: " + ", ".join(f"{ip} ({n}x)" for ip, n in sorted(self.refused_ips.items()))
        return replace(st, detail=f"{st.detail}, {note}" if st.detail else note)

    def _connection(self, connected: bool) -> None:
        self._n_clients = max(0, self._n_clients + (1 if connected else -1))

    def _clients(self) -> int:
        return self._n_clients

    def _listening(self) -> bool:
        t = getattr(self._server, "transport", None)
        return t is None or not hasattr(t, "is_serving") or t.is_serving()


def register_map_markdown() -> str:
    """The register map as docs/line.md shows it (1-based references in brackets, as many PLCs number them)."""
    base = {COIL: 1, DISCRETE: 10001, INPUT: 30001, HOLDING: 40001}
    fc = {COIL: "1 / 5, 15", DISCRETE: "2", INPUT: "4", HOLDING: "3 / 6, 16"}
    lines = ["| table (function codes) | address (reference) | name | type | meaning |", "|---|---|---|---|---|"]
    for table, addr, name, kind, meaning in MAP:
        width = 2 if kind.endswith("32") else 1
        where = f"{addr} ({base[table] + addr:05d})" if width == 1 else \
            f"{addr}–{addr + 1} ({base[table] + addr:05d}–{base[table] + addr + 1:05d})"
        lines.append(f"| {table} ({fc[table]}) | {where} | `{name}` | {kind} | {meaning} |")
    return "\n".join(lines)
