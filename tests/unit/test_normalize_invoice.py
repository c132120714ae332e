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


def _summary(type_: str, value: str, label: str | None = None) -> dict[str, Any]:
    """One AnalyzeExpense SummaryField as Textract returns it (geometry left out)."""
    field: dict[str, Any] = {"Type": {"Text": type_, "Confidence": 70.0}, "PageNumber": 1,
                             "ValueDetection": {"Text": value, "Confidence": 95.0}}
    if label is not None:
        field["LabelDetection"] = {"Text": label, "Confidence": 95.0}
    return field


def test_a_statement_amount_labelled_due_is_the_amount_due() -> None:
    # GIVEN a hospital statement: Textract typed "AMOUNT DUE" as TOTAL and "AMOUNT YOU OWE" as OTHER,
    # returned no AMOUNT_DUE, and dated it with a two-digit year
    response = {"ExpenseDocuments": [{"ExpenseIndex": 1, "SummaryFields": [
        _summary("INVOICE_RECEIPT_DATE", "01/13/17", "STATEMENT DATE"),
        _summary("DUE_DATE", "01/28/2017", "DUE DATE"),
        _summary("TOTAL", "$5,680.81", "Charges"),
        _summary("DISCOUNT", "$-1,136.16", "Adjustments"),
        _summary("TOTAL", "$4,544.65", "AMOUNT DUE"),
        _summary("OTHER", "$4,544.65", "AMOUNT YOU OWE"),
    ]}]}
    # WHEN it is normalized as an invoice
    doc = normalize("invoice", [response], threshold=80, locale="en_US", document_id="doc-1")
    # THEN the amount due is what the statement says is owed, the dates are the printed ones
    fields = {k: v["value"] for k, v in doc["fields"].items()}
    assert fields["amount_due"] == "4544.65" and fields["currency"] == "USD"
    assert (fields["invoice_date"], fields["due_date"]) == ("2017-01-13", "2017-01-28")
    validate_output(doc)


def test_an_invoice_date_typed_other_is_found_by_its_label_but_a_due_date_is_not() -> None:
    # GIVEN an invoice whose date Textract typed OTHER, next to a due date also typed OTHER
    response = {"ExpenseDocuments": [{"ExpenseIndex": 1, "SummaryFields": [
        _summary("INVOICE_RECEIPT_ID", "No. 0042", "Invoice"),
        _summary("TOTAL", "$100.00", "Total"),
        _summary("OTHER", "03/04/2022", "Due Date:"),
        _summary("OTHER", "02/04/2022", "Invoice Date:"),
    ]}]}
    # WHEN it is normalized
    doc = normalize("invoice", [response], threshold=80, locale="en_US", document_id="doc-1")
    # THEN the invoice date is the labelled one and the number is read without its label
    assert doc["fields"]["invoice_date"]["value"] == "2022-02-04"
    assert doc["fields"]["invoice_number"]["value"] == "0042"


def test_a_previous_balance_is_not_the_amount_due_and_textracts_own_type_comes_first() -> None:
    # GIVEN a bill with a previous balance typed OTHER and the amount due typed AMOUNT_DUE by Textract
    fields = [_summary("TOTAL", "$120.00", "New Charges"), _summary("OTHER", "$35.00", "Previous Balance")]
    response = {"ExpenseDocuments": [{"ExpenseIndex": 1, "SummaryFields": fields}]}
    # WHEN it is normalized with no amount due printed
    doc = normalize("invoice", [response], threshold=80, locale="en_US", document_id="doc-1")
    # THEN the previous balance is not taken for the amount due
    assert "amount_due" not in doc["fields"]
    # AND when Textract typed an AMOUNT_DUE, a "Balance" label does not outrank it
    fields += [_summary("OTHER", "$0.00", "Balance"), _summary("AMOUNT_DUE", "$155.00", "Please remit")]
    doc = normalize("invoice", [response], threshold=80, locale="en_US", document_id="doc-1")
    assert doc["fields"]["amount_due"]["value"] == "155.00"
