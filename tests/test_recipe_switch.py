"""A recipe switched in mid-run judges exactly as a session started on it, and the records say so.

The defect this guards against: the detector kept only what the first recipe could count, so a
stricter recipe switched in later (from the GUI, or by the PLC's RecipeIndex) judged with the old
floor and passed defects as OK while each row named the new recipe. Each test compares frames with
what a session *started* on the recipe in force for that frame gives on the same fixed folder.
"""
import sqlite3
import threading
import time

import cv2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.detector import Detector
from core.inspect.options import InspectOptions
from core.inspect.recipe import Recipe

N_FRAMES = 12
# Recipes whose floors differ by two orders of magnitude, per-class thresholds and a minimum area:
# on the demo model's scores they give different verdicts on the same frames (checked below).
POOL = [
    Recipe(name="lenient", conf=0.9),
    Recipe(name="usual", conf=0.6),
    Recipe(name="strict", conf=0.1),
    Recipe(name="very-strict", conf=0.01),
    Recipe(name="mixed", conf=0.7, class_conf={"scratches": 0.05, "patches": 0.2}, min_area=30.0),
    Recipe(name="area", conf=0.05, min_area=400.0, ignore_classes=["inclusion"]),
]
BY_NAME = {r.name: r for r in POOL}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A fixed folder of demo-line frames (every frame judged, in name order)."""
    from core.inspect.sources import DemoSource

    d = tmp_path_factory.mktemp("parts")
    src = DemoSource(seed=3, fps=0)
    for k in range(N_FRAMES):
        cv2.imwrite(str(d / f"part_{k:03d}.png"), src.frame_image(k)[0])
    return d


@pytest.fixture(scope="module")
def detector():
    return Detector("demo", "cpu")


def _run(detector, folder, recipe, switches=(), db=None):
    """Judge the folder; ``switches`` [(after frame i, recipe)] are made on the inference thread right
    after frame i's result, so they fall exactly between two frames. Returns [(recipe name, frame
    outcome)]."""
    out, plan = [], dict(switches)
    holder = {}

    def on_result(r):
        out.append((r.recipe.name, _outcome(r)))
        nxt = plan.get(len(out) - 1)
        if nxt is not None:
            holder["s"].set_recipe(nxt)

    s = detector.inspect(InspectOptions(source=str(folder), recipe=recipe, db=db), on_result=on_result)
    holder["s"] = s
    s.start()
    assert s.wait(120)
    s.stop()
    return out


def _outcome(r):
    """What a frame's judgement is: the verdict and the defects (class, box, score) it counted."""
    defects = sorted((int(c), tuple(round(float(v), 1) for v in b), round(float(sc), 4))
                     for b, sc, c, d in zip(r.boxes, r.scores, r.classes, r.defect) if d)
    return r.verdict, tuple(defects)


@pytest.fixture(scope="module")
def reference(detector, folder):
    """Per recipe: each frame's outcome from a session started on that recipe."""
    ref = {r.name: [o for _, o in _run(detector, folder, r)] for r in POOL}
    verdicts = {name: [v for v, _ in outs] for name, outs in ref.items()}
    assert verdicts["lenient"] != verdicts["very-strict"], verdicts   # the pool really disagrees
    assert verdicts["usual"].count("NG") < verdicts["strict"].count("NG"), verdicts
    return ref


def test_a_stricter_recipe_switched_in_judges_as_if_started_on_it(detector, folder, reference):
    """The issue's case: started on a lenient recipe, switched to a strict one before the first frame is
    judged: every frame is judged as under the strict recipe, and recorded under it."""
    out = _run(detector, folder, BY_NAME["usual"], switches=[(0, BY_NAME["strict"])])
    assert out[0] == ("usual", reference["usual"][0])
    assert [o for _, o in out[1:]] == reference["strict"][1:]
    assert {name for name, _ in out[1:]} == {"strict"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.sampled_from([r.name for r in POOL]),
       switches=st.dictionaries(st.integers(0, N_FRAMES - 2), st.sampled_from([r.name for r in POOL]), max_size=6))
def test_any_sequence_of_switches_judges_each_frame_as_a_session_started_on_its_recipe(detector, folder, reference,
                                                                                      start, switches):
    out = _run(detector, folder, BY_NAME[start], switches=[(i, BY_NAME[n]) for i, n in sorted(switches.items())])
    assert len(out) == N_FRAMES
    expected_recipe, in_force = [], start
    for i in range(N_FRAMES):
        expected_recipe.append(in_force)
        in_force = switches.get(i, in_force)
    assert [name for name, _ in out] == expected_recipe
    for i, (name, outcome) in enumerate(out):
        assert outcome == reference[name][i], f"frame {i} under {name}"


def test_switches_from_another_thread_at_any_moment_record_the_recipe_that_judged(detector, folder, reference,
                                                                                 tmp_path):
    """A PLC or the GUI switches from its own thread, at random moments: whatever the timing, each
    record's verdict and defect count are those of its recorded recipe, started afresh."""
    import random

    db = tmp_path / "r.sqlite"
    s = detector.inspect(InspectOptions(source=str(folder), recipe=POOL[0], db=str(db)))
    stop = threading.Event()
    rng = random.Random(7)

    def flipper():
        while not stop.is_set():
            s.set_recipe(rng.choice(POOL), by="test")
            time.sleep(rng.random() * 0.02)

    t = threading.Thread(target=flipper)
    s.start()
    t.start()
    try:
        assert s.wait(120)
    finally:
        stop.set()
        t.join()
        s.stop()
    rows = sqlite3.connect(db).execute("SELECT frame, verdict, n_defects, recipe_id FROM inspections "
                                       "ORDER BY id").fetchall()
    assert len(rows) == N_FRAMES
    for i, (frame, verdict, n, recipe) in enumerate(rows):
        v, defects = reference[recipe][i]
        assert (verdict, n) == (v, len(defects)), f"{frame} under {recipe}"
