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
    # THEN it retries with FULL jitter and a cap
    assert state.get("Retry"), name
    for retrier in state["Retry"]:
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


def test_wait_for_textract_reads_the_backoff_from_state() -> None:
    assert STATES["WaitForTextract"]["SecondsPath"] == "$.textract.waitSeconds"
    assert STATES["WaitForTextract"]["Next"] == "PollTextract"
    assert STATES["PollTextract"]["Next"] == "TextractJobStatus"
    statuses = {c.get("StringEquals") for c in STATES["TextractJobStatus"]["Choices"]}
    assert {"SUCCEEDED", "PARTIAL_SUCCESS", "FAILED", "IN_PROGRESS"} <= statuses
