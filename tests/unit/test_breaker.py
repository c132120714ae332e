"""docpipe.breaker against moto DynamoDB: tripping, the failure window, the cool-down, a single HALF_OPEN
probe among concurrent callers, and the probe's outcome. Time is passed in (`now=`), never slept."""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from docpipe import breaker
from docpipe.breaker import CLOSED, HALF_OPEN, OPEN, BreakerSettings, admit, read, record_failure, record_success
from tests.conftest import REGION, ROOT, create_documents_table

# Test-side clients come from one session so botocore parses each service model once per module;
# they are created inside each test's mock, and moto intercepts them like any other.
AWS = boto3.Session(region_name=REGION)

TABLE = "docpipe-breaker-test"
DEP = "textract"
SETTINGS = BreakerSettings(threshold=3, window_seconds=60, cooldown_seconds=120)
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def ddb(aws: None) -> Iterator[Any]:
    client = AWS.client("dynamodb")
    create_documents_table(client, TABLE)
    yield client


def trip(ddb: Any, at: float = T0) -> float:
    """Open the breaker with `threshold` failures one second apart; returns openUntil."""
    for i in range(SETTINGS.threshold):
        record_failure(ddb, TABLE, DEP, f"exec-{i}", SETTINGS, now=at + i)
    state = read(ddb, TABLE, DEP)
    assert state.state == OPEN
    return state.open_until


def stored_item(ddb: Any) -> dict[str, Any]:
    return ddb.get_item(TableName=TABLE, Key=breaker.breaker_key(DEP), ConsistentRead=True)["Item"]


def test_a_missing_item_reads_as_closed_and_admits(ddb: Any) -> None:
    # GIVEN no breaker item yet
    # WHEN a caller asks to be admitted
    admitted, state, _ = admit(ddb, TABLE, DEP, "exec-1", SETTINGS, now=T0)
    # THEN it is admitted and nothing is written
    assert (admitted, state) == (True, CLOSED)
    assert "Item" not in ddb.get_item(TableName=TABLE, Key=breaker.breaker_key(DEP))


def test_breaker_opens_at_the_threshold_within_the_window(ddb: Any) -> None:
    # GIVEN two failures inside the window
    assert record_failure(ddb, TABLE, DEP, "exec-1", SETTINGS, now=T0) is None
    assert record_failure(ddb, TABLE, DEP, "exec-2", SETTINGS, now=T0 + 10) is None
    assert (read(ddb, TABLE, DEP).state, read(ddb, TABLE, DEP).failures) == (CLOSED, 2)
    assert admit(ddb, TABLE, DEP, "exec-x", SETTINGS, now=T0 + 11)[:2] == (True, CLOSED)
    # WHEN the third failure lands inside the window
    moved = record_failure(ddb, TABLE, DEP, "exec-3", SETTINGS, now=T0 + 20)
    # THEN the breaker opens for the cool-down and stops admitting
    assert moved == OPEN
    state = read(ddb, TABLE, DEP)
    assert (state.state, state.failures, state.open_until) == (OPEN, 3, T0 + 20 + SETTINGS.cooldown_seconds)
    assert admit(ddb, TABLE, DEP, "exec-4", SETTINGS, now=T0 + 21)[:2] == (False, OPEN)


def test_failures_outside_the_window_start_a_new_count(ddb: Any) -> None:
    # GIVEN two failures at T0 and T0+10 (window 60 s)
    record_failure(ddb, TABLE, DEP, "exec-1", SETTINGS, now=T0)
    record_failure(ddb, TABLE, DEP, "exec-2", SETTINGS, now=T0 + 10)
    # WHEN the next failure comes after the window has passed
    moved = record_failure(ddb, TABLE, DEP, "exec-3", SETTINGS, now=T0 + 61)
    # THEN the count restarts at one in a new window, and one more failure does not open it
    assert moved is None
    state = read(ddb, TABLE, DEP)
    assert (state.state, state.failures, state.window_start) == (CLOSED, 1, T0 + 61)
    assert record_failure(ddb, TABLE, DEP, "exec-4", SETTINGS, now=T0 + 70) is None
    assert (read(ddb, TABLE, DEP).state, read(ddb, TABLE, DEP).failures) == (CLOSED, 2)


def test_open_breaker_admits_nobody_before_the_cool_down(ddb: Any) -> None:
    # GIVEN an OPEN breaker
    open_until = trip(ddb)
    version = read(ddb, TABLE, DEP).version
    # WHEN callers ask just before openUntil
    answers = [admit(ddb, TABLE, DEP, f"caller-{i}", SETTINGS, now=open_until - 1)[:2] for i in range(5)]
    # THEN nobody is admitted and the item is not touched
    assert answers == [(False, OPEN)] * 5
    assert read(ddb, TABLE, DEP).version == version
    # AND further failures while OPEN do not extend the cool-down
    assert record_failure(ddb, TABLE, DEP, "late", SETTINGS, now=open_until - 1) is None
    assert read(ddb, TABLE, DEP).open_until == open_until


