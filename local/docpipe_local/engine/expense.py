"""AnalyzeExpense: summary fields and line items read off a page by label/value proximity.

Every value is text printed on the page. Confidences combine the OCR confidence of the words with
how the association was made: an exact label with its value on the same row scores higher than a
fuzzy label, a value on the line below, or a field known only by its position (the vendor name at
the top, an unlabelled date).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from docpipe_local.engine import forms
from docpipe_local.engine.blocks import text_blocks
from docpipe_local.engine.layout import Box, Line, Page, Quad, Word, geometry, median_height
from docpipe_local.engine.text import (AMOUNT, CURRENCY_CODES, DATE, PHONE, currency_of, date_readings,
                                       is_address_line, label_match, normalize_label, words_matching)

# Printed labels, in English and in the languages of the EU invoices docpipe is used on (French,
# German, Spanish, Italian, Dutch, Portuguese), compared after `normalize_label` (accents folded,
# "N°" read as "NO", numbers and punctuation dropped).
SUMMARY_LABELS: dict[str, tuple[str, ...]] = {
    "SUBTOTAL": ("SUBTOTAL", "SUB TOTAL", "SUBTOTAL AMOUNT", "NET TOTAL", "TOTAL NET", "NET AMOUNT",
                 "TOTAL HT", "MONTANT HT", "SOUS TOTAL", "TOTAL HORS TAXES", "ZWISCHENSUMME", "NETTOBETRAG",
                 "SUMME NETTO", "GESAMT NETTO", "NETTO", "BASE IMPONIBLE", "IMPONIBILE", "SUBTOTAAL",
                 "TOTAAL EXCL BTW"),
    "TAX": ("TAX", "SALES TAX", "VAT", "GST", "HST", "PST", "TAX AMOUNT", "TOTAL TAX", "TAXES", "TVA",
            "MONTANT TVA", "TOTAL TVA", "MWST", "MWST BETRAG", "UST", "MEHRWERTSTEUER", "UMSATZSTEUER", "IVA",
            "BTW", "CGST", "SGST", "IGST"),
    "TOTAL": ("TOTAL", "GRAND TOTAL", "TOTAL AMOUNT", "INVOICE TOTAL", "TOTAL SALE", "TOTAL FOR THIS INVOICE",
              "TOTAL TTC", "MONTANT TTC", "TOTAL A PAYER", "MONTANT TOTAL", "TOTAL FACTURE", "SOMME A PAYER",
              "MONTANT A PAYER", "GESAMTBETRAG",
              "RECHNUNGSBETRAG", "ENDBETRAG", "GESAMTSUMME", "SUMME", "GESAMT", "BRUTTOBETRAG", "TOTAL A PAGAR",
              "IMPORTE TOTAL", "TOTALE", "TOTALE FATTURA", "TOTAAL", "TOTAAL INCL BTW", "VALOR TOTAL"),
    "AMOUNT_DUE": ("AMOUNT DUE", "BALANCE DUE", "TOTAL DUE", "BALANCE", "PLEASE PAY", "AMOUNT PAYABLE",
                   "TOTAL AMOUNT DUE", "RESTE A PAYER", "NET A PAYER", "ZAHLBETRAG", "ZU ZAHLEN", "TE BETALEN"),
    "AMOUNT_PAID": ("AMOUNT PAID", "PAID", "TEND", "TENDER", "TENDERED", "CASH", "PAYMENT", "PAYMENT RECEIVED"),
    "GRATUITY": ("TIP", "GRATUITY", "POURBOIRE", "TRINKGELD", "PROPINA"),
    "DISCOUNT": ("DISCOUNT", "DISCOUNTS", "REMISE", "RABATT", "DESCUENTO", "SCONTO", "KORTING"),
    "INVOICE_RECEIPT_ID": ("INVOICE NUMBER", "INVOICE NO", "INVOICE #", "INVOICE ID", "INV #", "INV NO",
                           "RECEIPT #", "RECEIPT NO", "RECEIPT NUMBER", "BILL NO", "BILL #", "BILL NUMBER",
                           "TR #", "TRANS #", "TRANSACTION #", "TRANSACTION NO", "TRANSACTION NUMBER",
                           "FACTURE NO", "FACTURE #", "NUMERO DE FACTURE", "NO DE FACTURE", "FACTURE NUMERO",
                           "RECHNUNGSNUMMER", "RECHNUNG NR", "RECHNUNGS NR", "RECHNUNG NUMMER", "RECHNUNGSNR",
                           "FACTURA NO", "NUMERO DE FACTURA", "FACTURA #", "FATTURA N", "FATTURA NO",
                           "NUMERO FATTURA", "FACTUURNUMMER", "FACTUUR NR", "NUMERO DA FATURA"),
    "INVOICE_RECEIPT_DATE": ("DATE", "INVOICE DATE", "RECEIPT DATE", "DATE OF ISSUE", "ISSUE DATE", "DATE ISSUED",
                             "BILL DATE", "BILLING DATE", "STATEMENT DATE", "DATED", "TRANSACTION DATE",
                             "DATE DE FACTURE", "DATE FACTURE",
                             "DATE D EMISSION", "RECHNUNGSDATUM", "DATUM", "FECHA", "FECHA DE FACTURA", "DATA",
                             "DATA FATTURA", "FACTUURDATUM", "DATA DE EMISSAO"),
    "DUE_DATE": ("DUE DATE", "DATE DUE", "PAYMENT DUE", "DUE", "DUE BY", "PAY BY", "PAYMENT DUE DATE", "ECHEANCE",
                 "DATE D ECHEANCE", "DATE LIMITE DE PAIEMENT", "FALLIG AM", "FALLIGKEITSDATUM", "ZAHLBAR BIS",
                 "FECHA DE VENCIMIENTO", "VENCIMIENTO", "SCADENZA", "VERVALDATUM", "DATA DE VENCIMENTO",
                 "ZAHLUNGSZIEL"),
    "ORDER_DATE": ("ORDER DATE", "DATE OF ORDER", "ORDERED ON", "DATE DE COMMANDE", "BESTELLDATUM", "FECHA DE PEDIDO",
                   "FECHA DEL PEDIDO", "DATA DELL ORDINE", "BESTELDATUM", "DATA DO PEDIDO"),
    "PO_NUMBER": ("PO", "PO #", "PO NO", "PO NUMBER", "P O", "P O #", "P O NUMBER", "PURCHASE ORDER",
                  "PURCHASE ORDER NUMBER", "PURCHASE ORDER #", "BON DE COMMANDE", "NO BON DE COMMANDE", "NO DE COMMANDE",
                  "NUMERO DE COMMANDE", "BESTELLNUMMER"),
    "PAYMENT_TERMS": ("TERMS", "PAYMENT TERMS", "CONDITIONS DE PAIEMENT", "ZAHLUNGSBEDINGUNGEN"),
    "VENDOR_PHONE": ("PHONE", "TEL", "TELEPHONE", "PH"),
}
_MONEY = {"SUBTOTAL", "TAX", "TOTAL", "AMOUNT_DUE", "AMOUNT_PAID", "GRATUITY", "DISCOUNT"}
_DATES = {"INVOICE_RECEIPT_DATE", "DUE_DATE", "ORDER_DATE"}
_IDS = {"INVOICE_RECEIPT_ID", "PO_NUMBER"}
_TAX_WORDS = {"TAX", "VAT", "GST", "HST", "PST", "TVA", "MWST", "UST", "IVA", "BTW"}
# A total said to exclude or include the tax ("Total without VAT", "Total paid with VAT", "Betrag inkl. MwSt").
_SUM_WORDS = {"TOTAL", "AMOUNT", "SUM", "MONTANT", "BETRAG", "SUMME", "IMPORTE", "TOTALE", "TOTAAL", "VALOR"}
_EXCLUDING = {"WITHOUT", "EXCL", "EXCLUDING", "EXCLUSIVE", "BEFORE", "PRE", "HORS", "OHNE", "EXKL", "ZZGL", "SIN",
              "SENZA", "SEM"}
_INCLUDING = {"WITH", "INCL", "INCLUDING", "INCLUSIVE", "INC", "AFTER", "INKL", "INKLUSIVE", "CON", "COM"}
# "Total Current Charges", "Total Electric Charges": the bill's total, named by what it totals.
# Matched with the spaces removed, as OCR often drops them ("Total CurrentCharges").
_TOTAL_OF_CHARGES = re.compile(r"^TOTAL[A-Z]{0,20}CHARGES?$")
RECEIVER_LABELS = ("BILL TO", "BILLED TO", "SOLD TO", "INVOICE TO", "CUSTOMER", "TO")
SENDER_LABELS = ("FROM", "BILL FROM", "SELLER", "SUPPLIER", "VENDOR", "SOLD BY", "ISSUED BY")
PARTY_LABELS = (*RECEIVER_LABELS, *SENDER_LABELS)
# Labels of values Textract reports as OTHER: knowing them keeps them out of the vendor name.
OTHER_LABELS = ("ORDER NUMBER", "ORDER NO", "ORDER #", "CUSTOMER ID", "CUSTOMER NO", "CUSTOMER #", "CUSTOMER NUMBER",
                "ACCOUNT NUMBER", "ACCOUNT NO", "ACCOUNT #", "ACC #", "REFERENCE", "REF #", "REF NO", "PAGE",
                "KUNDENNR", "KUNDENNUMMER", "NUMERO CLIENT", "ID CLIENT", "BOOKING ID", "ORDER ID")
# What a template prints where the vendor's logo goes.
_PLACEHOLDERS = {"LOGO", "YOUR LOGO", "COMPANY LOGO", "LOGO HERE", "YOUR COMPANY", "COMPANY NAME"}
_TITLES = {"INVOICE", "RECEIPT", "TAX INVOICE", "SALES RECEIPT", "STATEMENT", "BILL", "QUOTE", "ESTIMATE",
           "CUSTOMER COPY", "COPY", "ORIGINAL", "DUPLICATE", "PAYMENT RECEIPT", "INVOICE SUMMARY", "FACTURE",
           "RECHNUNG", "FACTURA", "FATTURA", "FACTUUR", "FATURA", "QUITTUNG", "TICKET", "RETAIL INVOICE"}
# What may stand between a label and its value on one line.
_FILLERS = {":", "-", "#", "le", "du", "au", "am", "vom", "on", "of", "the", "el", "del", "il"}
# Words of a document's title: a line made only of them is not a name, and a name does not end in them.
_TITLE_WORDS = frozenset(w for title in _TITLES for w in title.split()) | {"INVOICES", "RECEIPTS", "SUMMARY"}
HEADER_LABELS: dict[str, tuple[str, ...]] = {
    "ITEM": ("DESCRIPTION", "ITEM DESCRIPTION", "ITEM", "PRODUCT", "SERVICE", "DETAILS", "PARTICULARS"),
    "PRODUCT_CODE": ("ITEM #", "ITEM NO", "SKU", "CODE", "ITEM CODE", "PART #", "PART NO", "PRODUCT CODE"),
    "QUANTITY": ("QTY", "QUANTITY", "HOURS", "HRS", "UNITS"),
    "UNIT_PRICE": ("UNIT PRICE", "PRICE", "RATE", "UNIT COST", "PRICE EACH", "EACH"),
    "PRICE": ("AMOUNT", "TOTAL", "LINE TOTAL", "EXT PRICE", "EXTENDED PRICE"),
}
ALL_LABELS = (frozenset(p for phrases in SUMMARY_LABELS.values() for p in phrases) | set(RECEIVER_LABELS)
              | set(SENDER_LABELS) | set(OTHER_LABELS))

# Association factors (see the module docstring).
_BY_POSITION = 0.85  # vendor name/address/phone from the top of the page
_WEAK_POSITION = 0.7
_UNLABELLED_DATE = 0.9
_AMBIGUOUS_DATE = 0.65
_COLUMN_HEADER = 0.95  # line item field under a recognised column header
_ROW_SHAPE = 0.85  # line item field by its place in the row (no header)


@dataclass
class _Field:
    type: str
    type_confidence: float
    value: Sequence[Word]
    value_confidence: float
    label: Sequence[Word] = ()
    value_text: str | None = None  # multi-line values (addresses) joined with newlines
    polygon: Quad | None = None


def expense_document(page: Page, index: int) -> dict[str, Any]:
    """One ExpenseDocument for the page: SummaryFields, LineItemGroups and the page's blocks."""
    rows = page.rows()
    items, item_rows = _line_items(rows, page)
    in_items = {w.id for row in item_rows for line in row for w in line.words}
    fields: list[_Field] = []
    used: set[str] = set(in_items)

    for pair in forms.key_values(page, ALL_LABELS):
        if any(w.id in used for w in [*pair.key, *pair.value]) or label_match(pair.key_text, PARTY_LABELS):
            continue  # parties are read as blocks below
        field = _labelled(pair)
        if field is not None:
            fields.append(field)
            used.update(w.id for w in [*pair.key, *pair.value])
    fields.extend(_line_prefix_pairs(page, used))
    fields.extend(_numbered_title(page, used))
    fields.extend(_row_amounts(rows, used))
    fields.extend(_party(page, rows, used, RECEIVER_LABELS, "RECEIVER"))
    fields.extend(sender := _party(page, rows, used, SENDER_LABELS, "VENDOR"))
    fields.extend(_vendor(page, rows, used, first_item_row=_first_row_index(rows, item_rows), named=bool(sender)))
    if not any(f.type in ("INVOICE_RECEIPT_DATE", "ORDER_DATE") for f in fields):
        fields.extend(_unlabelled_date(page, used))
    _total_among_subtotals(fields)

    order = {w.id: i for i, w in enumerate(w for line in page.lines for w in line.words)}
    fields.sort(key=lambda f: min(order[w.id] for w in f.value))
    return {
        "ExpenseIndex": index,
        "SummaryFields": [_field_json(f, page.number) for f in fields],
        "LineItemGroups": [{"LineItemGroupIndex": 1, "LineItems": items}] if items else [],
        "Blocks": text_blocks(page),
    }


