"""The local Textract engine through a real boto3 client: shapes, async jobs, errors, faults, replay.

Documents here are small PDFs with a Helvetica text layer written by the tests (no OCR, so fast);
OCR-backed behaviour is in test_local_textract_ocr.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from PIL import Image

from docpipe_local.engine import FaultPlan, LocalTextract, LocalTextractError
from tests.pdfs import Run, text_pdf

REGION = "us-east-1"
BUCKET = "docpipe-engine-tests"
MODEL = botocore.session.get_session().get_service_model("textract")




INVOICE_PAGE: list[Run] = [
    (50, 60, 18, "Northwind Traders"),
    (50, 80, 10, "12 Harbor Road"),
    (50, 94, 10, "Seattle, WA 98101"),
    (380, 80, 10, "Invoice Number: INV-7781"),
    (380, 94, 10, "Invoice Date:"), (460, 94, 10, "02/11/2024"),
    (380, 108, 10, "Due Date:"), (460, 108, 10, "03/12/2024"),
    (50, 160, 10, "Description"), (300, 160, 10, "Qty"), (380, 160, 10, "Unit Price"), (480, 160, 10, "Amount"),
    (50, 176, 10, "Blue widgets"), (305, 176, 10, "4"), (380, 176, 10, "$2.50"), (480, 176, 10, "$10.00"),
    (50, 192, 10, "Red gadgets"), (305, 192, 10, "2"), (380, 192, 10, "$7.25"), (480, 192, 10, "$14.50"),
    (50, 208, 10, "Green sprockets"), (305, 208, 10, "1"), (380, 208, 10, "$5.00"), (480, 208, 10, "$5.00"),
    (380, 240, 10, "Subtotal"), (480, 240, 10, "$29.50"),
    (380, 256, 10, "Tax"), (480, 256, 10, "$2.36"),
    (380, 272, 10, "Total"), (480, 272, 10, "$31.86"),
]
SECOND_PAGE: list[Run] = [(50, 60, 14, "Terms and conditions"), (50, 90, 10, "Payment Terms: Net 30"),
                          *[(50, 110 + 14 * i, 10, f"Clause {i + 1} applies to every order placed.") for i in range(30)]]
LICENCE_PAGE: list[Run] = [(40, 40, 16, "DRIVER LICENSE"), (40, 80, 10, "DL #"), (40, 94, 12, "D1234567"),
                           (200, 80, 10, "DOB"), (200, 94, 12, "07/04/1990"), (40, 120, 10, "EXP 07/04/2030"),
                           (40, 150, 10, "LN"), (40, 164, 12, "RIVERA"), (200, 150, 10, "FN"), (200, 164, 12, "ANA")]


@dataclass
class Env:
    engine: LocalTextract
    textract: Any
    s3: Any
    clock: list[float]

    def put(self, key: str, body: bytes) -> dict[str, str]:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return {"Bucket": BUCKET, "Name": key}


@pytest.fixture
def env() -> Iterator[Env]:
    """moto S3 with a bucket, an engine on a hand-driven clock, and a Textract client it answers."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        clock = [1_000.0]
        engine = LocalTextract(s3_client_factory=lambda: boto3.client("s3", region_name=REGION),
                               clock=lambda: clock[0], results_per_object=25)
        textract = boto3.client("textract", region_name=REGION)
        engine.install_on_client(textract)
        yield Env(engine, textract, s3, clock)
        engine.uninstall()


def assert_matches_model(operation: str, response: dict[str, Any]) -> None:
    """Every key and value of the response is what botocore's Textract model declares."""

    def check(shape: Any, value: Any, path: str) -> None:
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(value, dict), path
            unknown = set(value) - set(shape.members) - {"ResponseMetadata"}
            assert not unknown, f"{path}: {unknown} not in {shape.name}"
            assert set(shape.required_members) <= set(value), f"{path}: missing {shape.required_members}"
            for key, item in value.items():
                if key != "ResponseMetadata":
                    check(shape.members[key], item, f"{path}.{key}")
        elif kind == "list":
            assert isinstance(value, list), path
            for i, item in enumerate(value):
                check(shape.member, item, f"{path}[{i}]")
        elif kind == "string":
            assert isinstance(value, str), path
            # AnalyzeID answers "Date" where the model says DATE (AWS-recorded response in
            # amazon-textract-textractor's test_analyze_id_from_image.json).
            if shape.enum and not (shape.name == "ValueType" and value == "Date"):
                assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
        elif kind == "integer":
            assert isinstance(value, int) and not isinstance(value, bool), path
        elif kind == "float":
            assert isinstance(value, (int, float)), path
            assert shape.metadata.get("min", value) <= value <= shape.metadata.get("max", value), f"{path}: {value}"
        else:
            raise AssertionError(f"{path}: unexpected shape type {kind}")

    check(MODEL.operation_model(operation).output_shape, response, operation)


