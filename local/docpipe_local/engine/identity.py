"""AnalyzeID: identity document fields read by label proximity; fields not found are omitted.

Labels are found on the page (DOB, EXP, Surname, ...), with the value after the label, to its right
or on the line below (passports print every value under a label given in up to three languages,
"Date of birth/Date de naissance/Fecha de nacimiento"). On US driver's licenses the AAMVA card
design standard also numbers the fields (1 family name, 2 given name, 3 date of birth, 4a issue,
4b expiry, 4d number, 8 address, 9 class, 9a endorsements, 12 restrictions), which identifies a
value printed right after its number. A machine-readable zone is used only when its check digits
validate. AnalyzeID returns no geometry, only text and confidence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from docpipe.normalize.values import parse_date
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
    "EXPIRATION_DATE": ("EXP", "EXPIRES", "EXPIRATION", "EXPIRATION DATE", "DATE OF EXPIRATION", "EXP DATE",
                        "DATE OF EXPIRY", "EXPIRY DATE"),
    "DATE_OF_ISSUE": ("ISS", "ISSUED", "ISSUE DATE", "DATE OF ISSUE", "ISS DATE"),
    "CLASS": ("CLASS",),
    "RESTRICTIONS": ("REST", "RESTR", "RESTRICTIONS"),
    "ENDORSEMENTS": ("END", "ENDORSEMENTS", "ENDORSE"),
    "PLACE_OF_BIRTH": ("PLACE OF BIRTH", "BIRTHPLACE"),
    "COUNTY": ("COUNTY",),
}
ALL_LABELS = frozenset(p for phrases in ID_LABELS.values() for p in phrases)
# Labels of things AnalyzeID has no field for: never a value, and never taken as one.
_OTHER_LABELS = frozenset({"NATIONALITY", "SEX", "AUTHORITY", "ISSUING AUTHORITY", "TYPE", "CODE", "COUNTRY CODE",
                           "SIGNATURE", "HEIGHT", "WEIGHT", "EYES", "HAIR"})
# The fields AnalyzeID returns for a passport; the rest are driver's license fields.
_PASSPORT_FIELDS = frozenset({"FIRST_NAME", "LAST_NAME", "MIDDLE_NAME", "DOCUMENT_NUMBER", "EXPIRATION_DATE",
                              "DATE_OF_BIRTH", "PLACE_OF_BIRTH", "DATE_OF_ISSUE", "ID_TYPE", "MRZ_CODE"})
_DATE_FIELDS = ("DATE_OF_BIRTH", "EXPIRATION_DATE", "DATE_OF_ISSUE")
_AAMVA = {"1": "LAST_NAME", "2": "FIRST_NAME", "8": "ADDRESS"}
# "4d NUMBER", "3DOB", "9a END" (OCR often reads 9a as "Oa").
_FIELD_NUMBER = re.compile(r"^(?:\d{1,2}[a-d]?|[Oo][a-d])\s*(?=[A-Z])")
_NAME = re.compile(r"^[A-Za-z][A-Za-z'\- ]*$")
_PLACE = re.compile(r"^[A-Za-z][A-Za-z'.,\- ]*$")
_US_STATES = {
    "ALABAMA", "ALASKA", "ARIZONA", "ARKANSAS", "CALIFORNIA", "COLORADO", "CONNECTICUT", "DELAWARE",
    "DISTRICT OF COLUMBIA", "FLORIDA", "GEORGIA", "HAWAII", "IDAHO", "ILLINOIS", "INDIANA", "IOWA", "KANSAS",
    "KENTUCKY", "LOUISIANA", "MAINE", "MARYLAND", "MASSACHUSETTS", "MICHIGAN", "MINNESOTA", "MISSISSIPPI",
    "MISSOURI", "MONTANA", "NEBRASKA", "NEVADA", "NEW HAMPSHIRE", "NEW JERSEY", "NEW MEXICO", "NEW YORK",
    "NORTH CAROLINA", "NORTH DAKOTA", "OHIO", "OKLAHOMA", "OREGON", "PENNSYLVANIA", "RHODE ISLAND",
    "SOUTH CAROLINA", "SOUTH DAKOTA", "TENNESSEE", "TEXAS", "UTAH", "VERMONT", "VIRGINIA", "WASHINGTON",
    "WEST VIRGINIA", "WISCONSIN", "WYOMING",
}
# MRZ lines per ICAO 9303 format: TD1 (ID cards) 3 x 30, TD2 2 x 36, TD3 (passports) 2 x 44.
_MRZ_LINE = re.compile(r"^[A-Z0-9<]{30,44}$")
_MRZ_FORMATS = {30: 3, 36: 2, 44: 2}
# How surely a value belongs to its field (times the OCR confidence of the value).
_INLINE, _RIGHT, _BELOW, _NUMBERED, _ABOVE_GIVEN_NAME, _WHOLE_LINE = 1.0, 0.95, 0.9, 0.95, 0.75, 0.9
# A value the check-digit-valid MRZ contradicts is doubtful; one it confirms was read twice.
_MRZ_DISAGREES = 0.5


@dataclass
class _Found:
    text: str
    confidence: float
    normalized: dict[str, str] | None = None


def _checks() -> dict[str, Callable[[str], str | None]]:
    def date(text: str) -> str | None:
        match = DATE.search(text)
        return _spaced_date(match.group()) if match else None

    def number(text: str) -> str | None:
        token = text.replace(" ", "")
        return token if re.fullmatch(r"[A-Z0-9-]{5,20}", token.upper()) and re.search(r"\d", token) else None

    def name(text: str) -> str | None:
        text = text.strip(" ,.")
        return text if _NAME.match(text) else None

    def place(text: str) -> str | None:
        text = text.strip(" ,")
        return text if _PLACE.match(text) else None

    def short(text: str) -> str | None:
        return text if re.fullmatch(r"[A-Za-z0-9 ,/-]{1,12}", text) else None

    return {"FIRST_NAME": name, "LAST_NAME": name, "MIDDLE_NAME": name, "DOCUMENT_NUMBER": number,
            "DATE_OF_BIRTH": date, "EXPIRATION_DATE": date, "DATE_OF_ISSUE": date, "CLASS": short,
            "RESTRICTIONS": short, "ENDORSEMENTS": short, "PLACE_OF_BIRTH": place, "COUNTY": name}


_CHECKS = _checks()


def identity_document(page: Page, index: int) -> dict[str, Any]:
    """One IdentityDocument for the page: the fields found and the page's blocks."""
    found: dict[str, _Found] = {}
    rows = page.rows()
    text = " ".join(ln.text for ln in page.lines).upper()
    words = set(re.findall(r"[A-Z]+", text))
    licence = bool({"DRIVER", "DRIVERS"} & words and {"LICENSE", "LICENCE"} & words)
    passport = not licence and bool({"PASSPORT", "PASSEPORT", "PASAPORTE"} & words)
    _labelled(page, rows, found, median_height(page.lines))
    if licence:
        _numbered(rows, found)
    _address(rows, found, licence)
    _whole_lines(page, found, licence, passport)
    _mrz(page, found)
    if passport:
        found = {kind: value for kind, value in found.items() if kind in _PASSPORT_FIELDS}
    fields = [{"Type": {"Text": kind},
               "ValueDetection": {"Text": value.text, **({"NormalizedValue": value.normalized} if value.normalized else {}),
                                  "Confidence": value.confidence}}
              for kind, value in found.items()]
    return {"DocumentIndex": index, "IdentityDocumentFields": fields, "Blocks": text_blocks(page)}


