"""docpipe.validation against moto S3: good documents, the bad-input corpus, odd keys, S3 failures,
and a 50 MB upload hashed in bounded pieces."""

from __future__ import annotations

import hashlib
import re
import struct
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from docpipe import errors
from docpipe.validation import CHUNK_BYTES, SUPPORTED_MEDIA_TYPES, validate_upload
from tests.unit import badinputs

pytestmark = [
    pytest.mark.usefixtures("socket_disabled"),
    # Pillow warns while reading the deliberately broken TIFF; the rejection is what is asserted.
    pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning"),
]

BUCKET = "docpipe-validation-test"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
LIMITS: dict[str, Any] = {
    "max_bytes": 100 * 1024 * 1024,
    "max_pages": 3000,
    "allowed_types": SUPPORTED_MEDIA_TYPES,
}


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def versioned_s3(s3: Any) -> Any:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where validation's temporary files go, so a test can see that none are left behind."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    return tmp_path


def put(s3: Any, key: str, body: bytes, content_type: str = "binary/octet-stream") -> str | None:
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=content_type).get("VersionId")


def validate(s3: Any, key: str, **overrides: Any) -> Any:
    params = {"bucket": BUCKET, "key": key, "version_id": None, "upload_id": "upload-1", **LIMITS}
    return validate_upload(s3, **{**params, **overrides})


def assert_human(message: str, body: bytes = b"") -> None:
    """A sentence for people: no bytes, reprs or fragments of the document in it."""
    assert message[:1].isupper() and message.endswith("."), message
    assert message.isprintable() and "\\x" not in message and "b'" not in message, message
    for run in re.findall(rb"[ -~]{8,}", body[:65536]):
        assert run.decode() not in message, f"document content leaked into {message!r}"


@pytest.mark.parametrize(
    ("key", "body", "media_type", "pages"),
    [
        ("incoming/receipt.png", badinputs.png_bytes(), "image/png", 1),
        ("incoming/receipt.jpg", badinputs.jpeg_bytes(), "image/jpeg", 1),
        ("incoming/invoice.pdf", badinputs.pdf_bytes(2), "application/pdf", 2),
        ("incoming/fax.tiff", badinputs.tiff_bytes(3), "image/tiff", 3),
    ],
    ids=["png", "jpeg", "pdf-2-pages", "tiff-3-pages"],
)
def test_accepts_a_good_document(
    s3: Any, spool_dir: Path, key: str, body: bytes, media_type: str, pages: int
) -> None:
    # GIVEN a well-formed document in S3
    put(s3, key, body)

    # WHEN it is validated
    ref = validate(s3, key)

    # THEN it is identified by the SHA-256 of its bytes, typed from content, and no temp file remains
    assert ref == {
        "documentId": hashlib.sha256(body).hexdigest(),
        "uploadId": "upload-1",
        "bucket": BUCKET,
        "key": key,
        "versionId": None,
        "size": len(body),
        "mediaType": media_type,
        "pageCount": pages,
    }
    assert list(spool_dir.iterdir()) == []


@pytest.mark.parametrize("case", badinputs.bad_inputs(), ids=lambda case: case.name)
def test_rejects_bad_input(s3: Any, spool_dir: Path, case: badinputs.BadInput) -> None:
    # GIVEN an upload from the bad-input corpus, under the limits it is meant to break
    put(s3, case.key, case.body, case.content_type)
    limits = {
        name: value for name, value in (("max_bytes", case.max_bytes), ("max_pages", case.max_pages)) if value
    }

    # WHEN it is validated
    with pytest.raises(errors.DocumentRejected) as raised:
        validate(s3, case.key, **limits)

    # THEN it is rejected with exactly the expected class and code, in words a person can read
    assert type(raised.value) is case.error
    assert raised.value.code == case.error.code
    assert raised.value.terminal_status == errors.REJECTED
    assert_human(raised.value.message, case.body)
    assert list(spool_dir.iterdir()) == []


@pytest.mark.parametrize("case", badinputs.odd_inputs(), ids=lambda case: case.name)
def test_accepts_an_odd_but_readable_upload(s3: Any, case: badinputs.OddInput) -> None:
    # GIVEN an unusual upload that is still a document Textract reads
    put(s3, case.key, case.body, case.content_type)

    # WHEN it is validated
    ref = validate(s3, case.key)

    # THEN its type comes from its content, not its name or declared type
    assert (ref["mediaType"], ref["pageCount"]) == (case.media_type, case.pages)
    assert ref["documentId"] == hashlib.sha256(case.body).hexdigest()


