"""Identity documents (driver licenses, ID cards, passports).

From AnalyzeID (IdentityDocumentFields, one document per input page), or from AnalyzeDocument FORMS
for documents AnalyzeID cannot take (multi-page PDFs): form keys are matched by what they say
('DOB', 'Last Name', '4d NUMBER'), and on a driver license by their AAMVA field numbers
(1 family name, 2 given names, 3 date of birth, 4a issue, 4b expiry, 4d number, 8 address).
Names are reported as the document labels them. An honest first mapping, hardened later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from itertools import pairwise
from typing import Any

from docpipe.normalize.common import (
    BestFields,
    Candidate,
    Field,
    Kind,
    convert,
    document,
    key_text,
    make_field,
    review,
)
from docpipe.textract.blocks import (
    NOT_SELECTED,
    SELECTED,
    IdentityDocument,
    PageBlocks,
    PageGrouper,
    StreamStats,
    identity_documents,
)

FIELDS: dict[str, Kind] = {
    "id_type": "text", "document_number": "text", "first_name": "name", "last_name": "name", "middle_name": "name",
    "date_of_birth": "date", "date_of_issue": "date", "expiration_date": "date", "address": "address",
    "state": "text", "country": "text",
}
REQUIRED = (("document_number",), ("last_name",))

_ANALYZE_ID = {
    "ID_TYPE": "id_type", "DOCUMENT_NUMBER": "document_number", "FIRST_NAME": "first_name",
    "LAST_NAME": "last_name", "MIDDLE_NAME": "middle_name", "DATE_OF_BIRTH": "date_of_birth",
    "DATE_OF_ISSUE": "date_of_issue", "EXPIRATION_DATE": "expiration_date", "STATE_NAME": "state",
}
_ADDRESS_PARTS = ("ADDRESS", "CITY_IN_ADDRESS", "STATE_IN_ADDRESS", "ZIP_CODE_IN_ADDRESS")

_KEYS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), name) for p, name in (
    (r"^((document|dl|driver license|license|licence|passport|id|card|identity card) )?(number|no|#)$|^(dln|lic no)$",
     "document_number"),
    (r"^(last name|surname|family name|ln|last)$", "last_name"),
    (r"^(first name|given names?|fn|first)$", "first_name"),
    (r"^(middle name|middle initial|mi)$", "middle_name"),
    (r"^(dob|date of birth|birth date|birthdate|born)$", "date_of_birth"),
    (r"^(iss|issued|issue date|date of issue|issue)$", "date_of_issue"),
    (r"^(exp|expires|expiry|expiration|expiration date|date of expiry|expiry date|valid until)$", "expiration_date"),
    (r"^(address|addr|residence|residential address)$", "address"),
    (r"^(state|province)$", "state"),
    (r"^(country|issuing country|country of issue|country code)$", "country"),
))
_AAMVA = {"1": "last_name", "2": "first_name", "3": "date_of_birth", "4a": "date_of_issue",
          "4b": "expiration_date", "4d": "document_number", "8": "address"}
_AAMVA_CODE = re.compile(r"^(\d{1,2}[a-z]?)(?: (.*))?$")
_LICENSE_TEXT = re.compile(r"\bDRIVER'?S? LICEN[CS]E\b|\bDRIVING LICEN[CS]E\b|\bIDENTIFICATION CARD\b|\bID CARD\b")
_ID_TYPES = (
    (re.compile(r"\bDRIVER'?S? LICEN[CS]E\b|\bDRIVING LICEN[CS]E\b"), "DRIVER LICENSE"),
    (re.compile(r"\bPASSPORT\b"), "PASSPORT"),
    (re.compile(r"\bIDENTIFICATION CARD\b|\bIDENTITY CARD\b|\bID CARD\b"), "ID CARD"),
)


def id_type_of(text: str) -> str:
    """The kind of document an ID type names, in one vocabulary whichever API read it: AnalyzeID's
    'DRIVER LICENSE FRONT' and a card headed 'DRIVER LICENSE' are both 'DRIVER LICENSE'."""
    upper = " ".join(text.upper().split())
    named = next((t for pattern, t in _ID_TYPES if pattern.search(upper)), None)
    return named or re.sub(r"\s+(?:FRONT|BACK)$", "", upper)


def as_analyze_id(response: Mapping[str, Any]) -> Mapping[str, Any]:
    """An AnalyzeID result kept as one document's fields at the top level (the layout the AnalyzeID guide
    prints, and how a single document is often stored) read as that response's document 1."""
    if "IdentityDocuments" in response or not isinstance(response.get("IdentityDocumentFields"), list):
        return response
    document = {"DocumentIndex": 1, "IdentityDocumentFields": response["IdentityDocumentFields"]}
    return {**response, "IdentityDocuments": [document]}


def field_for_key(key: str, license_like: bool) -> str | None:
    """The identity field a form key names; AAMVA numbers ('1', '4d NUMBER') count on license-like pages."""
    text = key_text(key)
    coded = _AAMVA_CODE.match(text)
    if coded:
        code, rest = coded.group(1), coded.group(2)
        if rest:
            named = field_for_key(rest, False)
            if named:
                return named
        return _AAMVA.get(code) if license_like else None
    return next((name for pattern, name in _KEYS if pattern.search(text)), None)


