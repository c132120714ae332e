"""The thin handlers, run with their events/*.json sample events against moto, with the environment
template.yaml gives each function (Globals + its own Variables, parameters at their defaults)."""

from __future__ import annotations

import copy
import json
import types
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.stub import Stubber

from docpipe import admission, clock, errors
from docpipe.breaker import breaker_key
from docpipe.intake import FIRST_DEFERRED_AT, execution_name, upload_from_event
from docpipe.records import from_attr, get_document, get_upload, register
from docpipe_local.twin.template import load_template
from tests.conftest import REGION, ROOT, FakeContext, create_documents_table, load_event, load_handler

BUCKET = "docpipe-dev-documentsbucket-example"  # the bucket the sample events name
TABLE = "docpipe-handlers-documents"
BUS = "docpipe-handlers-outcomes"
ROLE = "arn:aws:iam::123456789012:role/unit"
TEMPLATE = load_template(ROOT / "template.yaml")
# Test-side clients share one session (service models parsed once); handlers build their own module-scope
# clients from the fresh default session the `aws` fixture sets up, as on Lambda.
AWS = boto3.Session(region_name=REGION)


def _code_dir(resource: dict[str, Any]) -> str:
    """functions/<dir> of a zip function (CodeUri) or of an image function (its Dockerfile's folder)."""
    if resource["Properties"].get("PackageType") == "Image":
        return str(PurePosixPath(resource["Metadata"]["Dockerfile"]).parent)
    return resource["Properties"]["CodeUri"].rstrip("/")


def function_environment(function_dir: str, physical: dict[str, str]) -> dict[str, str]:
    """The environment template.yaml gives the function whose CodeUri is functions/<dir>/."""
    resources = TEMPLATE["Resources"]
    (props,) = [r["Properties"] for r in resources.values()
                if r["Type"] == "AWS::Serverless::Function" and _code_dir(r) == f"functions/{function_dir}"]
    variables = {**TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
                 **((props.get("Environment") or {}).get("Variables") or {})}

    def resolve(value: Any) -> str:
        if isinstance(value, dict) and set(value) == {"Ref"}:
            name = value["Ref"]
            if name in TEMPLATE["Parameters"]:
                return str(TEMPLATE["Parameters"][name]["Default"])
            return physical[name]
        return str(value)

    return {name: resolve(value) for name, value in variables.items()}


