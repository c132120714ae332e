"""`docpipe local run`: process files end to end on the local twin and report each document."""

from __future__ import annotations

import json
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from docpipe_local.metrics import print_summary
from docpipe_local.twin.twin import LocalTwin, Upload

# The fields shown in the table for each docType (all fields are in --json and under --out).
KEY_FIELDS = {
    "receipt": ("merchant_name", "receipt_date", "total"),
    "invoice": ("vendor_name", "invoice_number", "invoice_date", "total", "amount_due"),
    "insurance": ("policy_number", "insurer_name", "insured_name"),
    "identity": ("id_type", "document_number", "last_name"),
    "generic": (),
}


@dataclass
class DocumentResult:
    file: str
    upload_id: str
    document_id: str | None
    doc_type: str | None
    status: str
    fields: dict[str, Any]
    error: dict[str, Any] | None
    seconds: float
    normalized_key: str | None
    raw_prefix: str | None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "documentId": self.document_id, "status": self.status, "docType": self.doc_type,
                "fields": self.fields, "error": self.error}


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, and the files inside named directories (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")))
        elif path.is_file():
            files.append(path)
        else:
            raise SystemExit(f"docpipe: no such file: {path}")
    return files


def collect(twin: LocalTwin, upload: Upload, described: dict[str, Any]) -> DocumentResult:
    """The recorded outcome of one upload."""
    record = twin.upload_record(upload) or {}
    document_id = record.get("documentId")
    document = (twin.document_record(document_id) if document_id else None) or {}
    status = record.get("status") or ("FAILED" if described["status"] != "SUCCEEDED" else "UNKNOWN")
    error = record.get("error")
    if described["status"] != "SUCCEEDED" and not error:
        error = {"code": "EXECUTION_" + described["status"], "message": "The execution ended without a record."}
    seconds = (described["stopDate"] - described["startDate"]).total_seconds()
    return DocumentResult(
        file=upload.path, upload_id=upload.upload_id, document_id=document_id,
        doc_type=document.get("docType") or record.get("docType"), status=status,
        fields=document.get("fields") or {} if status not in ("DUPLICATE",) else {},
        error={"code": error["code"], "message": error["message"]} if error else None,
        seconds=seconds, normalized_key=document.get("normalizedKey"), raw_prefix=document.get("rawPrefix"),
    )


def _safe_name(path: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).name) or "document"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def write_artifacts(twin: LocalTwin, results: list[DocumentResult], out: Path) -> None:
    """out/<file>/normalized.json, out/<file>/textract/<n>.json and out/<file>/record.json."""
    taken: set[str] = set()
    for result in results:
        folder = out / _safe_name(result.file, taken)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "record.json").write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
        if result.normalized_key:
            normalized = twin.read_json(result.normalized_key)
            (folder / "normalized.json").write_text(json.dumps(normalized, indent=2, ensure_ascii=False) + "\n")
        if result.raw_prefix:
            raw = folder / "textract"
            raw.mkdir(exist_ok=True)
            for key in twin.list_keys(result.raw_prefix):
                name = key[len(result.raw_prefix):]
                if name.isdigit():
                    (raw / f"{name}.json").write_text(json.dumps(twin.read_json(key)) + "\n")


def _field_text(name: str, field: dict[str, Any]) -> str:
    value = field.get("value")
    text = f"{value} {field['currency']}" if field.get("currency") else str(value)
    text = text if len(text) <= 28 else text[:27] + "…"
    return f"{name}={text} ({float(field.get('confidence', 0)):.0f}%)"


def key_fields(result: DocumentResult) -> str:
    if result.error:
        return f"{result.error['code']}: {result.error['message']}"
    names = KEY_FIELDS.get(result.doc_type or "", ())
    shown = [_field_text(n, result.fields[n]) for n in names if n in result.fields]
    if not shown and result.status == "DUPLICATE":
        return "same content as an earlier upload"
    return ", ".join(shown) or f"{len(result.fields)} fields"


def _rows(results: list[DocumentResult]) -> list[list[str]]:
    return [[Path(r.file).name, (r.document_id or "-")[:12], r.doc_type or "-", r.status, key_fields(r),
             f"{r.seconds:.2f}s"] for r in results]


HEADERS = ["file", "documentId", "docType", "status", "key fields", "time"]


def print_table(results: list[DocumentResult], stream: Any) -> None:
    if stream.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*HEADERS)
        for row in _rows(results):
            table.add_row(*row)
        Console(file=stream).print(table)
        return
    rows = [HEADERS, *_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS) - 2)]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:-2], widths)]
        stream.write("  ".join([*cells, row[-1].rjust(7), row[-2]]).rstrip() + "\n")


def run_documents(
    root: Path,
    paths: list[Path],
    *,
    doc_type: str | None,
    out: Path,
    as_json: bool,
    replay_dir: Path | None,
    parameters: dict[str, str],
) -> int:
    """Upload each file to the twin, let the pipeline run, report. Exit 1 if any document FAILED."""
    files = expand(paths)
    out.mkdir(parents=True, exist_ok=True)
    # Powertools warns when a failing invocation flushed no metric; that is expected for rejects.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    began = time.perf_counter()
    with (out / "twin-functions.log").open("w", encoding="utf-8") as log, \
            LocalTwin(root, parameters=parameters, log_stream=log, replay_dir=replay_dir) as twin:
        setup_seconds = time.perf_counter() - began
        uploads = [twin.upload(path, doc_type=doc_type) for path in files]
        twin.pump_intake()
        described = _wait_with_progress(twin, uploads)
        results = [collect(twin, u, described[u.upload_id]) for u in uploads]
        write_artifacts(twin, results, out)
        engine_seconds = twin.engine_seconds
        metrics = list(twin.runtime.metrics)
    total = time.perf_counter() - began
    if as_json:
        for result in results:
            sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    else:
        print_table(results, sys.stdout)
        sys.stdout.write(
            f"{len(results)} document(s) in {total:.1f} s: twin start {setup_seconds:.1f} s, "
            f"Textract engine (OCR) {engine_seconds:.1f} s, orchestration {total - setup_seconds - engine_seconds:.1f} s. "
            f"Results in {out}/\n")
        print_summary(metrics, sys.stdout)
    return 1 if any(r.status == "FAILED" for r in results) else 0


def _wait_with_progress(twin: LocalTwin, uploads: list[Upload]) -> dict[str, dict[str, Any]]:
    if not sys.stderr.isatty():
        return twin.wait(uploads, on_done=lambda n, total: sys.stderr.write(f"processed {n}/{total}\n"))
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("processing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("documents", total=len(uploads))
        return twin.wait(uploads, on_done=lambda n, total: progress.update(task, completed=n))
