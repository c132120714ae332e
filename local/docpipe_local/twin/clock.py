"""Virtual time for the twin: Wait states and Retry backoffs advance it instead of sleeping."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class VirtualClock:
    """Wall-clock time plus every second the state machines were told to wait."""

    offset: float = 0.0
    waits: list[float] = field(default_factory=list)
    retry_sleeps: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def now(self) -> float:
        return time.time() + self.offset

    def wait(self, seconds: float) -> None:
        """A Wait state: record it and move virtual time forward."""
        with self._lock:
            self.waits.append(seconds)
            self.offset += max(0.0, seconds)

    def retry_sleep(self, seconds: float) -> None:
        """A Retry backoff: record the interval and move virtual time forward."""
        with self._lock:
            self.retry_sleeps.append(seconds)
            self.offset += max(0.0, seconds)
