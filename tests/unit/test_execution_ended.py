"""An execution that times out or is aborted before RecordFailure: its upload ends FAILED, not PROCESSING."""

from __future__ import annotations

from typing import Any

import pytest

from docpipe.intake import upload_id_of
from docpipe.records import abandon, finish_document, get_document, get_upload
from tests.conftest import FakeContext, load_event, load_handler
from tests.unit.test_records import DOCUMENT, DOCUMENT_ID, TABLE, claim, ddb  # noqa: F401 - ddb is a fixture

UID = "0123456789abcdef0123456789abcdef01234567"


def test_a_timed_out_execution_leaves_its_document_failed_and_retakeable(ddb: Any) -> None:  # noqa: F811
    # GIVEN exec-1 claimed the document, then timed out before recording anything
    claim(ddb, 1, "exec-1")
    # WHEN its status change arrives
    recorded = abandon(ddb, TABLE, upload_id="upload-1", execution_name="exec-1", execution_status="TIMED_OUT")
    # THEN the upload and the document are FAILED with a retryable code and a message for a person
    assert recorded
    upload, document = get_upload(ddb, TABLE, "upload-1"), get_document(ddb, TABLE, DOCUMENT_ID)
    assert upload["status"] == document["status"] == "FAILED"
    assert upload["error"]["code"] == "EXECUTION_TIMED_OUT" and upload["error"]["retryable"] is True
    assert "redrive" in upload["error"]["message"]
    # AND a later upload of the same content takes the document over instead of being its DUPLICATE
    assert claim(ddb, 2, "exec-2")["duplicate"] is False


def test_an_execution_that_already_recorded_its_outcome_is_left_alone(ddb: Any) -> None:  # noqa: F811
    claim(ddb, 1, "exec-1")
    finish_document(ddb, TABLE, document_id=DOCUMENT_ID, upload_id="upload-1", execution_name="exec-1",
                    values={"status": "SUCCEEDED"})
    assert not abandon(ddb, TABLE, upload_id="upload-1", execution_name="exec-1", execution_status="FAILED")
    assert get_upload(ddb, TABLE, "upload-1")["status"] == "SUCCEEDED"


def test_a_stale_execution_cannot_fail_an_upload_a_newer_one_owns(ddb: Any) -> None:  # noqa: F811
    # GIVEN exec-1's upload was redriven: exec-1-r1 owns it now and is still working
    claim(ddb, 1, "exec-1")
    abandon(ddb, TABLE, upload_id="upload-1", execution_name="exec-1", execution_status="ABORTED")
    claim(ddb, 1, "exec-1-r1")
    # WHEN exec-1's late status event is delivered again
    # THEN nothing changes
    assert not abandon(ddb, TABLE, upload_id="upload-1", execution_name="exec-1", execution_status="ABORTED")
    assert get_upload(ddb, TABLE, "upload-1")["status"] == "PROCESSING"


@pytest.mark.parametrize(("name", "expected"), [
    (f"doc-{UID}", UID), (f"doc-{UID}-r3", UID), ("nightly-report", None), (f"doc-{UID}-x", None),
])
def test_the_upload_is_read_from_the_execution_name(name: str, expected: str | None) -> None:
    assert upload_id_of(name) == expected


def test_the_handler_records_the_sample_event(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    # GIVEN the sample status-change event (events/execution_ended.json) for an upload still PROCESSING
    from docpipe.records import register

    monkeypatch.setenv("DOCUMENTS_TABLE", TABLE)
    register(ddb, TABLE, upload={"uploadId": UID, "bucket": "b", "key": "incoming/r.jpg", "versionId": None},
             document=DOCUMENT, execution_name=f"doc-{UID}", retention_days=90)
    event = load_event("execution_ended")
    # WHEN ExecutionEnded handles it
    result = load_handler("execution_ended").lambda_handler(event, FakeContext())
    # THEN the upload is FAILED as EXECUTION_TIMED_OUT
    assert result == {"recorded": True}
    assert get_upload(ddb, TABLE, UID)["error"]["code"] == "EXECUTION_TIMED_OUT"


@pytest.mark.parametrize(("status", "recorded"), [("SUCCEEDED", False), ("TIMED_OUT", True), ("ABORTED", True)])
def test_every_ending_execution_gives_its_textract_slot_back_once(
        ddb: Any, monkeypatch: pytest.MonkeyPatch, status: str, recorded: bool) -> None:  # noqa: F811
    from docpipe import admission
    from docpipe.records import register

    monkeypatch.setenv("DOCUMENTS_TABLE", TABLE)
    # GIVEN an execution still holding its Textract slot (a DUPLICATE or REJECTED path never releases it)
    register(ddb, TABLE, upload={"uploadId": UID, "bucket": "b", "key": "incoming/r.jpg", "versionId": None},
             document=DOCUMENT, execution_name=f"doc-{UID}", retention_days=90)
    assert admission.acquire(ddb, TABLE, f"doc-{UID}", ceiling=10) is admission.Outcome.ACQUIRED
    event = load_event("execution_ended")
    event["detail"]["status"] = status
    app = load_handler("execution_ended")
    # WHEN its status change arrives, twice (EventBridge delivers at least once)
    first = app.lambda_handler(event, FakeContext())
    app.lambda_handler(event, FakeContext())
    # THEN the slot is free, counted back once, and only an unfinished execution's upload is recorded FAILED
    assert admission.inflight(ddb, TABLE) == 0 and admission.holders(ddb, TABLE) == {}
    assert first == {"recorded": recorded}
