"""The local engine's AnalyzeExpense on layouts real invoices and receipts use (text-layer PDFs, no OCR)."""

from __future__ import annotations

from typing import Any

import pytest

from docpipe_local.engine import documents, expense
from docpipe_local.engine.layout import Line
from docpipe_local.engine.text import AMOUNT, DATE
from tests.pdfs import Run, text_pdf


class _NoOcr:
    def read(self, image: Any) -> list[Line]:
        raise AssertionError("a text-layer PDF must not need OCR")


def analyze(runs: list[Run]) -> dict[str, Any]:
    page = documents.read_pages(text_pdf(runs), "application/pdf", _NoOcr())[0]
    return expense.expense_document(page, 1)


def fields(document: dict[str, Any]) -> dict[str, str]:
    """Type → value of the summary fields (the first of each type)."""
    found: dict[str, str] = {}
    for field in document["SummaryFields"]:
        found.setdefault(field["Type"]["Text"], field["ValueDetection"]["Text"])
    return found


def confidence(document: dict[str, Any], type_: str) -> float:
    return next(f["ValueDetection"]["Confidence"] for f in document["SummaryFields"] if f["Type"]["Text"] == type_)


def test_from_and_to_blocks_name_the_vendor_and_the_receiver() -> None:
    # GIVEN an invoice whose sender sits under "From:" and whose header has other labelled numbers
    document = analyze([
        (480, 50, 20, "Invoice"),
        (50, 100, 10, "From:"), (360, 100, 10, "Invoice Number"), (460, 100, 10, "INV-0042"),
        (50, 114, 10, "Tailspin Design Studio"), (360, 114, 10, "Order Number"), (460, 114, 10, "98765"),
        (50, 128, 10, "Suite 4B-200"), (360, 128, 10, "Invoice Date"), (460, 128, 10, "March 3, 2024"),
        (50, 142, 10, "77 Quay Street"),
        (50, 156, 10, "Brisbane, QLD 4000"),
        (50, 200, 10, "To:"),
        (50, 214, 10, "Wingtip Toys"),
        (50, 228, 10, "5 Pier Road"),
        (50, 242, 10, "Melbourne, VIC 3000"),
        (360, 300, 10, "Total"), (460, 300, 10, "$120.00"),
    ])
    found = fields(document)
    # THEN the vendor is the name under "From:", not a label like "Order Number"
    assert found["VENDOR_NAME"] == "Tailspin Design Studio"
    assert found["VENDOR_ADDRESS"] == "Suite 4B-200\n77 Quay Street\nBrisbane, QLD 4000"
    assert found["RECEIVER_NAME"] == "Wingtip Toys"
    assert found["RECEIVER_ADDRESS"] == "5 Pier Road\nMelbourne, VIC 3000"
    assert found["INVOICE_RECEIPT_DATE"] == "March 3, 2024"
    assert "Order Number" not in {f["ValueDetection"]["Text"] for f in document["SummaryFields"]}


def test_a_wrapped_vendor_name_is_one_name_and_a_far_title_is_not_part_of_it() -> None:
    # GIVEN a vendor name set in large type over two lines, and a title in large type far to the right
    document = analyze([
        (50, 50, 18, "Fabrikam Garden"), (400, 50, 18, "PATIENT BILLING"),
        (50, 72, 18, "Supplies"),
        (50, 96, 10, "161 Raynor Overpass"),
        (50, 110, 10, "East Tamfort WI 18913"),
        (380, 140, 10, "DATE"), (440, 140, 10, "Dec09,2020"),
        (380, 154, 10, "DUE DATE"), (440, 154, 10, "Dec24,2020"),
        (380, 300, 10, "Total:"), (460, 300, 10, "$147.05"),
    ])
    found = fields(document)
    # THEN the two lines make one vendor name and the title stays out
    assert found["VENDOR_NAME"] == "Fabrikam Garden Supplies"
    assert found["VENDOR_ADDRESS"] == "161 Raynor Overpass\nEast Tamfort WI 18913"
    # AND dates printed without spaces are still dates
    assert (found["INVOICE_RECEIPT_DATE"], found["DUE_DATE"]) == ("Dec09,2020", "Dec24,2020")


