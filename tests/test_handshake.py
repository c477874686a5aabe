"""The PLC handshake's state machine (core/inspect/outputs/handshake.py) against a model of its table.

Hypothesis plays a PLC that writes Trigger and ResultAck at random (held, pulsed, repeated,
acknowledging nothing or without a result), drops off and comes back, writes bad values and recipe
indices, while the station judges accepted triggers in any order, pauses, and its clock runs past
timeouts. The PLC sees only what the machine writes (replayed in order). After every step the model
checks what the table promises; at the end a well-behaved PLC drains the machine and every trigger
has been answered exactly once, in order: judged, or refused with the code the model expects.
"""
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from core.inspect.outputs.handshake import (ANY, TABLE, Err, Handshake, Result, S, table_markdown)

CAP = 3
TIMEOUT = 5.0


class Clock:
    t = 1000.0

    def __call__(self):
        return self.t


class HandshakeModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.clock = Clock()
        self.alive = True
        self.tokens = []                          # accepted, not yet judged (what the pipeline holds)
        self.recipe_calls = []
        self.h = Handshake(on_accept=self.tokens.append, on_recipe=self._recipe, alive=lambda now: self.alive,
                           recipes=3, queue_size=CAP, ack_timeout_s=TIMEOUT, clock=self.clock)
        self.view = {}                            # what the PLC reads: the writes, replayed in order
        self.trig = self.ack = False              # the PLC's levels
        self.expected = {}                        # InspectionId -> ("judged", verdict) | ("refused", code)
        self.judged = {}                          # InspectionId -> verdict given by the station
        self.shown = []                           # (InspectionId, Verdict, ErrorCode) as the PLC saw them
        self.waiting_accepted = 0                 # accepted, not yet shown
        self.recipe = 0
        self.owed = self.held_since = None        # what the PLC owes, and since when
        self.timeout_fired = False
        self._apply()

    def _recipe(self, index):
        self.recipe_calls.append(index)

    def _apply(self):
        """Replay the machine's writes as a PLC sees them, checking each rise of ResultValid."""
        for name, value in self.h.take_writes():
            if name == "ResultValid" and value and not self.view.get("ResultValid"):
                assert not self.ack, "a result was shown while ResultAck was still high"
                seq = self.view["InspectionId"]
                self.shown.append((seq, self.view["Verdict"], self.view["ErrorCode"]))
            self.view[name] = value
        # the PLC owes its next edge: ResultAck↑ to a shown result, or ResultAck↓; each step has its own timer
        owed = ("valid", self.view["InspectionId"]) if self.view["ResultValid"] else "ack" if self.ack else None
        if owed != self.owed:
            self.owed, self.held_since, self.timeout_fired = owed, self.clock.t if owed else None, False

    # -------------------------------------------------------------------------------- the PLC
    @rule(on=st.booleans())
    def write_trigger(self, on):
        rising = on and not self.trig
        if rising:
            seq = self.h.seq + 1
            if self.alive and self.waiting_accepted < CAP:
                self.expected[seq] = ("judged", None)
                self.waiting_accepted += 1
            else:
                self.expected[seq] = ("refused", Err.QUEUE_FULL if self.waiting_accepted >= CAP else Err.NOT_RUNNING)
        self.trig = on
        shown_before = len(self.shown)
        self.h.plc_write("Trigger", on)
        self._apply()
        self._count_shown(shown_before)

    @rule(on=st.booleans())
    def write_ack(self, on):
        rising_without_result = on and not self.ack and not self.view["ResultValid"]
        was_valid = self.view["ResultValid"]
        self.ack = on
        shown_before = len(self.shown)
        self.h.plc_write("ResultAck", on)
        self._apply()
        if rising_without_result:
            assert self.view["StationError"] == Err.STRAY_ACK
        if on and was_valid:
            assert not self.view["ResultValid"] and self.view["StationError"] == Err.NONE
        self._count_shown(shown_before)

    @rule(connected=st.booleans())
    def plc_drops_off_or_comes_back(self, connected):
        before = dict(self.view)
        self.h.plc_connection(connected)
        self._apply()
        assert self.view == before            # nothing changes for the PLC: it carries on where it was

    @rule(name=st.sampled_from(["Trigger", "ResultAck", "RecipeIndex"]))
    def bad_write(self, name):
        self.h.bad_write(name)
        self._apply()
        assert self.view["StationError"] == Err.BAD_WRITE

    @rule(index=st.integers(-2, 4))
    def write_recipe(self, index):
        calls = len(self.recipe_calls)
        ok = self.h.plc_write("RecipeIndex", index)
        self._apply()
        assert ok == (0 <= index < 3)
        if ok:
            self.recipe = index
            assert self.recipe_calls[calls:] == [index]
        else:
            assert self.recipe_calls[calls:] == [] and self.view["StationError"] == Err.RECIPE
        assert self.view["RecipeIndex"] == self.recipe

    # ---------------------------------------------------------------------------- the station
    @rule(data=st.data(), verdict=st.sampled_from(["OK", "NG", "ERROR"]))
    def judge_one(self, data, verdict):
        if not self.tokens:
            return
        token = self.tokens.pop(data.draw(st.integers(0, len(self.tokens) - 1)))   # any order
        self.judged[token.seq] = verdict
        shown_before = len(self.shown)
        self.h.judged(Result(token.seq, verdict, error=Err.INSPECTION if verdict == "ERROR" else Err.NONE,
                             frame_id=token.seq * 10))
        self._apply()
        self._count_shown(shown_before)

    @rule(alive=st.booleans())
    def station_pauses_or_resumes(self, alive):
        self.alive = alive
        self.h.tick()
        self._apply()
        assert self.view["Alive"] == alive

    @rule(dt=st.sampled_from([0.05, 0.5, 1.0, 3.0, 6.0]))
    def time_passes(self, dt):
        beats = self.view["Heartbeat"]
        timeouts = self.h.counts["timeouts"]
        self.clock.t += dt
        self.h.tick()
        self._apply()
        if self.held_since is not None and self.clock.t - self.held_since > TIMEOUT and not self.timeout_fired:
            self.timeout_fired = True
            assert self.h.counts["timeouts"] == timeouts + 1 and self.view["StationError"] == Err.ACK_TIMEOUT
        else:
            assert self.h.counts["timeouts"] == timeouts
        if dt >= 1.0:
            assert self.view["Heartbeat"] == (beats + 1 if self.alive else beats)

    @rule()
    def server_restarts(self):
        self.h.transport_restarted()
        self._apply()
        assert self.view["StationError"] == Err.TRANSPORT

    # ------------------------------------------------------------------------------ checks
    def _count_shown(self, before):
        for seq, _, _ in self.shown[before:]:
            if self.expected[seq][0] == "judged":
                self.waiting_accepted -= 1

    @invariant()
    def what_the_plc_reads_is_the_table(self):
        v = self.view
        assert v == self.h.signals                          # every change was written, in order
        assert v["TriggerAck"] == self.trig                 # each edge answered at once
        assert v["ResultValid"] == (self.h.state is S.VALID)
        assert (self.h.state in (S.ACKED, S.STRAY)) == (self.ack and not v["ResultValid"])
        assert v["Busy"] == bool(self.tokens)
        assert v["Ready"] == (self.alive and self.waiting_accepted < CAP)
        assert v["QueueDepth"] == len(self.expected) - len(self.shown)
        # the results shown so far: 1, 2, 3 … each once, each as the model expects
        assert [s for s, _, _ in self.shown] == list(range(1, len(self.shown) + 1))
        for seq, verdict, code in self.shown:
            kind, want = self.expected[seq]
            if kind == "judged":
                assert verdict == self.judged[seq] and code == (Err.INSPECTION if verdict == "ERROR" else Err.NONE)
            else:
                assert (verdict, code) == ("ERROR", want)

    def teardown(self):
        """A PLC that behaves from now on, and a station that judges: every trigger is answered once."""
        self.station_pauses_or_resumes(True)
        if self.trig:
            self.write_trigger(False)
        for _ in range(4 * len(self.expected) + 4):
            while self.tokens:
                token = self.tokens.pop(0)
                self.judged[token.seq] = "OK"
                before = len(self.shown)
                self.h.judged(Result(token.seq, "OK"))
                self._apply()
                self._count_shown(before)
            if self.view["ResultValid"]:
                self.write_ack(True)
            if self.ack:
                self.write_ack(False)
        assert [s for s, _, _ in self.shown] == sorted(self.expected), "a trigger was never answered"
        self.what_the_plc_reads_is_the_table()


