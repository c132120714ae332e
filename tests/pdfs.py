"""Hand-written PDFs for tests: real Helvetica text layers, exact xref offsets, nothing else."""

from __future__ import annotations

Run = tuple[float, float, float, str]  # x, y from the top (points), font size, text


def assemble_pdf(objects: list[bytes], *, trailer_extra: bytes = b"", version: bytes = b"1.7") -> bytes:
    """Objects numbered from 1 (the catalog), with an exact xref table, trailer and %%EOF."""
    out = bytearray(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer_extra, xref)
    return bytes(out)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(*pages: list[Run], rotate: int = 0) -> bytes:
    """A US-letter PDF whose pages carry the given Helvetica text runs (and /Rotate)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for runs in pages:
        stream = "".join(f"BT /F1 {size} Tf {x} {792 - y} Td ({_escape(text)}) Tj ET\n" for x, y, size, text in runs)
        objects.append(b"<< /Length %d >>\nstream\n%sendstream" % (len(stream), stream.encode("latin-1")))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Rotate %d"
                       b" /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (rotate, len(objects)))
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    return assemble_pdf(objects, version=b"1.4")


def lines_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with `lines` top to bottom in 12 pt Helvetica."""
    return text_pdf([(72, 72 + 14 * i, 12, line) for i, line in enumerate(lines)])
