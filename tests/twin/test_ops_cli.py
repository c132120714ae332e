"""`docpipe status | list | show | reprocess | delete | upload` on the twin: the CLI with the twin's table,
bucket and state machine standing in for a deployed stack's (the stack lookup itself is unit-tested)."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from docpipe import PROCESSOR_VERSION
from docpipe.intake import upload_id
from docpipe.records import document_key, to_attr
from docpipe_local import ops
from docpipe_local.cli import main
from docpipe_local.ops import Stack
from docpipe_local.ops_documents import reprocess
from docpipe_local.twin.twin import LocalTwin, Upload
from tests.twin.conftest import SAMPLES, process

STACK = "docpipe-twin"


def twin_stack(twin: LocalTwin) -> Stack:
    """The twin's resources, as `ops.resolve_stack` returns a deployed stack's."""
    return Stack(name=twin.stack_name, bucket=twin.resources.ref("DocumentsBucket"),
                 table=twin.resources.ref("DocumentsTable"), state_machine_arn=twin.state_machine_arn,
                 threshold=float(twin.parameter_values["ConfidenceThreshold"]),
                 locale=twin.parameter_values["DefaultLocale"])


@pytest.fixture
def stack_twin(make_twin, receipt_replay: Path, monkeypatch: pytest.MonkeyPatch) -> LocalTwin:
    """A twin answering the sample receipt from AWS's recorded response, reachable as `--stack docpipe-twin`."""
    twin = make_twin(replay_dir=receipt_replay)
    stack = twin_stack(twin)
    monkeypatch.setattr(ops, "resolve_stack", lambda cloudformation, name: stack if name == STACK else
                        pytest.fail(f"unexpected stack {name}"))
    return twin


