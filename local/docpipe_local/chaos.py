"""`docpipe local chaos`: many generated documents through the twin under injected Textract faults.

Every document is a small generated PNG (sync AnalyzeExpense) or PDF (async StartExpenseAnalysis),
each with different bytes, answered from a recorded AnalyzeExpense response: no OCR, so hundreds of
documents run in one sitting. The report says where every document ended and whether any was lost
(no terminal record and no failure-queue message) or analysed (billed) twice.
"""

from __future__ import annotations

import io
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any, TextIO

import boto3

from docpipe import breaker
from docpipe_local.engine import FaultPlan
from docpipe_local.engine.faults import KINDS
from docpipe_local.metrics import print_summary
from docpipe_local.twin.twin import LocalTwin, Upload

RECORDED = Path(__file__).parent / "data" / "analyze_expense_receipt.json"
TERMINAL = ("SUCCEEDED", "NEEDS_REVIEW", "REJECTED", "DUPLICATE", "FAILED")
_BILLED_SYNC = {"AnalyzeExpense", "AnalyzeDocument", "AnalyzeID", "DetectDocumentText"}


def parse_faults(spec: str) -> tuple[dict[str, float], float]:
    """'throttle=0.3,server=0.1,outage=300' → ({'throttle': 0.3, 'server': 0.1}, 300.0).

    Rates are per applicable call; `outage=S` makes every call fail for the first S seconds of
    (virtual) time, as a Textract outage would.
    """
    rates: dict[str, float] = {}
    outage = 0.0
    for item in filter(None, (part.strip() for part in (spec or "").split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"docpipe: --faults expects KIND=VALUE items, got {item!r}")
        try:
            if name == "outage":
                outage = float(value)
                continue
            rate = float(value)
        except ValueError:
            raise SystemExit(f"docpipe: --faults {name} needs a number, got {value!r}") from None
        if name not in KINDS:
            raise SystemExit(f"docpipe: unknown fault {name!r}; expected outage or one of {', '.join(KINDS)}")
        if not 0.0 <= rate <= 1.0:
            raise SystemExit(f"docpipe: fault rate {name}={value} must be within 0..1")
        rates[name] = rate
    return rates, outage


def _png(index: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (64, 48), (255, 255, 255))
    for bit in range(24):  # the index, as a row of dark pixels: every document's bytes differ
        if index >> bit & 1:
            image.putpixel((8 + bit * 2, 24), (0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _pdf(index: int) -> bytes:
    import pypdfium2

    pdf = pypdfium2.PdfDocument.new()
    pdf.new_page(612 + index % 100, 792 + index // 100)  # a page size per document: different bytes
    buffer = io.BytesIO()
    pdf.save(buffer)
    pdf.close()
    return buffer.getvalue()


def generate(directory: Path, count: int, seed: int) -> tuple[list[Path], Path]:
    """`count` documents (about a third PDFs) and a replay folder answering each of them."""
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    recorded.pop("ResponseMetadata", None)
    page = {"JobStatus": "SUCCEEDED", "DocumentMetadata": {"Pages": 1},
            "ExpenseDocuments": recorded["ExpenseDocuments"]}
    replay = directory / "replay"
    replay.mkdir(parents=True)
    chooser = random.Random(seed)
    paths = []
    for index in range(count):
        pdf = chooser.random() < 1 / 3
        data = _pdf(index) if pdf else _png(index)
        path = directory / f"chaos-{index:04d}.{'pdf' if pdf else 'png'}"
        path.write_bytes(data)
        digest = sha256(data).hexdigest()
        if pdf:
            (replay / digest).mkdir()
            (replay / digest / "1.json").write_text(json.dumps(page), encoding="utf-8")
        else:
            (replay / f"{digest}.json").write_text(json.dumps(recorded), encoding="utf-8")
        paths.append(path)
    return paths, replay


@dataclass
class ChaosReport:
    documents: int
    states: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    dlq: int = 0
    lost: int = 0
    duplicated: int = 0
    textract_calls: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    parks: int = 0
    breaker_transitions: Counter[str] = field(default_factory=Counter)
    breaker_final: str = "CLOSED"
    metrics: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def terminal(self) -> int:
        return sum(self.states[s] for s in TERMINAL)

    def summary_line(self) -> str:
        return (f"documents={self.documents} terminal={self.terminal} dlq={self.dlq} lost={self.lost} "
                f"duplicated={self.duplicated} textract_calls={sum(self.textract_calls.values())}")


def _queue_depth(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attributes["Attributes"].values())


def _failure_queue_uploads(queue_url: str) -> set[str]:
    """uploadIds of the executions whose state reached the failure queue (read, then left visible)."""
    sqs, found = boto3.client("sqs"), set()
    for _ in range(1000):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600)
        batch = messages.get("Messages", [])
        if not batch:
            break
        for message in batch:
            body = json.loads(message["Body"])
            found.add(body.get("uploadId") or (body.get("state") or {}).get("uploadId", ""))
    return found


def _billed(twin: LocalTwin) -> Counter[str]:
    """Analyses per document: each successful sync call and each new async job is one."""
    per_document: Counter[str] = Counter()
    jobs: set[str] = set()
    for call in twin.engine.calls if twin.engine else []:
        if call.outcome != "OK" or call.document is None:
            continue
        if call.operation in _BILLED_SYNC:
            per_document[call.document] += 1
        elif call.operation.startswith("Start") and call.job_id not in jobs:
            jobs.add(call.job_id)
            per_document[call.document] += 1
    return per_document


def report(twin: LocalTwin, uploads: list[Upload], seconds: float) -> ChaosReport:
    """Where every upload ended, from the documents table, the queues and the engine's call log."""
    result = ChaosReport(len(uploads), seconds=seconds)
    failure_queue = twin.resources.ref("FailureQueue")
    in_failure_queue = _failure_queue_uploads(failure_queue)
    for upload in uploads:
        record = twin.upload_record(upload) or {}
        status = record.get("status", "NO_RECORD")
        result.states[status] += 1
        if record.get("error"):
            result.codes[record["error"]["code"]] += 1
        if status not in TERMINAL and upload.upload_id not in in_failure_queue:
            result.lost += 1
    result.dlq = len(in_failure_queue) + _queue_depth(twin.resources.ref("IntakeDeadLetterQueue"))
    result.duplicated = sum(1 for n in _billed(twin).values() if n > 1)
    result.textract_calls = Counter(f"{c.operation} {c.outcome}" for c in twin.engine.calls) if twin.engine \
        else Counter()
    result.retries = len(twin.clock.retry_sleeps)
    result.parks = twin.clock.waits_by_state["ParkForCircuit"]
    result.metrics = list(twin.runtime.metrics)
    for document in result.metrics:
        if "BreakerTransitions" in document:
            result.breaker_transitions[document.get("State", "?")] += _metric_sum(document["BreakerTransitions"])
    result.breaker_final = breaker.read(boto3.client("dynamodb"), twin.resources.ref("DocumentsTable"), "textract").state
    return result


def _metric_sum(value: Any) -> int:
    """An EMF metric value: a number, or the list of values one flush recorded."""
    if isinstance(value, list):
        return int(sum(value))
    return int(value) if isinstance(value, (int, float)) else 0


def print_report(result: ChaosReport, stream: TextIO) -> None:
    rows = [("terminal state", "documents")] + [(s, str(n)) for s, n in sorted(result.states.items())]
    rows += [("error " + c, str(n)) for c, n in sorted(result.codes.items())]
    rows += [("textract " + c, str(n)) for c, n in sorted(result.textract_calls.items())]
    rows += [("retries (backoff sleeps)", str(result.retries)), ("breaker parks", str(result.parks))]
    rows += [("breaker → " + state, str(n)) for state, n in sorted(result.breaker_transitions.items())]
    rows += [("breaker state at the end", result.breaker_final), ("seconds", f"{result.seconds:.1f}")]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        stream.write(f"{name:<{width}}  {value}\n")
    print_summary(result.metrics, stream)
    stream.write(result.summary_line() + "\n")


def run_chaos(root: Path, *, documents: int, faults: str, seed: int, waves: int = 4, stream: TextIO = sys.stdout,
              parameters: dict[str, str] | None = None) -> ChaosReport:
    """Generate, upload in `waves` bursts (each after the previous one ended, so documents keep
    arriving through an outage and after it), wait for every execution with a deadline, report."""
    rates, outage = parse_faults(faults)
    plan = FaultPlan(rates, seed=seed, outage_seconds=outage)
    with tempfile.TemporaryDirectory(prefix="docpipe-chaos-") as scratch:
        paths, replay = generate(Path(scratch), documents, seed)
        began = time.perf_counter()
        with LocalTwin(root, log_stream=io.StringIO(), faults=plan, replay_dir=replay,
                       parameters=parameters) as twin:
            uploads: list[Upload] = []
            size = -(-documents // max(1, waves))
            for start in range(0, documents, size):
                wave = [twin.upload(path, key=f"incoming/receipts/{path.name}") for path in paths[start:start + size]]
                twin.pump_intake()
                twin.wait(wave, timeout_s=max(600.0, len(wave) * 3.0))
                uploads.extend(wave)
            result = report(twin, uploads, time.perf_counter() - began)
    print_report(result, stream)
    return result