# -- labelled summary fields -------------------------------------------------------------------------
def summary_type(label: str) -> tuple[str, float] | None:
    """The summary field type a printed label names, with how surely ("Total EUR" is a total)."""
    codes = [w for w in label.split() if w.upper().strip("():") in CURRENCY_CODES]
    if codes and len(codes) < len(label.split()):
        label = " ".join(w for w in label.split() if w not in codes)
    best: tuple[str, float] | None = None
    for kind, phrases in SUMMARY_LABELS.items():
        score = label_match(label, phrases)
        if score and (best is None or score > best[1]):
            best = (kind, score)
    words = normalize_label(label).split()
    if best is None and words[-1:] == ["#"] and len(words) > 1:
        return summary_type(" ".join(words[:-1]))  # "Invoice No : #"
    if best is None and _SUM_WORDS.intersection(words) and _TAX_WORDS.intersection(words):
        if _EXCLUDING.intersection(words):
            return ("SUBTOTAL", 0.9)
        if _INCLUDING.intersection(words):
            return ("TOTAL", 0.9)
    if best is None and _TOTAL_OF_CHARGES.match("".join(words)) and not _TAX_WORDS.intersection(words):
        return ("TOTAL", 0.85)
    if best is None and words and words[-1] in _TAX_WORDS:
        best = ("TAX", 0.9)  # "CA TAX 7.75%", "STATE SALES TAX"
    elif best is None and _TAX_WORDS.intersection(words):
        best = ("TAX", 0.8)  # "T = CA TAX 7.7500 on 153.123": the rate and base follow the word
    return best


