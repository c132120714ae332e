"""docpipe.records against a moto table built from template.yaml's DocumentsTable: claiming a document,
duplicates, idempotent re-runs, take-over of a FAILED document, stale finishes, attribute round-trips."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Iterator

import boto3
import pytest
from botocore.stub import Stubber

from docpipe import PROCESSOR_VERSION, records
from docpipe.errors import AccessDenied, StorageThrottled
from docpipe.records import finish_document, from_attr, get_document, get_upload, register, to_attr
from docpipe_local.twin.template import load_template
from tests.conftest import REGION, ROOT, create_documents_table

# Test-side clients come from one session so botocore parses each service model once per module;
# they are created inside each test's mock, and moto intercepts them like any other.
AWS = boto3.Session(region_name=REGION)

TABLE = "docpipe-records-test"
RETENTION_DAYS = 90
DOCUMENT_ID = "ab5b5d7e5b0c2e1b0d6b6b3f9b0a7c1d2e3f40516273849a0b1c2d3e4f506172"
DOCUMENT = {"documentId": DOCUMENT_ID, "mediaType": "image/jpeg", "pageCount": 1, "size": 168528}


def documents_table_properties() -> dict[str, Any]:
    """DocumentsTable's Properties exactly as template.yaml declares them."""
    return load_template(ROOT / "template.yaml")["Resources"]["DocumentsTable"]["Properties"]


def upload(n: int) -> dict[str, Any]:
    return {"uploadId": f"upload-{n}", "bucket": "docpipe-test-bucket", "key": f"incoming/receipts/r{n}.jpg",
            "versionId": f"v{n}"}


@pytest.fixture
def ddb(aws: None) -> Iterator[Any]:
    client = AWS.client("dynamodb")
    create_documents_table(client, TABLE)
    yield client


def claim(ddb: Any, n: int, execution: str) -> dict[str, Any]:
    return register(ddb, TABLE, upload=upload(n), document=DOCUMENT, execution_name=execution,
                    retention_days=RETENTION_DAYS)


