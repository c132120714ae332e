"""ValidateDocument: is an upload a document Textract can read, and which document is it?

Checks run cheapest first: one HEAD, ranged reads of the first and last bytes, then a single streaming
pass that hashes the object and copies it to local disk only when a structural check needs the file
(PDF, TIFF, a JPEG with data after its end marker). Every rejection is a typed `docpipe.errors` exception whose message can be shown to
the uploader: it names types, sizes and counts, never the document's content.
"""

from __future__ import annotations

import codecs
import ctypes
import hashlib
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import pypdfium2
import pypdfium2.raw as pdfium_c
from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from PIL import ImageFile, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from docpipe.contracts import DocumentRef
from docpipe.errors import (
    AccessDenied,
    CorruptDocument,
    DocumentTooLarge,
    EmptyDocument,
    EncryptedDocument,
    SourceObjectMissing,
    SpoofedMediaType,
    StorageThrottled,
    TooManyPages,
    UnsupportedMediaType,
)

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
SUPPORTED_MEDIA_TYPES: frozenset[str] = frozenset({PDF, PNG, JPEG, TIFF})
"""What Textract reads; a deployment's ALLOWED_MEDIA_TYPES can only narrow this."""

MAX_IMAGE_BYTES = 10 * 1_048_576
"""Textract's limit for PNG and JPEG documents, sync and async alike."""

MAX_IMAGE_SIDE = 10_000
"""Pixels per side; also caps an image at 100 megapixels, so a decompression bomb never decodes."""

CHUNK_BYTES = 1024 * 1024
"""Largest piece of the object held in memory while hashing."""

_MIN_DOCUMENT_BYTES = 32  # the smallest valid PDF, PNG, JPEG or TIFF is larger than this
_BLOCK_BYTES = 64 * 1024  # one ranged GET; the first block is also what type detection sees
_TAIL_BYTES = 1024  # PDF readers look for %%EOF in the last KiB; the image end markers sit there too
_PDF_HEADER_LIMIT = 1024  # pdfium (like Acrobat) accepts a %PDF header starting at offset 0..1024
_HEADER_BUDGET_BYTES = 4 * 1024 * 1024  # what an image header may make us fetch before IDAT/SOS

_TYPE_NAMES = {PDF: "PDF", PNG: "PNG", JPEG: "JPEG", TIFF: "TIFF"}
_EXTENSION_CLAIMS = {
    ".pdf": PDF,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".jpe": JPEG,
    ".jfif": JPEG,
    ".tif": TIFF,
    ".tiff": TIFF,
}
_CONTENT_TYPE_CLAIMS = {
    "application/pdf": PDF,
    "application/x-pdf": PDF,
    "image/png": PNG,
    "image/jpeg": JPEG,
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/tiff": TIFF,
}


class MediaKind(NamedTuple):
    """A media type detected from content, with a label for messages ("a GIF image")."""

    media_type: str
    label: str


_PDF_KIND = MediaKind(PDF, "a PDF document")
_UNKNOWN_KIND = MediaKind("application/octet-stream", "binary data of no recognised format")

