"""Circuit breaker for a dependency (Textract), kept as one DynamoDB item.

States: CLOSED → OPEN after `threshold` service-side failures within `window` seconds; OPEN →
HALF_OPEN when the cool-down has passed and one caller wins the conditional probe claim; HALF_OPEN →
CLOSED on the probe's success, back to OPEN on its failure. Every transition is a conditional write
on `version`, so concurrent executions cannot double-trip the breaker or admit two probes.
The state machine reads the item natively (CheckCircuit) and parks while it is OPEN; `openUntil` is
an ISO timestamp so a Wait state can use it directly.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import ClientError

from docpipe import clock, config
from docpipe.records import from_attr, to_attr

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
_MAX_CONFLICT_RETRIES = 8


class Admission(NamedTuple):
    admitted: bool
    state: str
    claimed: bool  # this call moved the breaker to HALF_OPEN: its caller is the new probe


@dataclass(frozen=True)
class BreakerSettings:
    threshold: int
    window_seconds: int
    cooldown_seconds: int


@dataclass(frozen=True)
class BreakerState:
    state: str
    failures: int
    window_start: float
    open_until: float
    probe_owner: str | None
    probe_expires: float
    version: int


def configured_settings() -> BreakerSettings:
    """The breaker settings from this function's environment."""
    return BreakerSettings(config.breaker_failure_threshold(), config.breaker_window_seconds(),
                           config.breaker_cooldown_seconds())


def breaker_key(dependency: str) -> dict[str, Any]:
    return {"pk": {"S": f"BREAKER#{dependency}"}, "sk": {"S": "BREAKER"}}


