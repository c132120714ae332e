"""Keys with spaces, unicode, `+`, `%2F`, `..` or 1,000 characters travel S3 → EventBridge → SQS →
Starter → execution unchanged, and each upload ends terminal under its own key."""

from __future__ import annotations

from pathlib import Path

from tests.twin.conftest import SAMPLES, process
from tests.unit import badinputs


def test_odd_keys_reach_a_terminal_state_under_their_exact_key(make_twin, receipt_replay: Path) -> None:
    # GIVEN the same receipt uploaded under every odd key of the corpus
    twin = make_twin(replay_dir=receipt_replay)
    uploads = [twin.upload(SAMPLES / "receipt.jpg", key=key) for key in badinputs.ODD_KEYS]
    # WHEN the S3 events are delivered and the executions run
    process(twin, *uploads)
    # THEN every upload has a record under its exact key: one analysed the receipt, the rest are its
    # duplicates (same bytes), none failed or got lost, and Textract was called once
    records = [twin.upload_record(u) for u in uploads]
    assert [r["key"] for r in records] == list(badinputs.ODD_KEYS)
    assert sorted(r["status"] for r in records) == ["DUPLICATE"] * (len(uploads) - 1) + ["SUCCEEDED"]
    assert len(twin.engine.calls) == 1
