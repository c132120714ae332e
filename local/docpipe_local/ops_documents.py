"""Operator commands on documents: `docpipe status | list | show | reprocess | delete | upload`.

Each command is a function taking boto3 clients and a `Stack` (the resource names of a deployed
stack, from `ops.resolve_stack`, or the twin's), so the twin's tests and a deployed stack run the
same code. AWS refusals become one-line `OpsError`s (exit status 2) naming what was refused.

How records are found (see docpipe.records): a document is `DOC#<sha256>`, an upload
`UPLOAD#<uploadId>` where the upload id derives from bucket, key and version (intake.upload_id).
Lists read the StatusIndex (status, updatedAt), one partition per status, merged newest first;
only the uploads of one document need a Scan (no index holds documentId), filtered server-side.
"""

from __future__ import annotations

import heapq
import json
import mimetypes
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from botocore.exceptions import ClientError

from docpipe import PROCESSOR_VERSION
from docpipe.contracts import DOC_TYPES
from docpipe.errors import DocumentError
from docpipe.intake import upload_id
from docpipe.records import PROCESSING, document_key, item_to_dict, now_iso, to_attr, upload_key
from docpipe.results import normalize_document
from docpipe_local.ops import ACCESS_DENIED, DOCUMENT_STATUSES, OpsError, Stack

# Documents whose raw Textract output is complete in S3 and that no execution owns any more: the
# pipeline never takes these over (RegisterDocument only retakes FAILED), so reprocess may rewrite them.
REPROCESSABLE = ("SUCCEEDED", "NEEDS_REVIEW")
PARTIAL_SUCCESS_REASON = "Textract returned PARTIAL_SUCCESS"
# `upload --doc-type T` puts the file under incoming/<folder>/: a folder classify.doc_type_from_key reads as T.
UPLOAD_FOLDERS = {"receipt": "receipts", "invoice": "invoices", "insurance": "insurance", "identity": "identity",
                  "generic": "generic"}
UNTYPED_FOLDER = "documents"
_DOCUMENT_ID = re.compile(r"[0-9a-f]{64}")
_UPLOAD_ID = re.compile(r"[0-9a-f]{40}")


# -- errors --------------------------------------------------------------------------------------
@contextmanager
def explained(action: str) -> Iterator[None]:
    """Turn an AWS refusal inside the block into one clear line: 'not allowed to <action> (<Operation>: <code>)'."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ACCESS_DENIED:
            raise OpsError(f"not allowed to {action} ({error.operation_name}: {code})") from None
        if code == "ResourceNotFoundException":
            raise OpsError(f"cannot {action}: the table does not exist in this region") from None
        if code == "NoSuchBucket":
            raise OpsError(f"cannot {action}: the bucket does not exist") from None
        raise


def console_url(execution_arn: str) -> str:
    """The Step Functions console page of an execution."""
    region = execution_arn.split(":")[3]
    return (f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{execution_arn}")


def execution_arn_of(stack: Stack, name: str) -> str:
    """The ARN of the pipeline's execution `name` (`doc-<uploadId>`, or `…-r<N>` when redriven)."""
    return stack.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


# -- lookups -------------------------------------------------------------------------------------
def _get(ddb: Any, stack: Stack, key: dict[str, Any]) -> dict[str, Any] | None:
    with explained(f"read table {stack.table}"):
        item = ddb.get_item(TableName=stack.table, Key=key, ConsistentRead=True).get("Item")
    return item_to_dict(item) if item else None


def get_document(ddb: Any, stack: Stack, document_id: str) -> dict[str, Any]:
    """The document record; OpsError when there is none."""
    document = _get(ddb, stack, document_key(document_id))
    if document is None:
        raise OpsError(f"no document {document_id} in table {stack.table}")
    return document


