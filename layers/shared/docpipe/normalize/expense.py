"""AnalyzeExpense output → fields, reconciled amounts and line items (shared by receipt and invoice)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from docpipe.normalize.common import (
    Candidate,
    Field,
    Kind,
    convert,
    currency_field,
    fill_currency,
    make_field,
    pick,
)
from docpipe.normalize.values import Money, decimal_text, shows_day_first, shows_decimal_comma
from docpipe.textract.blocks import ExpenseField, StreamStats, iter_expense_documents

# Amount types, in the order their currency is trusted for the whole document.
MONEY_TYPES = ("TOTAL", "AMOUNT_DUE", "AMOUNT_PAID", "SUBTOTAL", "TAX", "GRATUITY", "DISCOUNT", "SERVICE_CHARGE",
               "SHIPPING_HANDLING_CHARGE")
_TOLERANCE = Decimal("0.02")
# Labels of a "total" that is not the grand total, and of one that surely is.
_PARTIAL_LABEL = re.compile(r"SUB|\bITEMS?\b|SAVING|DISCOUNT|BEFORE|EXCL|\bNET\b|\bTAX\b|\bQTY\b|\bPOINTS?\b")
_GRAND_LABEL = re.compile(r"GRAND|BALANCE|AMOUNT DUE|TOTAL DUE|TO PAY|INCL|PAYABLE")
# What a printed label says an amount is, whatever Type Textract gave it ("Total Paid" comes back as a
# TOTAL, "AMOUNT YOU OWE" as OTHER): money handed over, or money still owed.
_PAID_LABEL = re.compile(r"\bPAID\b|\bTENDER(?:ED)?\b|\bCHARGED\b|^AMOUNT:?$")
_DUE_LABEL = re.compile(r"^(?!.*\b(?:PREVIOUS|PRIOR|LAST|OPENING|FORWARD|BROUGHT)\b)"
                        r".*(?:\bBALANCE\b|\bAMOUNT DUE\b|\bTOTAL DUE\b|\bDUE NOW\b|\bYOU OWE\b|\bOWING\b|"
                        r"\bPLEASE PAY\b|\bPAY THIS AMOUNT\b)")
# The label of a date that dates the transaction itself, when Textract typed it OTHER ("Date of Visit",
# "Transaction Date", "Date:") — not a birth, due, expiry or delivery date.
TRANSACTION_DATE_LABEL = re.compile(
    r"^(?!.*\b(?:BIRTH|DOB|DUE|EXP|EXPIRY|EXPIRES|EXPIRATION|VALID|DELIVERY|SHIP|SHIPPED|START|END|PRINTED)\b)"
    r".*\bDATED?\b",
    re.IGNORECASE,
)

PLACEHOLDER_NAMES = frozenset({"LOGO", "YOUR LOGO", "COMPANY LOGO", "LOGO HERE", "YOUR COMPANY", "COMPANY NAME",
                               "YOUR COMPANY NAME", "YOUR LOGO HERE"})

_PAYMENT_METHODS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), name) for p, name in (
    (r"\bVISA\b", "VISA"), (r"\bMASTER ?CARD\b", "MASTERCARD"), (r"\bAMEX\b|\bAMERICAN EXPRESS\b", "AMEX"),
    (r"\bDISCOVER\b", "DISCOVER"), (r"\bDINERS\b", "DINERS CLUB"), (r"\bJCB\b", "JCB"),
    (r"\bUNION ?PAY\b", "UNIONPAY"), (r"\bMAESTRO\b", "MAESTRO"), (r"\bEFTPOS\b", "EFTPOS"),
    (r"\bINTERAC\b", "INTERAC"), (r"\bM-?PESA\b", "M-PESA"), (r"\bAPPLE ?PAY\b", "APPLE PAY"),
    (r"\bGOOGLE ?PAY\b", "GOOGLE PAY"), (r"\bPAYPAL\b", "PAYPAL"), (r"\bGIFT ?CARD\b", "GIFT CARD"),
    (r"\bDEBIT\b", "DEBIT CARD"), (r"\bCREDIT ?CARD\b", "CREDIT CARD"),
    (r"\bCASH\b(?! ?BACK| ?REGISTER| ?REWARDS?)", "CASH"), (r"\bCHEQUE\b|\bPAID BY CHECK\b", "CHECK"),
))


def payment_method_in(text: str) -> str | None:
    """The payment method a text names ('**** VISA 3433' → 'VISA'), or None."""
    upper = " ".join(text.upper().split())
    for pattern, name in _PAYMENT_METHODS:
        if pattern.search(upper):
            return name
    return None


@dataclass(frozen=True, slots=True)
class Selector:
    """Summary fields of one Type, optionally only those in a group (VENDOR, RECEIVER_BILL_TO, …) or whose
    printed label matches a pattern (an OTHER field labelled "Date of Visit")."""

    type: str
    group: str | None = None
    label: re.Pattern[str] | None = None

    def matches(self, item: ExpenseField) -> bool:
        return (item.type == self.type and (self.group is None or any(g.startswith(self.group) for g in item.groups))
                and (self.label is None or self.label.search(item.label or "") is not None))


@dataclass
class ExpenseData:
    """What one pass over an AnalyzeExpense stream keeps: the fields, not the blocks."""

    stats: StreamStats
    summary: list[ExpenseField] = field(default_factory=list)
    line_items: list[tuple[ExpenseField, ...]] = field(default_factory=list)
    payment_lines: list[Candidate] = field(default_factory=list)
    documents: int = 0

    @property
    def day_first(self) -> bool | None:
        """The day/month order the document's own dates show (26/02/2019 makes 11/02/2019 11 February)."""
        return shows_day_first([f.value for f in self.summary if "DATE" in f.type])