# Fixed-offset signatures, checked before anything else: a file that starts as one of these is that
# format to every tool that opens it, whatever it carries further in.
_SIGNATURES: tuple[tuple[int, bytes, MediaKind], ...] = (
    (0, b"%PDF-", _PDF_KIND),
    (0, b"\x89PNG\r\n\x1a\n", MediaKind(PNG, "a PNG image")),
    (0, b"\xff\xd8\xff", MediaKind(JPEG, "a JPEG image")),
    (0, b"II*\x00", MediaKind(TIFF, "a TIFF image")),
    (0, b"MM\x00*", MediaKind(TIFF, "a TIFF image")),
    (0, b"II+\x00", MediaKind("image/x-bigtiff", "a BigTIFF image")),
    (0, b"MM\x00+", MediaKind("image/x-bigtiff", "a BigTIFF image")),
    (0, b"GIF87a", MediaKind("image/gif", "a GIF image")),
    (0, b"GIF89a", MediaKind("image/gif", "a GIF image")),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", MediaKind("image/jp2", "a JPEG 2000 image")),
    (0, b"8BPS", MediaKind("image/vnd.adobe.photoshop", "a Photoshop document")),
    (0, b"%!PS", MediaKind("application/postscript", "a PostScript document")),
    (0, b"{\\rtf", MediaKind("application/rtf", "an RTF document")),
    (
        0,
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        MediaKind("application/x-ole-storage", "a legacy Microsoft Office file"),
    ),
    (0, b"Rar!\x1a\x07", MediaKind("application/vnd.rar", "a RAR archive")),
    (0, b"7z\xbc\xaf\x27\x1c", MediaKind("application/x-7z-compressed", "a 7-Zip archive")),
    (0, b"\x1f\x8b", MediaKind("application/gzip", "a gzip archive")),
    (0, b"\xfd7zXZ\x00", MediaKind("application/x-xz", "an xz archive")),
    (257, b"ustar", MediaKind("application/x-tar", "a tar archive")),
    (0, b"MZ", MediaKind("application/vnd.microsoft.portable-executable", "a Windows executable")),
    (0, b"\x7fELF", MediaKind("application/x-executable", "a Linux executable")),
    (0, b"\xcf\xfa\xed\xfe", MediaKind("application/x-mach-binary", "a macOS executable")),
    (0, b"\xce\xfa\xed\xfe", MediaKind("application/x-mach-binary", "a macOS executable")),
    (0, b"#!", MediaKind("text/x-script", "a script")),
    (0, b"SQLite format 3\x00", MediaKind("application/vnd.sqlite3", "an SQLite database")),
    (0, b"ID3", MediaKind("audio/mpeg", "an MP3 audio file")),
    (0, b"OggS", MediaKind("audio/ogg", "an Ogg media file")),
    (0, b"fLaC", MediaKind("audio/flac", "a FLAC audio file")),
    (0, b"\x1a\x45\xdf\xa3", MediaKind("video/webm", "a WebM or Matroska video")),
)


def validate_upload(
    s3: Any,
    *,
    bucket: str,
    key: str,
    version_id: str | None,
    upload_id: str,
    max_bytes: int,
    max_pages: int,
    allowed_types: frozenset[str],
) -> DocumentRef:
    """Validate one upload and identify it by the SHA-256 of its content.

    Raises a `DocumentRejected` subclass for anything Textract must not be given, `AccessDenied` when
    docpipe may not read the object, and `StorageThrottled` when S3 fails transiently.
    """
    head = _head(s3, bucket, key, version_id)
    size: int = head["ContentLength"]
    _check_size(size, max_bytes, allowed_types)

    # Every later read names the version HEAD saw and its ETag: an overwrite in between fails with
    # PreconditionFailed instead of silently validating one upload and hashing another.
    obj = _PinnedObject(s3, bucket, key, head.get("VersionId") or version_id, head["ETag"])
    reader = _RangedReader(obj, size)
    kind = detect_media_type(reader.read(_BLOCK_BYTES))
    _check_media_type(kind, key=key, content_type=head.get("ContentType"), allowed_types=allowed_types)

    needs_full_decode = False
    if kind.media_type in (PNG, JPEG):
        if size > MAX_IMAGE_BYTES:
            raise DocumentTooLarge(
                f"The image is {_megabytes(size)}; Textract reads PNG and JPEG images up to "
                f"{_megabytes(MAX_IMAGE_BYTES)}. Upload a smaller image or a PDF."
            )
        needs_full_decode = _check_image_from_ranges(reader, kind.media_type, size)

    page_count = 1
    if kind.media_type in (PDF, TIFF) or needs_full_decode:
        with tempfile.TemporaryDirectory(prefix="docpipe-validate-") as workdir:
            path = Path(workdir) / "upload"
            digest, tail = _hash(obj, spool_to=path)
            if kind.media_type == PDF:
                page_count = _pdf_page_count(path, truncated=b"%%EOF" not in tail, max_pages=max_pages)
            elif kind.media_type == TIFF:
                page_count = _tiff_page_count(path, max_pages=max_pages)
            else:
                _check_jpeg_decodes(path)
    else:
        digest, _ = _hash(obj, spool_to=None)

    return DocumentRef(
        documentId=digest,
        uploadId=upload_id,
        bucket=bucket,
        key=key,
        versionId=obj.version_id,
        size=size,
        mediaType=kind.media_type,
        pageCount=page_count,
    )


