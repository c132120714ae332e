"""`docpipe status | list | show | reprocess | delete | upload` against a deployed stack: every AWS call each
command makes, in order and with its parameters (botocore Stubber), the stack lookup, and the clear
one-line errors for a wrong stack, a refused permission and an unknown document or key."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from docpipe import PROCESSOR_VERSION
from docpipe.classify import doc_type_from_key
from docpipe.contracts import DOC_TYPES
from docpipe.intake import upload_id
from docpipe.records import document_key, to_attr, upload_key
from docpipe_local.cli import main
from docpipe_local.ops import DOCUMENT_STATUSES, Stack, resolve_stack
from docpipe_local.ops_documents import UPLOAD_FOLDERS, upload_key_for
from tests.conftest import FIXTURES, ROOT

STACK = "docpipe-prod"
REGION = "eu-west-1"
BUCKET = "docpipe-prod-documentsbucket-1x2y3z"
TABLE = "docpipe-prod-DocumentsTable-1A2B3C"
STATE_MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:DocumentPipelineStateMachine-Ab12Cd34"
DOCUMENT_ID = "74ffb5ba4976231730a5576109d7a2d144c2dc719c70340705413b293cf95d4c"
KEY = "incoming/receipts/receipt.jpg"
VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
UPLOAD_ID = upload_id(BUCKET, KEY, VERSION)
EXECUTION = f"doc-{UPLOAD_ID}"
EXECUTION_ARN = f"arn:aws:states:{REGION}:123456789012:execution:DocumentPipelineStateMachine-Ab12Cd34:{EXECUTION}"
NORMALIZED_KEY = f"results/{DOCUMENT_ID}/normalized.json"
RAW_PREFIX = f"results/{DOCUMENT_ID}/textract/sync/"
WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
Capture = pytest.CaptureFixture[str]
# One session for the module's clients: botocore parses each service model once.
AWS = boto3.Session(region_name=REGION)

DOCUMENT = {
    "pk": f"DOC#{DOCUMENT_ID}", "sk": "DOCUMENT", "itemType": "document", "documentId": DOCUMENT_ID,
    "status": "SUCCEEDED", "uploadId": UPLOAD_ID, "executionName": EXECUTION, "sourceBucket": BUCKET,
    "sourceKey": KEY, "sourceVersionId": VERSION, "mediaType": "image/jpeg", "pageCount": 1, "size": 169200,
    "processorVersion": "0.0.9", "createdAt": "2026-12-01T09:30:00.000Z", "updatedAt": "2026-12-01T09:30:02.000Z",
    "docType": "receipt", "fields": {"total": {"value": "1810.46", "confidence": 99.93}}, "reviewReasons": [],
    "normalizedKey": NORMALIZED_KEY, "rawPrefix": RAW_PREFIX, "pages": 1, "method": "textract",
}
UPLOAD = {
    "pk": f"UPLOAD#{UPLOAD_ID}", "sk": "UPLOAD", "itemType": "upload", "uploadId": UPLOAD_ID, "bucket": BUCKET,
    "key": KEY, "versionId": VERSION, "documentId": DOCUMENT_ID, "status": "SUCCEEDED", "executionName": EXECUTION,
    "createdAt": "2026-12-01T09:30:00.000Z", "updatedAt": "2026-12-01T09:30:02.000Z",
}


def item(record: dict[str, Any]) -> dict[str, Any]:
    return {k: to_attr(v) for k, v in record.items()}


def body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


class Deployed:
    """The clients `docpipe` gets from boto3's Session, each behind a Stubber that expects its calls in order."""

    def __init__(self) -> None:
        self.clients = {name: AWS.client(name) for name in ("cloudformation", "dynamodb", "s3")}
        self.cloudformation, self.ddb, self.s3 = (Stubber(self.clients[n])
                                                  for n in ("cloudformation", "dynamodb", "s3"))

    def client(self, name: str, **_: Any) -> Any:
        return self.clients[name]

    def stack(self, outputs: bool = True) -> None:
        """DescribeStacks answering with the stack's outputs and parameters."""
        found = {"StackName": STACK, "CreationTime": WHEN, "StackStatus": "UPDATE_COMPLETE",
                 "Parameters": [{"ParameterKey": "ConfidenceThreshold", "ParameterValue": "85"},
                                {"ParameterKey": "DefaultLocale", "ParameterValue": "en_GB"}]}
        if outputs:
            found["Outputs"] = [{"OutputKey": "DocumentsBucketName", "OutputValue": BUCKET},
                                {"OutputKey": "DocumentsTableName", "OutputValue": TABLE},
                                {"OutputKey": "DocumentPipelineStateMachineArn", "OutputValue": STATE_MACHINE},
                                {"OutputKey": "IntakeQueueUrl", "OutputValue": "https://sqs/intake"}]
        self.cloudformation.add_response("describe_stacks", {"Stacks": [found]}, {"StackName": STACK})

    def get_item(self, key: dict[str, Any], record: dict[str, Any] | None) -> None:
        self.ddb.add_response("get_item", {"Item": item(record)} if record else {},
                              {"TableName": TABLE, "Key": key, "ConsistentRead": True})


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    stubs = Deployed()
    monkeypatch.setattr(boto3.session, "Session", lambda region_name=None, **_: stubs)
    with stubs.cloudformation, stubs.ddb, stubs.s3:
        yield stubs
        # THEN (every test) each call the test expected was made, and no other
        for stub in (stubs.cloudformation, stubs.ddb, stubs.s3):
            stub.assert_no_pending_responses()