# -- labelled fields -------------------------------------------------------------------------------
def _label_of(text: str) -> tuple[str | None, float, str] | None:
    """(field or None for a label AnalyzeID has no field for, label score, text after the label) when
    `text` starts with a label. A label printed in several languages ("Surname / Nom / Apellidos") is
    matched by its parts, and the other parts are translations, not a value."""
    stripped = _FIELD_NUMBER.sub("", text.strip())
    parts = [stripped]
    if "/" in stripped and not re.search(r"\d", stripped):
        parts = [p.strip() for p in stripped.split("/") if p.strip()]
    for part in parts:
        words = part.split()
        for size in (3, 2, 1):
            if len(words) < size:
                continue
            head, rest = " ".join(words[:size]), " ".join(words[size:])
            if re.search(r"\d", head):
                continue  # labels have no digits; "EXP 07/04/2030" is the label EXP and its value
            rest = rest if len(parts) == 1 else ""
            for kind, phrases in [*ID_LABELS.items(), (None, _OTHER_LABELS)]:
                score = _label_score(head, phrases)
                if score and (len(parts) == 1 or size == len(words)):
                    return kind, score, rest
    return None


def _label_score(text: str, phrases: Collection[str]) -> float:
    """label_match, also undoing OCR's reading of "rn" as "m" ("Sumame" for "Surname")."""
    score = label_match(text, phrases)
    if score:
        return score
    merged = {p.replace("RN", "M") for p in phrases if "RN" in p}
    return 0.9 * label_match(text, merged) if merged else 0.0


