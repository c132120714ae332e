"""`docpipe normalize`: recorded Textract responses in, normalized JSON out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docpipe_local.cli import main
from tests.conftest import FIXTURES

TEXTRACT = FIXTURES / "textract"


def test_receipt_response_prints_the_values_on_the_receipt(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN AWS's recorded AnalyzeExpense response for the MEGA MARKET receipt
    # WHEN it is normalized as a receipt
    code = main(["normalize", "--doc-type", "receipt", "--textract", str(TEXTRACT / "analyze_expense_receipt_mega_market.json")])
    doc = json.loads(capsys.readouterr().out)
    # THEN the fields are the printed ones and the output is a schema-valid receipt
    assert code == 0 and doc["docType"] == "receipt"
    assert doc["fields"]["total"]["value"] == "1810.46"
    assert doc["fields"]["receipt_date"]["value"] == "2019-12-07"
    assert len(doc["line_items"]) == 4


def test_async_pages_given_as_several_files_are_one_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the 2-page async GetDocumentAnalysis result split into two files (one page each)
    whole = json.loads((TEXTRACT / "get_document_analysis_patient_intake_2_pages.json").read_text())
    files = []
    for page in (1, 2):
        part = {**whole, "Blocks": [b for b in whole["Blocks"] if b.get("Page", 1) == page]}
        if page == 1:
            part["NextToken"] = "next"
        else:
            part.pop("NextToken", None)
        path = tmp_path / f"{page}.json"
        path.write_text(json.dumps(part))
        files.append(str(path))
    # WHEN they are normalized together as a generic document
    main(["normalize", "--doc-type", "generic", "--textract", *files])
    doc = json.loads(capsys.readouterr().out)
    # THEN both pages are in it
    assert doc["pages"] == 2
    assert {kv["page"] for kv in doc["key_values"]} == {1, 2}


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["normalize", "--doc-type", "receipt", "--textract", str(tmp_path / "nope.json")])
    assert "no such file" in str(caught.value)