def by_id(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {b["Id"]: b for b in blocks}


def child_text(block: dict[str, Any], index: dict[str, dict[str, Any]]) -> str:
    return " ".join(index[i]["Text"] for r in block.get("Relationships", []) if r["Type"] == "CHILD" for i in r["Ids"])


def pairs(blocks: list[dict[str, Any]]) -> dict[str, str]:
    index = by_id(blocks)
    return {child_text(b, index): child_text(index[b["Relationships"][0]["Ids"][0]], index)
            for b in blocks if b["BlockType"] == "KEY_VALUE_SET" and b["EntityTypes"] == ["KEY"]}


def summary(document: dict[str, Any]) -> dict[str, str]:
    return {f["Type"]["Text"]: f["ValueDetection"]["Text"] for f in document["SummaryFields"]}


# -- synchronous operations ----------------------------------------------------------------------------
def test_detect_document_text_returns_pages_lines_and_words_with_geometry(env: Env) -> None:
    # GIVEN a one-page PDF with a text layer, passed as bytes
    pdf = text_pdf(INVOICE_PAGE)
    # WHEN DetectDocumentText runs
    response = env.textract.detect_document_text(Document={"Bytes": pdf})
    # THEN the response is the modelled shape, with a PAGE, its LINEs and their WORDs
    assert_matches_model("DetectDocumentText", response)
    assert response["DocumentMetadata"] == {"Pages": 1}
    assert response["DetectDocumentTextModelVersion"] == "1.0"
    blocks = response["Blocks"]
    index = by_id(blocks)
    assert len(index) == len(blocks) and blocks[0]["BlockType"] == "PAGE"
    lines = [b for b in blocks if b["BlockType"] == "LINE"]
    assert [line["Text"] for line in lines[:3]] == ["Northwind Traders", "12 Harbor Road", "Invoice Number: INV-7781"]
    assert blocks[0]["Relationships"][0]["Ids"] == [line["Id"] for line in lines]
    # AND every line's words are its children, with normalised geometry, text-layer confidence, page 1
    for line in lines:
        assert child_text(line, index) == line["Text"]
    for block in blocks:
        box = block["Geometry"]["BoundingBox"]
        assert 0 <= box["Left"] <= box["Left"] + box["Width"] <= 1 and 0 <= box["Top"] <= box["Top"] + box["Height"] <= 1
        assert len(block["Geometry"]["Polygon"]) == 4 and block["Page"] == 1
    words = [b for b in blocks if b["BlockType"] == "WORD"]
    assert all(w["TextType"] == "PRINTED" and w["Confidence"] > 99 for w in words)
    title = next(b for b in lines if b["Text"] == "Northwind Traders")["Geometry"]["BoundingBox"]
    assert title["Left"] == pytest.approx(50 / 612, abs=0.01) and title["Top"] == pytest.approx(45 / 792, abs=0.01)


def test_geometry_follows_the_page_as_displayed(env: Env) -> None:
    # GIVEN a page turned a quarter clockwise for display (/Rotate 90), text near its unrotated top-left
    pdf = text_pdf([(50, 60, 12, "Rotated heading")], rotate=90)
    # WHEN its text is detected
    blocks = env.textract.detect_document_text(Document={"Bytes": pdf})["Blocks"]
    # THEN the line sits near the top-right of the displayed page, as a reader sees it
    box = next(b for b in blocks if b["BlockType"] == "LINE")["Geometry"]["BoundingBox"]
    assert box["Left"] > 0.85 and box["Top"] < 0.2 and box["Height"] > box["Width"]


def test_analyze_document_derives_forms_tables_and_queries(env: Env) -> None:
    # GIVEN an invoice page in S3
    location = env.put("invoice.pdf", text_pdf(INVOICE_PAGE))
    # WHEN AnalyzeDocument runs with FORMS, TABLES and QUERIES
    response = env.textract.analyze_document(
        Document={"S3Object": location}, FeatureTypes=["FORMS", "TABLES", "QUERIES"],
        QueriesConfig={"Queries": [{"Text": "What is the invoice number?", "Alias": "INVOICE_NUMBER"},
                                   {"Text": "What is the due date?"},
                                   {"Text": "Who signed the delivery note?"}]})
    assert_matches_model("AnalyzeDocument", response)
    blocks = response["Blocks"]
    index = by_id(blocks)
    # THEN the printed label/value pairs are KEY_VALUE_SETs
    found = pairs(blocks)
    assert found["Invoice Number:"] == "INV-7781"
    assert found["Invoice Date:"] == "02/11/2024" and found["Due Date:"] == "03/12/2024"
    assert found["Total"] == "$31.86"
    # AND the item grid is a TABLE: header row of COLUMN_HEADER cells, then one row per item
    table = next(b for b in blocks if b["BlockType"] == "TABLE")
    cells = [index[i] for i in table["Relationships"][0]["Ids"]]
    grid = {(c["RowIndex"], c["ColumnIndex"]): child_text(c, index) for c in cells}
    assert [grid[(1, c)] for c in range(1, 5)] == ["Description", "Qty", "Unit Price", "Amount"]
    assert [grid[(3, c)] for c in range(1, 5)] == ["Red gadgets", "2", "$7.25", "$14.50"]
    assert all(c["EntityTypes"] == ["COLUMN_HEADER"] for c in cells if c["RowIndex"] == 1)
    # AND answered queries point to a QUERY_RESULT; the unanswerable one has no answer at all
    queries = {b["Query"]["Text"]: b for b in blocks if b["BlockType"] == "QUERY"}
    assert queries["What is the invoice number?"]["Query"]["Alias"] == "INVOICE_NUMBER"
    answer = index[queries["What is the invoice number?"]["Relationships"][0]["Ids"][0]]
    assert answer["BlockType"] == "QUERY_RESULT" and answer["Text"] == "INV-7781"
    assert index[queries["What is the due date?"]["Relationships"][0]["Ids"][0]]["Text"] == "03/12/2024"
    assert "Relationships" not in queries["Who signed the delivery note?"]
    assert sum(b["BlockType"] == "QUERY_RESULT" for b in blocks) == 2
    # AND the PAGE lists the tables, key/value sets and queries among its children
    page_children = set(blocks[0]["Relationships"][0]["Ids"])
    assert table["Id"] in page_children and answer["Id"] in page_children


def test_analyze_expense_reads_summary_fields_and_line_items(env: Env) -> None:
    # GIVEN the invoice page as bytes
    # WHEN AnalyzeExpense runs
    response = env.textract.analyze_expense(Document={"Bytes": text_pdf(INVOICE_PAGE)})
    assert_matches_model("AnalyzeExpense", response)
    document = response["ExpenseDocuments"][0]
    # THEN the summary fields carry the printed values under Textract's types
    fields = summary(document)
    assert fields["VENDOR_NAME"] == "Northwind Traders"
    assert fields["VENDOR_ADDRESS"] == "12 Harbor Road\nSeattle, WA 98101"
    assert fields["INVOICE_RECEIPT_ID"] == "INV-7781" and fields["INVOICE_RECEIPT_DATE"] == "02/11/2024"
    assert fields["DUE_DATE"] == "03/12/2024"
    assert (fields["SUBTOTAL"], fields["TAX"], fields["TOTAL"]) == ("$29.50", "$2.36", "$31.86")
    total = next(f for f in document["SummaryFields"] if f["Type"]["Text"] == "TOTAL")
    assert total["LabelDetection"]["Text"] == "Total" and total["Currency"] == {"Code": "USD"}
    assert total["PageNumber"] == 1
    # AND a labelled value is surer than the vendor name known only by its position
    vendor = next(f for f in document["SummaryFields"] if f["Type"]["Text"] == "VENDOR_NAME")
    assert total["ValueDetection"]["Confidence"] > vendor["ValueDetection"]["Confidence"]
    # AND each item row is a line item under the column headers
    items = [{f["Type"]["Text"]: f["ValueDetection"]["Text"] for f in item["LineItemExpenseFields"]}
             for item in document["LineItemGroups"][0]["LineItems"]]
    assert items[1] == {"ITEM": "Red gadgets", "QUANTITY": "2", "UNIT_PRICE": "$7.25", "PRICE": "$14.50",
                        "EXPENSE_ROW": "Red gadgets 2 $7.25 $14.50"}
    assert len(items) == 3
    assert {b["BlockType"] for b in document["Blocks"]} == {"PAGE", "LINE", "WORD"}


def test_analyze_id_reads_labelled_fields_and_omits_the_rest(env: Env) -> None:
    # GIVEN a licence-like page: labels with the values under or after them
    # WHEN AnalyzeID runs
    response = env.textract.analyze_id(DocumentPages=[{"Bytes": text_pdf(LICENCE_PAGE)}])
    assert_matches_model("AnalyzeID", response)
    document = response["IdentityDocuments"][0]
    fields = {f["Type"]["Text"]: f["ValueDetection"] for f in document["IdentityDocumentFields"]}
    # THEN the labelled values are there, dates normalised
    assert fields["DOCUMENT_NUMBER"]["Text"] == "D1234567"
    assert fields["DATE_OF_BIRTH"]["Text"] == "07/04/1990"
    assert fields["DATE_OF_BIRTH"]["NormalizedValue"] == {"Value": "1990-07-04T00:00:00", "ValueType": "Date"}
    assert fields["EXPIRATION_DATE"]["Text"] == "07/04/2030"
    assert (fields["LAST_NAME"]["Text"], fields["FIRST_NAME"]["Text"]) == ("RIVERA", "ANA")
    assert fields["ID_TYPE"]["Text"] == "DRIVER LICENSE FRONT"
    # AND what the page does not show is omitted, not guessed
    assert "MIDDLE_NAME" not in fields and "ADDRESS" not in fields and "MRZ_CODE" not in fields
    assert document["DocumentIndex"] == 1 and response["DocumentMetadata"] == {"Pages": 1}


def test_sync_reads_a_pinned_s3_version(env: Env) -> None:
    # GIVEN a versioned bucket where the object was overwritten
    env.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = env.s3.put_object(Bucket=BUCKET, Key="doc.pdf", Body=text_pdf([(50, 60, 12, "First version")]))
    env.put("doc.pdf", text_pdf([(50, 60, 12, "Second version")]))
    # WHEN the first version is named
    response = env.textract.detect_document_text(
        Document={"S3Object": {"Bucket": BUCKET, "Name": "doc.pdf", "Version": first["VersionId"]}})
    # THEN that version is what was read
    assert [b["Text"] for b in response["Blocks"] if b["BlockType"] == "LINE"] == ["First version"]


# -- asynchronous jobs ---------------------------------------------------------------------------------
def test_async_job_runs_on_the_clock_paginates_and_writes_output_objects(env: Env) -> None:
    # GIVEN a two-page PDF in S3 and an engine writing at most 25 blocks per output object
    location = env.put("two-pages.pdf", text_pdf(INVOICE_PAGE, SECOND_PAGE))
    # WHEN the job starts
    job = env.textract.start_document_text_detection(
        DocumentLocation={"S3Object": location}, JobTag="docpipe-test",
        OutputConfig={"S3Bucket": BUCKET, "S3Prefix": "results/doc-1"},
        NotificationChannel={"SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:t", "RoleArn": "arn:aws:iam::1:role/r"})
    # THEN it is IN_PROGRESS (status only) until the clock passes its duration (5 s + 2 s per page)
    early = env.textract.get_document_text_detection(JobId=job["JobId"])
    assert_matches_model("GetDocumentTextDetection", early)
    assert {k for k in early if k != "ResponseMetadata"} == {"JobStatus"} and early["JobStatus"] == "IN_PROGRESS"
    env.clock[0] += 8.9
    assert env.textract.get_document_text_detection(JobId=job["JobId"])["JobStatus"] == "IN_PROGRESS"
    assert env.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"results/doc-1/{job['JobId']}/").get("KeyCount") == 0
    env.clock[0] += 0.2
    # WHEN it is read with MaxResults=40 until NextToken runs out
    pages, token = [], None
    while True:
        args = {"JobId": job["JobId"], "MaxResults": 40, **({"NextToken": token} if token else {})}
        page = env.textract.get_document_text_detection(**args)
        assert_matches_model("GetDocumentTextDetection", page)
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            break
    # THEN every page has at most 40 blocks and together they equal one unpaginated read
    whole = env.textract.get_document_text_detection(JobId=job["JobId"])
    assert "NextToken" not in whole and whole["JobStatus"] == "SUCCEEDED"
    assert whole["DocumentMetadata"] == {"Pages": 2} and whole["DetectDocumentTextModelVersion"] == "1.0"
    assert all(len(p["Blocks"]) <= 40 for p in pages) and len(pages) == -(-len(whole["Blocks"]) // 40)
    assert [b["Id"] for p in pages for b in p["Blocks"]] == [b["Id"] for b in whole["Blocks"]]
    assert {b["Page"] for b in whole["Blocks"]} == {1, 2}
    # AND the OutputConfig objects hold the same result, 25 blocks at most each, plus the access check
    keys = [o["Key"] for o in env.s3.list_objects_v2(Bucket=BUCKET, Prefix="results/doc-1/")["Contents"]]
    numbered = sorted((k for k in keys if k.rsplit("/", 1)[1].isdigit()), key=lambda k: int(k.rsplit("/", 1)[1]))
    assert "results/doc-1/.s3_access_check" in keys
    assert numbered == [f"results/doc-1/{job['JobId']}/{n}" for n in range(1, len(numbered) + 1)]
    stored = [json.load(env.s3.get_object(Bucket=BUCKET, Key=k)["Body"]) for k in numbered]
    assert all(len(s["Blocks"]) <= 25 and s["JobStatus"] == "SUCCEEDED" for s in stored)
    assert [b["Id"] for s in stored for b in s["Blocks"]] == [b["Id"] for b in whole["Blocks"]]
    assert all("NextToken" in s for s in stored[:-1]) and "NextToken" not in stored[-1]


def test_async_expense_pages_are_expense_documents(env: Env) -> None:
    # GIVEN a two-page document analysed for expenses
    job = env.textract.start_expense_analysis(
        DocumentLocation={"S3Object": env.put("inv.pdf", text_pdf(INVOICE_PAGE, SECOND_PAGE))},
        OutputConfig={"S3Bucket": BUCKET, "S3Prefix": "exp"})
    env.clock[0] += 60
    # WHEN it is read one result at a time
    first = env.textract.get_expense_analysis(JobId=job["JobId"], MaxResults=1)
    second = env.textract.get_expense_analysis(JobId=job["JobId"], MaxResults=1, NextToken=first["NextToken"])
    # THEN each page is one ExpenseDocument, numbered by page
    assert_matches_model("GetExpenseAnalysis", first)
    assert [d["ExpenseIndex"] for d in first["ExpenseDocuments"] + second["ExpenseDocuments"]] == [1, 2]
    assert "NextToken" not in second and first["AnalyzeExpenseModelVersion"] == "1.0"
    assert summary(first["ExpenseDocuments"][0])["TOTAL"] == "$31.86"
    assert summary(second["ExpenseDocuments"][0])["PAYMENT_TERMS"] == "Net 30"
    # AND the output objects split between whole ExpenseDocuments (each page has more than 25 blocks)
    objects = env.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"exp/{job['JobId']}/")["Contents"]
    assert len(objects) == 2