def detect_media_type(head: bytes) -> MediaKind:
    """The media type the first bytes of a file prove; the name and declared type play no part."""
    for offset, magic, kind in _SIGNATURES:
        if head.startswith(magic, offset):
            return kind
    for probe in (_riff_kind, _iso_media_kind, _zip_kind, _bmp_kind):
        if found := probe(head):
            return found
    # Polyglots: with no other format's signature in front, a %PDF header after leading junk (a mail
    # header, a BOM, stray bytes) is a PDF to pdfium and Acrobat as long as it starts by offset 1024,
    # so it is one to us too; pdfium then decides whether the rest holds together. A header further
    # in is not a PDF to those readers, and a ZIP, image or executable carrying %PDF inside is
    # rejected as what it starts as (above) rather than passed to a reader that might see a PDF.
    if head.find(b"%PDF-", 0, _PDF_HEADER_LIMIT + len(b"%PDF-")) != -1:
        return _PDF_KIND
    return _text_kind(head) or _UNKNOWN_KIND


def _riff_kind(head: bytes) -> MediaKind | None:
    if not head.startswith(b"RIFF"):
        return None
    return {
        b"WEBP": MediaKind("image/webp", "a WebP image"),
        b"WAVE": MediaKind("audio/wav", "a WAV audio file"),
        b"AVI ": MediaKind("video/x-msvideo", "an AVI video"),
    }.get(head[8:12], MediaKind("application/x-riff", "a RIFF media file"))


def _iso_media_kind(head: bytes) -> MediaKind | None:
    """HEIC/HEIF/AVIF photos and MP4/QuickTime video share the ISO base media `ftyp` box."""
    if head[4:8] != b"ftyp":
        return None
    box_end = min(int.from_bytes(head[0:4], "big"), len(head))
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if brands & {b"avif", b"avis"}:
        return MediaKind("image/avif", "an AVIF image")
    if brands & {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}:
        return MediaKind("image/heic", "a HEIC image")
    if brands & {b"mif1", b"msf1"}:
        return MediaKind("image/heif", "a HEIF image")
    if head[8:12] == b"qt  ":
        return MediaKind("video/quicktime", "a QuickTime video")
    return MediaKind("video/mp4", "an MP4 video or other ISO media file")


def _zip_kind(head: bytes) -> MediaKind | None:
    """A ZIP archive, named after the Office or e-book format its first entries reveal."""
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return None
    names = _zip_entry_names(head)
    if names[:1] == [b"mimetype"]:
        if b"application/vnd.oasis.opendocument" in head[:200]:
            return MediaKind("application/vnd.oasis.opendocument", "an OpenDocument file")
        if b"application/epub+zip" in head[:200]:
            return MediaKind("application/epub+zip", "an EPUB e-book")
    for prefix, media_type, label in (
        (
            b"word/",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "a Word document",
        ),
        (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "an Excel workbook"),
        (
            b"ppt/",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "a PowerPoint file",
        ),
    ):
        if any(name.startswith(prefix) for name in names):
            return MediaKind(media_type, label)
    if b"[Content_Types].xml" in names:
        return MediaKind("application/vnd.openxmlformats-officedocument", "a Microsoft Office document")
    return MediaKind("application/zip", "a ZIP archive")


def _zip_entry_names(head: bytes) -> list[bytes]:
    """Names of the local file headers that lie entirely within `head`."""
    names, pos = [], 0
    while head.startswith(b"PK\x03\x04", pos) and pos + 30 <= len(head):
        flags = int.from_bytes(head[pos + 6 : pos + 8], "little")
        compressed = int.from_bytes(head[pos + 18 : pos + 22], "little")
        name_len = int.from_bytes(head[pos + 26 : pos + 28], "little")
        extra_len = int.from_bytes(head[pos + 28 : pos + 30], "little")
        names.append(head[pos + 30 : pos + 30 + name_len])
        if flags & 0x08:  # sizes follow the data (streamed archive): the next header can't be found
            break
        pos += 30 + name_len + extra_len + compressed
    return names


def _bmp_kind(head: bytes) -> MediaKind | None:
    # "BM" alone is too weak a signature; the DIB header size that follows has only a few valid values.
    if head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in {12, 40, 52, 56, 64, 108, 124}:
        return MediaKind("image/bmp", "a BMP image")
    return None


