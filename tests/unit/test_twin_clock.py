"""The twin's virtual clock: overlapping waits, wake-up order, and time held by executions at work."""

from __future__ import annotations

import threading

from docpipe_local.twin.clock import VirtualClock


def _sleeper(clock: VirtualClock, execution: str, seconds: float, woke: list[tuple[str, float]]) -> threading.Thread:
    def run() -> None:
        clock.retry_sleep(seconds, execution=execution)
        woke.append((execution, clock.offset))
        clock.execution_ended(execution)

    return threading.Thread(target=run)


def test_concurrent_waits_overlap_and_wake_in_time_order() -> None:
    # GIVEN three running executions
    clock, woke = VirtualClock(), []
    for name in ("a", "b", "c"):
        clock.execution_started(name)
    # WHEN they back off 30 s, 2 s and 10 s at the same time
    threads = [_sleeper(clock, name, seconds, woke) for name, seconds in (("a", 30), ("b", 2), ("c", 10))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    # THEN they woke shortest first, and time moved 30 s in all (the waits overlapped), not 42 s
    assert [name for name, _ in woke] == ["b", "c", "a"]
    assert 29.5 <= clock.offset <= 30.5
    assert sorted(clock.retry_sleeps) == [2, 10, 30]


def test_an_execution_at_work_holds_time_until_it_waits_or_ends() -> None:
    # GIVEN two running executions, one of which is busy (not waiting)
    clock, woke = VirtualClock(), []
    clock.execution_started("busy")
    clock.execution_started("sleepy")
    sleeper = _sleeper(clock, "sleepy", 5, woke)
    began = clock.now()
    # WHEN the other waits 5 s
    sleeper.start()
    sleeper.join(timeout=0.5)
    # THEN it does not wake while the busy one may still act at the current moment
    assert sleeper.is_alive() and woke == [] and clock.offset == 0
    # AND it wakes 5 virtual seconds later once the busy one has ended
    clock.execution_ended("busy")
    sleeper.join(timeout=20)
    assert [name for name, _ in woke] == ["sleepy"] and clock.now() - began >= 5


def test_absolute_waits_end_at_their_moment_and_outside_waits_move_time_at_once() -> None:
    clock, order = VirtualClock(), []
    clock.execution_started("parked")
    target = clock.now() + 120
    # GIVEN an execution waiting until a moment two minutes ahead (a Wait on a Timestamp)
    parked = threading.Thread(target=lambda: (clock.wait_until(target, execution="parked", state="ParkForCircuit"),
                                              order.append("parked")))
    parked.start()
    parked.join(timeout=20)
    # THEN it woke at that moment and its state was counted
    assert order == ["parked"] and clock.now() >= target and clock.waits_by_state["ParkForCircuit"] == 1
    # AND a wait from outside any execution (a test moving time) advances time immediately
    before = clock.now()
    clock.wait(60)
    assert clock.now() - before >= 60
