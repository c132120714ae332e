"""Reading values the way a person does: money, dates, quantities, names, addresses.

Ambiguity is resolved by evidence on the document first (a day > 12, a month name, a currency
code or an unambiguous symbol, both separators in one amount) and by the locale only after that.
Pure functions: nothing here reads the clock or the environment.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

# Countries whose usual short date is month first; everywhere else day first.
_MONTH_FIRST_COUNTRIES = frozenset({"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "VI", "UM"})

# Languages that write 1.234,56.
_DECIMAL_COMMA_LANGUAGES = frozenset({
    "af", "az", "be", "bg", "bs", "ca", "cs", "da", "de", "el", "es", "et", "eu", "fi", "fo", "fr", "gl", "hr",
    "hu", "hy", "id", "is", "it", "ka", "kk", "ky", "lt", "lv", "mk", "mn", "nb", "nl", "nn", "no", "pl", "pt",
    "ro", "ru", "sk", "sl", "sq", "sr", "sv", "tr", "uk", "uz", "vi",
})

_EURO_COUNTRIES = ("AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV", "MT",
                   "NL", "PT", "SI", "SK")
_COUNTRY_CURRENCY: dict[str, str] = {
    **{c: "EUR" for c in _EURO_COUNTRIES},
    "US": "USD", "GB": "GBP", "NZ": "NZD", "AU": "AUD", "KE": "KES", "CA": "CAD", "IN": "INR", "ZA": "ZAR",
    "SG": "SGD", "HK": "HKD", "PH": "PHP", "NG": "NGN", "GH": "GHS", "UG": "UGX", "TZ": "TZS", "RW": "RWF",
    "ET": "ETB", "EG": "EGP", "JP": "JPY", "CN": "CNY", "KR": "KRW", "TW": "TWD", "CH": "CHF", "SE": "SEK",
    "NO": "NOK", "DK": "DKK", "PL": "PLN", "CZ": "CZK", "HU": "HUF", "MX": "MXN", "BR": "BRL", "AR": "ARS",
    "CL": "CLP", "CO": "COP", "PE": "PEN", "AE": "AED", "SA": "SAR", "IL": "ILS", "TR": "TRY", "MY": "MYR",
    "ID": "IDR", "TH": "THB", "VN": "VND", "PK": "PKR", "BD": "BDT", "LK": "LKR", "NP": "NPR", "IS": "ISK", "RO": "RON",
    "BG": "BGN", "RU": "RUB", "UA": "UAH", "ZM": "ZMW", "ZW": "ZWL", "BW": "BWP", "MU": "MUR", "JM": "JMD",
    "TT": "TTD", "BB": "BBD", "BS": "BSD", "FJ": "FJD", "PR": "USD", "GU": "USD",
}
ISO_CURRENCIES = frozenset(_COUNTRY_CURRENCY.values()) | {"EUR", "XAF", "XOF", "XCD", "XPF"}

# Currencies written with a bare "$": a bare "$" means the locale's one when it is one of these.
DOLLAR_CURRENCIES = frozenset({"USD", "AUD", "NZD", "CAD", "SGD", "HKD", "TWD", "MXN", "ARS", "CLP", "COP",
                                "JMD", "TTD", "BBD", "BSD", "FJD", "XCD"})

# Currencies written "Rs": a bare "Rs" means the locale's one when it is one of these, else INR.
RUPEE_CURRENCIES = frozenset({"INR", "PKR", "LKR", "NPR", "MUR", "SCR"})

# Marks that name one currency whatever the locale (longest first when matching).
_UNAMBIGUOUS_MARKS: dict[str, str] = {
    "US$": "USD", "U$S": "USD", "USD$": "USD", "AU$": "AUD", "A$": "AUD", "NZ$": "NZD", "CA$": "CAD", "C$": "CAD",
    "S$": "SGD", "HK$": "HKD", "NT$": "TWD", "R$": "BRL", "MX$": "MXN",
    "€": "EUR", "£": "GBP", "₹": "INR", "₦": "NGN", "₵": "GHS", "₩": "KRW", "₪": "ILS", "₫": "VND",
    "฿": "THB",
    "₴": "UAH", "₽": "RUB", "₺": "TRY", "₱": "PHP", "KSHS": "KES", "KSH": "KES", "USH": "UGX",
}
_MARK_PATTERN = "|".join(re.escape(m) for m in sorted(_UNAMBIGUOUS_MARKS, key=len, reverse=True))

_NUMBER = re.compile(r"\d{1,3}(?:[.,'’ \u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?")
# What may surround an amount on a receipt line: signs, brackets, tax flags (S, V, T, *), per-unit
# suffixes, a bare "P"/"R" written for the peso/rand sign, CR/DR.
_PREFIX_OK = re.compile(r"^[\s(+\-~@]*[PR]?[\s(+\-~@]*$", re.IGNORECASE)
_SUFFIX_OK = re.compile(
    r"^\s*\)?\s*(?:CR|DR|-)?\s*(?:/\s*(?:unit|ea|each|pc|pcs|kg|lb|l)\b)?\s*(?:[A-Z]{1,2}|\*{1,2}|#)?\s*$",
    re.IGNORECASE,
)


def locale_parts(locale: str) -> tuple[str, str]:
    """`en_US`, `en-us`, `en_US.UTF-8` → ("en", "US")."""
    base = (locale or "").split(".", 1)[0].replace("-", "_")
    language, _, country = base.partition("_")
    return language.lower(), country.upper()


def locale_currency(locale: str) -> str | None:
    """The ISO 4217 currency of the locale's country (en_KE → KES), or None if unknown."""
    return _COUNTRY_CURRENCY.get(locale_parts(locale)[1])