def docpipe(capsys: Capture, *args: str) -> str:
    assert main([*args, "--stack", STACK, "--region", REGION]) == 0
    return capsys.readouterr().out


def refused(capsys: Capture, *args: str) -> str:
    """The one line on stderr of a command that must end with exit status 2 and no traceback."""
    with pytest.raises(SystemExit) as caught:
        main([*args, "--stack", STACK, "--region", REGION])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err.strip()


# -- the stack -----------------------------------------------------------------------------------
def test_a_stack_resolves_from_its_outputs_and_parameters(deployed: Deployed) -> None:
    # GIVEN a deployed stack WHEN it is resolved THEN one DescribeStacks gives names, threshold and locale
    deployed.stack()
    stack = resolve_stack(deployed.clients["cloudformation"], STACK)
    assert stack == Stack(STACK, BUCKET, TABLE, STATE_MACHINE, threshold=85.0, locale="en_GB")
    assert stack.region == REGION


def test_a_stack_without_outputs_is_resolved_from_its_resources(deployed: Deployed) -> None:
    # GIVEN a stack deployed from a template without the outputs
    deployed.stack(outputs=False)
    for logical, physical in (("DocumentsBucket", BUCKET), ("DocumentsTable", TABLE),
                              ("DocumentPipelineStateMachine", STATE_MACHINE)):
        deployed.cloudformation.add_response("describe_stack_resource", {"StackResourceDetail": {
            "LogicalResourceId": logical, "PhysicalResourceId": physical, "ResourceType": "AWS::X::Y",
            "LastUpdatedTimestamp": WHEN, "ResourceStatus": "CREATE_COMPLETE"}},
            {"StackName": STACK, "LogicalResourceId": logical})
    # WHEN it is resolved THEN each name comes from its resource
    stack = resolve_stack(deployed.clients["cloudformation"], STACK)
    assert (stack.bucket, stack.table, stack.state_machine_arn) == (BUCKET, TABLE, STATE_MACHINE)


@pytest.mark.parametrize(("code", "message"), [
    ("ValidationError", f"docpipe: stack {STACK} does not exist in this region"),
    ("AccessDenied", f"docpipe: not allowed to read stack {STACK} (cloudformation:DescribeStacks)"),
])
@pytest.mark.parametrize("command", [["status", DOCUMENT_ID], ["list"], ["show", DOCUMENT_ID],
                                     ["reprocess"], ["delete", DOCUMENT_ID, "--yes"], ["upload", "x.jpg"]])
def test_a_wrong_or_forbidden_stack_is_one_clear_line(deployed: Deployed, capsys: Capture,
                                                      command: list[str], code: str, message: str) -> None:
    # GIVEN CloudFormation refusing the stack name
    deployed.cloudformation.add_client_error("describe_stacks", code, "Stack with id docpipe-prod does not exist")
    # WHEN any document command names it THEN it ends with exit status 2 and one line saying why
    assert refused(capsys, *command) == message


