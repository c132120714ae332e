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


ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# Statuses a document record can hold (DUPLICATE is an upload's only); `docpipe list` reads each partition.
DOCUMENT_STATUSES = ("RECEIVED", "PROCESSING", "SUCCEEDED", "NEEDS_REVIEW", "FAILED", "REJECTED")
# The outputs template.yaml declares for what the operator commands work on, by logical id.
STACK_OUTPUTS = {"DocumentsBucket": "DocumentsBucketName", "DocumentsTable": "DocumentsTableName",
                 "DocumentPipelineStateMachine": "DocumentPipelineStateMachineArn"}


class OpsError(SystemExit):
    """A clear, one-line reason an operator command cannot run (wrong stack, no permission, unknown id).

    Exit status 2; `str()` is the message (the CLI prints it on stderr, never a traceback).
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"docpipe: {message}")
        self.code = 2


@dataclass(frozen=True)
class Stack:
    """What the document commands work on: a deployed stack's resources (or the twin's), and the
    parameters NormalizeDocument runs with."""

    name: str
    bucket: str
    table: str
    state_machine_arn: str
    threshold: float = 80.0
    locale: str = "en_US"
    incoming_prefix: str = "incoming/"
    results_prefix: str = "results/"

    @property
    def region(self) -> str:
        """The stack's region, from the state machine's ARN (arn:aws:states:<region>:…)."""
        return self.state_machine_arn.split(":")[3]


def resolve_stack(cloudformation: Any, stack: str) -> Stack:
    """The bucket, table and state machine of a deployed stack, from its outputs (one DescribeStacks),
    and the confidence threshold and locale it was deployed with. An output the stack lacks (deployed
    from an older template) is looked up as a stack resource instead."""
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code", "") in ACCESS_DENIED:
            raise OpsError(f"not allowed to read stack {stack} (cloudformation:DescribeStacks)") from None
        raise OpsError(f"stack {stack} does not exist in this region") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs") or []}
    parameters = {p["ParameterKey"]: p.get("ResolvedValue") or p.get("ParameterValue")
                  for p in found.get("Parameters") or []}
    names = {logical: outputs.get(output) or stack_resource(cloudformation, stack, logical)
             for logical, output in STACK_OUTPUTS.items()}
    return Stack(name=stack, bucket=names["DocumentsBucket"], table=names["DocumentsTable"],
                 state_machine_arn=names["DocumentPipelineStateMachine"],
                 threshold=float(parameters.get("ConfidenceThreshold") or 80),
                 locale=parameters.get("DefaultLocale") or "en_US")


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