def docpipe(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the CLI against the twin's stack; the output, after asserting it succeeded."""
    assert main([*args, "--stack", STACK]) == 0
    return capsys.readouterr().out


def failing(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the CLI expecting a clear error: exit status 2 and one line on stderr; that line."""
    with pytest.raises(SystemExit) as caught:
        main([*args, "--stack", STACK])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err.strip()


def processed_receipt(twin: LocalTwin, key: str | None = None) -> tuple[Upload, str]:
    upload = twin.upload(SAMPLES / "receipt.jpg", key=key)
    process(twin, upload)
    return upload, twin.upload_record(upload)["documentId"]


def object_versions(twin: LocalTwin, prefix: str) -> list[tuple[str, str]]:
    s3 = boto3.client("s3")
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=twin.resources.ref("DocumentsBucket"),
                                                                  Prefix=prefix):
        found += [(v["Key"], v["VersionId"]) for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    return found


def table_items(twin: LocalTwin) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb")
    return ddb.scan(TableName=twin.resources.ref("DocumentsTable"), ConsistentRead=True)["Items"]


def test_status_shows_the_record_uploads_execution_link_and_artifacts(stack_twin: LocalTwin,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    twin = stack_twin
    # GIVEN the sample receipt processed by the pipeline
    upload, document_id = processed_receipt(twin)
    # WHEN the operator asks for its status by document id
    out = docpipe(capsys, "status", document_id)
    # THEN the record, its upload, the execution with its console link and the artifacts are shown
    arn = twin.execution_arn(upload.upload_id)
    assert f"document   {document_id}" in out and "status     SUCCEEDED" in out and "docType    receipt" in out
    assert "pages      1" in out and f"processor  {PROCESSOR_VERSION}" in out and "method     textract" in out
    assert f"execution  {arn}" in out
    assert (f"console    https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
            f"#/v2/executions/details/{arn}") in out
    bucket = twin.resources.ref("DocumentsBucket")
    assert f"normalized s3://{bucket}/results/{document_id}/normalized.json" in out
    assert f"raw        s3://{bucket}/results/{document_id}/textract/sync/" in out
    assert (f"SUCCEEDED    s3://{bucket}/incoming/receipt.jpg  version {upload.version_id}  "
            f"upload {upload.upload_id}") in out
    # AND the S3 key, the upload id and s3:// form all lead to the same document (JSON for scripts)
    for reference in ("incoming/receipt.jpg", upload.upload_id, f"s3://{bucket}/incoming/receipt.jpg"):
        as_json = json.loads(docpipe(capsys, "status", reference, "--json"))
        assert (as_json["documentId"], as_json["status"], as_json["executionArn"]) == (document_id, "SUCCEEDED", arn)


def test_status_of_a_rejected_upload_and_of_a_duplicate(stack_twin: LocalTwin,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    twin = stack_twin
    # GIVEN a spoofed PDF (rejected before it became a document) and the receipt uploaded twice
    fake = twin.upload(SAMPLES / "not-really-a.pdf")
    first, document_id = processed_receipt(twin)
    second, _ = processed_receipt(twin, key="incoming/copy-of-receipt.jpg")
    process(twin, fake)
    # WHEN the operator looks the rejected file up by its key
    rejected = json.loads(docpipe(capsys, "status", "incoming/not-really-a.pdf", "--json"))
    # THEN it shows REJECTED with the code and message, and the execution that rejected it
    assert rejected["documentId"] is None and rejected["status"] == "REJECTED"
    assert rejected["error"]["code"] == "SPOOFED_TYPE" and rejected["executionArn"] == fake.execution_arn
    # WHEN the copy's key is looked up THEN it leads to the first document, and --all-uploads finds both uploads
    copy = json.loads(docpipe(capsys, "status", "incoming/copy-of-receipt.jpg", "--json", "--all-uploads"))
    assert copy["documentId"] == document_id and copy["status"] == "SUCCEEDED"
    assert sorted((u["key"], u["status"]) for u in copy["uploads"]) == [
        ("incoming/copy-of-receipt.jpg", "DUPLICATE"), ("incoming/receipt.jpg", "SUCCEEDED")]


def test_list_is_newest_first_and_filters_by_status_day_and_doc_type(stack_twin: LocalTwin,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    twin = stack_twin
    # GIVEN a receipt, then a two-page invoice (read from its PDF text layer), then a rejected upload
    _, receipt_id = processed_receipt(twin)
    invoice = twin.upload(SAMPLES / "invoice-2-pages.pdf")
    process(twin, invoice)
    invoice_id = twin.upload_record(invoice)["documentId"]
    invoice_status = twin.document_record(invoice_id)["status"]
    process(twin, twin.upload(SAMPLES / "not-really-a.pdf"))
    # WHEN every document is listed
    lines = docpipe(capsys, "list").splitlines()
    # THEN there is one line per document (the rejected upload is no document), newest first
    assert [line.split()[3] for line in lines] == [invoice_id, receipt_id]
    assert lines[1].split()[1:3] == ["SUCCEEDED", "receipt"] and lines[1].endswith("incoming/receipt.jpg")
    # AND each filter narrows it
    assert [line.split()[3] for line in docpipe(capsys, "list", "--doc-type", "receipt").splitlines()] == [receipt_id]
    assert [line.split()[3] for line in docpipe(capsys, "list", "--doc-type", "invoice").splitlines()] == [invoice_id]
    by_status = docpipe(capsys, "list", "--status", invoice_status).splitlines()
    assert invoice_id in by_status[0] and all(invoice_status in line for line in by_status)
    assert docpipe(capsys, "list", "--limit", "1").splitlines()[0].split()[3] == invoice_id
    updated = date.fromisoformat(twin.document_record(receipt_id)["updatedAt"][:10])
    assert len(docpipe(capsys, "list", "--since", updated.isoformat()).splitlines()) == 2
    assert docpipe(capsys, "list", "--since", (updated + timedelta(days=1)).isoformat()) == ""


def test_show_prints_the_normalized_fields(stack_twin: LocalTwin, capsys: pytest.CaptureFixture[str]) -> None:
    twin = stack_twin
    # GIVEN the processed receipt
    _, document_id = processed_receipt(twin)
    # WHEN its fields are shown
    out = docpipe(capsys, "show", document_id)
    # THEN each field is a row of value, confidence and page, the total among them, and the line items too
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert rows["total"] == ["1810.46", "99.93", "1"]
    assert rows["receipt_date"][0] == "2019-12-07" and rows["line_items[1].amount"][0] == "899.99"
    # AND --json prints the normalized JSON as stored
    normalized = twin.read_json(twin.document_record(document_id)["normalizedKey"])
    assert json.loads(docpipe(capsys, "show", document_id, "--json")) == normalized


def test_reprocess_renormalizes_from_stored_output_without_calling_textract(
        stack_twin: LocalTwin, capsys: pytest.CaptureFixture[str]) -> None:
    twin = stack_twin
    ddb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    stack = twin_stack(twin)
    # GIVEN the receipt, processed by an older processor version whose output lost the total
    _, document_id = processed_receipt(twin)
    document = twin.document_record(document_id)
    stale = twin.read_json(document["normalizedKey"])
    del stale["fields"]["total"]
    stale["processorVersion"] = "0.0.1"
    s3.put_object(Bucket=stack.bucket, Key=document["normalizedKey"], Body=json.dumps(stale).encode())
    ddb.update_item(TableName=stack.table, Key=document_key(document_id), UpdateExpression="SET #v = :v",
                    ExpressionAttributeNames={"#v": "processorVersion"},
                    ExpressionAttributeValues={":v": to_attr("0.0.1")})
    calls = len(twin.engine.calls)
    versions = len(object_versions(twin, document["normalizedKey"]))
    # WHEN the operator reprocesses receipts (through the CLI, and through the function with the clients
    # the twin's Textract engine is installed on)
    out = docpipe(capsys, "reprocess", "--doc-type", "receipt")
    again = reprocess(ddb, s3, stack, document_id=document_id, stream=io.StringIO())
    # THEN Textract was not called: the engine's call log did not grow
    assert len(twin.engine.calls) == calls
    # AND the normalized JSON was rewritten (new S3 versions) by this processor version, total back
    assert f"reprocessed  {document_id}  SUCCEEDED -> SUCCEEDED" in out and again.reprocessed
    assert len(object_versions(twin, document["normalizedKey"])) == versions + 2
    normalized = twin.read_json(document["normalizedKey"])
    assert normalized["fields"]["total"]["value"] == "1810.46"
    assert normalized["processorVersion"] == PROCESSOR_VERSION and normalized["docTypeSource"] == stale["docTypeSource"]
    record = twin.document_record(document_id)
    assert (record["status"], record["processorVersion"]) == ("SUCCEEDED", PROCESSOR_VERSION)
    assert record["fields"]["total"]["value"] == "1810.46" and record["reprocessedAt"] == record["updatedAt"]
    # AND a filter that matches nothing reprocesses nothing
    assert "0 reprocessed, 0 skipped" in docpipe(capsys, "reprocess", "--doc-type", "invoice")


def test_reprocess_leaves_a_document_being_processed_alone(stack_twin: LocalTwin,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    twin = stack_twin
    # GIVEN a document that an execution has (again) taken over: PROCESSING
    _, document_id = processed_receipt(twin)
    ddb = boto3.client("dynamodb")
    ddb.update_item(TableName=twin.resources.ref("DocumentsTable"), Key=document_key(document_id),
                    UpdateExpression="SET #s = :p", ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":p": to_attr("PROCESSING")})
    key = twin.document_record(document_id)["normalizedKey"]
    versions = object_versions(twin, key)
    # WHEN the operator reprocesses it by id
    out = docpipe(capsys, "reprocess", "--document", document_id)
    # THEN it is skipped, its record and normalized JSON untouched
    assert f"skipped      {document_id}: it is being processed" in out
    assert twin.document_record(document_id)["status"] == "PROCESSING"
    assert object_versions(twin, key) == versions


def test_delete_erases_every_version_and_record_of_the_document_only(stack_twin: LocalTwin,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    twin = stack_twin
    # GIVEN the receipt uploaded twice (the second a DUPLICATE under another key), and an invoice
    _, document_id = processed_receipt(twin)
    processed_receipt(twin, key="incoming/copy-of-receipt.jpg")
    invoice = twin.upload(SAMPLES / "invoice-2-pages.pdf")
    process(twin, invoice)
    invoice_id = twin.upload_record(invoice)["documentId"]
    # WHEN the operator declines the confirmation THEN nothing is deleted
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["delete", document_id, "--stack", STACK]) == 1
    assert "Permanently delete document" in capsys.readouterr().out
    assert object_versions(twin, "incoming/receipt.jpg") and twin.document_record(document_id)
    # WHEN the operator deletes it with --yes
    out = docpipe(capsys, "delete", document_id, "--yes")
    # THEN no object version of its uploads or its results is left, and neither are its records
    assert object_versions(twin, "incoming/receipt.jpg") == []
    assert object_versions(twin, "incoming/copy-of-receipt.jpg") == []
    assert object_versions(twin, f"results/{document_id}/") == []
    assert not [i for i in table_items(twin) if document_id in json.dumps(i)]
    assert out.count("deleted  record UPLOAD#") == 2 and f"deleted  record DOC#{document_id}" in out
    assert "deleted  s3://" in out and "incoming/receipt.jpg" in out
    # AND the invoice is untouched
    assert twin.document_record(invoice_id)["status"] in ("SUCCEEDED", "NEEDS_REVIEW")
    assert object_versions(twin, invoice.key) and object_versions(twin, f"results/{invoice_id}/")
    # AND the deleted document is now unknown: a clear error, exit status 2
    assert failing(capsys, "status", document_id) == (
        f"docpipe: no document {document_id} in table {twin.resources.ref('DocumentsTable')}")


def test_upload_puts_the_file_where_the_pipeline_classifies_it(stack_twin: LocalTwin,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    twin = stack_twin
    bucket = twin.resources.ref("DocumentsBucket")
    # WHEN the operator uploads the receipt naming its docType
    out = docpipe(capsys, "upload", str(SAMPLES / "receipt.jpg"), "--doc-type", "receipt")
    # THEN it lands under incoming/receipts/ with doc-type metadata, and the key, version and upload id are printed
    key = "incoming/receipts/receipt.jpg"
    version = out.splitlines()[1].split()[1]
    assert out.splitlines()[0] == f"uploaded  s3://{bucket}/{key}"
    assert out.splitlines()[2] == f"upload    {upload_id(bucket, key, version)}"
    s3 = boto3.client("s3")
    # AND the object carries the same metadata the twin's own upload helper gives it
    helper = twin.upload(SAMPLES / "receipt.jpg", key="incoming/receipts/by-helper.jpg", doc_type="receipt")
    assert (s3.head_object(Bucket=bucket, Key=key, VersionId=version)["Metadata"]
            == s3.head_object(Bucket=bucket, Key=helper.key)["Metadata"] == {"doc-type": "receipt"})
    # AND the pipeline processes it: SUCCEEDED as a receipt, classified from the key
    uid = upload_id(bucket, key, version)
    uploaded = Upload(str(SAMPLES / "receipt.jpg"), bucket, key, version, uid, twin.execution_arn(uid))
    assert process(twin, uploaded, helper)[uid]["status"] == "SUCCEEDED"
    status = json.loads(docpipe(capsys, "status", key, "--json"))
    assert (status["status"], status["docType"]) == ("SUCCEEDED", "receipt")
    assert twin.read_json(status["normalizedKey"])["docTypeSource"] == "key"
    # WHEN the file does not exist THEN a clear error
    missing = SAMPLES / "missing.jpg"
    assert failing(capsys, "upload", str(missing)) == f"docpipe: no such file: {missing}"


def test_unknown_ids_and_keys_are_clear_errors(stack_twin: LocalTwin, capsys: pytest.CaptureFixture[str]) -> None:
    twin = stack_twin
    table, bucket = twin.resources.ref("DocumentsTable"), twin.resources.ref("DocumentsBucket")
    unknown = "0" * 64
    # GIVEN an empty stack, WHEN commands name a document or key that is not there THEN each is one clear line
    assert failing(capsys, "status", unknown) == f"docpipe: no document {unknown} in table {table}"
    assert failing(capsys, "show", unknown) == f"docpipe: no document {unknown} in table {table}"
    assert failing(capsys, "delete", unknown, "--yes") == f"docpipe: no document {unknown} in table {table}"
    assert failing(capsys, "reprocess", "--document", unknown) == f"docpipe: no document {unknown} in table {table}"
    assert failing(capsys, "status", "incoming/nothing.jpg") == (
        f"docpipe: no object incoming/nothing.jpg in bucket {bucket}")