def test_a_command_without_a_stack_says_how_to_name_one(capsys: Capture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_SAM_STACK_NAME", raising=False)
    with pytest.raises(SystemExit) as caught:
        main(["list"])
    assert caught.value.code == 2
    assert capsys.readouterr().err.strip() == "docpipe: name the stack: --stack NAME (or set AWS_SAM_STACK_NAME)"


# -- status --------------------------------------------------------------------------------------
def test_status_reads_the_document_and_its_upload(deployed: Deployed, capsys: Capture) -> None:
    # GIVEN the stack, its document and the document's upload
    deployed.stack()
    deployed.get_item(document_key(DOCUMENT_ID), DOCUMENT)
    deployed.get_item(upload_key(UPLOAD_ID), UPLOAD)
    # WHEN its status is asked for
    out = docpipe(capsys, "status", DOCUMENT_ID)
    # THEN the record, the execution in the stack's region with its console link, and the artifacts show
    assert "status     SUCCEEDED" in out and "processor  0.0.9" in out
    assert f"execution  {EXECUTION_ARN}" in out
    assert (f"console    https://{REGION}.console.aws.amazon.com/states/home?region={REGION}"
            f"#/v2/executions/details/{EXECUTION_ARN}") in out
    assert f"normalized s3://{BUCKET}/{NORMALIZED_KEY}" in out and f"raw        s3://{BUCKET}/{RAW_PREFIX}" in out
    assert f"SUCCEEDED    s3://{BUCKET}/{KEY}  version {VERSION}  upload {UPLOAD_ID}" in out


def test_status_of_a_key_finds_its_versions_uploads(deployed: Deployed, capsys: Capture) -> None:
    # GIVEN a key with one version, whose upload made the document
    deployed.stack()
    deployed.s3.add_response("list_object_versions", {"Versions": [
        {"Key": KEY, "VersionId": VERSION, "IsLatest": True, "LastModified": WHEN, "Size": 169200},
        {"Key": KEY + ".bak", "VersionId": "other", "IsLatest": True, "LastModified": WHEN, "Size": 1}]},
        {"Bucket": BUCKET, "Prefix": KEY})
    deployed.get_item(upload_key(UPLOAD_ID), UPLOAD)
    deployed.get_item(document_key(DOCUMENT_ID), DOCUMENT)
    # WHEN the key is looked up (with every upload of the content: a Scan filtered server-side)
    deployed.ddb.add_response("scan", {"Items": [item(UPLOAD)]}, {
        "TableName": TABLE, "FilterExpression": "#type = :upload AND #doc = :id",
        "ExpressionAttributeNames": {"#type": "itemType", "#doc": "documentId"},
        "ExpressionAttributeValues": {":upload": {"S": "upload"}, ":id": {"S": DOCUMENT_ID}}})
    status = json.loads(docpipe(capsys, "status", KEY, "--json", "--all-uploads"))
    # THEN it is the document's status
    assert (status["documentId"], status["status"], status["executionArn"]) == (DOCUMENT_ID, "SUCCEEDED", EXECUTION_ARN)
    assert [u["uploadId"] for u in status["uploads"]] == [UPLOAD_ID]


def test_unknown_document_upload_and_key_are_clear_errors(deployed: Deployed, capsys: Capture) -> None:
    # GIVEN a table without the document, and a bucket without the key
    for _ in range(4):
        deployed.stack()
    deployed.get_item(document_key(DOCUMENT_ID), None)
    deployed.get_item(upload_key(UPLOAD_ID), None)
    deployed.s3.add_response("list_object_versions", {}, {"Bucket": BUCKET, "Prefix": "incoming/nothing.jpg"})
    deployed.s3.add_response("list_object_versions", {"Versions": [
        {"Key": KEY, "VersionId": VERSION, "IsLatest": True, "LastModified": WHEN, "Size": 1}]},
        {"Bucket": BUCKET, "Prefix": KEY})
    deployed.get_item(upload_key(UPLOAD_ID), None)
    # WHEN each is looked up THEN each is one line naming what is missing
    assert refused(capsys, "status", DOCUMENT_ID) == f"docpipe: no document {DOCUMENT_ID} in table {TABLE}"
    assert refused(capsys, "status", UPLOAD_ID) == f"docpipe: no upload {UPLOAD_ID} in table {TABLE}"
    assert refused(capsys, "status", "incoming/nothing.jpg") == (
        f"docpipe: no object incoming/nothing.jpg in bucket {BUCKET}")
    assert refused(capsys, "status", KEY) == (
        f"docpipe: {KEY} has no upload record yet (its event may still be on the intake queue)")


# -- list ----------------------------------------------------------------------------------------
def query_params(status: str, **extra: Any) -> dict[str, Any]:
    names = {"#status": "status", "#type": "itemType"}
    values = {":status": {"S": status}, ":document": {"S": "document"}}
    condition, where = "#status = :status", "#type = :document"
    if "since" in extra:
        condition += " AND #updated >= :since"
        names["#updated"], values[":since"] = "updatedAt", {"S": extra["since"]}
    if "doc_type" in extra:
        where += " AND #docType = :docType"
        names["#docType"], values[":docType"] = "docType", {"S": extra["doc_type"]}
    params = {"TableName": TABLE, "IndexName": "StatusIndex", "KeyConditionExpression": condition,
              "FilterExpression": where, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
              "ScanIndexForward": False}
    if "start" in extra:
        params["ExclusiveStartKey"] = extra["start"]
    return params


def document(n: int, status: str, updated: str) -> dict[str, Any]:
    return {**DOCUMENT, "pk": f"DOC#{n:064x}", "documentId": f"{n:064x}", "status": status, "updatedAt": updated}


def test_list_queries_each_status_partition_newest_first(deployed: Deployed, capsys: Capture) -> None:
    # GIVEN documents in three statuses (the StatusIndex answers newest first per status)
    deployed.stack()
    answers = {"SUCCEEDED": [document(1, "SUCCEEDED", "2026-12-03T00:00:00Z"),
                             document(2, "SUCCEEDED", "2026-12-01T00:00:00Z")],
               "FAILED": [document(3, "FAILED", "2026-12-02T00:00:00Z")],
               "NEEDS_REVIEW": [document(4, "NEEDS_REVIEW", "2026-12-04T00:00:00Z")]}
    for status in DOCUMENT_STATUSES:
        deployed.ddb.add_response("query", {"Items": [item(d) for d in answers.get(status, [])]}, query_params(status))
    # WHEN every document is listed
    lines = docpipe(capsys, "list").splitlines()
    # THEN one query per status (no scan) and one line each, merged newest first
    assert [line.split()[3] for line in lines] == [f"{n:064x}" for n in (4, 1, 3, 2)]
    assert lines[0].split()[:3] == ["2026-12-04T00:00:00Z", "NEEDS_REVIEW", "receipt"] and lines[0].endswith(KEY)


def test_list_filters_server_side_and_stops_at_the_limit(deployed: Deployed, capsys: Capture) -> None:
    # GIVEN a status partition whose first page is empty after filtering, then a page with two documents
    deployed.stack()
    start = {"pk": {"S": "DOC#x"}, "sk": {"S": "DOCUMENT"}, "status": {"S": "SUCCEEDED"},
             "updatedAt": {"S": "2026-12-05"}}
    filters = {"since": "2026-12-01", "doc_type": "receipt"}
    deployed.ddb.add_response("query", {"Items": [], "LastEvaluatedKey": start}, query_params("SUCCEEDED", **filters))
    deployed.ddb.add_response("query", {"Items": [item(document(1, "SUCCEEDED", "2026-12-04T00:00:00Z")),
                                                  item(document(2, "SUCCEEDED", "2026-12-03T00:00:00Z"))],
                                        "LastEvaluatedKey": start},
                              query_params("SUCCEEDED", **filters, start=start))
    # WHEN one receipt updated since Dec 1 is asked for
    lines = docpipe(capsys, "list", "--status", "SUCCEEDED", "--since", "2026-12-01", "--doc-type", "receipt",
                    "--limit", "1").splitlines()
    # THEN the filters went to DynamoDB, the pages were followed, and no page past the limit was read
    assert [line.split()[3] for line in lines] == [f"{1:064x}"]


def test_list_rejects_a_malformed_day(capsys: Capture) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["list", "--since", "1 Dec", "--stack", STACK])
    assert caught.value.code == 2 and "expected YYYY-MM-DD" in capsys.readouterr().err


