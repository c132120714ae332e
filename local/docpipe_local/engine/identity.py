"""AnalyzeID: identity document fields read by label proximity; fields not found are omitted.

Labels are found on the page (DOB, EXP, Surname, ...); on US driver's licenses the AAMVA card
design standard also numbers the fields (1 family name, 2 given name, 3 date of birth, 4a issue,
4b expiry, 4d number, 8 address, 9 class, 9a endorsements, 12 restrictions), which identifies a
value printed right after its number. AnalyzeID returns no geometry, only text and confidence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from docpipe_local.engine.blocks import text_blocks
from docpipe_local.engine.layout import Line, Page, median_height
from docpipe_local.engine.text import CITY_STATE_ZIP, DATE, is_address_line, label_match

ID_LABELS: dict[str, tuple[str, ...]] = {
    "FIRST_NAME": ("FIRST NAME", "GIVEN NAME", "GIVEN NAMES", "FN", "FIRST"),
    "LAST_NAME": ("LAST NAME", "SURNAME", "FAMILY NAME", "LN", "LAST"),
    "MIDDLE_NAME": ("MIDDLE NAME", "MIDDLE"),
    "DOCUMENT_NUMBER": ("NUMBER", "DL", "DL NO", "DL #", "LIC #", "LIC NO", "LICENSE NO", "LICENSE NUMBER",
                        "LICENSE #", "PASSPORT NO", "PASSPORT NUMBER", "PASSPORT #", "DOCUMENT NUMBER",
                        "DOCUMENT NO", "ID NO", "ID NUMBER", "ID #"),
    "DATE_OF_BIRTH": ("DOB", "DATE OF BIRTH", "BIRTH DATE", "BIRTHDATE"),
    "EXPIRATION_DATE": ("EXP", "EXPIRES", "EXPIRATION", "EXPIRATION DATE", "DATE OF EXPIRATION", "EXP DATE"),
    "DATE_OF_ISSUE": ("ISS", "ISSUED", "ISSUE DATE", "DATE OF ISSUE", "ISS DATE"),
    "CLASS": ("CLASS",),
    "RESTRICTIONS": ("REST", "RESTR", "RESTRICTIONS"),
    "ENDORSEMENTS": ("END", "ENDORSEMENTS", "ENDORSE"),
    "PLACE_OF_BIRTH": ("PLACE OF BIRTH", "BIRTHPLACE"),
    "COUNTY": ("COUNTY",),
}
ALL_LABELS = frozenset(p for phrases in ID_LABELS.values() for p in phrases)
_AAMVA = {"1": "LAST_NAME", "2": "FIRST_NAME", "8": "ADDRESS"}
# "4d NUMBER", "3DOB", "9a END" (OCR often reads 9a as "Oa").
_FIELD_NUMBER = re.compile(r"^(?:\d{1,2}[a-d]?|[Oo][a-d])\s*(?=[A-Z])")
_NAME = re.compile(r"^[A-Za-z][A-Za-z'\- ]*$")
_US_STATES = {
    "ALABAMA", "ALASKA", "ARIZONA", "ARKANSAS", "CALIFORNIA", "COLORADO", "CONNECTICUT", "DELAWARE",
    "DISTRICT OF COLUMBIA", "FLORIDA", "GEORGIA", "HAWAII", "IDAHO", "ILLINOIS", "INDIANA", "IOWA", "KANSAS",
    "KENTUCKY", "LOUISIANA", "MAINE", "MARYLAND", "MASSACHUSETTS", "MICHIGAN", "MINNESOTA", "MISSISSIPPI",
    "MISSOURI", "MONTANA", "NEBRASKA", "NEVADA", "NEW HAMPSHIRE", "NEW JERSEY", "NEW MEXICO", "NEW YORK",
    "NORTH CAROLINA", "NORTH DAKOTA", "OHIO", "OKLAHOMA", "OREGON", "PENNSYLVANIA", "RHODE ISLAND",
    "SOUTH CAROLINA", "SOUTH DAKOTA", "TENNESSEE", "TEXAS", "UTAH", "VERMONT", "VIRGINIA", "WASHINGTON",
    "WEST VIRGINIA", "WISCONSIN", "WYOMING",
}
_MRZ = re.compile(r"^[A-Z0-9<]{30,44}$")
# How surely a value belongs to its field (times the OCR confidence of the value).
_INLINE, _RIGHT, _BELOW, _NUMBERED, _ABOVE_GIVEN_NAME, _WHOLE_LINE = 1.0, 0.95, 0.9, 0.95, 0.75, 0.9


@dataclass
class _Found:
    text: str
    confidence: float
    normalized: dict[str, str] | None = None


def _checks() -> dict[str, Callable[[str], str | None]]:
    def date(text: str) -> str | None:
        match = DATE.search(text)
        return match.group() if match else None

    def number(text: str) -> str | None:
        token = text.replace(" ", "")
        return token if re.fullmatch(r"[A-Z0-9-]{5,20}", token.upper()) and re.search(r"\d", token) else None

    def name(text: str) -> str | None:
        text = text.strip(" ,.")
        return text if _NAME.match(text) else None

    def short(text: str) -> str | None:
        return text if re.fullmatch(r"[A-Za-z0-9 ,/-]{1,12}", text) else None

    return {"FIRST_NAME": name, "LAST_NAME": name, "MIDDLE_NAME": name, "DOCUMENT_NUMBER": number,
            "DATE_OF_BIRTH": date, "EXPIRATION_DATE": date, "DATE_OF_ISSUE": date, "CLASS": short,
            "RESTRICTIONS": short, "ENDORSEMENTS": short, "PLACE_OF_BIRTH": name, "COUNTY": name}


_CHECKS = _checks()


def identity_document(page: Page, index: int) -> dict[str, Any]:
    found: dict[str, _Found] = {}
    rows = page.rows()
    text = " ".join(ln.text for ln in page.lines).upper()
    words = set(re.findall(r"[A-Z]+", text))
    licence = bool({"DRIVER", "DRIVERS"} & words and {"LICENSE", "LICENCE"} & words)
    _labelled(rows, found, median_height(page.lines))
    if licence:
        _numbered(rows, found)
    _address(rows, found)
    _whole_lines(page, found, text, licence)
    fields = [{"Type": {"Text": kind},
               "ValueDetection": {"Text": value.text, **({"NormalizedValue": value.normalized} if value.normalized else {}),
                                  "Confidence": value.confidence}}
              for kind, value in found.items()]
    return {"DocumentIndex": index, "IdentityDocumentFields": fields, "Blocks": text_blocks(page)}


def _label_of(text: str) -> tuple[str, float, str] | None:
    """(field, label score, text after the label) when `text` starts with a field's label."""
    stripped = _FIELD_NUMBER.sub("", text.strip())
    words = stripped.split()
    for size in (3, 2, 1):
        if len(words) < size:
            continue
        head, rest = " ".join(words[:size]), " ".join(words[size:])
        if re.search(r"\d", head):
            continue  # labels have no digits; "EXP 07/04/2030" is the label EXP and its value
        for kind, phrases in ID_LABELS.items():
            score = label_match(head, phrases)
            if score:
                return kind, score, rest
    return None


