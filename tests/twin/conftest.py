"""Fixtures for whole-pipeline tests on the local twin."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from docpipe_local.twin.twin import LocalTwin, Upload
from tests.conftest import FIXTURES, ROOT

SAMPLES = ROOT / "samples"


def states_entered(twin: LocalTwin, upload: Upload) -> list[str]:
    """State names in the order the execution entered them."""
    return [e[k]["name"] for e in twin.history(upload) for k in e if k == "stateEnteredEventDetails"]


def process(twin: LocalTwin, *uploads: Upload, timeout_s: float = 120) -> dict[str, dict[str, Any]]:
    """Deliver the intake queue and wait (with a deadline) for the uploads' executions to end."""
    twin.pump_intake()
    return twin.wait(list(uploads), timeout_s=timeout_s)


@pytest.fixture
def make_twin(tmp_path: Path) -> Iterator[Callable[..., LocalTwin]]:
    """Build a twin (optionally with faults, replay responses, parameters); closed after the test."""
    opened: list[LocalTwin] = []

    def build(**options: Any) -> LocalTwin:
        twin = LocalTwin(ROOT, log_stream=io.StringIO(), **options)
        twin.__enter__()
        opened.append(twin)
        return twin

    yield build
    for twin in reversed(opened):
        twin.__exit__(None, None, None)


@pytest.fixture
def receipt_replay(tmp_path: Path) -> Path:
    """A replay directory answering samples/receipt.jpg with AWS's recorded AnalyzeExpense response."""
    replay = tmp_path / "replay"
    replay.mkdir()
    digest = hashlib.sha256((SAMPLES / "receipt.jpg").read_bytes()).hexdigest()
    response = json.loads((FIXTURES / "textract" / "analyze_expense_receipt_mega_market.json").read_text())
    (replay / f"{digest}.json").write_text(json.dumps(response))
    return replay
