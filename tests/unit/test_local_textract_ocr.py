"""The local Textract engine on images and scanned pages: RapidOCR behind the Textract API.

Slower than the text-layer tests (about a second or two per page), so each document is OCRed once
per module and the tests read the shared responses.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image, ImageDraw, ImageFont

from docpipe_local.engine import LocalTextract
from tests.unit.test_local_textract import BUCKET, REGION, Env, assert_matches_model, pairs, summary

pytestmark = pytest.mark.ocr
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def scanned_page(lines: list[tuple[int, int, int, str]]) -> Image.Image:
    """A white letter-size page at 150 dpi with black text: what a scanner hands over."""
    image = Image.new("L", (1275, 1650), 255)
    draw = ImageDraw.Draw(image)
    for x, y, size, text in lines:
        draw.text((x, y), text, font=ImageFont.load_default(size=size), fill=0)
    return image


STATEMENT = [(100, 100, 48, "STATEMENT"), (100, 220, 32, "Account Number:"), (520, 220, 32, "4471-220"),
             (100, 290, 32, "Statement Date:"), (520, 290, 32, "05/31/2024")]
STATEMENT_BACK = [(100, 100, 40, "Balance Due"), (520, 100, 40, "$1,250.00"),
                  (100, 200, 32, "Thank you for banking with us")]


def amount(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.]", "", text))


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            patch.setenv(name, "testing")
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        clock = [0.0]
        engine = LocalTextract(s3_client_factory=lambda: boto3.client("s3", region_name=REGION), clock=lambda: clock[0])
        textract = boto3.client("textract", region_name=REGION)
        engine.install_on_client(textract)
        yield Env(engine, textract, s3, clock)
        engine.uninstall()


@pytest.fixture(scope="module")
def receipt(env: Env) -> dict[str, Any]:
    """AnalyzeExpense of the receipt photo, sent as bytes like a sync StartTextract would read it."""
    return env.textract.analyze_expense(Document={"Bytes": (FIXTURES / "receipt.jpg").read_bytes()})


def test_receipt_totals_and_date_are_what_a_person_reads(receipt: dict[str, Any]) -> None:
    # GIVEN the receipt photo (SUBTOTAL $1699.96, TAX $110.50, TOTAL $1810.46, 12/07/2019)
    assert_matches_model("AnalyzeExpense", receipt)
    document = receipt["ExpenseDocuments"][0]
    fields = summary(document)
    # THEN AnalyzeExpense reports those values under Textract's types, in dollars
    assert amount(fields["TOTAL"]) == Decimal("1810.46")
    assert amount(fields["SUBTOTAL"]) == Decimal("1699.96")
    assert amount(fields["TAX"]) == Decimal("110.50")
    assert fields["INVOICE_RECEIPT_DATE"] == "12/07/2019"
    total = next(f for f in document["SummaryFields"] if f["Type"]["Text"] == "TOTAL")
    assert total["LabelDetection"]["Text"] == "TOTAL" and total["Currency"] == {"Code": "USD"}
    # AND the printed label beside its value is surer than the date found without a label
    date = next(f for f in document["SummaryFields"] if f["Type"]["Text"] == "INVOICE_RECEIPT_DATE")
    assert "LabelDetection" not in date
    assert 90 < total["ValueDetection"]["Confidence"] <= 100
    assert date["ValueDetection"]["Confidence"] < total["ValueDetection"]["Confidence"]


def test_receipt_items_are_the_four_priced_rows(receipt: dict[str, Any]) -> None:
    # GIVEN the receipt's four items between the store header and SUBTOTAL
    items = [{f["Type"]["Text"]: f["ValueDetection"]["Text"] for f in item["LineItemExpenseFields"]}
             for item in receipt["ExpenseDocuments"][0]["LineItemGroups"][0]["LineItems"]]
    # THEN each is a line item with its description and price; their prices add up to the subtotal
    assert [amount(i["PRICE"]) for i in items] == [Decimal(p) for p in ("899.99", "689.99", "19.99", "89.99")]
    assert sum(amount(i["PRICE"]) for i in items) == Decimal("1699.96")
    assert "FLATSCREEN" in items[0]["ITEM"] and all(i["EXPENSE_ROW"].startswith(i["ITEM"]) for i in items)


def test_receipt_blocks_are_ocr_words_in_reading_order(receipt: dict[str, Any]) -> None:
    blocks = receipt["ExpenseDocuments"][0]["Blocks"]
    lines = [b["Text"] for b in blocks if b["BlockType"] == "LINE"]
    # THEN the lines run top to bottom (store name first, customer copy last), left to right in a row
    assert "BIGBOX" in lines[:2] and lines[-1] == "***CUSTOMER COPY***"
    assert lines.index("SUBTOTAL") + 1 == lines.index("$1699.96")
    # AND OCR words carry no TextType (the engine cannot tell print from handwriting)
    words = [b for b in blocks if b["BlockType"] == "WORD"]
    assert words and all("TextType" not in w and 0 < w["Confidence"] <= 100 for w in words)


def test_driver_license_fields(env: Env) -> None:
    # GIVEN the synthetic Massachusetts licence (JORGE SOUZA, 820BAC729CBAC, DOB 03/18/1978, EXP 01/20/2020)
    response = env.textract.analyze_id(DocumentPages=[{"Bytes": (FIXTURES / "driverlicense.png").read_bytes()}])
    assert_matches_model("AnalyzeID", response)
    fields = {f["Type"]["Text"]: f["ValueDetection"] for f in response["IdentityDocuments"][0]["IdentityDocumentFields"]}
    # THEN the fields a person reads on it are derived, dates normalised
    assert fields["FIRST_NAME"]["Text"] == "JORGE" and fields["LAST_NAME"]["Text"] == "SOUZA"
    assert fields["DOCUMENT_NUMBER"]["Text"] == "820BAC729CBAC"
    assert fields["DATE_OF_BIRTH"]["NormalizedValue"]["Value"] == "1978-03-18T00:00:00"
    assert fields["EXPIRATION_DATE"]["Text"] == "01/20/2020"
    assert fields["STATE_NAME"]["Text"] == "MASSACHUSETTS" and fields["ID_TYPE"]["Text"] == "DRIVER LICENSE FRONT"
    # AND the family name, found above the given name rather than by its number, is less sure
    assert fields["LAST_NAME"]["Confidence"] < fields["FIRST_NAME"]["Confidence"]


def test_scanned_pdf_pages_are_rendered_and_ocred(env: Env) -> None:
    # GIVEN a two-page PDF of scanned images (no text layer)
    buffer = io.BytesIO()
    first, back = scanned_page(STATEMENT), scanned_page(STATEMENT_BACK)
    first.save(buffer, "PDF", resolution=150, save_all=True, append_images=[back])
    env.s3.put_object(Bucket=BUCKET, Key="scan.pdf", Body=buffer.getvalue())
    # WHEN it is analysed asynchronously with FORMS and a query
    job = env.textract.start_document_analysis(
        DocumentLocation={"S3Object": {"Bucket": BUCKET, "Name": "scan.pdf"}}, FeatureTypes=["FORMS", "QUERIES"],
        QueriesConfig={"Queries": [{"Text": "What is the account number?", "Alias": "ACCOUNT"}]})["JobId"]
    env.clock[0] += 60
    response = env.textract.get_document_analysis(JobId=job)
    assert_matches_model("GetDocumentAnalysis", response)
    blocks = response["Blocks"]
    # THEN both pages were read by OCR, line by line
    assert env.engine.calls[-2].source == "ocr"
    lines = {page: [b["Text"] for b in blocks if b["BlockType"] == "LINE" and b["Page"] == page] for page in (1, 2)}
    assert lines[1][0] == "STATEMENT" and "Thank you for banking with us" in lines[2]
    # AND the printed pairs and the query answer come from the OCR text
    found = pairs(blocks)
    assert found["Account Number:"] == "4471-220" and found["Statement Date:"] == "05/31/2024"
    answer = next(b for b in blocks if b["BlockType"] == "QUERY_RESULT")
    assert answer["Text"] == "4471-220" and answer["Page"] == 1


def test_multi_frame_tiff_pages(env: Env) -> None:
    # GIVEN a two-frame TIFF
    buffer = io.BytesIO()
    scanned_page(STATEMENT).save(buffer, "TIFF", save_all=True, append_images=[scanned_page(STATEMENT_BACK)])
    env.s3.put_object(Bucket=BUCKET, Key="scan.tiff", Body=buffer.getvalue())
    location = {"S3Object": {"Bucket": BUCKET, "Name": "scan.tiff"}}
    # THEN the synchronous API refuses it as multi-page, as Textract does
    with pytest.raises(env.textract.exceptions.UnsupportedDocumentException):
        env.textract.detect_document_text(Document=location)
    # AND the asynchronous one reads each frame as a page
    job = env.textract.start_document_text_detection(DocumentLocation=location)["JobId"]
    env.clock[0] += 60
    blocks = env.textract.get_document_text_detection(JobId=job)["Blocks"]
    assert [b["Page"] for b in blocks if b["BlockType"] == "PAGE"] == [1, 2]
    assert [b["Text"] for b in blocks if b["BlockType"] == "LINE" and b["Page"] == 2][:1] == ["Balance Due"]