@pytest.mark.parametrize("key", badinputs.ODD_KEYS)
def test_odd_keys_are_plain_s3_keys(s3: Any, key: str) -> None:
    # GIVEN a PNG stored under a key with spaces, unicode, +, %2F, .. or 1,000 characters
    body = badinputs.png_bytes()
    put(s3, key, body)

    # WHEN it is validated
    ref = validate(s3, key)

    # THEN the key is passed through untouched
    assert (ref["key"], ref["mediaType"], ref["size"]) == (key, "image/png", len(body))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (badinputs.bad_input("decompression-bomb PNG"), "100,000 × 100,000 pixels"),
        (badinputs.bad_input("executable named .pdf"), "named .pdf but its content is a Windows executable"),
        (
            badinputs.bad_input("executable declared as application/pdf"),
            "uploaded as application/pdf but its content is a Linux executable",
        ),
        (badinputs.bad_input("WebP image"), "a WebP image; docpipe accepts PDF, PNG, JPEG or TIFF files"),
        (badinputs.bad_input("ZIP carrying a PDF (polyglot)"), "a ZIP archive"),
    ],
    ids=["pixel-dimensions", "spoofed-by-name", "spoofed-by-content-type", "unsupported", "zip-polyglot"],
)
def test_messages_say_what_was_found(s3: Any, case: badinputs.BadInput, expected: str) -> None:
    # GIVEN a rejected upload
    put(s3, case.key, case.body, case.content_type)

    # WHEN it is validated
    with pytest.raises(case.error) as raised:
        validate(s3, case.key)

    # THEN the message names what docpipe found
    assert expected in raised.value.message


def test_size_message_gives_both_sizes_in_mb(s3: Any) -> None:
    # GIVEN a 3 MB file and a 2 MB limit
    put(s3, "incoming/big.png", badinputs.big_png(3 * 1024 * 1024))

    # WHEN it is validated
    with pytest.raises(errors.DocumentTooLarge) as raised:
        validate(s3, "incoming/big.png", max_bytes=2 * 1024 * 1024)

    # THEN the message gives both sizes in MB
    assert raised.value.message == "The file is 3.0 MB; the largest accepted is 2.0 MB."


def test_size_message_gives_exact_bytes_when_megabytes_round_equal(s3: Any) -> None:
    # GIVEN a file one byte over a 1 MiB limit
    put(s3, "incoming/edge.png", badinputs.big_png(1024 * 1024 + 1))

    # WHEN it is validated
    with pytest.raises(errors.DocumentTooLarge) as raised:
        validate(s3, "incoming/edge.png", max_bytes=1024 * 1024)

    # THEN both sizes are in MB, with bytes to show the difference
    assert raised.value.message == (
        "The file is 1.0 MB (1,048,577 bytes); the largest accepted is 1.0 MB (1,048,576 bytes)."
    )


def test_allowed_types_narrow_what_is_accepted(s3: Any) -> None:
    # GIVEN a deployment that accepts PDFs only, and a real PNG
    put(s3, "incoming/scan.png", badinputs.png_bytes())

    # WHEN it is validated
    with pytest.raises(errors.UnsupportedMediaType) as raised:
        validate(s3, "incoming/scan.png", allowed_types=frozenset({"application/pdf"}))

    # THEN it is unsupported (not spoofed: the name tells the truth)
    assert raised.value.message == "The file is a PNG image; docpipe accepts PDF files."


def test_validates_the_version_named_in_the_event(versioned_s3: Any) -> None:
    # GIVEN a PDF that was overwritten by a PNG after its upload event
    pdf = badinputs.pdf_bytes(2)
    first = put(versioned_s3, "incoming/doc.pdf", pdf)
    put(versioned_s3, "incoming/doc.pdf", badinputs.png_bytes())

    # WHEN the first version is validated
    ref = validate(versioned_s3, "incoming/doc.pdf", version_id=first)

    # THEN the PDF is what was checked and hashed
    assert (ref["versionId"], ref["mediaType"], ref["documentId"]) == (
        first,
        "application/pdf",
        hashlib.sha256(pdf).hexdigest(),
    )


def test_pins_the_version_it_validated(versioned_s3: Any) -> None:
    # GIVEN an event without a version id, on a versioned bucket
    version = put(versioned_s3, "incoming/doc.png", badinputs.png_bytes())

    # WHEN it is validated
    ref = validate(versioned_s3, "incoming/doc.png")

    # THEN the result names the version that was checked, so later steps read the same bytes
    assert ref["versionId"] == version


