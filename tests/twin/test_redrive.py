"""`docpipe redrive` on the twin: a document that failed on a transient error is restarted once and succeeds."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import boto3

from docpipe_local.engine import FaultPlan
from docpipe_local.ops import redrive
from tests.twin.conftest import SAMPLES, process

# StartTextract retries TextractServiceError 6 times: 7 calls before a document fails.
CALLS_PER_FAILED_DOCUMENT = 7


def _redrive(twin):  # noqa: ANN001, ANN202 - test helper
    return redrive(boto3.client("dynamodb"), boto3.client("stepfunctions"), boto3.client("sqs"),
                   table=twin.resources.ref("DocumentsTable"), state_machine_arn=twin.state_machine_arn,
                   intake_queue_url=twin.resources.ref("IntakeQueue"),
                   intake_dlq_url=twin.resources.ref("IntakeDeadLetterQueue"), stream=io.StringIO())


def test_a_transient_failure_is_redriven_once_and_succeeds(make_twin, receipt_replay: Path) -> None:
    # GIVEN a receipt that FAILED because Textract returned errors for every attempt
    faults = FaultPlan()
    faults.inject("server", times=CALLS_PER_FAILED_DOCUMENT)
    twin = make_twin(faults=faults, replay_dir=receipt_replay)
    upload = twin.upload(SAMPLES / "receipt.jpg")
    process(twin, upload)
    assert twin.upload_record(upload)["status"] == "FAILED"
    # WHEN the operator redrives, and (by mistake) runs the command a second time
    first = _redrive(twin)
    again = _redrive(twin)
    # THEN exactly one new execution ran the document again, and it succeeded
    assert first.started == [f"doc-{upload.upload_id}-r1"] and again.started == []
    redriven = dataclasses.replace(upload, execution_arn=twin.execution_arn(upload.upload_id) + "-r1")
    assert twin.wait([redriven])[upload.upload_id]["status"] == "SUCCEEDED"
    record = twin.upload_record(upload)
    assert record["status"] == "SUCCEEDED" and twin.document_record(record["documentId"])["status"] == "SUCCEEDED"
    # AND Textract billed the document once: seven failed calls, one success
    assert [c.outcome for c in twin.engine.calls].count("OK") == 1


def test_a_rejected_upload_is_not_redriven(make_twin) -> None:
    # GIVEN an upload REJECTED for good (an HTML page named .pdf)
    twin = make_twin()
    upload = twin.upload(SAMPLES / "not-really-a.pdf")
    process(twin, upload)
    assert twin.upload_record(upload)["status"] == "REJECTED"
    # WHEN the operator redrives THEN nothing restarts
    assert _redrive(twin).started == []