def test_client_request_token_makes_start_idempotent(env: Env) -> None:
    location = env.put("doc.pdf", text_pdf(INVOICE_PAGE))
    request = {"DocumentLocation": {"S3Object": location}, "FeatureTypes": ["FORMS"], "ClientRequestToken": "exec-42"}
    # GIVEN two concurrent starts and a later retry with the same token and request
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(env.textract.start_document_analysis(**request)["JobId"]))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    retried = env.textract.start_document_analysis(**request)["JobId"]
    # THEN all three got the same job, and the document was read once
    assert results[0] == results[1] == retried
    assert sum(c.source is not None for c in env.engine.calls) == 1
    # WHEN the token is reused with a different request
    with pytest.raises(env.textract.exceptions.IdempotentParameterMismatchException):
        env.textract.start_document_analysis(**{**request, "FeatureTypes": ["TABLES"]})
    # THEN a new token starts a new job
    assert env.textract.start_document_analysis(**{**request, "ClientRequestToken": "exec-43"})["JobId"] != retried


def test_calls_are_recorded_with_clock_time_outcome_and_job(env: Env) -> None:
    location = env.put("doc.pdf", text_pdf(INVOICE_PAGE))
    # GIVEN a start, a poll and a poll of an unknown job
    job = env.textract.start_document_text_detection(DocumentLocation={"S3Object": location})["JobId"]
    env.clock[0] += 3
    env.textract.get_document_text_detection(JobId=job)
    with pytest.raises(env.textract.exceptions.InvalidJobIdException):
        env.textract.get_document_text_detection(JobId="0" * 64)
    # THEN the engine recorded each call as it saw it
    calls = env.engine.calls
    assert [(c.operation, c.at, c.outcome, c.job_id) for c in calls] == [
        ("StartDocumentTextDetection", 1000.0, "OK", job), ("GetDocumentTextDetection", 1003.0, "OK", job),
        ("GetDocumentTextDetection", 1003.0, "InvalidJobIdException", None)]
    assert calls[0].source == "text-layer" and calls[0].seconds >= 0


