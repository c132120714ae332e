"""Each of the moto patches of the local twin, tested on a tiny state machine."""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack
from typing import Any, Callable, Iterator

import boto3
import pytest
from moto import mock_aws

from docpipe_local.twin import patches
from docpipe_local.twin.clock import VirtualClock

ROLE = "arn:aws:iam::123456789012:role/twin-test"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:probe"


class ProbeFailed(Exception):
    """A handler's named error: its class name must reach ErrorEquals unchanged."""


@pytest.fixture
def twin_engine() -> Iterator[tuple[VirtualClock, list[Any]]]:
    clock, calls = VirtualClock(), []
    behaviour: dict[str, Callable[[dict], Any]] = {}

    def dispatch(name: str, payload: bytes) -> Any:
        event = json.loads(payload)
        calls.append((name, event))
        return behaviour["fn"](event)

    with ExitStack() as stack, mock_aws(config=patches.MOTO_CONFIG):
        patches.apply(stack, dispatch=dispatch, on_wait=clock.wait, on_retry_sleep=clock.retry_sleep)
        yield clock, calls, behaviour


def run(definition: dict[str, Any], payload: dict[str, Any] | None = None, deadline_s: float = 20) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.create_state_machine(name=f"sm{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1", input=json.dumps(payload or {}))["executionArn"]
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.01)
    raise AssertionError("execution did not finish before the deadline")


def lambda_task(**extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": FUNCTION_ARN, "Payload.$": "$"},
            "ResultSelector": {"value.$": "$.Payload"}, **extra}


def test_invoke_dispatches_to_the_handler_and_returns_its_result(twin_engine) -> None:
    clock, calls, behaviour = twin_engine
    # GIVEN a handler that doubles its input
    behaviour["fn"] = lambda event: {"doubled": event["n"] * 2}
    # WHEN a Lambda task invokes it
    described = run({"StartAt": "Call", "States": {"Call": lambda_task(End=True)}}, {"n": 21})
    # THEN the handler ran in-process with the task's payload and its result is the task output
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"value": {"doubled": 42}}
    assert calls == [(FUNCTION_ARN, {"n": 21})]


def test_invoke_surfaces_the_exception_class_name_to_error_equals(twin_engine) -> None:
    clock, calls, behaviour = twin_engine
    # GIVEN a handler raising a named error
    def fail(event: dict) -> None:
        raise ProbeFailed("the probe failed")
    behaviour["fn"] = fail
    # WHEN the task catches ProbeFailed by name (and only by name)
    definition = {"StartAt": "Call", "States": {
        "Call": lambda_task(Catch=[{"ErrorEquals": ["ProbeFailed"], "ResultPath": "$.error", "Next": "Caught"}], End=True),
        "Caught": {"Type": "Pass", "End": True}}}
    described = run(definition)
    # THEN the Catch was taken with the error name and the Lambda error payload as Cause
    output = json.loads(described["output"])
    assert output["error"]["Error"] == "ProbeFailed"
    cause = json.loads(output["error"]["Cause"])
    assert cause["errorType"] == "ProbeFailed" and cause["errorMessage"] == "the probe failed"


