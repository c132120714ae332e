"""Identity documents: the synthetic Massachusetts driver license (tests/fixtures/fake_id.png upstream).

The card prints: 4d NUMBER 736HDV7874JSB, 3 DOB 03/18/2001, 4a ISS 03/18/2018, 4b EXP 01/20/2028,
1 MARÍA, 2 GARCÍA (AAMVA: field 1 is the family name, field 2 the given names), 8 100 MARKET STREET /
BIGTOWN, MA, 02801, headed MASSACHUSETTS DRIVER LICENSE.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docpipe.normalize import normalize, validate_output
from docpipe.normalize.identity import field_for_key

TEXTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "textract"


def load(name: str) -> dict[str, Any]:
    return json.loads((TEXTRACT / name).read_text())


def test_analyze_id_license() -> None:
    # GIVEN AWS's recorded AnalyzeID of the license
    doc = normalize("identity", [load("analyze_id_fake_license.json")], threshold=80, locale="en_US",
                    document_id="doc-i")
    # THEN the fields are what the card shows, dates in ISO form; the ID type is the kind of document
    # ('DRIVER LICENSE FRONT' names the side AnalyzeID read), the same value the FORMS path gives
    values = {k: v["value"] for k, v in doc["fields"].items()}
    assert values == {
        "id_type": "DRIVER LICENSE",
        "document_number": "736HDV7874JSB",
        # Textract drops the accents; it reports field 1 as LAST_NAME and field 2 as FIRST_NAME.
        "first_name": "GARCIA",
        "last_name": "MARIA",
        "date_of_birth": "2001-03-18",
        "date_of_issue": "2018-03-18",
        "expiration_date": "2028-01-20",
        "address": "100 MARKET STREET, BIGTOWN, MA 02801",
        "state": "MASSACHUSETTS",
    }
    # AND the empty fields (middle name, MRZ) are omitted, not null; nothing claims a country
    assert "middle_name" not in doc["fields"] and "country" not in doc["fields"]
    assert doc["fields"]["document_number"]["source"] == "DOCUMENT_NUMBER"
    assert doc["review"] == {"status": "SUCCEEDED", "reasons": []} and doc["pages"] == 1
    validate_output(doc)


def test_forms_output_of_the_same_license() -> None:
    # GIVEN AnalyzeDocument FORMS of the same card (the path for documents AnalyzeID cannot take)
    doc = normalize("identity", [load("analyze_document_fake_license.json")], threshold=80, locale="en_US",
                    document_id="doc-i")
    # THEN the AAMVA-numbered keys map to the same facts
    values = {k: v["value"] for k, v in doc["fields"].items()}
    assert values["document_number"] == "736HDV7874JSB"
    assert values["date_of_birth"] == "2001-03-18"
    assert values["date_of_issue"] == "2018-03-18"
    assert values["expiration_date"] == "2028-01-20"
    assert values["last_name"] == "MARÍA" and values["first_name"] == "GARCÍA"
    assert values["id_type"] == "DRIVER LICENSE"
    assert doc["fields"]["document_number"]["source"] == "KEY:4d NUMBER"
    # AND the name, read at 65% confidence, sends the document to review
    assert doc["review"] == {"status": "NEEDS_REVIEW", "reasons": ["last_name confidence 65.4 < 80"]}
    validate_output(doc)


def test_form_key_mapping() -> None:
    # GIVEN keys as printed on licenses and passports WHEN mapped THEN the identity field they name
    assert field_for_key("4d NUMBER", False) == "document_number"
    assert field_for_key("3 DOB", False) == "date_of_birth"
    assert field_for_key("Date of Birth:", False) == "date_of_birth"
    assert field_for_key("Surname", False) == "last_name"
    assert field_for_key("Passport No.", False) == "document_number"
    # AND bare AAMVA numbers only count on a license-like page
    assert field_for_key("1", True) == "last_name" and field_for_key("1", False) is None
    assert field_for_key("15 SEX", True) is None


def test_one_document_kept_without_its_identity_documents_wrapper() -> None:
    # GIVEN an AnalyzeID result stored as one document's fields at the top level (the layout the
    # AnalyzeID guide prints), with Textract's own ISO dates
    response = {"DocumentMetadata": {"Pages": 1}, "AnalyzeIDModelVersion": "1.0", "IdentityDocumentFields": [
        {"Type": {"Text": "ID_TYPE"}, "ValueDetection": {"Text": "DRIVER LICENSE FRONT", "Confidence": 97.9}},
        {"Type": {"Text": "LAST_NAME"}, "ValueDetection": {"Text": "SOUZA", "Confidence": 98.8}},
        {"Type": {"Text": "DOCUMENT_NUMBER"}, "ValueDetection": {"Text": "820BAC729CBAC", "Confidence": 96.1}},
        {"Type": {"Text": "DATE_OF_BIRTH"}, "ValueDetection": {
            "Text": "06-09-85", "NormalizedValue": {"Value": "1985-06-09T00:00:00", "ValueType": "Date"},
            "Confidence": 95.3}},
    ]}
    # WHEN it is normalized
    doc = normalize("identity", [response], threshold=80, locale="en_US", document_id="doc-i")
    # THEN it reads as the response's only document
    values = {k: v["value"] for k, v in doc["fields"].items()}
    assert values == {"id_type": "DRIVER LICENSE", "document_number": "820BAC729CBAC", "last_name": "SOUZA",
                      "date_of_birth": "1985-06-09"}
    assert doc["review"]["status"] == "SUCCEEDED" and doc["pages"] == 1
    validate_output(doc)


def test_id_type_names_the_kind_of_document_not_the_side() -> None:
    # GIVEN ID types as AnalyzeID and printed titles give them WHEN read THEN one vocabulary
    from docpipe.normalize.identity import id_type_of

    assert id_type_of("DRIVER LICENSE FRONT") == "DRIVER LICENSE"
    assert id_type_of("DRIVER LICENSE BACK") == "DRIVER LICENSE"
    assert id_type_of("PASSPORT") == "PASSPORT"
    assert id_type_of("Driving Licence") == "DRIVER LICENSE"
    assert id_type_of("RESIDENCE PERMIT FRONT") == "RESIDENCE PERMIT"
