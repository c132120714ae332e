"""Invoices from AnalyzeExpense output.

The shared fixture set holds no recorded AnalyzeExpense response of an invoice (tests/fixtures
invoice.png has only a notebook printout, see /work/shared/fixtures/INDEX.md), so these tests use
the recorded receipt responses: invoices and receipts come from the same API and the same Types
(INVOICE_RECEIPT_ID, INVOICE_RECEIPT_DATE, TOTAL, …).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from docpipe.normalize import normalize, validate_output

TEXTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "textract"


def load(name: str) -> dict[str, Any]:
    return json.loads((TEXTRACT / name).read_text())


def test_expense_response_maps_to_invoice_fields() -> None:
    # GIVEN AnalyzeExpense of the MEGA MARKET receipt (TR# 21772, 12/07/2019, TOTAL $1810.46)
    response = load("analyze_expense_receipt_mega_market.json")
    # WHEN it is normalized as an invoice
    doc = normalize("invoice", [response], threshold=80, locale="en_US", document_id="doc-1")
    # THEN the document's number, date, vendor and amounts land in the invoice fields
    assert {k: v["value"] for k, v in doc["fields"].items()} == {
        "vendor_name": "MEGA MARKET PLUS", "invoice_number": "21772", "invoice_date": "2019-12-07",
        "currency": "USD", "subtotal": "1699.96", "tax": "110.50", "total": "1810.46",
    }
    # AND no due date, PO number or bill-to is invented
    assert not {"due_date", "po_number", "bill_to", "amount_due"} & set(doc["fields"])
    assert len(doc["line_items"]) == 4
    assert doc["review"] == {"status": "SUCCEEDED", "reasons": []}
    validate_output(doc)


def test_amount_due_alone_satisfies_the_total_requirement() -> None:
    # GIVEN the real response with TOTAL removed and the tendered amount typed AMOUNT_DUE instead
    altered = copy.deepcopy(load("analyze_expense_receipt_mega_market.json"))
    summary = altered["ExpenseDocuments"][0]["SummaryFields"]
    summary[:] = [f for f in summary if f["Type"]["Text"] != "TOTAL"]
    for field in summary:
        if field["Type"]["Text"] == "AMOUNT_PAID":
            field["Type"]["Text"] = "AMOUNT_DUE"
    # WHEN it is normalized as an invoice
    doc = normalize("invoice", [altered], threshold=80, locale="en_US", document_id="doc-1")
    # THEN the amount due is $1810.46 and the invoice needs no review ("total or amount_due")
    assert doc["fields"]["amount_due"]["value"] == "1810.46" and "total" not in doc["fields"]
    assert doc["review"]["status"] == "SUCCEEDED"
    validate_output(doc)


def test_invoice_without_number_or_total_needs_review() -> None:
    # GIVEN AnalyzeExpense output with line items but no summary fields
    response = load("analyze_expense_receipt_no_summary.json")
    # WHEN it is normalized as an invoice
    doc = normalize("invoice", [response], threshold=80, locale="en_US", document_id="doc-2")
    # THEN both requirements are reported, alternatives named together
    assert doc["review"]["status"] == "NEEDS_REVIEW"
    assert doc["review"]["reasons"][:2] == ["total or amount_due missing", "invoice_number missing"]
    validate_output(doc)
