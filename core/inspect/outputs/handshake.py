"""The PLC handshake as one state machine, written as a table, with no transport in it.

OPC UA (``opcua.py``) and Modbus TCP (``modbus.py``) only carry it: each hands every PLC write to
``Handshake.plc_write`` the moment it arrives (no polling, so no edge is missed), and writes back the
station's signals that ``Handshake.take_writes`` gives, in order. ``TABLE`` below is the rule; the
state table in docs/line.md is printed from it (``table_markdown``), and tests/test_handshake.py
checks random PLC event sequences against a model of it.

States are those of the result side (the trigger side needs none: ``TriggerAck`` mirrors the
``Trigger`` level, and each rising edge is answered at once, accepted or refused):

    IDLE    no result shown, ResultAck low
    VALID   a result shown (ResultValid high), waiting for the PLC's ResultAck
    ACKED   the PLC acknowledged (ResultValid fell); waiting for ResultAck to fall
    STRAY   ResultAck rose with no result shown; waiting for it to fall

Every trigger gets exactly one result, in InspectionId order: a judged one, or an ``ERROR`` with the
code saying why it was refused. A PLC write of the level a bit already holds is no event.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Callable

QUEUE = 8              # accepted triggers that may wait for their result to be read
ACK_TIMEOUT_S = 10.0   # ResultValid (or ResultAck) held longer than this raises StationError 6
ALIVE_S = 5.0          # the inspection thread silent longer than this: Alive falls, triggers are refused
BEAT_S = 1.0           # Heartbeat period


class Err:
    """Codes in ``ErrorCode`` (a result's) and ``StationError`` (the station's latest event)."""
    NONE = 0
    INSPECTION = 1       # result: the frame could not be judged (unreadable, no frame, model error)
    QUEUE_FULL = 2       # result: trigger refused, QUEUE results already wait for the PLC
    RECIPE = 3           # station: RecipeIndex names no recipe (the index in force stays)
    NOT_RUNNING = 4      # result: trigger refused, the inspection is not running (paused, stopped, hung)
    STRAY_ACK = 5        # station: ResultAck rose while no result was shown
    ACK_TIMEOUT = 6      # station: ResultValid or ResultAck stayed high longer than ACK_TIMEOUT_S
    BAD_WRITE = 7        # station: a write with a bad status or a value of the wrong type, ignored
    TRANSPORT = 8        # station: the server failed and restarted; writes made meanwhile are lost


ERROR_TEXT = {
    Err.NONE: "none",
    Err.INSPECTION: "inspection failed (unreadable frame, no frame, model error)",
    Err.QUEUE_FULL: "trigger refused: the result queue is full (the PLC triggered while Ready was false)",
    Err.RECIPE: "unknown recipe index (the recipe in force stays)",
    Err.NOT_RUNNING: "trigger refused: the inspection is not running (paused, stopped or hung)",
    Err.STRAY_ACK: "ResultAck without ResultValid (ignored until it falls)",
    Err.ACK_TIMEOUT: "the PLC did not acknowledge in time (ResultValid or ResultAck held too long)",
    Err.BAD_WRITE: "a PLC write with a bad status code or the wrong type (ignored)",
    Err.TRANSPORT: "the station's server failed and restarted itself",
}


class S(str, Enum):
    IDLE = "IDLE"
    VALID = "VALID"
    ACKED = "ACKED"
    STRAY = "STRAY"


class E(str, Enum):
    TRIGGER_ON = "Trigger ↑"
    TRIGGER_OFF = "Trigger ↓"
    ACK_ON = "ResultAck ↑"
    ACK_OFF = "ResultAck ↓"
    JUDGED = "result judged"
    HEAD_READY = "next result ready"      # raised by the machine itself in IDLE
    TIMEOUT = "ack timeout"
    PLC_GONE = "PLC disconnects"
    PLC_BACK = "PLC reconnects"
    BAD_WRITE = "bad write"
    TRANSPORT = "server restarted"


ANY = None


@dataclass(frozen=True)
class Row:
    state: S | None          # None: any state
    event: E
    guard: str               # a method of Handshake returning bool, or "" (always)
    actions: tuple[str, ...]
    next: S | None           # None: the state stays
    doc: str                 # what the table in docs/line.md says


TABLE: tuple[Row, ...] = (
    Row(ANY, E.TRIGGER_ON, "can_accept", ("accept",), None,
        "InspectionId+1, TriggerAck↑, Busy↑; the next frame is asked for"),
    Row(ANY, E.TRIGGER_ON, "is_full", ("refuse_full",), None,
        "InspectionId+1, TriggerAck↑; its result is ERROR with ErrorCode 2"),
    Row(ANY, E.TRIGGER_ON, "", ("refuse_not_running",), None,
        "InspectionId+1, TriggerAck↑; its result is ERROR with ErrorCode 4"),
    Row(ANY, E.TRIGGER_OFF, "", ("trigger_ack_off",), None, "TriggerAck↓"),
    Row(ANY, E.JUDGED, "", ("fill",), None, "the result waits in its place; Busy↓ when nothing is judged"),
    Row(S.IDLE, E.HEAD_READY, "", ("show_head",), S.VALID,
        "result nodes written, then ResultValid↑"),
    Row(S.VALID, E.ACK_ON, "", ("clear_valid",), S.ACKED, "ResultValid↓, StationError 0"),
    Row(S.IDLE, E.ACK_ON, "", ("stray_ack",), S.STRAY, "StationError 5; no result is shown until ResultAck falls"),
    Row(S.ACKED, E.ACK_OFF, "", (), S.IDLE, "the next result, if one waits, is shown"),
    Row(S.STRAY, E.ACK_OFF, "", (), S.IDLE, "the next result, if one waits, is shown"),
    Row(ANY, E.TIMEOUT, "", ("ack_timeout",), None, "StationError 6; the result stays shown"),
    Row(ANY, E.PLC_GONE, "", (), None, "nothing changes: levels, results and queue wait for the PLC"),
    Row(ANY, E.PLC_BACK, "", (), None, "nothing changes: the PLC carries on where it was"),
    Row(ANY, E.BAD_WRITE, "", ("bad_write",), None, "StationError 7; the node keeps its last good value"),
    Row(ANY, E.TRANSPORT, "", ("transport_restarted",), None, "StationError 8"),
)

# The station's signals (what a PLC reads), with their initial values, in the order a transport lays them out.
SIGNALS: dict[str, object] = {
    "Ready": False, "Busy": False, "TriggerAck": False, "ResultValid": False, "Alive": False,
    "Verdict": "", "DefectCount": 0, "ClassId": -1, "ErrorCode": 0, "InspectionId": 0, "FrameId": -1,
    "FrameName": "", "StationError": 0, "Heartbeat": 0, "QueueDepth": 0, "RecipeIndex": 0,
}
PLC_BITS = ("Trigger", "ResultAck")      # the PLC's two handshake bits; RecipeIndex is its third write


@dataclass
class TriggerToken:
    """An accepted trigger: what the pipeline judges a frame for."""
    seq: int               # the InspectionId its result carries
    t: float               # time.monotonic() when the trigger was accepted: the frame must be newer


class TriggerQueue:
    """Accepted triggers, taken by the pipeline's inference thread (``wait``). Its polls tell the
    handshake that the inspection is alive; ``close`` (the pipeline ended) refuses later triggers."""

    def __init__(self):
        self.q: queue.Queue = queue.Queue()
        self.polled = time.monotonic()
        self.paused = False
        self.closed = False

    def put(self, token: TriggerToken) -> None:
        self.q.put(token)

    def wait(self, stop: threading.Event, timeout: float = 0.2) -> TriggerToken | None:
        self.polled = time.monotonic()
        if stop.is_set():
            return None
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None
        finally:
            self.polled = time.monotonic()

    def alive(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return not self.closed and not self.paused and now - self.polled < ALIVE_S

    def drain(self) -> list[TriggerToken]:
        """Close, and give the triggers accepted but never taken (each still needs its result)."""
        self.closed = True
        out = []
        while True:
            try:
                out.append(self.q.get_nowait())
            except queue.Empty:
                return out


@dataclass
class Result:
    """One answer to one trigger."""
    seq: int
    verdict: str = ""          # OK, NG, ERROR
    defects: int = 0
    class_id: int = -1
    error: int = Err.NONE
    frame_id: int = -1
    frame_name: str = ""


class _Slot:
    """A place in the result queue: one accepted trigger (``result`` None until judged), or a run of
    consecutive refused triggers (first..last, all with ``code``), so a PLC that keeps triggering
    while the queue is full costs one slot, not one per edge."""
    __slots__ = ("first", "last", "result", "code", "accepted", "t")

    def __init__(self, first, last=None, result=None, code=Err.NONE, accepted=False, t=None):
        self.first, self.last = first, first if last is None else last
        self.result, self.code, self.accepted, self.t = result, code, accepted, t

    def ready(self) -> bool:
        return not self.accepted or self.result is not None


class Handshake:
    """The machine. Thread-safe: PLC writes come on the transport's thread, results on the
    inference thread. ``on_accept(token)`` turns an accepted trigger into "get the next frame"
    (``TriggerQueue.put``; the pipeline's ``_frame_for`` then reads it, or fires a software-triggered camera). ``on_recipe(index)``
    switches the recipe (raises to refuse). ``on_change()`` is called when writes wait to be taken."""

    def __init__(self, on_accept: Callable[[TriggerToken], None] | None = None,
                 on_recipe: Callable[[int], None] | None = None, alive: Callable[[float], bool] | None = None,
                 recipes: int = 1, recipe_index: int = 0, queue_size: int = QUEUE,
                 ack_timeout_s: float = ACK_TIMEOUT_S, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[], None] | None = None):
        self.on_accept = on_accept or (lambda token: None)
        self.on_recipe = on_recipe or (lambda index: None)
        self.is_alive = alive or (lambda now: True)
        self.recipes, self.queue_size, self.ack_timeout_s = recipes, queue_size, ack_timeout_s
        self.clock = clock
        self.on_change = on_change or (lambda: None)
        self._lock = threading.RLock()
        self.state = S.IDLE
        self.levels = {name: False for name in PLC_BITS}
        self.signals = dict(SIGNALS, RecipeIndex=recipe_index)
        self.slots: deque[_Slot] = deque()
        self.seq = 0
        self.in_flight = 0
        self.shown_since: float | None = None      # when ResultValid rose / ResultAck stayed high
        self.timed_out = False
        self.beat_t = clock()
        self.counts = {"accepted": 0, "refused": 0, "shown": 0, "acked": 0, "stray_acks": 0, "timeouts": 0,
                       "bad_writes": 0, "plc_connections": 0}
        self.round_trips_ms: deque = deque(maxlen=1000)    # accepted trigger -> ResultValid, station's clock
        self.plc_connected = 0
        self.signals.update(Alive=bool(self.is_alive(clock())), Ready=self.can_accept())
        self._writes: list[tuple[str, object]] = list(self.signals.items())   # the first take lays out all

    # ------------------------------------------------------------------------------ inputs
    def plc_write(self, name: str, value) -> bool:
        """A PLC wrote ``name`` (``Trigger``, ``ResultAck`` or ``RecipeIndex``); False: refused
        (an unknown recipe index; the transport may tell the PLC so in its own terms)."""
        if name == "RecipeIndex":
            return self.recipe_write(value)
        on = bool(value)
        with self._lock:
            if self.levels[name] == on:
                return True                          # the level it holds: no edge
            self.levels[name] = on
            self._fire({("Trigger", True): E.TRIGGER_ON, ("Trigger", False): E.TRIGGER_OFF,
                        ("ResultAck", True): E.ACK_ON, ("ResultAck", False): E.ACK_OFF}[(name, on)])
        return True

    def judged(self, result: Result) -> None:
        """The station judged the frame of accepted trigger ``result.seq`` (any thread)."""
        with self._lock:
            self._judged = result
            self._fire(E.JUDGED)

    def tick(self) -> None:
        """Call often (10 times a second): Heartbeat, Alive, Ready, and the acknowledgement timeout."""
        with self._lock:
            now = self.clock()
            alive = bool(self.is_alive(now))
            if now - self.beat_t >= BEAT_S:
                self.beat_t = now
                if alive:
                    self._set("Heartbeat", (self.signals["Heartbeat"] + 1) % 65536)
            self._set("Alive", alive)
            self._set_ready()
            if (self.shown_since is not None and not self.timed_out
                    and now - self.shown_since > self.ack_timeout_s):
                self._fire(E.TIMEOUT)

    def plc_connection(self, connected: bool) -> None:
        with self._lock:
            self.plc_connected = max(0, self.plc_connected + (1 if connected else -1))
            if connected:
                self.counts["plc_connections"] += 1
            self._fire(E.PLC_BACK if connected else E.PLC_GONE)

    def bad_write(self, name: str) -> None:
        with self._lock:
            self._fire(E.BAD_WRITE)

    def transport_restarted(self) -> None:
        with self._lock:
            self._fire(E.TRANSPORT)
            self._writes[:0] = list(self.signals.items())   # a new server: lay out every signal again

    def recipe_write(self, value) -> bool:
        with self._lock:
            try:
                index = int(value)
                if not 0 <= index < self.recipes:
                    raise ValueError(index)
                self.on_recipe(index)
            except Exception:  # noqa: BLE001 - the recipe stays; the PLC reads the index in force back
                self._set("StationError", Err.RECIPE)
                self._set("RecipeIndex", self.signals["RecipeIndex"], force=True)
                return False
            self._set("RecipeIndex", index, force=True)
            return True

    # ----------------------------------------------------------------------------- outputs
    def take_writes(self) -> list[tuple[str, object]]:
        """The station's signal changes since the last call, in the order they must be written."""
        with self._lock:
            out, self._writes = self._writes, []
            return out

    def outstanding(self) -> int:
        """InspectionIds not yet shown to the PLC."""
        with self._lock:
            return sum(s.last - s.first + 1 for s in self.slots)

    # ----------------------------------------------------------------------------- the machine
    def _fire(self, event: E) -> None:
        for row in TABLE:
            if row.event is event and row.state in (ANY, self.state) and (not row.guard or getattr(self, row.guard)()):
                for action in row.actions:
                    getattr(self, "_" + action)()
                if row.next is not None:
                    self._enter(row.next)
                break
        if self.state is S.IDLE and self.slots and self.slots[0].ready():
            self._fire(E.HEAD_READY)
        self._set("QueueDepth", self.outstanding())
        self._set_ready()
        if self._writes:
            self.on_change()

    def _enter(self, state: S) -> None:
        self.state = state
        held = state in (S.VALID, S.ACKED, S.STRAY)     # waiting on the PLC: the timeout runs
        self.shown_since = self.clock() if held else None
        self.timed_out = False

    def _set(self, name: str, value, force: bool = False) -> None:
        if force or self.signals[name] != value:
            self.signals[name] = value
            self._writes.append((name, value))

    def _set_ready(self) -> None:
        self._set("Ready", self.can_accept())
        self._set("Busy", self.in_flight > 0)

    # guards
    def _accepted_waiting(self) -> int:
        return sum(1 for s in self.slots if s.accepted)

    def can_accept(self) -> bool:
        return not self.is_full() and bool(self.is_alive(self.clock()))

    def is_full(self) -> bool:
        return self._accepted_waiting() >= self.queue_size

    # actions
    def _next_seq(self) -> int:
        self.seq = self.seq % 2_147_483_647 + 1
        self._set("TriggerAck", True)
        return self.seq

    def _accept(self):
        seq = self._next_seq()
        t = self.clock()
        self.slots.append(_Slot(seq, accepted=True, t=t))
        self.in_flight += 1
        self.counts["accepted"] += 1
        self.on_accept(TriggerToken(seq, t))

    def _refuse(self, code: int):
        seq = self._next_seq()
        self.counts["refused"] += 1
        last = self.slots[-1] if self.slots else None
        if last is not None and not last.accepted and last.code == code and last.last == seq - 1:
            last.last = seq                   # one slot for a run of refusals
        else:
            self.slots.append(_Slot(seq, code=code))

    def _refuse_full(self):
        self._refuse(Err.QUEUE_FULL)

    def _refuse_not_running(self):
        self._refuse(Err.NOT_RUNNING)

    def _trigger_ack_off(self):
        self._set("TriggerAck", False)

    def _fill(self):
        r = self._judged
        for s in self.slots:
            if s.accepted and s.first == r.seq and s.result is None:
                s.result = r
                self.in_flight -= 1
                return
        # a result for no waiting trigger (e.g. judged after a restart of the machine): nothing to show

    def _show_head(self):
        s = self.slots[0]
        if s.accepted:
            self.slots.popleft()
            r = s.result
            self.round_trips_ms.append((self.clock() - s.t) * 1e3)
        else:
            r = Result(s.first, "ERROR", error=s.code)
            if s.first == s.last:
                self.slots.popleft()
            else:
                s.first += 1
        for name, v in (("Verdict", r.verdict), ("DefectCount", r.defects), ("ClassId", r.class_id),
                        ("ErrorCode", r.error), ("InspectionId", r.seq), ("FrameId", r.frame_id),
                        ("FrameName", r.frame_name)):
            self._set(name, v)
        self._set("ResultValid", True)
        self.counts["shown"] += 1

    def _clear_valid(self):
        self._set("ResultValid", False)
        self._set("StationError", Err.NONE)
        self.counts["acked"] += 1

    def _stray_ack(self):
        self._set("StationError", Err.STRAY_ACK)
        self.counts["stray_acks"] += 1

    def _ack_timeout(self):
        if self.shown_since is None:
            return                            # nothing waits on the PLC (a late tick)
        self.timed_out = True
        self._set("StationError", Err.ACK_TIMEOUT)
        self.counts["timeouts"] += 1

    def _bad_write(self):
        self._set("StationError", Err.BAD_WRITE)
        self.counts["bad_writes"] += 1

    def _transport_restarted(self):
        self._set("StationError", Err.TRANSPORT)


def table_markdown() -> str:
    """The state table as docs/line.md shows it."""
    lines = ["| state | PLC or station event | when | what the station does | next state |", "|---|---|---|---|---|"]
    guards = {"can_accept": f"the inspection runs and fewer than {QUEUE} accepted results wait",
              "is_full": f"{QUEUE} accepted results wait (Ready is false)", "": ""}
    for r in TABLE:
        when = guards[r.guard]
        if r.event is E.TRIGGER_ON and not r.guard:
            when = "the inspection is not running (Alive is false)"
        lines.append(f"| {r.state.value if r.state else 'any'} | {r.event.value} | {when} | {r.doc} | "
                     f"{r.next.value if r.next else '(same)'} |")
    return "\n".join(lines)