# -- errors as AWS names them --------------------------------------------------------------------------
def _png(size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("call", "code"), [
    (lambda t: t.detect_document_text(Document={"S3Object": {"Bucket": BUCKET, "Name": "missing.pdf"}}),
     "InvalidS3ObjectException"),
    (lambda t: t.start_document_text_detection(DocumentLocation={"S3Object": {"Bucket": "no-such-bucket-x",
                                                                              "Name": "a.pdf"}}),
     "InvalidS3ObjectException"),
    (lambda t: t.detect_document_text(Document={"Bytes": b"<html><body>not a document</body></html>"}),
     "UnsupportedDocumentException"),
    (lambda t: t.analyze_expense(Document={"Bytes": text_pdf([(50, 60, 12, "one")], [(50, 60, 12, "two")])}),
     "UnsupportedDocumentException"),
    (lambda t: t.detect_document_text(Document={"Bytes": _png()[:60]}), "BadDocumentException"),
    (lambda t: t.detect_document_text(Document={"Bytes": b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog"}),
     "BadDocumentException"),
    (lambda t: t.detect_document_text(Document={"Bytes": _png() + b"\0" * (5 * 1024 * 1024)}),
     "DocumentTooLargeException"),
    (lambda t: t.detect_document_text(Document={"Bytes": _png(), "S3Object": {"Bucket": BUCKET, "Name": "x"}}),
     "InvalidParameterException"),
    (lambda t: t.analyze_document(Document={"Bytes": _png()}, FeatureTypes=["QUERIES"]), "InvalidParameterException"),
    (lambda t: t.analyze_document(Document={"Bytes": text_pdf([(50, 60, 12, "x")])}, FeatureTypes=["QUERIES"],
                                  QueriesConfig={"Queries": [{"Text": "What?", "Pages": ["2"]}]}),
     "InvalidParameterException"),
    (lambda t: t.get_document_analysis(JobId="f" * 64), "InvalidJobIdException"),
    (lambda t: t.start_document_text_detection(DocumentLocation={"S3Object": {"Bucket": BUCKET, "Name": "x"}},
                                               KMSKeyId="-not a key"), "InvalidParameterException"),
])
def test_errors_surface_as_the_modelled_exceptions(env: Env, call: Any, code: str) -> None:
    # WHEN a call Textract rejects is made
    with pytest.raises(ClientError) as raised:
        call(env.textract)
    # THEN botocore raises the modelled class for Textract's error code, with a 400
    assert type(raised.value) is getattr(env.textract.exceptions, code)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_size_limits_follow_textract(env: Env) -> None:
    # GIVEN an 11 MB PNG and an 11 MB PDF in S3
    big_png = env.put("big.png", _png() + b"\0" * (11 * 1024 * 1024))
    big_pdf = env.put("big.pdf", text_pdf([(50, 60, 12, "padded")]) + b"\0" * (11 * 1024 * 1024))
    # THEN sync operations refuse both (10 MB), async refuses the image (10 MB) but takes the PDF (500 MB)
    for location in (big_png, big_pdf):
        with pytest.raises(env.textract.exceptions.DocumentTooLargeException):
            env.textract.detect_document_text(Document={"S3Object": location})
    with pytest.raises(env.textract.exceptions.DocumentTooLargeException):
        env.textract.start_document_text_detection(DocumentLocation={"S3Object": big_png})
    assert env.textract.start_document_text_detection(DocumentLocation={"S3Object": big_pdf})["JobId"]


def test_bad_next_token_and_unimplemented_operations(env: Env) -> None:
    job = env.textract.start_document_text_detection(
        DocumentLocation={"S3Object": env.put("d.pdf", text_pdf(INVOICE_PAGE))})["JobId"]
    env.clock[0] += 60
    # WHEN a NextToken was not issued for this job
    with pytest.raises(env.textract.exceptions.InvalidParameterException):
        env.textract.get_document_text_detection(JobId=job, NextToken="bm90LWEtdG9rZW4=")
    # THEN it is rejected; and operations the engine does not implement say so instead of pretending
    with pytest.raises(ClientError) as raised:
        env.textract.start_lending_analysis(DocumentLocation={"S3Object": {"Bucket": BUCKET, "Name": "d.pdf"}})
    assert raised.value.response["Error"]["Code"] == "NotImplemented"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


# -- fault injection -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "code", "status"), [
    ("throttle", "ThrottlingException", 500),
    ("throughput", "ProvisionedThroughputExceededException", 400),
    ("server", "InternalServerError", 500),
    ("limit", "LimitExceededException", 400),
])
def test_call_faults_raise_the_modelled_exception_then_clear(env: Env, kind: str, code: str, status: int) -> None:
    # GIVEN one scripted fault
    env.engine.faults.inject(kind)
    location = env.put("d.pdf", text_pdf(INVOICE_PAGE))
    # WHEN the next applicable call is made
    with pytest.raises(getattr(env.textract.exceptions, code)) as raised:
        env.textract.start_document_text_detection(DocumentLocation={"S3Object": location})
    # THEN it fails with Textract's error and status, and the call after it succeeds
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert (env.engine.calls[-1].fault, env.engine.calls[-1].outcome) == (kind, code)
    assert env.textract.start_document_text_detection(DocumentLocation={"S3Object": location})["JobId"]
    assert env.engine.faults.pending() == 0