# Words that say "number" and so belong to the label when printed after its colon ("INVOICE: NO. 001").
_NUMBER_MARKS = {"NO", "NO.", "N°", "NR", "NR.", "NUMBER", "NUM", "#", "NUMERO", "NUMÉRO", "NUMMER"}


def _labelled(pair: forms.KeyValue) -> _Field | None:
    typed = summary_type(pair.key_text)
    if typed is None and len(pair.value) > 1 and pair.value[0].text.upper() in _NUMBER_MARKS:
        marked = summary_type(f"{pair.key_text.rstrip(':')} {pair.value[0].text}")
        value = _id_words(pair.value[1:])
        if marked is not None and marked[0] in _IDS and value and re.search(r"\d", " ".join(w.text for w in value)):
            certainty = pair.association * marked[1]
            return _Field(marked[0], 100 * certainty, value, _min_conf(value) * certainty,
                          [*pair.key, pair.value[0]])
    if typed is not None:
        kind, score = typed
        pattern = AMOUNT if kind in _MONEY else DATE if kind in _DATES else PHONE if kind == "VENDOR_PHONE" else None
        value = words_matching(pair.value, pattern) if pattern else _id_words(pair.value) if kind in _IDS else pair.value
        if value and (kind not in _IDS or re.search(r"\d", " ".join(w.text for w in value))):
            certainty = pair.association * score
            return _Field(kind, 100 * certainty, value, _min_conf(value) * certainty, pair.key)
    # Any other printed label with its value: Textract reports these as OTHER.
    return _Field("OTHER", 100 * pair.association, pair.value, pair.confidence, pair.key)


