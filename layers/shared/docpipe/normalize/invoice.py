"""Invoices, from AnalyzeExpense output."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from docpipe.normalize.common import Field, Kind, document, present, review
from docpipe.normalize.expense import (
    TRANSACTION_DATE_LABEL,
    Selector,
    amounts,
    collect,
    embedded_document_date,
    line_items,
    text_field,
)

FIELDS = ("vendor_name", "vendor_address", "invoice_number", "invoice_date", "due_date", "po_number", "bill_to",
          "currency", "subtotal", "tax", "total", "amount_due")
REQUIRED = (("total", "amount_due"), ("invoice_number",))

_TEXT: dict[str, tuple[Kind, list[list[Selector]]]] = {
    "vendor_name": ("name", [[Selector("VENDOR_NAME"), Selector("NAME", "VENDOR")]]),
    "vendor_address": ("address", [[Selector("VENDOR_ADDRESS"), Selector("ADDRESS", "VENDOR")],
                                   [Selector("ADDRESS_BLOCK", "VENDOR")]]),
    "invoice_number": ("id", [[Selector("INVOICE_RECEIPT_ID")]]),
    "invoice_date": ("date", [[Selector("INVOICE_RECEIPT_DATE")], [Selector("ORDER_DATE")],
                                [Selector("OTHER", label=TRANSACTION_DATE_LABEL)]]),
    "due_date": ("date", [[Selector("DUE_DATE")]]),
    "po_number": ("id", [[Selector("PO_NUMBER")]]),
}
# Who is billed: the bill-to name, else the bill-to address block.
_BILL_TO_NAME = [[Selector("NAME", "RECEIVER_BILL_TO"), Selector("RECEIVER_NAME")]]
_BILL_TO_ADDRESS = [[Selector("ADDRESS_BLOCK", "RECEIVER_BILL_TO"), Selector("ADDRESS", "RECEIVER_BILL_TO"),
                     Selector("RECEIVER_ADDRESS")]]
_MONEY = {"subtotal": "SUBTOTAL", "tax": "TAX", "total": "TOTAL", "amount_due": "AMOUNT_DUE"}


def normalize_invoice(
    responses: Iterable[Mapping[str, Any]], *, threshold: float, locale: str, document_id: str
) -> dict[str, Any]:
    """An invoice: vendor, number, dates, bill-to, amounts reconciled with the amount due, line items."""
    data = collect(responses)
    found: dict[str, Field | None] = {
        name: text_field(data, kind, tiers, locale) for name, (kind, tiers) in _TEXT.items()
    }
    found["invoice_date"] = found["invoice_date"] or embedded_document_date(data, locale)
    found["bill_to"] = text_field(data, "name", _BILL_TO_NAME, locale) or text_field(
        data, "address", _BILL_TO_ADDRESS, locale)
    chosen, currency, comma = amounts(data, locale)
    found.update({name: chosen[type_] for name, type_ in _MONEY.items()})
    found["currency"] = currency
    fields = present(found, FIELDS)
    items, unreadable = line_items(data, locale, comma, currency)
    return document("invoice", document_id, data.stats.page_count, fields,
                    review(fields, REQUIRED, threshold, unreadable=unreadable), line_items=items)