def _labelled(page: Page, rows: list[list[Line]], found: dict[str, _Found], height: float) -> None:
    for row in rows:
        for i, line in enumerate(row):
            labelled = _label_of(line.text)
            if labelled is None or labelled[0] is None:
                continue
            kind, score, rest = labelled
            candidates: list[tuple[str, float, float]] = []
            if rest:
                candidates.append((rest, line.confidence, _INLINE))
            right = row[i + 1] if i + 1 < len(row) else None
            if right is not None and right.box.left - line.box.right < 2 * max(height, line.box.height):
                candidates.append((right.text, right.confidence, _RIGHT))
            below = _below(line, page.lines)
            if below is not None:
                candidates.append((below.text, below.confidence, _BELOW))
            for value_text, ocr, association in candidates:
                # Another label next to or under this one is not this field's value.
                if association != _INLINE and _label_of(value_text) is not None:
                    continue
                value = _CHECKS[kind](value_text)
                if value:
                    _keep_labelled(found, kind, value, ocr * score * association, line.text)
                    break


def _keep_labelled(found: dict[str, _Found], kind: str, value: str, confidence: float, label: str) -> None:
    # Passports print first and middle names together under "Given Names"; AnalyzeID splits them.
    if kind == "FIRST_NAME" and "GIVEN NAMES" in label.upper() and " " in value:
        value, middle = value.split(" ", 1)
        _keep(found, "MIDDLE_NAME", _Found(middle, confidence))
    _keep(found, kind, _Found(value, confidence, _normalized(kind, value)))


def _below(label: Line, lines: Sequence[Line]) -> Line | None:
    """The nearest line starting under the label (within about a line height) and overlapping it by a
    quarter of the narrower width: where a form prints a value under its caption."""
    box = label.box
    under = [c for c in lines
             if c is not label and c.box.top > box.center_y and c.box.top - box.bottom < box.height
             and c.box.x_overlap(box) >= 0.25]
    return min(under, key=lambda c: (c.box.top, abs(c.box.left - box.left))) if under else None


def _spaced_date(text: str) -> str:
    """A month-name date as printed: OCR often drops its spaces ("29Jan2009" → "29 Jan 2009")."""
    if not re.search(r"[A-Za-z]", text):
        return text
    spaced = re.sub(r"(?<=\d)(?=[A-Za-z])|(?<=[A-Za-z])(?=\d)|(?<=,)(?=\d)", " ", text)
    return re.sub(r"(?<=\d) (?=st|nd|rd|th)", "", spaced)