def test_a_logo_placeholder_is_never_the_vendor() -> None:
    document = analyze([
        (50, 40, 26, "invoice"), (480, 40, 20, "LOGO"),
        (50, 90, 10, "FROM"),
        (50, 104, 10, "East Harbor Repair Inc."),
        (50, 118, 10, "1912 Harvest Lane"),
        (50, 132, 10, "New York, NY 12210"),
        (380, 300, 10, "TOTAL"), (460, 300, 10, "$154.06"),
    ])
    assert fields(document)["VENDOR_NAME"] == "East Harbor Repair Inc."


def test_sales_tax_rows_and_three_decimal_amounts_on_a_receipt() -> None:
    # GIVEN a US receipt that prints tax to a tenth of a cent and describes the tax on its row
    document = analyze([
        (200, 50, 16, "THE CORNER STORE"),
        (190, 70, 10, "02/13/2022 12:28 AM"),
        (100, 120, 10, "Wall Calendar"), (250, 120, 10, "1"), (330, 120, 10, "$15.80"),
        (100, 134, 10, "Thermometer"), (250, 134, 10, "1"), (330, 134, 10, "$27.64"),
        (230, 170, 10, "SUBTOTAL"), (330, 170, 10, "$43.44"),
        (100, 184, 10, "T = CA TAX 7.7500 on 46.698"), (330, 184, 10, "$3.258"),
        (240, 198, 10, "TOTAL"), (330, 198, 10, "$46.698"),
        (150, 300, 10, "Sunday, February 13, 2022 12:28 AM"),
    ])
    found = fields(document)
    # THEN tax and total are read as printed
    assert (found["SUBTOTAL"], found["TAX"], found["TOTAL"]) == ("$43.44", "$3.258", "$46.698")
    # AND a tax known only from its row's wording is less sure than a labelled amount
    assert confidence(document, "TAX") < confidence(document, "SUBTOTAL")
    # AND the date printed twice in two styles is one date, read with the confidence of agreement
    assert found["INVOICE_RECEIPT_DATE"] == "02/13/2022"
    assert confidence(document, "INVOICE_RECEIPT_DATE") >= 80


def test_two_different_unlabelled_dates_make_the_date_less_sure() -> None:
    agreeing = analyze([(50, 50, 16, "CORNER CAFE"), (50, 70, 10, "02/13/2022"), (50, 200, 10, "13 Feb 2022"),
                        (50, 120, 10, "TOTAL"), (200, 120, 10, "$4.00")])
    differing = analyze([(50, 50, 16, "CORNER CAFE"), (50, 70, 10, "02/13/2022"), (50, 200, 10, "14 Mar 2022"),
                         (50, 120, 10, "TOTAL"), (200, 120, 10, "$4.00")])
    assert confidence(differing, "INVOICE_RECEIPT_DATE") < 80 <= confidence(agreeing, "INVOICE_RECEIPT_DATE")


def test_a_french_invoice_reads_its_labels_amounts_and_month_names() -> None:
    # GIVEN a French invoice: "n°" glued to the number, "Date :" spaced the French way, the currency after
    # the amount (a code here: the test PDFs' Helvetica has no euro sign)
    document = analyze([
        (50, 120, 12, "Facture n°562044387 du 02 Juillet 2015"),
        (50, 136, 10, "Date limite de paiement le 05 Juillet 2015"), (420, 136, 10, "29.99 EUR TTC"),
        (380, 200, 10, "Total HT :"), (480, 200, 10, "24,99 EUR"),
        (380, 214, 10, "TVA 20% :"), (480, 214, 10, "5,00 EUR"),
        (380, 228, 10, "Total TTC :"), (480, 228, 10, "29,99 EUR"),
    ])
    found = fields(document)
    # THEN number, dates and amounts land in Textract's types, the number cut where it ends
    assert found["INVOICE_RECEIPT_ID"] == "562044387"
    assert found["INVOICE_RECEIPT_DATE"] == "02 Juillet 2015"
    assert found["DUE_DATE"] == "05 Juillet 2015"
    assert (found["SUBTOTAL"], found["TAX"], found["TOTAL"]) == ("24,99 EUR", "5,00 EUR", "29,99 EUR")
    # AND a line that starts with a label is not a line item
    assert not document["LineItemGroups"]