def _labelled(rows: list[list[Line]], found: dict[str, _Found], height: float) -> None:
    for r, row in enumerate(rows):
        for i, line in enumerate(row):
            labelled = _label_of(line.text)
            if labelled is None:
                continue
            kind, score, rest = labelled
            candidates: list[tuple[str, float, float]] = []
            if rest:
                candidates.append((rest, line.confidence, _INLINE))
            right = row[i + 1] if i + 1 < len(row) else None
            if right is not None and right.box.left - line.box.right < 2 * max(height, line.box.height):
                candidates.append((right.text, right.confidence, _RIGHT))
            below = _below(line, rows[r + 1] if r + 1 < len(rows) else [])
            if below is not None:
                candidates.append((below.text, below.confidence, _BELOW))
            for value_text, ocr, association in candidates:
                # Another field's label next to or under this one is not its value.
                value = _CHECKS[kind](value_text) if association == _INLINE or _label_of(value_text) is None else None
                if value:
                    _keep(found, kind, _Found(value, ocr * score * association, _normalized(kind, value)))
                    break


def _below(line: Line, next_row: Sequence[Line]) -> Line | None:
    box = line.box
    under = [c for c in next_row if c.box.x_overlap(box) > 0 and c.box.top - box.bottom < 1.5 * box.height]
    return min(under, key=lambda c: abs(c.box.left - box.left)) if under else None