def test_open_until_is_stored_as_an_iso_timestamp(ddb: Any) -> None:
    # GIVEN a breaker opened at T0+2 (the third failure)
    open_until = trip(ddb)
    # WHEN the item is read the way CheckCircuit reads it (native getItem)
    item = stored_item(ddb)
    # THEN openUntil is an ISO-8601 UTC timestamp a Wait state's TimestampPath accepts, equal to the epoch value
    text = item["openUntil"]["S"]
    assert ISO_SECONDS.match(text), text
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == datetime.fromtimestamp(open_until, timezone.utc)
    assert text == "2027-01-15T08:02:02Z"
    assert item["state"] == {"S": OPEN}


@pytest.fixture
def atomic_conditional_puts(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies a conditional write to one item atomically; moto's in-memory backend checks the
    condition and stores the item in two steps, so two threads can both pass the check. Serialise put_item
    so the test exercises docpipe's optimistic concurrency, not moto's missing atomicity."""
    lock = threading.Lock()
    original = DynamoDBBackend.put_item

    @functools.wraps(original)
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", put_item)


@pytest.mark.usefixtures("atomic_conditional_puts")
def test_after_the_cool_down_exactly_one_concurrent_caller_becomes_the_probe(
        ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an OPEN breaker whose cool-down has passed
    open_until = trip(ddb)
    version = read(ddb, TABLE, DEP).version
    # AND 16 callers forced into the worst interleaving: each one's first read of the item waits until all
    # 16 have read it, so every caller sees the same OPEN version and tries to claim the probe
    callers = 16
    all_have_read = threading.Barrier(callers)
    first_read = threading.local()
    original_read = breaker.read

    def contended_read(*args: Any, **kwargs: Any) -> breaker.BreakerState:
        state = original_read(*args, **kwargs)
        if not getattr(first_read, "done", False):
            first_read.done = True
            all_have_read.wait(timeout=10)
        return state

    monkeypatch.setattr(breaker, "read", contended_read)
    answers: dict[str, tuple[bool, str, bool]] = {}
    errors: list[BaseException] = []

    def call(owner: str) -> None:
        try:
            answers[owner] = admit(ddb, TABLE, DEP, owner, SETTINGS, now=open_until + 1)
        except BaseException as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=call, args=(f"exec-{i}",)) for i in range(callers)]
    # WHEN they all call admit() concurrently
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # THEN exactly one is admitted, as the HALF_OPEN probe recorded on the item, in one transition
    assert errors == []
    assert len(answers) == callers
    admitted = [owner for owner, (ok, _, _) in answers.items() if ok]
    assert len(admitted) == 1, answers
    assert {state for _, state, _ in answers.values()} == {HALF_OPEN}
    assert [owner for owner, (_, _, claimed) in answers.items() if claimed] == admitted
    state = read(ddb, TABLE, DEP)
    assert (state.state, state.probe_owner, state.version) == (HALF_OPEN, admitted[0], version + 1)
    assert state.probe_expires == open_until + 1 + SETTINGS.cooldown_seconds
    # AND the probe asking again is still admitted while the others are not
    monkeypatch.setattr(breaker, "read", original_read)
    assert admit(ddb, TABLE, DEP, admitted[0], SETTINGS, now=open_until + 2)[:2] == (True, HALF_OPEN)
    other = next(owner for owner in answers if owner != admitted[0])
    assert admit(ddb, TABLE, DEP, other, SETTINGS, now=open_until + 2)[:2] == (False, HALF_OPEN)


def test_an_expired_probe_claim_is_handed_to_the_next_caller(ddb: Any) -> None:
    # GIVEN a probe that claimed HALF_OPEN and never reported back
    open_until = trip(ddb)
    assert admit(ddb, TABLE, DEP, "probe-1", SETTINGS, now=open_until)[0] is True
    # WHEN another caller arrives after the claim expired
    answer = admit(ddb, TABLE, DEP, "probe-2", SETTINGS, now=open_until + SETTINGS.cooldown_seconds)
    # THEN it becomes the probe
    assert answer == (True, HALF_OPEN, True)
    assert read(ddb, TABLE, DEP).probe_owner == "probe-2"


def test_probe_success_closes_the_breaker(ddb: Any) -> None:
    # GIVEN a HALF_OPEN breaker with probe P
    open_until = trip(ddb)
    admit(ddb, TABLE, DEP, "probe", SETTINGS, now=open_until)
    # WHEN someone else reports success, nothing moves; WHEN P reports success
    assert record_success(ddb, TABLE, DEP, "not-the-probe") is None
    assert read(ddb, TABLE, DEP).state == HALF_OPEN
    moved = record_success(ddb, TABLE, DEP, "probe")
    # THEN the breaker is CLOSED with a clean count and admits everyone
    assert moved == CLOSED
    state = read(ddb, TABLE, DEP)
    assert (state.state, state.failures, state.probe_owner) == (CLOSED, 0, None)
    assert admit(ddb, TABLE, DEP, "anyone", SETTINGS, now=open_until + 1)[:2] == (True, CLOSED)


def test_probe_failure_reopens_with_a_new_open_until(ddb: Any) -> None:
    # GIVEN a HALF_OPEN breaker with probe P
    first_open_until = trip(ddb)
    admit(ddb, TABLE, DEP, "probe", SETTINGS, now=first_open_until + 5)
    # WHEN a non-probe failure arrives, nothing moves; WHEN P fails
    assert record_failure(ddb, TABLE, DEP, "bystander", SETTINGS, now=first_open_until + 6) is None
    assert read(ddb, TABLE, DEP).state == HALF_OPEN
    moved = record_failure(ddb, TABLE, DEP, "probe", SETTINGS, now=first_open_until + 10)
    # THEN the breaker is OPEN again for a fresh cool-down, with the ISO openUntil moved too
    assert moved == OPEN
    state = read(ddb, TABLE, DEP)
    assert state.state == OPEN and state.probe_owner is None
    assert state.open_until == first_open_until + 10 + SETTINGS.cooldown_seconds
    expected_iso = datetime.fromtimestamp(state.open_until, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert stored_item(ddb)["openUntil"] == {"S": expected_iso}
    assert admit(ddb, TABLE, DEP, "probe", SETTINGS, now=first_open_until + 11)[:2] == (False, OPEN)


def test_configured_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the breaker variables of the template
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", "5")
    monkeypatch.setenv("BREAKER_WINDOW_SECONDS", "60")
    monkeypatch.setenv("BREAKER_COOLDOWN_SECONDS", "120")
    # WHEN settings are read
    # THEN they are typed integers
    assert breaker.configured_settings() == BreakerSettings(5, 60, 120)


# --- the breaker as the state machine sees it -------------------------------------------------------------


def join_new_threads(before: set[threading.Thread], timeout: float = 10) -> None:
    """Wait for the interpreter's worker threads (started after `before`) by joining them: no polling."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [t for t in threading.enumerate() if t not in before and t is not threading.current_thread()]
        if not new:
            return
        for worker in new:
            try:
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
            except RuntimeError:
                pass  # still inside Thread.start(); joined on the next round
    raise AssertionError("the state machine did not finish in time")


def _circuit_choice() -> dict[str, Any]:
    """The pipeline's real IsCircuitOpen Choice, each target replaced by a Pass that names the branch."""
    asl = json.loads((ROOT / "statemachine" / "document_pipeline.asl.json").read_text())
    choice = asl["States"]["IsCircuitOpen"]
    targets = {rule["Next"] for rule in choice["Choices"]} | {choice["Default"]}
    assert {"StartTextract", "ParkForCircuit", "ParkForProbe", "CircuitStillOpen"} <= targets
    return {"StartAt": "IsCircuitOpen", "States": {
        "IsCircuitOpen": choice,
        **{name: {"Type": "Pass", "Result": name, "ResultPath": "$.branch", "End": True} for name in targets},
    }}


@pytest.fixture
def choice_engine() -> Iterator[tuple[Any, Any]]:
    """moto with its ASL interpreter on; yields (ddb client, run(item, parks) -> branch name)."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        ddb = AWS.client("dynamodb")
        create_documents_table(ddb, TABLE)
        sfn = AWS.client("stepfunctions")
        arn = sfn.create_state_machine(name="circuit-choice", definition=json.dumps(_circuit_choice()),
                                       roleArn="arn:aws:iam::123456789012:role/unit")["stateMachineArn"]
        runs = iter(range(1000))

        def run(item: dict[str, Any] | None, parks: int) -> str:
            breaker_result = {"Item": item} if item else {}
            before = set(threading.enumerate())
            execution = sfn.start_execution(
                stateMachineArn=arn, name=f"run-{next(runs)}",
                input=json.dumps({"circuit": {"parks": parks, "check": {
                    "breaker": breaker_result,
                    "checkedAt": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                }}}))["executionArn"]
            join_new_threads(before)
            described = sfn.describe_execution(executionArn=execution)
            assert described["status"] == "SUCCEEDED", described
            return json.loads(described["output"])["branch"]

        yield ddb, run


def test_circuit_choice_sends_documents_to_textract_while_closed(choice_engine: tuple[Any, Any]) -> None:
    ddb, run = choice_engine
    # GIVEN no breaker item, then a CLOSED breaker with some failures
    assert run(None, 0) == "StartTextract"
    record_failure(ddb, TABLE, DEP, "exec-1", SETTINGS, now=T0)
    # WHEN a document reaches IsCircuitOpen
    # THEN it goes on to StartTextract
    assert run(stored_item(ddb), 0) == "StartTextract"


def test_circuit_choice_parks_documents_while_open_and_gives_up_after_twelve_parks(
        choice_engine: tuple[Any, Any]) -> None:
    ddb, run = choice_engine
    # GIVEN a breaker that has just opened (its cool-down ends in the future)
    trip(ddb, at=time.time())
    item = stored_item(ddb)
    # WHEN documents reach IsCircuitOpen after 0..12 parks
    branches = [run(item, parks) for parks in (0, 1, 11, 12, 13)]
    # THEN they park until the budget is spent
    assert branches == ["ParkForCircuit"] * 3 + ["CircuitStillOpen"] * 2


def test_circuit_choice_parks_briefly_while_a_probe_is_out(choice_engine: tuple[Any, Any]) -> None:
    ddb, run = choice_engine
    # GIVEN a breaker whose cool-down ended and whose HALF_OPEN probe was claimed by another execution
    open_until = trip(ddb, at=time.time() - 3 * SETTINGS.cooldown_seconds)
    assert admit(ddb, TABLE, DEP, "probe", SETTINGS, now=open_until + 1).claimed
    item = stored_item(ddb)
    # WHEN documents reach IsCircuitOpen
    branches = [run(item, parks) for parks in (0, 11, 12)]
    # THEN they wait a short while (not into StartTextract, where they would only be refused), bounded
    assert branches == ["ParkForProbe", "ParkForProbe", "CircuitStillOpen"]


def test_an_open_breaker_past_its_cool_down_lets_a_document_reach_start_textract(
        choice_engine: tuple[Any, Any]) -> None:
    ddb, run = choice_engine
    # GIVEN a breaker that opened years ago, so its cool-down is long over
    open_until = trip(ddb, at=T0 - 10 * 365 * 86400)
    assert datetime.fromtimestamp(open_until, timezone.utc) < datetime.now(timezone.utc)
    item = stored_item(ddb)
    # WHEN documents reach IsCircuitOpen (after any number of parks)
    branches = {run(item, parks) for parks in range(6)}
    # THEN at least one goes on to StartTextract, where admit() can claim the HALF_OPEN probe
    assert "StartTextract" in branches, branches


def test_a_transition_is_published_on_the_outcome_bus_without_document_data() -> None:
    import json

    from botocore.stub import Stubber

    events = boto3.client("events", region_name="us-east-1")
    with Stubber(events) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}, {"Entries": [{
            "Source": "docpipe", "DetailType": "CircuitBreakerTransition", "EventBusName": "docpipe-outcomes",
            "Detail": json.dumps({"dependency": "textract", "state": "OPEN", "reason": "TEXTRACT_SERVICE_ERROR"}),
        }]})
        breaker.publish_transition(events, "docpipe-outcomes", "textract", breaker.OPEN, "TEXTRACT_SERVICE_ERROR")
        stub.assert_no_pending_responses()


def test_a_refused_transition_event_is_an_error_not_silence() -> None:
    from botocore.stub import Stubber

    events = boto3.client("events", region_name="us-east-1")
    with Stubber(events) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]})
        with pytest.raises(RuntimeError, match="refused"):
            breaker.publish_transition(events, "docpipe-outcomes", "textract", breaker.CLOSED, "probe succeeded")


def test_an_announced_transition_is_a_metric_by_target_state_and_an_event(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from botocore.stub import ANY, Stubber

    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Docpipe")
    events = boto3.client("events", region_name="us-east-1")
    with Stubber(events) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}, {"Entries": ANY})
        # WHEN the breaker is announced HALF_OPEN
        breaker.announce(events, "docpipe-outcomes", "textract", breaker.HALF_OPEN, "cool-down ended")
        stub.assert_no_pending_responses()
    # THEN one EMF document counts the transition under State=HALF_OPEN in the Docpipe namespace
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(documents) == 1
    emf = documents[0]
    assert emf["BreakerTransitions"] in ([1.0], 1.0) and emf["State"] == "HALF_OPEN"
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Docpipe"
    assert any("State" in dimensions for dimensions in directive["Dimensions"])
