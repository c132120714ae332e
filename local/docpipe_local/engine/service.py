"""LocalTextract: the Textract API answered in-process — sync calls, async jobs, faults, replay."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from docpipe_local.engine import blocks, documents, expense, identity
from docpipe_local.engine.errors import (LocalTextractError, document_too_large, invalid_parameter,
                                         invalid_s3_object, unsupported_document)
from docpipe_local.engine.faults import FaultPlan, fault_error
from docpipe_local.engine.interception import Interceptor
from docpipe_local.engine.layout import Page
from docpipe_local.engine.ocr import RapidOcrReader

_MB = 1024 * 1024
_SYNC_BYTES_LIMIT = 5 * _MB  # Document.Bytes
_SYNC_S3_LIMIT = 10 * _MB
_ASYNC_IMAGE_LIMIT = 10 * _MB
_ASYNC_LIMIT = 500 * _MB
_MAX_RESULTS = {"GetDocumentTextDetection": 1000, "GetDocumentAnalysis": 1000, "GetExpenseAnalysis": 20}
_START_TO_GET = {"StartDocumentTextDetection": "GetDocumentTextDetection",
                 "StartDocumentAnalysis": "GetDocumentAnalysis",
                 "StartExpenseAnalysis": "GetExpenseAnalysis"}
_MODEL_VERSION = {"DetectDocumentText": "DetectDocumentTextModelVersion",
                  "AnalyzeDocument": "AnalyzeDocumentModelVersion", "AnalyzeID": "AnalyzeIDModelVersion",
                  "GetDocumentTextDetection": "DetectDocumentTextModelVersion",
                  "GetDocumentAnalysis": "AnalyzeDocumentModelVersion",
                  "GetExpenseAnalysis": "AnalyzeExpenseModelVersion"}
_FEATURES = {"TABLES", "FORMS", "QUERIES", "SIGNATURES", "LAYOUT"}
_KMS_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,2048}$")
_TOKEN = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
_JOB_TAG = re.compile(r"^[a-zA-Z0-9_.\-:]{1,64}$")
_QUERY_PAGES = re.compile(r"^(?:\*|\d+(?:-(?:\d+|\*))?)$")
_FORM_LABELS = expense.ALL_LABELS | identity.ALL_LABELS
# One RapidOCR engine per process, shared by every LocalTextract (models load once, ~1 s).
_OCR = RapidOcrReader()


def default_job_seconds(pages: int) -> float:
    return 5 + 2 * pages


@dataclass(frozen=True)
class CallRecord:
    """One API call as the engine saw it: when (engine clock), what came of it, what it cost."""

    operation: str
    at: float
    outcome: str  # "OK" or the error code returned
    seconds: float  # wall-clock time spent answering (OCR included)
    job_id: str | None = None
    source: str | None = None  # where the text came from: "replay", "text-layer", "ocr", "text-layer+ocr"
    fault: str | None = None  # the injected fault kind ("throttle", "job_failed", ...), if any
    document: str | None = None  # SHA-256 of the document the call read, once it read one
    key: str | None = None  # the S3 object the call named (sync and Start* calls), read or not


@dataclass
class _Call:
    job_id: str | None = None
    source: str | None = None
    fault: str | None = None
    document: str | None = None


@dataclass
class _Job:
    job_id: str
    get_operation: str
    fingerprint: str
    pages: int
    items_key: str  # "Blocks" or "ExpenseDocuments"
    items: list[dict[str, Any]]
    started_at: float
    duration: float | None  # None: never finishes
    failure: str | None
    output: tuple[str, str] | None  # (bucket, prefix)
    written: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class LocalTextract:
    """Answers Textract API calls locally with real response shapes.

    Input documents are read from S3 through `s3_client_factory()` (moto's S3 on the twin); async
    jobs do their work at Start* time and report IN_PROGRESS until `clock()` reaches
    `started_at + job_seconds(pages)`. Thread-safe.
    """

    def __init__(
        self,
        *,
        s3_client_factory: Callable[[], Any],
        clock: Callable[[], float] = time.time,
        job_seconds: Callable[[int], float] = default_job_seconds,
        results_per_object: int = 1000,
        replay_dir: Path | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        if results_per_object < 1:
            raise ValueError("results_per_object must be at least 1")
        self._s3_factory = s3_client_factory
        self._s3_client: Any = None
        self.clock = clock
        self.job_seconds = job_seconds
        self.results_per_object = results_per_object
        self.replay_dir = replay_dir
        self.faults = faults or FaultPlan()
        self.calls: list[CallRecord] = []
        self._jobs: dict[str, _Job] = {}
        self._tokens: dict[tuple[str, str], _Job] = {}
        self._token_locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self._interceptor = Interceptor(self.handle)
        self._operations: dict[str, Callable[[str, dict[str, Any], _Call], dict[str, Any]]] = {
            "DetectDocumentText": self._sync, "AnalyzeDocument": self._sync, "AnalyzeExpense": self._sync,
            "AnalyzeID": self._analyze_id,
            **{name: self._start for name in _START_TO_GET}, **{name: self._get for name in _START_TO_GET.values()},
        }

    # -- installing -----------------------------------------------------------------------------------
    def install(self, session: Any) -> None:
        """Answer Textract for clients created from `session` (boto3 or botocore) from now on."""
        emitter = session.events if hasattr(session, "events") else session.get_component("event_emitter")
        self._interceptor.attach(emitter)

    def install_on_client(self, client: Any) -> None:
        """Answer Textract for an existing client (clients copy their session's events when created)."""
        self._interceptor.attach(client.meta.events)

    def uninstall(self) -> None:
        self._interceptor.detach()

    # -- the API --------------------------------------------------------------------------------------
    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The response body of `operation`, or LocalTextractError with Textract's error code."""
        began, at, call = time.perf_counter(), self.clock(), _Call()
        outcome = "OK"
        try:
            implementation = self._operations.get(operation)
            if implementation is None:
                raise LocalTextractError("NotImplemented", f"The local Textract engine does not implement {operation}.",
                                         501)
            fault = self.faults.call_fault(operation, at)
            if fault is not None:
                call.fault = fault
                raise fault_error(fault)
            return implementation(operation, params, call)
        except LocalTextractError as error:
            outcome = error.code
            raise
        finally:
            location = params.get("Document") or params.get("DocumentLocation") or {}
            record = CallRecord(operation, at, outcome, time.perf_counter() - began, call.job_id, call.source,
                                call.fault, call.document, (location.get("S3Object") or {}).get("Name"))
            with self._lock:
                self.calls.append(record)

    # -- synchronous operations -----------------------------------------------------------------------
    def _sync(self, operation: str, params: dict[str, Any], call: _Call) -> dict[str, Any]:
        features, queries = _features(params) if operation == "AnalyzeDocument" else (set(), [])
        data = self._document_bytes(params.get("Document"))
        call.document = hashlib.sha256(data).hexdigest()
        media_type = _media_type(data)
        replayed = self._replay_sync(data, operation)
        if replayed is not None:
            call.source = "replay"
            return replayed
        if documents.page_count(data, media_type) > 1:
            raise unsupported_document("Request has unsupported document format: synchronous operations accept "
                                       "single-page documents only; use the asynchronous operations")
        _check_query_pages(queries, 1)
        pages = documents.read_pages(data, media_type, _OCR)
        call.source = _source(pages)
        page = pages[0]
        metadata = {"DocumentMetadata": {"Pages": 1}}
        if operation == "AnalyzeExpense":
            return {**metadata, "ExpenseDocuments": [expense.expense_document(page, 1)]}
        if operation == "DetectDocumentText":
            return {**metadata, "Blocks": blocks.text_blocks(page), _MODEL_VERSION[operation]: "1.0"}
        return {**metadata, "Blocks": blocks.analyze_page(page, features, _queries_for(queries, 1, 1), _FORM_LABELS),
                _MODEL_VERSION[operation]: "1.0"}

    def _analyze_id(self, operation: str, params: dict[str, Any], call: _Call) -> dict[str, Any]:
        documents_in = params.get("DocumentPages")
        if not isinstance(documents_in, list) or not 1 <= len(documents_in) <= 2:
            raise invalid_parameter("DocumentPages must hold one or two documents (front and back).")
        contents = [self._document_bytes(document) for document in documents_in]
        call.document = hashlib.sha256(contents[0]).hexdigest()
        media_types = [_media_type(data) for data in contents]
        replayed = self._replay_sync(contents[0], operation)
        if replayed is not None:
            call.source = "replay"
            return replayed
        pages: list[Page] = []
        for data, media_type in zip(contents, media_types):
            if documents.page_count(data, media_type) > 1:
                raise unsupported_document("Request has unsupported document format: each document page must be "
                                           "a single page")
            page = documents.read_pages(data, media_type, _OCR)[0]
            pages.append(Page(len(pages) + 1, page.lines, page.source))
        call.source = _source(pages)
        return {"IdentityDocuments": [identity.identity_document(page, page.number) for page in pages],
                "DocumentMetadata": {"Pages": len(pages)}, _MODEL_VERSION[operation]: "1.0"}

    def _document_bytes(self, document: Any) -> bytes:
        """A sync Document's bytes: exactly one of Bytes (≤ 5 MB) or S3Object (≤ 10 MB)."""
        if not isinstance(document, dict) or ("Bytes" in document) == ("S3Object" in document):
            raise invalid_parameter("Document must have exactly one of Bytes or S3Object.")
        if "Bytes" in document:
            data = document["Bytes"]
            if len(data) > _SYNC_BYTES_LIMIT:
                raise document_too_large("documents passed as bytes are limited to 5 MB")
            return bytes(data)
        return self._fetch(document["S3Object"], _SYNC_S3_LIMIT, "synchronous operations are limited to 10 MB")

    # -- asynchronous operations ----------------------------------------------------------------------
    def _start(self, operation: str, params: dict[str, Any], call: _Call) -> dict[str, Any]:
        location = (params.get("DocumentLocation") or {}).get("S3Object")
        if not isinstance(location, dict):
            raise invalid_parameter("DocumentLocation.S3Object is required.")
        token, tag = params.get("ClientRequestToken"), params.get("JobTag")
        if token is not None and not _TOKEN.match(token):
            raise invalid_parameter("ClientRequestToken must match ^[a-zA-Z0-9-_]+$ (1-64 characters).")
        if tag is not None and not _JOB_TAG.match(tag):
            raise invalid_parameter("JobTag must match [a-zA-Z0-9_.\\-:]+ (1-64 characters).")
        output = params.get("OutputConfig")
        if output is not None and not output.get("S3Bucket"):
            raise invalid_parameter("OutputConfig.S3Bucket is required.")
        kms_key = params.get("KMSKeyId")
        if kms_key is not None and not _KMS_KEY.match(str(kms_key)):
            raise invalid_parameter("KMSKeyId must match ^[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,2048}$.")
        if operation == "StartDocumentAnalysis":
            _features(params)
        fingerprint = json.dumps({k: v for k, v in params.items() if k != "ClientRequestToken"}, sort_keys=True)
        if token is None:
            job = self._new_job(operation, params, location, fingerprint, call)
        else:
            # Same token, same request: the same job (even when both calls race); different request: error.
            with self._token_lock(operation, token):
                earlier = self._tokens.get((operation, token))
                if earlier is None:
                    job = self._tokens[(operation, token)] = self._new_job(operation, params, location, fingerprint, call)
                elif earlier.fingerprint != fingerprint:
                    raise LocalTextractError("IdempotentParameterMismatchException",
                                             "The ClientRequestToken was reused with different parameters.")
                else:
                    job = earlier
        call.job_id = job.job_id
        return {"JobId": job.job_id}

    def _token_lock(self, operation: str, token: str) -> threading.Lock:
        with self._lock:
            return self._token_locks.setdefault((operation, token), threading.Lock())

    def _new_job(self, operation: str, params: dict[str, Any], location: dict[str, Any], fingerprint: str,
                 call: _Call) -> _Job:
        data = self._fetch(location, _ASYNC_LIMIT, "asynchronous operations are limited to 500 MB")
        call.document = hashlib.sha256(data).hexdigest()
        media_type = _media_type(data)
        if media_type in (documents.PNG, documents.JPEG) and len(data) > _ASYNC_IMAGE_LIMIT:
            raise document_too_large("JPEG and PNG files are limited to 10 MB")
        get_operation = _START_TO_GET[operation]
        items_key = "ExpenseDocuments" if get_operation == "GetExpenseAnalysis" else "Blocks"
        replayed = self._replay_async(data, items_key)
        if replayed is not None:
            call.source = "replay"
            page_count, items = replayed
        else:
            page_count = documents.page_count(data, media_type)
            if operation == "StartDocumentAnalysis":
                _check_query_pages(_features(params)[1], page_count)
            pages = documents.read_pages(data, media_type, _OCR)
            call.source = _source(pages)
            items = self._job_items(operation, params, pages)
        output = params.get("OutputConfig")
        target = (output["S3Bucket"], output.get("S3Prefix") or "textract_output") if output else None
        if target is not None:
            self._put(target[0], f"{target[1]}/.s3_access_check", b"")
        fault = self.faults.job_fault(operation)
        call.fault = fault
        duration = None if fault == "never_finish" else self.job_seconds(page_count) * (10 if fault == "slow" else 1)
        failure = ("INTERNAL_ERROR: Amazon Textract could not process the document (fault injected by the local "
                   "engine)") if fault == "job_failed" else None
        job = _Job(uuid.uuid4().hex + uuid.uuid4().hex, get_operation, fingerprint, page_count,
                   items_key, items, self.clock(), duration, failure, target)
        with self._lock:
            self._jobs[job.job_id] = job
        return job

    def _job_items(self, operation: str, params: dict[str, Any], pages: list[Page]) -> list[dict[str, Any]]:
        if operation == "StartExpenseAnalysis":
            # One ExpenseDocument per page: the engine does not detect several receipts on one page.
            return [expense.expense_document(page, page.number) for page in pages]
        if operation == "StartDocumentTextDetection":
            return [block for page in pages for block in blocks.text_blocks(page)]
        features, queries = _features(params)
        return [block for page in pages for block in
                blocks.analyze_page(page, features, _queries_for(queries, page.number, len(pages)), _FORM_LABELS)]

    def _get(self, operation: str, params: dict[str, Any], call: _Call) -> dict[str, Any]:
        job_id = params.get("JobId")
        with self._lock:
            job = self._jobs.get(job_id) if isinstance(job_id, str) else None
        if job is None or job.get_operation != operation:
            raise LocalTextractError("InvalidJobIdException", "An invalid job identifier was passed.")
        call.job_id = job.job_id
        max_results = params.get("MaxResults", _MAX_RESULTS[operation])
        if not isinstance(max_results, int) or max_results < 1:
            raise invalid_parameter("MaxResults must be an integer of at least 1.")
        limit = min(max_results, _MAX_RESULTS[operation])
        offset = _decode_token(params.get("NextToken"), job.job_id, len(job.items))
        status = self._status(job)
        if status == "IN_PROGRESS":
            return {"JobStatus": status}
        if status == "FAILED":
            return {"JobStatus": status, "StatusMessage": job.failure}
        return self._page(job, offset, offset + limit)

    def _status(self, job: _Job) -> str:
        with job.lock:
            if job.duration is None or self.clock() < job.started_at + job.duration:
                return "IN_PROGRESS"
            if job.failure is None and job.output is not None and not job.written:
                self._write_output(job, *job.output)
            return "FAILED" if job.failure is not None else "SUCCEEDED"

    def _page(self, job: _Job, start: int, end: int) -> dict[str, Any]:
        """One Get* page: the items in [start, end) and a NextToken when more follow."""
        page: dict[str, Any] = {"DocumentMetadata": {"Pages": job.pages}, "JobStatus": "SUCCEEDED"}
        if end < len(job.items):
            page["NextToken"] = _encode_token(job.job_id, end)
        page[job.items_key] = job.items[start:end]
        page[_MODEL_VERSION[job.get_operation]] = "1.0"
        return page

    def _write_output(self, job: _Job, bucket: str, prefix: str) -> None:
        """OutputConfig: the full result as numbered objects `<prefix>/<JobId>/1, 2, …`, each the
        Get* page of at most `results_per_object` blocks (expense results split between whole
        ExpenseDocuments). A bucket that cannot be written fails the job, as on AWS."""
        try:
            for number, (first, last) in enumerate(self._object_bounds(job), start=1):
                self._put(bucket, f"{prefix}/{job.job_id}/{number}", json.dumps(self._page(job, first, last)).encode())
        except LocalTextractError:
            job.failure = "Unable to write results to the OutputConfig bucket."
        job.written = True

    def _object_bounds(self, job: _Job) -> list[tuple[int, int]]:
        size, count = self.results_per_object, len(job.items)
        if job.items_key == "Blocks":
            return [(start, min(start + size, count)) for start in range(0, max(count, 1), size)]
        bounds, start = [], 0
        while start < count:
            end, blocks_in = start, 0
            while end < count and (end == start or blocks_in + len(job.items[end]["Blocks"]) <= size):
                blocks_in += len(job.items[end]["Blocks"])
                end += 1
            bounds.append((start, end))
            start = end
        return bounds or [(0, 0)]

    # -- S3 -------------------------------------------------------------------------------------------
    def _s3(self) -> Any:
        with self._lock:
            if self._s3_client is None:
                self._s3_client = self._s3_factory()
            return self._s3_client

    def _fetch(self, s3_object: Any, limit: int, limit_text: str) -> bytes:
        if not isinstance(s3_object, dict) or not s3_object.get("Bucket") or not s3_object.get("Name"):
            raise invalid_parameter("S3Object needs Bucket and Name.")
        args = {"Bucket": s3_object["Bucket"], "Key": s3_object["Name"]}
        if s3_object.get("Version"):
            args["VersionId"] = s3_object["Version"]
        try:
            response = self._s3().get_object(**args)
        except ClientError as error:
            raise invalid_s3_object() from error
        body = response["Body"]
        try:
            if response["ContentLength"] > limit:
                raise document_too_large(limit_text)
            return body.read()
        finally:
            body.close()

    def _put(self, bucket: str, key: str, body: bytes) -> None:
        try:
            self._s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        except ClientError as error:
            raise invalid_s3_object("Unable to write to the output S3 bucket. Check the bucket name and access "
                                    "permissions.") from error

    # -- replay ---------------------------------------------------------------------------------------
    def _replay_sync(self, data: bytes, operation: str) -> dict[str, Any] | None:
        """A recorded response `<sha256>.json`, if it has the shape of `operation`'s response."""
        if self.replay_dir is None:
            return None
        path = self.replay_dir / f"{hashlib.sha256(data).hexdigest()}.json"
        if not path.is_file():
            return None
        response = json.loads(path.read_text(encoding="utf-8"))
        response.pop("ResponseMetadata", None)
        wanted = {"AnalyzeExpense": "ExpenseDocuments", "AnalyzeID": "IdentityDocuments"}.get(operation, "Blocks")
        return response if wanted in response else None

    def _replay_async(self, data: bytes, items_key: str) -> tuple[int, list[dict[str, Any]]] | None:
        """Recorded Get* pages `<sha256>/1.json`, `2.json`, … merged into one result."""
        if self.replay_dir is None:
            return None
        folder = self.replay_dir / hashlib.sha256(data).hexdigest()
        files = sorted((p for p in folder.glob("*.json") if p.stem.isdigit()), key=lambda p: int(p.stem)) \
            if folder.is_dir() else []
        recorded = [json.loads(p.read_text(encoding="utf-8")) for p in files]
        if not recorded or any(items_key not in page for page in recorded):
            return None
        return recorded[0]["DocumentMetadata"]["Pages"], [item for page in recorded for item in page[items_key]]


# -- request helpers -----------------------------------------------------------------------------------
def _media_type(data: bytes) -> str:
    media_type = documents.sniff(data)
    if media_type is None:
        raise unsupported_document()
    return media_type


def _source(pages: list[Page]) -> str:
    return "+".join(sorted({page.source for page in pages}, key=["text-layer", "ocr"].index))


def _features(params: dict[str, Any]) -> tuple[set[str], list[dict[str, Any]]]:
    """FeatureTypes and queries of AnalyzeDocument/StartDocumentAnalysis, validated."""
    features = params.get("FeatureTypes")
    if not isinstance(features, list) or not features or not set(features) <= _FEATURES:
        raise invalid_parameter(f"FeatureTypes must list one or more of {', '.join(sorted(_FEATURES))}.")
    queries = ((params.get("QueriesConfig") or {}).get("Queries")) or []
    if ("QUERIES" in features) != bool(queries):
        raise invalid_parameter("QUERIES in FeatureTypes and QueriesConfig.Queries go together.")
    for query in queries:
        if not isinstance(query, dict) or not query.get("Text"):
            raise invalid_parameter("Each query needs a Text.")
        if any(not _QUERY_PAGES.match(p) for p in query.get("Pages", [])) or \
                ("*" in query.get("Pages", []) and len(query["Pages"]) > 1):
            raise invalid_parameter("Query Pages must be page numbers, ranges like 2-4 or 3-*, or * alone.")
    return set(features), queries


def _page_numbers(query: dict[str, Any], page_count: int) -> set[int]:
    numbers: set[int] = set()
    for spec in query.get("Pages", ["1"]):
        if spec == "*":
            return set(range(1, page_count + 1))
        first, _, last = spec.partition("-")
        end = page_count if last == "*" else int(last or first)
        numbers.update(range(int(first), end + 1))
    return numbers


def _check_query_pages(queries: list[dict[str, Any]], page_count: int) -> None:
    for query in queries:
        numbers = _page_numbers(query, page_count)
        if not numbers or min(numbers) < 1 or max(numbers) > page_count:
            raise invalid_parameter(f"Query pages must be between 1 and the document's {page_count} page(s).")


def _queries_for(queries: list[dict[str, Any]], page: int, page_count: int) -> list[dict[str, Any]]:
    return [q for q in queries if page in _page_numbers(q, page_count)]


def _encode_token(job_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"job": job_id, "offset": offset}).encode()).decode()


def _decode_token(token: Any, job_id: str, item_count: int) -> int:
    if token is None:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = decoded["offset"]
        if decoded["job"] == job_id and isinstance(offset, int) and 0 < offset < item_count:
            return offset
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise invalid_parameter("The NextToken is not valid for this job.")
