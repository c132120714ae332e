"""Against a deployed stack: `AWS_SAM_STACK_NAME=docpipe-dev pytest tests/integration` (skipped otherwise)."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest

from docpipe.intake import upload_id
from docpipe.records import get_upload
from tests.conftest import ROOT

STACK = os.environ.get("AWS_SAM_STACK_NAME")
pytestmark = pytest.mark.skipif(not STACK, reason="set AWS_SAM_STACK_NAME to test a deployed stack")


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


@pytest.fixture(autouse=True)
def aws_credentials() -> None:
    """Override the unit tests' fake credentials: these tests use the caller's real ones."""


def wait_for_terminal(outputs: dict[str, str], bucket: str, key: str, version: str | None,
                      deadline_s: float = 600) -> dict[str, Any]:
    import boto3

    ddb = boto3.client("dynamodb")
    uid = upload_id(bucket, key, version)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        record = get_upload(ddb, outputs["DocumentsTableName"], uid)
        if record and record["status"] not in ("PROCESSING",):
            return record
        time.sleep(5)
    raise AssertionError(f"upload {key} did not reach a terminal state in {deadline_s:.0f} s")


def upload_and_wait(outputs: dict[str, str], sample: str, key: str) -> dict[str, Any]:
    """Upload a sample under `key` and wait for its upload record to reach a terminal state."""
    import boto3

    bucket = outputs["DocumentsBucketName"]
    version = boto3.client("s3").put_object(Bucket=bucket, Key=key,
                                            Body=(ROOT / "samples" / sample).read_bytes()).get("VersionId")
    return wait_for_terminal(outputs, bucket, key, version)


@pytest.mark.enable_socket
def test_sample_receipt_reaches_a_terminal_state(outputs: dict[str, str]) -> None:
    # GIVEN the sample receipt uploaded under incoming/receipts/
    # WHEN the pipeline has run
    record = upload_and_wait(outputs, "receipt.jpg", f"incoming/receipts/integration-{uuid.uuid4()}.jpg")
    # THEN it succeeded or needs review (or is a DUPLICATE of an earlier run of this test)
    assert record["status"] in ("SUCCEEDED", "NEEDS_REVIEW", "DUPLICATE")


@pytest.mark.enable_socket
def test_spoofed_file_is_rejected(outputs: dict[str, str]) -> None:
    record = upload_and_wait(outputs, "not-really-a.pdf", f"incoming/integration-{uuid.uuid4()}.pdf")
    assert record["status"] == "REJECTED" and record["error"]["code"] == "SPOOFED_TYPE"
