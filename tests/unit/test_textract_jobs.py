"""docpipe.textract.jobs with botocore Stubber on a real Textract client and moto S3: sync and async starts,
polling with backoff and deadline, the ClientError taxonomy, materializing results and reading pages back."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from docpipe import clock, errors
from docpipe.contracts import TextractPlan, TextractState
from docpipe.textract import jobs
from tests.conftest import REGION

# Test-side clients come from one session so botocore parses each service model once per module;
# they are created inside each test's mock, and moto intercepts them like any other.
AWS = boto3.Session(region_name=REGION)

BUCKET = "docpipe-textract-test"
DOC_ID = "ab5b5d7e5b0c2e1b0d6b6b3f9b0a7c1d2e3f40516273849a0b1c2d3e4f506172"
JOB_ID = "5f0a8b1e0c6d4e2f9a7b3c1d8e6f4a2b0c9d7e5f3a1b8c6d4e2f0a9b7c5d3e1f"
EXPENSE_SYNC: TextractPlan = {"api": "AnalyzeExpense", "mode": "sync", "featureTypes": [], "queries": []}
ID_SYNC: TextractPlan = {"api": "AnalyzeID", "mode": "sync", "featureTypes": [], "queries": []}
FORMS_ASYNC: TextractPlan = {"api": "AnalyzeDocument", "mode": "async", "featureTypes": ["FORMS", "TABLES"], "queries": []}
INSURANCE_ASYNC: TextractPlan = {"api": "AnalyzeDocument", "mode": "async", "featureTypes": ["QUERIES", "FORMS"],
                                 "queries": [{"Text": "What is the policy number?", "Alias": "policy_number"}]}
TOKEN = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
JOB_TAG = re.compile(r"^[a-zA-Z0-9_.\-:]{1,64}$")


@pytest.fixture
def textract(aws: None) -> Iterator[tuple[Any, Stubber]]:
    client = AWS.client("textract")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def s3(aws: None) -> Any:
    client = AWS.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def start(textract: Any, s3: Any, plan: TextractPlan, *, execution: str = "doc-exec-1",
          version_id: str | None = "v1", kms_key_id: str | None = None) -> TextractState:
    return jobs.start(textract, s3, plan=plan, bucket=BUCKET, key="incoming/a.pdf", version_id=version_id,
                      document_id=DOC_ID, execution_name=execution, results_bucket=BUCKET, results_prefix="results/",
                      poll_initial_seconds=5, poll_deadline_seconds=600, kms_key_id=kms_key_id)


def loop_state(**overrides: Any) -> Any:
    """The state of an async AnalyzeDocument job, as StartTextract returns it (started at t=1000)."""
    return {"api": "AnalyzeDocument", "mode": "async", "jobId": JOB_ID, "status": "IN_PROGRESS", "statusMessage": "",
            "rawPrefix": f"results/{DOC_ID}/textract/{JOB_ID}/", "pollCount": 0, "waitSeconds": 5,
            "startedAt": 1000.0, "elapsedSeconds": 0, "deadlineSeconds": 600, **overrides}


@pytest.fixture
def at() -> Iterator[Callable[[float], None]]:
    """Set docpipe's clock to a fixed moment (epoch seconds) for the test."""
    moment = [0.0]
    previous = clock.use(lambda: moment[0])
    yield lambda t: moment.__setitem__(0, t)
    clock.use(previous)


