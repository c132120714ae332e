"""Property tests: money and date parsing hold on any amount, any date and adversarial strings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from docpipe.normalize.values import Money, parse_date, parse_money, shows_day_first

LOCALES = st.sampled_from(["en_US", "en_GB", "en_NZ", "en_AU", "en_KE", "de_DE", "fr_FR", "pt_BR", ""])
CENTS = st.integers(min_value=0, max_value=10**11).map(lambda c: Decimal(c).scaleb(-2))
DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
settings.register_profile("docpipe", max_examples=200, deadline=None)
settings.load_profile("docpipe")


def _grouped(amount: Decimal, group: str, decimal_mark: str) -> str:
    whole, cents = f"{amount:.2f}".split(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return group.join([whole, *groups]) + decimal_mark + cents


@given(st.text(), LOCALES)
@example("$$1,,2..3", "en_US")
@example("1.810,46.00", "de_DE")
@example("(-)", "en_US")
@example("٣٤٥٫٦٧", "en_US")
def test_any_text_gives_one_amount_or_none_and_never_raises(text: str, locale: str) -> None:
    result = parse_money(text, locale)
    assert result is None or isinstance(result, Money)


@given(CENTS)
def test_dot_decimal_amounts_read_back_exactly_however_they_are_grouped(amount: Decimal) -> None:
    # GIVEN an amount printed as a US receipt prints it, with and without grouping and a symbol
    for text in (f"{amount:.2f}", f"${_grouped(amount, ',', '.')}", f"USD {_grouped(amount, ',', '.')}",
                 f"{_grouped(amount, ',', '.')} USD"):
        # THEN it reads back to the same amount in a dot-decimal locale
        money = parse_money(text, "en_US")
        assert money is not None and money.amount == amount, text


@given(CENTS)
def test_comma_decimal_amounts_read_back_exactly_in_a_comma_locale(amount: Decimal) -> None:
    for text in (_grouped(amount, ".", ","), f"{_grouped(amount, '.', ',')} €", f"EUR {_grouped(amount, ' ', ',')}"):
        money = parse_money(text, "de_DE")
        assert money is not None and money.amount == amount, text


@given(CENTS, CENTS.filter(lambda a: a > 0))
def test_text_with_two_amounts_is_not_read_as_either(first: Decimal, second: Decimal) -> None:
    # GIVEN "12.50 3.00": which one is meant is not for the parser to guess
    assert parse_money(f"{first:.2f} {second:.2f}", "en_US") is None


@given(CENTS, st.sampled_from(["$", "€", "£", "USD", "KES", "NZ$"]))
def test_a_negative_amount_keeps_its_sign(amount: Decimal, mark: str) -> None:
    for text in (f"-{mark}{amount:.2f}", f"({mark}{amount:.2f})", f"{mark}{amount:.2f} CR"):
        money = parse_money(text, "en_GB", comma_decimal=False)
        assert money is not None and money.amount == -amount, text


@given(st.text(), LOCALES)
@example("31/31/2020", "en_US")
@example("29/02/2019", "en_GB")
@example("00/00/0000", "en_US")
@example("Feb 30, 2020", "en_US")
@example("99999999999999999999-1-1", "en_US")
def test_any_text_gives_one_date_or_none_and_never_raises(text: str, locale: str) -> None:
    result = parse_date(text, locale)
    assert result is None or isinstance(result, date)


@given(DATES, LOCALES)
def test_unambiguous_printings_read_back_whatever_the_locale(day: date, locale: str) -> None:
    # GIVEN printings that carry their own evidence: year first, or a month name
    texts = [day.isoformat(), day.strftime("%d %b %Y"), day.strftime("%B %d, %Y"), day.strftime("%b%d,%Y"),
             day.strftime("%A, %d %B %Y")]
    for text in texts:
        # THEN the locale does not matter
        assert parse_date(text, locale) == day, text


@given(DATES.filter(lambda d: d.day > 12), LOCALES)
def test_a_day_over_twelve_decides_the_order_whatever_the_locale(day: date, locale: str) -> None:
    assert parse_date(day.strftime("%d/%m/%Y"), locale) == day
    assert parse_date(day.strftime("%m/%d/%Y"), locale) == day
    assert parse_date(day.strftime("%d.%m.%Y 14:05"), locale) == day


@given(DATES.filter(lambda d: d.day <= 12 and d.day != d.month))
def test_an_ambiguous_date_follows_the_document_then_the_locale(day: date) -> None:
    text = day.strftime("%m/%d/%Y")
    # GIVEN no evidence on the document THEN the locale decides
    assert parse_date(text, "en_US") == day
    assert parse_date(text, "en_GB") != day
    # GIVEN another date on the document that is surely month first THEN that wins over en_GB
    evidence = shows_day_first([text, "12/25/2019"])
    assert evidence is False
    assert parse_date(text, "en_GB", day_first_evidence=evidence) == day


def test_dates_that_disagree_are_no_evidence() -> None:
    assert shows_day_first(["26/02/2019", "02/26/2019"]) is None
    assert shows_day_first(["26/02/2019", "11/02/2019"]) is True
    assert shows_day_first(["2019-02-26", "11/02/2019"]) is None
