"""Calling Textract: the sync APIs, async Start*/Get*, polling and reading raw results from S3.

Raw results always land in S3 under `results/<documentId>/textract/…` as numbered objects holding
one API response page each (`1`, `2`, …): Textract's OutputConfig writes them for async jobs, and
the sync path writes its single response the same way, so normalization reads one layout.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Iterator

from botocore.exceptions import ClientError

from docpipe import clock
from docpipe.contracts import TextractPlan, TextractState
from docpipe.errors import (
    AccessDenied,
    ConfigurationError,
    TextractDocumentError,
    TextractJobFailed,
    TextractJobInProgress,
    TextractLimitExceeded,
    TextractServiceError,
    TextractThrottled,
    TextractTimedOut,
)

try:  # several times faster than json on result objects (measured: benchmarks/normalize_large.py)
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - the layer ships orjson; stdlib json gives the same dicts
    from json import loads as _loads

_START = {
    "AnalyzeExpense": "start_expense_analysis",
    "AnalyzeDocument": "start_document_analysis",
    "DetectDocumentText": "start_document_text_detection",
}
_GET = {
    "AnalyzeExpense": "get_expense_analysis",
    "AnalyzeDocument": "get_document_analysis",
    "DetectDocumentText": "get_document_text_detection",
}
_SYNC = {
    "AnalyzeExpense": "analyze_expense",
    "AnalyzeDocument": "analyze_document",
    "DetectDocumentText": "detect_document_text",
    "AnalyzeID": "analyze_id",
}
_DOCUMENT_MESSAGES = {
    "InvalidS3ObjectException": "Textract could not read the uploaded object.",
    "UnsupportedDocumentException": "Textract does not support this document's format or layout.",
    "BadDocumentException": "Textract could not read this document: it may be damaged or unreadable.",
    "DocumentTooLargeException": "The document is too large for Textract.",
}
_THROTTLING = {"ThrottlingException", "ProvisionedThroughputExceededException"}
_SERVER = {"InternalServerError", "ServiceUnavailable", "ServiceUnavailableException"}


def raise_for_client_error(error: ClientError) -> None:
    """Translate a Textract ClientError into the docpipe taxonomy (always raises)."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _THROTTLING:
        raise TextractThrottled() from error
    if code == "LimitExceededException":
        raise TextractLimitExceeded() from error
    if code in _SERVER or status >= 500:
        raise TextractServiceError() from error
    if code in _DOCUMENT_MESSAGES:
        raise TextractDocumentError(_DOCUMENT_MESSAGES[code], textract_code=code) from error
    if code in ("AccessDeniedException", "AccessDenied"):
        raise AccessDenied("docpipe's role may not call Textract or read the upload.") from error
    raise ConfigurationError(f"Textract rejected the request ({code}).") from error


def client_request_token(document_id: str, execution_name: str) -> str:
    """Idempotency token: a retried or redriven StartTextract gets the same job, a new upload a new one."""
    return hashlib.sha256(f"{document_id}:{execution_name}".encode()).hexdigest()[:64]


def raw_prefix(results_prefix: str, document_id: str) -> str:
    return f"{results_prefix}{document_id}/textract/"


def _s3_object(bucket: str, key: str, version_id: str | None) -> dict[str, str]:
    obj = {"Bucket": bucket, "Name": key}
    if version_id:
        obj["Version"] = version_id
    return obj


def _feature_args(plan: TextractPlan) -> dict[str, Any]:
    if plan["api"] != "AnalyzeDocument":
        return {}
    args: dict[str, Any] = {"FeatureTypes": list(plan["featureTypes"])}
    if plan["queries"]:
        args["QueriesConfig"] = {"Queries": [dict(q) for q in plan["queries"]]}
    return args


def start(
    textract: Any,
    s3: Any,
    *,
    plan: TextractPlan,
    bucket: str,
    key: str,
    version_id: str | None,
    document_id: str,
    execution_name: str,
    results_bucket: str,
    results_prefix: str,
    poll_initial_seconds: int,
    poll_deadline_seconds: int,
    kms_key_id: str | None = None,
) -> TextractState:
    """Run the sync API (storing its response) or start the async job; returns the loop state.

    `kms_key_id`: the key Textract encrypts an async job's OutputConfig objects with (else S3's own).
    """
    prefix = raw_prefix(results_prefix, document_id)
    state: TextractState = {
        "api": plan["api"], "mode": plan["mode"], "jobId": None, "status": "IN_PROGRESS", "statusMessage": "",
        "rawPrefix": prefix, "pollCount": 0, "waitSeconds": poll_initial_seconds, "startedAt": round(clock.now(), 3),
        "elapsedSeconds": 0, "deadlineSeconds": poll_deadline_seconds,
    }
    source = _s3_object(bucket, key, version_id)
    try:
        if plan["mode"] == "sync":
            if plan["api"] == "AnalyzeID":
                response = textract.analyze_id(DocumentPages=[{"S3Object": source}])
            else:
                response = getattr(textract, _SYNC[plan["api"]])(Document={"S3Object": source}, **_feature_args(plan))
            response.pop("ResponseMetadata", None)
            state["rawPrefix"] = f"{prefix}sync/"
            s3.put_object(Bucket=results_bucket, Key=f"{prefix}sync/1", Body=json.dumps(response).encode(),
                          ContentType="application/json")
            state["status"] = "SUCCEEDED"
            return state
        job = getattr(textract, _START[plan["api"]])(
            DocumentLocation={"S3Object": source},
            ClientRequestToken=client_request_token(document_id, execution_name),
            JobTag=f"docpipe-{document_id[:32]}",
            OutputConfig={"S3Bucket": results_bucket, "S3Prefix": prefix.rstrip("/")},
            **({"KMSKeyId": kms_key_id} if kms_key_id else {}),
            **_feature_args(plan),
        )
    except ClientError as error:
        raise_for_client_error(error)
    state["jobId"] = job["JobId"]
    state["rawPrefix"] = f"{prefix}{job['JobId']}/"
    return state