def test_wait_states_advance_virtual_time_instead_of_sleeping(twin_engine) -> None:
    clock, _, _ = twin_engine
    # GIVEN a state machine that waits an hour
    definition = {"StartAt": "Hour", "States": {"Hour": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    before = clock.now()
    started = time.monotonic()
    # WHEN it runs
    described = run(definition, deadline_s=10)
    # THEN it finished in real seconds while the virtual clock moved an hour
    assert described["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 10
    assert clock.waits == [3600.0]
    assert clock.now() - before >= 3600


def test_retry_backoff_is_recorded_not_slept(twin_engine) -> None:
    clock, calls, behaviour = twin_engine
    attempts = []

    def flaky(event: dict) -> dict:
        attempts.append(1)
        if len(attempts) < 3:
            raise ProbeFailed("not yet")
        return {"ok": True}

    behaviour["fn"] = flaky
    # GIVEN a task retried with a 100 s interval doubling each time
    definition = {"StartAt": "Call", "States": {"Call": lambda_task(
        Retry=[{"ErrorEquals": ["ProbeFailed"], "IntervalSeconds": 100, "BackoffRate": 2.0, "MaxAttempts": 3}],
        End=True)}}
    started = time.monotonic()
    # WHEN the handler fails twice then succeeds
    described = run(definition, deadline_s=10)
    # THEN the execution succeeded on the third attempt without sleeping 300 s
    assert described["status"] == "SUCCEEDED" and len(attempts) == 3
    assert time.monotonic() - started < 10
    assert clock.retry_sleeps == [100.0, 200.0]


def test_a_definition_is_parsed_once_and_shared_by_executions_that_keep_their_own_retry_counts(
        twin_engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    clock, calls, behaviour = twin_engine
    # GIVEN the original ANTLR parse, counted (the patched parse still calls it)
    parsed = []
    original = AmazonStateLanguageParser.parse
    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(
        patches.make_cached_parse(lambda d: parsed.append(d) or original(d))))

    def always_fails(event: dict) -> None:
        raise ProbeFailed(f"attempt for {event['n']}")

    behaviour["fn"] = always_fails
    definition = {"StartAt": "Call", "States": {"Call": lambda_task(
        Retry=[{"ErrorEquals": ["ProbeFailed"], "IntervalSeconds": 1, "MaxAttempts": 2}],
        Catch=[{"ErrorEquals": ["ProbeFailed"], "ResultPath": "$.error", "Next": "Gave up"}], End=True),
        "Gave up": {"Type": "Pass", "End": True}}}
    # WHEN three executions of the same definition run at once, each failing every attempt
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.create_state_machine(name="shared", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    runs = [sfn.start_execution(stateMachineArn=arn, name=f"run-{n}", input=json.dumps({"n": n}))["executionArn"]
            for n in range(3)]
    end = time.monotonic() + 30
    while time.monotonic() < end and any(sfn.describe_execution(executionArn=r)["status"] == "RUNNING" for r in runs):
        time.sleep(0.01)
    # THEN the text was parsed once, and each execution made its own three attempts (1 + 2 retries):
    # retry counts are per execution even though the parsed components are shared
    assert len(parsed) == 1
    assert [sfn.describe_execution(executionArn=r)["status"] for r in runs] == ["SUCCEEDED"] * 3
    attempts = sorted(event["n"] for _, event in calls)
    assert attempts == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_a_bad_definition_still_fails_to_parse() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

    # GIVEN the cached parse over moto's parser
    cached = patches.make_cached_parse(AmazonStateLanguageParser.parse)
    # WHEN the definition is not ASL, THEN it raises as moto's own parse does, every time
    for _ in range(2):
        with pytest.raises(ASLParserException):
            cached('{"StartAt": 1, "States": ')


def test_jsonpath_expressions_are_parsed_once(twin_engine) -> None:
    from moto.stepfunctions.parser.asl.utils import json_path

    # GIVEN the patched JSONPath parse inside moto's interpreter
    before = json_path.parse.cache_info().misses
    # WHEN the same path is extracted twice from different documents
    first = json_path.extract_json("$.a.b", {"a": {"b": 1}})
    second = json_path.extract_json("$.a.b", {"a": {"b": 2}})
    # THEN both answers are right, and the path was parsed only once
    assert (first, second) == (1, 2)
    assert json_path.parse.cache_info().misses - before == 1


def _table(name: str) -> Any:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    return ddb


def test_racing_conditional_writes_let_exactly_one_through(twin_engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models import table as table_module

    ddb = _table("race")
    # GIVEN moto's condition check made slow, so that unserialised writers would all pass it
    # before any of them writes
    original = table_module.get_filter_expression

    class SlowCondition:
        def __init__(self, op: Any) -> None:
            self.op = op

        def expr(self, item: Any) -> bool:
            time.sleep(0.02)
            return self.op.expr(item)

    monkeypatch.setattr(table_module, "get_filter_expression", lambda *a, **k: SlowCondition(original(*a, **k)))
    barrier, won = threading.Barrier(8), []

    def claim(owner: str) -> None:
        barrier.wait()
        try:
            ddb.put_item(TableName="race", Item={"pk": {"S": "probe"}, "owner": {"S": owner}},
                         ConditionExpression="attribute_not_exists(pk)")
            won.append(owner)
        except ddb.exceptions.ConditionalCheckFailedException:
            pass

    # WHEN eight threads claim the same item at once
    threads = [threading.Thread(target=claim, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    # THEN exactly one claim succeeded, and the item is the winner's
    assert len(won) == 1
    assert ddb.get_item(TableName="race", Key={"pk": {"S": "probe"}})["Item"]["owner"]["S"] == won[0]


def test_a_cancelled_transaction_restores_only_its_own_items(twin_engine) -> None:
    from moto.dynamodb.models import dynamodb_backends

    ddb = _table("tx")
    for pk in ("a", "other"):
        ddb.put_item(TableName="tx", Item={"pk": {"S": pk}, "v": {"S": "old"}})
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    table_before = backend.tables["tx"]
    # WHEN a transaction updates "a" and then fails its condition on "b"
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "tx", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET v = :new",
                        "ExpressionAttributeValues": {":new": {"S": "new"}}}},
            {"Put": {"TableName": "tx", "Item": {"pk": {"S": "b"}, "v": {"S": "new"}},
                     "ConditionExpression": "attribute_exists(pk)"}}])
    # THEN "a" is back to its old value, "b" was never written, and the table itself (with the
    # untouched item) is the same object: nothing was swapped for a whole-table copy
    assert ddb.get_item(TableName="tx", Key={"pk": {"S": "a"}})["Item"]["v"]["S"] == "old"
    assert "Item" not in ddb.get_item(TableName="tx", Key={"pk": {"S": "b"}})
    assert backend.tables["tx"] is table_before
    assert ddb.get_item(TableName="tx", Key={"pk": {"S": "other"}})["Item"]["v"]["S"] == "old"
    # AND a transaction that succeeds writes both items
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "tx", "Item": {"pk": {"S": "b"}, "v": {"S": "new"}}}},
        {"Update": {"TableName": "tx", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET v = :new",
                    "ExpressionAttributeValues": {":new": {"S": "new"}}}}])
    assert [ddb.get_item(TableName="tx", Key={"pk": {"S": k}})["Item"]["v"]["S"] for k in "ab"] == ["new", "new"]


