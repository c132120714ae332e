"""Shapes passed between states. State carries pointers and small summaries, never content."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

DocType = Literal["receipt", "invoice", "insurance", "identity", "generic"]
DOC_TYPES: tuple[str, ...] = ("receipt", "invoice", "insurance", "identity", "generic")

TERMINAL_STATUSES = ("SUCCEEDED", "NEEDS_REVIEW", "FAILED", "REJECTED", "DUPLICATE")

# EventBridge detail-type published for each terminal status.
DETAIL_TYPES = {
    "SUCCEEDED": "DocumentProcessed",
    "NEEDS_REVIEW": "DocumentNeedsReview",
    "REJECTED": "DocumentRejected",
    "DUPLICATE": "DocumentDuplicate",
    "FAILED": "DocumentFailed",
}


class ExecutionInput(TypedDict):
    """What the Starter hands the state machine for one upload."""

    uploadId: str
    bucket: str
    key: str
    versionId: str | None
    size: int
    etag: str


class DocumentRef(TypedDict):
    """ValidateDocument's result: a validated upload, identified by its content hash."""

    documentId: str
    uploadId: str
    bucket: str
    key: str
    versionId: str | None
    size: int
    mediaType: str
    pageCount: int


class TextractPlan(TypedDict):
    api: Literal["AnalyzeExpense", "AnalyzeDocument", "DetectDocumentText", "AnalyzeID"]
    mode: Literal["sync", "async"]
    featureTypes: list[str]
    queries: list[dict[str, str]]


class Classification(TypedDict):
    docType: str
    source: str
    plan: TextractPlan


class TextractState(TypedDict):
    """An async job's progress (WaitForTextract, then PollTextract's retries); rawPrefix is where the
    raw result pages land in S3. `startedAt` is when Start* returned (epoch seconds): the deadline
    counts from it. `waitSeconds` is the first wait only; later polls are spaced by the Retry.

    `method` is "fallback" when the local OCR engine read the document instead of Textract.
    """

    api: str
    mode: str
    jobId: str | None
    status: str
    statusMessage: str
    rawPrefix: str
    pollCount: int
    waitSeconds: int
    startedAt: float
    elapsedSeconds: int
    deadlineSeconds: int
    method: NotRequired[str]


class FieldSummary(TypedDict):
    value: Any
    confidence: float


class NormalizedSummary(TypedDict):
    """NormalizeDocument's answer. REPLAN: the expense-first text showed a docType that needs another
    Textract API; `replan` is the new classification and nothing was normalized."""

    docType: str
    status: Literal["SUCCEEDED", "NEEDS_REVIEW", "REPLAN"]
    reviewReasons: list[str]
    normalizedKey: str | None
    rawPrefix: str
    pages: int
    fields: dict[str, FieldSummary]
    replan: Classification | None
    method: str


class Outcome(TypedDict):
    """The terminal outcome of one upload, as recorded and published."""

    status: str
    uploadId: str
    documentId: NotRequired[str | None]
    docType: NotRequired[str | None]
    detailType: str
    error: NotRequired[dict[str, Any] | None]