def _line_prefix_pairs(page: Page, used: set[str]) -> list[_Field]:
    """A known label and its value read as one line without a colon ("DUE DATE Dec24,2020",
    "TOTAL $46.69"): the label must be the whole start of the line and the rest must have the
    value's shape."""
    fields = []
    for line in page.lines:
        words = line.words
        if len(words) < 2 or any(w.id in used for w in words):
            continue
        for size in range(min(4, len(words) - 1), 0, -1):
            if any(_value_word(w.text) for w in words[:size]):
                continue  # the label would swallow its own value ("Facture n° 562044387")
            typed = summary_type(" ".join(w.text for w in words[:size]))
            if typed is None or typed[1] < 0.9 or typed[0] not in SUMMARY_LABELS:
                continue
            kind, rest = typed[0], words[size:]
            while len(rest) > 1 and rest[0].text.lower() in _FILLERS:
                rest = rest[1:]  # "Date : 28/11/2022", "Date limite de paiement le 05 Juillet 2015"
            pattern = AMOUNT if kind in _MONEY else DATE if kind in _DATES else PHONE if kind == "VENDOR_PHONE" else None
            value = words_matching(rest, pattern) if pattern else _id_words(rest) if kind in _IDS else rest
            if not value or value[0] is not rest[0] or (kind in _IDS | {"PAYMENT_TERMS"} and not re.search(
                    r"\d", " ".join(w.text for w in value))):
                break
            certainty = forms.SAME_ROW_KNOWN_LABEL * typed[1]
            fields.append(_Field(kind, 100 * certainty, value, _min_conf(value) * certainty, words[:size]))
            used.update(w.id for w in [*words[:size], *value])
            break
    return fields


def _numbered_title(page: Page, used: set[str]) -> list[_Field]:
    """The document's number printed as "# 1234" right under its title ("INVOICE" / "# INV-0042")."""
    titles = [ln for ln in page.lines if normalize_label(ln.text) in _TITLES]
    for line in page.lines:
        words = line.words
        if len(words) < 2 or words[0].text not in ("#", "No", "No.", "N°") or any(w.id in used for w in words):
            continue
        value = _id_words(words[1:])
        above = [t for t in titles if t.box.x_overlap(line.box) > 0 and 0 <= line.box.top - t.box.bottom
                 <= 1.5 * t.box.height]
        if value and above and re.search(r"\d", " ".join(w.text for w in value)):
            certainty = forms.BELOW_KNOWN_LABEL
            used.update(w.id for w in [*words[:1], *value])
            return [_Field("INVOICE_RECEIPT_ID", 100 * certainty, value, _min_conf(value) * certainty,
                           [*above[0].words, words[0]])]
    return []