def collect(responses: Iterable[Mapping[str, Any]]) -> ExpenseData:
    """Read the stream once, keeping summary fields, line items and lines that name a payment method."""
    data = ExpenseData(StreamStats())
    for expense in iter_expense_documents(responses, data.stats):
        data.documents += 1
        data.summary.extend(expense.summary_fields)
        data.line_items.extend(expense.line_items)
        for line in expense.lines:
            method = payment_method_in(line.text)
            if method:
                data.payment_lines.append(Candidate(method, line.confidence, line.page, "LINE"))
    return data


def source_of(item: ExpenseField) -> str:
    """'TOTAL', or 'NAME[VENDOR]' for the generic types that only mean something with their group."""
    if item.groups and item.type in ("NAME", "ADDRESS", "ADDRESS_BLOCK", "STREET", "CITY", "STATE", "ZIP_CODE"):
        return f"{item.type}[{item.groups[0]}]"
    return item.type


def candidate(item: ExpenseField) -> Candidate:
    return Candidate(item.value, item.confidence, item.page, source_of(item), item.currency, item.label)


def _placeholder(kind: Kind, text: str) -> bool:
    """A template's stand-in where a name goes: Textract reads the word "LOGO" as a VENDOR_NAME."""
    return kind == "name" and " ".join(text.upper().split()) in PLACEHOLDER_NAMES


def text_field(data: ExpenseData, kind: Kind, tiers: Sequence[Sequence[Selector]], locale: str) -> Field | None:
    """The best summary field of the first tier that has one."""
    day_first = data.day_first if kind == "date" else None
    for tier in tiers:
        found = pick(convert(kind, candidate(f), locale, day_first=day_first)[0]
                     for f in data.summary if any(s.matches(f) for s in tier) and not _placeholder(kind, f.value))
        if found is not None:
            return found
    return None


# A document date whose label Textract kept inside another field's value, e.g. an OTHER field
# "ACCOUNT SUMMARY" = "Statement Date 09/30/10 Date(s) of Service 07/31/10 - 08/02/10".
_EMBEDDED_DOCUMENT_DATE = re.compile(
    r"\b(?:STATEMENT|INVOICE|BILL(?:ING)?)\s+DATE\s*:?\s*(\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4})\b", re.IGNORECASE)


def embedded_document_date(data: ExpenseData, locale: str) -> Field | None:
    """The statement/invoice/bill date printed, label and all, inside another summary field's value."""
    day_first = data.day_first
    return pick(
        convert("date", Candidate(found.group(1), item.confidence, item.page, f"{source_of(item)}:embedded"),
                locale, day_first=day_first)[0]
        for item in data.summary
        for found in [_EMBEDDED_DOCUMENT_DATE.search(item.value or "")] if found
    )