def _text_kind(head: bytes) -> MediaKind | None:
    """HTML, SVG, XML or plain text, for files that decode as text."""
    sample, encoding = head[:4096], "utf-8"
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if sample.startswith(bom):
            sample, encoding = sample[len(bom) :], codec
            break
    try:
        # Incremental with final=False: a character cut at the edge of the sample is not an error.
        text = codecs.getincrementaldecoder(encoding)().decode(sample)
    except UnicodeDecodeError:
        return None
    if any(ch < " " and ch not in "\t\n\r\f" for ch in text):
        return None
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html")) or any(
        t in lowered for t in ("<html", "<body", "<script")
    ):
        return MediaKind("text/html", "an HTML web page")
    if "<svg" in lowered:
        return MediaKind("image/svg+xml", "an SVG image")
    if lowered.startswith("<?xml"):
        return MediaKind("application/xml", "an XML document")
    return MediaKind("text/plain", "a plain-text file")


def _check_size(size: int, max_bytes: int, allowed_types: frozenset[str]) -> None:
    if size == 0:
        raise EmptyDocument()
    if size > max_bytes:
        actual, limit = _megabytes(size), _megabytes(max_bytes)
        if actual == limit:
            actual, limit = f"{actual} ({size:,} bytes)", f"{limit} ({max_bytes:,} bytes)"
        raise DocumentTooLarge(f"The file is {actual}; the largest accepted is {limit}.")
    if size < _MIN_DOCUMENT_BYTES:
        unit = "byte" if size == 1 else "bytes"
        raise CorruptDocument(
            f"The file is only {size} {unit} long, too short to be a {_type_list(allowed_types)} document."
        )


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:,.1f} MB"


def _type_list(allowed_types: frozenset[str]) -> str:
    """The accepted types for a message, in a fixed order: "PDF, PNG, JPEG or TIFF"."""
    names = [name for media_type, name in _TYPE_NAMES.items() if media_type in allowed_types]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _check_media_type(
    kind: MediaKind, *, key: str, content_type: str | None, allowed_types: frozenset[str]
) -> None:
    accepted = SUPPORTED_MEDIA_TYPES & allowed_types
    if kind.media_type in accepted:
        # A PNG named .pdf is still a PNG Textract reads; only content that is not accepted is spoofed.
        return
    extension = PurePosixPath(key).suffix.lower()
    declared = (content_type or "").split(";")[0].strip().lower()
    # A name or Content-Type that claims nothing Textract reads (.exe, binary/octet-stream) is no lie.
    if _EXTENSION_CLAIMS.get(extension, kind.media_type) != kind.media_type:
        raise SpoofedMediaType(f"The file is named {extension} but its content is {kind.label}.")
    if _CONTENT_TYPE_CLAIMS.get(declared, kind.media_type) != kind.media_type:
        raise SpoofedMediaType(f"The file was uploaded as {declared} but its content is {kind.label}.")
    raise UnsupportedMediaType(f"The file is {kind.label}; docpipe accepts {_type_list(accepted)} files.")


def _check_image_from_ranges(reader: _RangedReader, media_type: str, size: int) -> bool:
    """Header and end-marker checks on ranged reads; True if only a full decode can tell a JPEG's
    trailing data (phones append motion-photo video or maker data after the image) from truncation."""
    factory = PngImagePlugin.PngImageFile if media_type == PNG else JpegImagePlugin.JpegImageFile
    reader.seek(0)
    image = _open_image(factory, reader, _TYPE_NAMES[media_type])
    with image:
        _check_dimensions(*image.size, subject="The image")
    reader.seek(max(0, size - _TAIL_BYTES))
    tail = reader.read(_TAIL_BYTES)
    if media_type == PNG:
        if b"IEND\xaeB`\x82" not in tail:
            raise CorruptDocument("The PNG image is truncated: its end marker is missing.")
        return False
    return not tail.rstrip(b"\x00\xff\r\n").endswith(b"\xff\xd9")


