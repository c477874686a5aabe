"""What the PLC transports share: a server on its own thread and asyncio loop carrying one ``Handshake``,
that restarts itself when it fails, and says so.

A transport (``opcua.py``, ``modbus.py``) gives ``_serving`` (set the server up, serve while the
block runs), ``_write_signal`` (one station signal to its node or register), ``_clients`` and
``_listening``. It hands every PLC write to ``self.hs`` and awaits ``_flush`` before answering it,
so the PLC reads the station's answer as soon as its write returns.

A server that fails (an exception in it, or its socket no longer listening) is shown
(``on_state("warning", …)`` reaches the live view and the CLI's stderr), logged, counted in
``state()``, raised to the PLC as StationError 8 once it is back, and restarted with back-off
(1 s doubling to 30 s). The handshake lives on across a restart: results judged meanwhile wait
for the PLC. After ``GIVE_UP`` restarts in a row that never came up, it reports
``on_state("line failed", …)``: ``inspect`` then stops and exits non-zero, for a service manager to restart.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from .base import Output, OutputState
from .handshake import ERROR_TEXT, QUEUE, Err, Handshake, Result, TriggerQueue

log = logging.getLogger("sdgas.line")
GIVE_UP = 5
TICK_S = 0.1


class LineServer(Output):
    name = "line"
    kind = "PLC"

    def __init__(self, target: str, model_id: str = "", recipes: list[str] | None = None, recipe_index: int = 0,
                 on_recipe=None, line: str | None = None, queue_size: int = QUEUE, on_state=None, **_):
        self.target, self.model_id, self.line = target, model_id, line
        self.recipes = list(recipes or [])
        self.on_state = on_state or (lambda state, msg: None)
        self.trigger = TriggerQueue()
        self.hs = Handshake(on_accept=self.trigger.put, on_recipe=on_recipe, alive=self.trigger.alive,
                            recipes=max(1, len(self.recipes)), recipe_index=recipe_index, queue_size=queue_size,
                            on_change=self._wake)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None      # the first start failed: start() raises it
        self.failures = 0
        self.last_failure = ""
        self.gave_up = False
        self.serving = False

    # ------------------------------------------------------------------------------ lifecycle
    def start(self, wait: bool = True) -> "LineServer":
        """Serve on a thread of its own. ``wait``: until the server is up, raising if it cannot
        serve; otherwise return at once (a GUI) and report a failure through ``state()``."""
        self._thread = threading.Thread(target=self._supervise, name=f"{self.name}-station", daemon=True)
        self._thread.start()
        if not wait:
            return self
        if not self._ready.wait(60):
            raise TimeoutError(f"--{self.name} {self.target}: the server did not start within 60 s")
        if self._error is not None:
            raise ValueError(f"--{self.name} {self.target}: cannot serve ({self._error})") from None
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(15)

    def _supervise(self):
        backoff, came_up, in_a_row = 1.0, False, 0
        while not self._stop.is_set():
            self._up = False
            try:
                asyncio.run(self._run())
                return                                   # stopped
            except BaseException as e:  # noqa: BLE001 - shown, logged, restarted (the thread must not die)
                self.serving = False
                if not self._ready.is_set():             # the first start: start() reports it
                    self._error = e
                    self._ready.set()
                    return
                came_up = self._up
                in_a_row = 0 if came_up else in_a_row + 1
                if came_up:
                    backoff = 1.0
                self.failures += 1
                self.last_failure = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                log.error("%s server %s failed: %s; restarting in %.0f s", self.name, self.target,
                          self.last_failure, backoff, exc_info=e)
                if in_a_row >= GIVE_UP:
                    self.gave_up = True
                    self.on_state("line failed", f"{self.name} {self.target}: the server failed {in_a_row} times "
                                                 f"in a row ({self.last_failure}); the PLC cannot reach this station")
                    return
                self.on_state("warning", f"{self.name} {self.target}: the server failed ({self.last_failure}); "
                                         f"the PLC sees ERROR (StationError {Err.TRANSPORT}); restarting in "
                                         f"{backoff:.0f} s")
                self.hs.transport_restarted()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _run(self):
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        async with self._serving():
            await self._flush()
            self.serving = self._up = True
            if self._ready.is_set():
                self.on_state("running", f"{self.name} {self.target}: serving again")
            self._ready.set()
            clients = 0
            while not self._stop.is_set():
                self.hs.tick()
                now = self._clients()
                while clients != now:                      # PLC connections come and go
                    self.hs.plc_connection(now > clients)
                    clients += 1 if now > clients else -1
                await self._flush()
                if not self._listening():
                    raise ConnectionError("the server stopped listening")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), TICK_S)
                self._woken.clear()
            self.hs.signals["Ready"] = False
            await self._write_signal("Ready", False)
        self.serving = False

    def _wake(self) -> None:
        """Writes wait (any thread): the loop writes them now, not at its next tick."""
        loop, ev = self._loop, self._woken
        if loop is not None and ev is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):          # the loop closed meanwhile
                loop.call_soon_threadsafe(ev.set)

    async def _flush(self) -> None:
        async with self._flush_lock:
            for name, value in self.hs.take_writes():
                await self._write_signal(name, value)

    # ----------------------------------------------------------------------- for the transport
    def _serving(self):
        raise NotImplementedError

    async def _write_signal(self, name: str, value) -> None:
        raise NotImplementedError

    def _clients(self) -> int:
        return 0

    def _listening(self) -> bool:
        return True

    # ------------------------------------------------------------------------------- outputs
    def publish(self, result, record) -> None:
        token = getattr(result, "trigger", None)
        if token is None:
            return          # a frame the PLC did not ask for
        worst = -1
        if len(result.defect) and result.defect.any():
            s = [float(sc) if d else -1.0 for sc, d in zip(result.scores, result.defect)]
            worst = int(result.classes[max(range(len(s)), key=s.__getitem__)])
        n = int(result.defect.sum()) if len(result.defect) else 0
        self.hs.judged(Result(token.seq, result.verdict, n, worst,
                              Err.INSPECTION if result.verdict == "ERROR" else Err.NONE,
                              int(result.frame.index), str(result.frame.name)))

    @property
    def round_trips_ms(self):
        return self.hs.round_trips_ms

    def state(self) -> OutputState:
        c = self.hs.counts
        errors = c["refused"] + self.failures + c["timeouts"] + c["bad_writes"]
        if self._error is not None:
            return OutputState(self.name, self.target, False, f"cannot serve: {self._error}", errors=1)
        if not self._ready.is_set():
            return OutputState(self.name, self.target, False, "starting the server")
        closed = self._stop.is_set()
        parts = [f"{self.hs.plc_connected} {self.kind} connected" if self.hs.plc_connected else f"no {self.kind} connected"]
        waiting = self.hs.outstanding()
        if waiting:
            parts.append(f"{waiting} result(s) waiting for ResultAck")
        if c["refused"]:
            parts.append(f"{c['refused']} trigger(s) refused (ERROR sent)")
        code = self.hs.signals["StationError"]
        if code:
            parts.append(f"StationError {code}: {ERROR_TEXT[code]}")
        if self.gave_up:
            parts.insert(0, f"failed, gave up: {self.last_failure}")
        elif self.failures:
            parts.insert(0, f"server failed {self.failures} time(s), last: {self.last_failure}"
                         + ("" if self.serving else "; restarting"))
        return OutputState(self.name, self.target, self.serving and not closed, ", ".join(parts),
                           c["shown"], waiting, errors, closed)