def _normalized(kind: str, value: str) -> dict[str, str] | None:
    """Textract's NormalizedValue for a date field: midnight ISO-8601, ValueType Date."""
    if kind not in _DATE_FIELDS:
        return None
    parsed = _parse_date(value.strip(), born=kind == "DATE_OF_BIRTH")
    return {"Value": parsed.strftime("%Y-%m-%dT00:00:00"), "ValueType": "Date"} if parsed else None


def _parse_date(text: str, born: bool) -> dt.date | None:
    """A printed date as the normalizer reads it; US cards print month first, and a birth date's
    two-digit year lies in the past."""
    return parse_date(text, "en_US", not_after=dt.date.today() if born else None)


# -- numbered fields and the address ---------------------------------------------------------------
def _numbered(rows: list[list[Line]], found: dict[str, _Found]) -> None:
    """AAMVA-numbered values ("2 JORGE", "8 MAIN STREET"); the family name (1) sits right above the
    given name (2) and is taken from there when its small number was not read."""
    given_at: tuple[int, Line] | None = None
    for r, row in enumerate(rows):
        for line in row:
            match = re.match(r"^(\d{1,2})\s*(\D.*)$", line.text.strip())
            if not match or match.group(1) not in _AAMVA:
                continue
            kind = _AAMVA[match.group(1)]
            value = _as_printed(match.group(2).strip()) if kind == "ADDRESS" else _CHECKS[kind](match.group(2))
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


def _address(rows: list[list[Line]], found: dict[str, _Found], licence: bool) -> None:
    """Street, city, state and ZIP from a "City, ST 12345" line under a street line."""
    for r, row in enumerate(rows[1:], start=1):
        for line in row:
            match = CITY_STATE_ZIP.match(line.text.replace(", ", ",").replace(",", ", ").strip())
            above = _above(line, rows[r - 1])
            street = _street(above, line, licence) if match and match.group("zip") and above else None
            if match is None or street is None:
                continue
            confidence = line.confidence * _BELOW
            _keep(found, "CITY_IN_ADDRESS", _Found(match.group("city").strip(), confidence))
            _keep(found, "STATE_IN_ADDRESS", _Found(match.group("state"), confidence))
            _keep(found, "ZIP_CODE_IN_ADDRESS", _Found(match.group("zip"), confidence))
            if "ADDRESS" not in found:
                _keep(found, "ADDRESS", _Found(street, above.confidence * _BELOW))
            return


def _street(line: Line, city: Line, licence: bool) -> str | None:
    """The street line as printed, or None when `line` is not one. On a licence the AAMVA number 8
    hangs left of the address ("8 100 MAIN STREET" over "ANYTOWN, MA"): a leading 8 that sticks out
    by about a character from the city line below is that number, even when OCR glued it on."""
    text = line.text.strip()
    char_width = line.box.width / max(1, len(text))
    if licence and re.match(r"^8\s*\d", text) and (text[1] == " " or city.box.left - line.box.left > char_width / 2):
        text = text[1:].lstrip()
    street = _as_printed(text)
    return street if is_address_line(street) else None


def _as_printed(street: str) -> str:
    """A street line with OCR's usual slips undone."""
    number, _, rest = street.partition(" ")
    # A house number is digits; OCR reads 0 as O and 1 as I or l in it ("1OO MAIN STREET").
    if re.fullmatch(r"\d[\dOoIl]*|[\dOoIl]*\d", number):
        number = number.translate(str.maketrans("OoIl", "0011"))
    # OCR drops the space before a long street word ("MARKETSTREET"); short ones (ST, RD) are too
    # often the end of a name to split off.
    rest = re.sub(r"(?<=[A-Za-z]{3})(STREET|AVENUE|BOULEVARD)$", r" \1", rest, flags=re.IGNORECASE)
    return f"{number} {rest}".strip()


def _above(line: Line, row: Sequence[Line]) -> Line | None:
    over = [c for c in row if c.box.x_overlap(line.box) > 0]
    return over[0] if over else None


