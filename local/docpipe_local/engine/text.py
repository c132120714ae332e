"""Text patterns shared by the analyses: amounts, dates, phones, addresses, and label matching."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from docpipe.normalize.values import MONTHS, fold_accents, month_number
from docpipe_local.engine.layout import Word

CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
CURRENCY_CODES = ("USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY", "INR", "MXN", "SEK", "NOK", "DKK", "KES",
                  "ZAR", "PLN", "CZK", "SGD", "HKD", "BRL")
# Marks that say "money" without naming one currency ("Rs" is rupees in India, Pakistan, Sri Lanka…).
_MONEY_MARKS = ("Rs.", "Rs", "RS", "KSh", "KSH", "Kshs", "KSHS")
_CURRENCY = "|".join([re.escape(s) for s in CURRENCY_SYMBOLS] + list(CURRENCY_CODES)
                     + [re.escape(m) for m in _MONEY_MARKS])
_CURRENCY_NAMED = "|".join([re.escape(s) for s in CURRENCY_SYMBOLS] + list(CURRENCY_CODES))
# An amount has two decimals (how money is printed), three after a currency sign and a point
# (US sales-tax receipts print "$10.683"), none after a currency sign ("Rs 1939", "KSh 1,500"), or
# none or one before a currency ("43 EUR", "8.6 EUR": generated invoices print amounts unpadded);
# thousands separators optional; a sign or parentheses
# for negatives; the currency before or after ("45,93 €", "34.73 EUR"). The lookarounds keep
# dates (12.07.2019), rates (6.25%) and longer numbers out.
_GROUPED = r"(?:\d{1,3}(?:[,.\u00a0]\d{3})+|\d+)"
AMOUNT = re.compile(
    rf"(?<![\w.,/])[-(]?\s*(?:(?:{_CURRENCY})\s*-?\s*(?:\d{{1,3}}(?:,\d{{3}})+|\d+)\.\d{{3}}"
    rf"|(?:(?:{_CURRENCY})\s*-?\s*)?{_GROUPED}[.,]\d{{2}}(?:\s?(?:{_CURRENCY})(?![A-Za-z]))?"
    rf"|{_GROUPED}(?:[.,]\d)?\s?(?:{_CURRENCY_NAMED})(?![A-Za-z])"
    rf"|(?<![A-Za-z])(?:{_CURRENCY})\s*-?\s*{_GROUPED}(?![.,]\d))(?!\d)(?![.,/]\d)(?!\s?%)\)?")
_MONTHS = (r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)).replace("a", "[aàâä]").replace("e", "[eéèê]")
           .replace("u", "[uûü]").replace("c", "[cç]") + r")\.?")
# OCR often drops the spaces inside printed dates ("Dec24,2020", "29Jan2009", "April 1.2022"). A day
# before the month name may be joined by hyphens ("13-June-2016") and take a two-digit year ("28 Jan 15").
DATE = re.compile(
    r"(?<![\d/.-])(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2}"
    rf"|{_MONTHS}\s*\d{{1,2}}(?:st|nd|rd|th)?\s*[,.]?\s*\d{{4}}"
    rf"|\d{{1,2}}(?:\.?\s*|-){_MONTHS}(?:[,.]?\s*|-)(?:\d{{4}}|\d{{2}}(?![\d:]))"
    r")(?![\d/])",
    re.IGNORECASE)
def date_readings(text: str) -> set[tuple[int, int, int]]:
    """The (year, month, day) a printed date can mean: one for '13 Feb 2022' or '2022-02-13', both
    orders for '03/04/2022'. Two printings of one date share a reading."""
    numbers = re.findall(r"\d+", text)
    month = next((m for t in re.findall(r"[^\W\d_]+", text) if (m := month_number(t))), None)
    if month is not None:
        years = [int(n) for n in numbers if len(n) == 4]
        days = [int(n) for n in numbers if len(n) <= 2]
        return {(years[0], month, days[0])} if years and days else set()
    if len(numbers) < 3:
        return set()
    if len(numbers[0]) == 4:
        return {(int(numbers[0]), int(numbers[1]), int(numbers[2]))}
    year = int(numbers[2]) + (2000 if len(numbers[2]) == 2 else 0)
    a, b = int(numbers[0]), int(numbers[1])
    return {(year, a, b), (year, b, a)}


PHONE = re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]\d{4}(?!\d)")
_STREET_WORDS = ("ST", "STREET", "AVE", "AVENUE", "RD", "ROAD", "BLVD", "BOULEVARD", "DR", "DRIVE", "LN", "LANE",
                 "WAY", "HWY", "HIGHWAY", "PKWY", "PARKWAY", "SUITE", "STE", "CT", "COURT", "PL", "PLACE",
                 "SQ", "SQUARE", "FLOOR", "FL", "BOX", "UNIT")
_STREET = re.compile(r"^\s*\d+[A-Z]?\s+\S+.*\b(?:" + "|".join(_STREET_WORDS) + r")\b", re.IGNORECASE)
_PO_BOX = re.compile(r"\bP\.?\s*O\.?\s+BOX\b", re.IGNORECASE)
# A house number and a street name in Title Case with no street word ("161 Raynor Overpass").
_HOUSE = re.compile(r"^\s*\d{1,6}[A-Za-z]?\s+[A-Z][a-z]+(?:[\s,]+[A-Z][a-z]+){1,4}\.?\s*$")
_UNIT = re.compile(r"^\s*(?:SUITE|STE|UNIT|APT|FLOOR|LEVEL|BUILDING|BLDG)\.?\s+\w", re.IGNORECASE)
# US "City, ST 12345" and its Australian twin "Melbourne, VIC 3000".
CITY_STATE_ZIP = re.compile(
    r"^(?P<city>[A-Za-z][A-Za-z .'-]*?),?\s+(?P<state>[A-Z]{2,3})\b,?"
    r"(?:\s+(?P<zip>\d{5}(?:-\d{4})?|\d{4}))?\s*$")
# A UK or Canadian postcode at the end of a line ("London SW1A 1AA", "Toronto, ON M5V 2T6").
_POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d)\s*$")
_NO_STATE = {"ID", "NO", "PM", "AM"}


def is_address_line(text: str) -> bool:
    """A street line (number + street word, a PO box, a suite/unit) or a "City, ST 12345" line
    (also "Melbourne, VIC 3000" and lines ending in a UK or Canadian postcode)."""
    if any(p.search(text) for p in (_STREET, _PO_BOX, _UNIT, _HOUSE)) or _POSTCODE.search(text.strip()):
        return True
    match = CITY_STATE_ZIP.match(text.strip())
    if match is None:
        return False
    return ("," in text or match.group("zip") is not None) and match.group("state") not in _NO_STATE


def currency_of(text: str) -> str | None:
    for symbol, code in CURRENCY_SYMBOLS.items():
        if symbol in text:
            return code
    found = re.search(r"\b(" + "|".join(CURRENCY_CODES) + r")\b", text)
    return found.group(1) if found else None


def normalize_label(text: str) -> str:
    """A label as compared against vocabularies: upper case, no parenthesised notes or numbers,
    no trailing colon, punctuation (except #, set apart) as spaces, dotted abbreviations closed up.
    "Sales Tax (7.5%):" → "SALES TAX", "TR#" → "TR #", "TOTAL H.T." → "TOTAL HT"."""
    text = re.sub(r"\([^)]*\)", " ", fold_accents(text).upper())
    text = re.sub(r"\b([A-Z])\.(?=[A-Z]\b)", r"\1", text)  # dotted abbreviations: "H.T." → "HT", "P.O." → "PO"
    text = re.sub(r"\d+(?:[.,]\d+)?\s*%?", " ", text)
    text = re.sub(r"[^A-Z#&\s]", " ", text).replace("#", " # ")
    return " ".join(text.split())


# OCR's usual letter/digit confusions, undone before comparing a label with a vocabulary.
_OCR_CONFUSIONS = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B", "|": "I"})


def label_match(text: str, phrases: Iterable[str]) -> float:
    """How surely `text` is one of the label `phrases`: 1.0 exact, 0.9 after undoing OCR
    confusions, with one edit in a long label, or with the spaces OCR dropped between its words
    ("DATEDUE" is "DATE DUE"), 0 otherwise."""
    phrases = set(phrases)
    label = normalize_label(text)
    if label in phrases:
        return 1.0
    repaired = normalize_label(text.upper().translate(_OCR_CONFUSIONS))
    if repaired in phrases:
        return 0.9
    if any(len(p) >= 5 and _edit_distance_at_most_one(label, p) for p in phrases):
        return 0.9
    joined = label.replace(" ", "")
    if len(joined) >= 6 and any(" " in p and p.replace(" ", "") == joined for p in phrases):
        return 0.9
    return 0.0


def _edit_distance_at_most_one(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = j = edits = 0
    while i < len(a) and j < len(b):
        if a[i] != b[j]:
            edits += 1
            if edits > 1:
                return False
            if len(a) == len(b):
                i += 1
            j += 1
            continue
        i += 1
        j += 1
    return edits + (len(b) - j) <= 1


def words_matching(words: Sequence[Word], pattern: re.Pattern[str]) -> list[Word] | None:
    """The words covering the first match of `pattern` in the words' joined text, if any."""
    text, starts = "", []
    for word in words:
        if text:
            text += " "
        starts.append(len(text))
        text += word.text
    match = pattern.search(text)
    if not match:
        return None
    covered = [w for w, s in zip(words, starts) if s < match.end() and s + len(w.text) > match.start()]
    return covered or None


def tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))
