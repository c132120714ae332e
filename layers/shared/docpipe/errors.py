"""The error taxonomy the state machine keys on.

Handlers raise these classes unchanged: on Lambda the class name becomes `errorType`, which is what
the ASL's `ErrorEquals` matches. Wrapping one in a generic Exception would silently disable Retry.
"""

from __future__ import annotations

from typing import Any, ClassVar

REJECTED = "REJECTED"
FAILED = "FAILED"


class DocpipeError(Exception):
    """Base class: a stable `code`, a human `message`, and how the pipeline must treat it."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "docpipe could not process this document."
    retryable: ClassVar[bool] = False
    counts_toward_breaker: ClassVar[bool] = False
    terminal_status: ClassVar[str] = FAILED

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The error as recorded on the document and shown to users."""
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


class DocumentError(DocpipeError):
    """Something about the document itself: never retried, never counted toward the breaker."""


class DocumentRejected(DocumentError):
    """The upload is not a document docpipe accepts (ends REJECTED)."""

    terminal_status: ClassVar[str] = REJECTED


class EmptyDocument(DocumentRejected):
    code = "EMPTY_DOCUMENT"
    default_message = "The uploaded file is empty."


class DocumentTooLarge(DocumentRejected):
    code = "DOCUMENT_TOO_LARGE"
    default_message = "The file is larger than the configured maximum size."


class UnsupportedMediaType(DocumentRejected):
    code = "UNSUPPORTED_TYPE"
    default_message = "The file is not a supported type (PDF, PNG, JPEG or TIFF)."


class SpoofedMediaType(DocumentRejected):
    code = "SPOOFED_TYPE"
    default_message = "The file's content does not match its name or declared type."


class EncryptedDocument(DocumentRejected):
    code = "ENCRYPTED_DOCUMENT"
    default_message = "The PDF is password-protected or encrypted; upload an unprotected copy."


class CorruptDocument(DocumentRejected):
    code = "CORRUPT_DOCUMENT"
    default_message = "The file is damaged or truncated and cannot be read."


class TooManyPages(DocumentRejected):
    code = "TOO_MANY_PAGES"
    default_message = "The document has more pages than the configured maximum."


class SourceObjectMissing(DocumentRejected):
    code = "SOURCE_MISSING"
    default_message = "The uploaded object no longer exists (it was deleted or overwritten)."


class TextractDocumentError(DocumentError):
    """Textract refused the document (InvalidS3Object, UnsupportedDocument, BadDocument, ...)."""

    code = "TEXTRACT_UNREADABLE"
    default_message = "Textract could not read this document."


class TextractJobFailed(DocumentError):
    code = "TEXTRACT_JOB_FAILED"
    default_message = "The Textract job for this document ended FAILED."


class TextractJobInProgress(DocpipeError):
    """Not a failure: PollTextract's signal that the job is still running, so its Retry polls again."""

    code = "TEXTRACT_JOB_IN_PROGRESS"
    default_message = "The Textract job is still running."
    retryable = True


class TextractTimedOut(DocumentError):
    code = "TEXTRACT_TIMEOUT"
    default_message = "The Textract job did not finish before the polling deadline."


class OutputSchemaViolation(DocumentError):
    code = "SCHEMA_VIOLATION"
    default_message = "The extracted data did not match the document type's schema."


class RetryableServiceError(DocpipeError):
    """A dependency is throttling or failing: retried with backoff, counted toward the breaker."""

    retryable = True
    counts_toward_breaker = True


class TextractThrottled(RetryableServiceError):
    code = "TEXTRACT_THROTTLED"
    default_message = "Textract is throttling requests."


class TextractLimitExceeded(RetryableServiceError):
    code = "TEXTRACT_LIMIT_EXCEEDED"
    default_message = "Textract's concurrent job limit was reached."


class TextractServiceError(RetryableServiceError):
    code = "TEXTRACT_SERVICE_ERROR"
    default_message = "Textract returned an internal error."


class StorageThrottled(RetryableServiceError):
    code = "STORAGE_THROTTLED"
    default_message = "S3 or DynamoDB is throttling requests."
    counts_toward_breaker = False


class CircuitOpen(DocpipeError):
    code = "CIRCUIT_OPEN"
    default_message = "Textract is unavailable (circuit breaker open) and the wait budget ran out."
    retryable = True


class TextractCapacityFull(DocpipeError):
    """Every Textract slot (admission control) is taken: StartTextract's Retry asks again later."""

    code = "TEXTRACT_CAPACITY_FULL"
    default_message = "Every Textract slot is taken; this document waits for one."
    retryable = True


class AdmissionWaitExceeded(DocpipeError):
    """An upload waited in the intake queue for a Textract slot for longer than docpipe allows."""

    code = "ADMISSION_WAIT_EXCEEDED"
    default_message = "The upload waited too long for a Textract slot; slots may be held by executions that ended."
    retryable = True


class ConfigurationError(DocpipeError):
    """The deployment is wrong (missing variable, access denied): fail fast and alarm."""

    code = "CONFIGURATION_ERROR"
    default_message = "docpipe is misconfigured."


class MissingConfiguration(ConfigurationError):
    code = "MISSING_CONFIGURATION"


class AccessDenied(ConfigurationError):
    code = "ACCESS_DENIED"
    default_message = "docpipe's role is not allowed to perform an operation it needs."


def _subclasses(cls: type[DocpipeError]) -> list[type[DocpipeError]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


ERROR_CLASSES: dict[str, type[DocpipeError]] = {c.__name__: c for c in _subclasses(DocpipeError)}
ERROR_CLASSES[DocpipeError.__name__] = DocpipeError

# Step Functions and Lambda runtime errors that are transient on the service side.
TRANSIENT_PLATFORM_ERRORS = frozenset(
    {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "States.Timeout",
        "States.TaskFailed",
    }
)


def error_class(name: str) -> type[DocpipeError] | None:
    """The docpipe error class named `name` (a Lambda errorType), if it is one of ours."""
    return ERROR_CLASSES.get(name)