def test_limit_faults_only_hit_start_operations(env: Env) -> None:
    # GIVEN a scripted LimitExceededException
    env.engine.faults.inject("limit")
    # WHEN a sync call comes first THEN it is unaffected, and the fault waits for a Start*
    env.textract.detect_document_text(Document={"Bytes": text_pdf(INVOICE_PAGE)})
    assert env.engine.faults.pending() == 1
    with pytest.raises(ValueError):
        env.engine.faults.inject("limit", operations=["AnalyzeExpense"])


def test_scripted_faults_are_consumed_in_order_for_their_operations(env: Env) -> None:
    # GIVEN a throttle for polls only, then a server error for anything
    env.engine.faults.inject("throttle", times=2, operations=["GetDocumentTextDetection"])
    env.engine.faults.inject("server")
    location = env.put("d.pdf", text_pdf(INVOICE_PAGE))
    # WHEN a start and three polls run
    with pytest.raises(env.textract.exceptions.InternalServerError):
        env.textract.start_document_text_detection(DocumentLocation={"S3Object": location})
    job = env.textract.start_document_text_detection(DocumentLocation={"S3Object": location})["JobId"]
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(env.textract.get_document_text_detection(JobId=job)["JobStatus"])
        except env.textract.exceptions.ThrottlingException:
            outcomes.append("throttled")
    # THEN the start hit the server error and the first two polls the throttles
    assert outcomes == ["throttled", "throttled", "IN_PROGRESS"]


