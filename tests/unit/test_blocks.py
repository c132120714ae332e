"""docpipe.textract.blocks on real Textract responses (tests/fixtures/textract, see PROVENANCE.md).

Expected values are what a person reads on the source documents, not output of this code.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

from docpipe.textract.blocks import (
    NOT_SELECTED,
    SELECTED,
    StreamStats,
    iter_expense_documents,
    iter_identity_documents,
    iter_pages,
)

TEXTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "textract"


def load(name: str) -> dict[str, Any]:
    return json.loads((TEXTRACT / name).read_text())


def split_objects(response: dict[str, Any], *cuts: int) -> list[dict[str, Any]]:
    """The response's blocks re-cut into several result objects, as Textract's OutputConfig writes them."""
    head = {k: v for k, v in response.items() if k != "Blocks"}
    blocks = response["Blocks"]
    bounds = [0, *cuts, len(blocks)]
    return [{**copy.deepcopy(head), "Blocks": blocks[a:b]} for a, b in pairwise(bounds)]


def test_lines_come_in_reading_order() -> None:
    # GIVEN the AnalyzeDocument response of the Jane Doe employment application
    response = load("analyze_document_employment_app.json")
    # WHEN its single page is read
    (page,) = list(iter_pages([response]))
    # THEN the lines read top to bottom as on the form
    assert [line.text for line in page.lines()[:4]] == [
        "Employment Application", "Applicant Information", "Full Name: Jane Doe", "Phone Number: 555-0100"]
    assert page.number == 1 and all(line.page == 1 for line in page.lines())
    assert any(word.text == "Doe" for word in page.words())


def test_key_values_carry_the_lower_of_key_and_value_confidence() -> None:
    # GIVEN the employment application's FORMS output
    (page,) = list(iter_pages([load("analyze_document_employment_app.json")]))
    # WHEN its key-value pairs are read
    pairs = {kv.key: kv for kv in page.key_values()}
    # THEN each printed label has the value written next to it
    assert pairs["Full Name:"].value == "Jane Doe"
    assert pairs["Phone Number:"].value == "555-0100"
    assert pairs["Home Address:"].value == "123 Any Street, Any Town, USA"
    # AND the pair's confidence is the lower of its two parts
    for kv in pairs.values():
        assert kv.confidence == min(kv.key_confidence, kv.value_confidence)


def test_table_rows_are_cell_texts_row_by_row() -> None:
    # GIVEN the employment application, whose table lists three previous jobs
    (page,) = list(iter_pages([load("analyze_document_employment_app.json")]))
    # WHEN its tables are read
    (table,) = page.tables()
    rows = table.texts()
    # THEN the header row and the job rows read as printed
    assert rows[1] == ["Start Date", "End Date", "Employer Name", "Position Held", "Reason for leaving"]
    assert rows[2] == ["1/15/2009", "6/30/2011", "Any Company", "Assistant Baker", "Family relocated"]
    assert rows[4][:4] == ["8/15/2013", "present", "Example Corp.", "Head Baker"]
    assert len(rows) == 5 and all(len(r) == 5 for r in rows)
    assert all(0 <= cell.confidence <= 100 for row in table.rows for cell in row)


def test_a_merged_cell_keeps_the_grid_and_selection_marks_are_read() -> None:
    # GIVEN "Textractor Test Document" page 1: a 3x5 table whose "Cell 2" spans two columns, two checkboxes
    (page,) = list(iter_pages([load("analyze_document_table_merged_cell.json")]))
    # WHEN the table, the selection elements and the form pairs are read
    (table,) = page.tables()
    # THEN the grid has 3 rows of 5 with the merged cell's text once, in its first column
    assert table.texts() == [
        ["Cell 1", "Cell 2", "", "Cell 4", "Cell 5"],
        ["Cell 6", "Cell 7", "Cell 8", "Cell 9", "Cell 10"],
        ["Cell 11", "Cell 12", "Cell 13", "Cell 14", "Cell 15"],
    ]
    assert [c.header for c in table.rows[0]] == [True] * 5
    # AND one box is ticked, one is not
    assert sorted(s.status for s in page.selections()) == [NOT_SELECTED, SELECTED]
    pairs = {kv.key: kv.value for kv in page.key_values()}
    assert pairs["Selected Checkbox"] == SELECTED and pairs["Un-Selected Checkbox"] == NOT_SELECTED
    assert pairs["Name of package:"] == "Textractor" and pairs["Date :"] == "08/14/2022"


def test_query_answers_by_alias() -> None:
    # GIVEN a vaccination card analysed with three aliased queries
    (page,) = list(iter_pages([load("analyze_document_queries_vaccination_card.json")]))
    # WHEN the answers are read
    answers = {a.alias: a for a in page.query_answers()}
    # THEN each alias has the answer written on the card
    assert answers["name"].text == "Mary Major"
    assert answers["lot_number"].text == "AA1234"
    assert answers["manufacturer"].text == "Pfizer"
    assert answers["name"].question == "What is the patient name?"


def test_unanswered_queries_yield_nothing() -> None:
    # GIVEN two nonsense queries Textract could not answer
    (page,) = list(iter_pages([load("analyze_document_queries_no_answer.json")]))
    # WHEN the answers are read
    # THEN there are none (no invented empty answers)
    assert page.query_answers() == []


def test_async_result_is_read_page_by_page() -> None:
    # GIVEN the 2-page GetDocumentAnalysis result of a patient intake form
    stats = StreamStats()
    # WHEN it is read page by page
    pages = list(iter_pages([load("get_document_analysis_patient_intake_2_pages.json")], stats))
    # THEN there are two pages, each with its own form keys
    assert [p.number for p in pages] == [1, 2]
    first = [(kv.key, kv.value) for kv in pages[0].key_values()]
    second = {kv.key: kv.value for kv in pages[1].key_values()}
    assert ("First Name:", "ALEJANDRO") in first and ("Last Name:", "ROSALEZ") in first
    assert second["Full Name:"] == "Jane Doe" and second["Phone Number:"] == "555-0100"
    assert all(kv.page == 2 for kv in pages[1].key_values())
    assert stats.page_count == 2


def _page_summary(pages: list[Any]) -> list[tuple[Any, ...]]:
    return [(p.number, len(p), [line.text for line in p.lines()],
             [(kv.key, kv.value, kv.confidence) for kv in p.key_values()], [s.status for s in p.selections()])
            for p in pages]


def test_a_page_split_across_result_objects_reads_the_same() -> None:
    # GIVEN the 2-page result re-cut into three objects: page 1 split in the middle, page 2 split too
    response = load("get_document_analysis_patient_intake_2_pages.json")
    whole = _page_summary(list(iter_pages([response])))
    objects = split_objects(response, 120, 290)
    assert {b["Page"] for b in objects[1]["Blocks"]} == {1, 2}
    # WHEN the objects are read in order
    split = _page_summary(list(iter_pages(objects)))
    # THEN every page has all its blocks, lines and key-values (whose VALUE blocks sit in the next object)
    assert split == whole


def test_a_page_is_handed_out_before_later_objects_are_read() -> None:
    # GIVEN the 2-page result cut into three objects, served by a reader that notes what it has read
    objects = split_objects(load("get_document_analysis_patient_intake_2_pages.json"), 120, 290)
    read: list[int] = []

    def reader() -> Iterator[dict[str, Any]]:
        for number, obj in enumerate(objects, start=1):
            read.append(number)
            yield obj

    # WHEN page 1 comes out
    pages = iter_pages(reader())
    first = next(pages)
    # THEN only the objects up to page 2's first block were read, not the rest of the document
    assert first.number == 1 and read == [1, 2]
    assert next(pages).number == 2 and read == [1, 2, 3]


def test_expense_documents_give_summary_fields_and_line_items() -> None:
    # GIVEN AnalyzeExpense of the MEGA MARKET receipt
    stats = StreamStats()
    # WHEN its expense documents are read
    (expense,) = list(iter_expense_documents([load("analyze_expense_receipt_mega_market.json")], stats))
    # THEN the summary fields hold what is printed, with their page and currency
    by_type = {}
    for item in expense.summary_fields:
        by_type.setdefault(item.type, []).append(item)
    assert [t.value for t in by_type["TOTAL"]] == ["$1810.46"]
    assert by_type["TOTAL"][0].label == "TOTAL" and by_type["TOTAL"][0].currency == "USD"
    assert by_type["TOTAL"][0].page == 1
    assert by_type["INVOICE_RECEIPT_ID"][0].value == "21772" and by_type["INVOICE_RECEIPT_ID"][0].label == "TR#"
    assert {f.value for f in by_type["NAME"]} == {"MEGA MARKET PLUS", "MEGA BIGBOK"}  # the logo reads MEGA BIGBOX
    assert all("VENDOR" in f.groups for f in by_type["NAME"])
    # AND the four purchased items, with the text lines of the receipt
    assert [next(f.value for f in item if f.type == "ITEM") for item in expense.line_items] == [
        "LG FLATSCREEN 65", "SONY VIAO I7 6938", "6FT HDMI CABLE BB", "APPLE TV V4"]
    assert "CHICAGO, IL" in [line.text for line in expense.lines]
    assert stats.page_count == 1


def test_expense_blocks_also_feed_pages() -> None:
    # GIVEN AnalyzeExpense output (blocks inside the ExpenseDocument, without Page)
    # WHEN it is read as pages
    (page,) = list(iter_pages([load("analyze_expense_receipt_mega_market.json")]))
    # THEN its lines are page 1's text
    assert page.number == 1 and "MEGA MARKET PLUS" in page.text().splitlines()


def test_identity_documents_give_fields_with_normalized_dates() -> None:
    # GIVEN AnalyzeID of the synthetic Massachusetts driver license
    (found,) = list(iter_identity_documents([load("analyze_id_fake_license.json")]))
    # WHEN its fields are read
    fields = {f.type: f for f in found.fields}
    # THEN they hold what the card shows (4d NUMBER, 3 DOB) and empty fields are dropped
    assert fields["DOCUMENT_NUMBER"].value == "736HDV7874JSB"
    assert fields["DATE_OF_BIRTH"].value == "03/18/2001"
    assert fields["DATE_OF_BIRTH"].normalized == "2001-03-18T00:00:00"
    assert "MIDDLE_NAME" not in fields
    assert found.index == 1 and fields["ADDRESS"].page == 1
