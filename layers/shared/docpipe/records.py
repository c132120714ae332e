"""Document and upload records in the documents table.

One table, three item kinds:
- document  pk=DOC#<documentId> (content SHA-256), sk=DOCUMENT: the processed content and its result;
- upload    pk=UPLOAD#<uploadId>, sk=UPLOAD: one S3 object version and the terminal state it ended in
            (the same as its document's, or DUPLICATE/REJECTED);
- breaker   pk=BREAKER#<dependency>, sk=BREAKER (see docpipe.breaker).
Every write that moves a status is conditional on the execution that owns the item, so an older run
never overwrites a newer one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from docpipe import PROCESSOR_VERSION, clock
from docpipe.errors import AccessDenied, StorageThrottled

DOCUMENT_SK = "DOCUMENT"
UPLOAD_SK = "UPLOAD"
PROCESSING = "PROCESSING"
RETAKEABLE = ("FAILED",)
_THROTTLE_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


def document_key(document_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"DOC#{document_id}"}, "sk": {"S": DOCUMENT_SK}}


def upload_key(upload_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"UPLOAD#{upload_id}"}, "sk": {"S": UPLOAD_SK}}


def now_iso() -> str:
    return clock.utc_now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def expires_at(retention_days: int) -> int:
    """TTL epoch seconds for an item written now."""
    return int(clock.now()) + retention_days * 86400


def to_attr(value: Any) -> dict[str, Any]:
    """Python value → DynamoDB attribute value (floats as exact decimals)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": str(Decimal(str(value)))}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, dict):
        return {"M": {k: to_attr(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attr(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def from_attr(attr: dict[str, Any]) -> Any:
    """DynamoDB attribute value → Python value (numbers as int or float)."""
    (kind, value), = attr.items()
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL"):
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    raise TypeError(f"unsupported DynamoDB type {kind}")


def item_to_dict(item: dict[str, Any]) -> dict[str, Any]:
    return {k: from_attr(v) for k, v in item.items()}


def _storage_error(error: ClientError) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    if code in _THROTTLE_CODES:
        return StorageThrottled()
    if code in ("AccessDeniedException", "AccessDenied"):
        return AccessDenied("The documents table refused access.")
    return error


def _is_condition_failure(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons
    return False


def _update_expression(values: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    names = {f"#{k}": k for k in values}
    attrs = {f":{k}": to_attr(v) for k, v in values.items()}
    return "SET " + ", ".join(f"#{k} = :{k}" for k in values), names, attrs


def get_document(ddb: Any, table: str, document_id: str) -> dict[str, Any] | None:
    """The document record, or None."""
    try:
        item = ddb.get_item(TableName=table, Key=document_key(document_id), ConsistentRead=True).get("Item")
    except ClientError as error:
        raise _storage_error(error) from error
    return item_to_dict(item) if item else None


def get_upload(ddb: Any, table: str, upload_id: str) -> dict[str, Any] | None:
    """The upload record, or None."""
    try:
        item = ddb.get_item(TableName=table, Key=upload_key(upload_id), ConsistentRead=True).get("Item")
    except ClientError as error:
        raise _storage_error(error) from error
    return item_to_dict(item) if item else None


def register(
    ddb: Any,
    table: str,
    *,
    upload: dict[str, Any],
    document: dict[str, Any],
    execution_name: str,
    retention_days: int,
) -> dict[str, Any]:
    """Claim the document for this execution, or mark the upload a DUPLICATE of an existing one.

    Returns {"duplicate": bool, "documentStatus": str}. A re-run of the same execution (a retried
    state, a redrive) finds its own claim and is not a duplicate; a document that previously FAILED
    is taken over by the new execution.
    """
    document_id = document["documentId"]
    stamp = now_iso()
    ttl = expires_at(retention_days)
    doc_values = {
        "itemType": "document", "documentId": document_id, "status": PROCESSING,
        "uploadId": upload["uploadId"], "executionName": execution_name,
        "sourceBucket": upload["bucket"], "sourceKey": upload["key"], "sourceVersionId": upload.get("versionId"),
        "mediaType": document["mediaType"], "pageCount": document["pageCount"], "size": document["size"],
        "processorVersion": PROCESSOR_VERSION, "updatedAt": stamp, "expiresAt": ttl,
    }
    expression, names, values = _update_expression(doc_values)
    names["#createdAt"] = "createdAt"
    values[":createdAt"] = to_attr(stamp)
    values[":exec"] = to_attr(execution_name)
    values[":retake"] = to_attr(RETAKEABLE[0])
    try:
        ddb.update_item(
            TableName=table, Key=document_key(document_id),
            UpdateExpression=expression + ", #createdAt = if_not_exists(#createdAt, :createdAt)",
            ConditionExpression="attribute_not_exists(pk) OR #executionName = :exec OR #status = :retake",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )
        duplicate, document_status = False, PROCESSING
    except ClientError as error:
        if not _is_condition_failure(error):
            raise _storage_error(error) from error
        existing = get_document(ddb, table, document_id) or {}
        duplicate, document_status = True, existing.get("status", PROCESSING)

    write_upload(
        ddb, table, upload=upload, execution_name=execution_name, retention_days=retention_days,
        status="DUPLICATE" if duplicate else PROCESSING, document_id=document_id,
        extra={"duplicateOf": document_id} if duplicate else None,
    )
    return {"duplicate": duplicate, "documentStatus": document_status}


def write_upload(
    ddb: Any,
    table: str,
    *,
    upload: dict[str, Any],
    execution_name: str,
    retention_days: int,
    status: str,
    document_id: str | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Create or move the upload record; only the execution that owns it may change it."""
    values = {
        "itemType": "upload", "uploadId": upload["uploadId"], "bucket": upload["bucket"], "key": upload["key"],
        "versionId": upload.get("versionId"), "documentId": document_id, "status": status,
        "executionName": execution_name, "updatedAt": now_iso(), "expiresAt": expires_at(retention_days),
        **(extra or {}),
    }
    expression, names, attrs = _update_expression(values)
    names["#createdAt"] = "createdAt"
    attrs[":createdAt"] = to_attr(values["updatedAt"])
    attrs[":exec"] = to_attr(execution_name)
    try:
        ddb.update_item(
            TableName=table, Key=upload_key(upload["uploadId"]),
            UpdateExpression=expression + ", #createdAt = if_not_exists(#createdAt, :createdAt)",
            ConditionExpression="attribute_not_exists(pk) OR #executionName = :exec OR #status = :failed",
            ExpressionAttributeNames=names, ExpressionAttributeValues={**attrs, ":failed": to_attr("FAILED")},
        )
    except ClientError as error:
        if _is_condition_failure(error):
            # A newer execution owns this upload: this run's write is stale and must not land.
            return
        raise _storage_error(error) from error


def finish_document(
    ddb: Any,
    table: str,
    *,
    document_id: str,
    upload_id: str,
    execution_name: str,
    values: dict[str, Any],
) -> bool:
    """Move the document and its upload to a terminal state in one transaction.

    Returns False (and writes nothing) when another execution has since taken the document over.
    """
    stamp = now_iso()
    doc_expr, doc_names, doc_values = _update_expression({**values, "updatedAt": stamp})
    up_values = {"status": values["status"], "updatedAt": stamp}
    if "error" in values:
        up_values["error"] = values["error"]
    up_expr, up_names, up_attrs = _update_expression(up_values)
    condition = "#executionName = :exec"
    try:
        ddb.transact_write_items(TransactItems=[
            {"Update": {
                "TableName": table, "Key": document_key(document_id), "UpdateExpression": doc_expr,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {**doc_names, "#executionName": "executionName"},
                "ExpressionAttributeValues": {**doc_values, ":exec": to_attr(execution_name)},
            }},
            {"Update": {
                "TableName": table, "Key": upload_key(upload_id), "UpdateExpression": up_expr,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {**up_names, "#executionName": "executionName"},
                "ExpressionAttributeValues": {**up_attrs, ":exec": to_attr(execution_name)},
            }},
        ])
    except ClientError as error:
        if _is_condition_failure(error):
            return False
        raise _storage_error(error) from error
    return True


def abandon(ddb: Any, table: str, *, upload_id: str, execution_name: str, execution_status: str) -> bool:
    """Record FAILED for an upload whose execution ended without reaching RecordFailure (it timed
    out, was aborted, or failed outside every Catch), so the upload is not left PROCESSING forever
    (blocking re-uploads of the same content as DUPLICATE) and can be redriven.

    Only the execution that still owns the upload (and its document) is recorded; anything already
    terminal, or since taken over by a newer execution, is left alone. Returns whether it wrote.
    """
    upload = get_upload(ddb, table, upload_id)
    if not upload or upload.get("status") != PROCESSING or upload.get("executionName") != execution_name:
        return False
    error = {"code": f"EXECUTION_{execution_status}", "retryable": True, "state": "Execution",
             "errorType": execution_status,
             "message": f"The pipeline's execution ended {execution_status.replace('_', ' ').lower()} before it "
                        "could record an outcome; redrive to process the document again."}
    document_id = upload.get("documentId")
    document = get_document(ddb, table, document_id) if document_id else None
    if document and document.get("executionName") == execution_name and document.get("status") == PROCESSING:
        return finish_document(ddb, table, document_id=document_id, upload_id=upload_id,
                               execution_name=execution_name, values={"status": "FAILED", "error": error})
    expression, names, values = _update_expression({"status": "FAILED", "error": error, "updatedAt": now_iso()})
    try:
        ddb.update_item(TableName=table, Key=upload_key(upload_id), UpdateExpression=expression,
                        ConditionExpression="#executionName = :exec AND #status = :processing",
                        ExpressionAttributeNames={**names, "#executionName": "executionName"},
                        ExpressionAttributeValues={**values, ":exec": to_attr(execution_name),
                                                   ":processing": to_attr(PROCESSING)})
    except ClientError as failure:
        if _is_condition_failure(failure):
            return False
        raise _storage_error(failure) from failure
    return True
