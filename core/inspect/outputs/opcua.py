"""The station as an OPC UA server (asyncua), with the classic PLC handshake.

Nodes, all under ``ns=<urn:sdgasnet:inspector>;s=Station.<Name>`` (the PLC writes the three marked W):

    Ready  Busy  Trigger(W)  TriggerAck  ResultValid  ResultAck(W)  Verdict  DefectCount  ClassId
    ErrorCode  InspectionId  RecipeIndex(W)  ModelId  QueueDepth

1. The PLC sets Trigger. The station sets TriggerAck and Busy, and judges the next frame (a live
   camera: the first frame captured after the trigger; a folder: its next image).
2. The PLC resets Trigger; the station resets TriggerAck.
3. The result is written (Verdict OK/NG/ERROR, DefectCount, ClassId of the worst defect or -1,
   ErrorCode, InspectionId), then ResultValid is set.
4. The PLC reads it and sets ResultAck; the station resets ResultValid; the PLC resets ResultAck,
   and the next result, if one waits, is published.

Results wait in a queue of ``QUEUE`` when the PLC is slow; Ready is false while it is full. A
result that finds it full is not silently dropped: one ERROR result with ErrorCode 2
(QUEUE_OVERFLOW) takes the place after the queue, naming the newest lost InspectionId; the
records database has every inspection. Writing RecipeIndex switches the recipe (the index of the
recipe names given, sorted as the recipe list shows them); an unknown index gives ErrorCode 3 and
leaves the recipe as it was.
"""
from __future__ import annotations

import asyncio
import collections
import queue
import threading
import time
import urllib.parse
from dataclasses import dataclass

from .base import Output, OutputState

QUEUE = 8
POLL_S = 0.002          # how often the station looks at the PLC's bits
NAMESPACE = "urn:sdgasnet:inspector"
ERR_NONE, ERR_INSPECTION, ERR_OVERFLOW, ERR_RECIPE = 0, 1, 2, 3
ERROR_CODES = {ERR_NONE: "none", ERR_INSPECTION: "inspection failed (unreadable frame or model error)",
               ERR_OVERFLOW: "result queue overflow (the PLC did not acknowledge in time)",
               ERR_RECIPE: "unknown recipe index"}


@dataclass
class TriggerToken:
    seq: int               # the InspectionId its result will carry
    t: float               # time.monotonic() when the trigger was seen


class TriggerQueue:
    """What the pipeline waits on when a PLC drives the inspection."""

    def __init__(self):
        self.q: queue.Queue = queue.Queue()

    def put(self, token: TriggerToken) -> None:
        self.q.put(token)

    def wait(self, stop: threading.Event, timeout: float = 0.2) -> TriggerToken | None:
        while not stop.is_set():
            try:
                return self.q.get(timeout=timeout)
            except queue.Empty:
                return None
        return None

    def pending(self) -> int:
        return self.q.qsize()


@dataclass
class _Result:
    seq: int
    verdict: str
    defects: int
    class_id: int
    error: int
    t_trigger: float | None


_NODES = {   # name: (initial value, variant type name, writable by the PLC)
    "Ready": (False, "Boolean", False), "Busy": (False, "Boolean", False), "Trigger": (False, "Boolean", True),
    "TriggerAck": (False, "Boolean", False), "ResultValid": (False, "Boolean", False),
    "ResultAck": (False, "Boolean", True), "Verdict": ("", "String", False), "DefectCount": (0, "Int32", False),
    "ClassId": (-1, "Int32", False), "ErrorCode": (0, "Int32", False), "InspectionId": (0, "Int32", False),
    "RecipeIndex": (0, "Int32", True), "ModelId": ("", "String", False), "QueueDepth": (0, "Int32", False),
}


