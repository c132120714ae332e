"""Reading input documents: type by magic bytes, page count, and each page's lines.

PDF pages with a text layer are read from it (exact text, character boxes from pdfium); other PDF
pages are rendered and OCRed, as are PNG, JPEG and every frame of a TIFF.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from docpipe_local.engine.errors import bad_document, unsupported_document
from docpipe_local.engine.layout import Line, Page, Quad, Word, reading_order

PDF, PNG, JPEG, TIFF = "application/pdf", "image/png", "image/jpeg", "image/tiff"
_PDF_HEADER_WINDOW = 1024  # pdfium, like Acrobat, accepts a %PDF- header anywhere in the first KiB
# Rendering for OCR: 200 dpi, but no side beyond what the recogniser uses (RapidOCR's max_side_len).
_RENDER_DPI = 200
_RENDER_MAX_SIDE = 2000
# A page whose images cover most of it and which carries only a few characters is a scan with a
# stamp or page number on top: OCR it rather than trust the handful of text-layer characters.
_SCAN_IMAGE_COVERAGE = 0.5
_SCAN_MAX_CHARS = 20
# Text-layer words take the confidence of an exact read unless pdfium has no Unicode for a glyph.
_TEXT_LAYER_CONFIDENCE = 99.9
_UNMAPPED_GLYPH_CONFIDENCE = 40.0
# pdfium is not thread-safe: every call into it, from any thread, goes through this lock.
PDFIUM_LOCK = threading.RLock()


class OcrReader(Protocol):
    def read(self, image: Image.Image) -> list[Line]: ...


def sniff(data: bytes) -> str | None:
    """The media type proven by the first bytes (Textract accepts PDF, PNG, JPEG and TIFF)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if data.find(b"%PDF-", 0, _PDF_HEADER_WINDOW + 5) != -1:
        return PDF
    return None


def page_count(data: bytes, media_type: str) -> int:
    if media_type == PDF:
        with PDFIUM_LOCK:
            pdf = _open_pdf(data)
            try:
                count = len(pdf)
            finally:
                pdf.close()
        if count == 0:
            raise bad_document("Amazon Textract isn't able to read the PDF: it has no pages.")
        return count
    with _open_image(data) as image:
        return getattr(image, "n_frames", 1) if media_type == TIFF else 1


def read_pages(data: bytes, media_type: str, ocr: OcrReader) -> list[Page]:
    """Every page's lines in reading order."""
    pages = []
    for number, source in enumerate(_page_sources(data, media_type), start=1):
        if isinstance(source, Image.Image):
            pages.append(Page(number, reading_order(ocr.read(source)), "ocr"))
        else:
            pages.append(Page(number, reading_order(source), "text-layer"))
    return pages


def _page_sources(data: bytes, media_type: str) -> Iterator[list[Line] | Image.Image]:
    if media_type == PDF:
        yield from _pdf_pages(data)
        return
    with _open_image(data) as image:
        frames = ImageSequence.Iterator(image) if media_type == TIFF else [image]
        for frame in frames:
            try:
                # Geometry is relative to the image as displayed, so honour the EXIF orientation.
                yield ImageOps.exif_transpose(frame).convert("RGB")
            except (OSError, ValueError, Image.DecompressionBombError) as error:
                raise bad_document(f"Amazon Textract isn't able to read the image: {error}") from error


