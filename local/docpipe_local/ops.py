"""Operator commands against a deployed stack (`--stack NAME`) or a table named directly (`--table`).

The twin's tests call the same functions with the twin's clients, so every command is exercised
against the real state machine's table as well as through moto/Stubber for a deployed stack.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, TextIO

from botocore.exceptions import ClientError

from docpipe import breaker


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