def test_a_german_invoice_and_a_tax_rate_that_is_not_an_amount() -> None:
    document = analyze([
        (50, 120, 10, "Rechnungsnr."), (130, 120, 10, "30064443"),
        (50, 134, 10, "Rechnungsdatum"), (130, 134, 10, "7. Mai 2014"),
        (380, 200, 10, "Sales Tax 6.25%"), (480, 200, 10, "9.06"),
        (380, 214, 10, "Gesamtbetrag"), (480, 214, 10, "34,73 EUR"),
    ])
    found = fields(document)
    assert (found["INVOICE_RECEIPT_ID"], found["INVOICE_RECEIPT_DATE"]) == ("30064443", "7. Mai 2014")
    # THEN the rate in the label is not the tax: the amount to its right is
    assert found["TAX"] == "9.06" and found["TOTAL"] == "34,73 EUR"


@pytest.mark.parametrize(("text", "amount"), [
    ("45,93 €", "45,93 €"), ("$153.123", "$153.123"), ("Total 4.11 USD", "4.11 USD"), ("(5.00)", "(5.00)"),
    ("Sales Tax 6.25%", None), ("1,234", None), ("153.123", None), ("12.07.2019", None), ("Qty 1 125.00", "125.00"),
    ("43 EUR", "43 EUR"), ("8.6 EUR", "8.6 EUR"), ("-10 EUR", "-10 EUR"), ("3 RS", None), ("20%", None),
])
def test_what_the_engine_reads_as_an_amount(text: str, amount: str | None) -> None:
    found = AMOUNT.search(text)
    assert (found.group(0).strip() if found else None) == amount


@pytest.mark.parametrize(("text", "date"), [
    ("Dec24,2020", "Dec24,2020"), ("29Jan2009", "29Jan2009"), ("August 3 , 2014", "August 3 , 2014"),
    ("du 02 Juillet 2015", "02 Juillet 2015"), ("Rechnungsdatum 7. Mai 2014", "7. Mai 2014"),
    ("5 décembre 2021", "5 décembre 2021"), ("Market 12 2020", None), ("Page 1/1", None),
    ("13-June-2016", "13-June-2016"), ("Order date: 28 Jan 15", "28 Jan 15"), ("1 Jan 15:00", None),
])
def test_what_the_engine_reads_as_a_date(text: str, date: str | None) -> None:
    found = DATE.search(text)
    assert (found.group(0) if found else None) == date


def test_a_number_under_the_title_is_the_invoice_number() -> None:
    document = analyze([(50, 40, 12, "LOGO Sammy Tools"), (420, 40, 24, "INVOICE"), (424, 70, 12, "# INV-000042"),
                        (380, 300, 10, "Total:"), (460, 300, 10, "$127.50")])
    assert fields(document)["INVOICE_RECEIPT_ID"] == "INV-000042"
    # AND the logo box printed before the vendor's name is not part of it
    assert fields(document)["VENDOR_NAME"] == "Sammy Tools"


# -- layouts of the fourth evaluation batch (general rules, hand-built pages) ---------------------------
def test_unpadded_amounts_before_a_currency_and_totals_named_by_the_tax_they_exclude_or_include() -> None:
    # GIVEN generated-invoice totals printed without padding ("43 EUR") and named "without"/"with VAT"
    document = analyze([
        (50, 40, 12, "Big Corp"),
        (300, 300, 10, "Total without VAT"), (450, 300, 10, "43 EUR"),
        (300, 314, 10, "VAT Rate"), (450, 314, 10, "20%"),
        (300, 328, 10, "VAT Paid"), (450, 328, 10, "8.6 EUR"),
        (300, 342, 10, "Total paid with VAT"), (450, 342, 10, "51.6 EUR"),
    ])
    found = fields(document)
    # THEN the total before tax is the subtotal, the one with tax is the total, and the rate is no amount
    assert (found["SUBTOTAL"], found["TAX"], found["TOTAL"]) == ("43 EUR", "8.6 EUR", "51.6 EUR")