def _id_words(words: Sequence[Word]) -> list[Word]:
    """The identifier at the start of a value: "562044387" of "562044387 du 02 Juillet 2015",
    "INV-3337" of "INV-3337 - Page 1/1"; an identifier is words with digits or capitals only."""
    taken: list[Word] = []
    for word in words:
        if word.text.lower() in _FILLERS or DATE.match(" ".join(w.text for w in words[len(taken):])) or not (
                re.search(r"\d", word.text) or re.fullmatch(r"[A-Z0-9#/_.-]+", word.text)):
            break
        taken.append(word)
    return taken


def _value_word(text: str) -> bool:
    """A word that is a value, not part of a label: an amount, a date or a long number."""
    return bool(AMOUNT.search(text) or DATE.search(text) or re.search(r"\d{4}", text))


def _row_amounts(rows: list[list[Line]], used: set[str]) -> list[_Field]:
    """Amounts at the end of a row whose text before them names a summary amount but is not a plain
    label ("T = CA TAX 7.7500 on 153.123   $10.683"): known only by the row's shape, so less sure."""
    fields = []
    for row in rows:
        if len(row) < 2 or any(w.id in used for ln in row for w in ln.words):
            continue
        amount = words_matching(row[-1].words, AMOUNT)
        label = [w for ln in row[:-1] for w in ln.words]
        typed = summary_type(" ".join(w.text for w in label))
        if not amount or typed is None or typed[0] not in _MONEY or AMOUNT.search(" ".join(w.text for w in label)):
            continue
        certainty = forms.SAME_ROW_BY_VALUE_SHAPE * typed[1]
        fields.append(_Field(typed[0], 100 * certainty, amount, _min_conf(amount) * certainty, label))
        used.update(w.id for w in [*label, *amount])
    return fields


def _total_among_subtotals(fields: list[_Field]) -> None:
    """With no total on the page, a "subtotal" that equals another subtotal plus the tax is the total:
    "TOTAL H.T. 4,30 / TVA 0,30 / TOTAL NET 4,60" ("net" is after tax in one usage, before it in another)."""
    if any(f.type == "TOTAL" for f in fields):
        return
    taxes = [v for f in fields if f.type == "TAX" and (v := _amount_value(f)) is not None]
    subtotals = [(v, f) for f in fields if f.type == "SUBTOTAL" and (v := _amount_value(f)) is not None]
    for value, field in subtotals:
        if any(other < value and any(abs(other + tax - value) <= Decimal("0.01") for tax in taxes)
               for other, _ in subtotals):
            field.type = "TOTAL"
            return


def _amount_value(field: _Field) -> Decimal | None:
    """The number an amount field prints: the last "." or "," before one or two final digits is the
    decimal mark, any other is a thousands separator."""
    match = AMOUNT.search(" ".join(w.text for w in field.value))
    digits = re.sub(r"[^\d.,]", "", match.group()) if match else ""
    if not re.search(r"\d", digits):
        return None
    whole, mark, cents = re.match(r"^(.*?)(?:([.,])(\d{1,2}))?$", digits).groups()
    return Decimal(re.sub(r"\D", "", whole) or "0") + (Decimal(f"0.{cents}") if mark else Decimal(0))


# -- labelled parties (Bill To, From) -----------------------------------------------------------------
def _party(page: Page, rows: list[list[Line]], used: set[str], labels: Sequence[str], kind: str) -> list[_Field]:
    """`kind`_NAME and `kind`_ADDRESS from the block under a party label ("Bill To", "From:"): the
    first name-like line, then the address lines. "Name: John Doe" in the block gives "John Doe",
    and a name printed after the label on its line ("FROM: Company ABC") is the name."""
    height = median_height(page.lines)
    for r, row in enumerate(rows):
        for line in row:
            if any(w.id in used for w in line.words):
                continue
            label, inline = line.words, []
            score = label_match(line.text, labels)
            if not score:
                label, inline = _inline_party(line.words, labels)
                score = label_match(" ".join(w.text for w in label), labels) if inline else 0.0
            if not score:
                continue
            anchors = [line.box.left] + ([inline[0].box.left] if inline else [])
            block = [(ln, value) for ln in _block_below(line, rows[r + 1:], height, anchors)
                     if (value := _block_value(ln))]
            names = [(-1, inline)] if inline else [
                (i, value) for i, (ln, value) in enumerate(block)
                if not is_address_line(ln.text) and not re.search(r"\d|@", " ".join(w.text for w in value))]
            if not names:
                continue
            used.update(w.id for w in label)
            at, name = names[0]
            certainty = score * _BY_POSITION
            fields = [_Field(f"{kind}_NAME", 100 * certainty, name, _min_conf(name) * certainty, label)]
            rest = [(ln, value) for ln, value in block[at + 1:] if is_address_line(" ".join(w.text for w in value))]
            if rest:
                words = [w for _, value in rest for w in value]
                fields.append(_Field(f"{kind}_ADDRESS", 100 * certainty, words, _min_conf(words) * certainty,
                                     label, value_text="\n".join(" ".join(w.text for w in v) for _, v in rest),
                                     polygon=Box.union(ln.box for ln, _ in rest).quad()))
            used.update(w.id for w in [*name, *(w for _, value in rest for w in value)])
            return fields
    return []


