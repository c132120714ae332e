"""Reading dates, amounts and currencies as a person does (docpipe.normalize.values)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from docpipe.normalize.values import (
    Money,
    clean_address,
    clean_identifier,
    clean_name,
    day_first,
    locale_currency,
    parse_date,
    parse_money,
    parse_quantity,
    shows_decimal_comma,
)


@pytest.mark.parametrize(("text", "locale", "expected"), [
    # Ambiguous day/month: the locale decides.
    ("12/07/2019", "en_US", date(2019, 12, 7)),
    ("12/07/2019", "en_GB", date(2019, 7, 12)),
    ("12/07/2019", "en_NZ", date(2019, 7, 12)),
    ("12/07/2019", "en_AU", date(2019, 7, 12)),
    ("12/07/2019", "en_KE", date(2019, 7, 12)),
    ("12/07/2019 12:22 PM", "en_US", date(2019, 12, 7)),
    # A part above 12 is the day whatever the locale.
    ("26/02/2019", "en_US", date(2019, 2, 26)),
    ("02/26/2019", "en_GB", date(2019, 2, 26)),
    ("03/18/2001", "en_GB", date(2001, 3, 18)),
    # A month name decides.
    ("Dec 09, 2020", "en_GB", date(2020, 12, 9)),
    ("April 1, 2022", "en_US", date(2022, 4, 1)),
    ("07 February 2018", "en_US", date(2018, 2, 7)),
    ("12-Dec-2019", "en_US", date(2019, 12, 12)),
    ("December 7th, 2019", "en_GB", date(2019, 12, 7)),
    ("7 Jan 24", "en_US", date(2024, 1, 7)),
    # Day and year run together where OCR dropped the spaces.
    ("May172018", "en_GB", date(2018, 5, 17)),
    ("Apr52018", "en_US", date(2018, 4, 5)),
    # Year first, and Textract's normalized form.
    ("2019-12-07", "en_GB", date(2019, 12, 7)),
    ("2028-01-20T00:00:00", "en_US", date(2028, 1, 20)),
    ("12.12.2006", "en_GB", date(2006, 12, 12)),
])
def test_dates(text: str, locale: str, expected: date) -> None:
    # GIVEN a date as printed WHEN it is read under a locale THEN it is the calendar date a reader means
    assert parse_date(text, locale) == expected


@pytest.mark.parametrize("text", ["", "present", "31/02/2019", "12/07", "13/13/2020", "2019"])
def test_text_that_is_not_one_date(text: str) -> None:
    # GIVEN text that does not make a calendar date WHEN it is read THEN there is no date
    assert parse_date(text, "en_US") is None


def test_two_digit_birth_year_lies_in_the_past() -> None:
    # GIVEN a date of birth printed 1/6/58 on a vaccination card
    # WHEN it is read as a birth date (not after the card's issue)
    # THEN it is 1958, not 2058
    assert parse_date("1/6/58", "en_US", not_after=date(2021, 1, 18)) == date(1958, 1, 6)
    assert parse_date("1/6/05", "en_US", not_after=date(2021, 1, 18)) == date(2005, 1, 6)


@pytest.mark.parametrize(("text", "locale", "amount", "currency"), [
    ("$1810.46", "en_US", "1810.46", "USD"),
    ("$899.99 S", "en_US", "899.99", "USD"),          # receipt tax flag after the amount
    ("$1,234.56", "en_US", "1234.56", "USD"),
    ("$1810.46", "en_NZ", "1810.46", "NZD"),          # a bare $ is the locale's dollar
    ("$12.00", "en_GB", "12.00", "USD"),              # ... or USD where the locale has none
    ("NZ$ 45.00", "en_US", "45.00", "NZD"),
    ("£12.50", "en_US", "12.50", "GBP"),
    ("1.234,56 €", "en_US", "1234.56", "EUR"),        # European format, recognised from both separators
    ("€1.234,56", "en_GB", "1234.56", "EUR"),
    ("12,50 EUR", "en_US", "12.50", "EUR"),           # a comma with two decimals is a decimal comma
    ("KES 1,200", "en_KE", "1200", "KES"),
    ("Ksh 1,200.00", "en_US", "1200.00", "KES"),
    ("USD 12", "en_GB", "12", "USD"),
    ("$10.683", "en_US", "10.683", "USD"),            # three decimals, as printed on a receipt
    ("P21.50/Unit", "en_PH", "21.50", None),          # peso sign typed as P, per-unit suffix
    ("659.00 V", "en_PH", "659.00", None),
    ("-$5.00", "en_US", "-5.00", "USD"),
    ("($5.00)", "en_US", "-5.00", "USD"),
    ("12.00 CR", "en_US", "-12.00", None),
    ("1'234.50 CHF", "de_CH", "1234.50", "CHF"),
])
def test_money(text: str, locale: str, amount: str, currency: str | None) -> None:
    # GIVEN an amount as printed WHEN it is read THEN the Decimal and the currency it shows
    money = parse_money(text, locale)
    assert money is not None
    assert money.amount == Decimal(amount) and str(money.amount) == amount
    assert money.currency == currency


def test_a_lone_thousands_group_follows_the_document_then_the_locale() -> None:
    # GIVEN "1.234" (one separator, three digits)
    # WHEN the document shows no convention THEN the locale decides
    assert parse_money("1.234", "de_DE").amount == Decimal(1234)
    assert parse_money("1,234", "en_US").amount == Decimal(1234)
    # WHEN the document's other amounts are written 1.234,56 THEN it is a thousands group there too
    evidence = shows_decimal_comma(["1.234,56", "12,00"])
    assert evidence is True
    assert parse_money("1.234", "en_US", comma_decimal=evidence).amount == Decimal(1234)
    assert shows_decimal_comma(["$1810.46"]) is False and shows_decimal_comma(["21772"]) is None


@pytest.mark.parametrize("text", ["", "to", "/6.50", "P14. 50/Unit", "$ 452.43 23,526.80", "**** VISA 3433", "N/A"])
def test_text_that_is_not_one_amount(text: str) -> None:
    # GIVEN text that is not one amount (misread, two amounts, a card number) WHEN read THEN no amount
    assert parse_money(text, "en_US") is None


def test_quantities() -> None:
    # GIVEN quantities as printed on line items WHEN read THEN the count
    assert parse_quantity("2", "en_US") == Decimal(2)
    assert parse_quantity("3 x", "en_US") == Decimal(3)
    assert parse_quantity("1,5 kg", "de_DE") == Decimal("1.5")
    assert parse_quantity("to", "en_US") is None


def test_locale_defaults() -> None:
    # GIVEN the supported English locales WHEN asked for defaults THEN currency and date order per country
    assert [locale_currency(x) for x in ("en_US", "en_GB", "en_NZ", "en_AU", "en_KE")] == [
        "USD", "GBP", "NZD", "AUD", "KES"]
    assert day_first("en_US") is False
    assert all(day_first(x) for x in ("en_GB", "en_NZ", "en_AU", "en_KE"))
    assert locale_currency("en-nz.UTF-8") == "NZD"


def test_names_and_addresses_lose_stray_line_breaks() -> None:
    # GIVEN a vendor name and address as Textract returns them (with line breaks)
    # WHEN cleaned THEN they read as one line
    assert clean_name(" MEGA\nMARKET   PLUS ") == "MEGA MARKET PLUS"
    assert clean_address("100 MARKET STREET\nBIGTOWN, MA 02801\n") == "100 MARKET STREET, BIGTOWN, MA 02801"


def test_rupees_follow_the_locale_and_default_to_inr() -> None:
    # GIVEN "Rs", the sign India, Pakistan and Sri Lanka share (an OYO receipt prints "Rs 1939")
    assert parse_money("Rs 1939", "en_US") == Money(Decimal("1939"), "INR", "shared")
    assert parse_money("Rs. 1,939.50", "en_PK") == Money(Decimal("1939.50"), "PKR", "shared")
    # AND a word that merely ends in "rs" is no currency
    assert parse_money("Mrs 12.00", "en_US") is None


@pytest.mark.parametrize(("text", "expected"), [
    # A label read into the value is not part of the number (AnalyzeExpense: 'Invoice #' above 'Invoice #1258').
    ("Invoice #1258", "1258"),
    ("Receipt No: A-17", "A-17"),
    ("No. 0042", "0042"),
    ("N° 4711", "4711"),
    ("PO #098", "098"),
    ("#5531", "5531"),
    # Numbers that merely look like labels stay as printed.
    ("INV-3337", "INV-3337"),
    ("NOVA123", "NOVA123"),
    ("US-001", "US-001"),
    ("2312/2019", "2312/2019"),
    # Without a digit after it, a label-like word is the value itself.
    ("Number", "Number"),
])
def test_identifier_without_its_printed_label(text: str, expected: str) -> None:
    # GIVEN a document number as Textract read it WHEN cleaned THEN the number a person reads
    assert clean_identifier(text) == expected