def day_first(locale: str) -> bool:
    """Whether the locale writes 07/12/2019 for 7 December (en_GB, en_NZ, en_AU, en_KE: yes; en_US: no)."""
    return locale_parts(locale)[1] not in _MONTH_FIRST_COUNTRIES


def decimal_comma(locale: str) -> bool:
    """Whether the locale writes 1.234,56."""
    return locale_parts(locale)[0] in _DECIMAL_COMMA_LANGUAGES


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain digits (no exponent), as printed: Decimal('1810.46') → '1810.46'."""
    return format(value, "f")


def _interpret_number(token: str, comma_decimal: bool) -> Decimal | None:
    digits = re.sub(r"['’ \u00a0\u202f]", "", token)
    dots, commas = digits.count("."), digits.count(",")
    if dots and commas:
        decimal_mark = "." if digits.rfind(".") > digits.rfind(",") else ","
    elif dots or commas:
        mark = "." if dots else ","
        if dots + commas > 1:
            decimal_mark = None  # 1.234.567 / 1,234,567: grouping only
        elif len(digits) - digits.rfind(mark) - 1 != 3:
            decimal_mark = mark  # 12,50 / 1810.46
        else:  # 1,234 or 1.234: the document's / locale's convention decides
            decimal_mark = mark if (mark == ",") == comma_decimal else None
    else:
        decimal_mark = None
    group_mark = {".": ",", ",": ".", None: None}[decimal_mark]
    if decimal_mark is None:
        digits = digits.replace(".", "").replace(",", "")
    else:
        digits = digits.replace(group_mark or "", "").replace(decimal_mark, ".")
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def shows_decimal_comma(texts: list[str]) -> bool | None:
    """Evidence from a document's amounts: True for 1.234,56 / 12,50, False for 1,234.56 / 12.50, None if none."""
    for text in texts:
        for token in _NUMBER.findall(text or ""):
            if "." in token and "," in token:
                return bool(token.rfind(",") > token.rfind("."))
            mark = "," if "," in token else "." if "." in token else None
            if mark and token.count(mark) == 1 and len(token) - token.rfind(mark) - 1 in (1, 2):
                return mark == ","
    return None


@dataclass(frozen=True, slots=True)
class Money:
    """An amount and the currency the text itself shows (`currency_evidence`: code, symbol, none, or
    shared: a sign several currencies use, "$" or "Rs", read with the locale)."""

    amount: Decimal
    currency: str | None
    currency_evidence: str


