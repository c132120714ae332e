"""Shared fixtures: fake AWS credentials, moto, a Lambda context, and the function environment."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import aws_xray_sdk.core  # noqa: F401 - opens its UDP emitter socket at import: do it before sockets are disabled
import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REGION = "us-east-1"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so no test can reach a real account; X-Ray and EMF off."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "docpipe", "POWERTOOLS_METRICS_NAMESPACE": "Docpipe",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for every AWS service, with a fresh default boto3 session."""
    with mock_aws():
        boto3.setup_default_session(region_name=REGION)
        yield
        boto3.DEFAULT_SESSION = None


@dataclass
class FakeContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:test-function"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


def create_documents_table(ddb: Any, name: str) -> None:
    """A table exactly as template.yaml declares DocumentsTable (keys, GSI, billing)."""
    from docpipe_local.twin.template import load_template

    props = load_template(ROOT / "template.yaml")["Resources"]["DocumentsTable"]["Properties"]
    ddb.create_table(TableName=name, AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"],
                     GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"], BillingMode=props["BillingMode"])


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/ (the same files `sam local invoke -e` uses)."""
    return json.loads((ROOT / "events" / f"{name}.json").read_text())


def load_handler(function_dir: str) -> ModuleType:
    """Import functions/<dir>/app.py freshly (module-scope clients bind to the active moto mock)."""
    path = ROOT / "functions" / function_dir / "app.py"
    name = f"handler_under_test_{function_dir}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
