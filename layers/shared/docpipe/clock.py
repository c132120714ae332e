"""The time docpipe's functions read: the system clock on AWS.

The local twin runs Wait states on a virtual clock; it points this module at that clock so that a
breaker's cool-down, a record's timestamps and the state machine's `EnteredTime` all agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

_source: Callable[[], float] = time.time


def now() -> float:
    """Seconds since the epoch."""
    return _source()


def utc_now() -> datetime:
    return datetime.fromtimestamp(_source(), timezone.utc)


def use(source: Callable[[], float]) -> Callable[[], float]:
    """Read time from `source` from now on; returns the previous source (to restore it)."""
    global _source
    previous, _source = _source, source
    return previous


def milliseconds_since(timestamp: str) -> float:
    """Milliseconds from an ISO-8601 moment (Step Functions' `$$.Execution.StartTime`) until now."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (now() - moment.timestamp()) * 1000)
