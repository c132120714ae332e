"""Write samples/invoice-2-pages.pdf: a two-page US invoice with a real text layer.

Standard library only, hand-written PDF syntax, the Helvetica base fonts (every PDF reader has them,
so nothing is embedded). The line items run from page 1 onto page 2, where the totals are. The output
is byte-for-byte reproducible (no timestamps), so re-running this script leaves git clean.

    python tools/make_invoice_pdf.py
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

OUTPUT = Path(__file__).resolve().parents[1] / "samples" / "invoice-2-pages.pdf"

VENDOR = ("Brightline Office Supply Co.", "4821 Commerce Parkway, Suite 200", "Columbus, OH 43219")
VENDOR_CONTACT = "(614) 555-0142  |  billing@brightline.example  |  brightline.example"
BILL_TO = ("Lakeside Dental Group", "Attn: Accounts Payable", "900 Lakeview Drive", "Madison, WI 53703")
SHIP_TO = ("Lakeside Dental Group - Clinic 2", "1450 Monroe Street", "Madison, WI 53711")
DETAILS = (
    ("Invoice Number:", "INV-2025-0417"),
    ("Invoice Date:", "03/14/2025"),
    ("Due Date:", "04/13/2025"),
    ("Terms:", "Net 30"),
    ("PO Number:", "PO-88213"),
    ("Customer ID:", "C-10294"),
)
TAX_RATE = Decimal("0.075")
DEPOSIT = Decimal("500.00")

# (SKU, description, quantity, unit price); the first PAGE_1_ITEMS fit on page 1.
ITEMS = (
    ("OF-10231", "Copy paper, letter, 20 lb, case of 10 reams", 12, "54.99"),
    ("OF-20418", "Toner cartridge, 58A compatible, black", 6, "89.50"),
    ("OF-11002", "Ballpoint pens, black, box of 12", 10, "8.49"),
    ("OF-11310", "Sticky notes, 3 x 3 in, 12-pack", 8, "11.25"),
    ("OF-12044", "File folders, letter, box of 100", 5, "18.99"),
    ("OF-12051", "Hanging file folders, box of 25", 4, "21.40"),
    ("OF-13007", "Stapler, desktop, full strip", 3, "16.75"),
    ("OF-13008", "Staples, standard, 5,000 count", 6, "4.29"),
    ("FN-40112", "Ergonomic office chair, mesh back", 2, "249.00"),
    ("FN-40230", "Monitor stand, height adjustable", 4, "39.95"),
    ("OF-14420", "Label maker tape, 1/2 in, black on white", 6, "17.80"),
    ("OF-11520", "Whiteboard markers, assorted, 8-pack", 5, "12.60"),
    ("OF-15003", "Desk organizer, 5 compartments", 4, "14.95"),
    ("EQ-30071", "Paper shredder, cross-cut, 12 sheet", 1, "189.00"),
    ("OF-18002", "Copy paper, legal, 20 lb, ream", 4, "7.49"),
    ("OF-18240", "Laminating pouches, letter, 100 count", 2, "24.99"),
    ("TK-60310", "USB-C docking station, dual monitor", 2, "139.00"),
    ("OF-19011", "Desk calendar, 2025, monthly", 6, "9.95"),
    ("EQ-30072", "Shredder lubricant oil, 12 oz", 3, "7.99"),
    ("OF-13120", "Binder clips, assorted sizes, 60 count", 6, "6.49"),
    ("OF-16024", "3-ring binders, 2 in, 4-pack", 5, "23.75"),
    ("OF-17010", "Security envelopes, #10, box of 500", 4, "27.30"),
    ("BR-50015", "Ground coffee, medium roast, 2.5 lb", 6, "19.99"),
    ("SV-90001", "Delivery and assembly, office chairs", 1, "75.00"),
)
PAGE_1_ITEMS = 18

# Helvetica advance widths (1/1000 em) from its AFM, for right-aligning amounts; Helvetica-Bold has
# the same widths for these characters.
_HELVETICA_WIDTHS = {**dict.fromkeys("0123456789$", 556), ",": 278, ".": 278, "-": 333}

# Columns (x in points) of the items table: SKU, description, quantity (right), unit price (right),
# amount (right).
_COL_SKU, _COL_DESC, _COL_QTY, _COL_PRICE, _COL_AMOUNT = 54, 120, 400, 478, 558
_LEFT, _RIGHT = 54, 558


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    return f"${value:,.2f}"


def totals() -> dict[str, Decimal]:
    """The invoice's figures, as a reader of the printed invoice would compute them."""
    subtotal = sum((cents(Decimal(price) * qty) for _, _, qty, price in ITEMS), Decimal("0"))
    tax = cents(subtotal * TAX_RATE)
    total = subtotal + tax
    return {"subtotal": subtotal, "tax": tax, "total": total, "paid": DEPOSIT, "due": total - DEPOSIT}