@pytest.fixture
def resources(aws: None) -> dict[str, str]:
    """The bucket, documents table (as the template declares it) and a stand-in state machine."""
    AWS.client("s3").create_bucket(Bucket=BUCKET)
    create_documents_table(AWS.client("dynamodb"), TABLE)
    definition = {"StartAt": "Noop", "States": {"Noop": {"Type": "Pass", "End": True}}}
    arn = AWS.client("stepfunctions").create_state_machine(
        name="DocumentPipeline", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    AWS.client("events").create_event_bus(Name=BUS)
    queue = AWS.client("sqs").create_queue(QueueName="intake")["QueueUrl"]
    return {"DocumentsBucket": BUCKET, "DocumentsTable": TABLE, "DocumentPipelineStateMachine": arn,
            "OutcomeEventBus": BUS, "IntakeQueue": queue}


@pytest.fixture
def handler(resources: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[[str], types.ModuleType]:
    """Load functions/<dir>/app.py inside moto, with its template environment set."""

    # The fresh default session keeps its own credentials, config and events; only botocore's loader of the
    # (static) service models is shared, so each handler import does not parse the same JSON again.
    boto3.DEFAULT_SESSION._session.register_component("data_loader", AWS._session.get_component("data_loader"))

    def load(function_dir: str) -> types.ModuleType:
        for name, value in function_environment(function_dir, resources).items():
            monkeypatch.setenv(name, value)
        return load_handler(function_dir)

    return load


def ddb() -> Any:
    return AWS.client("dynamodb")


def breaker_item() -> dict[str, Any] | None:
    item = ddb().get_item(TableName=TABLE, Key=breaker_key("textract"), ConsistentRead=True).get("Item")
    return {k: from_attr(v) for k, v in item.items()} if item else None


def test_every_handler_under_test_gets_the_variables_its_config_reads() -> None:
    resources = {"DocumentsBucket": "b", "DocumentsTable": "t", "DocumentPipelineStateMachine": "arn",
                 "OutcomeEventBus": "bus", "IntakeQueue": "queue-url"}
    # GIVEN the template's environment for each function
    # WHEN it is resolved
    # THEN each has what its handler reads (a missing one would be a deploy-time MissingConfiguration)
    needs = {
        "starter": {"STATE_MACHINE_ARN", "INCOMING_PREFIX", "DOCUMENTS_TABLE", "ADMISSION_CEILING",
                    "ADMISSION_WAIT_SECONDS", "INTAKE_QUEUE_URL"},
        "register_document": {"DOCUMENTS_TABLE", "RETENTION_DAYS"},
        "record_failure": {"DOCUMENTS_TABLE", "RETENTION_DAYS", "BREAKER_FAILURE_THRESHOLD", "BREAKER_WINDOW_SECONDS",
                           "BREAKER_COOLDOWN_SECONDS", "OUTCOME_EVENT_BUS_NAME"},
        "start_textract": {"DOCUMENTS_TABLE", "BREAKER_FAILURE_THRESHOLD", "BREAKER_WINDOW_SECONDS",
                           "BREAKER_COOLDOWN_SECONDS", "OUTCOME_EVENT_BUS_NAME", "ADMISSION_CEILING"},
        "poll_textract": {"DOCUMENTS_TABLE"},
        "execution_ended": {"DOCUMENTS_TABLE"},
        "reconcile_admission": {"DOCUMENTS_TABLE", "STATE_MACHINE_ARN"},
        "persist_result": {"DOCUMENTS_TABLE", "RETENTION_DAYS"},
        "fallback_ocr": {"DOCUMENTS_BUCKET", "RESULTS_PREFIX"},
    }
    for function_dir, names in needs.items():
        assert names <= set(function_environment(function_dir, resources)), function_dir


# --- starter ----------------------------------------------------------------------------------------------


def executions(arn: str) -> list[dict[str, Any]]:
    return AWS.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def sqs_record(body: Any, message_id: str) -> dict[str, Any]:
    record = copy.deepcopy(load_event("starter")["Records"][0])
    record["messageId"] = message_id
    record["body"] = body if isinstance(body, str) else json.dumps(body)
    return record


def test_starter_starts_one_execution_per_upload(handler: Any, resources: dict[str, str],
                                                 lambda_context: FakeContext) -> None:
    # GIVEN the Starter with its template environment and the sample SQS batch
    app = handler("starter")
    event = load_event("starter")
    # WHEN the sample SQS batch is handled, and then delivered again
    first = app.lambda_handler(event, lambda_context)
    second = app.lambda_handler(event, lambda_context)
    # THEN no message failed, and exactly one execution runs, named after the upload, with the upload as input
    assert first == {"batchItemFailures": []} and second == {"batchItemFailures": []}
    upload = upload_from_event(event["Records"][0]["body"], "incoming/")
    (execution,) = executions(resources["DocumentPipelineStateMachine"])
    assert execution["name"] == execution_name(upload["uploadId"])
    described = AWS.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == upload


def test_starter_leaves_an_upload_waiting_in_the_queue_while_every_slot_is_taken(
        handler: Any, resources: dict[str, str], monkeypatch: pytest.MonkeyPatch, lambda_context: FakeContext) -> None:
    app = handler("starter")
    # GIVEN one Textract slot, held by another execution
    monkeypatch.setenv("ADMISSION_CEILING", "1")
    assert admission.acquire(ddb(), TABLE, "doc-other", ceiling=1) is admission.Outcome.ACQUIRED
    # WHEN the sample upload arrives
    result = app.lambda_handler(load_event("starter"), lambda_context)
    # THEN nothing failed and nothing started: the upload is back in the queue, delayed, carrying when it began waiting
    assert result == {"batchItemFailures": []}
    assert executions(resources["DocumentPipelineStateMachine"]) == []
    sqs = AWS.client("sqs")
    assert sqs.get_queue_attributes(QueueUrl=resources["IntakeQueue"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
                                    )["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    # WHEN the slot is free and the waiting message comes back
    admission.release(ddb(), TABLE, "doc-other")
    record = copy.deepcopy(load_event("starter")["Records"][0])
    record["messageAttributes"] = {FIRST_DEFERRED_AT: {"stringValue": "1800000000.000", "dataType": "Number"}}
    again = app.lambda_handler({"Records": [record]}, lambda_context)
    # THEN its execution starts, holding the slot
    assert again == {"batchItemFailures": []}
    (execution,) = executions(resources["DocumentPipelineStateMachine"])
    assert set(admission.holders(ddb(), TABLE)) == {execution["name"]}


def test_starter_gives_up_on_an_upload_that_waited_a_day(
        handler: Any, resources: dict[str, str], monkeypatch: pytest.MonkeyPatch, lambda_context: FakeContext) -> None:
    app = handler("starter")
    # GIVEN every slot taken, and a message that began waiting 25 hours ago
    monkeypatch.setenv("ADMISSION_CEILING", "1")
    admission.acquire(ddb(), TABLE, "doc-stuck", ceiling=1)
    record = copy.deepcopy(load_event("starter")["Records"][0])
    began = clock.now() - 25 * 3600
    record["messageAttributes"] = {FIRST_DEFERRED_AT: {"stringValue": f"{began:.3f}", "dataType": "Number"}}
    # WHEN it comes back and the slots are still taken
    with pytest.raises(BatchProcessingError) as caught:
        app.lambda_handler({"Records": [record]}, lambda_context)
    # THEN it fails typed (the queue's redrive policy moves it to the DLQ, whose alarm calls a person)
    assert [type(info[1]) for info in caught.value.child_exceptions] == [errors.AdmissionWaitExceeded]


def test_starter_drops_non_uploads_and_reports_only_broken_messages(handler: Any, resources: dict[str, str],
                                                                    lambda_context: FakeContext) -> None:
    app = handler("starter")
    body = json.loads(load_event("starter")["Records"][0]["body"])
    outside = copy.deepcopy(body)
    outside["detail"]["object"]["key"] = "results/abc/normalized.json"
    deleted = {**copy.deepcopy(body), "detail-type": "Object Deleted"}
    # GIVEN a batch: an upload, a results/ object, a deletion, and a body that is not JSON
    event = {"Records": [sqs_record(body, "m-upload"), sqs_record(outside, "m-outside"),
                         sqs_record(deleted, "m-deleted"), sqs_record("not json", "m-broken")]}
    # WHEN it is handled
    result = app.lambda_handler(event, lambda_context)
    # THEN the non-uploads are dropped (not retried), the broken one is retried, the upload started
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-broken"}]}
    assert len(executions(resources["DocumentPipelineStateMachine"])) == 1


def test_starter_without_state_machine_arn_fails_with_missing_configuration(
        handler: Any, resources: dict[str, str], monkeypatch: pytest.MonkeyPatch, lambda_context: FakeContext) -> None:
    app = handler("starter")
    # GIVEN no STATE_MACHINE_ARN
    monkeypatch.delenv("STATE_MACHINE_ARN")
    # WHEN the batch is handled
    with pytest.raises(BatchProcessingError) as caught:
        app.lambda_handler(load_event("starter"), lambda_context)
    # THEN every record failed with the typed MissingConfiguration (Powertools wraps an all-failed batch)
    assert [type(info[1]) for info in caught.value.child_exceptions] == [errors.MissingConfiguration]
    assert "STATE_MACHINE_ARN" in str(caught.value.child_exceptions[0][1])
    assert executions(resources["DocumentPipelineStateMachine"]) == []


# --- register_document ------------------------------------------------------------------------------------


def test_register_document_claims_then_marks_a_duplicate(handler: Any, lambda_context: FakeContext) -> None:
    # GIVEN RegisterDocument and its sample event (a first upload of the content)
    app = handler("register_document")
    event = load_event("register_document")
    # WHEN the sample event is handled
    result = app.lambda_handler(event, lambda_context)
    # THEN the document is claimed by this execution
    assert result == {"duplicate": False, "documentStatus": "PROCESSING"}
    document = get_document(ddb(), TABLE, event["document"]["documentId"])
    assert document is not None
    assert (document["status"], document["executionName"], document["uploadId"]) == (
        "PROCESSING", event["executionName"], event["uploadId"])
    assert get_upload(ddb(), TABLE, event["uploadId"])["status"] == "PROCESSING"  # type: ignore[index]
    # WHEN the same content arrives as another upload in another execution
    other = {**event, "uploadId": "f" * 40, "key": "incoming/receipts/copy.jpg", "executionName": "doc-" + "f" * 40}
    again = app.lambda_handler(other, lambda_context)
    # THEN that upload is a DUPLICATE of the document
    assert again == {"duplicate": True, "documentStatus": "PROCESSING"}
    duplicate = get_upload(ddb(), TABLE, "f" * 40)
    assert duplicate is not None
    assert (duplicate["status"], duplicate["duplicateOf"]) == ("DUPLICATE", event["document"]["documentId"])


@pytest.mark.parametrize(("variable", "value"), [("DOCUMENTS_TABLE", None), ("RETENTION_DAYS", None),
                                                 ("RETENTION_DAYS", "ninety")])
def test_register_document_with_bad_configuration_fails_typed(
        handler: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeContext, variable: str,
        value: str | None) -> None:
    app = handler("register_document")
    # GIVEN a missing or malformed variable
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    # WHEN the handler runs
    # THEN MissingConfiguration names the variable, and nothing is written
    with pytest.raises(errors.MissingConfiguration, match=variable):
        app.lambda_handler(load_event("register_document"), lambda_context)
    assert ddb().scan(TableName=TABLE)["Items"] == []


# --- record_failure ---------------------------------------------------------------------------------------


def failure_event(error: str, state_name: str = "StartTextract") -> dict[str, Any]:
    """A RecordFailure event for the registered sample document, failing in `state_name` with `error`."""
    registered = load_event("register_document")
    state = {k: registered[k] for k in ("uploadId", "bucket", "key", "versionId", "document")}
    state["classification"] = {"docType": "receipt"}
    state["failure"] = {state_name: {"Error": error, "Cause": json.dumps(
        {"errorType": error, "errorMessage": f"{error} happened", "stackTrace": []})}}
    return {"executionName": registered["executionName"], "state": state,
            "executionStartTime": load_event("record_failure")["executionStartTime"]}


def register_sample() -> None:
    event = load_event("register_document")
    register(ddb(), TABLE, upload={k: event[k] for k in ("uploadId", "bucket", "key", "versionId")},
             document=event["document"], execution_name=event["executionName"], retention_days=90)


def test_record_failure_sample_event_rejects_the_upload(handler: Any, lambda_context: FakeContext) -> None:
    # GIVEN RecordFailure and its sample event
    app = handler("record_failure")
    event = load_event("record_failure")
    # WHEN the sample (ValidateDocument: SpoofedMediaType) is handled
    outcome = app.lambda_handler(event, lambda_context)
    # THEN the outcome and the upload record say REJECTED with the error; the breaker is untouched
    assert outcome == {
        "status": "REJECTED", "detailType": "DocumentRejected", "uploadId": event["state"]["uploadId"],
        "documentId": None, "docType": None,
        "error": {"code": "SPOOFED_TYPE", "message": "The file is named .pdf but its content is an HTML page.",
                  "retryable": False, "state": "ValidateDocument", "errorType": "SpoofedMediaType"},
    }
    upload = get_upload(ddb(), TABLE, event["state"]["uploadId"])
    assert upload is not None
    assert upload["status"] == "REJECTED" and upload["error"] == outcome["error"]
    assert breaker_item() is None


def test_record_failure_counts_a_retryable_textract_failure_toward_the_breaker(
        handler: Any, lambda_context: FakeContext) -> None:
    # GIVEN the sample document registered by this execution, failing with TextractThrottled
    app = handler("record_failure")
    register_sample()
    event = failure_event("TextractThrottled")
    # WHEN a throttling failure that outlived StartTextract's retries is recorded
    outcome = app.lambda_handler(event, lambda_context)
    # THEN the document and upload are FAILED (retryable) and the breaker counted one failure
    assert outcome["status"] == "FAILED" and outcome["detailType"] == "DocumentFailed"
    assert outcome["error"]["code"] == "TEXTRACT_THROTTLED" and outcome["error"]["retryable"] is True
    document = get_document(ddb(), TABLE, event["state"]["document"]["documentId"])
    assert document is not None and document["status"] == "FAILED" and document["docType"] == "receipt"
    assert get_upload(ddb(), TABLE, event["state"]["uploadId"])["status"] == "FAILED"  # type: ignore[index]
    item = breaker_item()
    assert item is not None and (item["state"], item["failures"]) == ("CLOSED", 1)


def test_record_failure_opens_the_breaker_at_the_threshold(
        handler: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeContext) -> None:
    app = handler("record_failure")
    # GIVEN a threshold of 2
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", "2")
    # WHEN two service failures are recorded (two executions)
    for n in range(2):
        event = failure_event("TextractServiceError", "PollTextract")
        event["executionName"] = f"doc-exec-{n}"
        event["state"]["uploadId"] = f"{n}" * 40
        app.lambda_handler(event, lambda_context)
    # THEN the breaker is OPEN
    item = breaker_item()
    assert item is not None and item["state"] == "OPEN" and item["failures"] == 2


@pytest.mark.parametrize("error", ["TextractDocumentError", "TextractJobFailed", "Lambda.ServiceException",
                                   "StorageThrottled", "KeyError"])
def test_record_failure_does_not_count_other_failures_toward_the_breaker(
        handler: Any, lambda_context: FakeContext, error: str) -> None:
    # GIVEN the sample document registered by this execution
    app = handler("record_failure")
    register_sample()
    # WHEN a document error, a platform error, a storage error or an unknown error is recorded
    outcome = app.lambda_handler(failure_event(error), lambda_context)
    # THEN it is FAILED but the Textract breaker is not touched
    assert outcome["status"] == "FAILED"
    assert breaker_item() is None


def test_record_failure_without_the_table_fails_typed(
        handler: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeContext) -> None:
    app = handler("record_failure")
    # GIVEN no DOCUMENTS_TABLE
    monkeypatch.delenv("DOCUMENTS_TABLE")
    # WHEN the handler runs
    # THEN MissingConfiguration is raised, not KeyError
    with pytest.raises(errors.MissingConfiguration, match="DOCUMENTS_TABLE"):
        app.lambda_handler(load_event("record_failure"), lambda_context)


# --- poll_textract ----------------------------------------------------------------------------------------


@pytest.mark.ocr
def test_fallback_ocr_sample_event_reads_the_document_without_textract(
        handler: Any, lambda_context: FakeContext) -> None:
    from tests.conftest import ROOT as root

    app = handler("fallback_ocr")
    event = load_event("fallback_ocr")
    # GIVEN the sample event's receipt in the bucket (unversioned here)
    AWS.client("s3").put_object(Bucket=BUCKET, Key=event["key"], Body=(root / "samples" / "receipt.jpg").read_bytes())
    event = {**event, "versionId": None}
    # WHEN the handler runs
    result = app.lambda_handler(event, lambda_context)
    # THEN the local engine read it: a finished sync state flagged as fallback, whose raw response
    # (AnalyzeExpense-shaped, with the printed total) sits where Textract's would
    assert (result["status"], result["mode"], result["method"]) == ("SUCCEEDED", "sync", "fallback")
    raw = json.loads(AWS.client("s3").get_object(Bucket=BUCKET, Key=result["rawPrefix"] + "1")["Body"].read())
    totals = [f["ValueDetection"]["Text"] for doc in raw["ExpenseDocuments"] for f in doc["SummaryFields"]
              if f["Type"]["Text"] == "TOTAL"]
    assert any("1810.46" in total for total in totals)


@pytest.mark.parametrize(("status", "outcome"), [("IN_PROGRESS", errors.TextractJobInProgress), ("SUCCEEDED", None)])
def test_poll_textract_sample_event(handler: Any, lambda_context: FakeContext, status: str,
                                    outcome: type[Exception] | None) -> None:
    app = handler("poll_textract")
    event = load_event("poll_textract")
    # GIVEN the sample job (its second poll: RetryCount 1), 20 s after its start, in `status`
    previous = clock.use(lambda: event["textract"]["startedAt"] + 20)
    try:
        with Stubber(app.textract) as stub:
            stub.add_response("get_document_analysis", {"JobStatus": status},
                              {"JobId": event["textract"]["jobId"], "MaxResults": 1})
            # WHEN the handler polls
            if outcome is not None:
                # THEN a running job raises the signal PollTextract's Retry waits on
                with pytest.raises(outcome):
                    app.lambda_handler(event, lambda_context)
                return
            result = app.lambda_handler(event, lambda_context)
            stub.assert_no_pending_responses()
    finally:
        clock.use(previous)
    # THEN a finished job's state comes back with the polls made and the seconds since its start
    assert result == {**event["textract"], "status": "SUCCEEDED", "pollCount": 2, "elapsedSeconds": 20}


def test_poll_textract_raises_the_typed_throttling_error(handler: Any, lambda_context: FakeContext,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    app = handler("poll_textract")
    # GIVEN Textract throttling
    with Stubber(app.textract) as stub:
        stub.add_client_error("get_document_analysis", service_error_code="ThrottlingException", http_status_code=500)
        # WHEN the handler polls
        # THEN TextractThrottled escapes unchanged, so the ASL's Retry on it applies
        with pytest.raises(errors.TextractThrottled):
            app.lambda_handler(load_event("poll_textract"), lambda_context)
    # AND the throttle was counted (the TextractThrottles alarm's metric), flushed despite the error
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{\"_aws")]
    assert [doc.get("TextractThrottles") for doc in emitted if "TextractThrottles" in doc] in ([1.0], [[1.0]])


# --- persist_result ---------------------------------------------------------------------------------------


@pytest.fixture
def persist_handler(handler: Any) -> types.ModuleType:
    return handler("persist_result")


def test_persist_result_sample_event_finishes_the_document(persist_handler: Any, lambda_context: FakeContext) -> None:
    # GIVEN the document claimed by the execution named in the persist_result sample
    event = load_event("persist_result")
    register_sample()  # the same document, upload and execution as the persist_result sample
    # WHEN the sample event is handled
    outcome = persist_handler.lambda_handler(event, lambda_context)
    # THEN the outcome is SUCCEEDED and the document/upload records carry the result
    assert outcome == {"status": "SUCCEEDED", "detailType": "DocumentProcessed", "uploadId": event["uploadId"],
                       "documentId": event["document"]["documentId"], "docType": "receipt"}
    document = get_document(ddb(), TABLE, event["document"]["documentId"])
    assert document is not None
    assert document["status"] == "SUCCEEDED"
    assert document["docType"] == "receipt"
    assert document["fields"] == event["normalized"]["fields"]
    assert document["normalizedKey"] == event["normalized"]["normalizedKey"]
    assert document["rawPrefix"] == event["normalized"]["rawPrefix"]
    assert document["reviewReasons"] == [] and document["pages"] == 1
    assert get_upload(ddb(), TABLE, event["uploadId"])["status"] == "SUCCEEDED"  # type: ignore[index]


def test_persist_result_without_retention_fails_typed_and_writes_nothing(
        persist_handler: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeContext) -> None:
    # GIVEN a claimed document and no RETENTION_DAYS
    register_sample()
    before = ddb().scan(TableName=TABLE, ConsistentRead=True)["Items"]
    monkeypatch.delenv("RETENTION_DAYS")
    # WHEN the handler runs without RETENTION_DAYS
    # THEN MissingConfiguration is raised and the records are unchanged
    with pytest.raises(errors.MissingConfiguration, match="RETENTION_DAYS"):
        persist_handler.lambda_handler(load_event("persist_result"), lambda_context)
    assert ddb().scan(TableName=TABLE, ConsistentRead=True)["Items"] == before


def test_the_fallback_image_holds_every_module_its_handler_imports() -> None:
    import subprocess
    import sys

    # GIVEN the folders the FallbackOcr Dockerfile copies into the image
    dockerfile = (ROOT / "functions" / "fallback_ocr" / "Dockerfile").read_text()
    copied = [line.split()[1] for line in dockerfile.splitlines()
              if line.startswith("COPY") and "LAMBDA_TASK_ROOT" in line]
    # WHEN the handler is imported (in a fresh interpreter)
    probe = ("import json, sys; sys.path.insert(0, 'functions/fallback_ocr'); import app; "
             "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() "
             "if n.split('.')[0] in ('docpipe', 'docpipe_local', 'app') and getattr(m, '__file__', None))))")
    files = json.loads(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True,
                                      text=True, env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": ""}).stdout)
    # THEN every docpipe module it loaded lies under one of those folders (none from the twin or the CLI)
    relative = [str(PurePosixPath(Path(f).resolve().relative_to(ROOT.resolve()))) for f in files]
    assert relative and all(any(path == c or path.startswith(c.rstrip("/") + "/") for c in copied)
                            for path in relative), relative


# --- reconcile_admission ----------------------------------------------------------------------------------


def test_reconcile_admission_frees_the_slots_of_executions_that_are_gone(
        handler: Any, resources: dict[str, str], lambda_context: FakeContext) -> None:
    app = handler("reconcile_admission")
    sfn = AWS.client("stepfunctions")
    running = sfn.start_execution(stateMachineArn=resources["DocumentPipelineStateMachine"], name="doc-running")
    assert sfn.describe_execution(executionArn=running["executionArn"])["status"] == "RUNNING"
    # GIVEN slots held by a running execution, by one that never started (taken an hour ago), and one just taken
    moment = [1_800_000_000.0 - 3600]
    previous = clock.use(lambda: moment[0])
    try:
        admission.acquire(ddb(), TABLE, "doc-never-started", ceiling=10)
        moment[0] = 1_800_000_000.0
        admission.acquire(ddb(), TABLE, "doc-running", ceiling=10)
        admission.acquire(ddb(), TABLE, "doc-starting", ceiling=10)
        # WHEN the scheduled reconciler runs (its sample event)
        result = app.lambda_handler(load_event("reconcile_admission"), lambda_context)
    finally:
        clock.use(previous)
    # THEN only the slot of the execution that does not exist is freed, and the counter matches the leases
    assert result["released"] == ["doc-never-started"]
    assert (result["leases"], result["counterAfter"]) == (2, 2)
    assert set(admission.holders(ddb(), TABLE)) == {"doc-running", "doc-starting"}
