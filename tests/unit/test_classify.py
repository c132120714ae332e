"""docpipe.classify: docType from the key, object metadata/tags (moto S3) and a PDF text layer; the
Textract plan per docType and document shape."""

from __future__ import annotations

from typing import Any, Iterator

import boto3
import pytest
from botocore.stub import Stubber

from docpipe.classify import (
    QUERIES,
    classify,
    doc_type_from_key,
    doc_type_from_text,
    object_hint,
    pdf_text,
    plan_for,
)
from docpipe.errors import AccessDenied
from tests.conftest import REGION
from tests.pdfs import lines_pdf

# Test-side clients come from one session so botocore parses each service model once per module;
# they are created inside each test's mock, and moto intercepts them like any other.
AWS = boto3.Session(region_name=REGION)

BUCKET = "docpipe-classify-test"
PREFIX = "incoming/"
INVOICE_LINES = ["ACME Supplies Ltd.", "INVOICE", "Invoice Number: INV-2024-0042", "Invoice Date: 2024-03-01",
                 "Bill To: Example Corp", "Payment Terms: Net 30", "Amount Due: 1,810.46 USD"]



@pytest.fixture
def s3(aws: None) -> Iterator[Any]:
    client = AWS.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield client


def put(s3: Any, key: str, body: bytes, **extra: Any) -> str:
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)["VersionId"]


# --- key hints -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("incoming/receipts/a.jpg", "receipt"),
        ("incoming/2024-invoice-7.pdf", "invoice"),
        ("incoming/Invoices/scan-001.pdf", "invoice"),
        ("incoming/team-a/passport/scan.jpg", "identity"),
        ("incoming/2024/insurance_card.png", "insurance"),
        ("incoming/Policy-Renewal.PDF", "insurance"),
        ("incoming/driver-license/front.jpg", "identity"),
        ("incoming/scan-0001.pdf", None),
        ("incoming/receipt-and-invoice.pdf", None),
        ("incoming/id-card.jpg", None),
        ("incoming/IMG_20240301.jpeg", None),
    ],
)
def test_doc_type_from_key(key: str, expected: str | None) -> None:
    # GIVEN an uploaded key
    # WHEN the key is read for a hint
    # THEN a folder or an unambiguous file-name word decides; two different words, short tokens or none give None
    assert doc_type_from_key(key, PREFIX) == expected


def test_folder_outside_the_incoming_prefix_is_not_a_hint() -> None:
    # GIVEN a prefix whose own name is a docType word
    # WHEN the key below it carries no hint
    # THEN the prefix itself is not taken as one
    assert doc_type_from_key("receipts/incoming/scan.pdf", "receipts/incoming/") is None


# --- metadata and tags -----------------------------------------------------------------------------------


def test_metadata_hint(s3: Any) -> None:
    # GIVEN an object uploaded with x-amz-meta-doc-type
    version = put(s3, "incoming/scan.jpg", b"x", Metadata={"doc-type": "Receipts"})
    # WHEN its hint is read
    # THEN the metadata decides
    assert object_hint(s3, BUCKET, "incoming/scan.jpg", version) == "receipt"


def test_tag_hint(s3: Any) -> None:
    # GIVEN an object tagged doc-type=policy (and unrelated metadata)
    version = put(s3, "incoming/scan.jpg", b"x", Metadata={"owner": "ops"}, Tagging="team=ops&doc-type=policy")
    # WHEN its hint is read
    # THEN the tag decides
    assert object_hint(s3, BUCKET, "incoming/scan.jpg", version) == "insurance"


def test_hint_is_read_from_the_uploaded_version(s3: Any) -> None:
    # GIVEN a tagged first version, overwritten by an untagged second one
    first = put(s3, "incoming/scan.jpg", b"1", Tagging="doc-type=invoice")
    second = put(s3, "incoming/scan.jpg", b"2")
    # WHEN each version's hint is read
    # THEN each answers for itself
    assert object_hint(s3, BUCKET, "incoming/scan.jpg", first) == "invoice"
    assert object_hint(s3, BUCKET, "incoming/scan.jpg", second) is None


def test_unknown_hint_values_are_ignored(s3: Any) -> None:
    # GIVEN metadata and a tag naming no docType
    version = put(s3, "incoming/scan.jpg", b"x", Metadata={"doc-type": "spreadsheet"}, Tagging="doc-type=memo")
    # WHEN its hint is read
    # THEN there is none
    assert object_hint(s3, BUCKET, "incoming/scan.jpg", version) is None


