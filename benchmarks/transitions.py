"""What one document costs in Step Functions and Textract calls, read from real twin execution histories.

Runs, each on a fresh local twin (the real template, ASL and handlers):
- the sample receipt image (sync AnalyzeExpense, answered from AWS's recorded response: no OCR);
- the 2-page sample invoice PDF as an async job that the engine keeps IN_PROGRESS for 1, 10 and
  60 minutes of virtual time.
For each it prints the states entered, the retries, the billed state transitions (Step Functions bills
every state entered and every retry), the history events (25,000 is the cap per execution) and the
Textract calls, status polls (Get* with MaxResults=1) among them.

    .venv/bin/python benchmarks/transitions.py
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from docpipe_local.twin.twin import LocalTwin

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "fixtures" / "textract" / "analyze_expense_receipt_mega_market.json"
# The targets for a 60-minute async job.
TARGET_TRANSITIONS, TARGET_POLLS = 25, 12


def count(history: list[dict[str, Any]]) -> dict[str, int]:
    """States entered, retries (a Task scheduled again within one state entry) and history events."""
    types = Counter(event["type"] for event in history)
    entered = sum(n for kind, n in types.items() if kind.endswith("StateEntered"))
    scheduled = types["TaskScheduled"] + types["LambdaFunctionScheduled"]
    task_entries = types["TaskStateEntered"]
    retries = max(0, scheduled - task_entries)
    return {"entered": entered, "retries": retries, "transitions": entered + retries, "events": len(history)}


def run(name: str, document: Path, *, job_seconds: float | None, replay: Path | None) -> dict[str, Any]:
    """One document through its own twin; the figures of its execution."""
    with LocalTwin(ROOT, log_stream=io.StringIO(), replay_dir=replay,
                   job_seconds=(lambda pages: job_seconds) if job_seconds is not None else None) as twin:
        upload = twin.upload(document)
        twin.pump_intake()
        status = twin.wait([upload], timeout_s=600)[upload.upload_id]["status"]
        figures = count(twin.history(upload))
        operations = [call.operation for call in twin.engine.calls]
        polls = sum(1 for op in operations if op.startswith("Get"))
        return {"name": name, "status": status, **figures, "textract": len(operations), "polls": polls}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="docpipe-transitions-"))
    try:
        replay = work / "replay"
        replay.mkdir()
        receipt = ROOT / "samples" / "receipt.jpg"
        shutil.copy(RECORDED, replay / f"{hashlib.sha256(receipt.read_bytes()).hexdigest()}.json")
        invoice = ROOT / "samples" / "invoice-2-pages.pdf"
        rows = [run("sync image (receipt)", receipt, job_seconds=None, replay=replay)]
        rows += [run(f"async job, {minutes} min", invoice, job_seconds=minutes * 60.0, replay=None)
                 for minutes in (1, 10, 60)]
    finally:
        shutil.rmtree(work)
    header = (f"{'document':<22} {'status':<10} {'entered':>7} {'retries':>7} {'transitions':>11} "
              f"{'events':>6} {'textract':>8} {'polls':>5}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['name']:<22} {row['status']:<10} {row['entered']:>7} {row['retries']:>7} {row['transitions']:>11} "
              f"{row['events']:>6} {row['textract']:>8} {row['polls']:>5}")
    hour = rows[-1]
    print(f"\n60-minute job: {hour['transitions']} transitions (target <= {TARGET_TRANSITIONS}), "
          f"{hour['polls']} status polls (target <= {TARGET_POLLS})")


if __name__ == "__main__":
    main()
