"""Pieces every normalizer shares: field records, choosing among candidates, currency, review."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from docpipe.normalize.values import (
    Money,
    clean_address,
    clean_identifier,
    clean_name,
    decimal_text,
    locale_currency,
    parse_date,
    parse_money,
    parse_quantity,
)

SCHEMA_VERSION = "1"
Field = dict[str, Any]
Kind = Literal["text", "id", "name", "address", "date", "money", "quantity"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A value as Textract read it, before interpretation."""

    text: str
    confidence: float
    page: int
    source: str
    currency: str | None = None  # Textract's own Currency.Code, for expense amounts
    label: str | None = None


def make_field(value: Any, confidence: float, page: int, source: str, **extra: Any) -> Field:
    """A normalized field record; `extra` entries that are None are left out."""
    record: Field = {"value": value, "confidence": round(float(confidence), 2), "page": int(page), "source": source}
    record.update({k: v for k, v in extra.items() if v is not None})
    return record


def currency_from(money: Money, textract_code: str | None) -> tuple[str | None, int]:
    """The currency one amount shows, and how strong the evidence is (lower is stronger).

    1: an ISO code or an unambiguous symbol in the text ('€', 'NZ$', 'KES'); 2: Textract's own
    Currency.Code; 3: a bare '$' or 'Rs', read as the locale's dollar or rupee (USD or INR when the
    locale has none).
    """
    if money.currency_evidence in ("code", "symbol"):
        return money.currency, 1
    if textract_code:
        return textract_code.upper(), 2
    if money.currency_evidence == "shared":
        return money.currency, 3
    return None, 9


def convert(
    kind: Kind, candidate: Candidate, locale: str, *, comma_decimal: bool | None = None,
    not_after: date | None = None, day_first: bool | None = None,
) -> tuple[Field | None, Any]:
    """Interpret a candidate as `kind`: (field, parsed value). An unreadable value keeps its text in `raw`
    with value None; an empty one gives (None, None)."""
    text = candidate.text.strip()
    base = (candidate.confidence, candidate.page, candidate.source)
    if kind in ("text", "name"):
        value = clean_name(text)
        return (make_field(value, *base), value) if value else (None, None)
    if kind == "id":
        value = clean_identifier(text)
        return (make_field(value, *base), value) if value else (None, None)
    if kind == "address":
        value = clean_address(text)
        return (make_field(value, *base), value) if value else (None, None)
    if not text:
        return None, None
    if kind == "date":
        parsed = parse_date(text, locale, not_after=not_after, day_first_evidence=day_first)
        if parsed is None:
            return make_field(None, *base, raw=text), None
        return make_field(parsed.isoformat(), *base), parsed
    if kind == "quantity":
        quantity = parse_quantity(text, locale)
        if quantity is None:
            return make_field(None, *base, raw=text), None
        return make_field(decimal_text(quantity), *base), quantity
    money = parse_money(text, locale, comma_decimal=comma_decimal)
    if money is None:
        return make_field(None, *base, raw=text), None
    currency, _ = currency_from(money, candidate.currency)
    return make_field(decimal_text(money.amount), *base, currency=currency), money


def better(new: Field | None, old: Field | None) -> bool:
    """Whether `new` beats `old`: a readable value beats an unreadable one, then confidence decides."""
    if new is None:
        return False
    if old is None:
        return True
    return (new["value"] is not None, new["confidence"]) > (old["value"] is not None, old["confidence"])


def pick(fields: Iterable[Field | None]) -> Field | None:
    """The best of several candidate fields (see `better`); the first wins a tie."""
    best: Field | None = None
    for field in fields:
        if better(field, best):
            best = field
    return best


class BestFields:
    """Keeps, per output field, only the best candidate seen so far (streaming, bounded memory)."""

    def __init__(self) -> None:
        self.fields: dict[str, Field] = {}

    def offer(self, name: str, field: Field | None) -> None:
        if field is not None and better(field, self.fields.get(name)):
            self.fields[name] = field


def currency_field(amounts: Sequence[tuple[Field, Money | None, str | None]], locale: str) -> Field | None:
    """The document currency from its amounts (most trusted first), else the locale's default.

    `amounts` are (field, parsed money, Textract Currency.Code) in priority order (TOTAL first).
    A locale default is recorded with confidence 0: nothing on the document supports it.
    """
    best: tuple[int, Field] | None = None
    for field, money, code in amounts:
        if money is None:
            continue
        currency, rank = currency_from(money, code)
        if currency and (best is None or rank < best[0]):
            evidence = {1: "text", 2: "Currency", 3: "symbol+locale"}[rank]
            best = (rank, make_field(currency, field["confidence"], field["page"], f"{field['source']}.{evidence}"))
    if best is not None:
        return best[1]
    default = locale_currency(locale)
    if default and any(money is not None for _, money, _ in amounts):
        return make_field(default, 0.0, 1, f"locale:{locale}")
    return None


def fill_currency(field: Field | None, currency: Field | None) -> None:
    """Give an amount without its own currency evidence the document currency."""
    if field is not None and field.get("value") is not None and "currency" not in field and currency is not None:
        field["currency"] = currency["value"]


def _floor1(value: float) -> str:
    return f"{math.floor(value * 10) / 10:.1f}"


def present(found: dict[str, Field | None], order: Iterable[str]) -> dict[str, Field]:
    """The fields that were found, in the docType's field order (absent ones omitted, never null)."""
    fields: dict[str, Field] = {}
    for name in order:
        value = found.get(name)
        if value is not None:
            fields[name] = value
    return fields


def review(
    fields: dict[str, Field],
    required: Sequence[tuple[str, ...]],
    threshold: float,
    extra: Iterable[str] = (),
    unreadable: Iterable[str] = (),
) -> dict[str, Any]:
    """SUCCEEDED, or NEEDS_REVIEW with reasons: a required field missing, unreadable or under the threshold.

    `required` lists alternatives: ("total", "amount_due") is satisfied by either. Reasons name
    fields and confidences, never field values.
    """
    reasons: list[str] = []
    reported: set[str] = set()
    for group in required:
        found = [fields[name] | {"name": name} for name in group if name in fields]
        readable = [f for f in found if f["value"] is not None]
        label = " or ".join(group)
        if not readable:
            reasons.append(f"{label} could not be parsed" if found else f"{label} missing")
            reported.update(group)
            continue
        top = max(readable, key=lambda f: f["confidence"])
        if top["confidence"] < threshold:
            reasons.append(f"{top['name']} confidence {_floor1(top['confidence'])} < {threshold:g}")
    for name, field in fields.items():
        if field["value"] is None and name not in reported:
            reasons.append(f"{name} could not be parsed")
    reasons.extend(unreadable)
    reasons.extend(extra)
    return {"status": "NEEDS_REVIEW" if reasons else "SUCCEEDED", "reasons": reasons}


def document(
    doc_type: str, document_id: str, pages: int, fields: dict[str, Field], review_: dict[str, Any],
    **extras: Any,
) -> dict[str, Any]:
    """The normalized output envelope every docType shares."""
    return {"schemaVersion": SCHEMA_VERSION, "documentId": document_id, "docType": doc_type, "pages": pages,
            "fields": fields, **extras, "review": review_}


def key_text(key: str) -> str:
    """A form key reduced for matching: 'Policy No.:' → 'policy no'; '4d NUMBER' → '4d number'."""
    return " ".join(re.sub(r"[^\w#/ ]+", " ", key.lower()).split())