@pytest.mark.parametrize("how", ["never-existed", "deleted", "unknown-version", "delete-marker-version"])
def test_missing_source_object(versioned_s3: Any, how: str) -> None:
    # GIVEN an event whose object or version is gone
    key, version = "incoming/gone.pdf", None
    if how != "never-existed":
        version = put(versioned_s3, key, badinputs.pdf_bytes(1))
        marker = versioned_s3.delete_object(Bucket=BUCKET, Key=key)["VersionId"]
        version = {
            "deleted": None,
            "unknown-version": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY",
            "delete-marker-version": marker,
        }[how]

    # WHEN it is validated
    with pytest.raises(errors.SourceObjectMissing) as raised:
        validate(versioned_s3, key, version_id=version)

    # THEN it is rejected as missing, not crashed on
    assert raised.value.code == "SOURCE_MISSING"


def test_overwrite_between_head_and_read(s3: Any) -> None:
    # GIVEN an unversioned object that is replaced right after validation's HEAD
    put(s3, "incoming/race.pdf", badinputs.pdf_bytes(2))
    replaced = []

    def overwrite_once(**_: Any) -> None:
        if not replaced:
            replaced.append(True)
            put(s3, "incoming/race.pdf", badinputs.png_bytes())

    s3.meta.events.register("before-call.s3.GetObject", overwrite_once)

    # WHEN it is validated
    with pytest.raises(errors.SourceObjectMissing) as raised:
        validate(s3, "incoming/race.pdf")

    # THEN the read fails its ETag precondition instead of mixing two uploads
    assert "replaced" in raised.value.message


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("SlowDown", 503, errors.StorageThrottled),
        ("InternalError", 500, errors.StorageThrottled),
        ("403", 403, errors.AccessDenied),
        ("404", 404, errors.SourceObjectMissing),
    ],
)
def test_s3_failures_become_typed_errors(code: str, status: int, expected: type[errors.DocpipeError]) -> None:
    # GIVEN S3 answering HEAD with an error
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("head_object", service_error_code=code, http_status_code=status)

        # WHEN an upload is validated
        with pytest.raises(expected) as raised:
            validate(client, "incoming/x.pdf")

    # THEN the error is the taxonomy's class, with its retry semantics
    assert raised.value.retryable is (expected is errors.StorageThrottled)


class _ReadSpy:
    """Wraps a GetObject body and records the size of every piece handed to the caller."""

    def __init__(self, body: Any, reads: list[int]) -> None:
        self._body, self._reads = body, reads

    def read(self, amt: int | None = None) -> bytes:
        data = self._body.read(amt)
        self._reads.append(len(data))
        return data

    def close(self) -> None:
        self._body.close()


@pytest.fixture
def full_reads(s3: Any) -> Iterator[list[int]]:
    """Sizes of the pieces read from whole-object (non-ranged) GETs."""
    reads: list[int] = []

    def spy(parsed: dict[str, Any], **_: Any) -> None:
        if "Body" in parsed and "ContentRange" not in parsed:
            parsed["Body"] = _ReadSpy(parsed["Body"], reads)

    s3.meta.events.register("after-call.s3.GetObject", spy)
    yield reads


