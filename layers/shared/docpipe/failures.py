"""Turn a caught failure into a recorded terminal state (REJECTED or FAILED).

Every Catch in the state machine writes `{"Error", "Cause"}` under `$.failure.<StateName>`, so the
failing state is the key. A docpipe error's class name is the Lambda errorType; its code and
retryability come from the class, its message from the Lambda error payload. Anything else is
classified without echoing its text (it could carry document content).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from docpipe.contracts import DETAIL_TYPES
from docpipe.errors import FAILED, TRANSIENT_PLATFORM_ERRORS, error_class
from docpipe.records import finish_document, get_document, write_upload


@dataclass(frozen=True)
class FailureInfo:
    state: str
    error_type: str
    code: str
    message: str
    retryable: bool
    terminal_status: str
    counts_toward_breaker: bool

    def to_record(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable, "state": self.state,
                "errorType": self.error_type}


def _cause_message(cause: str | None) -> str | None:
    if not cause:
        return None
    try:
        payload = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(payload, dict):
        return payload.get("errorMessage")
    return None


def describe(failure: dict[str, Any]) -> FailureInfo:
    """Classify the `$.failure` object of the execution state."""
    if not failure:
        return FailureInfo("Unknown", "Unknown", "INTERNAL_ERROR", "The pipeline failed without error details.",
                           False, FAILED, False)
    state, detail = next(iter(failure.items()))
    error_type = str(detail.get("Error") or "Unknown")
    cls = error_class(error_type)
    if cls is not None:
        message = _cause_message(detail.get("Cause")) or cls.default_message
        return FailureInfo(state, error_type, cls.code, message, cls.retryable, cls.terminal_status,
                           cls.counts_toward_breaker)
    if error_type in TRANSIENT_PLATFORM_ERRORS:
        return FailureInfo(state, error_type, "PLATFORM_ERROR",
                           f"{state} failed with a transient AWS error ({error_type}) after retries.",
                           True, FAILED, False)
    return FailureInfo(state, error_type, "INTERNAL_ERROR",
                       f"{state} failed with an unexpected error ({error_type}).", False, FAILED, False)


def record(
    ddb: Any,
    table: str,
    *,
    state: dict[str, Any],
    execution_name: str,
    retention_days: int,
) -> tuple[FailureInfo, dict[str, Any]]:
    """Record the upload (and, if this execution owns it, the document) as REJECTED or FAILED.

    Returns the classified failure and the outcome to publish.
    """
    info = describe(state.get("failure") or {})
    document = state.get("document") or {}
    document_id = document.get("documentId")
    doc_type = (state.get("classification") or {}).get("docType")
    upload = {"uploadId": state["uploadId"], "bucket": state["bucket"], "key": state["key"],
              "versionId": state.get("versionId")}
    error = info.to_record()
    owned = bool(document_id) and (get_document(ddb, table, document_id) or {}).get("executionName") == execution_name
    if owned:
        finish_document(ddb, table, document_id=document_id, upload_id=upload["uploadId"],
                        execution_name=execution_name,
                        values={"status": info.terminal_status, "error": error, "docType": doc_type})
    else:
        write_upload(ddb, table, upload=upload, execution_name=execution_name, retention_days=retention_days,
                     status=info.terminal_status, document_id=document_id, extra={"error": error})
    outcome = {"status": info.terminal_status, "detailType": DETAIL_TYPES[info.terminal_status],
               "uploadId": upload["uploadId"], "documentId": document_id, "docType": doc_type, "error": error}
    return info, outcome