def read_json(s3: Any, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


# --- start ------------------------------------------------------------------------------------------------


def test_sync_start_stores_the_response_and_succeeds(textract: tuple[Any, Stubber], s3: Any) -> None:
    client, stub = textract
    # GIVEN a single-image plan and Textract answering AnalyzeExpense
    response = {"DocumentMetadata": {"Pages": 1},
                "ExpenseDocuments": [{"ExpenseIndex": 1, "SummaryFields": [{"Type": {"Text": "TOTAL"}}]}]}
    stub.add_response("analyze_expense", response,
                      {"Document": {"S3Object": {"Bucket": BUCKET, "Name": "incoming/a.pdf", "Version": "v1"}}})
    # WHEN the job starts
    state = start(client, s3, EXPENSE_SYNC)
    # THEN the response is at <prefix>sync/1 and the loop state is SUCCEEDED with no job
    prefix = f"results/{DOC_ID}/textract/"
    assert state["status"] == "SUCCEEDED"
    assert state["jobId"] is None
    assert state["rawPrefix"] == f"{prefix}sync/"
    assert read_json(s3, f"{prefix}sync/1") == response
    assert [p for p in jobs.iter_raw_pages(s3, bucket=BUCKET, prefix=state["rawPrefix"])] == [response]


def test_sync_analyze_id_sends_document_pages(textract: tuple[Any, Stubber], s3: Any) -> None:
    client, stub = textract
    # GIVEN an identity image in an unversioned location
    stub.add_response("analyze_id", {"IdentityDocuments": [], "DocumentMetadata": {"Pages": 1}},
                      {"DocumentPages": [{"S3Object": {"Bucket": BUCKET, "Name": "incoming/a.pdf"}}]})
    # WHEN the job starts
    state = start(client, s3, ID_SYNC, version_id=None)
    # THEN AnalyzeID was called with DocumentPages (no Version) and the result stored
    assert state["status"] == "SUCCEEDED" and state["api"] == "AnalyzeID"
    assert read_json(s3, f"results/{DOC_ID}/textract/sync/1")["IdentityDocuments"] == []


def test_async_start_sends_token_tag_output_config_and_queries(textract: tuple[Any, Stubber], s3: Any,
                                                              at: Callable[[float], None]) -> None:
    client, stub = textract
    # GIVEN an async insurance plan
    expected = {
        "DocumentLocation": {"S3Object": {"Bucket": BUCKET, "Name": "incoming/a.pdf", "Version": "v1"}},
        "ClientRequestToken": jobs.client_request_token(DOC_ID, "doc-exec-1"),
        "JobTag": ANY,
        "OutputConfig": {"S3Bucket": BUCKET, "S3Prefix": f"results/{DOC_ID}/textract"},
        "FeatureTypes": ["QUERIES", "FORMS"],
        "QueriesConfig": {"Queries": [{"Text": "What is the policy number?", "Alias": "policy_number"}]},
    }
    stub.add_response("start_document_analysis", {"JobId": JOB_ID}, expected)
    at(1000)
    # WHEN the job starts at t=1000
    state = start(client, s3, INSURANCE_ASYNC)
    # THEN the state points at the job's output folder (<S3Prefix>/<JobId>/), with the first wait and the start time
    assert state == loop_state()


def test_async_start_request_parameters(textract: tuple[Any, Stubber], s3: Any) -> None:
    client, stub = textract
    seen: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.textract.*", lambda params, **_: seen.append(dict(params)))
    for _ in range(3):
        stub.add_response("start_expense_analysis", {"JobId": JOB_ID})
    # GIVEN the same document started twice by one execution and once by another
    # WHEN the async job is started
    expense = {"api": "AnalyzeExpense", "mode": "async", "featureTypes": [], "queries": []}
    start(client, s3, expense, execution="doc-exec-1")  # type: ignore[arg-type]
    start(client, s3, expense, execution="doc-exec-1")  # type: ignore[arg-type]
    start(client, s3, expense, execution="doc-exec-2")  # type: ignore[arg-type]
    # THEN the token is valid, stable for the execution and new for another one; the tag names the document
    tokens = [params["ClientRequestToken"] for params in seen]
    assert all(TOKEN.match(token) for token in tokens)
    assert tokens[0] == tokens[1] != tokens[2]
    assert all(JOB_TAG.match(params["JobTag"]) and DOC_ID[:16] in params["JobTag"] for params in seen)
    # AND no KMSKeyId unless one is configured; with one, the job's output is encrypted with it
    assert all("KMSKeyId" not in params for params in seen)
    stub.add_response("start_expense_analysis", {"JobId": JOB_ID})
    start(client, s3, expense, kms_key_id="alias/docpipe-dev/documents")  # type: ignore[arg-type]
    assert seen[-1]["KMSKeyId"] == "alias/docpipe-dev/documents"
    assert all(params["OutputConfig"] == {"S3Bucket": BUCKET, "S3Prefix": f"results/{DOC_ID}/textract"} for params in seen)
    assert all("FeatureTypes" not in params for params in seen)  # AnalyzeExpense takes none


def test_async_start_without_queries_sends_no_queries_config(textract: tuple[Any, Stubber], s3: Any) -> None:
    client, stub = textract
    # GIVEN a FORMS+TABLES plan
    stub.add_response("start_document_analysis", {"JobId": JOB_ID},
                      {"DocumentLocation": ANY, "ClientRequestToken": ANY, "JobTag": ANY, "OutputConfig": ANY,
                       "FeatureTypes": ["FORMS", "TABLES"]})
    # WHEN the job starts
    # THEN only FeatureTypes is sent (the expected params match exactly)
    assert start(client, s3, FORMS_ASYNC)["jobId"] == JOB_ID


# --- poll -------------------------------------------------------------------------------------------------


def test_poll_asks_for_status_only_and_returns_the_finished_job(
        textract: tuple[Any, Stubber], at: Callable[[float], None]) -> None:
    client, stub = textract
    # GIVEN a job started at t=1000 that Textract reports SUCCEEDED at t=1075 (status only: MaxResults=1)
    stub.add_response("get_document_analysis", {"JobStatus": "SUCCEEDED"}, {"JobId": JOB_ID, "MaxResults": 1})
    at(1075.4)
    # WHEN it is polled on the state's fourth attempt (three retries so far)
    state = jobs.poll(client, loop_state(), attempt=3)
    # THEN the finished state counts four polls and the seconds since the start
    assert (state["status"], state["pollCount"], state["elapsedSeconds"]) == ("SUCCEEDED", 4, 75)
    assert state["startedAt"] == 1000.0 and state["waitSeconds"] == 5


def test_a_running_job_raises_the_retry_signal_until_the_deadline(
        textract: tuple[Any, Stubber], at: Callable[[float], None]) -> None:
    client, stub = textract
    # GIVEN a job that stays IN_PROGRESS, deadline 600 s after its start at t=1000
    for _ in range(2):
        stub.add_response("get_document_analysis", {"JobStatus": "IN_PROGRESS"}, {"JobId": JOB_ID, "MaxResults": 1})
    # WHEN it is polled before the deadline THEN PollTextract's Retry is asked to poll again
    at(1599)
    with pytest.raises(errors.TextractJobInProgress, match="599 s"):
        jobs.poll(client, loop_state(), attempt=8)
    # WHEN it is polled at the deadline THEN the document fails with the typed timeout, not retried
    at(1600)
    with pytest.raises(errors.TextractTimedOut) as caught:
        jobs.poll(client, loop_state(), attempt=9)
    assert not caught.value.retryable and caught.value.details == {"elapsed_seconds": 600, "polls": 10}


@pytest.mark.parametrize(("status", "message", "expected"), [
    ("FAILED", "Request has unsupported document format", "Request has unsupported document format"),
    ("FAILED", "", errors.TextractJobFailed.default_message),
    ("EXPIRED", "", "Textract reported a job status docpipe does not know (EXPIRED)."),
])
def test_a_failed_or_unknown_job_status_raises_job_failed(
        textract: tuple[Any, Stubber], at: Callable[[float], None], status: str, message: str, expected: str) -> None:
    client, stub = textract
    # GIVEN a job Textract reports `status`
    stub.add_response("get_document_analysis", {"JobStatus": status, "StatusMessage": message})
    at(1010)
    # WHEN it is polled THEN TextractJobFailed carries Textract's message (or docpipe's own)
    with pytest.raises(errors.TextractJobFailed) as caught:
        jobs.poll(client, loop_state())
    assert caught.value.message == expected


def test_poll_uses_the_get_api_matching_the_start_api(
        textract: tuple[Any, Stubber], at: Callable[[float], None]) -> None:
    client, stub = textract
    # GIVEN expense and text-detection jobs
    stub.add_response("get_expense_analysis", {"JobStatus": "PARTIAL_SUCCESS", "StatusMessage": "page 3 unreadable"},
                      {"JobId": JOB_ID, "MaxResults": 1})
    stub.add_response("get_document_text_detection", {"JobStatus": "SUCCEEDED"}, {"JobId": JOB_ID, "MaxResults": 1})
    at(1010)
    # WHEN each is polled
    expense = jobs.poll(client, loop_state(api="AnalyzeExpense"))
    text = jobs.poll(client, loop_state(api="DetectDocumentText"))
    # THEN the matching Get* API answered, and the status message is carried
    assert (expense["status"], expense["statusMessage"]) == ("PARTIAL_SUCCESS", "page 3 unreadable")
    assert text["status"] == "SUCCEEDED"


# --- ClientError taxonomy ---------------------------------------------------------------------------------

TAXONOMY = [
    ("ThrottlingException", 500, errors.TextractThrottled),
    ("ProvisionedThroughputExceededException", 400, errors.TextractThrottled),
    ("LimitExceededException", 400, errors.TextractLimitExceeded),
    ("InternalServerError", 500, errors.TextractServiceError),
    ("ServiceUnavailableException", 503, errors.TextractServiceError),
    ("SomethingNewAndBroken", 502, errors.TextractServiceError),
    ("InvalidS3ObjectException", 400, errors.TextractDocumentError),
    ("UnsupportedDocumentException", 400, errors.TextractDocumentError),
    ("BadDocumentException", 400, errors.TextractDocumentError),
    ("DocumentTooLargeException", 400, errors.TextractDocumentError),
    ("AccessDeniedException", 400, errors.AccessDenied),
    ("InvalidParameterException", 400, errors.ConfigurationError),
    ("SomeUnknownCode", 400, errors.ConfigurationError),
]


@pytest.mark.parametrize(("code", "http_status", "expected"), TAXONOMY)
def test_client_errors_map_to_the_docpipe_taxonomy(
        textract: tuple[Any, Stubber], s3: Any, code: str, http_status: int, expected: type[Exception]) -> None:
    client, stub = textract
    # GIVEN Textract answering Start*, Get* (poll) and the sync API with `code`
    stub.add_client_error("start_document_analysis", service_error_code=code, http_status_code=http_status)
    stub.add_client_error("get_document_analysis", service_error_code=code, http_status_code=http_status)
    stub.add_client_error("analyze_expense", service_error_code=code, http_status_code=http_status)
    # WHEN each call is made
    # THEN exactly the mapped docpipe class is raised (the ASL's ErrorEquals matches the class name)
    raised = []
    for call in (lambda: start(client, s3, FORMS_ASYNC), lambda: jobs.poll(client, loop_state()),
                 lambda: start(client, s3, EXPENSE_SYNC)):
        with pytest.raises(errors.DocpipeError) as caught:
            call()
        raised.append(caught.value)
    assert [type(e) for e in raised] == [expected] * 3
    assert all(e.__cause__ is not None for e in raised)  # the ClientError is chained, not lost


def test_document_errors_carry_a_user_facing_message_and_are_not_retryable() -> None:
    # GIVEN each Textract document error code
    from botocore.exceptions import ClientError

    for code in ("InvalidS3ObjectException", "UnsupportedDocumentException", "BadDocumentException",
                 "DocumentTooLargeException"):
        error = ClientError({"Error": {"Code": code, "Message": "internal detail"},
                             "ResponseMetadata": {"HTTPStatusCode": 400}}, "StartDocumentAnalysis")
        # WHEN it is translated
        with pytest.raises(errors.TextractDocumentError) as caught:
            jobs.raise_for_client_error(error)
        # THEN the message is docpipe's own, the code is kept for diagnosis, and it is neither retried nor counted
        assert caught.value.message == jobs._DOCUMENT_MESSAGES[code]
        assert caught.value.details == {"textract_code": code}
        assert caught.value.retryable is False and caught.value.counts_toward_breaker is False


# --- results in S3 ----------------------------------------------------------------------------------------


def test_materialize_pages_through_get_and_writes_numbered_objects(textract: tuple[Any, Stubber], s3: Any) -> None:
    client, stub = textract
    # GIVEN a finished async job whose OutputConfig objects are missing, with three result pages
    pages = [{"JobStatus": "SUCCEEDED", "Blocks": [{"Id": "b1"}], "NextToken": "t1"},
             {"JobStatus": "SUCCEEDED", "Blocks": [{"Id": "b2"}], "NextToken": "t2"},
             {"JobStatus": "SUCCEEDED", "Blocks": [{"Id": "b3"}]}]
    stub.add_response("get_document_analysis", pages[0], {"JobId": JOB_ID, "MaxResults": 1000})
    stub.add_response("get_document_analysis", pages[1], {"JobId": JOB_ID, "MaxResults": 1000, "NextToken": "t1"})
    stub.add_response("get_document_analysis", pages[2], {"JobId": JOB_ID, "MaxResults": 1000, "NextToken": "t2"})
    state = loop_state(status="SUCCEEDED")
    # AND a stale page 1 left by an earlier attempt that failed half way
    fallback = state["rawPrefix"].rstrip("/") + "-pages/"
    s3.put_object(Bucket=BUCKET, Key=f"{fallback}1", Body=b'{"stale": true}')
    # WHEN the result is materialized
    prefix = jobs.materialize_async_result(client, s3, state=state, bucket=BUCKET)
    # THEN every page is (re)written as <prefix>1..3, apart from Textract's own output prefix, in order
    assert prefix == fallback
    assert [read_json(s3, f"{prefix}{n}") for n in (1, 2, 3)] == pages
    assert list(jobs.iter_raw_pages(s3, bucket=BUCKET, prefix=prefix)) == pages


def test_materialize_leaves_textract_output_alone(textract: tuple[Any, Stubber], s3: Any) -> None:
    client, _ = textract
    # GIVEN Textract's OutputConfig already wrote the pages (and its access-check object)
    state = loop_state(status="SUCCEEDED")
    for name in ("1", "2", ".s3_access_check"):
        s3.put_object(Bucket=BUCKET, Key=f"{state['rawPrefix']}{name}", Body=b"{}")
    # WHEN the result is materialized (the stub has no responses: any Textract call would fail)
    prefix = jobs.materialize_async_result(client, s3, state=state, bucket=BUCKET)
    # THEN nothing is fetched and Textract's prefix is the one to read
    assert prefix == state["rawPrefix"]
    assert len(list(jobs.iter_raw_pages(s3, bucket=BUCKET, prefix=prefix))) == 2


def test_materialize_of_a_sync_result_makes_no_calls(textract: tuple[Any, Stubber], s3: Any) -> None:
    client, _ = textract
    # GIVEN a sync result already stored
    state = loop_state(mode="sync", jobId=None, status="SUCCEEDED", rawPrefix=f"results/{DOC_ID}/textract/sync/")
    s3.put_object(Bucket=BUCKET, Key=f"{state['rawPrefix']}1", Body=b"{}")
    # WHEN it is materialized
    # THEN Textract is not called
    assert jobs.materialize_async_result(client, s3, state=state, bucket=BUCKET) == state["rawPrefix"]


def test_materialize_translates_get_errors(textract: tuple[Any, Stubber], s3: Any) -> None:
    client, stub = textract
    # GIVEN Get* throttling
    stub.add_client_error("get_document_analysis", service_error_code="ThrottlingException", http_status_code=500)
    # WHEN materializing
    # THEN the typed error is raised
    with pytest.raises(errors.TextractThrottled):
        jobs.materialize_async_result(client, s3, state=loop_state(status="SUCCEEDED"), bucket=BUCKET)


def test_iter_raw_pages_is_in_numeric_order_and_skips_other_objects(s3: Any) -> None:
    # GIVEN pages 1, 2 and 10 written out of order, plus Textract's access check and unrelated objects
    prefix = f"results/{DOC_ID}/textract/{JOB_ID}/"
    for name in ("10", ".s3_access_check", "2", "1", "notes.json", "3/nested"):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{name}", Body=json.dumps({"page": name}).encode())
    s3.put_object(Bucket=BUCKET, Key=f"results/{DOC_ID}/textract/other-job/4", Body=b'{"page": "other"}')
    # WHEN the pages are read
    pages = [page["page"] for page in jobs.iter_raw_pages(s3, bucket=BUCKET, prefix=prefix)]
    # THEN they come in numeric order (1, 2, 10 — not 1, 10, 2) and only the numbered ones
    assert pages == ["1", "2", "10"]


def test_stored_pages_are_counted_across_listing_pages(textract: tuple[Any, Stubber]) -> None:
    client, _ = textract
    # GIVEN an S3 listing that comes in two pages (ListObjectsV2 returns at most 1,000 keys per call)
    s3 = AWS.client("s3")
    state = loop_state(status="SUCCEEDED")
    prefix = state["rawPrefix"]
    with Stubber(s3) as listing:
        listing.add_response("list_objects_v2", {
            "IsTruncated": True, "NextContinuationToken": "more", "KeyCount": 2,
            "Contents": [{"Key": f"{prefix}1"}, {"Key": f"{prefix}.s3_access_check"}]},
            {"Bucket": BUCKET, "Prefix": prefix})
        listing.add_response("list_objects_v2", {
            "IsTruncated": False, "KeyCount": 2, "Contents": [{"Key": f"{prefix}10"}, {"Key": f"{prefix}2"}]},
            {"Bucket": BUCKET, "Prefix": prefix, "ContinuationToken": "more"})
        # WHEN the stored result is looked for (Textract is a stub with no responses)
        found = jobs.materialize_async_result(client, s3, state=state, bucket=BUCKET)
        # THEN both listing pages were read and Textract's own output is used
        assert found == prefix
        listing.assert_no_pending_responses()
