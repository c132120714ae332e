"""From an S3 "Object Created" event (EventBridge, delivered through SQS) to a started execution."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from botocore.exceptions import ClientError

from docpipe.contracts import ExecutionInput


class NotAnUploadEvent(ValueError):
    """The message is not an S3 Object Created event for an incoming/ key (it is dropped, not retried)."""


def upload_id(bucket: str, key: str, version_id: str | None) -> str:
    """Deterministic id of one object version: the same event delivered twice gives the same id."""
    return hashlib.sha256(f"{bucket}\n{key}\n{version_id or 'null'}".encode()).hexdigest()[:40]


def execution_name(uid: str) -> str:
    """Step Functions execution name (≤ 80 chars of [A-Za-z0-9-_]) for an upload id."""
    return f"doc-{uid}"


def upload_id_of(name: str) -> str | None:
    """The upload an execution processes, from its name (`doc-<uploadId>`, or `…-r<N>` when redriven)."""
    found = re.fullmatch(r"doc-([0-9a-f]{40})(?:-r\d+)?", name)
    return found.group(1) if found else None


def upload_from_event(body: str | dict[str, Any], incoming_prefix: str) -> ExecutionInput:
    """Parse an EventBridge S3 event (the SQS message body) into the execution input."""
    event = json.loads(body) if isinstance(body, str) else body
    if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
        raise NotAnUploadEvent("not an S3 Object Created event")
    detail = event.get("detail") or {}
    bucket = (detail.get("bucket") or {}).get("name")
    obj = detail.get("object") or {}
    key = obj.get("key")
    if not bucket or not key:
        raise NotAnUploadEvent("event has no bucket or key")
    if not key.startswith(incoming_prefix):
        raise NotAnUploadEvent("key is outside the incoming prefix")
    version_id = obj.get("version-id")
    uid = upload_id(bucket, key, version_id)
    return {"uploadId": uid, "bucket": bucket, "key": key, "versionId": version_id,
            "size": int(obj.get("size") or 0), "etag": str(obj.get("etag") or obj.get("eTag") or "")}


def execution_arn(state_machine_arn: str, uid: str) -> str:
    """The ARN the upload's execution has (or will have)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + execution_name(uid)


def start_execution(sfn: Any, state_machine_arn: str, upload: ExecutionInput) -> bool:
    """Start the pipeline for one upload. False when this upload's execution already exists
    (a duplicate delivery: dropped, so nothing is processed or billed twice)."""
    # StartExecution is idempotent while a same-named execution with the same input still runs
    # (it returns that execution), so a redelivery during processing is recognised by looking first.
    try:
        sfn.describe_execution(executionArn=execution_arn(state_machine_arn, upload["uploadId"]))
        return False
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
            raise
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=execution_name(upload["uploadId"]),
                            input=json.dumps(upload))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return False
        raise
    return True