def raw_items(ddb: Any) -> list[dict[str, Any]]:
    return sorted(ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"], key=lambda i: i["pk"]["S"])


def test_table_follows_the_template() -> None:
    # GIVEN the template's DocumentsTable
    # WHEN its properties are loaded as the twin loads them
    props = documents_table_properties()
    # THEN it has the keys and the status index this module relies on
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["pk", "sk"]
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "StatusIndex"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["status", "updatedAt"]
    assert props["TimeToLiveSpecification"]["AttributeName"] == "expiresAt"


def test_first_registration_claims_the_document(ddb: Any) -> None:
    # GIVEN an empty table
    before = int(time.time())
    # WHEN the first upload of some content registers
    result = claim(ddb, 1, "exec-A")
    # THEN it is not a duplicate and both records say PROCESSING, owned by this execution
    assert result == {"duplicate": False, "documentStatus": "PROCESSING"}
    document = get_document(ddb, TABLE, DOCUMENT_ID)
    assert document is not None
    assert document["status"] == "PROCESSING"
    assert document["executionName"] == "exec-A"
    assert document["uploadId"] == "upload-1"
    assert document["sourceKey"] == "incoming/receipts/r1.jpg"
    assert document["sourceVersionId"] == "v1"
    assert document["pageCount"] == 1 and document["size"] == 168528
    assert document["processorVersion"] == PROCESSOR_VERSION
    assert document["createdAt"] == document["updatedAt"]
    assert before + RETENTION_DAYS * 86400 <= document["expiresAt"] <= int(time.time()) + RETENTION_DAYS * 86400
    stored_upload = get_upload(ddb, TABLE, "upload-1")
    assert stored_upload is not None
    assert stored_upload["status"] == "PROCESSING"
    assert stored_upload["documentId"] == DOCUMENT_ID
    assert stored_upload["executionName"] == "exec-A"
    assert "duplicateOf" not in stored_upload
    # AND the status index finds both items
    found = ddb.query(TableName=TABLE, IndexName="StatusIndex", KeyConditionExpression="#s = :s",
                      ExpressionAttributeNames={"#s": "status"},
                      ExpressionAttributeValues={":s": {"S": "PROCESSING"}})["Items"]
    assert sorted(i["pk"]["S"] for i in found) == [f"DOC#{DOCUMENT_ID}", "UPLOAD#upload-1"]


def test_same_content_from_a_second_upload_is_a_duplicate(ddb: Any) -> None:
    # GIVEN a document claimed by execution A
    claim(ddb, 1, "exec-A")
    # WHEN another upload with the same content registers in execution B
    result = claim(ddb, 2, "exec-B")
    # THEN it is a duplicate, its upload item says so, and the document still belongs to A
    assert result == {"duplicate": True, "documentStatus": "PROCESSING"}
    duplicate = get_upload(ddb, TABLE, "upload-2")
    assert duplicate is not None
    assert duplicate["status"] == "DUPLICATE"
    assert duplicate["duplicateOf"] == DOCUMENT_ID
    assert duplicate["documentId"] == DOCUMENT_ID
    assert duplicate["executionName"] == "exec-B"
    document = get_document(ddb, TABLE, DOCUMENT_ID)
    assert document is not None
    assert (document["executionName"], document["uploadId"], document["status"]) == ("exec-A", "upload-1", "PROCESSING")


def test_duplicate_reports_the_status_of_the_existing_document(ddb: Any) -> None:
    # GIVEN a document that execution A finished SUCCEEDED
    claim(ddb, 1, "exec-A")
    assert finish_document(ddb, TABLE, document_id=DOCUMENT_ID, upload_id="upload-1", execution_name="exec-A",
                           values={"status": "SUCCEEDED"})
    # WHEN the same content is uploaded again
    result = claim(ddb, 2, "exec-B")
    # THEN the new upload is a duplicate of a SUCCEEDED document, which is untouched
    assert result == {"duplicate": True, "documentStatus": "SUCCEEDED"}
    assert get_document(ddb, TABLE, DOCUMENT_ID)["status"] == "SUCCEEDED"  # type: ignore[index]


def test_same_execution_registering_again_is_not_a_duplicate(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN execution A registered at t1
    stamps = iter(["2026-01-01T00:00:01.000Z", "2026-01-01T00:00:01.000Z",
                   "2026-01-01T00:00:02.000Z", "2026-01-01T00:00:02.000Z"])
    monkeypatch.setattr(records, "now_iso", lambda: next(stamps))
    assert claim(ddb, 1, "exec-A")["duplicate"] is False
    # WHEN the same execution runs RegisterDocument again (a retried state, a redrive) at t2
    result = claim(ddb, 1, "exec-A")
    # THEN it finds its own claim: not a duplicate, the upload is not marked DUPLICATE, createdAt is kept
    assert result == {"duplicate": False, "documentStatus": "PROCESSING"}
    document = get_document(ddb, TABLE, DOCUMENT_ID)
    assert document is not None
    assert document["createdAt"] == "2026-01-01T00:00:01.000Z"
    assert document["updatedAt"] == "2026-01-01T00:00:02.000Z"
    stored_upload = get_upload(ddb, TABLE, "upload-1")
    assert stored_upload is not None
    assert stored_upload["status"] == "PROCESSING"
    assert stored_upload["createdAt"] == "2026-01-01T00:00:01.000Z"
    assert len(raw_items(ddb)) == 2


def test_failed_document_is_taken_over_by_a_new_execution(ddb: Any) -> None:
    # GIVEN a document whose execution A ended FAILED
    claim(ddb, 1, "exec-A")
    assert finish_document(ddb, TABLE, document_id=DOCUMENT_ID, upload_id="upload-1", execution_name="exec-A",
                           values={"status": "FAILED", "error": {"code": "TEXTRACT_THROTTLED"}})
    # WHEN the same content arrives again in execution C
    result = claim(ddb, 3, "exec-C")
    # THEN C owns the document and processes it (no DUPLICATE); A's upload keeps its FAILED record
    assert result == {"duplicate": False, "documentStatus": "PROCESSING"}
    document = get_document(ddb, TABLE, DOCUMENT_ID)
    assert document is not None
    assert (document["executionName"], document["uploadId"], document["status"]) == ("exec-C", "upload-3", "PROCESSING")
    assert get_upload(ddb, TABLE, "upload-3")["status"] == "PROCESSING"  # type: ignore[index]
    first = get_upload(ddb, TABLE, "upload-1")
    assert first is not None
    assert first["status"] == "FAILED"
    assert first["error"] == {"code": "TEXTRACT_THROTTLED"}


def test_finish_document_by_the_owner_moves_document_and_upload(ddb: Any) -> None:
    # GIVEN a document claimed by execution A
    claim(ddb, 1, "exec-A")
    # WHEN A finishes it
    finished = finish_document(ddb, TABLE, document_id=DOCUMENT_ID, upload_id="upload-1", execution_name="exec-A",
                               values={"status": "NEEDS_REVIEW", "docType": "receipt",
                                       "fields": {"total": {"value": "12.50", "confidence": 71.5}}})
    # THEN both items carry the terminal status, and the document the result
    assert finished is True
    document = get_document(ddb, TABLE, DOCUMENT_ID)
    assert document is not None
    assert document["status"] == "NEEDS_REVIEW"
    assert document["docType"] == "receipt"
    assert document["fields"] == {"total": {"value": "12.50", "confidence": 71.5}}
    assert get_upload(ddb, TABLE, "upload-1")["status"] == "NEEDS_REVIEW"  # type: ignore[index]


def test_finish_document_by_a_stale_execution_writes_nothing(ddb: Any) -> None:
    # GIVEN A's document FAILED and was taken over by execution C
    claim(ddb, 1, "exec-A")
    finish_document(ddb, TABLE, document_id=DOCUMENT_ID, upload_id="upload-1", execution_name="exec-A",
                    values={"status": "FAILED"})
    claim(ddb, 3, "exec-C")
    before = raw_items(ddb)
    # WHEN the stale execution A tries to finish the document
    finished = finish_document(ddb, TABLE, document_id=DOCUMENT_ID, upload_id="upload-1", execution_name="exec-A",
                               values={"status": "SUCCEEDED", "docType": "receipt"})
    # THEN it is refused and neither the document nor A's own upload changed (one transaction)
    assert finished is False
    assert raw_items(ddb) == before


def test_finish_document_for_a_document_never_registered_returns_false(ddb: Any) -> None:
    # GIVEN an empty table
    # WHEN an execution finishes a document it never claimed
    finished = finish_document(ddb, TABLE, document_id="nope", upload_id="upload-9", execution_name="exec-Z",
                               values={"status": "SUCCEEDED"})
    # THEN nothing is created
    assert finished is False
    assert raw_items(ddb) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [("ProvisionedThroughputExceededException", StorageThrottled), ("ThrottlingException", StorageThrottled),
     ("RequestLimitExceeded", StorageThrottled), ("AccessDeniedException", AccessDenied)],
)
def test_table_errors_become_typed_errors(aws: None, code: str, expected: type[Exception]) -> None:
    # GIVEN a table that answers with an error
    client = AWS.client("dynamodb")
    with Stubber(client) as stub:
        stub.add_client_error("update_item", service_error_code=code, http_status_code=400)
        stub.add_client_error("get_item", service_error_code=code, http_status_code=400)
        # WHEN registering and reading
        # THEN the docpipe error the ASL retries or alarms on is raised, not a bare ClientError
        with pytest.raises(expected):
            claim(client, 1, "exec-A")
        with pytest.raises(expected):
            get_document(client, TABLE, DOCUMENT_ID)


def test_to_attr_stores_floats_as_exact_decimals() -> None:
    # GIVEN floats, Decimals, ints, booleans and None
    # WHEN converted to attribute values
    # THEN numbers keep their decimal text (no binary float noise) and bool is not a number
    assert to_attr(0.1) == {"N": "0.1"}
    assert to_attr(99.1) == {"N": "99.1"}
    assert to_attr(Decimal("1810.46")) == {"N": "1810.46"}
    assert to_attr(7) == {"N": "7"}
    assert to_attr(True) == {"BOOL": True}
    assert to_attr(None) == {"NULL": True}
    assert to_attr(("a", 1)) == {"L": [{"S": "a"}, {"N": "1"}]}
    with pytest.raises(TypeError):
        to_attr({1, 2})


def test_attribute_round_trip_through_the_table(ddb: Any) -> None:
    # GIVEN a nested value with floats, Decimal, None, booleans, lists and maps
    value = {
        "total": Decimal("1810.46"), "confidence": 99.1, "pages": 3, "big": 2**53 + 1, "zero": 0.0,
        "missing": None, "ok": True, "no": False, "text": "Ünïcode €",
        "lines": [{"qty": 2, "price": 0.1}, [], {}], "nested": {"deeper": {"value": -12.75, "none": None}},
    }
    # WHEN it is stored and read back
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "X"}, "sk": {"S": "Y"}, "value": to_attr(value)})
    stored = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "X"}, "sk": {"S": "Y"}})["Item"]["value"]
    back = from_attr(stored)
    # THEN every value comes back equal; integral numbers as int, the rest as float
    assert back == {
        "total": 1810.46, "confidence": 99.1, "pages": 3, "big": 2**53 + 1, "zero": 0,
        "missing": None, "ok": True, "no": False, "text": "Ünïcode €",
        "lines": [{"qty": 2, "price": 0.1}, [], {}], "nested": {"deeper": {"value": -12.75, "none": None}},
    }
    assert isinstance(back["pages"], int) and isinstance(back["big"], int)
    assert isinstance(back["confidence"], float)
    assert back["ok"] is True and back["no"] is False
    assert Decimal(str(back["total"])) == Decimal("1810.46")
    assert from_attr(to_attr(back)) == back