# -- show ----------------------------------------------------------------------------------------
def test_show_reads_the_normalized_json(deployed: Deployed, capsys: Capture) -> None:
    # GIVEN the document and its normalized JSON
    deployed.stack()
    deployed.get_item(document_key(DOCUMENT_ID), DOCUMENT)
    normalized = {"documentId": DOCUMENT_ID, "docType": "receipt", "pages": 1, "processorVersion": "0.0.9",
                  "fields": {"total": {"value": "1810.46", "confidence": 99.93, "page": 1, "source": "TOTAL"}},
                  "line_items": [], "review": {"status": "SUCCEEDED", "reasons": []}}
    deployed.s3.add_response("get_object", {"Body": body(json.dumps(normalized).encode())},
                             {"Bucket": BUCKET, "Key": NORMALIZED_KEY})
    # WHEN its fields are shown THEN the total is a row: value, confidence, page
    out = docpipe(capsys, "show", DOCUMENT_ID)
    assert out.splitlines()[-1].split() == ["total", "1810.46", "99.93", "1"]


def test_show_of_a_document_without_output_is_a_clear_error(deployed: Deployed,
                                                            capsys: Capture) -> None:
    deployed.stack()
    failed = {k: v for k, v in DOCUMENT.items() if k not in ("normalizedKey", "rawPrefix")} | {"status": "FAILED"}
    deployed.get_item(document_key(DOCUMENT_ID), failed)
    assert refused(capsys, "show", DOCUMENT_ID) == (
        f"docpipe: document {DOCUMENT_ID} has no normalized result (status FAILED)")


