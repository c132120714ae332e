"""The ASL definition, checked the way moto does not: targets exist, states are reachable, names are right."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from docpipe.errors import ERROR_CLASSES, RetryableServiceError
from docpipe_local.twin.template import load_template
from tests.conftest import ROOT

DEFINITION = json.loads((ROOT / "statemachine" / "document_pipeline.asl.json").read_text())
STATES: dict[str, Any] = DEFINITION["States"]
LAMBDA_SERVICE_ERRORS = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                         "Lambda.TooManyRequestsException"}


def targets(state: dict[str, Any]) -> list[str]:
    found = [state[k] for k in ("Next", "Default") if k in state]
    found += [c["Next"] for c in state.get("Catch", [])]
    found += [c["Next"] for c in state.get("Choices", [])]
    return found


def test_every_transition_target_exists() -> None:
    # GIVEN every Next/Default/Catch/Choice target in the definition
    # WHEN each is looked up among the states
    missing = {(name, t) for name, s in STATES.items() for t in targets(s) if t not in STATES}
    # THEN none is missing (moto would only fail at run time, on the path that uses it)
    assert not missing
    assert DEFINITION["StartAt"] in STATES


def test_every_state_is_reachable_and_every_path_can_end() -> None:
    # GIVEN the transition graph
    seen, frontier = set(), [DEFINITION["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in seen:
            seen.add(name)
            frontier.extend(targets(STATES[name]))
    # THEN every state is reachable from StartAt
    assert seen == set(STATES)
    # AND every state can reach a terminal state (no loop without an exit)
    terminal = {n for n, s in STATES.items() if s["Type"] in ("Succeed", "Fail") or s.get("End")}
    can_end = set(terminal)
    changed = True
    while changed:
        changed = False
        for name, state in STATES.items():
            if name not in can_end and any(t in can_end for t in targets(state)):
                can_end.add(name)
                changed = True
    assert can_end == set(STATES)


def test_state_names_are_pascal_case_with_comments() -> None:
    for name, state in STATES.items():
        assert re.fullmatch(r"(?:[A-Z][a-z0-9]+)+", name), name
        assert state.get("Comment"), f"{name} has no Comment for the console"


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if s["Type"] == "Task"])
def test_every_task_retries_and_catches_to_the_failure_path(name: str) -> None:
    state = STATES[name]
    # GIVEN a Task state
    retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
    # THEN it retries errors with FULL jitter and a cap (PollTextract's wait for a running job is not an error)
    assert state.get("Retry"), name
    for retrier in state["Retry"]:
        if retrier["ErrorEquals"] != ["TextractJobInProgress"]:
            assert retrier.get("JitterStrategy") == "FULL" and retrier.get("MaxDelaySeconds"), name
    # AND Lambda tasks retry the Lambda service errors
    if state["Resource"] == "arn:aws:states:::lambda:invoke":
        assert LAMBDA_SERVICE_ERRORS <= retried, name
        assert set(state["ResultSelector"]) and all(v.startswith("$.Payload") for v in state["ResultSelector"].values())
    # AND every task catches everything, to RecordFailure or (for the failure path itself) to the DLQ
    if name != "SendToFailureQueue":
        catches = state.get("Catch", [])
        assert catches and catches[-1]["ErrorEquals"] == ["States.ALL"], name
        assert catches[-1]["Next"] in ("RecordFailure", "SendToFailureQueue"), name


def test_retry_error_names_are_real_error_classes() -> None:
    # GIVEN every custom error name the definition retries on
    names = {e for s in STATES.values() for r in s.get("Retry", []) for e in r["ErrorEquals"]
             if not e.startswith(("States.", "Lambda."))}
    # THEN each is a docpipe error class (a typo would silently disable the retry)
    assert names and names <= set(ERROR_CLASSES)
    # AND none of them is a document error (those are never retried)
    for name in names:
        assert ERROR_CLASSES[name].retryable, name


def test_textract_tasks_retry_every_retryable_textract_error() -> None:
    textract_errors = {n for n, c in ERROR_CLASSES.items() if issubclass(c, RetryableServiceError) and n.startswith("Textract")}
    for name in ("StartTextract", "PollTextract"):
        retried = {e for r in STATES[name]["Retry"] for e in r["ErrorEquals"]}
        assert textract_errors <= retried, name


def test_substitutions_match_the_template() -> None:
    # GIVEN the ${...} placeholders in the definition and the template's DefinitionSubstitutions
    text = (ROOT / "statemachine" / "document_pipeline.asl.json").read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    template = load_template(ROOT / "template.yaml")
    substitutions = set(template["Resources"]["DocumentPipelineStateMachine"]["Properties"]["DefinitionSubstitutions"])
    # THEN they are the same set, and Lambda ARNs follow the <LogicalId>Arn convention
    assert placeholders == substitutions
    for name in substitutions:
        if name.endswith("FunctionArn"):
            assert name[: -len("Arn")] in template["Resources"], name


def poll_times(job_seconds: float) -> list[float]:
    """When PollTextract calls Get* for a job lasting `job_seconds`: after WaitForTextract's first wait
    (the template's PollInitialSeconds default), then after each TextractJobInProgress retry."""
    first_wait = load_template(ROOT / "template.yaml")["Parameters"]["PollInitialSeconds"]["Default"]
    retrier = STATES["PollTextract"]["Retry"][0]
    times, t, interval = [], float(first_wait), float(retrier["IntervalSeconds"])
    while True:
        times.append(t)
        if t >= job_seconds or len(times) > retrier["MaxAttempts"]:
            return times
        t += min(interval, retrier["MaxDelaySeconds"])
        interval *= retrier["BackoffRate"]


def test_an_async_job_is_awaited_by_one_wait_then_the_poll_retry() -> None:
    # GIVEN the async path: StartTextractJob → WaitForTextract → PollTextract → NormalizeDocument
    assert STATES["StartTextractJob"]["Next"] == "WaitForTextract"
    assert STATES["WaitForTextract"]["SecondsPath"] == "$.textract.waitSeconds"
    assert STATES["WaitForTextract"]["Next"] == "PollTextract"
    assert STATES["PollTextract"]["Next"] == "NormalizeDocument"
    # THEN a running job is retried by the first retrier, without jitter (a jittered poll may come early and be
    # wasted), and the retry count reaches the function as the attempt number
    retrier = STATES["PollTextract"]["Retry"][0]
    assert retrier["ErrorEquals"] == ["TextractJobInProgress"] and "JitterStrategy" not in retrier
    assert STATES["PollTextract"]["Parameters"]["Payload"]["attempt.$"] == "$$.State.RetryCount"
    # AND a sync call needs no polling at all
    assert STATES["StartTextract"]["Next"] == "NormalizeDocument"


def test_polls_grow_with_the_logarithm_of_the_job_time() -> None:
    # GIVEN jobs lasting 1, 10 and 60 minutes
    counts = {minutes: len(poll_times(minutes * 60)) for minutes in (1, 10, 60)}
    # THEN a 60-minute job costs at most 12 status calls, and ten times the duration adds only a few polls
    assert counts[60] <= 12
    assert counts[10] - counts[1] <= 4 and counts[60] - counts[10] <= 4
    # AND a finished job is seen at most one (capped) interval late
    assert poll_times(3600)[-1] - 3600 <= STATES["PollTextract"]["Retry"][0]["MaxDelaySeconds"]


def test_the_poll_retries_outlast_the_longest_deadline_the_template_allows() -> None:
    # GIVEN the largest PollDeadlineSeconds a deployment may set
    longest = load_template(ROOT / "template.yaml")["Parameters"]["PollDeadlineSeconds"]["MaxValue"]
    # THEN PollTextract reaches that deadline (and raises TextractTimedOut) before its retries run out
    times = poll_times(float("inf"))
    assert times[-1] >= longest


def test_the_start_states_differ_only_in_where_they_go() -> None:
    # GIVEN the sync and async start states
    sync, job = STATES["StartTextract"], STATES["StartTextractJob"]
    # THEN they call the same function with the same payload, retries and result shape
    for key in ("Resource", "Parameters", "ResultSelector", "ResultPath", "Retry"):
        assert sync[key] == job[key], key
    assert [c["ErrorEquals"] for c in sync["Catch"]] == [c["ErrorEquals"] for c in job["Catch"]]