def test_access_denied_on_the_hint_is_a_configuration_error(aws: None) -> None:
    # GIVEN S3 refusing HeadObject
    client = AWS.client("s3")
    with Stubber(client) as stub:
        stub.add_client_error("head_object", service_error_code="AccessDenied", http_status_code=403)
        # WHEN the hint is read
        # THEN AccessDenied (fail fast, alarm) is raised
        with pytest.raises(AccessDenied):
            object_hint(client, BUCKET, "incoming/scan.jpg", None)


# --- PDF text layer --------------------------------------------------------------------------------------


def test_pdf_text_layer_is_read_and_classified(s3: Any) -> None:
    # GIVEN an unhinted PDF whose text layer reads like an invoice
    body = lines_pdf(INVOICE_LINES)
    version = put(s3, "incoming/scan-0001.pdf", body)
    # WHEN its text is extracted
    text = pdf_text(s3, BUCKET, "incoming/scan-0001.pdf", version, len(body))
    # THEN the lines are there and they classify as an invoice
    assert "Invoice Number: INV-2024-0042" in text
    assert doc_type_from_text(text) == "invoice"


def test_pdf_over_the_text_layer_limit_is_not_downloaded(aws: None) -> None:
    # GIVEN a PDF larger than the text-layer limit (S3 is a stub with no responses: any call would fail)
    client = AWS.client("s3")
    with Stubber(client) as stub:
        # WHEN its text is asked for
        text = pdf_text(client, BUCKET, "incoming/huge.pdf", None, 21 * 1024 * 1024)
        # THEN nothing is read and the text is empty
        assert text == ""
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thank you for shopping! SUBTOTAL 4.50 VISA ****1234 CHANGE DUE 0.00", "receipt"),
        ("Policy Number: P-1 Insured: Jane Roe Premium: 120.00 Deductible: 500", "insurance"),
        ("DRIVER LICENSE  DOB 01/02/1990  EXPIRES 01/02/2030", "identity"),
        ("Meeting notes about the invoice", None),
        ("", None),
    ],
)
def test_doc_type_from_text(text: str, expected: str | None) -> None:
    # GIVEN a page's text
    # WHEN it is scored
    # THEN at least two keyword hits of one type decide, fewer decide nothing
    assert doc_type_from_text(text) == expected


def test_classify_prefers_key_then_metadata_then_text(s3: Any) -> None:
    # GIVEN three PDFs: hinted by key, by metadata, and by text layer only (all with invoice text)
    body = lines_pdf(INVOICE_LINES)
    document = {"mediaType": "application/pdf", "pageCount": 1, "size": len(body)}
    v1 = put(s3, "incoming/receipts/a.pdf", body)
    v2 = put(s3, "incoming/b.pdf", body, Metadata={"doc-type": "insurance"})
    v3 = put(s3, "incoming/c.pdf", body)
    # WHEN each is classified
    by_key = classify(s3, bucket=BUCKET, key="incoming/receipts/a.pdf", version_id=v1, document=document,
                      incoming_prefix=PREFIX)
    by_meta = classify(s3, bucket=BUCKET, key="incoming/b.pdf", version_id=v2, document=document,
                       incoming_prefix=PREFIX)
    by_text = classify(s3, bucket=BUCKET, key="incoming/c.pdf", version_id=v3, document=document,
                       incoming_prefix=PREFIX)
    # THEN the most trusted evidence wins, and the plan follows the docType
    assert (by_key["docType"], by_key["source"]) == ("receipt", "key")
    assert (by_meta["docType"], by_meta["source"]) == ("insurance", "metadata")
    assert by_meta["plan"]["queries"] == QUERIES["insurance"]
    assert (by_text["docType"], by_text["source"]) == ("invoice", "text")
    assert by_text["plan"] == {"api": "AnalyzeExpense", "mode": "async", "featureTypes": [], "queries": []}


def test_classify_an_unhinted_image_gets_the_expense_first_plan(s3: Any) -> None:
    # GIVEN a JPEG with no hint anywhere (images carry no text layer)
    version = put(s3, "incoming/IMG_0001.jpg", b"\xff\xd8\xff\xe0jpeg")
    document = {"mediaType": "image/jpeg", "pageCount": 1, "size": 9}
    # WHEN it is classified
    result = classify(s3, bucket=BUCKET, key="incoming/IMG_0001.jpg", version_id=version, document=document,
                      incoming_prefix=PREFIX)
    # THEN it is generic by default, with the sync expense-first plan
    assert result == {"docType": "generic", "source": "default",
                      "plan": {"api": "AnalyzeExpense", "mode": "sync", "featureTypes": [], "queries": []}}


