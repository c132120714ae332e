"""The twin's view of CloudWatch: the EMF documents the functions printed, summarised per metric.

On AWS these land in CloudWatch under the Docpipe namespace and feed the alarms and the dashboard;
on the twin `docpipe local run` and `docpipe local chaos` print the same figures after their results.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, TextIO

# Dimensions every metric carries; they say nothing about the figure itself.
_IMPLIED = {"service", "function_name"}


def _values(value: Any) -> list[float]:
    if isinstance(value, list):
        return [float(v) for v in value]
    return [float(value)] if isinstance(value, (int, float)) else []


def _percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summarize(documents: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(metric[dimension=value,…], figure) rows: the sum of a count, or n/p50/p95 of a time."""
    counts: dict[str, float] = defaultdict(float)
    times: dict[str, list[float]] = defaultdict(list)
    for document in documents:
        for directive in (document.get("_aws") or {}).get("CloudWatchMetrics") or []:
            dimensions = sorted({name for group in directive.get("Dimensions") or [] for name in group} - _IMPLIED)
            suffix = ",".join(f"{name}={document.get(name)}" for name in dimensions)
            for metric in directive.get("Metrics") or []:
                name = metric["Name"]
                label = f"{name}[{suffix}]" if suffix else name
                if metric.get("Unit") == "Milliseconds":
                    times[label].extend(_values(document.get(name)))
                else:
                    counts[label] += sum(_values(document.get(name)))
    rows = [(label, f"{total:g}") for label, total in sorted(counts.items())]
    rows += [(label, f"n={len(v)} p50={_percentile(v, 0.5):.0f} ms p95={_percentile(v, 0.95):.0f} ms")
             for label, v in sorted(times.items()) if v]
    return rows


def print_summary(documents: list[dict[str, Any]], stream: TextIO) -> None:
    rows = summarize(documents)
    if not rows:
        return
    stream.write("metrics (namespace Docpipe, as CloudWatch would receive them)\n")
    width = max(len(label) for label, _ in rows)
    for label, figure in rows:
        stream.write(f"  {label:<{width}}  {figure}\n")