def test_patches_refuse_another_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a moto version the patches were not written for
    monkeypatch.setattr(patches.moto, "__version__", "9.9.9")
    # THEN applying them fails loudly instead of patching unknown internals
    with pytest.raises(patches.UnsupportedMotoVersion):
        patches.check_moto_version()


def test_state_time_and_timestamp_waits_follow_the_virtual_clock() -> None:
    # GIVEN the patches with a virtual clock already a day ahead of the wall
    clock = VirtualClock(offset=86400.0)
    with ExitStack() as stack, mock_aws(config=patches.MOTO_CONFIG):
        patches.apply(stack, dispatch=lambda name, payload: None, on_wait=clock.wait,
                      on_retry_sleep=clock.retry_sleep, clock=clock.now)
        # WHEN a state records $$.State.EnteredTime and then waits until a timestamp 60 s after it
        start = clock.now()
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 60))
        described = run({"StartAt": "Stamp", "States": {
            "Stamp": {"Type": "Pass", "Parameters": {"entered.$": "$$.State.EnteredTime", "until": until},
                      "Next": "Park"},
            "Park": {"Type": "Wait", "TimestampPath": "$.until", "End": True}}})
    # THEN EnteredTime is virtual time and the Wait lasted about a minute of it, not a day and a minute
    assert described["status"] == "SUCCEEDED"
    entered = json.loads(described["output"])["entered"]
    assert entered.startswith(time.strftime("%Y-%m-%dT%H", time.gmtime(start)))
    assert len(clock.waits) == 1 and 50 <= clock.waits[0] <= 61