def _mrz_country(mrz: str) -> str | None:
    """The issuing state of a passport/ID MRZ ('P<USA…' → 'USA', ISO 3166-1 alpha-3)."""
    first = mrz.strip().splitlines()[0].replace(" ", "") if mrz.strip() else ""
    code = first[2:5].replace("<", "")
    return code if first[:1] in ("P", "I", "A", "C") and re.fullmatch(r"[A-Z]{3}", code) else None


class _Reader:
    """Single pass state: the best candidate per field, birth dates kept raw until the issue date is known."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.best = BestFields()
        self.births: list[Candidate] = []
        self.type_from_text: Field | None = None

    def offer(self, name: str, cand: Candidate) -> None:
        if name == "date_of_birth":
            self.births.append(cand)
        else:
            self.best.offer(name, convert(FIELDS[name], cand, self.locale)[0])

    def analyze_id(self, found: IdentityDocument) -> None:
        by_type = {f.type: f for f in found.fields}
        for item in found.fields:
            name = _ANALYZE_ID.get(item.type)
            if name:
                text = id_type_of(item.value) if name == "id_type" else item.normalized or item.value
                self.offer(name, Candidate(text, item.confidence, item.page, item.type))
        if "state" not in self.best.fields and "STATE_IN_ADDRESS" in by_type:
            item = by_type["STATE_IN_ADDRESS"]
            self.offer("state", Candidate(item.value, item.confidence, item.page, item.type))
        parts = [by_type[p] for p in _ADDRESS_PARTS if p in by_type]
        if parts and parts[0].type == "ADDRESS":
            street = ", ".join(p.value for p in parts if p.type in ("ADDRESS", "CITY_IN_ADDRESS"))
            region = " ".join(p.value for p in parts if p.type in ("STATE_IN_ADDRESS", "ZIP_CODE_IN_ADDRESS"))
            self.offer("address", Candidate(", ".join(x for x in (street, region) if x),
                                            min(p.confidence for p in parts), parts[0].page,
                                            "+".join(p.type for p in parts)))
        if "MRZ_CODE" in by_type:
            country = _mrz_country(by_type["MRZ_CODE"].value)
            if country:
                item = by_type["MRZ_CODE"]
                self.offer("country", Candidate(country, item.confidence, item.page, "MRZ_CODE"))

    def forms(self, page: PageBlocks) -> None:
        lines = page.lines()
        upper = " ".join(line.text.upper() for line in lines)
        license_like = _LICENSE_TEXT.search(upper) is not None
        for kv in page.key_values():
            name = field_for_key(kv.key, license_like)
            if name and kv.value and kv.value not in (SELECTED, NOT_SELECTED):
                self.offer(name, Candidate(kv.value, kv.confidence, kv.page, f"KEY:{' '.join(kv.key.split())}"))
        for answer in page.query_answers():
            alias = re.sub(r"[\s\-]+", "_", answer.alias.strip().lower())
            if alias in FIELDS:
                self.offer(alias, Candidate(answer.text, answer.confidence, answer.page, f"QUERY:{answer.alias}"))
        # The document's own title ('DRIVER LICENSE', often set over two lines), for when AnalyzeID did not run.
        spans = [(line.text, line.confidence) for line in lines]
        spans += [(f"{a.text} {b.text}", min(a.confidence, b.confidence)) for a, b in pairwise(lines)]
        for text, confidence in spans:
            id_type = next((t for pattern, t in _ID_TYPES if pattern.search(text.upper())), None)
            if id_type:
                found = make_field(id_type, confidence, page.number, "LINE")
                if self.type_from_text is None or found["confidence"] > self.type_from_text["confidence"]:
                    self.type_from_text = found

    def fields(self) -> dict[str, Field]:
        issued = self.best.fields.get("date_of_issue")
        # A two-digit birth year lies before the issue date (or today, when the document shows none).
        limit = date.fromisoformat(issued["value"]) if issued and issued["value"] else date.today()
        for cand in self.births:
            self.best.offer("date_of_birth", convert("date", cand, self.locale, not_after=limit)[0])
        if "id_type" not in self.best.fields and self.type_from_text is not None:
            self.best.fields["id_type"] = self.type_from_text
        return {name: self.best.fields[name] for name in FIELDS if name in self.best.fields}


def normalize_identity(
    responses: Iterable[Mapping[str, Any]], *, threshold: float, locale: str, document_id: str
) -> dict[str, Any]:
    """Identity fields from AnalyzeID, or from FORMS; NEEDS_REVIEW without a confident number and last name."""
    stats = StreamStats()
    grouper = PageGrouper(stats)
    reader = _Reader(locale)
    for response in responses:
        for found in identity_documents(as_analyze_id(response), stats):
            reader.analyze_id(found)
        for page in grouper.feed(response):
            reader.forms(page)
    for page in grouper.finish():
        reader.forms(page)
    fields = reader.fields()
    return document("identity", document_id, stats.page_count, fields, review(fields, REQUIRED, threshold))