def _currency_in(text: str, locale: str) -> tuple[str | None, str, str]:
    """(currency, evidence, text with the marks removed)."""
    upper = text.upper()
    mark = re.search(_MARK_PATTERN, upper)
    if mark:
        return _UNAMBIGUOUS_MARKS[mark.group(0)], "symbol", upper[: mark.start()] + " " + upper[mark.end():]
    for code in re.findall(r"(?<![A-Z])[A-Z]{3}(?![A-Z])", upper):
        if code in ISO_CURRENCIES:
            return code, "code", re.sub(rf"(?<![A-Z]){code}(?![A-Z])", " ", upper, count=1)
    if "$" in upper:
        local = locale_currency(locale)
        return (local if local in DOLLAR_CURRENCIES else "USD"), "shared", upper.replace("$", " ", 1)
    rupee = re.search(r"(?<![A-Z])RS\.?(?![A-Z])", upper)
    if rupee:
        local = locale_currency(locale)
        return ((local if local in RUPEE_CURRENCIES else "INR"), "shared",
                upper[: rupee.start()] + " " + upper[rupee.end():])
    if "¥" in upper:
        return ("CNY" if locale_parts(locale)[1] == "CN" else "JPY"), "symbol", upper.replace("¥", " ", 1)
    return None, "none", upper


def parse_money(text: str, locale: str, *, comma_decimal: bool | None = None) -> Money | None:
    """`'$1,810.46'` → Money(Decimal('1810.46'), 'USD', 'dollar'); None if the text is not one amount.

    `comma_decimal` is the document's own evidence (see `shows_decimal_comma`); without it the
    locale decides the one ambiguous case, a single separator followed by exactly three digits.
    """
    if not text or not text.strip():
        return None
    currency, evidence, rest = _currency_in(text.strip(), locale)
    numbers = list(_NUMBER.finditer(rest))
    if len(numbers) != 1:
        return None
    number = numbers[0]
    prefix, suffix = rest[: number.start()], rest[number.end():]
    if not _PREFIX_OK.match(prefix) or not _SUFFIX_OK.match(suffix):
        return None
    use_comma = decimal_comma(locale) if comma_decimal is None else comma_decimal
    amount = _interpret_number(number.group(0), use_comma)
    if amount is None:
        return None
    negative = ("-" in prefix or ("(" in prefix and ")" in suffix)
                or re.search(r"(CR|-)\s*$", suffix.strip()) is not None)
    return Money(-amount if negative else amount, currency, evidence)


def parse_quantity(text: str, locale: str) -> Decimal | None:
    """`'2'`, `'2 x'`, `'x 3'`, `'1,5 kg'` → the count; None otherwise."""
    cleaned = re.sub(r"^\s*[xX×@]\s*|\s*[xX×@]\s*$", "", text or "").strip()
    match = re.fullmatch(r"(\d+(?:[.,]\d+)?)\s*(?:[a-zA-Z]{1,5}\.?)?", cleaned)
    if not match:
        return None
    value = _interpret_number(match.group(1), decimal_comma(locale))
    return value.normalize() if value is not None else None


# Month names and the abbreviations printed on invoices, accents folded: English, French, German,
# Spanish, Italian, Dutch, Portuguese.
MONTHS: dict[str, int] = {}
for _number, _names in enumerate((
    "jan january janv janvier januar januari enero ene gennaio gen janeiro",
    "feb february fevr fevrier februar februari febrero febbraio fevereiro fev",
    "mar march mars marz maerz mrz maart marzo marco",
    "apr april avr avril abril abr aprile",
    "may mai mei mayo maggio mag maio",
    "jun june juin juni junio giugno giu junho",
    "jul july juil juillet juli julio luglio lug julho",
    "aug august aout augustus agosto ago",
    "sep sept september septembre septiembre setiembre settembre sett setembro",
    "oct october octobre oktober okt octubre ottobre ott outubro",
    "nov november novembre noviembre novembro",
    "dec december decembre dezember dez diciembre dic dicembre dezembro",
), start=1):
    MONTHS.update(dict.fromkeys(_names.split(), _number))


def fold_accents(text: str) -> str:
    """'Juillet', 'März', 'février' → 'Juillet', 'Marz', 'fevrier' (and 'N°' → 'No')."""
    text = text.replace("°", "o").replace("º", "o").replace("ß", "ss")
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def month_number(token: str) -> int | None:
    """The month a word names ('Juillet' → 7, 'Dec.' → 12), or None."""
    return MONTHS.get(fold_accents(token).lower().rstrip("."))


_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?\s*(?:[AaPp]\.?\s?[Mm]\.?)?")
_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{4}|\d{2})(?!\d)")