def test_a_number_sign_glued_to_its_number_and_a_label_that_prints_its_own_value() -> None:
    # GIVEN "Invoice #2334889" (no space after "#") with "PO 456001200" and "Client 42" on the lines under it
    document = analyze([
        (50, 40, 16, "Your Company Name"), (480, 40, 20, "INVOICE"),
        (480, 70, 10, "13-June-2016"),
        (470, 84, 10, "Invoice #2334889"),
        (480, 98, 10, "PO 456001200"),
        (480, 112, 10, "Client 42"),
        (380, 300, 10, "Total"), (480, 300, 10, "6000.00"),
    ])
    found = fields(document)
    # THEN each label keeps the value printed after it, not the line below
    assert (found["INVOICE_RECEIPT_ID"], found["PO_NUMBER"]) == ("2334889", "456001200")
    # AND a date whose day, month name and year are joined by hyphens is the date
    assert found["INVOICE_RECEIPT_DATE"] == "13-June-2016"


def test_a_number_glued_to_the_sign_under_the_title_is_the_invoice_number() -> None:
    document = analyze([(420, 40, 24, "INVOICE"), (440, 70, 12, "#23413561D"),
                        (50, 90, 10, "John Smith"), (380, 300, 10, "Total:"), (460, 300, 10, "$19,647.68")])
    assert fields(document)["INVOICE_RECEIPT_ID"] == "23413561D"


def test_parties_named_after_their_label_on_the_same_line_and_a_number_mark_after_the_colon() -> None:
    # GIVEN "FROM: Company ABC" and "TO: John Doe" side by side, and "INVOICE: NO. 001"
    document = analyze([
        (480, 50, 20, "Invoice"),
        (440, 80, 10, "DATE: 01/01/1970"),
        (440, 94, 10, "INVOICE: NO. 001"),
        (60, 140, 10, "FROM: Company ABC"), (310, 140, 10, "TO: John Doe"),
        (92, 154, 10, "user@companyabc.com"), (340, 154, 10, "johndoe@email.com"),
        (60, 180, 10, "ADDRESS: 111 Main Street"), (310, 180, 10, "ADDRESS: 222 Main Street"),
        (106, 194, 10, "Anytown, USA"),
        (380, 300, 10, "BALANCE DUE"), (480, 300, 10, "$2140.00"),
    ])
    found = fields(document)
    # THEN the names are what follows each label, without it
    assert (found["VENDOR_NAME"], found["RECEIVER_NAME"]) == ("Company ABC", "John Doe")
    assert found["VENDOR_ADDRESS"] == "111 Main Street\nAnytown, USA"
    # AND "NO." after the colon belongs to the label: the number is the invoice number
    assert found["INVOICE_RECEIPT_ID"] == "001"


def test_labels_side_by_side_head_columns_and_ocr_dropped_spaces_in_labels() -> None:
    # GIVEN a bill whose header prints two labels in a row (spaces lost by OCR) and their values below
    document = analyze([
        (50, 40, 18, "SCE&G"), (380, 40, 10, "DATEDUE"), (480, 40, 10, "AMOUNTDUE"),
        (380, 54, 10, "May 17 2018"), (480, 54, 10, "$148.89"),
        (200, 150, 10, "Electric Charges"), (480, 150, 10, "$148.89"),
        (200, 164, 10, "Total Current Charges"), (480, 164, 10, "$148.89"),
    ])
    found = fields(document)
    # THEN each label takes the value under it
    assert (found["DUE_DATE"], found["AMOUNT_DUE"]) == ("May 17 2018", "$148.89")
    # AND "Total … Charges" is the bill's total
    assert found["TOTAL"] == "$148.89"