def test_classify_an_unhinted_pdf_without_telling_text_is_generic(s3: Any) -> None:
    # GIVEN a PDF whose text does not point anywhere
    body = lines_pdf(["Quarterly meeting notes", "Attendees: A, B, C"])
    version = put(s3, "incoming/notes.pdf", body)
    document = {"mediaType": "application/pdf", "pageCount": 1, "size": len(body)}
    # WHEN it is classified
    result = classify(s3, bucket=BUCKET, key="incoming/notes.pdf", version_id=version, document=document,
                      incoming_prefix=PREFIX)
    # THEN it is generic with the async expense-first plan
    assert (result["docType"], result["source"]) == ("generic", "default")
    assert result["plan"] == {"api": "AnalyzeExpense", "mode": "async", "featureTypes": [], "queries": []}


# --- plans -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc_type", "media_type", "pages", "api", "mode"),
    [
        ("receipt", "image/jpeg", 1, "AnalyzeExpense", "sync"),
        ("invoice", "image/png", 1, "AnalyzeExpense", "sync"),
        ("invoice", "image/tiff", 1, "AnalyzeExpense", "sync"),
        ("receipt", "application/pdf", 1, "AnalyzeExpense", "async"),
        ("invoice", "application/pdf", 40, "AnalyzeExpense", "async"),
        ("invoice", "image/tiff", 3, "AnalyzeExpense", "async"),
        ("generic", "image/tiff", 12, "AnalyzeDocument", "async"),
        ("generic", "image/png", 1, "AnalyzeDocument", "sync"),
    ],
)
def test_plan_mode_follows_the_document_shape(doc_type: str, media_type: str, pages: int, api: str, mode: str) -> None:
    # GIVEN a docType and a document shape
    # WHEN the plan is made
    plan = plan_for(doc_type, media_type, pages)
    # THEN single images go sync, PDFs and multi-page TIFFs async
    assert (plan["api"], plan["mode"]) == (api, mode)


@pytest.mark.parametrize("media_type", ["image/jpeg", "image/png"])
def test_identity_images_use_analyze_id(media_type: str) -> None:
    # GIVEN an identity document photographed as one image
    # WHEN the plan is made
    # THEN it is AnalyzeID, sync, with no features
    assert plan_for("identity", media_type, 1) == {"api": "AnalyzeID", "mode": "sync", "featureTypes": [],
                                                  "queries": []}


def test_identity_pdf_falls_back_to_forms() -> None:
    # GIVEN an identity document as a multi-page PDF (AnalyzeID has no async API)
    # WHEN the plan is made
    # THEN it is an async AnalyzeDocument with FORMS
    assert plan_for("identity", "application/pdf", 2) == {"api": "AnalyzeDocument", "mode": "async",
                                                         "featureTypes": ["FORMS"], "queries": []}


def test_insurance_uses_queries() -> None:
    # GIVEN an insurance document
    # WHEN the plan is made
    plan = plan_for("insurance", "application/pdf", 2)
    # THEN it is AnalyzeDocument with QUERIES and FORMS, and queries Textract accepts (aliases, ≤ 200 chars)
    assert (plan["api"], plan["mode"]) == ("AnalyzeDocument", "async")
    assert plan["featureTypes"] == ["QUERIES", "FORMS"]
    assert plan["queries"] and plan["queries"] == QUERIES["insurance"]
    aliases = [q["Alias"] for q in plan["queries"]]
    assert len(aliases) == len(set(aliases))
    assert all(0 < len(q["Text"]) <= 200 for q in plan["queries"])


def test_generic_uses_forms_and_tables_and_unhinted_uses_expense_first() -> None:
    # GIVEN a hinted generic document and an unhinted one
    # WHEN plans are made
    hinted = plan_for("generic", "application/pdf", 3)
    unhinted = plan_for("generic", "application/pdf", 3, expense_first=True)
    # THEN generic reads forms and tables; unhinted goes expense first
    assert hinted == {"api": "AnalyzeDocument", "mode": "async", "featureTypes": ["FORMS", "TABLES"], "queries": []}
    assert unhinted == {"api": "AnalyzeExpense", "mode": "async", "featureTypes": [], "queries": []}
