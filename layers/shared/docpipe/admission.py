"""Admission control: at most `ceiling` documents hold a Textract slot at once (the account's
concurrent async-job quota), kept in the documents table.

One counter item (`inflight`) and one lease item per holder (the execution name), written together
in a transaction. A lease makes both directions idempotent: acquiring twice (a retried Lambda, a
redelivered upload) holds one slot, and releasing twice (the normal path, then the ExecutionEnded
backstop) gives it back once. The counter never goes below zero: a release that finds it at zero
(drift) removes the lease alone. `reconcile` repairs drift against the executions actually running.

Who calls what: the Starter acquires before StartExecution, so that while every slot is taken the
upload waits in the intake queue; StartTextract acquires again (a no-op for the holder) to cover
executions started another way (redrive, replan); the slot is released as soon as the Textract
work is done (sync call returned, job finished) and, whatever happened, when the execution ends.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable

from botocore.exceptions import ClientError

from docpipe import clock
from docpipe.errors import AccessDenied, StorageThrottled
from docpipe.records import from_attr

_PARTITION = "ADMISSION#textract"
_COUNTER_SK = "COUNTER"
_LEASE_PREFIX = "LEASE#"
_THROTTLE_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
_CONFLICT_RETRIES = 8
# A lease outlives any execution (Step Functions' 1-year cap is far beyond a document's life, but the
# reconciler removes stale ones first): the TTL only sweeps leases of a table nobody reconciles.
LEASE_TTL_SECONDS = 7 * 24 * 3600
# The Starter takes the lease just before StartExecution: a lease this young may have no execution yet.
START_GRACE_SECONDS = 300


class Outcome(str, Enum):
    ACQUIRED = "ACQUIRED"  # a slot was taken for this holder now
    HELD = "HELD"  # the holder already had one (nothing changed)
    FULL = "FULL"  # every slot is taken


@dataclass(frozen=True)
class Reconciled:
    leases: int  # leases found
    released: list[str]  # holders whose execution is no longer running
    counter_before: int
    counter_after: int


def counter_key() -> dict[str, Any]:
    return {"pk": {"S": _PARTITION}, "sk": {"S": _COUNTER_SK}}


def lease_key(holder: str) -> dict[str, Any]:
    return {"pk": {"S": _PARTITION}, "sk": {"S": f"{_LEASE_PREFIX}{holder}"}}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _reasons(error: ClientError) -> list[str]:
    return [str(r.get("Code") or "None") for r in error.response.get("CancellationReasons") or []]


def _raise_storage(error: ClientError) -> None:
    code = _code(error)
    if code in _THROTTLE_CODES:
        raise StorageThrottled() from error
    if code in ("AccessDeniedException", "AccessDenied"):
        raise AccessDenied("The documents table refused access.") from error
    raise error


def _transact(ddb: Any, items: list[dict[str, Any]], decide: Callable[[list[str]], Any]) -> Any:
    """Run a transaction; on a cancellation, `decide(reasons)` returns the outcome or None to retry
    (a conflict with a concurrent transaction on the same items)."""
    for attempt in range(_CONFLICT_RETRIES):
        try:
            ddb.transact_write_items(TransactItems=items)
            return None
        except ClientError as error:
            if _code(error) != "TransactionCanceledException":
                _raise_storage(error)
            if any(reason in ("ThrottlingError", "ProvisionedThroughputExceeded") for reason in _reasons(error)):
                raise StorageThrottled() from error
            outcome = decide(_reasons(error))
            if outcome is not None:
                return outcome
            time.sleep(random.uniform(0, 0.05 * 2 ** attempt))
    raise StorageThrottled("The admission counter is contended; try again.")


def acquire(ddb: Any, table: str, holder: str, ceiling: int) -> Outcome:
    """Take a slot for `holder` unless `ceiling` slots are taken; idempotent per holder."""
    now = clock.now()
    items = [
        {"Update": {
            "TableName": table, "Key": counter_key(),
            "UpdateExpression": "SET inflight = if_not_exists(inflight, :zero) + :one, ceiling = :ceiling, "
                                "changedAt = :now",
            "ConditionExpression": "attribute_not_exists(inflight) OR inflight < :ceiling",
            "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}, ":ceiling": {"N": str(ceiling)},
                                          ":now": {"N": f"{now:.3f}"}},
        }},
        {"Put": {
            "TableName": table,
            "Item": {**lease_key(holder), "holder": {"S": holder}, "acquiredAt": {"N": f"{now:.3f}"},
                     "expiresAt": {"N": str(int(now) + LEASE_TTL_SECONDS)}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }},
    ]

    def decide(reasons: list[str]) -> Outcome | None:
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            return Outcome.HELD
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return Outcome.FULL
        return None

    return _transact(ddb, items, decide) or Outcome.ACQUIRED


def release(ddb: Any, table: str, holder: str) -> bool:
    """Give `holder`'s slot back; False when it holds none (released already, or never admitted)."""
    delete = {"Delete": {"TableName": table, "Key": lease_key(holder), "ConditionExpression": "attribute_exists(pk)"}}
    items = [
        delete,
        {"Update": {
            "TableName": table, "Key": counter_key(),
            "UpdateExpression": "SET inflight = inflight - :one, changedAt = :now",
            "ConditionExpression": "inflight > :zero",
            "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"},
                                          ":now": {"N": f"{clock.now():.3f}"}},
        }},
    ]

    def decide(reasons: list[str]) -> bool | None:
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            # The counter is already at zero (drift): floor it there and drop the lease alone.
            try:
                ddb.delete_item(TableName=table, Key=lease_key(holder), ConditionExpression="attribute_exists(pk)")
            except ClientError as error:
                if _code(error) == "ConditionalCheckFailedException":
                    return False
                _raise_storage(error)
            return True
        return None

    outcome = _transact(ddb, items, decide)
    return True if outcome is None else bool(outcome)


