"""Virtual time for the twin: Wait states and Retry backoffs advance it instead of sleeping.

Executions run side by side, and their waits overlap: two executions each backing off 10 s move
time 10 s, not 20, and an execution that sleeps 30 s must not wake before one that sleeps 2 s.
So the clock is a small discrete-event scheduler: an execution that waits blocks until virtual
time reaches its wake-up moment, and time jumps to the earliest wake-up only once every running
execution is waiting (none is still doing work at the current moment). Everyone reads the same
time (the functions through `docpipe.clock`, the local Textract engine, `$$.State.EnteredTime`).

A wait from outside a registered execution (a test moving time by hand) advances time at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

LOG = logging.getLogger(__name__)
# An execution doing real work (OCR of a long PDF) holds time still; a wait this long in real
# seconds without any progress means something outside the clock's view holds it, so time moves on.
STALL_SECONDS = 30.0


@dataclass
class VirtualClock:
    """Wall-clock time plus the virtual seconds the executions have waited through."""

    offset: float = 0.0
    waits: list[float] = field(default_factory=list)
    retry_sleeps: list[float] = field(default_factory=list)
    waits_by_state: Counter[str] = field(default_factory=Counter)
    _running: Counter[str] = field(default_factory=Counter, repr=False)
    _sleeping: dict[int, tuple[str, float]] = field(default_factory=dict, repr=False)
    _condition: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def now(self) -> float:
        return time.time() + self.offset

    def running(self) -> set[str]:
        """The executions started and not yet ended."""
        with self._condition:
            return set(self._running)

    def execution_started(self, execution: str) -> None:
        with self._condition:
            self._running[execution] += 1

    def execution_ended(self, execution: str) -> None:
        with self._condition:
            self._running[execution] -= 1
            if self._running[execution] <= 0:
                del self._running[execution]
            self._advance_if_all_asleep()

    def wait(self, seconds: float, execution: str | None = None, state: str | None = None) -> None:
        """A Wait state of `seconds`."""
        with self._condition:
            self.waits.append(seconds)
            if state:
                self.waits_by_state[state] += 1
            self._sleep_until(self.now() + max(0.0, seconds), execution)

    def wait_until(self, moment: float, execution: str | None = None, state: str | None = None) -> None:
        """A Wait state until an absolute `moment` (Timestamp, TimestampPath)."""
        with self._condition:
            self.waits.append(max(0.0, moment - self.now()))
            if state:
                self.waits_by_state[state] += 1
            self._sleep_until(moment, execution)

    def retry_sleep(self, seconds: float, execution: str | None = None) -> None:
        """A Retry backoff of `seconds`."""
        with self._condition:
            self.retry_sleeps.append(seconds)
            self._sleep_until(self.now() + max(0.0, seconds), execution)

    def _sleep_until(self, moment: float, execution: str | None) -> None:
        if execution is None or execution not in self._running:
            self.offset = max(self.offset, moment - time.time())
            return
        me = threading.get_ident()
        self._sleeping[me] = (execution, moment)
        self._advance_if_all_asleep()
        stalled_since = time.monotonic()
        while me in self._sleeping:
            before = self.offset
            self._condition.wait(timeout=1.0)
            if self.offset != before:
                stalled_since = time.monotonic()
            elif me in self._sleeping and time.monotonic() - stalled_since > STALL_SECONDS:
                LOG.warning("virtual clock stalled %.0f s with %d running, %d waiting: moving on",
                            STALL_SECONDS, len(self._running), len(self._sleeping))
                self._advance()
                stalled_since = time.monotonic()

    def _advance_if_all_asleep(self) -> None:
        asleep = {execution for execution, _ in self._sleeping.values()}
        if self._sleeping and all(execution in asleep for execution in self._running):
            self._advance()

    def _advance(self) -> None:
        """Jump to the earliest wake-up and wake everyone due by then."""
        earliest = min(moment for _, moment in self._sleeping.values())
        self.offset = max(self.offset, earliest - time.time())
        now = self.now()
        for thread, (_, moment) in list(self._sleeping.items()):
            if moment <= now:
                del self._sleeping[thread]
        self._condition.notify_all()
