"""Receipts, from AnalyzeExpense output."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from docpipe.normalize.common import Field, Kind, document, present, review
from docpipe.normalize.expense import (
    TRANSACTION_DATE_LABEL,
    Selector,
    amounts,
    collect,
    line_items,
    payment_field,
    text_field,
)

FIELDS = ("merchant_name", "merchant_address", "merchant_phone", "receipt_number", "receipt_date", "currency",
          "subtotal", "tax", "tip", "total", "amount_paid", "payment_method")
REQUIRED = (("total",), ("receipt_date",))

_TEXT: dict[str, tuple[Kind, list[list[Selector]]]] = {
    "merchant_name": ("name", [[Selector("VENDOR_NAME"), Selector("NAME", "VENDOR")]]),
    "merchant_address": ("address", [[Selector("VENDOR_ADDRESS"), Selector("ADDRESS", "VENDOR")],
                                     [Selector("ADDRESS_BLOCK", "VENDOR")]]),
    "merchant_phone": ("text", [[Selector("VENDOR_PHONE")]]),
    "receipt_number": ("id", [[Selector("INVOICE_RECEIPT_ID")]]),
    "receipt_date": ("date", [[Selector("INVOICE_RECEIPT_DATE")], [Selector("ORDER_DATE")],
                                [Selector("OTHER", label=TRANSACTION_DATE_LABEL)]]),
}
_MONEY = {"subtotal": "SUBTOTAL", "tax": "TAX", "tip": "GRATUITY", "total": "TOTAL", "amount_paid": "AMOUNT_PAID"}


def normalize_receipt(
    responses: Iterable[Mapping[str, Any]], *, threshold: float, locale: str, document_id: str
) -> dict[str, Any]:
    """A receipt: merchant, number, date, amounts reconciled (subtotal + tax + tip ≈ total), payment, items."""
    data = collect(responses)
    found: dict[str, Field | None] = {
        name: text_field(data, kind, tiers, locale) for name, (kind, tiers) in _TEXT.items()
    }
    chosen, currency, comma = amounts(data, locale)
    found.update({name: chosen[type_] for name, type_ in _MONEY.items()})
    found["currency"] = currency
    found["payment_method"] = payment_field(data, locale)
    fields = present(found, FIELDS)
    items, unreadable = line_items(data, locale, comma, currency)
    return document("receipt", document_id, data.stats.page_count, fields,
                    review(fields, REQUIRED, threshold, unreadable=unreadable), line_items=items)
