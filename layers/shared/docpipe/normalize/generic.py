"""Any document: full text in reading order, form key-values and tables (AnalyzeDocument,
DetectDocumentText, or the blocks of an AnalyzeExpense result when the docType stayed generic)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from docpipe.normalize.common import document, review
from docpipe.textract.blocks import PageBlocks, PageGrouper, StreamStats, expense_documents

PAGE_BREAK = "\n\n"


def normalize_generic(
    responses: Iterable[Mapping[str, Any]], *, threshold: float, locale: str, document_id: str
) -> dict[str, Any]:
    """Text, key-values and tables page by page; NEEDS_REVIEW when there is no text or it reads poorly."""
    stats = StreamStats()
    grouper = PageGrouper(stats)
    texts: list[str] = []
    key_values: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    confidence_sum, line_count = 0.0, 0

    def take(page: PageBlocks) -> None:
        nonlocal confidence_sum, line_count
        lines = page.lines()
        texts.append("\n".join(line.text for line in lines))
        confidence_sum += sum(line.confidence for line in lines)
        line_count += len(lines)
        key_values.extend(
            {"key": kv.key, "value": kv.value, "confidence": round(kv.confidence, 2), "page": kv.page}
            for kv in page.key_values()
        )
        tables.extend(
            {"page": t.page, "rows": t.texts(), "confidence": round(t.confidence, 2)} for t in page.tables()
        )

    for response in responses:
        for page in grouper.feed(response):
            take(page)
        # An AnalyzeExpense result has no FORMS: its labelled summary fields are the key-values.
        for expense in expense_documents(response):
            key_values.extend(
                {"key": f.label or f.type, "value": " ".join(f.value.split()), "confidence": round(f.confidence, 2),
                 "page": f.page}
                for f in expense.summary_fields
            )
    for page in grouper.finish():
        take(page)

    text = PAGE_BREAK.join(texts).strip()
    reasons = []
    if not text:
        reasons.append("text missing")
    elif confidence_sum / line_count < threshold:
        reasons.append(f"text confidence {confidence_sum / line_count:.1f} < {threshold:g}")
    return document("generic", document_id, stats.page_count, {}, review({}, (), threshold, extra=reasons),
                    text=text, key_values=key_values, tables=tables)