def poll(textract: Any, state: TextractState, *, attempt: int = 0) -> TextractState:
    """One status check (MaxResults=1: status only, not the blocks) of the running job.

    Returns the state of a finished job (SUCCEEDED or PARTIAL_SUCCESS). A job still running raises
    TextractJobInProgress, on which the state machine's Retry waits and calls again (its backoff
    doubles, so polls grow with the logarithm of the job's duration), or TextractTimedOut once the
    deadline has passed; FAILED (or a status this code does not know) raises TextractJobFailed.
    `attempt` is the state's retry count (`$$.State.RetryCount`): this call is poll `attempt + 1`.
    """
    try:
        response = getattr(textract, _GET[state["api"]])(JobId=state["jobId"], MaxResults=1)
    except ClientError as error:
        raise_for_client_error(error)
    elapsed = max(0, int(clock.now() - float(state["startedAt"])))
    status, message = response["JobStatus"], response.get("StatusMessage", "") or ""
    if status == "IN_PROGRESS":
        if elapsed >= int(state["deadlineSeconds"]):
            raise TextractTimedOut(elapsed_seconds=elapsed, polls=attempt + 1)
        raise TextractJobInProgress(f"Textract job still running after {elapsed} s (poll {attempt + 1}).")
    if status == "FAILED":
        raise TextractJobFailed(message or None)
    if status not in ("SUCCEEDED", "PARTIAL_SUCCESS"):
        raise TextractJobFailed(f"Textract reported a job status docpipe does not know ({status}).")
    return {**state, "status": status, "statusMessage": message, "pollCount": attempt + 1, "elapsedSeconds": elapsed}


def _numbered_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[tuple[int, str]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(prefix):]
            if name.isdigit():
                keys.append((int(name), obj["Key"]))
    return [key for _, key in sorted(keys)]


def materialize_async_result(textract: Any, s3: Any, *, state: TextractState, bucket: str) -> str:
    """The S3 prefix holding the complete raw result; returns it.

    Textract's OutputConfig objects are used when present. Otherwise the result is paged through
    Get* (NextToken) into a prefix of docpipe's own, rewritten whole on every attempt so a retry
    after a partial write never leaves a truncated result behind.
    """
    if state["mode"] == "sync" or _numbered_keys(s3, bucket, state["rawPrefix"]):
        return state["rawPrefix"]
    prefix = state["rawPrefix"].rstrip("/") + "-pages/"
    token: str | None = None
    number = 0
    while True:
        args: dict[str, Any] = {"JobId": state["jobId"], "MaxResults": 1000}
        if token:
            args["NextToken"] = token
        try:
            page = getattr(textract, _GET[state["api"]])(**args)
        except ClientError as error:
            raise_for_client_error(error)
        page.pop("ResponseMetadata", None)
        number += 1
        s3.put_object(Bucket=bucket, Key=f"{prefix}{number}", Body=json.dumps(page).encode(),
                      ContentType="application/json")
        token = page.get("NextToken")
        if not token:
            return prefix


# A block's Geometry as Textract writes it (compact JSON): BoundingBox numbers, then Polygon points.
# No normalizer reads it, and it is over half of every result object and of the objects parsing
# builds. A string value cannot hold this text unescaped, so the pattern only ever matches a real
# Geometry member; one written in any other way is simply left in and parsed.
_GEOMETRY = re.compile(rb',"Geometry":\{"BoundingBox":\{[^{}]*\},"Polygon":\[[^\[\]]*\]\}')


def parse_result(data: bytes, *, geometry: bool = True) -> dict[str, Any]:
    """One stored result object; `geometry=False` drops the blocks' Geometry before parsing."""
    if not geometry:
        data = _GEOMETRY.sub(b"", data)
    return _loads(data)


def iter_raw_pages(s3: Any, *, bucket: str, prefix: str, geometry: bool = True) -> Iterator[dict[str, Any]]:
    """The stored response pages in order, one object in memory at a time (parsed, then let go
    before the next is read). `geometry=False`: without the blocks' Geometry (see `parse_result`)."""
    for key in _numbered_keys(s3, bucket, prefix):
        # Nothing of an object stays in this frame while the caller works on it.
        yield parse_result(_read(s3, bucket, key), geometry=geometry)


def _read(s3: Any, bucket: str, key: str) -> bytes:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        return body.read()
    finally:
        body.close()
