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


def _retyped(response: dict[str, Any], type_: str, text: str, confidence: float | None = None) -> dict[str, Any]:
    """A copy of the first summary field of `type_` with another printed value."""
    field = copy.deepcopy(next(f for f in response["ExpenseDocuments"][0]["SummaryFields"]
                               if f["Type"]["Text"] == type_))
    field["ValueDetection"]["Text"] = text
    if confidence is not None:
        field["ValueDetection"]["Confidence"] = confidence
    return field


def test_a_logo_placeholder_read_as_vendor_name_loses_to_the_printed_name() -> None:
    # GIVEN the real response plus the "LOGO" VENDOR_NAME Textract also returns for template invoices
    # (East Repair in textractor's notebook), read more surely than the real name
    altered = copy.deepcopy(load("analyze_expense_receipt_mega_market.json"))
    summary = altered["ExpenseDocuments"][0]["SummaryFields"]
    summary.insert(0, _retyped(altered, "VENDOR_NAME", "LOGO", confidence=99.9))
    # WHEN it is normalized
    doc = normalize("invoice", [altered], threshold=80, locale="en_US", document_id="doc-1")
    # THEN the vendor is the printed name
    assert doc["fields"]["vendor_name"]["value"] == "MEGA MARKET PLUS"


def test_an_unambiguous_due_date_sets_the_day_month_order_of_the_invoice_date() -> None:
    # GIVEN an invoice dated 11/02/2019 and due 26/02/2019 (East Repair Inc.), read under en_US
    altered = copy.deepcopy(load("analyze_expense_receipt_mega_market.json"))
    summary = altered["ExpenseDocuments"][0]["SummaryFields"]
    invoice_date = _retyped(altered, "INVOICE_RECEIPT_DATE", "11/02/2019")
    due = _retyped(altered, "INVOICE_RECEIPT_DATE", "26/02/2019")
    due["Type"]["Text"] = "DUE_DATE"
    summary[:] = [f for f in summary if f["Type"]["Text"] != "INVOICE_RECEIPT_DATE"] + [invoice_date, due]
    # WHEN it is normalized
    doc = normalize("invoice", [altered], threshold=80, locale="en_US", document_id="doc-1")
    # THEN both dates are day-first: 11 February, not 2 November
    assert doc["fields"]["invoice_date"]["value"] == "2019-02-11"
    assert doc["fields"]["due_date"]["value"] == "2019-02-26"
    # AND without the due date the locale decides
    summary[:] = [f for f in summary if f["Type"]["Text"] != "DUE_DATE"]
    doc = normalize("invoice", [altered], threshold=80, locale="en_US", document_id="doc-1")
    assert doc["fields"]["invoice_date"]["value"] == "2019-11-02"
