"""docpipe.clock: the functions' time source and the end-to-end latency it measures."""

from __future__ import annotations

from docpipe import clock


def test_milliseconds_since_reads_step_functions_timestamps_against_the_current_source() -> None:
    # GIVEN a clock pinned at 2025-03-14T09:30:02.500Z
    previous = clock.use(lambda: 1741944602.5)
    try:
        # WHEN latency is measured from execution start times in the forms Step Functions writes
        with_millis = clock.milliseconds_since("2025-03-14T09:30:00.000Z")
        with_offset = clock.milliseconds_since("2025-03-14T09:30:00+00:00")
        in_future = clock.milliseconds_since("2025-03-14T09:31:00Z")
    finally:
        clock.use(previous)
    # THEN they are 2.5 s, and a start after "now" (clock skew) is never a negative latency
    assert with_millis == with_offset == 2500.0
    assert in_future == 0.0
