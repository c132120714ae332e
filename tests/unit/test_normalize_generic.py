"""Generic documents: text in reading order, key-values, tables, page by page."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from docpipe.normalize import normalize, validate_output

TEXTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "textract"


def load(name: str) -> dict[str, Any]:
    return json.loads((TEXTRACT / name).read_text())


def generic(*responses: dict[str, Any], threshold: float = 80) -> dict[str, Any]:
    return normalize("generic", list(responses), threshold=threshold, locale="en_US", document_id="doc-g")


def test_employment_application() -> None:
    # GIVEN AnalyzeDocument (FORMS, TABLES) of the Jane Doe employment application
    doc = generic(load("analyze_document_employment_app.json"))
    # THEN the text reads as the form, top to bottom
    assert doc["text"].startswith("Employment Application\nApplicant Information\nFull Name: Jane Doe\n"
                                  "Phone Number: 555-0100")
    # AND the form's pairs are there with their page
    pairs = {kv["key"]: kv for kv in doc["key_values"]}
    assert pairs["Full Name:"]["value"] == "Jane Doe"
    assert pairs["Phone Number:"]["value"] == "555-0100"
    assert pairs["Mailing Address:"]["value"] == "same as home address"
    assert all(kv["page"] == 1 and 0 <= kv["confidence"] <= 100 for kv in doc["key_values"])
    # AND the employment history table, row by row
    (table,) = doc["tables"]
    assert table["page"] == 1
    assert table["rows"][2] == ["1/15/2009", "6/30/2011", "Any Company", "Assistant Baker", "Family relocated"]
    assert table["rows"][3] == ["7/1/2011", "8/10/2013", "Best Corp.", "Baker", "Better opportunity"]
    # AND no fields are claimed for a generic document, and it needs no review
    assert doc["fields"] == {} and doc["pages"] == 1
    assert doc["review"] == {"status": "SUCCEEDED", "reasons": []}
    validate_output(doc)


def test_two_page_async_result_has_keys_from_both_pages() -> None:
    # GIVEN the 2-page GetDocumentAnalysis result of a patient intake form
    doc = generic(load("get_document_analysis_patient_intake_2_pages.json"))
    # THEN it has two pages, and keys from page 1 (patient) and page 2 (applicant)
    assert doc["pages"] == 2
    pairs = {(kv["key"], kv["value"], kv["page"]) for kv in doc["key_values"]}
    assert ("First Name:", "ALEJANDRO", 1) in pairs and ("Last Name:", "ROSALEZ", 1) in pairs
    assert ("Full Name:", "Jane Doe", 2) in pairs and ("Phone Number:", "555-0100", 2) in pairs
    # AND the text holds page 1 before page 2, separated by a blank line
    assert doc["text"].index("ROSALEZ") < doc["text"].index("\n\nEmployment Application\n")
    validate_output(doc)


def test_splitting_a_page_over_result_objects_changes_nothing() -> None:
    # GIVEN the same result re-cut into three OutputConfig-style objects, page 1 split in two
    response = load("get_document_analysis_patient_intake_2_pages.json")
    head = {k: v for k, v in response.items() if k != "Blocks"}
    blocks = response["Blocks"]
    objects = [{**copy.deepcopy(head), "Blocks": blocks[a:b]} for a, b in ((0, 100), (100, 260), (260, None))]
    # WHEN both are normalized
    # THEN the outputs are identical
    assert generic(*objects) == generic(response)


def test_text_detection_two_pages() -> None:
    # GIVEN GetDocumentTextDetection of the 2-page Textractor test PDF (no FORMS, no TABLES)
    doc = generic(load("get_document_text_detection_2_pages.json"))
    # THEN the text has both pages' headings in order, and nothing else is claimed
    text = doc["text"]
    assert doc["pages"] == 2
    assert text.index("Page (1)") < text.index("Name of package: Textractor") < text.index("Page (2)")
    assert doc["key_values"] == [] and doc["tables"] == []
    validate_output(doc)


def test_table_with_merged_cell_and_checkboxes() -> None:
    # GIVEN "Textractor Test Document" page 1: Cell 2 spans two columns; one box ticked
    doc = generic(load("analyze_document_table_merged_cell.json"))
    # THEN the grid reads as printed and the checkboxes as their states
    assert doc["tables"][0]["rows"][0] == ["Cell 1", "Cell 2", "", "Cell 4", "Cell 5"]
    pairs = {kv["key"]: kv["value"] for kv in doc["key_values"]}
    assert pairs["Selected Checkbox"] == "SELECTED" and pairs["Un-Selected Checkbox"] == "NOT_SELECTED"
    validate_output(doc)


def test_generic_from_an_expense_result() -> None:
    # GIVEN an unhinted image analysed expense-first (AnalyzeExpense), whose docType stayed generic
    doc = generic(load("analyze_expense_receipt_mega_market.json"))
    # THEN its text comes from the expense blocks and its labelled amounts are key-values
    assert "MEGA MARKET PLUS\nCHICAGO, IL" in doc["text"]
    assert {"key": "TOTAL", "value": "$1810.46", "page": 1} in [
        {k: kv[k] for k in ("key", "value", "page")} for kv in doc["key_values"]]
    validate_output(doc)


def test_no_text_needs_review() -> None:
    # GIVEN a Textract result with a page but no text on it (a blank scan)
    blank = {"DocumentMetadata": {"Pages": 1}, "Blocks": [{"BlockType": "PAGE", "Id": "p1", "Confidence": 99.0}]}
    doc = generic(blank)
    # THEN the document needs review because it has no text
    assert doc["review"] == {"status": "NEEDS_REVIEW", "reasons": ["text missing"]}
    validate_output(doc)


def test_poorly_read_text_needs_review() -> None:
    # GIVEN the employment application and a threshold above its lines' mean confidence
    doc = generic(load("analyze_document_employment_app.json"), threshold=99.99)
    # THEN it needs review for its text confidence
    assert doc["review"]["status"] == "NEEDS_REVIEW"
    assert doc["review"]["reasons"][0].startswith("text confidence ")
