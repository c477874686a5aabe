"""The application's cycle collection: on the GUI thread's timer, never in a worker's allocation."""
import gc
import threading
import weakref


def test_cycles_are_collected_on_the_gui_thread_not_in_a_worker(qtbot):
    from app.launch import collect_cycles_on_gui_thread

    was_enabled = gc.isenabled()          # the suite's own setting (conftest): put back after
    gc.enable()                           # as Python starts: the collector must turn it off
    collector = collect_cycles_on_gui_thread(interval_s=0.1)
    try:
        class Cycle:
            pass

        def cycles(n):
            for _ in range(n):
                c = Cycle()
                c.me = c              # garbage only the cycle collector frees
            return c

        last = cycles(1)
        ref, where = weakref.ref(last), []
        weakref.finalize(last, lambda: where.append(threading.current_thread() is threading.main_thread()))
        del last
        worker = threading.Thread(target=cycles, args=(5000,))   # would trip gen-0 collections several times
        worker.start()
        worker.join()
        assert ref() is not None                        # the worker's allocations collected nothing
        qtbot.waitUntil(lambda: ref() is None, timeout=5000)
        assert where == [True]
    finally:
        collector.timer.stop()
        (gc.enable if was_enabled else gc.disable)()