def _iso(epoch: float) -> str:
    # Rounded up: a Wait on this timestamp must not end before the cool-down really has.
    return datetime.fromtimestamp(math.ceil(epoch), timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def read(ddb: Any, table: str, dependency: str) -> BreakerState:
    """The breaker's current state (CLOSED with no failures when the item does not exist yet)."""
    item = ddb.get_item(TableName=table, Key=breaker_key(dependency), ConsistentRead=True).get("Item")
    if not item:
        return BreakerState(CLOSED, 0, 0.0, 0.0, None, 0.0, 0)
    data = {k: from_attr(v) for k, v in item.items()}
    return BreakerState(
        state=data.get("state", CLOSED), failures=int(data.get("failures", 0)),
        window_start=float(data.get("windowStart", 0)), open_until=float(data.get("openUntilEpoch", 0)),
        probe_owner=data.get("probeOwner"), probe_expires=float(data.get("probeExpires", 0)),
        version=int(data.get("version", 0)),
    )


def _write(ddb: Any, table: str, dependency: str, current: BreakerState, new: BreakerState) -> bool:
    """Conditionally replace the item; False when another writer got there first."""
    item = {
        **breaker_key(dependency),
        "dependency": to_attr(dependency), "state": to_attr(new.state), "failures": to_attr(new.failures),
        "windowStart": to_attr(new.window_start), "openUntilEpoch": to_attr(new.open_until),
        "openUntil": to_attr(_iso(new.open_until)), "probeOwner": to_attr(new.probe_owner),
        "probeExpires": to_attr(new.probe_expires), "version": to_attr(current.version + 1),
    }
    condition = "attribute_not_exists(pk)" if current.version == 0 else "version = :v"
    kwargs: dict[str, Any] = {"TableName": table, "Item": item, "ConditionExpression": condition}
    if current.version:
        kwargs["ExpressionAttributeValues"] = {":v": to_attr(current.version)}
    try:
        ddb.put_item(**kwargs)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _transition(
    ddb: Any, table: str, dependency: str, step: Callable[[BreakerState], BreakerState | None]
) -> tuple[BreakerState, BreakerState | None]:
    """Apply `step` with optimistic concurrency; returns (state seen, state written or None)."""
    for _ in range(_MAX_CONFLICT_RETRIES):
        current = read(ddb, table, dependency)
        new = step(current)
        if new is None or new == current:
            return current, None
        if _write(ddb, table, dependency, current, new):
            return current, new
    raise RuntimeError(f"breaker {dependency}: too many concurrent updates")


def admit(
    ddb: Any, table: str, dependency: str, owner: str, settings: BreakerSettings, now: float | None = None
) -> Admission:
    """May `owner` call the dependency now? Returns (admitted, breaker state after the decision,
    whether this call claimed the HALF_OPEN probe).

    CLOSED admits everyone. OPEN past its cool-down admits exactly one caller, who becomes the
    HALF_OPEN probe; everyone else waits until the probe resolves or its claim expires.
    """
    moment = clock.now() if now is None else now

    def step(s: BreakerState) -> BreakerState | None:
        if s.state == CLOSED:
            return None
        if s.state == HALF_OPEN and s.probe_owner == owner:
            return None
        probe_free = s.state == OPEN and moment >= s.open_until
        probe_expired = s.state == HALF_OPEN and moment >= s.probe_expires
        if probe_free or probe_expired:
            return BreakerState(HALF_OPEN, s.failures, s.window_start, s.open_until, owner,
                                moment + settings.cooldown_seconds, s.version)
        return None

    seen, written = _transition(ddb, table, dependency, step)
    final = written or seen
    admitted = final.state == CLOSED or (final.state == HALF_OPEN and final.probe_owner == owner)
    return Admission(admitted, final.state, written is not None)


def record_success(ddb: Any, table: str, dependency: str, owner: str) -> str | None:
    """A call succeeded: a HALF_OPEN probe's success closes the breaker. Returns the new state if it moved."""

    def step(s: BreakerState) -> BreakerState | None:
        if s.state == HALF_OPEN and s.probe_owner == owner:
            return BreakerState(CLOSED, 0, 0.0, 0.0, None, 0.0, s.version)
        return None

    _, written = _transition(ddb, table, dependency, step)
    return written.state if written else None


def record_failure(
    ddb: Any, table: str, dependency: str, owner: str, settings: BreakerSettings, now: float | None = None
) -> str | None:
    """A service-side failure (after retries). Returns the new state if the breaker moved to OPEN."""
    moment = clock.now() if now is None else now

    def step(s: BreakerState) -> BreakerState | None:
        if s.state == OPEN:
            return None
        if s.state == HALF_OPEN:
            if s.probe_owner != owner:
                return None
            return BreakerState(OPEN, s.failures + 1, s.window_start, moment + settings.cooldown_seconds,
                                None, 0.0, s.version)
        in_window = moment - s.window_start <= settings.window_seconds
        failures = s.failures + 1 if in_window else 1
        window_start = s.window_start if in_window else moment
        if failures >= settings.threshold:
            return BreakerState(OPEN, failures, window_start, moment + settings.cooldown_seconds, None, 0.0, s.version)
        return BreakerState(CLOSED, failures, window_start, 0.0, None, 0.0, s.version)

    _, written = _transition(ddb, table, dependency, step)
    return written.state if written and written.state == OPEN else None


def force_open(ddb: Any, table: str, dependency: str, seconds: float, now: float | None = None) -> BreakerState:
    """An operator opens the breaker for `seconds` (maintenance, a known outage); a probe follows."""
    moment = clock.now() if now is None else now

    def step(s: BreakerState) -> BreakerState:
        return BreakerState(OPEN, s.failures, s.window_start, moment + seconds, None, 0.0, s.version)

    _, written = _transition(ddb, table, dependency, step)
    return written or read(ddb, table, dependency)


def force_close(ddb: Any, table: str, dependency: str) -> BreakerState:
    """An operator closes the breaker and clears its failure count."""

    def step(s: BreakerState) -> BreakerState:
        return BreakerState(CLOSED, 0, 0.0, 0.0, None, 0.0, s.version)

    _, written = _transition(ddb, table, dependency, step)
    return written or read(ddb, table, dependency)


TRANSITION_DETAIL_TYPE = "CircuitBreakerTransition"


def announce(events: Any, bus: str, dependency: str, state: str, reason: str) -> None:
    """A transition happened: the BreakerTransitions metric (one per target state, so a dashboard
    can tell an opening from a closing) and the outcome event for subscribers."""
    with single_metric(name="BreakerTransitions", unit=MetricUnit.Count, value=1,
                       namespace=config.metrics_namespace()) as metric:
        metric.add_dimension(name="State", value=state)
    publish_transition(events, bus, dependency, state, reason)


def publish_transition(events: Any, bus: str, dependency: str, state: str, reason: str) -> None:
    """Tell subscribers (alarms, dashboards, on-call) that the breaker moved; never document data."""
    response = events.put_events(Entries=[{
        "Source": "docpipe", "DetailType": TRANSITION_DETAIL_TYPE, "EventBusName": bus,
        "Detail": json.dumps({"dependency": dependency, "state": state, "reason": reason}),
    }])
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the breaker transition event: {response['Entries']}")