def _inline_party(words: list[Word], labels: Sequence[str]) -> tuple[list[Word], list[Word]]:
    """(label, name) of a line that prints a party label, its colon, then a name ("TO: John Doe");
    empty when the line is not one."""
    ends = [i for i, w in enumerate(words[:-1]) if forms.terminates_key(w)]
    if not ends:
        return [], []
    label, name = words[:ends[0] + 1], words[ends[0] + 1:]
    text = " ".join(w.text for w in name)
    if not label_match(" ".join(w.text for w in label), labels) or re.search(r"\d|@|:", text) \
            or sum(ch.isalpha() for ch in text) < 2 or is_address_line(text):
        return [], []
    return label, name


def _block_value(line: Line) -> list[Word]:
    """A block line's value: the words after its "Label:" if it has one; nothing for an amount or
    a label glued to its value ("City,State:Any"), which cannot be split reliably."""
    words = line.words
    ends = [i for i, w in enumerate(words) if forms.terminates_key(w)]
    value = words[ends[0] + 1:] if ends else words
    if AMOUNT.search(line.text) or any(":" in w.text for w in value):
        return []
    return value


def _block_below(label: Line, rows: list[list[Line]], height: float, anchors: Sequence[float] = ()) -> list[Line]:
    """Lines left-aligned under `label` (or under another of the `anchors`, such as the start of a
    name printed after the label), row after row, until a gap or the alignment breaks."""
    block: list[Line] = []
    bottom = label.box.bottom
    lefts = anchors or [label.box.left]
    for row in rows:
        aligned = [ln for ln in row if any(abs(ln.box.left - left) <= 2 * height for left in lefts)]
        if not aligned or aligned[0].box.top - bottom > 1.5 * height:
            break
        line = aligned[0]
        bottom = line.box.bottom
        block.append(line)
    return block[:5]


# -- vendor --------------------------------------------------------------------------------------------
def _vendor(page: Page, rows: list[list[Line]], used: set[str], first_item_row: int, named: bool) -> list[_Field]:
    """Vendor name (the largest text among the first lines that read like a name) unless a "From"
    block already `named` it, the address lines under it, and the first phone number, all above the
    line items."""
    header_rows = [row for row in rows[:first_item_row] if row[0].box.top < 0.4]
    candidates = [(r, [ln for ln in row if _name_like(ln, used)]) for r, row in enumerate(header_rows)]
    candidates = [(r, lines) for r, lines in candidates if lines][:3]
    fields: list[_Field] = []
    if candidates and not named:
        # The name is the first of the top candidate rows set in the largest type; it is surer when
        # that is also the topmost one.
        tallest = max(max(ln.box.height for ln in lines) for _, lines in candidates)
        name_row, lines = next((r, lines) for r, lines in candidates
                               if max(ln.box.height for ln in lines) >= 0.95 * tallest)
        lines = _name_lines(lines, header_rows[name_row + 1:], used)
        words = [w for ln in lines for w in ln.words]
        while len(words) > 1 and normalize_label(words[-1].text) in _TITLE_WORDS:
            words.pop()  # "Amazon Web Services Invoice"
        while len(words) > 1 and normalize_label(words[0].text) in _PLACEHOLDERS:
            words.pop(0)  # "LOGO LE FOURNISSEUR": the template's logo box printed before the name
        factor = _BY_POSITION if name_row == candidates[0][0] else _WEAK_POSITION
        fields.append(_Field("VENDOR_NAME", 100 * factor, words, _min_conf(words) * factor,
                             polygon=Box.union(ln.box for ln in lines).quad()))
        used.update(w.id for w in words)
        name_box = Box.union(ln.box for ln in lines)
        address = [ln for row in header_rows[name_row + 1:] for ln in row
                   if is_address_line(ln.text) and ln.box.x_overlap(name_box) > 0
                   and not any(w.id in used for w in ln.words)]
        if address:
            words = [w for ln in address for w in ln.words]
            fields.append(_Field("VENDOR_ADDRESS", 100 * _BY_POSITION, words, _min_conf(words) * _BY_POSITION,
                                 value_text="\n".join(ln.text for ln in address),
                                 polygon=Box.union(ln.box for ln in address).quad()))
            used.update(w.id for w in words)
    for row in header_rows:
        for line in row:
            phone = words_matching(line.words, PHONE)
            if phone and not any(w.id in used for w in phone) and not any(f.type == "VENDOR_PHONE" for f in fields):
                fields.append(_Field("VENDOR_PHONE", 100 * _BY_POSITION, phone, _min_conf(phone) * _BY_POSITION))
                used.update(w.id for w in phone)
    return fields


