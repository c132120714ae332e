"""From an S3 "Object Created" event (EventBridge, delivered through SQS) to a started execution."""

from __future__ import annotations

import hashlib
import json
import random
import re
from typing import Any

from botocore.exceptions import ClientError

from docpipe import admission, clock
from docpipe.contracts import ExecutionInput
from docpipe.errors import AdmissionWaitExceeded

STARTED, DUPLICATE, WAITING = "STARTED", "DUPLICATE", "WAITING"
# SQS message attributes of an upload waiting for a Textract slot.
FIRST_DEFERRED_AT = "docpipeFirstDeferredAt"
# An upload that found every slot taken for this long goes to the intake DLQ (and its alarm), as a
# message the Starter cannot handle does: something is holding slots that should not.
MAX_ADMISSION_WAIT_SECONDS = 24 * 3600
_SQS_MAX_DELAY_SECONDS = 900


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
    return arn_of_execution(state_machine_arn, execution_name(uid))


def arn_of_execution(state_machine_arn: str, name: str) -> str:
    """The ARN of the state machine's execution called `name`."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def execution_running(sfn: Any, state_machine_arn: str, name: str) -> bool | None:
    """Whether the execution called `name` is RUNNING; None when there is no such execution."""
    try:
        return sfn.describe_execution(executionArn=arn_of_execution(state_machine_arn, name))["status"] == "RUNNING"
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
            raise
    return None


def _exists(sfn: Any, arn: str) -> bool:
    try:
        sfn.describe_execution(executionArn=arn)
        return True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
            raise
    return False


def start_execution(sfn: Any, state_machine_arn: str, upload: ExecutionInput) -> bool:
    """Start the pipeline for one upload. False when this upload's execution already exists
    (a duplicate delivery: dropped, so nothing is processed or billed twice)."""
    # StartExecution is idempotent while a same-named execution with the same input still runs
    # (it returns that execution), so a redelivery during processing is recognised by looking first.
    if _exists(sfn, execution_arn(state_machine_arn, upload["uploadId"])):
        return False
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=execution_name(upload["uploadId"]),
                            input=json.dumps(upload))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return False
        raise
    return True


def admit_and_start(sfn: Any, ddb: Any, *, state_machine_arn: str, table: str, ceiling: int,
                    upload: ExecutionInput) -> str:
    """Start the upload's execution once it holds a Textract slot (admission control).

    STARTED, DUPLICATE (its execution exists already: no slot is taken for it), or WAITING (every
    slot is taken: the caller puts the upload back in the intake queue).
    """
    name = execution_name(upload["uploadId"])
    if _exists(sfn, arn_of_execution(state_machine_arn, name)):
        return DUPLICATE
    if admission.acquire(ddb, table, name, ceiling) is admission.Outcome.FULL:
        return WAITING
    try:
        return STARTED if start_execution(sfn, state_machine_arn, upload) else DUPLICATE
    except Exception:
        admission.release(ddb, table, name)
        raise


def defer(sqs: Any, queue_url: str, body: str, *, first_deferred_at: float | None, wait_seconds: int) -> float:
    """Put a waiting upload back in the intake queue, visible again after about `wait_seconds`.

    A new message rather than the same one made invisible: a message received too often goes to
    the DLQ, and waiting for a slot is not a failure. Returns the delay chosen. Raises
    AdmissionWaitExceeded once the upload has waited MAX_ADMISSION_WAIT_SECONDS.
    """
    now = clock.now()
    first = first_deferred_at if first_deferred_at is not None else now
    if now - first > MAX_ADMISSION_WAIT_SECONDS:
        raise AdmissionWaitExceeded(waited_seconds=int(now - first))
    # Jittered so that uploads deferred together do not all come back in the same second.
    delay = min(_SQS_MAX_DELAY_SECONDS, max(1, round(wait_seconds * random.uniform(0.5, 1.5))))
    sqs.send_message(QueueUrl=queue_url, MessageBody=body, DelaySeconds=delay, MessageAttributes={
        FIRST_DEFERRED_AT: {"DataType": "Number", "StringValue": f"{first:.3f}"}})
    return delay
