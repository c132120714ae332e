"""docpipe.intake: the EventBridge S3 event (as the SQS body) → execution input, deterministic ids and
names, and duplicate deliveries against moto Step Functions."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import boto3
import pytest

from docpipe.intake import NotAnUploadEvent, execution_name, start_execution, upload_from_event, upload_id
from tests.conftest import REGION, load_event

# Test-side clients come from one session so botocore parses each service model once per module;
# they are created inside each test's mock, and moto intercepts them like any other.
AWS = boto3.Session(region_name=REGION)

PREFIX = "incoming/"
SFN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
ROLE = "arn:aws:iam::123456789012:role/unit"


def starter_body() -> dict[str, Any]:
    """The EventBridge event inside events/starter.json's SQS message."""
    return json.loads(load_event("starter")["Records"][0]["body"])


def test_upload_from_the_sample_sqs_body() -> None:
    # GIVEN the SQS message body of the sample starter event (a JSON string, as SQS delivers it)
    body = load_event("starter")["Records"][0]["body"]
    # WHEN it is parsed
    upload = upload_from_event(body, PREFIX)
    # THEN the execution input names the object version and carries the deterministic upload id
    assert upload == {
        "uploadId": upload_id("docpipe-dev-documentsbucket-example", "incoming/receipts/receipt.jpg",
                              "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd"),
        "bucket": "docpipe-dev-documentsbucket-example",
        "key": "incoming/receipts/receipt.jpg",
        "versionId": "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd",
        "size": 168528,
        "etag": "b1946ac92492d2347c6235b4d2611184",
    }
    assert upload_from_event(starter_body(), PREFIX) == upload  # an already-decoded body gives the same


def test_an_unversioned_object_gets_a_null_version() -> None:
    # GIVEN an event without version-id (bucket without versioning)
    event = starter_body()
    del event["detail"]["object"]["version-id"]
    # WHEN it is parsed
    upload = upload_from_event(event, PREFIX)
    # THEN versionId is None and the id is still deterministic
    assert upload["versionId"] is None
    assert upload["uploadId"] == upload_id(upload["bucket"], upload["key"], None)


def _mutated(change: Any) -> dict[str, Any]:
    event = copy.deepcopy(starter_body())
    change(event)
    return event


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_mutated(lambda e: e.update({"detail-type": "Object Deleted"})), id="object-deleted"),
        pytest.param(_mutated(lambda e: e.update({"source": "aws.ec2"})), id="other-source"),
        pytest.param({"Records": [{"eventSource": "aws:s3"}]}, id="s3-notification-shape"),
        pytest.param({}, id="empty"),
        pytest.param(_mutated(lambda e: e["detail"].pop("bucket")), id="no-bucket"),
        pytest.param(_mutated(lambda e: e["detail"]["object"].pop("key")), id="no-key"),
        pytest.param(_mutated(lambda e: e["detail"]["object"].update({"key": "results/abc/normalized.json"})),
                     id="results-key"),
        pytest.param(_mutated(lambda e: e["detail"]["object"].update({"key": "incomingx/a.pdf"})),
                     id="prefix-lookalike"),
        pytest.param(_mutated(lambda e: e["detail"]["object"].update({"key": "a/incoming/b.pdf"})),
                     id="prefix-not-at-start"),
    ],
)
def test_non_upload_events_are_refused(event: dict[str, Any]) -> None:
    # GIVEN a message that is not an Object Created event for an incoming/ key
    # WHEN it is parsed
    # THEN NotAnUploadEvent is raised (the Starter drops it instead of retrying)
    with pytest.raises(NotAnUploadEvent):
        upload_from_event(json.dumps(event), PREFIX)


def test_upload_id_is_deterministic_and_differs_per_version() -> None:
    # GIVEN the same object version, and other versions / keys / buckets
    bucket, key = "bucket", "incoming/a.pdf"
    # WHEN ids are computed
    same = {upload_id(bucket, key, "v1") for _ in range(3)}
    # THEN the same version always gives the same id, and anything else a different one
    assert len(same) == 1
    others = {upload_id(bucket, key, "v2"), upload_id(bucket, key, None), upload_id(bucket, "incoming/b.pdf", "v1"),
              upload_id("other", key, "v1")}
    assert len(others) == 4 and not (same & others)
    # AND a redelivered event gives the same id as the first delivery
    assert upload_from_event(starter_body(), PREFIX)["uploadId"] == upload_from_event(starter_body(), PREFIX)["uploadId"]
    v2 = _mutated(lambda e: e["detail"]["object"].update({"version-id": "another-version"}))
    assert upload_from_event(v2, PREFIX)["uploadId"] != upload_from_event(starter_body(), PREFIX)["uploadId"]


@pytest.mark.parametrize("key", ["incoming/a.pdf", "incoming/" + "x/" * 400 + "long name (1).pdf",
                                 "incoming/ünïcödé €.jpg", "incoming/a+b&c=d?.png"])
def test_execution_name_is_a_valid_step_functions_name(key: str) -> None:
    # GIVEN any key, including long and non-ASCII ones
    # WHEN the execution name is derived
    name = execution_name(upload_id("docpipe-bucket", key, "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd"))
    # THEN it is at most 80 characters of [A-Za-z0-9-_]
    assert SFN_NAME.match(name), name


@pytest.fixture
def state_machine(aws: None) -> tuple[Any, str]:
    sfn = AWS.client("stepfunctions")
    definition = {"StartAt": "Noop", "States": {"Noop": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(name="pipeline", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    return sfn, arn


def test_start_execution_starts_one_named_execution(state_machine: tuple[Any, str]) -> None:
    sfn, arn = state_machine
    # GIVEN an upload
    upload = upload_from_event(starter_body(), PREFIX)
    # WHEN its execution is started
    started = start_execution(sfn, arn, upload)
    # THEN one execution exists, named after the upload, with the upload as its input
    assert started is True
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert execution["name"] == execution_name(upload["uploadId"])
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == upload


def test_start_execution_returns_false_on_execution_already_exists(state_machine: tuple[Any, str]) -> None:
    sfn, arn = state_machine
    # GIVEN an upload whose execution already ran (closed)
    upload = upload_from_event(starter_body(), PREFIX)
    assert start_execution(sfn, arn, upload) is True
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    sfn.stop_execution(executionArn=execution["executionArn"])
    # WHEN the same event is delivered again
    started = start_execution(sfn, arn, upload)
    # THEN StartExecution answers ExecutionAlreadyExists, the delivery is dropped, and no execution is added
    assert started is False
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_start_execution_propagates_other_errors(state_machine: tuple[Any, str]) -> None:
    sfn, arn = state_machine
    # GIVEN a state machine ARN that does not exist
    upload = upload_from_event(starter_body(), PREFIX)
    # WHEN an execution is started on it
    # THEN the error propagates (the SQS message is retried, then dead-lettered)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        start_execution(sfn, arn.replace(":pipeline", ":missing"), upload)


def test_a_duplicate_delivery_while_the_first_execution_runs_is_reported_as_duplicate(
        state_machine: tuple[Any, str]) -> None:
    sfn, arn = state_machine
    # GIVEN an upload whose execution is still RUNNING
    upload = upload_from_event(starter_body(), PREFIX)
    assert start_execution(sfn, arn, upload) is True
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert execution["status"] == "RUNNING"
    # WHEN SQS delivers the same event again
    started = start_execution(sfn, arn, upload)
    # THEN no second execution exists and the call reports a duplicate (False)
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1
    assert started is False
