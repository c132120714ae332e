"""Degraded extraction while Textract's circuit breaker is open: the same plan, read by this engine.

The FallbackOcr function runs this in Lambda (the engine ships in the OCR layer) and the twin runs
it in-process. The document goes through docpipe's own `jobs.start`/`jobs.poll` against a Textract
client that this engine answers, so the raw result lands in S3 exactly where and how Textract's
would (a sync response, or OutputConfig objects of an async job) and the normalizer reads it the
usual way. Nothing here calls Amazon Textract.
"""

from __future__ import annotations

from typing import Any

import boto3

from docpipe.contracts import TextractPlan, TextractState
from docpipe.textract import jobs
from docpipe_local.engine.service import LocalTextract


def analyze(s3: Any, *, plan: TextractPlan, bucket: str, key: str, version_id: str | None, document_id: str,
            execution_name: str, results_bucket: str, results_prefix: str) -> TextractState:
    """Read the document with the local engine under `plan`; returns a finished TextractState
    flagged `method: fallback` (a FAILED job raises TextractJobFailed, as PollTextract does)."""
    # Jobs finish the moment they start: the work is done in Start*, and nobody waits here.
    engine = LocalTextract(s3_client_factory=lambda: s3, job_seconds=lambda pages: 0.0)
    # A client of its own session: one made from the default session would carry whatever else
    # answers Textract calls there (on the twin, the engine with its injected outage).
    textract = boto3.session.Session().client("textract")
    engine.install_on_client(textract)
    state = jobs.start(textract, s3, plan=plan, bucket=bucket, key=key, version_id=version_id,
                       document_id=document_id, execution_name=execution_name, results_bucket=results_bucket,
                       results_prefix=results_prefix, poll_initial_seconds=1, poll_deadline_seconds=60)
    if state["status"] == "IN_PROGRESS":
        state = jobs.poll(textract, state)
    state["method"] = "fallback"
    return state