# -- whole lines and the MRZ -----------------------------------------------------------------------
def _whole_lines(page: Page, found: dict[str, _Found], licence: bool, passport: bool) -> None:
    """Fields a whole line states: the issuing state's name and the document type."""
    for line in page.lines:
        if line.text.strip().upper() in _US_STATES:
            _keep(found, "STATE_NAME", _Found(line.text.strip().upper(), line.confidence * _WHOLE_LINE))
            break
    if licence:
        _keep(found, "ID_TYPE", _Found("DRIVER LICENSE FRONT", 100 * _WHOLE_LINE))
    elif passport:
        _keep(found, "ID_TYPE", _Found("PASSPORT", 100 * _WHOLE_LINE))


def _mrz(page: Page, found: dict[str, _Found]) -> None:
    """MRZ_CODE when the page holds a machine-readable zone whose check digits validate; its
    document number and dates then confirm or contradict what the visual zone says."""
    read = [(ln.text.replace(" ", ""), ln) for row in page.rows() for ln in row]
    mrz_lines = [(t, ln) for t, ln in read if _MRZ_LINE.match(t) and "<" in t]
    for length, count in _MRZ_FORMATS.items():
        group = [(t, ln) for t, ln in mrz_lines if len(t) == length]
        for start in range(len(group) - count + 1):
            texts = [t for t, _ in group[start:start + count]]
            fields = _mrz_fields(texts)
            if fields is None:
                continue
            confidence = min(ln.confidence for _, ln in group[start:start + count])
            _keep(found, "MRZ_CODE", _Found("\n".join(texts), confidence))
            _cross_check(found, fields, confidence)
            return


def _mrz_fields(lines: list[str]) -> dict[str, str] | None:
    """Document number and YYMMDD dates of a TD1/TD2/TD3 zone, or None when a check digit fails."""
    if len(lines) == 3:  # TD1: the number on line 1, the dates on line 2
        first, second = lines[0], lines[1]
        number, dob, expiry = first[5:15], second[0:7], second[8:15]
        checked = [first[5:30] + second[0:7] + second[8:15] + second[18:30]]
    else:  # TD2 and TD3: all on the second line; TD3 also checks its personal number
        second = lines[1]
        number, dob, expiry = second[0:10], second[13:20], second[21:28]
        checked = [second[0:10] + second[13:20] + second[21:]]
        if len(second) == 44:
            checked.append(second[28:43])
    if not all(_check_digit_ok(part) for part in (number, dob, expiry, *checked)):
        return None
    return {"DOCUMENT_NUMBER": number[:-1].rstrip("<"), "DATE_OF_BIRTH": dob[:-1], "EXPIRATION_DATE": expiry[:-1]}


def _check_digit_ok(field_and_digit: str) -> bool:
    """ICAO 9303 check digit: weights 7, 3, 1 over digits, letters (A=10) and fillers (< = 0)."""
    data, digit = field_and_digit[:-1], field_and_digit[-1]
    if not digit.isdigit() and not (digit == "<" and set(data) <= {"<"}):
        return False
    total = sum(_mrz_value(ch) * (7, 3, 1)[i % 3] for i, ch in enumerate(data))
    return total % 10 == (int(digit) if digit.isdigit() else 0)


def _mrz_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else 0 if ch == "<" else ord(ch) - ord("A") + 10


def _cross_check(found: dict[str, _Found], mrz: dict[str, str], confidence: float) -> None:
    for kind, value in mrz.items():
        visual = found.get(kind)
        if visual is None:
            continue
        if kind in _DATE_FIELDS:
            agrees = visual.normalized is not None and visual.normalized["Value"][2:10].replace("-", "") == value
        else:
            agrees = visual.text.replace(" ", "").upper() == value
        visual.confidence = max(visual.confidence, confidence) if agrees else visual.confidence * _MRZ_DISAGREES


def _keep(found: dict[str, _Found], kind: str, value: _Found) -> None:
    if kind not in found or value.confidence > found[kind].confidence:
        found[kind] = value