class OpcUaStation(Output):
    name = "opcua"

    def __init__(self, url: str, model_id: str = "", recipes: list[str] | None = None, recipe_index: int = 0,
                 on_recipe=None, line: str | None = None, queue_size: int = QUEUE, **_):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "opc.tcp" or not u.hostname:
            raise ValueError(f"--opcua {url}: expected opc.tcp://HOST:PORT")
        self.url = url
        self.model_id, self.recipes, self.recipe_index = model_id, list(recipes or []), recipe_index
        self.on_recipe = on_recipe or (lambda index: None)
        self.line = line
        self.queue_size = queue_size
        self.trigger = TriggerQueue()
        self._incoming: collections.deque = collections.deque()   # results from the inference thread
        self._queue: collections.deque = collections.deque()      # results waiting for the PLC
        self._overflow: _Result | None = None
        self._seq = self._last_result_seq = 0
        self._written: dict = {}
        self._valid = self._trig_prev = self._ack_prev = False
        self.published = self.lost = 0
        self.round_trips_ms: collections.deque = collections.deque(maxlen=1000)   # trigger -> ResultValid
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.clients_seen = False

    # ------------------------------------------------------------------------------ lifecycle
    def start(self, wait: bool = True) -> "OpcUaStation":
        """Serve on a thread of its own. ``wait``: until the server is up (about 2 s), raising if it
        cannot serve; otherwise return at once (a GUI) and report a failure through ``state()``."""
        self._thread = threading.Thread(target=self._serve, name="opcua-station", daemon=True)
        self._thread.start()
        if not wait:
            return self
        if not self._ready.wait(60):
            raise TimeoutError(f"--opcua {self.url}: the OPC UA server did not start within 60 s")
        if self._error is not None:
            raise ValueError(f"--opcua {self.url}: cannot serve ({self._error})") from None
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)

    def _serve(self):
        try:
            asyncio.run(self._main())
        except BaseException as e:  # noqa: BLE001 - reported by start() or state()
            self._error = e
            self._ready.set()

    async def _main(self):
        import logging

        from asyncua import Server, ua

        for name in ("asyncua", "asyncua.server", "asyncua.server.address_space"):
            logging.getLogger(name).setLevel(logging.CRITICAL)   # its own lines would flood a headless log; failures reach start() or state()
        self._ua = ua
        self._loop = asyncio.get_running_loop()
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("SD-GASNet Inspector")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(NAMESPACE)
        station = await server.nodes.objects.add_object(ua.NodeId("Station", idx), "Station")
        self.nodes = {}
        for name, (val, vt, writable) in _NODES.items():
            node = await station.add_variable(ua.NodeId(f"Station.{name}", idx), name, val,
                                              varianttype=getattr(ua.VariantType, vt))
            if writable:
                await node.set_writable()
            self.nodes[name] = (node.nodeid, getattr(ua.VariantType, vt))
        self._server = server
        async with server:
            await self._write(ModelId=self.model_id, RecipeIndex=self.recipe_index, Ready=True)
            self._recipe_seen = self.recipe_index
            self._ready.set()
            while not self._stop.is_set():
                await self._step()
                await asyncio.sleep(POLL_S)
            await self._write(Ready=False)

    # --------------------------------------------------------------------------- the handshake
    def _read(self, name: str):
        return self._server.read_attribute_value(self.nodes[name][0]).Value.Value

    async def _write(self, **values):
        ua = self._ua
        for name, v in values.items():
            if self._written.get(name, object()) == v and name not in ("Trigger", "ResultAck"):
                continue       # unchanged: no write, so subscribed clients get no empty notifications
            self._written[name] = v
            nodeid, vt = self.nodes[name]
            await self._server.write_attribute_value(nodeid, ua.DataValue(ua.Variant(v, vt)))

    async def _step(self):
        trig, ack = bool(self._read("Trigger")), bool(self._read("ResultAck"))
        if trig and not self._trig_prev:                       # 1. a trigger
            self._seq = (self._seq % 2_147_483_647) + 1
            self.trigger.put(TriggerToken(self._seq, time.monotonic()))
            await self._write(TriggerAck=True, Busy=True)
        elif not trig and self._trig_prev:                     # 2. the PLC saw the acknowledgement
            await self._write(TriggerAck=False)
        self._trig_prev = trig
        while self._incoming:                                   # results from the inference thread
            self._enqueue(self._incoming.popleft())
        if ack and not self._ack_prev and self._valid:          # 4. the PLC read the result
            self._valid = False
            await self._write(ResultValid=False)
        self._ack_prev = ack
        if not self._valid and not ack:                         # 3. publish the next result
            r = self._queue.popleft() if self._queue else self._overflow
            if r is not None:
                if r is self._overflow:
                    self._overflow = None
                await self._write(Verdict=r.verdict, DefectCount=r.defects, ClassId=r.class_id, ErrorCode=r.error,
                                  InspectionId=r.seq)
                await self._write(ResultValid=True)
                self._valid = True
                self.published += 1
                if r.t_trigger is not None:
                    self.round_trips_ms.append((time.monotonic() - r.t_trigger) * 1e3)
        ri = self._read("RecipeIndex")
        if ri != self._recipe_seen:
            self._recipe_seen = ri
            await self._switch_recipe(int(ri))
        full = len(self._queue) >= self.queue_size
        await self._write(Ready=not full, Busy=self.trigger.pending() > 0 or self._busy(), QueueDepth=len(self._queue))

    def _busy(self) -> bool:
        return self._seq > self._last_result_seq

    def _enqueue(self, r: _Result):
        self._last_result_seq = max(self._last_result_seq, r.seq)
        if len(self._queue) < self.queue_size:
            self._queue.append(r)
            return
        self.lost += 1
        self._overflow = _Result(r.seq, "ERROR", 0, -1, ERR_OVERFLOW, None)

    async def _switch_recipe(self, index: int):
        if not 0 <= index < len(self.recipes):
            await self._write(ErrorCode=ERR_RECIPE)
            return
        try:
            self.on_recipe(index)
        except Exception:  # noqa: BLE001 - the recipe stays as it was; the PLC sees the code
            await self._write(ErrorCode=ERR_RECIPE)

    # ------------------------------------------------------------------------------- outputs
    def publish(self, result, record) -> None:
        token = getattr(result, "trigger", None)
        if token is None:
            return          # a frame not asked for by the PLC (e.g. the first one of a folder)
        worst = -1
        if len(result.defect) and result.defect.any():
            s = [float(sc) if d else -1.0 for sc, d in zip(result.scores, result.defect)]
            worst = int(result.classes[max(range(len(s)), key=s.__getitem__)])
        err = ERR_INSPECTION if result.verdict == "ERROR" else ERR_NONE
        n = int(result.defect.sum()) if len(result.defect) else 0
        self._incoming.append(_Result(token.seq, result.verdict, n, worst, err, token.t))   # deque: thread-safe

    def state(self) -> OutputState:
        if self._error is not None:
            return OutputState("opcua", self.url, False, f"cannot serve: {self._error}", errors=1)
        if not self._ready.is_set():
            return OutputState("opcua", self.url, False, "starting the server")
        detail = f"{len(self._queue)} result(s) waiting for ResultAck" if self._queue else ""
        if self.lost:
            detail = ", ".join(x for x in (detail, f"{self.lost} lost to queue overflow (ERROR sent)") if x)
        return OutputState("opcua", self.url, self._ready.is_set() and not self._stop.is_set(), detail,
                           self.published, len(self._queue), self.lost, self._stop.is_set())
