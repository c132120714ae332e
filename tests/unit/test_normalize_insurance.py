"""Insurance documents from AnalyzeDocument QUERIES + FORMS.

No recorded Textract response of an insurance document exists in the shared fixture set, so the
real-data test here is the honest negative: a queries response about something else yields no
insurance fields and goes to review. The key and alias mapping is tested on printed label texts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from docpipe.classify import QUERIES
from docpipe.normalize import normalize, validate_output
from docpipe.normalize.insurance import FIELDS, field_for_alias, field_for_key

TEXTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "textract"


def load(name: str) -> dict[str, Any]:
    return json.loads((TEXTRACT / name).read_text())


def test_a_document_without_insurance_facts_goes_to_review() -> None:
    # GIVEN a vaccination card analysed with QUERIES (aliases name, lot_number, manufacturer) and FORMS
    doc = normalize("insurance", [load("analyze_document_queries_vaccination_card.json")], threshold=80,
                    locale="en_US", document_id="doc-ins")
    # THEN no insurance field is invented from its patient number or names
    assert doc["fields"] == {}
    # AND it needs review for the missing policy number / member ID
    assert doc["review"] == {"status": "NEEDS_REVIEW", "reasons": ["policy_number or member_id missing"]}
    validate_output(doc)


def test_every_classifier_query_alias_is_a_field() -> None:
    # GIVEN the queries ClassifyDocument sends for insurance WHEN their aliases are mapped
    # THEN each names an insurance field
    assert [field_for_alias(q["Alias"]) for q in QUERIES["insurance"]] == [q["Alias"] for q in QUERIES["insurance"]]
    assert set(FIELDS) == {q["Alias"] for q in QUERIES["insurance"]}
    assert field_for_alias("POLICY_NUMBER") == "policy_number" and field_for_alias("lot_number") is None


@pytest.mark.parametrize(("key", "field"), [
    ("Policy Number:", "policy_number"), ("Policy No.", "policy_number"), ("POLICY #", "policy_number"),
    ("Member ID", "member_id"), ("ID Number", "member_id"), ("Subscriber ID:", "member_id"),
    ("Group No.", "group_number"), ("GRP #", "group_number"),
    ("Insured", "insured_name"), ("Policyholder", "insured_name"), ("Member Name", "insured_name"),
    ("Insurance Company", "insurer_name"), ("Effective Date:", "effective_date"),
    ("Expiration Date", "expiration_date"), ("Annual Premium", "premium"), ("Plan Type", "coverage"),
    ("Patient number (medical record or IIS record number)", None), ("First Name", None), ("Date of Birth", None),
])
def test_form_keys(key: str, field: str | None) -> None:
    # GIVEN a label as printed on a form WHEN mapped THEN the insurance field it names, if any
    assert field_for_key(key) == field
