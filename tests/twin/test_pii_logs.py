"""No document text, field value or personal data in the functions' logs (they go to CloudWatch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import boto3

from tests.conftest import FIXTURES, ROOT
from tests.twin.conftest import SAMPLES, process


def _values(node: Any) -> Iterator[str]:
    """Every extracted value in a normalized document: field values, line items, key/values, cells."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("value", "description", "key", "text") and isinstance(value, (str, int, float)):
                yield str(value)
            else:
                yield from _values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _values(item)


def test_logs_of_whole_runs_hold_no_extracted_value(make_twin) -> None:
    # GIVEN a receipt photo, a two-page invoice, a driver licence and an insurance card, read by the
    # local engine (OCR and text layer) through the whole pipeline
    twin = make_twin()
    uploads = [twin.upload(SAMPLES / "receipt.jpg"), twin.upload(SAMPLES / "invoice-2-pages.pdf"),
               twin.upload(FIXTURES / "driverlicense.png", key="incoming/ids/licence.png"),
               twin.upload(ROOT / "evaluation" / "insurance-card.png", key="incoming/insurance/card.png")]
    process(twin, *uploads, timeout_s=300)
    s3, bucket = boto3.client("s3"), twin.resources.ref("DocumentsBucket")
    values: set[str] = set()
    for upload in uploads:
        document = twin.document_record(twin.upload_record(upload)["documentId"])
        assert document["status"] in ("SUCCEEDED", "NEEDS_REVIEW"), document
        normalized = json.loads(s3.get_object(Bucket=bucket, Key=document["normalizedKey"])["Body"].read())
        values.update(v.strip() for v in _values(normalized["fields"]) if len(v.strip()) >= 4)
        values.update(v.strip() for v in _values(normalized.get("line_items", [])) if len(v.strip()) >= 4)
    assert len(values) >= 20  # the check below means something only if much was extracted
    # WHEN the functions' log lines (Powertools JSON, as CloudWatch would receive them) are scanned
    lines = [line for line in twin.runtime.log_stream.getvalue().splitlines() if line.startswith("{")]
    assert len(lines) >= 4 * 6
    text = "\n".join(lines)
    # THEN none of the extracted values appears in them, and every line is structured JSON
    leaked = sorted(v for v in values if v in text)
    assert leaked == [], leaked
    records = [json.loads(line) for line in lines]
    assert all({"level", "message", "service"} <= set(r) for r in records)
    # AND lines written while processing a document say which execution and document they belong to
    with_document = [r for r in records if r.get("documentId")]
    assert with_document and all(str(r.get("correlation_id", "")).startswith("doc-") for r in with_document)
