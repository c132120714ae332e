"""NormalizeDocument and PersistResult: raw Textract pages in S3 → normalized JSON → final record."""

from __future__ import annotations

import json
from typing import Any

from docpipe import PROCESSOR_VERSION
from docpipe.classify import EXPENSE_DOC_TYPES, doc_type_from_text, plan_for
from docpipe.contracts import DETAIL_TYPES, Classification, NormalizedSummary, Outcome
from docpipe.normalize import normalize, summarize, validate_output
from docpipe.records import expires_at, finish_document, write_upload
from docpipe.textract.jobs import iter_raw_pages, materialize_async_result


def normalized_key(results_prefix: str, document_id: str) -> str:
    return f"{results_prefix}{document_id}/normalized.json"


def _first_page_text(page: dict[str, Any]) -> str:
    blocks = list(page.get("Blocks") or [])
    for expense in page.get("ExpenseDocuments") or []:
        blocks.extend(expense.get("Blocks") or [])
    return "\n".join(b.get("Text", "") for b in blocks if b.get("BlockType") == "LINE")


def refine_doc_type(s3: Any, *, bucket: str, raw_prefix: str, classification: dict[str, Any]) -> str:
    """An unhinted document's docType, decided from its extracted text (first result object)."""
    if classification.get("source") != "default":
        return classification["docType"]
    for page in iter_raw_pages(s3, bucket=bucket, prefix=raw_prefix):
        return doc_type_from_text(_first_page_text(page)) or classification["docType"]
    return classification["docType"]


def replan_for(doc_type: str, document: dict[str, Any], classification: dict[str, Any]) -> Classification | None:
    """The classification to run again with when the expense-first result cannot serve `doc_type`.

    AnalyzeExpense gives expense fields and text only: an ID card needs AnalyzeID, an insurance card
    its Queries, a generic form FORMS and TABLES. Only an expense-first plan is ever replanned, and
    the new one is final (its source is "text"), so a document is analysed at most twice.
    """
    if classification.get("source") != "default" or doc_type in EXPENSE_DOC_TYPES:
        return None
    plan = plan_for(doc_type, document["mediaType"], int(document["pageCount"]))
    return {"docType": doc_type, "source": "text", "plan": plan}


def normalize_document(
    s3: Any,
    textract: Any,
    *,
    bucket: str,
    results_prefix: str,
    document: dict[str, Any],
    classification: dict[str, Any],
    textract_state: dict[str, Any],
    threshold: float,
    locale: str,
) -> NormalizedSummary:
    """Normalize the stored raw result, validate it against its schema, store it; return a summary."""
    raw_prefix = materialize_async_result(textract, s3, state=textract_state, bucket=bucket)
    doc_type = refine_doc_type(s3, bucket=bucket, raw_prefix=raw_prefix, classification=classification)
    replan = replan_for(doc_type, document, classification)
    if replan is not None:
        return {"docType": doc_type, "status": "REPLAN", "reviewReasons": [], "normalizedKey": None,
                "rawPrefix": raw_prefix, "pages": int(document["pageCount"]), "fields": {}, "replan": replan,
                "method": textract_state.get("method", "textract")}
    pages = iter_raw_pages(s3, bucket=bucket, prefix=raw_prefix)
    doc = normalize(doc_type, pages, threshold=threshold, locale=locale, document_id=document["documentId"])
    if textract_state.get("status") == "PARTIAL_SUCCESS":
        doc["review"] = {"status": "NEEDS_REVIEW",
                         "reasons": [*doc["review"]["reasons"], "Textract returned PARTIAL_SUCCESS"]}
    doc["method"] = textract_state.get("method", "textract")
    if doc["method"] == "fallback":
        # Degraded extraction: a person checks it, or it is reprocessed once Textract is back.
        doc["review"] = {"status": "NEEDS_REVIEW", "reasons": [
            *doc["review"]["reasons"], "read by the local OCR fallback while Textract's circuit breaker was open"]}
    doc["processorVersion"] = PROCESSOR_VERSION
    doc["docTypeSource"] = "text" if doc_type != classification["docType"] else classification.get("source", "")
    validate_output(doc)
    key = normalized_key(results_prefix, document["documentId"])
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(doc, ensure_ascii=False).encode(),
                  ContentType="application/json")
    return {
        "docType": doc_type, "status": doc["review"]["status"], "reviewReasons": doc["review"]["reasons"],
        "normalizedKey": key, "rawPrefix": raw_prefix, "pages": doc["pages"], "fields": summarize(doc),
        "replan": None, "method": doc["method"],
    }


def persist_result(
    ddb: Any,
    table: str,
    *,
    upload: dict[str, Any],
    document: dict[str, Any],
    normalized: dict[str, Any],
    execution_name: str,
    retention_days: int,
) -> Outcome:
    """Write the terminal record for the document and its upload; returns the outcome to publish."""
    upload_id = upload["uploadId"]
    status = normalized["status"]
    written = finish_document(
        ddb, table, document_id=document["documentId"], upload_id=upload_id, execution_name=execution_name,
        values={
            "status": status, "docType": normalized["docType"], "fields": normalized["fields"],
            "reviewReasons": normalized["reviewReasons"], "normalizedKey": normalized["normalizedKey"],
            "rawPrefix": normalized["rawPrefix"], "pages": normalized["pages"],
            "processorVersion": PROCESSOR_VERSION, "expiresAt": expires_at(retention_days),
            "method": normalized.get("method", "textract"),
        },
    )
    if not written:
        # A newer execution has taken the document over (this one is a stale retry or redrive):
        # its result stands, and this upload ends as a duplicate of that document.
        status = "DUPLICATE"
        write_upload(ddb, table, upload=upload, execution_name=execution_name, retention_days=retention_days,
                     status=status, document_id=document["documentId"],
                     extra={"duplicateOf": document["documentId"]})
    return {"status": status, "detailType": DETAIL_TYPES[status], "uploadId": upload_id,
            "documentId": document["documentId"], "docType": normalized["docType"]}
