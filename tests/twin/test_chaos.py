"""`docpipe local chaos`: generated documents under injected faults end terminal or in a DLQ, none twice."""

from __future__ import annotations

import io
import re

import pytest

from docpipe_local.chaos import parse_faults, run_chaos
from tests.conftest import ROOT


def test_chaos_under_rates_and_an_outage_loses_nothing_and_bills_nothing_twice() -> None:
    # GIVEN 12 generated documents, random throttling/server errors/failed jobs and a 600 s outage
    # that fails documents and opens a breaker tripping after two of them
    out = io.StringIO()
    result = run_chaos(ROOT, documents=12, faults="throttle=0.3,server=0.1,job_failed=0.1,outage=600", seed=3,
                       stream=out, parameters={"BreakerFailureThreshold": "2", "BreakerCooldownSeconds": "60"})
    # (documents arrive in four waves: later ones meet the open breaker, park, and probe it closed)
    # THEN every document ended in a terminal state (FAILED ones also in the failure queue), none was
    # lost or analysed twice, and the summary line says so
    assert result.terminal == 12 and result.lost == 0 and result.duplicated == 0
    assert result.states["FAILED"] >= 2 and result.dlq >= result.states["FAILED"]
    last = out.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(r"documents=12 terminal=12 dlq=\d+ lost=0 duplicated=0 textract_calls=\d+", last)
    # AND the outage opened the breaker, a probe was admitted after the cool-down, and a probe
    # closed it again: it ends CLOSED
    assert result.breaker_transitions["OPEN"] >= 1 and result.breaker_transitions["HALF_OPEN"] >= 1
    assert result.breaker_transitions["CLOSED"] >= 1 and result.breaker_final == "CLOSED"
    assert result.parks >= 1
    assert "breaker → OPEN" in out.getvalue() and "breaker state at the end" in out.getvalue()


@pytest.mark.parametrize(("spec", "message"), [
    ("throttle", "KIND=VALUE"), ("thunder=0.1", "unknown fault"), ("server=2", "within 0..1"),
    ("outage=many", "needs a number"),
])
def test_a_bad_fault_spec_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(SystemExit) as caught:
        parse_faults(spec)
    assert message in str(caught.value)