def payment_field(data: ExpenseData, locale: str) -> Field | None:
    """The payment method named by a summary field (label or value) or a line of the document."""
    named = []
    for item in data.summary:
        method = payment_method_in(f"{item.label or ''} {item.value}")
        if method:
            named.append(Candidate(method, item.confidence, item.page, source_of(item)))
    return pick(convert("text", c, locale)[0] for c in [*named, *data.payment_lines])


@dataclass(frozen=True, slots=True)
class _Amount:
    field: Field
    money: Money | None
    code: str | None
    label: str

    @property
    def value(self) -> Decimal:
        assert self.money is not None
        return self.money.amount


def _close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= _TOLERANCE


def _distinct(amounts: list[_Amount]) -> list[_Amount]:
    """Readable amounts, one per value (the most confident reading of each)."""
    by_value: dict[Decimal, _Amount] = {}
    for amount in amounts:
        if amount.money is None:
            continue
        old = by_value.get(amount.value)
        if old is None or amount.field["confidence"] > old.field["confidence"]:
            by_value[amount.value] = amount
    return list(by_value.values())


def _value(field_: Field | None) -> Decimal | None:
    return Decimal(field_["value"]) if field_ is not None and field_["value"] is not None else None


def _reconcile(chosen: dict[str, Field | None], found: dict[str, list[_Amount]]) -> None:
    """Decide between several TOTALs (and TAXes) using subtotal + tax + tip ≈ total and amount paid/due.

    The grand total wins over a "Total" that is really a subtotal; such a total becomes the subtotal
    when the document has none.
    """
    totals = _distinct(found["TOTAL"])
    taxes = _distinct(found["TAX"])
    subtotal = _value(chosen["SUBTOTAL"])
    tip = _value(chosen["GRATUITY"]) or Decimal(0)
    discount = abs(_value(chosen["DISCOUNT"]) or Decimal(0))
    charges = sum((_value(chosen[t]) or Decimal(0) for t in ("SERVICE_CHARGE", "SHIPPING_HANDLING_CHARGE")), Decimal(0))
    tax_options = [_value(chosen["TAX"]) or Decimal(0)]
    if len(taxes) > 1:
        tax_options.append(sum((t.value for t in taxes), Decimal(0)))

    def most_confident(pool: list[_Amount]) -> _Amount:
        return max(pool, key=lambda a: a.field["confidence"])

    if len(totals) > 1:
        winner = None
        if subtotal is not None:
            for tax in tax_options:
                matches = [t for t in totals if _close(t.value, subtotal - discount + tax + tip + charges)]
                if matches:
                    winner = most_confident(matches)
                    break
        if winner is None:
            # What was paid, else what is owed; a zero (a balance after payment) says nothing of the total.
            settled = [v for v in (_value(chosen["AMOUNT_PAID"]), _value(chosen["AMOUNT_DUE"])) if v]
            matches = [t for t in totals if any(_close(t.value, s) for s in settled)]
            winner = most_confident(matches) if matches else None
        if winner is None:
            grand = [t for t in totals if _GRAND_LABEL.search(t.label) and t.value != 0]
            plain = [t for t in totals if not _PARTIAL_LABEL.search(t.label)]
            winner = max(grand or plain or totals, key=lambda a: a.value)
        chosen["TOTAL"] = winner.field
        if subtotal is None:
            for other in sorted(totals, key=lambda a: -a.field["confidence"]):
                if other is not winner and other.value < winner.value and any(
                    _close(other.value - discount + tax + tip + charges, winner.value) for tax in tax_options
                ):
                    chosen["SUBTOTAL"] = {**other.field, "source": f"{other.field['source']} (as subtotal)"}
                    subtotal = other.value
                    break
    total = _value(chosen["TOTAL"])
    if len(taxes) > 1 and total is not None and subtotal is not None:
        target = total - subtotal + discount - tip - charges
        single = [t for t in taxes if _close(t.value, target)]
        if single:
            chosen["TAX"] = most_confident(single).field
        elif _close(sum((t.value for t in taxes), Decimal(0)), target):
            first = most_confident(taxes).field
            chosen["TAX"] = make_field(
                decimal_text(sum((t.value for t in taxes), Decimal(0))), min(t.field["confidence"] for t in taxes),
                first["page"], f"TAX (sum of {len(taxes)})", currency=first.get("currency"),
            )


