"""Counting Textract's throttling where a handler meets it (the TextractThrottles alarm's metric)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from docpipe.errors import TextractThrottled


@contextmanager
def counted(metrics: Any) -> Iterator[None]:
    """Add one TextractThrottles to the handler's `metrics` when Textract throttles, then re-raise
    unchanged so the state machine's Retry on TextractThrottled still applies."""
    try:
        yield
    except TextractThrottled:
        metrics.add_metric(name="TextractThrottles", unit=MetricUnit.Count, value=1)
        raise