def _open_image(factory: type[ImageFile.ImageFile], fp: Any, type_name: str) -> ImageFile.ImageFile:
    # The plugin class parses the header only. It is used instead of Image.open so that our limit,
    # with the real dimensions in its message, applies rather than Pillow's global bomb check.
    try:
        return factory(fp)
    except (SyntaxError, OSError, ValueError) as exc:
        raise CorruptDocument(f"The {type_name} image is damaged: its header cannot be read.") from exc


def _check_dimensions(width: int, height: int, *, subject: str) -> None:
    if max(width, height) > MAX_IMAGE_SIDE:
        raise DocumentTooLarge(
            f"{subject} is {width:,} × {height:,} pixels; docpipe accepts at most "
            f"{MAX_IMAGE_SIDE:,} pixels on each side."
        )


def _check_jpeg_decodes(path: Path) -> None:
    with _open_image(JpegImagePlugin.JpegImageFile, str(path), "JPEG") as image:
        # Decoding at 1/8 scale still reads every scan (so a cut shows) in a fraction of the memory.
        image.draft("L", (max(1, image.width // 8), max(1, image.height // 8)))
        try:
            image.load()
        except OSError as exc:
            raise CorruptDocument("The JPEG image is truncated: its picture data ends early.") from exc


def _pdf_page_count(path: Path, *, truncated: bool, max_pages: int) -> int:
    try:
        pdf = pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError as exc:
        # pdfium keeps its last error across documents and does not always set a new one, so a
        # password error only counts when the file really has an encryption dictionary.
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY) and _declares_encryption(path):
            raise EncryptedDocument() from exc
        if truncated:
            raise CorruptDocument(
                "The PDF is truncated or damaged: it has no end-of-file marker and cannot be opened."
            ) from exc
        raise CorruptDocument("The PDF is damaged and cannot be opened.") from exc
    try:
        if pdfium_c.FPDF_GetSecurityHandlerRevision(pdf.raw) != -1:
            # Opens without a password (an owner password only), but it is still encrypted.
            raise EncryptedDocument("The PDF is encrypted; upload a copy saved without security settings.")
        declared = len(pdf)
        if declared > max_pages:
            raise TooManyPages(f"The PDF has {declared:,} pages; the most accepted is {max_pages:,}.")
        # /Count can promise pages the page tree does not hold; look each one up (cheap: no parsing).
        size = pdfium_c.FS_SIZEF()
        found = sum(
            bool(pdfium_c.FPDF_GetPageSizeByIndexF(pdf.raw, i, ctypes.byref(size))) for i in range(declared)
        )
        if found == 0:
            raise CorruptDocument("The PDF has no readable pages.")
        if found < declared:
            raise CorruptDocument(
                f"The PDF is damaged: only {found:,} of its {declared:,} pages can be found."
            )
        return declared
    finally:
        pdf.close()


def _declares_encryption(path: Path, window: int = 1 << 20) -> bool:
    """Whether the PDF's trailer area (its first and last MiB, where trailers and xref streams live)
    names an /Encrypt dictionary."""
    with path.open("rb") as handle:
        head = handle.read(window)
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - window))
        tail = handle.read(window)
    return b"/Encrypt" in head or b"/Encrypt" in tail


def _tiff_page_count(path: Path, *, max_pages: int) -> int:
    pages = 0
    try:
        with TiffImagePlugin.TiffImageFile(str(path)) as tiff:
            while True:
                try:
                    tiff.seek(pages)
                except EOFError:  # past the last page; Pillow also stops a looping page chain here
                    break
                if pages == max_pages:
                    raise TooManyPages(
                        f"The TIFF image has more than {max_pages:,} pages; "
                        f"the most accepted is {max_pages:,}."
                    )
                _check_dimensions(*tiff.size, subject=f"Page {pages + 1} of the TIFF image")
                pages += 1
    except (SyntaxError, OSError, ValueError) as exc:
        raise CorruptDocument("The TIFF image is damaged: its page directory cannot be read.") from exc
    return pages


def _hash(obj: _PinnedObject, *, spool_to: Path | None) -> tuple[str, bytes]:
    """One streaming pass: SHA-256 of every byte, the last bytes, and optionally a copy on disk."""
    digest, tail = hashlib.sha256(), b""
    with spool_to.open("wb") if spool_to else nullcontext() as sink:
        for chunk in obj.chunks():
            digest.update(chunk)
            tail = (tail + chunk[-_TAIL_BYTES:])[-_TAIL_BYTES:]
            if sink:
                sink.write(chunk)
    return digest.hexdigest(), tail