def _numbered(rows: list[list[Line]], found: dict[str, _Found]) -> None:
    """AAMVA-numbered values ("2 JORGE", "8 100 MAIN STREET"); the family name (1) sits right above
    the given name (2) and is taken from there when its small number was not read."""
    given_at: tuple[int, Line] | None = None
    for r, row in enumerate(rows):
        for line in row:
            match = re.match(r"^(\d{1,2})\s*(\D.*)$", line.text.strip())
            if not match or match.group(1) not in _AAMVA:
                continue
            kind = _AAMVA[match.group(1)]
            value = match.group(2).strip() if kind == "ADDRESS" else _CHECKS[kind](match.group(2))
            if value:
                _keep(found, kind, _Found(value, line.confidence * _NUMBERED))
                if kind == "FIRST_NAME":
                    given_at = (r, line)
    if given_at is not None and "LAST_NAME" not in found:
        r, given = given_at
        for line in rows[r - 1] if r > 0 else []:
            name = _CHECKS["LAST_NAME"](line.text)
            if name and abs(line.box.left - given.box.left) < 2 * given.box.height:
                _keep(found, "LAST_NAME", _Found(name, line.confidence * _ABOVE_GIVEN_NAME))


def _address(rows: list[list[Line]], found: dict[str, _Found]) -> None:
    """City, state and ZIP from a "City, ST 12345" line under a street line."""
    for r, row in enumerate(rows[1:], start=1):
        for line in row:
            match = CITY_STATE_ZIP.match(line.text.replace(", ", ",").replace(",", ", ").strip())
            above = _above(line, rows[r - 1])
            if not match or not match.group("zip") or above is None or not is_address_line(above.text):
                continue
            confidence = line.confidence * _BELOW
            _keep(found, "CITY_IN_ADDRESS", _Found(match.group("city").strip(), confidence))
            _keep(found, "STATE_IN_ADDRESS", _Found(match.group("state"), confidence))
            _keep(found, "ZIP_CODE_IN_ADDRESS", _Found(match.group("zip"), confidence))
            if "ADDRESS" not in found:
                street = re.sub(r"^\d{1,2}\s+(?=\d)", "", above.text)  # drop an AAMVA "8" before the number
                _keep(found, "ADDRESS", _Found(street, above.confidence * _BELOW))
            return


def _above(line: Line, row: Sequence[Line]) -> Line | None:
    over = [c for c in row if c.box.x_overlap(line.box) > 0]
    return over[0] if over else None


def _whole_lines(page: Page, found: dict[str, _Found], text: str, licence: bool) -> None:
    """Fields a whole line states: the issuing state's name, the document type, the MRZ."""
    for line in page.lines:
        if line.text.strip().upper() in _US_STATES:
            _keep(found, "STATE_NAME", _Found(line.text.strip().upper(), line.confidence * _WHOLE_LINE))
            break
    if licence:
        _keep(found, "ID_TYPE", _Found("DRIVER LICENSE FRONT", 100 * _WHOLE_LINE))
    elif "PASSPORT" in text:
        _keep(found, "ID_TYPE", _Found("PASSPORT", 100 * _WHOLE_LINE))
    mrz = [ln.text.replace(" ", "") for ln in page.lines if _MRZ.match(ln.text.replace(" ", "")) and "<<" in ln.text]
    if mrz:
        lines = [ln for ln in page.lines if ln.text.replace(" ", "") in mrz]
        _keep(found, "MRZ_CODE", _Found("\n".join(mrz), min(ln.confidence for ln in lines)))


def _keep(found: dict[str, _Found], kind: str, value: _Found) -> None:
    if kind not in found or value.confidence > found[kind].confidence:
        found[kind] = value


def _normalized(kind: str, value: str) -> dict[str, str] | None:
    if kind not in ("DATE_OF_BIRTH", "EXPIRATION_DATE", "DATE_OF_ISSUE"):
        return None
    for fmt in ("%m/%d/%Y", "%m-%d-%Y", "%Y-%m-%d", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y"):
        try:
            parsed = dt.datetime.strptime(value.title() if "%b" in fmt or "%B" in fmt else value, fmt)
        except ValueError:
            continue
        return {"Value": parsed.strftime("%Y-%m-%dT%H:%M:%S"), "ValueType": "Date"}
    return None
