"""docpipe.failures: classifying `$.failure.<State>` {Error, Cause} and recording the terminal state."""

from __future__ import annotations

import json
from typing import Any, Iterator

import boto3
import pytest

from docpipe import errors
from docpipe.failures import describe, record
from docpipe.records import get_document, get_upload, register
from tests.conftest import REGION, create_documents_table, load_event

# Test-side clients come from one session so botocore parses each service model once per module;
# they are created inside each test's mock, and moto intercepts them like any other.
AWS = boto3.Session(region_name=REGION)

TABLE = "docpipe-failures-test"


def lambda_cause(error_type: str, message: str) -> str:
    """The Cause Step Functions records for a Lambda task that raised: the Lambda error payload as JSON."""
    return json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": ["  File \"app.py\"..."]})


def test_describe_a_docpipe_error_takes_code_from_the_class_and_message_from_the_cause() -> None:
    # GIVEN a Catch output for a docpipe error raised by ValidateDocument
    failure = {"ValidateDocument": {"Error": "SpoofedMediaType",
                                    "Cause": lambda_cause("SpoofedMediaType", "Named .pdf but it is HTML.")}}
    # WHEN it is described
    info = describe(failure)
    # THEN code, retryability and terminal status come from the class, the message from the error payload
    assert info.state == "ValidateDocument"
    assert info.error_type == "SpoofedMediaType"
    assert info.code == "SPOOFED_TYPE"
    assert info.message == "Named .pdf but it is HTML."
    assert (info.retryable, info.terminal_status, info.counts_toward_breaker) == (False, "REJECTED", False)
    assert info.to_record() == {"code": "SPOOFED_TYPE", "message": "Named .pdf but it is HTML.", "retryable": False,
                                "state": "ValidateDocument", "errorType": "SpoofedMediaType"}


def test_describe_a_retryable_service_error_counts_toward_the_breaker() -> None:
    # GIVEN TextractThrottled caught after StartTextract's retries
    failure = {"StartTextract": {"Error": "TextractThrottled",
                                 "Cause": lambda_cause("TextractThrottled", "Textract is throttling requests.")}}
    # WHEN it is described
    info = describe(failure)
    # THEN it is a retryable FAILED that feeds the breaker
    assert (info.code, info.retryable, info.terminal_status, info.counts_toward_breaker) == (
        "TEXTRACT_THROTTLED", True, "FAILED", True)


def test_describe_a_docpipe_error_without_a_message_uses_the_class_default() -> None:
    # GIVEN a docpipe error whose Cause has no errorMessage
    failure = {"NormalizeDocument": {"Error": "OutputSchemaViolation", "Cause": json.dumps({"errorType": "x"})}}
    # WHEN it is described
    info = describe(failure)
    # THEN the class's default message is used
    assert info.message == errors.OutputSchemaViolation.default_message
    assert info.code == "SCHEMA_VIOLATION"


def test_describe_a_lambda_service_exception_is_a_retryable_platform_error() -> None:
    # GIVEN a Lambda platform error that outlived the retries
    failure = {"ClassifyDocument": {"Error": "Lambda.ServiceException",
                                    "Cause": "Lambda was unable to process the request (Service: Lambda; 500)"}}
    # WHEN it is described
    info = describe(failure)
    # THEN it is PLATFORM_ERROR, retryable, FAILED, not counted toward the Textract breaker
    assert info.code == "PLATFORM_ERROR"
    assert info.retryable is True
    assert info.terminal_status == "FAILED"
    assert info.counts_toward_breaker is False
    assert "Lambda.ServiceException" in info.message and "ClassifyDocument" in info.message


def test_describe_an_unknown_exception_does_not_echo_its_cause() -> None:
    # GIVEN a Python exception docpipe does not know, whose message carries document content
    secret = "Patient: Jane Roe, SSN 078-05-1120"
    failure = {"NormalizeDocument": {"Error": "KeyError", "Cause": lambda_cause("KeyError", secret)}}
    # WHEN it is described
    info = describe(failure)
    # THEN it is INTERNAL_ERROR and nothing of the Cause reaches the message or the record
    assert info.code == "INTERNAL_ERROR"
    assert (info.retryable, info.terminal_status, info.counts_toward_breaker) == (False, "FAILED", False)
    assert info.message == "NormalizeDocument failed with an unexpected error (KeyError)."
    assert "Jane" not in json.dumps(info.to_record()) and "078-05" not in json.dumps(info.to_record())


def test_describe_the_textract_job_failed_pass_state_with_a_plain_cause() -> None:
    # GIVEN the TextractJobFailed Pass state's shape: Error named by the ASL, Cause Textract's StatusMessage
    failure = {"PollTextract": {"Error": "TextractJobFailed", "Cause": "Request has unsupported document format"}}
    # WHEN it is described
    info = describe(failure)
    # THEN it is a non-retryable document failure carrying the plain Cause as its message
    assert info.state == "PollTextract"
    assert info.code == "TEXTRACT_JOB_FAILED"
    assert info.message == "Request has unsupported document format"
    assert (info.retryable, info.terminal_status, info.counts_toward_breaker) == (False, "FAILED", False)


