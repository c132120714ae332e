"""Admission control on the twin: a ceiling of Textract slots, uploads waiting in the intake queue,
and the counter back at zero once every execution has ended."""

from __future__ import annotations

from pathlib import Path

import boto3

from docpipe import admission
from docpipe_local.twin.twin import LocalTwin
from tests.twin.conftest import SAMPLES, process, states_entered


def distinct_pdfs(tmp_path: Path, count: int) -> list[Path]:
    """Copies of the 2-page invoice PDF with different bytes (a trailing comment): distinct documents."""
    paths = []
    for n in range(count):
        path = tmp_path / f"invoice-{n}.pdf"
        path.write_bytes((SAMPLES / "invoice-2-pages.pdf").read_bytes() + f"%{n}\n".encode())
        paths.append(path)
    return paths


def job_intervals(twin: LocalTwin) -> list[tuple[float, float]]:
    """(start, last poll) of every async job, from the engine's call log (engine clock)."""
    started: dict[str, float] = {}
    last: dict[str, float] = {}
    for call in twin.engine.calls:
        if call.job_id and call.operation.startswith("Start"):
            started[call.job_id] = call.at
        elif call.job_id and call.operation.startswith("Get"):
            last[call.job_id] = call.at
    return [(started[job], last[job]) for job in started]


def test_a_ceiling_of_one_runs_jobs_one_at_a_time_and_loses_nothing(make_twin, tmp_path: Path,
                                                                     receipt_replay: Path) -> None:
    # GIVEN one Textract slot, uploads told to come back after about a second while it is taken
    twin = make_twin(parameters={"TextractConcurrentJobs": "1", "AdmissionWaitSeconds": "1"},
                     replay_dir=receipt_replay)
    # WHEN three distinct PDFs and the same receipt twice (the second is a DUPLICATE) arrive at once
    uploads = [twin.upload(path) for path in distinct_pdfs(tmp_path, 3)]
    uploads += [twin.upload(SAMPLES / "receipt.jpg"), twin.upload(SAMPLES / "receipt.jpg", key="incoming/again.jpg")]
    ended = process(twin, *uploads, timeout_s=300)
    # THEN every execution succeeded: each PDF and the first receipt once, the copy as a DUPLICATE
    assert [ended[u.upload_id]["status"] for u in uploads] == ["SUCCEEDED"] * 5
    statuses = sorted(twin.upload_record(u)["status"] for u in uploads)
    assert statuses.count("DUPLICATE") == 1 and statuses.count("FAILED") == 0
    # AND the Textract jobs never overlapped: each started after the previous one's last poll
    intervals = sorted(job_intervals(twin))
    assert len(intervals) == 3
    assert all(later[0] >= earlier[1] for earlier, later in zip(intervals, intervals[1:]))
    # AND uploads waited in the intake queue rather than in the state machine
    assert any("AdmissionDeferred" in document for document in twin.runtime.metrics)
    assert all("TextractCapacityFull" not in str(states_entered(twin, u)) for u in uploads)
    # AND with every execution ended, no slot is held
    ddb, table = boto3.client("dynamodb"), twin.resources.ref("DocumentsTable")
    assert admission.inflight(ddb, table) == 0 and admission.holders(ddb, table) == {}
