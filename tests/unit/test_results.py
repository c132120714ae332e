"""PersistResult when the execution no longer owns its document."""

from __future__ import annotations

from typing import Any, Iterator

import boto3
import pytest

from docpipe.records import finish_document, get_document, get_upload
from docpipe.results import persist_result, replan_for
from tests.conftest import REGION, create_documents_table
from tests.unit.test_records import DOCUMENT, DOCUMENT_ID, RETENTION_DAYS, TABLE, claim, upload


@pytest.fixture
def ddb(aws: None) -> Iterator[Any]:
    client = boto3.client("dynamodb", region_name=REGION)
    create_documents_table(client, TABLE)
    yield client

NORMALIZED = {"docType": "receipt", "status": "SUCCEEDED", "reviewReasons": [], "pages": 1,
              "normalizedKey": f"results/{DOCUMENT_ID}/normalized.json", "rawPrefix": f"results/{DOCUMENT_ID}/textract/sync/",
              "fields": {"total": {"value": "1810.46", "confidence": 99.1}}}


def test_owner_persists_its_result(ddb: Any) -> None:
    # GIVEN exec-1 owns the document
    claim(ddb, 1, "exec-1")
    # WHEN it persists
    outcome = persist_result(ddb, TABLE, upload=upload(1), document=DOCUMENT, normalized=NORMALIZED,
                             execution_name="exec-1", retention_days=RETENTION_DAYS)
    # THEN document and upload are SUCCEEDED with the fields
    assert outcome["status"] == "SUCCEEDED" and outcome["detailType"] == "DocumentProcessed"
    assert get_document(ddb, TABLE, DOCUMENT_ID)["fields"]["total"]["value"] == "1810.46"
    assert get_upload(ddb, TABLE, "upload-1")["status"] == "SUCCEEDED"


def test_stale_execution_ends_its_upload_duplicate_and_leaves_the_newer_result(ddb: Any) -> None:
    # GIVEN exec-1 claimed the document, was recorded FAILED, and exec-2 (another upload) took it over
    claim(ddb, 1, "exec-1")
    finish_document(ddb, TABLE, document_id=DOCUMENT_ID, upload_id="upload-1", execution_name="exec-1",
                    values={"status": "FAILED"})
    assert claim(ddb, 2, "exec-2")["duplicate"] is False
    # WHEN the stale exec-1 reaches PersistResult (a redrive)
    outcome = persist_result(ddb, TABLE, upload=upload(1), document=DOCUMENT, normalized=NORMALIZED,
                             execution_name="exec-1", retention_days=RETENTION_DAYS)
    # THEN its upload ends DUPLICATE of the document, which stays exec-2's
    assert outcome["status"] == "DUPLICATE" and outcome["detailType"] == "DocumentDuplicate"
    first = get_upload(ddb, TABLE, "upload-1")
    assert first["status"] == "DUPLICATE" and first["duplicateOf"] == DOCUMENT_ID
    document = get_document(ddb, TABLE, DOCUMENT_ID)
    assert document["executionName"] == "exec-2" and document["status"] == "PROCESSING"


IMAGE = {"mediaType": "image/png", "pageCount": 1}
EXPENSE_FIRST = {"docType": "generic", "source": "default",
                 "plan": {"api": "AnalyzeExpense", "mode": "sync", "featureTypes": [], "queries": []}}


@pytest.mark.parametrize(("doc_type", "api", "features"), [
    ("identity", "AnalyzeID", []),
    ("insurance", "AnalyzeDocument", ["QUERIES", "FORMS"]),
    ("generic", "AnalyzeDocument", ["FORMS", "TABLES"]),
])
def test_expense_first_text_that_is_not_an_expense_asks_for_its_own_api(doc_type: str, api: str,
                                                                       features: list[str]) -> None:
    # GIVEN an unhinted image read expense-first WHEN its text shows another docType
    replan = replan_for(doc_type, IMAGE, EXPENSE_FIRST)
    # THEN it is analysed again with that docType's plan, and the new classification is final
    assert replan is not None
    assert replan["docType"] == doc_type and replan["source"] == "text"
    assert replan["plan"]["api"] == api and replan["plan"]["featureTypes"] == features


@pytest.mark.parametrize("doc_type", ["receipt", "invoice"])
def test_expense_docs_found_expense_first_are_normalized_from_that_result(doc_type: str) -> None:
    assert replan_for(doc_type, IMAGE, EXPENSE_FIRST) is None


def test_a_hinted_or_already_replanned_document_is_never_replanned() -> None:
    # GIVEN classifications that came from a key hint and from an earlier replan
    for source in ("key", "metadata", "text"):
        classification = {**EXPENSE_FIRST, "source": source}
        # THEN no second (or third) Textract call is planned
        assert replan_for("identity", IMAGE, classification) is None