def test_fault_rates_are_reproducible_with_a_seed() -> None:
    # GIVEN two plans with the same rates and seed
    plans = [FaultPlan(rates={"throttle": 0.3, "server": 0.1}, seed=7) for _ in range(2)]
    # WHEN each decides 200 calls
    drawn = [[plan.call_fault("AnalyzeExpense") for _ in range(200)] for plan in plans]
    # THEN they decide identically, and at roughly the requested rates
    assert drawn[0] == drawn[1]
    assert 40 <= drawn[0].count("throttle") <= 80 and 5 <= drawn[0].count("server") <= 35
    with pytest.raises(ValueError):
        FaultPlan(rates={"meteor": 0.1})


def test_job_faults_change_how_the_job_ends(env: Env) -> None:
    location = env.put("d.pdf", text_pdf(INVOICE_PAGE))

    def start() -> str:
        return env.textract.start_document_text_detection(DocumentLocation={"S3Object": location})["JobId"]

    def poll(job: str) -> dict[str, Any]:
        return env.textract.get_document_text_detection(JobId=job)

    # GIVEN one job that fails, one that never finishes, one that is slow, one normal
    for kind in ("job_failed", "never_finish", "slow"):
        env.engine.faults.inject(kind)
    failed, stuck, slow, normal = start(), start(), start(), start()
    # WHEN its normal duration (7 s for one page) has passed
    env.clock[0] += 7
    # THEN the failed job says so with a message, the others are still running but the normal one
    failed_response = poll(failed)
    assert failed_response["JobStatus"] == "FAILED" and "fault injected" in failed_response["StatusMessage"]
    assert [poll(j)["JobStatus"] for j in (stuck, slow, normal)] == ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]
    # AND the slow one finishes at ten times the duration, the stuck one never
    env.clock[0] += 63
    assert poll(slow)["JobStatus"] == "SUCCEEDED"
    env.clock[0] += 10**9
    assert poll(stuck)["JobStatus"] == "IN_PROGRESS"
    assert [c.fault for c in env.engine.calls[:4]] == ["job_failed", "never_finish", "slow", None]