# S3 error codes, as ClientError reports them (HEAD responses have no body, so only the status).
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NoSuchBucket", "405", "MethodNotAllowed"})
_DENIED_CODES = frozenset({"403", "AccessDenied", "AllAccessDisabled"})
_TRANSIENT_CODES = frozenset(
    {"500", "503", "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"}
)
_TRANSPORT_ERRORS = (HTTPClientError, BotocoreConnectionError, IncompleteReadError)


@contextmanager
def _s3_errors() -> Iterator[None]:
    """Translate S3 failures into the taxonomy; anything unrecognised propagates unchanged."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("412", "PreconditionFailed"):
            raise SourceObjectMissing(
                "The upload was replaced while it was being checked; the new version is processed separately."
            ) from exc
        if code in _MISSING_CODES:
            raise SourceObjectMissing() from exc
        # Without s3:ListBucket on the bucket, S3 answers 403 rather than 404 for a missing key.
        if code in _DENIED_CODES or code.startswith("KMS."):
            raise AccessDenied(
                "The docpipe role may not read the upload from S3; "
                "check the role, the bucket policy and the KMS key policy."
            ) from exc
        if code in _TRANSIENT_CODES:
            raise StorageThrottled(f"S3 failed transiently ({code}) while the upload was read.") from exc
        raise
    except _TRANSPORT_ERRORS as exc:
        raise StorageThrottled("The connection to S3 failed while the upload was read.") from exc


def _head(s3: Any, bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
    params = {"Bucket": bucket, "Key": key}
    if version_id:
        params["VersionId"] = version_id
    with _s3_errors():
        return s3.head_object(**params)


@dataclass(frozen=True)
class _PinnedObject:
    """One exact S3 object: the version HEAD saw (if the bucket is versioned) and its ETag."""

    s3: Any
    bucket: str
    key: str
    version_id: str | None
    etag: str

    def read_range(self, first: int, last: int) -> bytes:
        with _s3_errors():
            body = self._get(Range=f"bytes={first}-{last}")
            try:
                return body.read()
            finally:
                body.close()

    def chunks(self) -> Iterator[bytes]:
        with _s3_errors():
            body = self._get()
            try:
                while chunk := body.read(CHUNK_BYTES):
                    yield chunk
            finally:
                body.close()

    def _get(self, **extra: str) -> Any:
        params = {"Bucket": self.bucket, "Key": self.key, "IfMatch": self.etag, **extra}
        if self.version_id:
            params["VersionId"] = self.version_id
        return self.s3.get_object(**params)["Body"]


class _RangedReader(io.RawIOBase):
    """A seekable file over a pinned S3 object that fetches one block per ranged GET, so Pillow can
    parse a header wherever the format puts it without the object being downloaded."""

    _CACHED_BLOCKS = 8

    def __init__(self, obj: _PinnedObject, size: int) -> None:
        super().__init__()
        self._obj, self._size, self._pos = obj, size, 0
        self._blocks: dict[int, bytes] = {}
        self._fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = max(0, min(len(view), self._size - self._pos))
        done = 0
        while done < wanted:
            index, start = divmod(self._pos, _BLOCK_BYTES)
            piece = self._block(index)[start : start + wanted - done]
            if not piece:  # S3 returned a short range: report what we have rather than loop
                break
            view[done : done + len(piece)] = piece
            done += len(piece)
            self._pos += len(piece)
        return done

    def _block(self, index: int) -> bytes:
        if index not in self._blocks:
            if self._fetched >= _HEADER_BUDGET_BYTES:
                # Pillow reads every chunk before the pixel data; no camera or scanner writes megabytes
                # there, and following such a file would mean thousands of ranged GETs.
                raise CorruptDocument("The image is malformed: its header is larger than 4 MB.")
            if len(self._blocks) >= self._CACHED_BLOCKS:
                del self._blocks[next(iter(self._blocks))]
            first = index * _BLOCK_BYTES
            self._blocks[index] = self._obj.read_range(first, min(first + _BLOCK_BYTES, self._size) - 1)
            self._fetched += len(self._blocks[index])
        return self._blocks[index]
