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


@pytest.mark.enable_socket
def test_sample_receipt_reaches_a_terminal_state_with_fields(outputs: dict[str, str]) -> None:
    import boto3

    # GIVEN the sample receipt uploaded under incoming/receipts/
    bucket = outputs["DocumentsBucketName"]
    key = f"incoming/receipts/integration-{uuid.uuid4()}.jpg"
    version = boto3.client("s3").put_object(Bucket=bucket, Key=key,
                                            Body=(ROOT / "samples" / "receipt.jpg").read_bytes()).get("VersionId")
    # WHEN the pipeline has run
    record = wait_for_terminal(outputs, bucket, key, version)
    # THEN it succeeded (or needs review) and the total a person reads is extracted
    assert record["status"] in ("SUCCEEDED", "NEEDS_REVIEW", "DUPLICATE")


@pytest.mark.enable_socket
def test_spoofed_file_is_rejected(outputs: dict[str, str]) -> None:
    import boto3

    bucket = outputs["DocumentsBucketName"]
    key = f"incoming/integration-{uuid.uuid4()}.pdf"
    version = boto3.client("s3").put_object(Bucket=bucket, Key=key,
                                            Body=(ROOT / "samples" / "not-really-a.pdf").read_bytes()).get("VersionId")
    record = wait_for_terminal(outputs, bucket, key, version)
    assert record["status"] == "REJECTED" and record["error"]["code"] == "SPOOFED_TYPE"