def inflight(ddb: Any, table: str) -> int:
    """The counter's value (0 before the first admission)."""
    try:
        item = ddb.get_item(TableName=table, Key=counter_key(), ConsistentRead=True).get("Item") or {}
    except ClientError as error:
        _raise_storage(error)
    return int(from_attr(item["inflight"])) if "inflight" in item else 0


def holders(ddb: Any, table: str) -> dict[str, float]:
    """Every lease: holder → acquiredAt (epoch seconds)."""
    found: dict[str, float] = {}
    args: dict[str, Any] = {
        "TableName": table, "ConsistentRead": True,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": _PARTITION}, ":prefix": {"S": _LEASE_PREFIX}},
    }
    while True:
        try:
            page = ddb.query(**args)
        except ClientError as error:
            _raise_storage(error)
        for item in page.get("Items", []):
            found[item["holder"]["S"]] = float(item["acquiredAt"]["N"])
        if "LastEvaluatedKey" not in page:
            return found
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reconcile(ddb: Any, table: str, is_running: Callable[[str], bool | None]) -> Reconciled:
    """Release the leases of executions that are no longer running, then set the counter to the
    number of leases left (a conditional write: a concurrent acquire or release makes it try again).

    `is_running(holder)`: True/False for an execution that exists, None when there is none (a lease
    older than START_GRACE_SECONDS without an execution is stale: its StartExecution never happened).
    """
    now = clock.now()
    released = []
    for holder, acquired_at in holders(ddb, table).items():
        running = is_running(holder)
        if running is False or (running is None and now - acquired_at > START_GRACE_SECONDS):
            if release(ddb, table, holder):
                released.append(holder)
    before = inflight(ddb, table)
    for _ in range(_CONFLICT_RETRIES):
        current, leases = inflight(ddb, table), len(holders(ddb, table))
        if current == leases:
            return Reconciled(leases, released, before, current)
        try:
            ddb.update_item(
                TableName=table, Key=counter_key(), UpdateExpression="SET inflight = :leases, changedAt = :now",
                ConditionExpression="attribute_not_exists(inflight) OR inflight = :current",
                ExpressionAttributeValues={":leases": {"N": str(leases)}, ":current": {"N": str(current)},
                                           ":now": {"N": f"{clock.now():.3f}"}},
            )
            return Reconciled(leases, released, before, leases)
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                _raise_storage(error)
    raise StorageThrottled("The admission counter kept changing during reconciliation; try again.")
