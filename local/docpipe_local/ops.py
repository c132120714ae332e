"""Operator commands against a deployed stack (`--stack NAME`) or a table named directly (`--table`).

The twin's tests call the same functions with the twin's clients, so every command is exercised
against the real state machine's table as well as through moto/Stubber for a deployed stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

from botocore.exceptions import ClientError

from docpipe import breaker
from docpipe.intake import execution_arn, execution_name
from docpipe.records import item_to_dict, now_iso, upload_key


class OpsError(SystemExit):
    """A clear, one-line reason an operator command cannot run (wrong stack, no permission)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"docpipe: {message}")


def stack_resource(cloudformation: Any, stack: str, logical_id: str) -> str:
    """The physical name of a stack's resource (the table of stack `docpipe-dev`, say)."""
    try:
        found = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "AccessDeniedException"):
            raise OpsError(f"not allowed to read stack {stack} (cloudformation:DescribeStackResource)") from None
        raise OpsError(f"stack {stack} has no resource {logical_id}, or does not exist in this region") from None
    return found["StackResourceDetail"]["PhysicalResourceId"]


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def describe_breaker(state: breaker.BreakerState) -> str:
    """One line per fact an operator needs: state, failures, until when, who probes."""
    lines = [f"state     {state.state}", f"failures  {state.failures}"]
    if state.state == breaker.OPEN:
        lines.append(f"open until {_when(state.open_until)} (then one document probes Textract)")
    if state.state == breaker.HALF_OPEN:
        lines.append(f"probe     {state.probe_owner} (claim expires {_when(state.probe_expires)})")
    return "\n".join(lines)


def breaker_command(ddb: Any, table: str, action: str, *, seconds: float, stream: TextIO,
                    dependency: str = "textract") -> breaker.BreakerState:
    """`status`, `open` (for `seconds`) or `close` the breaker; prints the resulting state."""
    try:
        if action == "status":
            state = breaker.read(ddb, table, dependency)
        elif action == "open":
            state = breaker.force_open(ddb, table, dependency, seconds)
        elif action == "close":
            state = breaker.force_close(ddb, table, dependency)
        else:
            raise OpsError(f"unknown breaker action {action!r}")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise OpsError(f"table {table} does not exist in this region") from None
        if code in ("AccessDenied", "AccessDeniedException"):
            raise OpsError(f"not allowed to {'read' if action == 'status' else 'write'} table {table}") from None
        raise
    stream.write(describe_breaker(state) + "\n")
    return state


@dataclass
class RedriveResult:
    started: list[str] = field(default_factory=list)  # new execution names
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (uploadId, why)
    requeued: int = 0  # intake dead letters sent back to the intake queue


def failed_uploads(ddb: Any, table: str) -> list[dict[str, Any]]:
    """Every upload record in FAILED (StatusIndex), oldest first."""
    found, start = [], None
    while True:
        page = ddb.query(TableName=table, IndexName="StatusIndex", KeyConditionExpression="#s = :failed",
                         ExpressionAttributeNames={"#s": "status"},
                         ExpressionAttributeValues={":failed": {"S": "FAILED"}},
                         **({"ExclusiveStartKey": start} if start else {}))
        found += [item_to_dict(i) for i in page.get("Items", []) if i.get("itemType", {}).get("S") == "upload"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return found


def _claim_redrive(ddb: Any, table: str, upload: dict[str, Any]) -> str | None:
    """Hand the FAILED upload to its next execution `<original>-r<N>`, conditionally: two operators
    (or a retried command) cannot both restart it. Returns the new execution's name, or None if the
    upload is no longer FAILED."""
    attempt = int(upload.get("redrives") or 0) + 1
    name = f"{execution_name(upload['uploadId'])}-r{attempt}"
    try:
        ddb.update_item(
            TableName=table, Key=upload_key(upload["uploadId"]),
            UpdateExpression="SET redrives = :n, #s = :processing, executionName = :name, updatedAt = :now",
            ConditionExpression="#s = :failed",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":n": {"N": str(attempt)}, ":processing": {"S": "PROCESSING"},
                                       ":name": {"S": name}, ":now": {"S": now_iso()}, ":failed": {"S": "FAILED"}})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return name


def _release_redrive(ddb: Any, table: str, upload: dict[str, Any]) -> None:
    """Give the upload back to FAILED when its new execution could not be started."""
    ddb.update_item(TableName=table, Key=upload_key(upload["uploadId"]), UpdateExpression="SET #s = :failed",
                    ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":failed": {"S": "FAILED"}})


def redrive(ddb: Any, sfn: Any, sqs: Any, *, table: str, state_machine_arn: str, intake_queue_url: str,
            intake_dlq_url: str, include_permanent: bool = False, stream: TextIO) -> RedriveResult:
    """Restart FAILED uploads whose failure was transient (all of them with `include_permanent`) as
    new executions of the same input, and send intake dead letters back to the intake queue.

    The pipeline catches every failure and records it (RecordFailure, then a Fail state), so AWS's
    native RedriveExecution would only re-enter that Fail state: a new execution named
    `<original>-r<N>` is what re-runs the document. The upload is handed to that execution (status
    PROCESSING, its name) by a conditional write before it starts, so running the command twice
    restarts nothing twice; RegisterDocument then lets it take the FAILED document over.
    """
    result = RedriveResult()
    for upload in failed_uploads(ddb, table):
        uid, error = upload["uploadId"], upload.get("error") or {}
        if not error.get("retryable") and not include_permanent:
            result.skipped.append((uid, f"{error.get('code', 'FAILED')} is not transient"))
            continue
        original = execution_arn(state_machine_arn, uid)
        try:
            execution_input = sfn.describe_execution(executionArn=original)["input"]
        except ClientError:
            result.skipped.append((uid, "its execution is gone (older than the history retention)"))
            continue
        name = _claim_redrive(ddb, table, upload)
        if name is None:
            result.skipped.append((uid, "already being redriven"))
            continue
        try:
            sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=execution_input)
        except ClientError as failure:
            if failure.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                _release_redrive(ddb, table, upload)
                raise
        result.started.append(name)
    while True:
        messages = sqs.receive_message(QueueUrl=intake_dlq_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(QueueUrl=intake_queue_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=intake_dlq_url, ReceiptHandle=message["ReceiptHandle"])
            result.requeued += 1
    for name in result.started:
        stream.write(f"restarted  {name}\n")
    for uid, why in result.skipped:
        stream.write(f"skipped    {uid}: {why}\n")
    stream.write(f"redrive: {len(result.started)} restarted, {len(result.skipped)} skipped, "
                 f"{result.requeued} intake dead letter(s) requeued\n")
    return result