def test_hashes_50_mb_without_holding_it_in_memory(
    s3: Any, spool_dir: Path, full_reads: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a valid 50 MB PNG, and Textract's 10 MB image limit lifted so only hashing is measured
    monkeypatch.setattr("docpipe.validation.MAX_IMAGE_BYTES", 100 * 1024 * 1024)
    body = badinputs.big_png(50 * 1024 * 1024)
    put(s3, "incoming/huge.png", body)

    # WHEN it is validated
    ref = validate(s3, "incoming/huge.png")

    # THEN the hash is right, every byte came through pieces of at most CHUNK_BYTES, nothing was spooled
    assert ref["documentId"] == hashlib.sha256(body).hexdigest()
    assert sum(full_reads) == len(body)
    assert max(full_reads) <= CHUNK_BYTES < len(body) // 40
    assert list(spool_dir.iterdir()) == []


class _SyntheticPng:
    """A valid PNG of `size` bytes, generated on demand: a small image, a private chunk of zeros,
    IEND. Neither the test nor the fake S3 ever holds it, so any large allocation is validation's."""

    def __init__(self, size: int) -> None:
        small = badinputs.png_bytes(8, 8)
        filler = size - len(small) - 12
        crc = zlib.crc32(b"prVt")
        for start in range(0, filler, CHUNK_BYTES):
            crc = zlib.crc32(bytes(min(CHUNK_BYTES, filler - start)), crc)
        self._prefix = small[:-12] + struct.pack(">I", filler) + b"prVt"
        self._suffix = struct.pack(">I", crc) + small[-12:]
        self._zeros_end = len(self._prefix) + filler
        self.size = size

    def piece(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self.size)
        head = self._prefix[offset:end]
        zeros = max(0, min(end, self._zeros_end) - max(offset, len(self._prefix)))
        tail = self._suffix[max(0, offset - self._zeros_end) : max(0, end - self._zeros_end)]
        return head + bytes(zeros) + tail

    def body(self, first: int, last: int) -> _LazyBody:
        return _LazyBody(self, first, last + 1)


class _LazyBody:
    def __init__(self, source: _SyntheticPng, offset: int, end: int) -> None:
        self._source, self._offset, self._end = source, offset, end

    def read(self, amt: int | None = None) -> bytes:
        length = self._end - self._offset if amt is None else min(amt, self._end - self._offset)
        data = self._source.piece(self._offset, length)
        self._offset += len(data)
        return data

    def close(self) -> None:
        self._offset = self._end


def test_memory_peak_stays_far_below_the_object_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("docpipe.validation.MAX_IMAGE_BYTES", 100 * 1024 * 1024)
    # GIVEN a 50 MB PNG behind a fake S3 that generates it as it is read, never holding it whole
    png = _SyntheticPng(50 * 1024 * 1024)
    expected = hashlib.sha256()
    for offset in range(0, png.size, CHUNK_BYTES):
        expected.update(png.piece(offset, CHUNK_BYTES))
    client = boto3.client("s3", region_name="us-east-1")

    def serve(model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        if model.name == "HeadObject":
            return AWSResponse(None, 200, {}, None), {
                "ContentLength": png.size,
                "ETag": '"e"',
                "ContentType": "image/png",
            }
        first, last = 0, png.size - 1
        if byte_range := params["headers"].get("Range"):
            first, last = map(int, byte_range.removeprefix("bytes=").split("-"))
        return AWSResponse(None, 200, {}, None), {"Body": png.body(first, last)}

    client.meta.events.register("before-call.s3", serve)

    # WHEN it is validated under tracemalloc
    tracemalloc.start()
    try:
        ref = validate(client, "incoming/huge.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # THEN the hash matches hashlib over the same bytes and the peak is a few MB, not 50
    assert ref["documentId"] == expected.hexdigest()
    assert peak < 20 * 1024 * 1024, f"peak {peak / 2**20:.1f} MB"


def test_bundled_samples(s3: Any) -> None:
    # GIVEN the demo documents that `make run` processes
    for name in ("receipt.jpg", "invoice-2-pages.pdf", "not-really-a.pdf"):
        put(s3, f"incoming/{name}", (SAMPLES / name).read_bytes())

    # WHEN they are validated, THEN the receipt and the invoice pass and the fake PDF is spoofed
    assert validate(s3, "incoming/receipt.jpg")["mediaType"] == "image/jpeg"
    invoice = validate(s3, "incoming/invoice-2-pages.pdf")
    assert (invoice["mediaType"], invoice["pageCount"]) == ("application/pdf", 2)
    with pytest.raises(errors.SpoofedMediaType) as raised:
        validate(s3, "incoming/not-really-a.pdf")
    assert raised.value.message == "The file is named .pdf but its content is an HTML web page."


def test_image_over_textracts_10_mb_limit_is_rejected_before_any_read(s3) -> None:
    # GIVEN a PNG of 11 MB (Textract reads images up to 10 MB)
    body = b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * 1_048_576)
    s3.put_object(Bucket=BUCKET, Key="incoming/huge.png", Body=body)
    # WHEN it is validated under a 100 MB document limit
    with pytest.raises(errors.DocumentTooLarge) as caught:
        validate(s3, "incoming/huge.png", max_bytes=100 * 1_048_576)
    # THEN it is rejected with a message naming Textract's image limit
    assert caught.value.code == "DOCUMENT_TOO_LARGE"
    assert "10.0 MB" in caught.value.message


def test_a_damaged_pdf_after_an_encrypted_one_is_damaged_not_encrypted(s3: Any, spool_dir: Path) -> None:
    # GIVEN pdfium has just refused an encrypted PDF (its last error is now "password"), as happens
    # when one Lambda container validates documents one after another
    locked, hollow = badinputs.bad_input("PDF with a user password"), badinputs.bad_input("PDF with no pages")
    put(s3, locked.key, locked.body, locked.content_type)
    put(s3, hollow.key, hollow.body, hollow.content_type)
    with pytest.raises(errors.EncryptedDocument):
        validate(s3, locked.key)
    # WHEN a PDF that fails to open for another reason comes next
    with pytest.raises(errors.DocumentRejected) as raised:
        validate(s3, hollow.key)
    # THEN it is reported as what it is
    assert type(raised.value) is errors.CorruptDocument
