"""The circuit breaker through whole executions on the twin: an outage opens it, it cools down, a probe closes it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
from PIL import Image

from docpipe import breaker
from docpipe_local.engine import FaultPlan
from docpipe_local.ops import breaker_command
from tests.twin.conftest import SAMPLES, process, states_entered

# StartTextract retries TextractServiceError 6 times: 7 calls before a document fails.
CALLS_PER_FAILED_DOCUMENT = 7


def small_png(path: Path, shade: int) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), (shade, shade, shade)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_an_outage_opens_the_breaker_and_a_probe_closes_it_after_the_cool_down(make_twin, receipt_replay: Path,
                                                                             tmp_path: Path) -> None:
    # GIVEN Textract failing every call long enough for two documents to fail, and a breaker that
    # opens after two failures and cools down for 120 s
    faults = FaultPlan()
    faults.inject("server", times=2 * CALLS_PER_FAILED_DOCUMENT)
    twin = make_twin(faults=faults, replay_dir=receipt_replay, parameters={
        "BreakerFailureThreshold": "2", "BreakerWindowSeconds": "3600", "BreakerCooldownSeconds": "120"})
    ddb, table = boto3.client("dynamodb"), twin.resources.ref("DocumentsTable")
    # WHEN two documents go through the outage, one after the other
    failed = []
    for n in range(2):
        failed.append(twin.upload(small_png(tmp_path / f"scan-{n}.png", 40 + n)))
        process(twin, failed[-1])
    # THEN both FAILED as retryable service errors and the breaker is OPEN
    assert [twin.upload_record(u)["error"]["code"] for u in failed] == ["TEXTRACT_SERVICE_ERROR"] * 2
    assert breaker.read(ddb, table, "textract").state == breaker.OPEN
    calls_during_outage = len(twin.engine.calls)
    # WHEN the next document arrives while it is open
    receipt = twin.upload(SAMPLES / "receipt.jpg")
    process(twin, receipt)
    # THEN it parked (on virtual time) until the cool-down ended, was the HALF_OPEN probe, and succeeded
    visited = states_entered(twin, receipt)
    assert "ParkForCircuit" in visited and visited.index("ParkForCircuit") < visited.index("StartTextract")
    assert twin.upload_record(receipt)["status"] == "SUCCEEDED"
    assert max(twin.clock.waits) >= 60
    # AND its single Textract call closed the breaker
    assert len(twin.engine.calls) == calls_during_outage + 1
    assert breaker.read(ddb, table, "textract").state == breaker.CLOSED


def test_a_breaker_an_operator_opened_holds_documents_until_its_time_is_up(make_twin, receipt_replay: Path) -> None:
    # GIVEN an operator opened the twin's breaker for five minutes with `docpipe breaker open`
    twin = make_twin(replay_dir=receipt_replay)
    table = twin.resources.ref("DocumentsTable")
    state = breaker_command(boto3.client("dynamodb"), table, "open", seconds=300, stream=io.StringIO())
    assert state.state == breaker.OPEN
    # WHEN a receipt arrives
    receipt = twin.upload(SAMPLES / "receipt.jpg")
    process(twin, receipt)
    # THEN it waited (virtual time) for the five minutes, then probed Textract once and succeeded
    visited = states_entered(twin, receipt)
    assert visited.count("ParkForCircuit") >= 1 and sum(twin.clock.waits) >= 290
    assert twin.clock.waits_by_state["ParkForCircuit"] == visited.count("ParkForCircuit")
    assert twin.upload_record(receipt)["status"] == "SUCCEEDED"
    assert len(twin.engine.calls) == 1
    assert breaker_command(boto3.client("dynamodb"), table, "status", seconds=0, stream=io.StringIO()).state == \
        breaker.CLOSED


def test_racing_executions_admit_exactly_one_half_open_probe(make_twin, tmp_path: Path) -> None:
    from docpipe_local.chaos import generate

    # GIVEN eight different images answered from a recorded response, a breaker an operator opened
    # for a minute, and Textract throttling the first three calls (so the probe takes a while)
    paths, replay = generate(tmp_path / "docs", 24, seed=7)
    images = [p for p in paths if p.suffix == ".png"][:8]
    faults = FaultPlan()
    faults.inject("throttle", times=3)
    twin = make_twin(faults=faults, replay_dir=replay)
    ddb, table = boto3.client("dynamodb"), twin.resources.ref("DocumentsTable")
    breaker_command(ddb, table, "open", seconds=60, stream=io.StringIO())
    # WHEN all eight arrive at once: they park together and reach StartTextract together when the
    # cool-down ends
    uploads = [twin.upload(path, key=f"incoming/receipts/{path.name}") for path in images]
    process(twin, *uploads, timeout_s=300)
    # THEN exactly one execution claimed the HALF_OPEN probe, the others were refused (CircuitOpen)
    # while it was out, and every Textract call up to the probe's success came from the probe
    half_open = sum(doc["BreakerTransitions"] if isinstance(doc["BreakerTransitions"], (int, float))
                    else sum(doc["BreakerTransitions"]) for doc in twin.runtime.metrics
                    if "BreakerTransitions" in doc and doc.get("State") == breaker.HALF_OPEN)
    assert half_open == 1
    refused = [u for u in uploads if any((e.get("taskFailedEventDetails") or {}).get("error") == "CircuitOpen"
                                         for e in twin.history(u))]
    assert len(refused) >= 1
    calls = twin.engine.calls
    first_ok = next(i for i, call in enumerate(calls) if call.outcome == "OK")
    assert first_ok == 3 and len({call.key for call in calls[:first_ok + 1]}) == 1
    # AND the probe's success closed the breaker, after which every document was analysed once
    assert breaker.read(ddb, table, "textract").state == breaker.CLOSED
    assert [twin.upload_record(u)["status"] for u in uploads] == ["SUCCEEDED"] * 8
    assert sorted(call.document for call in calls if call.outcome == "OK") == \
        sorted({call.document for call in calls if call.outcome == "OK"})


def test_with_fallback_enabled_an_open_breaker_sends_documents_to_the_local_ocr_engine(make_twin) -> None:
    # GIVEN TextractFallback=Enabled and a breaker an operator opened for an hour
    twin = make_twin(parameters={"TextractFallback": "Enabled"})
    table = twin.resources.ref("DocumentsTable")
    breaker_command(boto3.client("dynamodb"), table, "open", seconds=3600, stream=io.StringIO())
    # WHEN a receipt arrives
    receipt = twin.upload(SAMPLES / "receipt.jpg")
    process(twin, receipt, timeout_s=300)
    # THEN it did not park or call Textract: the local OCR engine read it, and the result says so
    visited = states_entered(twin, receipt)
    assert "FallbackOcr" in visited and "ParkForCircuit" not in visited and "StartTextract" not in visited
    assert twin.engine.calls == []
    record = twin.upload_record(receipt)
    assert record["status"] == "NEEDS_REVIEW"
    document = twin.document_record(record["documentId"])
    assert document["method"] == "fallback"
    normalized = json.loads(boto3.client("s3").get_object(
        Bucket=twin.resources.ref("DocumentsBucket"), Key=document["normalizedKey"])["Body"].read())
    assert normalized["method"] == "fallback"
    assert any("fallback" in reason for reason in normalized["review"]["reasons"])
    # AND what it read is still the receipt's: its printed total (docs/samples.md)
    assert normalized["fields"]["total"]["value"] == "1810.46"
    # AND the breaker was left alone for Textract's own probe
    assert breaker.read(boto3.client("dynamodb"), table, "textract").state == breaker.OPEN
