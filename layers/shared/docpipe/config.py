"""Every environment variable docpipe reads, in one place.

Values are read at call time, not import time: one process (the local twin, a test run) hosts
several functions with different environments. A missing variable fails loudly; nothing is
defaulted to a placeholder.
"""

from __future__ import annotations

import os

from docpipe.errors import MissingConfiguration


def _require(name: str) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        raise MissingConfiguration(f"Environment variable {name} is not set.")
    return value


def _int(name: str) -> int:
    raw = _require(name)
    try:
        return int(raw)
    except ValueError:
        raise MissingConfiguration(f"Environment variable {name} must be an integer, got {raw!r}.") from None


def documents_bucket() -> str:
    """Bucket holding incoming/ uploads and results/ artifacts."""
    return _require("DOCUMENTS_BUCKET")


def documents_table() -> str:
    """DynamoDB table with document, upload and breaker items."""
    return _require("DOCUMENTS_TABLE")


def state_machine_arn() -> str:
    return _require("STATE_MACHINE_ARN")


def incoming_prefix() -> str:
    return _require("INCOMING_PREFIX")


def results_prefix() -> str:
    return _require("RESULTS_PREFIX")


def max_document_bytes() -> int:
    return _int("MAX_DOCUMENT_BYTES")


def max_pages() -> int:
    return _int("MAX_PAGES")


def allowed_media_types() -> frozenset[str]:
    return frozenset(t.strip() for t in _require("ALLOWED_MEDIA_TYPES").split(",") if t.strip())


def confidence_threshold() -> float:
    return float(_int("CONFIDENCE_THRESHOLD"))


def retention_days() -> int:
    return _int("RETENTION_DAYS")


def poll_initial_seconds() -> int:
    return _int("POLL_INITIAL_SECONDS")


def poll_deadline_seconds() -> int:
    return _int("POLL_DEADLINE_SECONDS")


def breaker_failure_threshold() -> int:
    return _int("BREAKER_FAILURE_THRESHOLD")


def breaker_window_seconds() -> int:
    return _int("BREAKER_WINDOW_SECONDS")


def breaker_cooldown_seconds() -> int:
    return _int("BREAKER_COOLDOWN_SECONDS")


def outcome_event_bus() -> str:
    """EventBridge bus that receives document outcomes and breaker transitions."""
    return _require("OUTCOME_EVENT_BUS_NAME")


def default_locale() -> str:
    """Locale used to resolve ambiguous dates/currencies when the document gives no evidence."""
    return _require("DEFAULT_LOCALE")


def metrics_namespace() -> str:
    """CloudWatch namespace of every docpipe metric (Powertools reads the same variable)."""
    return _require("POWERTOOLS_METRICS_NAMESPACE")


def documents_key() -> str:
    """The KMS key (id, ARN or alias) that encrypts docpipe's data, Textract's async output included."""
    return _require("DOCUMENTS_KEY")


def admission_ceiling() -> int:
    """How many documents may hold a Textract slot at once (the account's concurrent async-job quota)."""
    return _int("ADMISSION_CEILING")


def admission_wait_seconds() -> int:
    """How long an upload waits in the intake queue before asking for a slot again."""
    return _int("ADMISSION_WAIT_SECONDS")


def intake_queue_url() -> str:
    return _require("INTAKE_QUEUE_URL")