# -- replay --------------------------------------------------------------------------------------------
def test_replay_answers_sync_calls_from_a_recorded_response(env: Env, tmp_path: Path) -> None:
    # GIVEN a recorded AnalyzeExpense response (of the invoice) filed under another document's SHA-256
    document = text_pdf([(50, 60, 12, "Receipt stand-in")])
    recorded = env.engine.handle("AnalyzeExpense", {"Document": {"Bytes": text_pdf(INVOICE_PAGE)}})
    recorded["ResponseMetadata"] = {"RequestId": "recorded-request"}
    (tmp_path / f"{hashlib.sha256(document).hexdigest()}.json").write_text(json.dumps(recorded))
    env.engine.replay_dir = tmp_path
    # WHEN AnalyzeExpense runs on that document
    response = env.textract.analyze_expense(Document={"Bytes": document})
    # THEN the recorded response comes back (with fresh request metadata), without reading the document
    assert response["ExpenseDocuments"] == recorded["ExpenseDocuments"]
    assert summary(response["ExpenseDocuments"][0])["TOTAL"] == "$31.86"
    assert response["ResponseMetadata"]["RequestId"] != "recorded-request"
    assert env.engine.calls[-1].source == "replay"
    # WHEN an operation whose response the file does not hold runs THEN the engine reads the document itself
    assert env.textract.detect_document_text(Document={"Bytes": document})["Blocks"][1]["Text"] == "Receipt stand-in"
    assert env.engine.calls[-1].source == "text-layer"