def label_type(type_: str, label: str) -> str | None:
    """The amount Type a TOTAL or OTHER field's printed label names, when it is not its own Type:
    "Total Paid" → AMOUNT_PAID, "Balance" / "AMOUNT YOU OWE" → AMOUNT_DUE."""
    if type_ not in ("TOTAL", "OTHER"):
        return None
    if _PAID_LABEL.search(label):
        return "AMOUNT_PAID"
    if _DUE_LABEL.search(label):
        return "AMOUNT_DUE"
    return None


def amounts(data: ExpenseData, locale: str) -> tuple[dict[str, Field | None], Field | None, bool | None]:
    """Best field per amount Type after reconciliation, the document currency, and the decimal-comma evidence."""
    money_texts = [f.value for f in data.summary if f.type in MONEY_TYPES]
    money_texts += [f.value for item in data.line_items for f in item if f.type in ("PRICE", "UNIT_PRICE")]
    comma = shows_decimal_comma(money_texts)
    found: dict[str, list[_Amount]] = {t: [] for t in MONEY_TYPES}
    by_label: dict[str, list[_Amount]] = {"AMOUNT_PAID": [], "AMOUNT_DUE": []}
    for item in data.summary:
        if item.type not in found and item.type != "OTHER":
            continue
        converted, money = convert("money", candidate(item), locale, comma_decimal=comma)
        if converted is None:
            continue
        label = " ".join((item.label or "").upper().split())
        if item.type in found:
            found[item.type].append(_Amount(converted, money, item.currency, label))
        routed = label_type(item.type, label)
        if routed and money is not None:
            source = f"{converted['source']} [{item.label}]"
            by_label[routed].append(_Amount({**converted, "source": source}, money, item.currency, label))
    for type_, labelled in by_label.items():  # Textract's own Type, when it gave one, comes first
        if not found[type_]:
            found[type_] = labelled
    chosen: dict[str, Field | None] = {t: pick(a.field for a in found[t]) for t in MONEY_TYPES}
    _reconcile(chosen, found)
    evidence = [(a.field, a.money, a.code) for t in MONEY_TYPES for a in found[t]]
    for line_item in data.line_items:  # line-item prices count too, after every summary amount
        for part in line_item:
            if part.type in ("PRICE", "UNIT_PRICE"):
                converted, money = convert("money", candidate(part), locale, comma_decimal=comma)
                if converted is not None:
                    evidence.append((converted, money, part.currency))
    currency = currency_field(evidence, locale)
    for value in chosen.values():
        fill_currency(value, currency)
    return chosen, currency, comma


def line_items(
    data: ExpenseData, locale: str, comma: bool | None, currency: Field | None
) -> tuple[list[dict[str, Field]], list[str]]:
    """Line items as {description, quantity, unit_price, amount}; reasons for parts that could not be read."""
    items: list[dict[str, Field]] = []
    unreadable: list[str] = []
    parts: tuple[tuple[str, Kind, tuple[str, ...]], ...] = (
        ("description", "name", ("ITEM",)), ("quantity", "quantity", ("QUANTITY",)),
        ("unit_price", "money", ("UNIT_PRICE",)), ("amount", "money", ("PRICE",)),
    )
    for fields in data.line_items:
        record: dict[str, Field] = {}
        for name, kind, types in parts:
            found = pick(convert(kind, candidate(f), locale, comma_decimal=comma)[0] for f in fields if f.type in types)
            if found is None and name == "description":
                found = pick(convert("name", candidate(f), locale)[0] for f in fields if f.type == "EXPENSE_ROW")
            if found is not None:
                if kind == "money":
                    fill_currency(found, currency)
                record[name] = found
        if not record:
            continue
        for name, value in record.items():
            if value["value"] is None:
                unreadable.append(f"line_items[{len(items)}].{name} could not be parsed")
        items.append(record)
    return items, unreadable
