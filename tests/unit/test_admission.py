"""docpipe.admission against moto DynamoDB: the ceiling, idempotent acquire and release, the floor at
zero, racing callers, and reconciliation against the executions actually running."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.dynamodb.models import DynamoDBBackend

from docpipe import admission, clock
from docpipe.admission import Outcome, acquire, holders, inflight, reconcile, release
from docpipe_local.twin import patches
from tests.conftest import REGION, create_documents_table

AWS = boto3.Session(region_name=REGION)
TABLE = "docpipe-admission-test"
T0 = 1_800_000_000.0


@pytest.fixture
def ddb(aws: None) -> Iterator[Any]:
    client = AWS.client("dynamodb")
    create_documents_table(client, TABLE)
    previous = clock.use(lambda: T0)
    yield client
    clock.use(previous)


def set_counter(ddb: Any, value: int) -> None:
    ddb.update_item(TableName=TABLE, Key=admission.counter_key(), UpdateExpression="SET inflight = :v",
                    ExpressionAttributeValues={":v": {"N": str(value)}})


def test_slots_are_taken_up_to_the_ceiling_then_refused(ddb: Any) -> None:
    # GIVEN a ceiling of 3 and no admissions yet
    assert inflight(ddb, TABLE) == 0
    # WHEN four executions ask for a slot
    outcomes = [acquire(ddb, TABLE, f"doc-{n}", ceiling=3) for n in range(4)]
    # THEN three get one, the fourth is refused, and the counter and the leases agree
    assert outcomes == [Outcome.ACQUIRED] * 3 + [Outcome.FULL]
    assert inflight(ddb, TABLE) == 3
    assert set(holders(ddb, TABLE)) == {"doc-0", "doc-1", "doc-2"}


def test_acquiring_again_holds_the_same_slot_even_when_full(ddb: Any) -> None:
    # GIVEN a full ceiling of 2
    acquire(ddb, TABLE, "doc-a", ceiling=2)
    acquire(ddb, TABLE, "doc-b", ceiling=2)
    # WHEN a holder asks again (a retried Lambda, StartTextract after the Starter)
    # THEN it holds its slot, and nothing is counted twice
    assert acquire(ddb, TABLE, "doc-a", ceiling=2) is Outcome.HELD
    assert inflight(ddb, TABLE) == 2


def test_a_slot_is_given_back_once(ddb: Any) -> None:
    # GIVEN one holder of a ceiling of 1
    acquire(ddb, TABLE, "doc-a", ceiling=1)
    # WHEN it releases twice (the normal path, then the ExecutionEnded backstop)
    first, second = release(ddb, TABLE, "doc-a"), release(ddb, TABLE, "doc-a")
    # THEN only the first gave a slot back, and the next execution is admitted
    assert (first, second) == (True, False)
    assert inflight(ddb, TABLE) == 0 and holders(ddb, TABLE) == {}
    assert acquire(ddb, TABLE, "doc-b", ceiling=1) is Outcome.ACQUIRED


def test_releasing_what_was_never_acquired_changes_nothing(ddb: Any) -> None:
    # GIVEN one holder
    acquire(ddb, TABLE, "doc-a", ceiling=5)
    # WHEN an execution that never had a slot releases
    # THEN nothing changes
    assert release(ddb, TABLE, "doc-stranger") is False
    assert inflight(ddb, TABLE) == 1


def test_the_counter_never_goes_below_zero(ddb: Any) -> None:
    # GIVEN a lease whose counter has drifted to zero
    acquire(ddb, TABLE, "doc-a", ceiling=5)
    set_counter(ddb, 0)
    # WHEN it is released
    # THEN the lease goes, and the counter stays at zero
    assert release(ddb, TABLE, "doc-a") is True
    assert inflight(ddb, TABLE) == 0 and holders(ddb, TABLE) == {}


def test_racing_callers_never_exceed_the_ceiling(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN DynamoDB's atomic conditional transactions (the twin's patch 7) and 24 callers racing for 5 slots
    for name, write in patches.make_atomic_writes(DynamoDBBackend).items():
        monkeypatch.setattr(DynamoDBBackend, name, write)
    start = threading.Barrier(24)
    outcomes: Counter[Outcome] = Counter()
    lock = threading.Lock()

    def caller(n: int) -> None:
        client = AWS.client("dynamodb")
        start.wait()
        outcome = acquire(client, TABLE, f"doc-{n}", ceiling=5)
        with lock:
            outcomes[outcome] += 1

    # WHEN they all ask at once
    threads = [threading.Thread(target=caller, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # THEN exactly five were admitted, and the counter says five
    assert outcomes == Counter({Outcome.ACQUIRED: 5, Outcome.FULL: 19})
    assert inflight(ddb, TABLE) == 5 and len(holders(ddb, TABLE)) == 5


def test_reconcile_releases_ended_executions_and_repairs_the_counter(ddb: Any) -> None:
    # GIVEN four leases: one running, one ended, one with no execution for 10 minutes, one just taken
    for holder, age in (("doc-running", 900), ("doc-ended", 900), ("doc-lost", 600), ("doc-starting", 10)):
        clock.use(lambda age=age: T0 - age)
        acquire(ddb, TABLE, holder, ceiling=100)
    clock.use(lambda: T0)
    # AND a counter that drifted (a release that crashed between its two writes cannot happen, a manual edit can)
    set_counter(ddb, 9)
    status = {"doc-running": True, "doc-ended": False}
    # WHEN the reconciler runs
    result = reconcile(ddb, TABLE, lambda holder: status.get(holder))
    # THEN the ended and the lost leases are released, the young one is kept, and the counter equals the leases
    assert sorted(result.released) == ["doc-ended", "doc-lost"]
    assert (result.leases, result.counter_after) == (2, 2)
    assert set(holders(ddb, TABLE)) == {"doc-running", "doc-starting"}
    assert inflight(ddb, TABLE) == 2


def test_reconcile_with_nothing_to_repair_writes_nothing(ddb: Any) -> None:
    # GIVEN one running holder and a correct counter
    acquire(ddb, TABLE, "doc-a", ceiling=3)
    # WHEN the reconciler runs
    result = reconcile(ddb, TABLE, lambda holder: True)
    # THEN it releases nothing and reports the counter unchanged
    assert result == admission.Reconciled(leases=1, released=[], counter_before=1, counter_after=1)
