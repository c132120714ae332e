"""Fault injection for reliability tests: scripted faults first, then random ones at given rates."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from docpipe_local.engine.errors import LocalTextractError

# Faults that make the call itself fail, with the error Textract answers for them.
CALL_FAULTS = {
    "throttle": ("ThrottlingException",
                 "Amazon Textract is temporarily unable to process the request. Try your call again."),
    "throughput": ("ProvisionedThroughputExceededException",
                   "The number of requests exceeded your throughput limit."),
    "server": ("InternalServerError", "Amazon Textract experienced a service issue. Try your call again."),
    "limit": ("LimitExceededException",
              "An Amazon Textract service limit was exceeded: too many asynchronous jobs are running concurrently."),
}
# Faults that change how an async job started by Start* ends (the Start call itself succeeds).
JOB_FAULTS = ("job_failed", "never_finish", "slow")
KINDS = (*CALL_FAULTS, *JOB_FAULTS)


def is_start(operation: str) -> bool:
    return operation.startswith("Start")


def _applies(kind: str, operation: str) -> bool:
    # LimitExceededException and job outcomes only exist for the asynchronous Start* operations.
    return is_start(operation) or kind in ("throttle", "throughput", "server")


@dataclass
class _Scripted:
    kind: str
    remaining: int
    operations: frozenset[str] | None

    def matches(self, operation: str) -> bool:
        return self.remaining > 0 and (self.operations is None or operation in self.operations)


class FaultPlan:
    """Which calls fail and which jobs misbehave.

    `outage_seconds` makes Textract fail every call for that long from the first call; `inject` scripts faults, consumed in the order they were injected by the first calls they apply
    to; `rates` (kind → probability per applicable call) apply when no scripted fault does. A seed
    makes the random faults reproducible. Thread-safe.
    """

    def __init__(self, rates: dict[str, float] | None = None, seed: int | None = None,
                 outage_seconds: float = 0.0) -> None:
        for kind, rate in (rates or {}).items():
            _check_kind(kind)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate for {kind} must be within 0..1, got {rate}")
        self.rates = dict(rates or {})
        self._random = random.Random(seed)
        self._scripted: list[_Scripted] = []
        self.outage_seconds = outage_seconds
        self._outage_start: float | None = None
        self._lock = threading.Lock()

    def inject(self, kind: str, times: int = 1, operations: Iterable[str] | None = None) -> None:
        """Make the next `times` applicable calls (optionally only these operations) hit `kind`."""
        _check_kind(kind)
        if times < 1:
            raise ValueError("times must be at least 1")
        names = frozenset(operations) if operations is not None else None
        if names is not None and not any(_applies(kind, name) for name in names):
            raise ValueError(f"{kind} only applies to Start* operations, not to {', '.join(sorted(names))}")
        with self._lock:
            self._scripted.append(_Scripted(kind, times, names))

    def pending(self) -> int:
        """How many scripted faults have not been consumed yet."""
        with self._lock:
            return sum(s.remaining for s in self._scripted)

    def call_fault(self, operation: str, now: float | None = None) -> str | None:
        """The fault (a CALL_FAULTS kind) this call must fail with, if any; consumes a scripted one.

        During an outage (the `outage_seconds` after the first call, on the engine's clock `now`)
        every call fails with InternalServerError.
        """
        if self.outage_seconds and now is not None:
            with self._lock:
                if self._outage_start is None:
                    self._outage_start = now
                if now < self._outage_start + self.outage_seconds:
                    return "server"
        return self._draw(operation, [k for k in CALL_FAULTS if _applies(k, operation)])

    def job_fault(self, operation: str) -> str | None:
        """How a job this Start* call creates misbehaves: one of JOB_FAULTS, or None."""
        return self._draw(operation, list(JOB_FAULTS)) if is_start(operation) else None

    def _draw(self, operation: str, kinds: list[str]) -> str | None:
        with self._lock:
            for scripted in self._scripted:
                if scripted.kind in kinds and scripted.matches(operation):
                    scripted.remaining -= 1
                    return scripted.kind
            for kind in kinds:
                rate = self.rates.get(kind, 0.0)
                if rate and self._random.random() < rate:
                    return kind
        return None


def fault_error(kind: str) -> LocalTextractError:
    """The error response Textract gives for a call fault."""
    code, message = CALL_FAULTS[kind]
    return LocalTextractError(code, message)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
