"""Operator commands: `docpipe breaker` (the table in moto, the stack lookup and its errors with Stubber) and `docpipe redrive` wiring."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from docpipe import breaker
from docpipe_local.cli import main
from docpipe_local.ops import breaker_command, stack_resource
from tests.conftest import REGION, create_documents_table

TABLE = "docpipe-dev-DocumentsTable-1A2B3C"


@pytest.fixture
def table(aws: None) -> str:
    create_documents_table(boto3.client("dynamodb", region_name=REGION), TABLE)
    return TABLE


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["breaker", *args, "--region", REGION]) == 0
    return capsys.readouterr().out


def test_an_operator_opens_and_closes_the_breaker(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    # GIVEN a deployment whose breaker has never tripped
    assert "state     CLOSED" in run(capsys, "status", "--table", table)
    # WHEN the operator opens it for ten minutes
    out = run(capsys, "open", "--table", table, "--seconds", "600")
    # THEN the table holds an OPEN breaker that documents will park on, and status says until when
    assert "state     OPEN" in out and "open until" in out
    assert breaker.read(ddb, table, "textract").state == breaker.OPEN
    assert "state     OPEN" in run(capsys, "status", "--table", table)
    # WHEN it is closed again THEN documents go straight to Textract, with the failure count cleared
    assert "state     CLOSED" in run(capsys, "close", "--table", table)
    closed = breaker.read(ddb, table, "textract")
    assert (closed.state, closed.failures) == (breaker.CLOSED, 0)


def test_a_stack_name_resolves_to_its_documents_table() -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stack_resource", {"StackResourceDetail": {
            "LogicalResourceId": "DocumentsTable", "PhysicalResourceId": TABLE, "ResourceType": "AWS::DynamoDB::Table",
            "LastUpdatedTimestamp": "2026-12-01T00:00:00Z", "ResourceStatus": "CREATE_COMPLETE"}},
            {"StackName": "docpipe-dev", "LogicalResourceId": "DocumentsTable"})
        assert stack_resource(cloudformation, "docpipe-dev", "DocumentsTable") == TABLE


@pytest.mark.parametrize(("code", "message"), [
    ("ValidationError", "stack docpipe-dev has no resource DocumentsTable, or does not exist in this region"),
    ("AccessDenied", "not allowed to read stack docpipe-dev"),
])
def test_a_wrong_or_forbidden_stack_is_a_clear_error(code: str, message: str) -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    with Stubber(cloudformation) as stub:
        stub.add_client_error("describe_stack_resource", code, "from CloudFormation")
        with pytest.raises(SystemExit) as caught:
            stack_resource(cloudformation, "docpipe-dev", "DocumentsTable")
    assert message in str(caught.value)


def test_a_table_that_does_not_exist_is_a_clear_error(aws: None) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["breaker", "status", "--table", "no-such-table", "--region", REGION])
    assert "table no-such-table does not exist" in str(caught.value)


def test_missing_permissions_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    ddb: Any = boto3.client("dynamodb", region_name=REGION)
    with Stubber(ddb) as stub:
        stub.add_client_error("get_item", "AccessDeniedException", "not authorized")
        with pytest.raises(SystemExit) as caught:
            breaker_command(ddb, "docpipe-documents", "status", seconds=0, stream=None)  # type: ignore[arg-type]
    assert "not allowed to read table docpipe-documents" in str(caught.value)


def test_redrive_finds_the_stack_resources_it_works_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a stack whose resources CloudFormation names (stubbed lookup) and a recording redrive
    import docpipe_local.ops as ops

    physical = {"DocumentsTable": TABLE, "DocumentPipelineStateMachine": "arn:aws:states:us-east-1:1:stateMachine:p",
                "IntakeQueue": "https://sqs/intake", "IntakeDeadLetterQueue": "https://sqs/intake-dlq"}
    looked_up, called = [], {}
    monkeypatch.setattr(ops, "stack_resource", lambda cfn, stack, name: looked_up.append((stack, name)) or physical[name])
    monkeypatch.setattr(ops, "redrive", lambda *clients, **kwargs: called.update(kwargs))
    # WHEN the operator redrives the stack
    assert main(["redrive", "--stack", "docpipe-dev", "--region", REGION]) == 0
    # THEN each resource came from that stack and reached redrive unchanged
    assert {name for _, name in looked_up} == set(physical) and {s for s, _ in looked_up} == {"docpipe-dev"}
    assert (called["table"], called["state_machine_arn"], called["intake_queue_url"], called["intake_dlq_url"]) == (
        TABLE, physical["DocumentPipelineStateMachine"], physical["IntakeQueue"], physical["IntakeDeadLetterQueue"])
    assert called["include_permanent"] is False