def _year(value: str, not_after: date | None) -> int:
    year = int(value)
    if len(value) == 2:
        if not_after is not None:  # the latest century that keeps the date in the past (birth dates)
            year += 2000 if 2000 + year <= not_after.year else 1900
        else:  # POSIX pivot: 69-99 → 1900s, 00-68 → 2000s
            year += 1900 if year >= 69 else 2000
    return year


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def shows_day_first(texts: list[str]) -> bool | None:
    """Evidence from a document's other dates: True when one is surely day-first ('26/02/2019'),
    False when one is surely month-first ('02/26/2019'), None when none is (or they disagree)."""
    seen: set[bool] = set()
    for text in texts:
        numeric = _NUMERIC.search(_TIME.sub(" ", text or ""))
        if numeric and not _ISO.search(text):
            first, second = int(numeric.group(1)), int(numeric.group(3))
            if first > 12 >= second:
                seen.add(True)
            elif second > 12 >= first:
                seen.add(False)
    return seen.pop() if len(seen) == 1 else None


def parse_date(
    text: str, locale: str, *, not_after: date | None = None, day_first_evidence: bool | None = None
) -> date | None:
    """A calendar date from how it is printed; None when the text does not make one date.

    Order of evidence: a year-first ISO form; a month name; a part > 12 (it must be the day); the
    order the document's other dates show (`day_first_evidence`, see `shows_day_first`); only then
    the locale (en_US month first; en_GB/en_NZ/en_AU/en_KE day first). `not_after` places a two-digit
    year in the past (a birth date '1/6/58' is 1958, not 2058).
    """
    if not text:
        return None
    cleaned = _TIME.sub(" ", text).strip()
    iso = _ISO.search(cleaned)
    if iso:
        return _make(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    numeric = _NUMERIC.search(cleaned)
    if numeric:
        first, second, year = int(numeric.group(1)), int(numeric.group(3)), _year(numeric.group(4), not_after)
        if first > 12 >= second:
            return _make(year, second, first)
        if second > 12 >= first:
            return _make(year, first, second)
        if day_first_evidence if day_first_evidence is not None else day_first(locale):
            return _make(year, second, first)
        return _make(year, first, second)
    tokens = re.findall(r"[^\W\d_]+|\d+", cleaned)
    month_at = next((i for i, t in enumerate(tokens) if month_number(t)), None)
    if month_at is None:
        return None
    month = month_number(tokens[month_at]) or 0
    before = [t for t in tokens[:month_at] if t.isdigit()]
    after = [t for t in tokens[month_at + 1:] if t.isdigit()]
    if after and len(after[0]) in (5, 6) and after[0][-4:-2] in ("19", "20"):
        # Day and year run together once OCR dropped the spaces: "May172018" → May 17 2018.
        after = [after[0][:-4], after[0][-4:], *after[1:]]
    numbers = before[-1:] + after[:2]
    years = [n for n in numbers if len(n) == 4]
    if years:
        rest = [n for n in numbers if n is not years[0] and len(n) <= 2]
        return _make(int(years[0]), month, int(rest[0])) if rest else None
    if before and after:  # 07 Feb 18
        return _make(_year(after[0], not_after), month, int(before[-1]))
    if len(after) >= 2:  # Feb 07 18
        return _make(_year(after[1], not_after), month, int(after[0]))
    return None


def clean_name(text: str) -> str:
    """Collapse stray line breaks and runs of whitespace: 'MEGA\\nMARKET  PLUS' → 'MEGA MARKET PLUS'."""
    return " ".join((text or "").split())


# A label printed in front of a document number and read into its value: "Invoice #1258", "No. 0042",
# "Receipt No: A-17", "#5531". Only stripped when what remains still holds a digit.
_ID_LABEL = re.compile(
    r"^(?:(?:invoice|inv|receipt|order|purchase order|p\.?\s?o\.?|bill|ref(?:erence)?|transaction|trans)\s*)?"
    r"(?:(?:no|nr|num|number)(?=[\s.:#])\.?|n[°º]\.?|#)\s*[:#.]?\s*(?=\S*\d)",
    re.IGNORECASE,
)


def clean_identifier(text: str) -> str:
    """A document number as printed, without a label read into it: 'Invoice #1258' → '1258'."""
    value = clean_name(text)
    stripped = _ID_LABEL.sub("", value, count=1)
    return (stripped.strip(" :.-") or value) if stripped != value else value


def clean_address(text: str) -> str:
    """One line per address line, joined with ', ': '1 Main St\\nSpringfield, IL' → '1 Main St, Springfield, IL'."""
    lines = [" ".join(line.split()).strip(" ,") for line in (text or "").splitlines()]
    return ", ".join(line for line in lines if line)