HandshakeModel.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None,
                                            suppress_health_check=[HealthCheck.too_slow])
test_random_plc_event_sequences_follow_the_table = HandshakeModel.TestCase


def test_the_table_is_total_and_docs_print_it():
    """Each (state, event) pair the machine can meet has a row, and docs/line.md shows the table and the
    Modbus register map as the code has them."""
    from pathlib import Path

    for event in {r.event for r in TABLE}:
        for state in S:
            assert any(r.event is event and r.state in (ANY, state) for r in TABLE) or \
                (state, event.name) in {(S.IDLE, "ACK_OFF"), (S.VALID, "ACK_OFF"), (S.ACKED, "ACK_ON"),
                                        (S.STRAY, "ACK_ON"), (S.VALID, "HEAD_READY"), (S.ACKED, "HEAD_READY"),
                                        (S.STRAY, "HEAD_READY")}, (state, event)
    from core.inspect.outputs.modbus import register_map_markdown

    doc = (Path(__file__).resolve().parents[1] / "docs" / "line.md").read_text()
    assert table_markdown() in doc and register_map_markdown() in doc


@pytest.mark.parametrize("pattern", ["documented", "held"])
def test_both_timing_patterns_get_one_result_per_trigger(pattern):
    """The issue's defect: a PLC that holds Trigger until ResultAck and triggers again at once got 1
    result of 10. Here, with edges seen as written, it gets all of them."""
    tokens = []
    h = Handshake(on_accept=tokens.append)
    got = []
    for i in range(50):
        h.plc_write("Trigger", True)
        if pattern == "documented":
            h.plc_write("Trigger", False)
        h.judged(Result(tokens.pop(0).seq, "OK"))
        assert h.signals["ResultValid"]
        got.append(h.signals["InspectionId"])
        h.plc_write("ResultAck", True)
        if pattern == "held":
            h.plc_write("Trigger", False)
        h.plc_write("ResultAck", False)
    assert got == list(range(1, 51))