def _name_lines(lines: list[Line], below: list[list[Line]], used: set[str]) -> list[Line]:
    """The lines that make up the vendor name, starting from the first of `lines`.

    Lines of one row in the same large type and close together are one name ("MEGA" "BIGBOX"); a
    title far across the page ("MEDICAL INSURANCE INVOICE") is not. A name set too wide for its
    column wraps: a name-like line right under it, left-aligned and in the same type, continues it
    ("AnyCompany Hardware" / "Supplies").
    """
    tallest = max(x.box.height for x in lines)
    name = [lines[0]]
    for line in lines[1:]:
        if line.box.height >= 0.7 * tallest and line.box.left - name[-1].box.right <= 2.5 * tallest:
            name.append(line)
    aligned = [ln for row in below for ln in row if abs(ln.box.left - name[0].box.left) <= 0.5 * tallest]
    for line in aligned[:2]:
        last = name[-1]
        if not (line.box.height >= 0.8 * last.box.height and 0 <= line.box.top - last.box.bottom <= 0.6 * tallest
                and _name_like(line, used)):
            break
        name.append(line)
    return name


def _name_like(line: Line, used: set[str]) -> bool:
    text = line.text
    letters = sum(ch.isalpha() for ch in text)
    return (letters >= 3 and letters >= 0.6 * len(text.replace(" ", ""))
            and not any(w.id in used for w in line.words) and normalize_label(text) not in _PLACEHOLDERS
            and not set(normalize_label(text).split()) <= _TITLE_WORDS
            and not (AMOUNT.search(text) or DATE.search(text) or PHONE.search(text) or "@" in text)
            and not is_address_line(text) and not summary_type(text)
            and not any(forms.terminates_key(w) for w in line.words))  # "FROM: Company ABC" is a label and a value


# -- unlabelled date -----------------------------------------------------------------------------------
def _unlabelled_date(page: Page, used: set[str]) -> list[_Field]:
    """The first printed date when no label names one; less sure when several dates differ."""
    found = [(line, words) for line in page.lines if (words := words_matching(line.words, DATE))
             and not any(w.id in used for w in words)]
    if not found:
        return []
    readings = [date_readings(" ".join(w.text for w in words)) for _, words in found]
    agree = all(readings[0] & other for other in readings[1:])
    factor = _UNLABELLED_DATE if agree else _AMBIGUOUS_DATE
    words = found[0][1]
    used.update(w.id for w in words)
    return [_Field("INVOICE_RECEIPT_DATE", 100 * factor, words, _min_conf(words) * factor)]


# -- line items ----------------------------------------------------------------------------------------
@dataclass
class _Column:
    type: str
    label: list[Word]
    left: float
    right: float


def _line_items(rows: list[list[Line]], page: Page) -> tuple[list[dict[str, Any]], list[list[Line]]]:
    """Line items: rows with a description and an amount, after the column header (if any) and
    before the first subtotal/total row. Returns the items and the rows they (and the header) used."""
    header_at, columns = _header(rows)
    start = header_at + 1 if columns else 0
    items, used_rows = [], [rows[header_at]] if columns else []
    for row in rows[start:]:
        if _is_summary_row(row):
            break
        if not any(AMOUNT.search(ln.text) for ln in row) or _labelled_row(row):
            continue
        item = _item_from_columns(row, columns, page.number) if columns else _item_from_shape(row, page.number)
        if item is not None:
            items.append(item)
            used_rows.append(row)
    return items, used_rows


def _labelled_row(row: list[Line]) -> bool:
    """A row that starts with a known label of a date or a number ("Date limite de paiement le …")."""
    words = row[0].words
    return any((typed := summary_type(" ".join(w.text for w in words[:size]))) is not None
               and typed[1] >= 0.9 and typed[0] not in _MONEY for size in range(1, min(4, len(words)) + 1))


def _is_summary_row(row: list[Line]) -> bool:
    """A row that starts with a money label, or whose amount at the right follows one ("Thank you for
    your business.   Subtotal   $5,280.00": a note printed beside the totals)."""
    labels = [row[0]]
    if len(row) >= 3 and AMOUNT.search(row[-1].text) and not AMOUNT.search(row[-2].text):
        labels.append(row[-2])
    for line in labels:
        typed = summary_type(line.text)
        if typed is not None and typed[0] in _MONEY and (line is row[0] or typed[1] >= 0.9):
            return True
    return False


def _header(rows: list[list[Line]]) -> tuple[int, list[_Column]]:
    """The first row that reads as column headers of at least two kinds (e.g. Description, Qty, Amount)."""
    for r, row in enumerate(rows):
        if any(AMOUNT.search(ln.text) for ln in row):
            continue
        columns = [c for ln in row for c in _header_phrases(ln.words)]
        if len({c.type for c in columns}) >= 2 and \
                sum(len(c.label) for c in columns) >= 0.7 * sum(len(ln.words) for ln in row):
            if not any(c.type == "PRICE" for c in columns):
                # A lone "Price" column next to a quantity is the line's price, not a unit price.
                for c in columns:
                    if c.type == "UNIT_PRICE" and normalize_label(" ".join(w.text for w in c.label)) == "PRICE":
                        c.type = "PRICE"
            return r, columns
    return -1, []