def test_replay_answers_async_jobs_from_recorded_result_pages(env: Env, tmp_path: Path) -> None:
    # GIVEN a two-page GetDocumentTextDetection result recorded as 1.json, 2.json under a document's SHA-256
    job = env.textract.start_document_text_detection(
        DocumentLocation={"S3Object": env.put("src.pdf", text_pdf(INVOICE_PAGE, SECOND_PAGE))})["JobId"]
    env.clock[0] += 60
    first = env.textract.get_document_text_detection(JobId=job, MaxResults=60)
    second = env.textract.get_document_text_detection(JobId=job, NextToken=first["NextToken"])
    document = text_pdf([(50, 60, 12, "stand-in")])
    folder = tmp_path / hashlib.sha256(document).hexdigest()
    folder.mkdir()
    for number, page in ((1, first), (2, second)):
        (folder / f"{number}.json").write_text(json.dumps(page))
    env.engine.replay_dir = tmp_path
    # WHEN that document goes through Start/Get
    replayed = env.textract.start_document_text_detection(DocumentLocation={"S3Object": env.put("r.pdf", document)})
    env.clock[0] += 60
    whole = env.textract.get_document_text_detection(JobId=replayed["JobId"])
    # THEN the recorded blocks come back as one result, re-paginated, for the recorded page count
    assert [b["Id"] for b in whole["Blocks"]] == [b["Id"] for b in first["Blocks"] + second["Blocks"]]
    assert whole["DocumentMetadata"] == {"Pages": 2} and "NextToken" not in whole
    assert env.engine.calls[-2].source == "replay"


# -- installing ----------------------------------------------------------------------------------------
def test_install_on_a_session_answers_clients_created_afterwards() -> None:
    with mock_aws():
        # GIVEN an engine installed on the default boto3 session
        boto3.setup_default_session(region_name=REGION)
        try:
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            engine = LocalTextract(s3_client_factory=lambda: boto3.client("s3"))
            engine.install(boto3.DEFAULT_SESSION)
            # WHEN a handler creates its client the ordinary way
            textract = boto3.client("textract")
            lines = [b["Text"] for b in textract.detect_document_text(
                Document={"Bytes": text_pdf([(50, 60, 12, "Hello twin")])})["Blocks"] if b["BlockType"] == "LINE"]
            # THEN the engine answered it
            assert lines == ["Hello twin"] and len(engine.calls) == 1
            # WHEN the engine is uninstalled THEN even that client no longer reaches it (moto answers instead)
            engine.uninstall()
            try:
                textract.detect_document_text(Document={"Bytes": b"not a document"})
            except ClientError:
                pass
            assert len(engine.calls) == 1
        finally:
            boto3.DEFAULT_SESSION = None


def test_install_on_a_botocore_session() -> None:
    # GIVEN a plain botocore session with the engine installed
    session = botocore.session.get_session()
    engine = LocalTextract(s3_client_factory=lambda: None)
    engine.install(session)
    client = session.create_client("textract", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    # WHEN an operation fails inside the engine THEN the error arrives as botocore's modelled exception
    with pytest.raises(client.exceptions.UnsupportedDocumentException):
        client.detect_document_text(Document={"Bytes": b"GIF89a not supported"})
    engine.uninstall()


def test_handle_can_be_called_directly() -> None:
    engine = LocalTextract(s3_client_factory=lambda: None)
    # WHEN the engine is used without botocore THEN errors are LocalTextractError with code and status
    with pytest.raises(LocalTextractError) as raised:
        engine.handle("GetExpenseAnalysis", {"JobId": "nope"})
    assert (raised.value.code, raised.value.status) == ("InvalidJobIdException", 400)
    response = engine.handle("DetectDocumentText", {"Document": {"Bytes": text_pdf([(50, 60, 12, "Direct")])}})
    assert [b["Text"] for b in response["Blocks"] if b["BlockType"] == "LINE"] == ["Direct"]
