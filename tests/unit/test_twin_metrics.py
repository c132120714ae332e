"""The twin's metric summary: EMF documents as CloudWatch would aggregate them."""

from __future__ import annotations

import io

from docpipe_local.metrics import print_summary, summarize


def emf(name: str, unit: str, value: object, **dimensions: str) -> dict[str, object]:
    return {"_aws": {"Timestamp": 0, "CloudWatchMetrics": [{
        "Namespace": "Docpipe", "Dimensions": [["service", *dimensions]], "Metrics": [{"Name": name, "Unit": unit}]}]},
        "service": "docpipe", name: value, **dimensions}


def test_counts_add_up_per_dimension_and_times_become_percentiles() -> None:
    # GIVEN what three executions printed: outcomes by docType (single values and flushed lists) and latencies
    documents = [emf("DocumentsSucceeded", "Count", [1.0], docType="receipt"),
                 emf("DocumentsSucceeded", "Count", 1.0, docType="receipt"),
                 emf("DocumentsSucceeded", "Count", [1.0], docType="invoice"),
                 emf("BreakerTransitions", "Count", [1.0], State="OPEN"),
                 *[emf("TextractLatency", "Milliseconds", [float(ms)]) for ms in range(10, 110, 10)],
                 {"message": "not a metric document"}]
    # WHEN they are summarised
    rows = dict(summarize(documents))
    # THEN counts are summed per dimension value (service, on every metric, is left out) and times give p50/p95
    assert rows["DocumentsSucceeded[docType=receipt]"] == "2"
    assert rows["DocumentsSucceeded[docType=invoice]"] == "1"
    assert rows["BreakerTransitions[State=OPEN]"] == "1"
    assert rows["TextractLatency"] == "n=10 p50=50 ms p95=100 ms"
    stream = io.StringIO()
    print_summary(documents, stream)
    assert stream.getvalue().startswith("metrics (namespace Docpipe")


def test_nothing_printed_without_metrics() -> None:
    stream = io.StringIO()
    print_summary([], stream)
    assert stream.getvalue() == ""