# -- reprocess -----------------------------------------------------------------------------------
def test_reprocess_reads_s3_writes_s3_and_updates_the_record_conditionally(
        deployed: Deployed, capsys: Capture) -> None:
    # GIVEN a receipt normalized by processor 0.0.9, its stored AnalyzeExpense response and old JSON
    deployed.stack()
    deployed.get_item(document_key(DOCUMENT_ID), DOCUMENT)
    old = {"docTypeSource": "key", "method": "textract", "review": {"status": "SUCCEEDED", "reasons": []}}
    deployed.s3.add_response("get_object", {"Body": body(json.dumps(old).encode())},
                             {"Bucket": BUCKET, "Key": NORMALIZED_KEY})
    deployed.s3.add_response("list_objects_v2", {"Contents": [{"Key": RAW_PREFIX + "1", "Size": 1}]},
                             {"Bucket": BUCKET, "Prefix": RAW_PREFIX})
    raw = (FIXTURES / "textract" / "analyze_expense_receipt_mega_market.json").read_bytes()
    deployed.s3.add_response("get_object", {"Body": body(raw)}, {"Bucket": BUCKET, "Key": RAW_PREFIX + "1"})
    deployed.s3.add_response("put_object", {"VersionId": "new"}, {
        "Bucket": BUCKET, "Key": NORMALIZED_KEY, "Body": ANY, "ContentType": "application/json"})
    # AND the record is written only if it is still as read: same status, owner and update time
    deployed.ddb.add_response("update_item", {}, {
        "TableName": TABLE, "Key": document_key(DOCUMENT_ID), "UpdateExpression": ANY,
        "ConditionExpression": "#status = :seenStatus AND #executionName = :seenExecution "
                               "AND #updatedAt = :seenUpdatedAt",
        "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
    deployed.ddb.add_response("update_item", {}, {
        "TableName": TABLE, "Key": upload_key(UPLOAD_ID),
        "UpdateExpression": "SET #status = :status, #updatedAt = :updatedAt",
        "ConditionExpression": "#status = :seenStatus AND #executionName = :seenExecution",
        "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
    # WHEN it is reprocessed
    out = docpipe(capsys, "reprocess", "--document", DOCUMENT_ID)
    # THEN (the stubbed clients hold no Textract) it was re-normalized with this processor version
    assert f"reprocessed  {DOCUMENT_ID}  SUCCEEDED -> SUCCEEDED  processor {PROCESSOR_VERSION}" in out


def test_reprocess_skips_a_document_that_changed_meanwhile(deployed: Deployed, capsys: Capture) -> None:
    # GIVEN an update refused because an execution took the document while it was being reprocessed
    deployed.stack()
    for status in ("SUCCEEDED", "NEEDS_REVIEW"):
        deployed.ddb.add_response("query", {"Items": [item(DOCUMENT)] if status == "SUCCEEDED" else []},
                                  query_params(status))
    deployed.get_item(document_key(DOCUMENT_ID), DOCUMENT)
    deployed.s3.add_client_error("get_object", "NoSuchKey", "gone", 404)
    deployed.s3.add_response("list_objects_v2", {"Contents": [{"Key": RAW_PREFIX + "1", "Size": 1}]})
    raw = (FIXTURES / "textract" / "analyze_expense_receipt_mega_market.json").read_bytes()
    deployed.s3.add_response("get_object", {"Body": body(raw)})
    deployed.s3.add_response("put_object", {})
    deployed.ddb.add_client_error("update_item", "ConditionalCheckFailedException", "The conditional request failed")
    # WHEN every SUCCEEDED/NEEDS_REVIEW document is reprocessed THEN it is skipped and said so
    out = docpipe(capsys, "reprocess")
    assert f"skipped      {DOCUMENT_ID}: it changed while being reprocessed" in out
    assert "0 reprocessed, 1 skipped" in out


# -- delete --------------------------------------------------------------------------------------
def test_delete_erases_versions_then_records(deployed: Deployed, capsys: Capture) -> None:
    # GIVEN the document, its one upload, the upload key holding also another document's version
    deployed.stack()
    deployed.get_item(document_key(DOCUMENT_ID), DOCUMENT)
    page_end = {"pk": {"S": "x"}, "sk": {"S": "y"}}
    deployed.ddb.add_response("scan", {"Items": [item(UPLOAD)], "LastEvaluatedKey": page_end})
    deployed.ddb.add_response("scan", {"Items": []}, {
        "TableName": TABLE, "FilterExpression": ANY, "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY,
        "ExclusiveStartKey": page_end})
    deployed.s3.add_response("list_object_versions", {"Versions": [
        {"Key": KEY, "VersionId": VERSION, "IsLatest": False, "LastModified": WHEN, "Size": 1},
        {"Key": KEY, "VersionId": "someone-else", "IsLatest": True, "LastModified": WHEN, "Size": 1}]},
        {"Bucket": BUCKET, "Prefix": KEY})
    deployed.s3.add_response("list_object_versions", {
        "Versions": [{"Key": NORMALIZED_KEY, "VersionId": "n2", "IsLatest": True, "LastModified": WHEN, "Size": 1},
                     {"Key": NORMALIZED_KEY, "VersionId": "n1", "IsLatest": False, "LastModified": WHEN, "Size": 1},
                     {"Key": RAW_PREFIX + "1", "VersionId": "r1", "IsLatest": True, "LastModified": WHEN, "Size": 1}],
        "DeleteMarkers": [{"Key": RAW_PREFIX + "2", "VersionId": "m1", "IsLatest": True, "LastModified": WHEN}]},
        {"Bucket": BUCKET, "Prefix": f"results/{DOCUMENT_ID}/"})
    erased = [
        {"Key": KEY, "VersionId": VERSION}, {"Key": NORMALIZED_KEY, "VersionId": "n2"},
        {"Key": NORMALIZED_KEY, "VersionId": "n1"}, {"Key": RAW_PREFIX + "1", "VersionId": "r1"},
        {"Key": RAW_PREFIX + "2", "VersionId": "m1"}]
    deployed.s3.add_response("delete_objects", {"Deleted": []},
                             {"Bucket": BUCKET, "Delete": {"Quiet": True, "Objects": erased}})
    deployed.ddb.add_response("delete_item", {}, {"TableName": TABLE, "Key": upload_key(UPLOAD_ID)})
    deployed.ddb.add_response("delete_item", {}, {
        "TableName": TABLE, "Key": document_key(DOCUMENT_ID),
        "ConditionExpression": "attribute_not_exists(pk) OR #status <> :processing",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":processing": {"S": "PROCESSING"}}})
    # WHEN it is deleted with --yes
    out = docpipe(capsys, "delete", DOCUMENT_ID, "--yes")
    # THEN each version of its own was erased (by VersionId), the other document's kept, then its records
    assert f"kept     {KEY}  version someone-else: not an upload of this document" in out
    assert out.splitlines()[-1] == "delete: 5 object version(s) and 2 record(s) erased"


def test_delete_refuses_a_document_being_processed(deployed: Deployed, capsys: Capture) -> None:
    deployed.stack()
    deployed.get_item(document_key(DOCUMENT_ID), {**DOCUMENT, "status": "PROCESSING"})
    assert refused(capsys, "delete", DOCUMENT_ID, "--yes") == (
        f"docpipe: document {DOCUMENT_ID} is being processed; delete it once its execution has ended")


def test_delete_refuses_a_document_with_an_upload_being_processed(deployed: Deployed,
                                                                  capsys: Capture) -> None:
    # GIVEN a FAILED document whose upload a redrive has just handed to a new execution
    deployed.stack()
    deployed.get_item(document_key(DOCUMENT_ID), {**DOCUMENT, "status": "FAILED"})
    deployed.ddb.add_response("scan", {"Items": [item({**UPLOAD, "status": "PROCESSING"})]})
    # WHEN it is deleted THEN nothing is, and the operator is told why
    assert refused(capsys, "delete", DOCUMENT_ID, "--yes") == (
        f"docpipe: document {DOCUMENT_ID} has an upload being processed ({UPLOAD_ID}); "
        "delete it once that execution has ended")


def test_delete_reports_versions_s3_would_not_delete(deployed: Deployed, capsys: Capture) -> None:
    # GIVEN a bucket policy that forbids deleting object versions (DeleteObjects answers per key)
    deployed.stack()
    deployed.get_item(document_key(DOCUMENT_ID), DOCUMENT)
    deployed.ddb.add_response("scan", {"Items": [item(UPLOAD)]})
    deployed.s3.add_response("list_object_versions", {"Versions": [
        {"Key": KEY, "VersionId": VERSION, "IsLatest": True, "LastModified": WHEN, "Size": 1}]})
    deployed.s3.add_response("list_object_versions", {})
    deployed.s3.add_response("delete_objects", {"Errors": [
        {"Key": KEY, "VersionId": VERSION, "Code": "AccessDenied", "Message": "Access Denied"}]})
    # WHEN it is deleted THEN the refusal is one line, and no record was deleted (no delete_item stubbed)
    assert refused(capsys, "delete", DOCUMENT_ID, "--yes") == (
        f"docpipe: not allowed to delete object versions in bucket {BUCKET} (DeleteObjects: AccessDenied on {KEY})")


# -- upload --------------------------------------------------------------------------------------
def test_upload_puts_the_file_under_its_doc_type_folder(deployed: Deployed, capsys: Capture) -> None:
    # GIVEN the stack WHEN the sample receipt is uploaded as a receipt
    deployed.stack()
    deployed.s3.add_response("put_object", {"VersionId": VERSION}, {
        "Bucket": BUCKET, "Key": KEY, "Body": ANY, "Metadata": {"doc-type": "receipt"}, "ContentType": "image/jpeg"})
    out = docpipe(capsys, "upload", str(ROOT / "samples" / "receipt.jpg"), "--doc-type", "receipt")
    # THEN the key, version and upload id (what the pipeline's execution is named after) are printed
    assert out.splitlines() == [f"uploaded  s3://{BUCKET}/{KEY}", f"version   {VERSION}", f"upload    {UPLOAD_ID}"]


def test_every_upload_folder_names_its_doc_type() -> None:
    # GIVEN each docType WHEN a file is uploaded with it THEN classify reads the same docType from the key
    stack = Stack(STACK, BUCKET, TABLE, STATE_MACHINE)
    for doc_type in DOC_TYPES:
        assert doc_type_from_key(upload_key_for(stack, Path("scan.pdf"), doc_type), "incoming/") == doc_type
    assert set(UPLOAD_FOLDERS) == set(DOC_TYPES)
    # AND without one, the folder hints nothing: the pipeline classifies
    assert doc_type_from_key(upload_key_for(stack, Path("scan.pdf"), None), "incoming/") is None


# -- refused permissions -------------------------------------------------------------------------
def _denied_get_item(deployed: Deployed) -> None:
    deployed.ddb.add_client_error("get_item", "AccessDeniedException", "not authorized to perform dynamodb:GetItem")


def _denied_query(deployed: Deployed) -> None:
    deployed.ddb.add_client_error("query", "AccessDeniedException", "not authorized to perform dynamodb:Query")


def _denied_get_object(deployed: Deployed) -> None:
    deployed.get_item(document_key(DOCUMENT_ID), DOCUMENT)
    deployed.s3.add_client_error("get_object", "AccessDenied", "Access Denied", 403)


def _denied_update(deployed: Deployed) -> None:
    deployed.get_item(document_key(DOCUMENT_ID), DOCUMENT)
    deployed.s3.add_response("get_object", {"Body": body(b"{}")})
    deployed.s3.add_response("list_objects_v2", {"Contents": [{"Key": RAW_PREFIX + "1", "Size": 1}]})
    raw = (FIXTURES / "textract" / "analyze_expense_receipt_mega_market.json").read_bytes()
    deployed.s3.add_response("get_object", {"Body": body(raw)})
    deployed.s3.add_client_error("put_object", "AccessDenied", "Access Denied", 403)


def _denied_scan(deployed: Deployed) -> None:
    deployed.get_item(document_key(DOCUMENT_ID), DOCUMENT)
    deployed.ddb.add_client_error("scan", "AccessDeniedException", "not authorized to perform dynamodb:Scan")


def _denied_put(deployed: Deployed) -> None:
    deployed.s3.add_client_error("put_object", "AccessDenied", "Access Denied", 403)


@pytest.mark.parametrize(("command", "refuse", "message"), [
    (["status", DOCUMENT_ID], _denied_get_item, f"not allowed to read table {TABLE} (GetItem: AccessDeniedException)"),
    (["list"], _denied_query, f"not allowed to query table {TABLE} (Query: AccessDeniedException)"),
    (["show", DOCUMENT_ID], _denied_get_object,
     f"not allowed to read s3://{BUCKET}/{NORMALIZED_KEY} (GetObject: AccessDenied)"),
    (["reprocess", "--document", DOCUMENT_ID], _denied_update,
     f"not allowed to read and write s3://{BUCKET}/results/{DOCUMENT_ID}/ (PutObject: AccessDenied)"),
    (["delete", DOCUMENT_ID, "--yes"], _denied_scan,
     f"not allowed to scan table {TABLE} (Scan: AccessDeniedException)"),
    (["upload", str(ROOT / "samples" / "receipt.jpg")], _denied_put,
     f"not allowed to upload to bucket {BUCKET} (PutObject: AccessDenied)"),
])
def test_a_refused_permission_is_one_clear_line(deployed: Deployed, capsys: Capture,
                                                command: list[str], refuse: Any, message: str) -> None:
    # GIVEN a role that may read the stack but not the call the command needs
    deployed.stack()
    refuse(deployed)
    # WHEN the command runs THEN exit status 2 and one line naming what was refused
    assert refused(capsys, *command) == f"docpipe: {message}"


def test_a_table_that_is_gone_is_a_clear_error(deployed: Deployed, capsys: Capture) -> None:
    deployed.stack()
    deployed.ddb.add_client_error("get_item", "ResourceNotFoundException", "Requested resource not found")
    assert refused(capsys, "status", DOCUMENT_ID) == (
        f"docpipe: cannot read table {TABLE}: the table does not exist in this region")


def test_any_other_aws_error_is_still_one_line(deployed: Deployed, capsys: Capture) -> None:
    deployed.stack()
    deployed.ddb.add_client_error("get_item", "ProvisionedThroughputExceededException", "slow down")
    assert refused(capsys, "status", DOCUMENT_ID) == (
        "docpipe: GetItem failed: ProvisionedThroughputExceededException: slow down")
