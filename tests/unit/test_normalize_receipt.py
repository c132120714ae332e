"""Receipts from real AnalyzeExpense responses: the values a person reads on the receipt."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from docpipe.errors import ConfigurationError
from docpipe.normalize import normalize, summarize, validate_output

TEXTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "textract"


def load(name: str) -> dict[str, Any]:
    return json.loads((TEXTRACT / name).read_text())


def values(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: field["value"] for name, field in doc["fields"].items()}


def test_mega_market_receipt() -> None:
    # GIVEN AWS's recorded AnalyzeExpense of receipt.jpg (MEGA MARKET PLUS, Chicago; printed: SUBTOTAL
    # $1699.96, TAX $110.50, TOTAL $1810.46, TEND $1810.46, TR# 21772, 12/07/2019, VISA, 4 items)
    response = load("analyze_expense_receipt_mega_market.json")
    # WHEN it is normalized as a receipt under en_US
    doc = normalize("receipt", [response], threshold=80, locale="en_US", document_id="doc-1")
    # THEN the fields are what the receipt says
    assert values(doc) == {
        "merchant_name": "MEGA MARKET PLUS", "merchant_phone": "800-532-2918", "receipt_number": "21772",
        "receipt_date": "2019-12-07", "currency": "USD", "subtotal": "1699.96", "tax": "110.50",
        "total": "1810.46", "amount_paid": "1810.46", "payment_method": "VISA",
    }
    assert doc["fields"]["total"]["currency"] == "USD" and doc["fields"]["total"]["page"] == 1
    assert doc["fields"]["total"]["source"] == "TOTAL"
    assert 99 < doc["fields"]["total"]["confidence"] <= 100
    # AND no address is invented (Textract returned none for this receipt), no tip either
    assert "merchant_address" not in doc["fields"] and "tip" not in doc["fields"]
    # AND the four items with their printed prices
    assert [(i["description"]["value"], i["amount"]["value"]) for i in doc["line_items"]] == [
        ("LG FLATSCREEN 65", "899.99"), ("SONY VIAO I7 6938", "689.99"), ("6FT HDMI CABLE BB", "19.99"),
        ("APPLE TV V4", "89.99")]
    # AND it needs no review, has one page, and satisfies its schema
    assert doc["review"] == {"status": "SUCCEEDED", "reasons": []}
    assert doc["pages"] == 1 and doc["schemaVersion"] == "1" and doc["documentId"] == "doc-1"
    validate_output(doc)


def test_required_fields_under_the_threshold_send_it_to_review() -> None:
    # GIVEN the same receipt, whose TOTAL and date Textract read at ~99.9 confidence
    response = load("analyze_expense_receipt_mega_market.json")
    # WHEN the threshold is set above that
    doc = normalize("receipt", [response], threshold=99.95, locale="en_US", document_id="doc-1")
    # THEN it needs review, naming both required fields and their confidence (never their values)
    assert doc["review"]["status"] == "NEEDS_REVIEW"
    assert doc["review"]["reasons"] == ["total confidence 99.9 < 99.95", "receipt_date confidence 99.9 < 99.95"]
    assert "1810.46" not in " ".join(doc["review"]["reasons"])


def test_grand_total_wins_over_a_total_that_is_a_subtotal() -> None:
    # GIVEN the real receipt response with its SUBTOTAL field re-typed as TOTAL (as Textract does when a
    # receipt prints "TOTAL" above the tax line): two TOTAL candidates, $1699.96 and $1810.46, no SUBTOTAL
    response = load("analyze_expense_receipt_mega_market.json")
    altered = copy.deepcopy(response)
    for field in altered["ExpenseDocuments"][0]["SummaryFields"]:
        if field["Type"]["Text"] == "SUBTOTAL":
            field["Type"]["Text"] = "TOTAL"
    # WHEN it is normalized
    doc = normalize("receipt", [altered], threshold=80, locale="en_US", document_id="doc-1")
    # THEN the total is the grand total printed on the receipt (subtotal + tax), and the other is the subtotal
    assert doc["fields"]["total"]["value"] == "1810.46"
    assert doc["fields"]["subtotal"]["value"] == "1699.96"
    assert doc["review"]["status"] == "SUCCEEDED"
    validate_output(doc)


def test_receipt_without_summary_fields_goes_to_review_with_its_items() -> None:
    # GIVEN AnalyzeExpense of an itemised Philippine till roll with no total or date on the image
    response = load("analyze_expense_receipt_no_summary.json")
    # WHEN it is normalized under en_PH
    doc = normalize("receipt", [response], threshold=80, locale="en_PH", document_id="doc-2")
    # THEN total and date are reported missing
    assert doc["review"]["status"] == "NEEDS_REVIEW"
    assert doc["review"]["reasons"][:2] == ["total missing", "receipt_date missing"]
    # AND all 29 printed items are there; "2 X P21.50/Unit  43.00" reads as quantity, unit price, amount
    assert len(doc["line_items"]) == 29
    item = doc["line_items"][3]
    assert item["description"]["value"] == "J&JCHIZ CURLS 55G"
    assert (item["quantity"]["value"], item["unit_price"]["value"], item["amount"]["value"]) == ("2", "21.50", "43.00")
    # AND the currency, shown by no code or symbol, is the locale's, with no confidence claimed
    assert doc["fields"]["currency"] == {"value": "PHP", "confidence": 0.0, "page": 1, "source": "locale:en_PH"}
    assert item["amount"]["currency"] == "PHP"
    # AND a misread item part keeps its raw text and is listed for review
    garbled = doc["line_items"][27]
    assert garbled["description"]["value"].startswith("SWISSMISS")
    assert garbled["quantity"] == {**garbled["quantity"], "value": None, "raw": "to"}
    assert "line_items[27].quantity could not be parsed" in doc["review"]["reasons"]
    validate_output(doc)


def test_summary_is_small_and_scalar() -> None:
    # GIVEN the normalized MEGA MARKET receipt
    doc = normalize("receipt", [load("analyze_expense_receipt_mega_market.json")], threshold=80, locale="en_US",
                    document_id="doc-1")
    # WHEN it is summarized
    summary = summarize(doc)
    # THEN only value + confidence per field remain, no line items
    assert summary["total"] == {"value": "1810.46", "confidence": doc["fields"]["total"]["confidence"]}
    assert set(summary) == set(doc["fields"]) and all(set(v) == {"value", "confidence"} for v in summary.values())


def test_unknown_doc_type_is_a_typed_error() -> None:
    # GIVEN a docType no normalizer handles WHEN normalize is asked THEN a named docpipe error, not a crash
    with pytest.raises(ConfigurationError) as raised:
        normalize("payslip", [], threshold=80, locale="en_US", document_id="doc-1")
    assert raised.value.code == "CONFIGURATION_ERROR" and "payslip" in raised.value.message


def _summary(type_: str, value: str, label: str | None = None, confidence: float = 95.0) -> dict[str, Any]:
    """One AnalyzeExpense SummaryField as Textract returns it (geometry left out)."""
    field: dict[str, Any] = {"Type": {"Text": type_, "Confidence": 70.0}, "PageNumber": 1,
                             "ValueDetection": {"Text": value, "Confidence": confidence}}
    if label is not None:
        field["LabelDetection"] = {"Text": label, "Confidence": confidence}
    return field


def _expense(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"DocumentMetadata": {"Pages": 1}, "ExpenseDocuments": [{"ExpenseIndex": 1, "SummaryFields": list(fields)}]}


def test_a_paid_receipt_totals_what_was_paid_not_the_zero_balance() -> None:
    # GIVEN a clinic receipt whose amounts Textract all typed TOTAL: charges, paid, and the balance left
    response = _expense(
        _summary("VENDOR_NAME", "Demo Clinic"),
        _summary("TOTAL", "$60.00", "Total Charges"),
        _summary("TOTAL", "$60.00", "Total Paid"),
        _summary("TOTAL", "$0.00", "Balance"),
        _summary("INVOICE_RECEIPT_ID", "Invoice #1258", "Invoice #"),
        _summary("OTHER", "March 12, 2019", "Date of Visit"),
    )
    # WHEN it is normalized as a receipt
    doc = normalize("receipt", [response], threshold=80, locale="en_US", document_id="doc-1")
    fields = values(doc)
    # THEN the total is what was charged and paid; the zero balance is not the total
    assert fields["total"] == "60.00" and fields["amount_paid"] == "60.00"
    assert doc["fields"]["amount_paid"]["source"] == "TOTAL [Total Paid]"
    # AND the number is the number, without the label read into it
    assert fields["receipt_number"] == "1258"
    # AND the visit date, which Textract typed OTHER, dates the receipt
    assert fields["receipt_date"] == "2019-03-12"
    assert doc["fields"]["receipt_date"]["source"] == "OTHER"
    validate_output(doc)


def test_an_amount_labelled_on_the_card_slip_is_the_amount_paid() -> None:
    # GIVEN a store receipt with the card slip's "AMOUNT:" typed TOTAL next to the printed total
    response = _expense(
        _summary("SUBTOTAL", "38.48", "SUBTOTAL"),
        _summary("TAX", "0.00", "TAX"),
        _summary("OTHER", "38.48", "**** TOTAL"),
        _summary("TOTAL", "$38.48", "AMOUNT:"),
        _summary("OTHER", "Visa", "Costco"),
    )
    # WHEN it is normalized
    doc = normalize("receipt", [response], threshold=80, locale="en_US", document_id="doc-1")
    # THEN the card amount is both the total and the amount paid
    fields = values(doc)
    assert (fields["total"], fields["amount_paid"], fields["payment_method"]) == ("38.48", "38.48", "VISA")


def test_dates_that_do_not_date_the_purchase_are_not_the_receipt_date() -> None:
    # GIVEN a receipt with no transaction date, only a birth date and an expiry typed OTHER
    response = _expense(
        _summary("TOTAL", "$60.00", "Total"),
        _summary("OTHER", "1953-12-02", "Date of Birth"),
        _summary("OTHER", "12/2027", "EXP. DATE"),
        _summary("OTHER", "01/05/17", "Service Dates"),
    )
    # WHEN it is normalized
    doc = normalize("receipt", [response], threshold=80, locale="en_US", document_id="doc-1")
    # THEN no receipt date is made up, and review says so
    assert "receipt_date" not in doc["fields"]
    assert "receipt_date missing" in doc["review"]["reasons"]


@pytest.mark.parametrize(("line", "expected"), [
    ("VISA ACCT 1850", "VISA"), ("CASH TEND 20.00", "CASH"),
    ("WALGREENS CASH REWARDS 0.50", None), ("CASH BACK 20.00", None),
])
def test_payment_method_reads_the_tender_not_a_loyalty_programme(line: str, expected: str | None) -> None:
    from docpipe.normalize.expense import payment_method_in

    assert payment_method_in(line) == expected