def test_an_order_date_is_the_document_date_and_a_date_in_the_small_print_is_not() -> None:
    document = analyze([
        (50, 40, 14, "Tax Invoice"), (50, 56, 10, "Envato"),
        (440, 90, 10, "Order date: 28 Jan 15"), (440, 104, 10, "Invoice No. 12429647"),
        (50, 200, 14, "Invoice Total: $101.00"),
        (50, 300, 8, "Credits from this purchase will expire on 28 Jan 2016."),
    ])
    found = fields(document)
    # THEN the labelled order date (two-digit year) is read, and no unlabelled date is added
    assert found["ORDER_DATE"] == "28 Jan 15"
    assert "INVOICE_RECEIPT_DATE" not in found


def test_a_note_printed_beside_the_totals_is_not_a_line_item() -> None:
    document = analyze([
        (50, 40, 14, "Berg Builders Inc."),
        (50, 150, 10, "ITEM"), (150, 150, 10, "DESCRIPTION"), (380, 150, 10, "QUANTITY"), (480, 150, 10, "TOTAL"),
        (50, 170, 10, "Deck Repair"), (150, 170, 10, "Labor wash and stain"), (400, 170, 10, "1"),
        (480, 170, 10, "$85.00"),
        (50, 220, 10, "Thank you for choosing Berg Builders."), (400, 220, 10, "Subtotal"), (480, 220, 10, "$85.00"),
        (400, 234, 10, "Balance Due"), (480, 234, 10, "$85.00"),
    ])
    # THEN the subtotal is read and the note row is not an item
    assert fields(document)["SUBTOTAL"] == "$85.00"
    items = document["LineItemGroups"][0]["LineItems"]
    assert [next(f["ValueDetection"]["Text"] for f in item["LineItemExpenseFields"] if f["Type"]["Text"] == "ITEM")
            for item in items] == ["Deck Repair"]


def test_a_net_total_that_adds_the_tax_to_the_pre_tax_total_is_the_total() -> None:
    # GIVEN a French receipt: "TOTAL H.T." (dotted), "TVA", then "TOTAL NET" = H.T. + TVA
    document = analyze([
        (150, 40, 12, "Starbucks Coffee France"),
        (60, 120, 10, "TOTAL H.T."), (300, 120, 10, "4,30"),
        (60, 134, 10, "TVA"), (300, 134, 10, "0,30"),
        (60, 148, 10, "TOTAL NET"), (300, 148, 10, "4,60"),
    ])
    found = fields(document)
    assert (found["SUBTOTAL"], found["TAX"], found["TOTAL"]) == ("4,30", "0,30", "4,60")


def test_french_spaced_colons_totals_headed_over_their_values_and_net_to_pay() -> None:
    # GIVEN a French invoice: "N° BON DE COMMANDE : …" with the colon set off by spaces, the totals
    # printed as column heads over their values with a line of small print between, and "NET A PAYER"
    document = analyze([
        (50, 60, 10, "FACTURE N° : F20260023"),
        (50, 80, 10, "N° BON DE COMMANDE : PO201925478"),
        (380, 650, 6, "TOTAL HT"), (445, 650, 6, "TOTAL TVA"), (515, 650, 6, "TOTAL TTC"),
        (110, 654, 6, "taux d'interet legal."),
        (110, 660, 6, "Indemnite forfaitaire pour frais de recouvrement"),
        (384, 664, 6, "100,00"), (453, 664, 6, "4,90"), (520, 664, 6, "104,90"),
        (330, 700, 7, "NET A PAYER"), (480, 700, 7, "104,90 EUR"),
    ])
    found = fields(document)
    # THEN the order number is read after the spaced colon, each total under its head, and the net
    # to pay is the amount due
    assert found["PO_NUMBER"] == "PO201925478"
    assert (found["SUBTOTAL"], found["TAX"], found["TOTAL"]) == ("100,00", "4,90", "104,90")
    assert found["AMOUNT_DUE"] == "104,90 EUR"