def _header_phrases(words: list[Word]) -> list[_Column]:
    """Greedy longest matches of header phrases over a line's words."""
    columns, i = [], 0
    while i < len(words):
        for size in (3, 2, 1):
            chunk = words[i:i + size]
            kind = next((k for k, phrases in HEADER_LABELS.items()
                         if len(chunk) == size and normalize_label(" ".join(w.text for w in chunk)) in phrases), None)
            if kind:
                box = Box.union(w.box for w in chunk)
                columns.append(_Column(kind, chunk, box.left, box.right))
                i += size
                break
        else:
            i += 1
    return columns


def _item_from_columns(row: list[Line], columns: list[_Column], page: int) -> dict[str, Any] | None:
    cells: dict[int, list[Word]] = {}
    for line in row:
        box = line.box
        best = max(range(len(columns)), key=lambda c: (min(box.right, columns[c].right) - max(box.left, columns[c].left),
                                                       -abs(box.center_x - (columns[c].left + columns[c].right) / 2)))
        cells.setdefault(best, []).extend(line.words)
    fields = []
    for c, words in sorted(cells.items()):
        column = columns[c]
        value = words_matching(words, AMOUNT) if column.type in ("PRICE", "UNIT_PRICE") else words
        if value:
            fields.append(_item_field(column.type, value, _COLUMN_HEADER, page, column.label))
    if not any(f["Type"]["Text"] == "PRICE" for f in fields):
        return None
    return _item(fields, row, _COLUMN_HEADER, page)


def _item_from_shape(row: list[Line], page: int) -> dict[str, Any] | None:
    """No header: description at the left, amounts at the right (the last one is the price)."""
    amounts = [(ln, words) for ln in row if (words := words_matching(ln.words, AMOUNT))]
    first_amount = amounts[0][0].box.left
    # A date is no description: "May 17 2018   $148.89" is a due date and an amount due under their labels.
    text = [ln for ln in row if ln.box.right <= first_amount and sum(ch.isalpha() for ch in ln.text) >= 2
            and not DATE.fullmatch(ln.text.strip())]
    if not text:
        return None
    fields = [_item_field("ITEM", [w for ln in text for w in ln.words], _ROW_SHAPE, page)]
    quantity = [ln for ln in row if ln.box.left >= text[-1].box.right and ln.box.right <= first_amount
                and re.fullmatch(r"\d{1,4}", ln.text)]
    if quantity:
        fields.append(_item_field("QUANTITY", quantity[0].words, _ROW_SHAPE, page))
    if len(amounts) >= 2:
        fields.append(_item_field("UNIT_PRICE", amounts[-2][1], _ROW_SHAPE, page))
    fields.append(_item_field("PRICE", amounts[-1][1], _ROW_SHAPE, page))
    return _item(fields, row, _ROW_SHAPE, page)


def _item(fields: list[dict[str, Any]], row: list[Line], factor: float, page: int) -> dict[str, Any]:
    words = [w for ln in row for w in ln.words]
    expense_row = {"Type": {"Text": "EXPENSE_ROW", "Confidence": 100 * factor},
                   "ValueDetection": {"Text": " ".join(ln.text for ln in row),
                                      "Geometry": geometry(Box.union(ln.box for ln in row).quad()),
                                      "Confidence": _min_conf(words) * factor},
                   "PageNumber": page}
    return {"LineItemExpenseFields": [*fields, expense_row]}


def _item_field(kind: str, value: Sequence[Word], factor: float, page: int,
                label: Sequence[Word] = ()) -> dict[str, Any]:
    return _field_json(_Field(kind, 100 * factor, value, _min_conf(value) * factor, label), page)


# -- JSON ----------------------------------------------------------------------------------------------
def _field_json(field: _Field, page: int) -> dict[str, Any]:
    text = field.value_text if field.value_text is not None else " ".join(w.text for w in field.value)
    polygon = field.polygon or forms.value_polygon(field.value)
    result: dict[str, Any] = {"Type": {"Text": field.type, "Confidence": field.type_confidence}}
    if field.label:
        result["LabelDetection"] = {"Text": " ".join(w.text for w in field.label),
                                    "Geometry": geometry(forms.value_polygon(field.label)),
                                    "Confidence": statistics.mean(w.confidence for w in field.label)}
    result["ValueDetection"] = {"Text": text, "Geometry": geometry(polygon), "Confidence": field.value_confidence}
    result["PageNumber"] = page
    if field.type in _MONEY or field.type in ("PRICE", "UNIT_PRICE") or field.type == "OTHER" and AMOUNT.search(text):
        label = " ".join(w.text for w in field.label)
        code = currency_of(text) or currency_of(label)
        if code:
            result["Currency"] = {"Code": code}
    return result


def _min_conf(words: Sequence[Word]) -> float:
    return min(w.confidence for w in words)


def _first_row_index(rows: list[list[Line]], item_rows: list[list[Line]]) -> int:
    if not item_rows:
        return len(rows)
    first = item_rows[0]
    return next(i for i, row in enumerate(rows) if row is first)