def _open_image(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as error:
        raise bad_document(f"Amazon Textract isn't able to read the image: {error}") from error
    return image


def _open_pdf(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if getattr(error, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            # Textract's hard limits: "PDFs cannot be password protected".
            raise unsupported_document("Request has unsupported document format: the PDF is password "
                                       "protected") from error
        raise bad_document(f"Amazon Textract isn't able to read the PDF: {error}") from error


def _pdf_pages(data: bytes) -> Iterator[list[Line] | Image.Image]:
    """Each page's text-layer lines, or its rendering; pdfium is only touched under the lock."""
    with PDFIUM_LOCK:
        pdf = _open_pdf(data)
    try:
        for index in range(len(pdf)):
            with PDFIUM_LOCK:
                source = _pdf_page(pdf, index)
            yield source
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def _pdf_page(pdf: pdfium.PdfDocument, index: int) -> list[Line] | Image.Image:
    try:
        page = pdf[index]
        try:
            textpage = page.get_textpage()
            try:
                lines = _text_layer(page, textpage)
            finally:
                textpage.close()
            if lines is not None:
                return lines
            width, height = page.get_size()
            scale = min(_RENDER_DPI / 72, _RENDER_MAX_SIDE / max(width, height))
            bitmap = page.render(scale=scale)
            try:
                return bitmap.to_pil().convert("RGB")
            finally:
                bitmap.close()
        finally:
            page.close()
    except pdfium.PdfiumError as error:
        raise bad_document(f"Amazon Textract isn't able to read page {index + 1}: {error}") from error


@dataclass
class _Char:
    text: str
    left: float
    bottom: float
    right: float
    top: float
    mapped: bool

    @property
    def height(self) -> float:
        return self.top - self.bottom


def _chars(textpage: pdfium.PdfTextPage) -> list[_Char | None]:
    """Characters with their loose boxes (advance width × ascent..descent); None marks a break:
    whitespace, a generated character or a glyph without extent."""
    chars: list[_Char | None] = []
    for i in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
        text = chr(code) if code else ""
        if not text or text.isspace() or pdfium_c.FPDFText_IsGenerated(textpage.raw, i) == 1:
            chars.append(None)
            continue
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        if right <= left or top <= bottom:
            chars.append(None)
            continue
        mapped = text != "\ufffd" and not (0xE000 <= code <= 0xF8FF) and text.isprintable()
        chars.append(_Char(text, left, bottom, right, top, mapped))
    return chars


def _text_layer(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage) -> list[Line] | None:
    """The page's lines from its text layer, or None when the page needs OCR."""
    chars = _chars(textpage)
    visible = sum(1 for c in chars if c is not None)
    if visible == 0 or (visible < _SCAN_MAX_CHARS and _image_coverage(page) >= _SCAN_IMAGE_COVERAGE):
        return None
    to_page = _PageTransform(page)
    lines: list[Line] = []
    for run in _line_runs(_word_runs(chars)):
        words = [Word("".join(c.text for c in word), to_page.quad(word),
                      _TEXT_LAYER_CONFIDENCE if all(c.mapped for c in word) else _UNMAPPED_GLYPH_CONFIDENCE)
                 for word in run]
        polygon = (words[0].polygon[0], words[-1].polygon[1], words[-1].polygon[2], words[0].polygon[3])
        lines.append(Line(words, polygon, min(w.confidence for w in words)))
    return lines


def _word_runs(chars: list[_Char | None]) -> list[list[_Char]]:
    """Split the character stream into words at breaks and wherever the next glyph does not follow
    on the same baseline (pdfium's text order jumps between text objects without a marker)."""
    words: list[list[_Char]] = [[]]
    for char in chars:
        if char is None:
            words.append([])
            continue
        if words[-1] and not _follows(words[-1][-1], char, gap_em=0.15):
            words.append([])
        words[-1].append(char)
    return [w for w in words if w]


def _line_runs(words: list[list[_Char]]) -> list[list[list[_Char]]]:
    """Consecutive words form one LINE unless the baseline changes or the gap exceeds ~1 em:
    wider gaps separate columns, which Textract reports as separate lines."""
    lines: list[list[list[_Char]]] = []
    for word in words:
        if lines and _follows(lines[-1][-1][-1], word[0], gap_em=1.0):
            lines[-1].append(word)
        else:
            lines.append([word])
    return lines


def _follows(a: _Char, b: _Char, *, gap_em: float) -> bool:
    height = max(a.height, b.height)
    same_baseline = abs(a.bottom - b.bottom) <= 0.4 * height
    gap = b.left - a.right
    return same_baseline and -0.5 * height <= gap <= gap_em * height


def _image_coverage(page: pdfium.PdfPage) -> float:
    width, height = page.get_size()
    area = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
        left, bottom, right, top = obj.get_pos()
        area += max(0.0, right - left) * max(0.0, top - bottom)
    return area / (width * height) if width and height else 0.0


class _PageTransform:
    """PDF user space (points, origin bottom-left of the crop box) → normalised page coordinates as
    displayed, honouring the page's /Rotate."""

    def __init__(self, page: pdfium.PdfPage) -> None:
        self.left, self.bottom, self.right, self.top = page.get_cropbox()
        self.rotation = page.get_rotation() % 360

    def point(self, x: float, y: float) -> tuple[float, float]:
        u = (x - self.left) / (self.right - self.left)
        v = (self.top - y) / (self.top - self.bottom)
        # /Rotate turns the page clockwise for display.
        return {0: (u, v), 90: (1 - v, u), 180: (1 - u, 1 - v), 270: (v, 1 - u)}[self.rotation]

    def quad(self, chars: list[_Char]) -> Quad:
        left, right = min(c.left for c in chars), max(c.right for c in chars)
        bottom, top = min(c.bottom for c in chars), max(c.top for c in chars)
        corners = [self.point(left, top), self.point(right, top), self.point(right, bottom), self.point(left, bottom)]
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        # Axis-aligned in display space: text runs left to right on the displayed page.
        return ((min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys)))

