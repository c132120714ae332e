"""validate_output: every normalized docType against its JSON Schema (Draft 2020-12)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from docpipe.contracts import DOC_TYPES
from docpipe.errors import OutputSchemaViolation
from docpipe.normalize import normalize, validate_output
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
TEXTRACT = ROOT / "tests" / "fixtures" / "textract"
SCHEMAS = ROOT / "layers" / "shared" / "docpipe" / "schemas"


def receipt() -> dict[str, Any]:
    response = json.loads((TEXTRACT / "analyze_expense_receipt_mega_market.json").read_text())
    return normalize("receipt", [response], threshold=80, locale="en_US", document_id="doc-1")


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_every_doc_type_has_a_valid_draft_2020_12_schema(doc_type: str) -> None:
    # GIVEN the shipped schema file WHEN checked against the metaschema THEN it is valid Draft 2020-12
    schema = json.loads((SCHEMAS / f"{doc_type}.schema.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_pipeline_additions_are_accepted() -> None:
    # GIVEN a normalized receipt with what NormalizeDocument adds before validating
    doc = receipt() | {"processorVersion": "0.1.0", "docTypeSource": "key"}
    # WHEN validated THEN it passes
    validate_output(doc)


@pytest.mark.parametrize(("break_it", "path"), [
    (lambda d: d["fields"]["total"].update(value="$1810.46"), "$.fields.total.value"),
    (lambda d: d["fields"]["receipt_date"].update(value="12/07/2019"), "$.fields.receipt_date.value"),
    (lambda d: d["fields"]["total"].update(confidence=140.0), "$.fields.total.confidence"),
    (lambda d: d["fields"]["total"].update(value=None), "$.fields.total"),  # null without the raw text
    (lambda d: d["fields"].update(total=None), "$.fields.total"),  # absent fields are omitted, not null
    (lambda d: d["fields"].update(vendor_name=d["fields"]["merchant_name"]), "$.fields"),  # not a receipt field
    (lambda d: d["line_items"][2]["amount"].update(currency="dollars"), "$.line_items[2].amount.currency"),
    (lambda d: d.pop("review"), "$"),
    (lambda d: d["review"].update(status="SUCCEEDED", reasons=["total missing"]), "$.review.reasons"),
])
def test_malformed_output_is_rejected_naming_the_path(break_it: Any, path: str) -> None:
    # GIVEN a correct receipt output, then broken in one place
    doc = receipt()
    broken = copy.deepcopy(doc)
    break_it(broken)
    # WHEN it is validated
    with pytest.raises(OutputSchemaViolation) as raised:
        validate_output(broken)
    # THEN the typed error names the failing path, and never the offending value
    message = raised.value.message
    assert f" at {path}:" in message and raised.value.details["path"] == path
    assert "1810.46" not in message and "12/07/2019" not in message and "dollars" not in message
    assert raised.value.code == "SCHEMA_VIOLATION" and raised.value.retryable is False


def test_unknown_doc_type_is_a_schema_violation() -> None:
    # GIVEN an output whose docType has no schema WHEN validated THEN OutputSchemaViolation at $.docType
    with pytest.raises(OutputSchemaViolation) as raised:
        validate_output({"docType": "payslip"})
    assert raised.value.details["path"] == "$.docType"