@pytest.mark.parametrize("kind", ["camera", "folder"])
def test_each_trigger_judges_a_frame_captured_after_it(kind, tmp_path):
    """A trigger is never answered with a frame taken before it: from a live camera (25 frames/s,
    newest frame only) the next frame, from a folder its next file, read when the trigger comes (not
    one read ahead). The pipeline's trigger path, triggers at random moments."""
    import random
    import threading
    import time
    from types import SimpleNamespace

    import numpy as np

    from core.inspect.outputs.handshake import TriggerQueue, TriggerToken
    from core.inspect.pipeline import Pipeline
    from core.inspect.sources import DemoSource

    class Predictor:
        names = ["a"]
        model_id = "fake"

        def __call__(self, img, conf):
            return SimpleNamespace(boxes=np.zeros((0, 4), np.float32), scores=np.zeros(0, np.float32),
                                   classes=np.zeros(0, int), timings={"inference": 1.0})

    class Plc:
        name = "plc"
        trigger = TriggerQueue()

        def publish(self, r, rec):
            pass

    got, done = [], threading.Event()
    if kind == "camera":
        source = DemoSource(fps=25, size=(64, 64))
    else:
        import cv2

        from core.inspect.sources import FolderSource

        for k in range(8):
            cv2.imwrite(str(tmp_path / f"part_{k}.png"), np.full((32, 32, 3), k * 20, np.uint8))
        source = FolderSource(str(tmp_path))
    p = Pipeline(source, Predictor(), outputs=[Plc()],
                 on_result=lambda r: (got.append(r), len(got) == 8 and done.set()))
    p.start()
    try:
        rng = random.Random(1)
        for seq in range(1, 9):
            time.sleep(rng.random() * 0.1)
            Plc.trigger.put(TriggerToken(seq, time.monotonic()))
        assert done.wait(30)
    finally:
        p.stop()
    assert [r.trigger.seq for r in got] == list(range(1, 9))
    assert all(r.frame.t_capture >= r.trigger.t and r.frame.image is not None for r in got)
    assert [r.frame.index for r in got] == sorted({r.frame.index for r in got})     # a new frame each time
    if kind == "folder":
        assert [r.frame.name for r in got] == [f"part_{k}.png" for k in range(8)]