def test_describe_the_textract_job_failed_pass_state_with_an_empty_status_message() -> None:
    # GIVEN TextractJobFailed whose StatusMessage was empty
    failure = {"PollTextract": {"Error": "TextractJobFailed", "Cause": ""}}
    # WHEN it is described
    # THEN the class's default message is used
    assert describe(failure).message == errors.TextractJobFailed.default_message


@pytest.mark.parametrize("failure", [{}, None])
def test_describe_an_empty_failure(failure: Any) -> None:
    # GIVEN no failure details at all
    # WHEN it is described
    info = describe(failure or {})
    # THEN it is an internal, non-retryable FAILED with a generic message
    assert (info.state, info.error_type, info.code) == ("Unknown", "Unknown", "INTERNAL_ERROR")
    assert (info.retryable, info.terminal_status) == (False, "FAILED")
    assert info.message


def test_describe_a_failure_without_error_name() -> None:
    # GIVEN a failure entry with neither Error nor Cause
    # WHEN it is described
    info = describe({"CheckCircuit": {}})
    # THEN it is INTERNAL_ERROR for that state
    assert (info.state, info.error_type, info.code) == ("CheckCircuit", "Unknown", "INTERNAL_ERROR")


# --- record() --------------------------------------------------------------------------------------------


@pytest.fixture
def ddb(aws: None) -> Iterator[Any]:
    client = AWS.client("dynamodb")
    create_documents_table(client, TABLE)
    yield client


def test_record_a_rejection_before_registration_writes_only_the_upload(ddb: Any) -> None:
    # GIVEN the sample RecordFailure event: ValidateDocument rejected the upload (no document yet)
    event = load_event("record_failure")
    # WHEN it is recorded
    info, outcome = record(ddb, TABLE, state=event["state"], execution_name=event["executionName"], retention_days=9)
    # THEN the upload is REJECTED with the error and the outcome says so
    assert info.code == "SPOOFED_TYPE"
    assert outcome["status"] == "REJECTED" and outcome["detailType"] == "DocumentRejected"
    assert outcome["documentId"] is None
    upload = get_upload(ddb, TABLE, event["state"]["uploadId"])
    assert upload is not None
    assert upload["status"] == "REJECTED"
    assert upload["error"]["code"] == "SPOOFED_TYPE"
    assert upload["error"]["message"] == "The file is named .pdf but its content is an HTML page."


def test_record_a_failure_of_an_owned_document_finishes_both_records(ddb: Any) -> None:
    # GIVEN a document registered by this execution that later failed at PollTextract
    document = {"documentId": "d" * 64, "mediaType": "application/pdf", "pageCount": 3, "size": 1000}
    upload = {"uploadId": "u1", "bucket": "b", "key": "incoming/x.pdf", "versionId": "v1"}
    register(ddb, TABLE, upload=upload, document=document, execution_name="exec-1", retention_days=9)
    state = {**upload, "document": document, "classification": {"docType": "invoice"},
             "failure": {"PollTextract": {"Error": "TextractJobFailed", "Cause": "bad page"}}}
    # WHEN it is recorded
    _, outcome = record(ddb, TABLE, state=state, execution_name="exec-1", retention_days=9)
    # THEN document and upload are FAILED with the error, and the outcome names the docType
    assert outcome["status"] == "FAILED" and outcome["detailType"] == "DocumentFailed"
    assert outcome["docType"] == "invoice" and outcome["documentId"] == "d" * 64
    stored = get_document(ddb, TABLE, "d" * 64)
    assert stored is not None
    assert stored["status"] == "FAILED" and stored["docType"] == "invoice"
    assert stored["error"]["code"] == "TEXTRACT_JOB_FAILED"
    assert get_upload(ddb, TABLE, "u1")["status"] == "FAILED"  # type: ignore[index]


def test_record_a_failure_of_a_document_owned_by_another_execution_leaves_it_alone(ddb: Any) -> None:
    # GIVEN a document owned by exec-1, and exec-2's upload of the same content failing later
    document = {"documentId": "e" * 64, "mediaType": "application/pdf", "pageCount": 1, "size": 10}
    register(ddb, TABLE, upload={"uploadId": "u1", "bucket": "b", "key": "incoming/1.pdf", "versionId": None},
             document=document, execution_name="exec-1", retention_days=9)
    state = {"uploadId": "u2", "bucket": "b", "key": "incoming/2.pdf", "document": document,
             "failure": {"ClassifyDocument": {"Error": "Lambda.ServiceException", "Cause": "x"}}}
    # WHEN exec-2 records its failure
    _, outcome = record(ddb, TABLE, state=state, execution_name="exec-2", retention_days=9)
    # THEN only exec-2's upload is FAILED; exec-1's document is untouched
    assert outcome["status"] == "FAILED"
    assert get_upload(ddb, TABLE, "u2")["error"]["code"] == "PLATFORM_ERROR"  # type: ignore[index]
    stored = get_document(ddb, TABLE, "e" * 64)
    assert stored is not None and stored["status"] == "PROCESSING" and stored["executionName"] == "exec-1"
