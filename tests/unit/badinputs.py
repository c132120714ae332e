"""Test documents built in code: well-formed ones, the bad-input corpus, and odd-but-valid uploads.

Whole-pipeline tests reuse the corpus: upload `case.key` with `case.body` and `case.content_type`,
lower the deployment's limits to `case.max_bytes` / `case.max_pages` where set, and expect the run to
end REJECTED with `case.error.code`. Everything is generated here (hand-written PDF syntax, PNG
chunks, ZIP and executable headers, Pillow for pixel data), so nothing binary is committed.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw

from docpipe.errors import (
    CorruptDocument,
    DocumentRejected,
    DocumentTooLarge,
    EmptyDocument,
    EncryptedDocument,
    SpoofedMediaType,
    TooManyPages,
    UnsupportedMediaType,
)
from tests.pdfs import assemble_pdf


@dataclass(frozen=True)
class BadInput:
    """An upload docpipe must reject, and the error it must be rejected with."""

    name: str
    key: str
    body: bytes
    error: type[DocumentRejected]
    content_type: str = "binary/octet-stream"
    max_bytes: int | None = None
    max_pages: int | None = None


@dataclass(frozen=True)
class OddInput:
    """An unusual upload docpipe must accept, with what validation must make of it."""

    name: str
    key: str
    body: bytes
    media_type: str
    pages: int
    content_type: str = "binary/octet-stream"


# Keys are only S3 keys to docpipe: none of these may be decoded, normalised or treated as a path.
ODD_KEYS: tuple[str, ...] = (
    "incoming/with space/scan 1.png",
    "incoming/ünïcødé/收据-квитанция.png",
    "incoming/a+b=c&d.png",
    "incoming/%2F..%2Fetc%2Fpasswd.png",
    "incoming/../../outside.png",
    "incoming/UPPER.PNG",
    "incoming/no-extension",
    "incoming/" + "k" * 1000 + ".png",  # 1,013 bytes: close to S3's 1,024-byte limit
)


# ---------------------------------------------------------------------------------------------
# Well-formed documents


def pdf_bytes(pages: int = 2, *, label: str = "docpipe test document") -> bytes:
    """A valid PDF with a Helvetica text line on each of `pages` pages."""
    return assemble_pdf(_pdf_page_objects(pages, label))


def png_bytes(width: int = 120, height: int = 80) -> bytes:
    return _encode(_picture(width, height), "PNG")


def jpeg_bytes(width: int = 320, height: int = 240) -> bytes:
    return _encode(_picture(width, height), "JPEG", quality=85)


def tiff_bytes(pages: int = 3, *, sizes: list[tuple[int, int]] | None = None) -> bytes:
    """A multi-page TIFF; `sizes` overrides each page's pixel size."""
    frames = [_picture(*size).convert("L") for size in (sizes or [(100, 140)] * pages)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw")
    return out.getvalue()


def big_png(total_bytes: int) -> bytes:
    """A valid PNG of about `total_bytes`: a small image plus a private chunk after the pixel data."""
    small = png_bytes(8, 8)
    iend = small[-12:]
    padding = total_bytes - len(small) - 12
    return small[:-12] + _png_chunk(b"prVt", b"\x00" * padding) + iend


# ---------------------------------------------------------------------------------------------
# Building blocks


def _picture(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 12):
        draw.line([(0, y), (width, height - y)], fill=(40, 80 + y % 150, 160))
    draw.text((4, 4), "TOTAL 12.34", fill="black")
    return image


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_with_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width` × `height` but whose pixel data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _pdf_page_objects(pages: int, label: str) -> list[bytes]:
    """Catalog (1), page tree (2), font (3), then a page and its content stream per page."""
    page_ids = [4 + 2 * i for i in range(pages)]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % p for p in page_ids), pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for number, page_id in enumerate(page_ids, 1):
        text = f"{label} - page {number} of {pages}".encode("latin-1")
        content = b"BT /F1 14 Tf 72 720 Td (%s) Tj ET" % text
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    return objects


_PDF_PASSWORD_PADDING = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_PDF_FILE_ID = bytes.fromhex("5d1c2b3a4f6e7d8c9bab0a1928374655")


def _rc4(key: bytes, data: bytes) -> bytes:
    state, j = list(range(256)), 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def encrypted_pdf(user_password: bytes, owner_password: bytes = b"owner") -> bytes:
    """A one-page PDF under the standard security handler, revision 2 (40-bit RC4).

    O and U follow the PDF 1.7 spec (algorithms 3.3 and 3.4), so pdfium accepts the empty user
    password when `user_password` is empty and asks for a password otherwise. The page content is
    left unencrypted: validation must refuse the file before anything reads the page.
    """
    padded_user = (user_password + _PDF_PASSWORD_PADDING)[:32]
    padded_owner = (owner_password + _PDF_PASSWORD_PADDING)[:32]
    permissions = -4
    owner_entry = _rc4(hashlib.md5(padded_owner).digest()[:5], padded_user)
    file_key = hashlib.md5(
        padded_user + owner_entry + struct.pack("<i", permissions) + _PDF_FILE_ID
    ).digest()[:5]
    user_entry = _rc4(file_key, _PDF_PASSWORD_PADDING)
    objects = _pdf_page_objects(1, "confidential")
    objects.append(
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
        % (owner_entry.hex().encode(), user_entry.hex().encode(), permissions)
    )
    file_id = _PDF_FILE_ID.hex().encode()
    trailer = b"/Encrypt %d 0 R /ID [<%s> <%s>] " % (len(objects), file_id, file_id)
    return assemble_pdf(objects, trailer_extra=trailer)


def windows_exe() -> bytes:
    """The first bytes of a PE executable: DOS header, DOS stub, PE signature and COFF header."""
    dos_header = b"MZ" + b"\x90\x00" * 29 + struct.pack("<I", 0x80)
    stub = b"This program cannot be run in DOS mode.\r\r\n$".ljust(0x80 - len(dos_header), b"\x00")
    coff = struct.pack("<HHIIIHH", 0x8664, 3, 0, 0, 0, 0xF0, 0x22)
    return dos_header + stub + b"PE\x00\x00" + coff + b"\x00" * 256


def linux_elf() -> bytes:
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + struct.pack("<HHI", 2, 0x3E, 1) + b"\x00" * 200


def zip_archive(entries: dict[str, bytes], *, stored: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx_like() -> bytes:
    """The parts of a Word document a type detector sees: [Content_Types].xml first, then word/."""
    return zip_archive(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            b'package/2006/content-types"/>',
            "_rels/.rels": b'<?xml version="1.0"?><Relationships/>',
            "word/document.xml": b'<?xml version="1.0"?><w:document/>',
        }
    )


def html_page() -> bytes:
    return (
        b'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Invoice INV-1001</title>'
        b"</head>\n<body>\n<h1>Invoice INV-1001</h1>\n<p>Amount due: $1,234.00</p>\n"
        b"<script>window.location = 'https://example.invalid/';</script>\n</body>\n</html>\n"
    )


def heic_header() -> bytes:
    """The opening boxes of an iPhone HEIC photo (ftyp brand heic, compatible mif1)."""
    ftyp = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    return ftyp + struct.pack(">I", 48) + b"meta" + b"\x00" * 40 + b"\x00" * 64


def webp_image() -> bytes:
    return _encode(_picture(64, 48), "WEBP")


def gif_image() -> bytes:
    return _encode(_picture(64, 48).convert("P"), "GIF")


def bmp_image() -> bytes:
    return _encode(_picture(64, 48), "BMP")


# ---------------------------------------------------------------------------------------------
# The corpus


@cache
def bad_inputs() -> tuple[BadInput, ...]:
    """Every upload docpipe must reject, one per failure mode."""
    pdf = pdf_bytes(2)
    png = png_bytes()
    jpeg = jpeg_bytes()
    progressive = _encode(_picture(320, 240), "JPEG", quality=85, progressive=True)
    no_pages = assemble_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
    hollow_tree = assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [] /Count 0 >>",
        ]
    )
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # inside the IHDR CRC
    return (
        BadInput("empty", "incoming/empty.pdf", b"", EmptyDocument),
        BadInput("one byte", "incoming/one-byte.pdf", b"%", CorruptDocument),
        BadInput("over the size limit", "incoming/big.pdf", pdf, DocumentTooLarge, max_bytes=len(pdf) - 1),
        BadInput("PDF over the page limit", "incoming/long.pdf", pdf_bytes(3), TooManyPages, max_pages=2),
        BadInput("TIFF over the page limit", "incoming/long.tiff", tiff_bytes(3), TooManyPages, max_pages=2),
        BadInput("executable named .pdf", "incoming/invoice.pdf", windows_exe(), SpoofedMediaType),
        BadInput(
            "ZIP named .pdf",
            "incoming/invoice.pdf",
            zip_archive({"invoice.txt": b"total 10"}),
            SpoofedMediaType,
        ),
        BadInput("Word document named .pdf", "incoming/invoice.pdf", docx_like(), SpoofedMediaType),
        BadInput("HTML named .pdf", "incoming/invoice.pdf", html_page(), SpoofedMediaType),
        BadInput("HEIC named .jpg", "incoming/IMG_0001.jpg", heic_header(), SpoofedMediaType),
        BadInput(
            "executable declared as application/pdf",
            "incoming/upload",
            linux_elf(),
            SpoofedMediaType,
            content_type="application/pdf",
        ),
        BadInput("executable", "incoming/setup.exe", windows_exe(), UnsupportedMediaType),
        BadInput("HEIC photo", "incoming/IMG_0002.heic", heic_header(), UnsupportedMediaType),
        BadInput("WebP image", "incoming/scan.webp", webp_image(), UnsupportedMediaType),
        BadInput("GIF image", "incoming/scan.gif", gif_image(), UnsupportedMediaType),
        BadInput("BMP image", "incoming/scan.bmp", bmp_image(), UnsupportedMediaType),
        BadInput(
            "plain text",
            "incoming/notes.txt",
            b"Lunch with client, total 42.10 USD\n" * 3,
            UnsupportedMediaType,
        ),
        # Polyglots: the format a file starts as wins; a %PDF header counts only within 1,024 bytes.
        BadInput(
            "ZIP carrying a PDF (polyglot)",
            "incoming/statement.pdf",
            zip_archive({"statement.pdf": pdf}, stored=True),
            SpoofedMediaType,
        ),
        BadInput(
            "GIF followed by a PDF (polyglot)", "incoming/statement.pdf", gif_image() + pdf, SpoofedMediaType
        ),
        BadInput(
            "PDF header at offset 1,025, past what readers accept (polyglot)",
            "incoming/statement.pdf",
            (bytes(range(256)) * 5)[:1025] + pdf,
            SpoofedMediaType,
        ),
        BadInput(
            "HTML with a stray %PDF header",
            "incoming/statement.pdf",
            b"<html><body><pre>%PDF-1.7 1 0 obj</pre></body></html>\n" * 2,
            CorruptDocument,
        ),
        BadInput(
            "PDF with a user password", "incoming/locked.pdf", encrypted_pdf(b"s3cret"), EncryptedDocument
        ),
        BadInput(
            "PDF with an owner password only", "incoming/protected.pdf", encrypted_pdf(b""), EncryptedDocument
        ),
        BadInput("truncated PDF", "incoming/cut.pdf", pdf[: len(pdf) * 6 // 10], CorruptDocument),
        BadInput("PDF with no pages", "incoming/no-pages.pdf", no_pages, CorruptDocument),
        BadInput("PDF whose page tree holds no page", "incoming/hollow.pdf", hollow_tree, CorruptDocument),
        BadInput(
            "PDF header then garbage",
            "incoming/garbage.pdf",
            b"%PDF-1.7\n" + bytes(range(256)) * 4,
            CorruptDocument,
        ),
        BadInput("truncated PNG", "incoming/cut.png", png[: len(png) // 2], CorruptDocument),
        BadInput("PNG with a broken header checksum", "incoming/crc.png", bytes(bad_crc), CorruptDocument),
        BadInput("truncated JPEG", "incoming/cut.jpg", jpeg[: len(jpeg) * 7 // 10], CorruptDocument),
        BadInput(
            "truncated progressive JPEG", "incoming/cut-progressive.jpg", progressive[:-300], CorruptDocument
        ),
        BadInput("JPEG cut inside its header", "incoming/header.jpg", jpeg[:120], CorruptDocument),
        BadInput(
            "TIFF with a broken page directory",
            "incoming/broken.tif",
            b"II*\x00" + struct.pack("<I", 10**6) + b"\x00" * 64,
            CorruptDocument,
        ),
        BadInput(
            "decompression-bomb PNG",
            "incoming/bomb.png",
            _png_with_header(100_000, 100_000),
            DocumentTooLarge,
        ),
        BadInput(
            "PNG wider than 10,000 pixels",
            "incoming/panorama.png",
            _png_with_header(20_000, 10),
            DocumentTooLarge,
        ),
        BadInput(
            "TIFF with an oversized second page",
            "incoming/pages.tif",
            tiff_bytes(sizes=[(100, 140), (12_000, 2)]),
            DocumentTooLarge,
        ),
    )


def bad_input(name: str) -> BadInput:
    """The corpus entry called `name`."""
    return next(case for case in bad_inputs() if case.name == name)


@cache
def odd_inputs() -> tuple[OddInput, ...]:
    """Unusual uploads that are still documents Textract reads: docpipe must accept each one."""
    pdf = pdf_bytes(2)
    return (
        OddInput(
            "PDF after 200 bytes of mail header",
            "incoming/mail.pdf",
            b"X-Mailer: scan\r\n" * 12 + b"\r\n" + pdf,
            "application/pdf",
            2,
        ),
        OddInput(
            "PDF header at offset 1,024, the last one readers accept",
            "incoming/offset.pdf",
            (bytes(range(256)) * 4)[:1024] + pdf,
            "application/pdf",
            2,
        ),
        OddInput(
            "PDF with a ZIP appended",
            "incoming/appended.pdf",
            pdf + zip_archive({"a.txt": b"a"}),
            "application/pdf",
            2,
        ),
        OddInput(
            "PDF without its %%EOF marker",
            "incoming/no-eof.pdf",
            pdf[: pdf.rindex(b"%%EOF")],
            "application/pdf",
            2,
        ),
        OddInput(
            "JPEG with data after its end marker",
            "incoming/motion.jpg",
            jpeg_bytes() + b"\x00\x00\x00\x18ftypmp42" + b"\x11" * 5000,
            "image/jpeg",
            1,
        ),
        OddInput("PNG named .pdf", "incoming/scan.pdf", png_bytes(), "image/png", 1),
        OddInput(
            "PDF uploaded as text/html",
            "incoming/upload",
            pdf,
            "application/pdf",
            2,
            content_type="text/html",
        ),
    )