class Canvas:
    """Accumulates one page's content stream."""

    def __init__(self) -> None:
        self.ops: list[str] = []

    def text(self, x: float, y: float, value: str, *, size: float = 10, bold: bool = False) -> None:
        font = "F2" if bold else "F1"
        self.ops.append(f"BT /{font} {size:g} Tf {x:.2f} {y:.2f} Td ({_escape(value)}) Tj ET")

    def text_right(self, x: float, y: float, value: str, *, size: float = 10, bold: bool = False) -> None:
        width = sum(_HELVETICA_WIDTHS[ch] for ch in value) * size / 1000
        self.text(x - width, y, value, size=size, bold=bold)

    def rule(self, y: float, *, weight: float = 0.5, left: float = _LEFT) -> None:
        self.ops.append(f"{weight:g} w {left:g} {y:.2f} m {_RIGHT} {y:.2f} l S")

    def band(self, y: float, height: float) -> None:
        self.ops.append(f"0.90 g {_LEFT} {y:.2f} {_RIGHT - _LEFT} {height:g} re f 0 g")

    def content(self) -> bytes:
        return "\n".join(self.ops).encode("cp1252")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _items_table(page: Canvas, top: float, items: tuple[tuple[str, str, int, str], ...]) -> float:
    """Draw the header band and rows; return the y below the last row."""
    page.band(top - 4, 16)
    for x, label in ((_COL_SKU, "Item #"), (_COL_DESC, "Description")):
        page.text(x, top, label, bold=True)
    page.text(_COL_QTY - 20, top, "Qty", bold=True)
    page.text(_COL_PRICE - 52, top, "Unit Price", bold=True)
    page.text(_COL_AMOUNT - 40, top, "Amount", bold=True)
    y = top - 22
    for sku, description, qty, price in items:
        page.text(_COL_SKU, y, sku, size=9.5)
        page.text(_COL_DESC, y, description, size=9.5)
        page.text_right(_COL_QTY, y, str(qty), size=9.5)
        page.text_right(_COL_PRICE, y, money(Decimal(price)), size=9.5)
        page.text_right(_COL_AMOUNT, y, money(cents(Decimal(price) * qty)), size=9.5)
        y -= 21
    page.rule(y + 12)
    return y


def _footer(page: Canvas, number: int) -> None:
    page.rule(60, weight=0.3)
    page.text(_LEFT, 46, f"{VENDOR[0]}  |  Invoice INV-2025-0417", size=8)
    page.text(504, 46, f"Page {number} of 2", size=8)


def first_page() -> Canvas:
    page = Canvas()
    page.text(_LEFT, 738, VENDOR[0], size=18, bold=True)
    for i, line in enumerate(VENDOR[1:]):
        page.text(_LEFT, 720 - 13 * i, line)
    page.text(_LEFT, 694, VENDOR_CONTACT, size=8.5)
    page.text(420, 738, "INVOICE", size=24, bold=True)
    for i, (label, value) in enumerate(DETAILS):
        page.text(380, 712 - 14 * i, label, size=9.5, bold=True)
        page.text(462, 712 - 14 * i, value, size=9.5)
    page.rule(612)
    for x, title, lines in ((_LEFT, "Bill To", BILL_TO), (306, "Ship To", SHIP_TO)):
        page.text(x, 594, title, size=10.5, bold=True)
        for i, line in enumerate(lines):
            page.text(x, 578 - 13 * i, line)
    y = _items_table(page, 500, ITEMS[:PAGE_1_ITEMS])
    page.text(_LEFT, y - 8, "Continued on page 2.", size=9)
    _footer(page, 1)
    return page


def second_page() -> Canvas:
    figures = totals()
    page = Canvas()
    page.text(_LEFT, 738, VENDOR[0], size=12, bold=True)
    page.text(_LEFT, 722, "Invoice INV-2025-0417 (continued)  |  Invoice Date: 03/14/2025", size=9.5)
    y = _items_table(page, 690, ITEMS[PAGE_1_ITEMS:])
    rows = (
        ("Subtotal", figures["subtotal"], False),
        (f"Sales Tax ({TAX_RATE * 100:.1f}%)", figures["tax"], False),
        ("Total", figures["total"], True),
        ("Amount Paid (deposit 03/01/2025)", -figures["paid"], False),
        ("Amount Due (USD)", figures["due"], True),
    )
    y -= 14
    for label, amount, bold in rows:
        page.text(330, y, label, size=10, bold=bold)
        page.text_right(_COL_AMOUNT, y, money(amount).replace("$-", "-$"), size=10, bold=bold)
        if label == "Total":
            page.rule(y - 6, weight=0.3, left=330)
        y -= 18
    notes = (
        "Payment terms: Net 30. Please pay by 04/13/2025.",
        "Make checks payable to Brightline Office Supply Co., or pay online at brightline.example/pay.",
        "Please include invoice number INV-2025-0417 with your payment.",
        "Questions about this invoice? Call (614) 555-0142 or email billing@brightline.example.",
    )
    y -= 24
    page.text(_LEFT, y, "Notes", size=10.5, bold=True)
    for line in notes:
        y -= 14
        page.text(_LEFT, y, line, size=9.5)
    page.text(_LEFT, y - 28, "Thank you for your business!", size=11, bold=True)
    _footer(page, 2)
    return page


def build() -> bytes:
    """The whole PDF file."""
    contents = [first_page().content(), second_page().content()]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [6 0 R 8 0 R] /Count 2 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title (Invoice INV-2025-0417) /Author (Brightline Office Supply Co.) "
        b"/Producer (docpipe tools/make_invoice_pdf.py) >>",
    ]
    for content in contents:
        page_id = len(objects) + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # the binary comment marks the file as binary
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def main() -> None:
    OUTPUT.write_bytes(build())
    figures = totals()
    print(
        f"wrote {OUTPUT} ({OUTPUT.stat().st_size:,} bytes): "
        + ", ".join(f"{k} {v}" for k, v in figures.items())
    )


if __name__ == "__main__":
    main()