def uploads_of(ddb: Any, stack: Stack, document_id: str) -> list[dict[str, Any]]:
    """Every upload record of a document (its own, duplicates, earlier failed ones), oldest first.

    No index holds documentId: a Scan, paginated, filtered server-side.
    """
    found: list[dict[str, Any]] = []
    args: dict[str, Any] = {
        "TableName": stack.table, "FilterExpression": "#type = :upload AND #doc = :id",
        "ExpressionAttributeNames": {"#type": "itemType", "#doc": "documentId"},
        "ExpressionAttributeValues": {":upload": {"S": "upload"}, ":id": {"S": document_id}},
    }
    with explained(f"scan table {stack.table}"):
        while True:
            page = ddb.scan(**args)
            found += [item_to_dict(i) for i in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                break
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(found, key=lambda u: u.get("createdAt") or "")


def _split_key(reference: str, stack: Stack) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key` or of a key in the stack's bucket."""
    if reference.startswith("s3://"):
        bucket, _, key = reference[5:].partition("/")
        return bucket, key
    return stack.bucket, reference


def uploads_of_key(ddb: Any, s3: Any, stack: Stack, reference: str) -> list[dict[str, Any]]:
    """The upload records of every version of an S3 object, newest version first; OpsError when the
    object does not exist or none of its versions was ever taken in."""
    bucket, key = _split_key(reference, stack)
    versions: list[dict[str, Any]] = []
    with explained(f"list object versions in bucket {bucket}"):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
            versions += [v for v in page.get("Versions", []) if v["Key"] == key]
    if not versions:
        raise OpsError(f"no object {key} in bucket {bucket}")
    versions.sort(key=lambda v: v["LastModified"], reverse=True)
    uploads = [u for v in versions if (u := _get(ddb, stack, upload_key(upload_id(bucket, key, v["VersionId"]))))]
    if not uploads:
        raise OpsError(f"{key} has no upload record yet (its event may still be on the intake queue)")
    return uploads


# -- status --------------------------------------------------------------------------------------
def document_status(ddb: Any, s3: Any, stack: Stack, reference: str, *, all_uploads: bool = False) -> dict[str, Any]:
    """The state of a document (by document id), an upload (by upload id) or an S3 key's latest upload:
    the document record, its uploads, its execution and console link, and its artifacts in S3.

    Uploads are the document's own and the one named; `all_uploads` scans the table for the rest.
    """
    named: list[dict[str, Any]] = []
    if _DOCUMENT_ID.fullmatch(reference):
        document_id: str | None = reference
    elif _UPLOAD_ID.fullmatch(reference):
        upload = _get(ddb, stack, upload_key(reference))
        if upload is None:
            raise OpsError(f"no upload {reference} in table {stack.table}")
        named, document_id = [upload], upload.get("documentId")
    else:
        named = uploads_of_key(ddb, s3, stack, reference)
        document_id = named[0].get("documentId")
    document = get_document(ddb, stack, document_id) if document_id else None
    uploads = {u["uploadId"]: u for u in named}
    if document and all_uploads:
        uploads.update({u["uploadId"]: u for u in uploads_of(ddb, stack, document["documentId"])})
    elif document and document.get("uploadId") and document["uploadId"] not in uploads:
        own = _get(ddb, stack, upload_key(document["uploadId"]))
        if own:
            uploads[own["uploadId"]] = own
    # The execution that processed the document (or, for an upload rejected before it had one, the upload's).
    execution = (document or named[0]).get("executionName")
    arn = execution_arn_of(stack, execution) if execution else None
    source = document or {}
    return {
        "documentId": document_id,
        "status": source.get("status") or named[0]["status"],
        "docType": source.get("docType"),
        "error": source.get("error") or (named[0].get("error") if not document else None),
        "reviewReasons": source.get("reviewReasons") or [],
        "pages": source.get("pages") or source.get("pageCount"),
        "processorVersion": source.get("processorVersion"),
        "method": source.get("method"),
        "createdAt": source.get("createdAt") or named[0].get("createdAt"),
        "updatedAt": source.get("updatedAt") or named[0].get("updatedAt"),
        "uploads": [{k: u.get(k) for k in ("uploadId", "status", "bucket", "key", "versionId", "createdAt",
                                           "executionName")} for u in uploads.values()],
        "executionArn": arn,
        "consoleUrl": console_url(arn) if arn else None,
        "normalizedKey": source.get("normalizedKey"),
        "rawPrefix": source.get("rawPrefix"),
        "bucket": stack.bucket,
        "allUploads": bool(document) and all_uploads,
    }


def format_status(status: dict[str, Any]) -> str:
    """The status as aligned `name  value` lines."""
    error = status["error"]
    lines = [
        ("document", status["documentId"] or "- (rejected before it was identified)"),
        ("status", status["status"]),
        ("docType", status["docType"] or "-"),
        ("error", f"{error['code']}: {error.get('message', '')}" if error else "-"),
    ]
    if status["reviewReasons"]:
        lines.append(("review", "; ".join(status["reviewReasons"])))
    lines += [
        ("pages", str(status["pages"]) if status["pages"] is not None else "-"),
        ("processor", status["processorVersion"] or "-"),
        ("method", status["method"] or "-"),
        ("created", status["createdAt"] or "-"),
        ("updated", status["updatedAt"] or "-"),
        ("execution", status["executionArn"] or "-"),
        ("console", status["consoleUrl"] or "-"),
        ("normalized", f"s3://{status['bucket']}/{status['normalizedKey']}" if status["normalizedKey"] else "-"),
        ("raw", f"s3://{status['bucket']}/{status['rawPrefix']}" if status["rawPrefix"] else "-"),
    ]
    text = [f"{name:<11}{value}" for name, value in lines]
    others = "" if status["allUploads"] or not status["documentId"] else " (copies: --all-uploads)"
    text.append(f"{'uploads':<11}{len(status['uploads'])}{others}")
    for u in status["uploads"]:
        text.append(f"  {u['status'] or '-':<13}s3://{u['bucket']}/{u['key']}  version {u['versionId'] or 'null'}"
                    f"  upload {u['uploadId']}  {u['createdAt'] or ''}".rstrip())
    return "\n".join(text)


# -- list ----------------------------------------------------------------------------------------
def _status_partition(ddb: Any, stack: Stack, status: str, *, since: str | None,
                      doc_type: str | None) -> Iterator[dict[str, Any]]:
    """Document records of one status, newest update first (StatusIndex, paginated lazily)."""
    condition = "#status = :status" + (" AND #updated >= :since" if since else "")
    names = {"#status": "status", "#type": "itemType"}
    values: dict[str, Any] = {":status": {"S": status}, ":document": {"S": "document"}}
    where = "#type = :document"
    if since:
        names["#updated"], values[":since"] = "updatedAt", {"S": since}
    if doc_type:
        where += " AND #docType = :docType"
        names["#docType"], values[":docType"] = "docType", {"S": doc_type}
    args: dict[str, Any] = {"TableName": stack.table, "IndexName": "StatusIndex", "KeyConditionExpression": condition,
                            "FilterExpression": where, "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values, "ScanIndexForward": False}
    while True:
        with explained(f"query table {stack.table}"):
            page = ddb.query(**args)
        yield from (item_to_dict(i) for i in page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            return
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def list_documents(ddb: Any, stack: Stack, *, status: str | None = None, since: date | None = None,
                   doc_type: str | None = None, limit: int | None = None,
                   statuses: tuple[str, ...] = DOCUMENT_STATUSES) -> list[dict[str, Any]]:
    """Document records, most recently updated first: one StatusIndex query per status (`status`
    alone, or each of `statuses`), merged; `since` keeps those updated on or after that day (UTC)."""
    after = since.isoformat() if since else None
    partitions = [_status_partition(ddb, stack, s, since=after, doc_type=doc_type)
                  for s in ([status] if status else statuses)]
    merged = heapq.merge(*partitions, key=lambda d: d.get("updatedAt") or "", reverse=True)
    found = []
    for document in merged:
        if limit is not None and len(found) >= limit:
            break
        found.append(document)
    return found


def format_document_line(document: dict[str, Any]) -> str:
    """One line: updated, status, docType, documentId, pages, source key."""
    pages = document.get("pages") or document.get("pageCount")
    return (f"{document.get('updatedAt', '-'):<25}{document.get('status', '-'):<13}{document.get('docType') or '-':<10}"
            f"{document['documentId']}  {pages if pages is not None else '-':>4}p  {document.get('sourceKey') or '-'}")


# -- show ----------------------------------------------------------------------------------------
def read_normalized(ddb: Any, s3: Any, stack: Stack, document_id: str) -> dict[str, Any]:
    """The document's normalized JSON from S3; OpsError when it has none (yet)."""
    document = get_document(ddb, stack, document_id)
    key = document.get("normalizedKey")
    if not key:
        raise OpsError(f"document {document_id} has no normalized result (status {document.get('status')})")
    try:
        with explained(f"read s3://{stack.bucket}/{key}"):
            body = s3.get_object(Bucket=stack.bucket, Key=key)["Body"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise OpsError(f"the normalized JSON s3://{stack.bucket}/{key} is missing") from None
        raise
    with body:
        return json.load(body)


def _field_rows(prefix: str, fields: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, item in fields.items():
        if not isinstance(item, dict) or "value" not in item:
            continue
        confidence = item.get("confidence")
        rows.append((prefix + name, str(item.get("value")), f"{confidence:.2f}" if confidence is not None else "-",
                     str(item.get("page", "-"))))
    return rows


def format_normalized(doc: dict[str, Any]) -> str:
    """The normalized fields (and line items, key/values) as a table: field, value, confidence, page."""
    rows = _field_rows("", doc.get("fields") or {})
    for n, item in enumerate(doc.get("line_items") or [], 1):
        rows += _field_rows(f"line_items[{n}].", item)
    for pair in doc.get("key_values") or []:
        rows += _field_rows("key_values.", {pair["key"]: pair})
    review = doc.get("review") or {}
    header = (f"{doc.get('documentId')}  {doc.get('docType')}  {review.get('status', '-')}  "
              f"{doc.get('pages')} page(s)  processor {doc.get('processorVersion', '-')}")
    lines = [header]
    lines += [f"review: {reason}" for reason in review.get("reasons") or []]
    widths = [max([len(r[i]) for r in rows] + [len(h)]) for i, h in enumerate(("field", "value", "confidence"))]
    lines.append(f"{'field':<{widths[0]}}  {'value':<{widths[1]}}  {'confidence':>{widths[2]}}  page")
    lines += [f"{f:<{widths[0]}}  {v:<{widths[1]}}  {c:>{widths[2]}}  {p}" for f, v, c, p in rows]
    if doc.get("tables"):
        lines.append(f"({len(doc['tables'])} table(s): see --json)")
    return "\n".join(lines)


# -- reprocess -----------------------------------------------------------------------------------
class _NoTextract:
    """Stands in for the Textract client: reprocessing reads the stored raw output only, never Textract."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"reprocess must not call Textract (it tried {name})")


@dataclass
class ReprocessResult:
    reprocessed: list[tuple[str, str, str]] = field(default_factory=list)  # (documentId, old status, new status)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (documentId, why)


def _previous_output(s3: Any, stack: Stack, document: dict[str, Any]) -> dict[str, Any]:
    """The normalized JSON being replaced ({} if it is gone): how it was read (method, docType source)."""
    if not document.get("normalizedKey"):
        return {}
    try:
        with explained(f"read s3://{stack.bucket}/{document['normalizedKey']}"):
            body = s3.get_object(Bucket=stack.bucket, Key=document["normalizedKey"])["Body"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return {}
        raise
    with body:
        return json.load(body)


def _record_reprocessed(ddb: Any, stack: Stack, document: dict[str, Any], summary: dict[str, Any]) -> bool:
    """Write the new result on the document, conditional on it being exactly as read (same status,
    owner and update time): a document an execution has since taken, or another reprocess has
    rewritten, is left alone. Its own upload follows when it still mirrors the document."""
    stamp = now_iso()
    values = {"status": summary["status"], "docType": summary["docType"], "fields": summary["fields"],
              "reviewReasons": summary["reviewReasons"], "normalizedKey": summary["normalizedKey"],
              "rawPrefix": summary["rawPrefix"], "pages": summary["pages"], "method": summary["method"],
              "processorVersion": PROCESSOR_VERSION, "reprocessedAt": stamp, "updatedAt": stamp}
    names = {f"#{k}": k for k in values}
    attrs = {f":{k}": to_attr(v) for k, v in values.items()}
    names["#executionName"] = "executionName"
    attrs.update({":seenStatus": to_attr(document["status"]), ":seenExecution": to_attr(document.get("executionName")),
                  ":seenUpdatedAt": to_attr(document.get("updatedAt"))})
    try:
        with explained(f"update table {stack.table}"):
            ddb.update_item(
                TableName=stack.table, Key=document_key(document["documentId"]),
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
                ConditionExpression="#status = :seenStatus AND #executionName = :seenExecution "
                                    "AND #updatedAt = :seenUpdatedAt",
                ExpressionAttributeNames=names, ExpressionAttributeValues=attrs)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    if document.get("uploadId"):
        try:
            with explained(f"update table {stack.table}"):
                ddb.update_item(
                    TableName=stack.table, Key=upload_key(document["uploadId"]),
                    UpdateExpression="SET #status = :status, #updatedAt = :updatedAt",
                    ConditionExpression="#status = :seenStatus AND #executionName = :seenExecution",
                    ExpressionAttributeNames={"#status": "status", "#updatedAt": "updatedAt",
                                              "#executionName": "executionName"},
                    ExpressionAttributeValues={":status": attrs[":status"], ":updatedAt": attrs[":updatedAt"],
                                               ":seenStatus": attrs[":seenStatus"],
                                               ":seenExecution": attrs[":seenExecution"]})
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
    return True


def reprocess_document(ddb: Any, s3: Any, stack: Stack, document_id: str) -> tuple[str, str] | str:
    """Re-normalize one document from its stored raw Textract output with this processor version:
    the new normalized JSON replaces the old one and the record is updated. Returns (old status,
    new status), or why it was skipped."""
    document = get_document(ddb, stack, document_id)
    if document["status"] == PROCESSING:
        return "it is being processed"
    if document["status"] not in REPROCESSABLE or not document.get("rawPrefix"):
        return f"it is {document['status']} with no complete Textract output to read again"
    previous = _previous_output(s3, stack, document)
    reasons = (previous.get("review") or {}).get("reasons") or []
    # The raw result is complete in S3 whichever API wrote it: as a "sync" result normalize_document
    # reads it as it stands (an async one is never fetched from Textract again).
    textract_state = {"mode": "sync", "rawPrefix": document["rawPrefix"], "jobId": None,
                      "status": "PARTIAL_SUCCESS" if PARTIAL_SUCCESS_REASON in reasons else "SUCCEEDED",
                      "method": previous.get("method") or document.get("method") or "textract"}
    classification = {"docType": document["docType"], "source": previous.get("docTypeSource") or "key"}
    try:
        with explained(f"read and write s3://{stack.bucket}/{stack.results_prefix}{document_id}/"):
            summary = normalize_document(
                s3, _NoTextract(), bucket=stack.bucket, results_prefix=stack.results_prefix,
                document={"documentId": document_id, "mediaType": document.get("mediaType", ""),
                          "pageCount": document.get("pageCount") or document.get("pages") or 1},
                classification=classification, textract_state=textract_state,  # type: ignore[arg-type]
                threshold=stack.threshold, locale=stack.locale)
    except DocumentError as error:
        # The new output failed its schema (validated before it is written): the old one stays.
        return f"{error.code}: {error}"
    if summary["status"] == "REPLAN":
        return f"its text now reads as {summary['docType']}, which needs another Textract analysis (redrive it)"
    if not _record_reprocessed(ddb, stack, document, dict(summary)):
        return "it changed while being reprocessed"
    return document["status"], summary["status"]


def reprocess(ddb: Any, s3: Any, stack: Stack, *, document_id: str | None = None, since: date | None = None,
              doc_type: str | None = None, stream: TextIO) -> ReprocessResult:
    """Re-normalize one document, or every SUCCEEDED/NEEDS_REVIEW document (updated since `since`,
    of `doc_type`), from the raw Textract output stored in S3: no Textract call is made."""
    if document_id:
        ids = [document_id]
    else:
        # Listed in full before any is rewritten: a rewrite moves the record within the index.
        ids = [d["documentId"] for d in list_documents(ddb, stack, since=since, doc_type=doc_type,
                                                        statuses=REPROCESSABLE)]
    result = ReprocessResult()
    for doc_id in ids:
        outcome = reprocess_document(ddb, s3, stack, doc_id)
        if isinstance(outcome, str):
            result.skipped.append((doc_id, outcome))
            stream.write(f"skipped      {doc_id}: {outcome}\n")
        else:
            result.reprocessed.append((doc_id, *outcome))
            stream.write(f"reprocessed  {doc_id}  {outcome[0]} -> {outcome[1]}  processor {PROCESSOR_VERSION}\n")
    stream.write(f"reprocess: {len(result.reprocessed)} reprocessed, {len(result.skipped)} skipped "
                 "(from stored Textract output; no Textract calls)\n")
    return result


# -- delete --------------------------------------------------------------------------------------
@dataclass
class DeletionPlan:
    """Everything `delete` erases for one document, found before anything is deleted."""

    document_id: str
    document: dict[str, Any]
    uploads: list[dict[str, Any]]
    objects: list[tuple[str, str, str]] = field(default_factory=list)  # (bucket, key, versionId): versions and markers
    kept: list[tuple[str, str, str]] = field(default_factory=list)  # (key, versionId, why)

    def describe(self) -> str:
        return (f"document {self.document_id}: {len(self.objects)} object version(s) "
                f"({len(self.uploads)} upload(s) and the results under results/{self.document_id}/) "
                f"and {len(self.uploads) + 1} record(s)")


def _versions(s3: Any, bucket: str, prefix: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(object versions, delete markers) under a prefix."""
    versions: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    with explained(f"list object versions in bucket {bucket}"):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            versions += page.get("Versions", [])
            markers += page.get("DeleteMarkers", [])
    return versions, markers


def plan_deletion(ddb: Any, s3: Any, stack: Stack, document_id: str) -> DeletionPlan:
    """What deleting a document erases: every version of its uploaded objects (versions of the same key
    holding other documents are kept), every version under results/<documentId>/, its records."""
    document = get_document(ddb, stack, document_id)
    if document["status"] == PROCESSING:
        raise OpsError(f"document {document_id} is being processed; delete it once its execution has ended")
    uploads = uploads_of(ddb, stack, document_id)
    running = [u["uploadId"] for u in uploads if u.get("status") == PROCESSING]
    if running:
        # A redrive or a new copy is on its way to take the document over: it would write it back.
        raise OpsError(f"document {document_id} has an upload being processed ({running[0]}); "
                       "delete it once that execution has ended")
    plan = DeletionPlan(document_id, document, uploads)
    mine: dict[tuple[str, str], set[str]] = {}
    for upload in uploads:
        mine.setdefault((upload["bucket"], upload["key"]), set()).add(upload.get("versionId") or "null")
    for (bucket, key), version_ids in sorted(mine.items()):
        versions, markers = _versions(s3, bucket, key)
        versions = [v for v in versions if v["Key"] == key]
        others = [v for v in versions if v["VersionId"] not in version_ids]
        plan.objects += [(bucket, key, v["VersionId"]) for v in versions if v["VersionId"] in version_ids]
        plan.kept += [(key, v["VersionId"], "not an upload of this document") for v in others]
        if not others:
            # Nothing else lives under the key: its delete markers go too (a key can name a person).
            plan.objects += [(bucket, key, m["VersionId"]) for m in markers if m["Key"] == key]
    versions, markers = _versions(s3, stack.bucket, f"{stack.results_prefix}{document_id}/")
    plan.objects += [(stack.bucket, v["Key"], v["VersionId"]) for v in versions + markers]
    return plan


def _delete_versions(s3: Any, bucket: str, objects: list[tuple[str, str]]) -> None:
    """DeleteObjects with VersionId, 1,000 a request: each version is erased, no delete marker added."""
    for start in range(0, len(objects), 1000):
        batch = [{"Key": key, "VersionId": version} for key, version in objects[start:start + 1000]]
        with explained(f"delete object versions in bucket {bucket}"):
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            if first.get("Code") in ACCESS_DENIED:
                raise OpsError(f"not allowed to delete object versions in bucket {bucket} "
                               f"(DeleteObjects: {first['Code']} on {first.get('Key')})")
            raise OpsError(f"{len(errors)} object version(s) in bucket {bucket} were not deleted, first "
                           f"{first.get('Key')}: {first.get('Code')}; run delete again")


def execute_deletion(ddb: Any, s3: Any, stack: Stack, plan: DeletionPlan, *, stream: TextIO) -> None:
    """Erase the planned object versions, then the upload records, then the document record (last, so
    an interrupted delete can be run again and finds what is left)."""
    by_bucket: dict[str, list[tuple[str, str]]] = {}
    for bucket, key, version in plan.objects:
        by_bucket.setdefault(bucket, []).append((key, version))
    for bucket, objects in by_bucket.items():
        _delete_versions(s3, bucket, objects)
        for key, version in objects:
            stream.write(f"deleted  s3://{bucket}/{key}  version {version}\n")
    for key, version, why in plan.kept:
        stream.write(f"kept     {key}  version {version}: {why}\n")
    with explained(f"delete records from table {stack.table}"):
        for upload in plan.uploads:
            ddb.delete_item(TableName=stack.table, Key=upload_key(upload["uploadId"]))
            stream.write(f"deleted  record UPLOAD#{upload['uploadId']}\n")
        try:
            ddb.delete_item(TableName=stack.table, Key=document_key(plan.document_id),
                            ConditionExpression="attribute_not_exists(pk) OR #status <> :processing",
                            ExpressionAttributeNames={"#status": "status"},
                            ExpressionAttributeValues={":processing": {"S": PROCESSING}})
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raise OpsError(f"document {plan.document_id} started processing again while being deleted; "
                           "run delete again once its execution has ended") from None
    stream.write(f"deleted  record DOC#{plan.document_id}\n")
    stream.write(f"delete: {len(plan.objects)} object version(s) and {len(plan.uploads) + 1} record(s) erased\n")


def delete_document(ddb: Any, s3: Any, stack: Stack, document_id: str, *, confirm: Callable[[DeletionPlan], bool],
                    stream: TextIO) -> DeletionPlan | None:
    """The delete-on-request path: plan, ask `confirm`, erase. Returns the plan carried out, or None
    when it was not confirmed (nothing is deleted)."""
    plan = plan_deletion(ddb, s3, stack, document_id)
    if not confirm(plan):
        stream.write("delete: nothing deleted\n")
        return None
    execute_deletion(ddb, s3, stack, plan, stream=stream)
    return plan


# -- upload --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadedFile:
    bucket: str
    key: str
    version_id: str | None
    upload_id: str


def upload_key_for(stack: Stack, path: Path, doc_type: str | None) -> str:
    """incoming/<folder>/<file name>: the folder names the docType (classify reads it), or `documents`."""
    if doc_type is not None and doc_type not in DOC_TYPES:
        raise OpsError(f"unknown docType {doc_type!r} (one of {', '.join(DOC_TYPES)})")
    return f"{stack.incoming_prefix}{UPLOAD_FOLDERS[doc_type] if doc_type else UNTYPED_FOLDER}/{path.name}"


def upload_file(s3: Any, stack: Stack, path: Path, *, doc_type: str | None = None, stream: TextIO) -> UploadedFile:
    """Put a file under incoming/ (with `doc-type` metadata when given): S3 tells EventBridge, and the
    pipeline takes it from there. Prints the key, version and upload id."""
    if not path.is_file():
        raise OpsError(f"no such file: {path}")
    key = upload_key_for(stack, path, doc_type)
    extra: dict[str, Any] = {"Metadata": {"doc-type": doc_type}} if doc_type else {}
    media_type = mimetypes.guess_type(path.name)[0]
    if media_type:
        extra["ContentType"] = media_type
    with path.open("rb") as body, explained(f"upload to bucket {stack.bucket}"):
        response = s3.put_object(Bucket=stack.bucket, Key=key, Body=body, **extra)
    version = response.get("VersionId")
    uploaded = UploadedFile(stack.bucket, key, version, upload_id(stack.bucket, key, version))
    stream.write(f"uploaded  s3://{stack.bucket}/{key}\nversion   {version or 'null'}\n"
                 f"upload    {uploaded.upload_id}\n")
    return uploaded
