"""Raw Textract responses → the normalized, confidence-scored document of each docType.

`normalize` dispatches on the docType; `validate_output` checks a result against its JSON Schema
(`docpipe/schemas/<docType>.schema.json`, Draft 2020-12) before it is persisted; `summarize` keeps
the scalar fields only, for the document record and the CLI. No I/O here: the caller reads S3 and
hands in the response objects in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from docpipe.contracts import DOC_TYPES
from docpipe.errors import ConfigurationError, OutputSchemaViolation
from docpipe.normalize.generic import normalize_generic
from docpipe.normalize.identity import normalize_identity
from docpipe.normalize.insurance import normalize_insurance
from docpipe.normalize.invoice import normalize_invoice
from docpipe.normalize.receipt import normalize_receipt

__all__ = ["NORMALIZERS", "normalize", "summarize", "validate_output"]

Normalizer = Callable[..., dict[str, Any]]

NORMALIZERS: dict[str, Normalizer] = {
    "receipt": normalize_receipt,
    "invoice": normalize_invoice,
    "insurance": normalize_insurance,
    "identity": normalize_identity,
    "generic": normalize_generic,
}
assert set(NORMALIZERS) == set(DOC_TYPES), "every docType needs a normalizer"


def normalize(
    doc_type: str, responses: Iterable[Mapping[str, Any]], *, threshold: float, locale: str, document_id: str
) -> dict[str, Any]:
    """The normalized document for `doc_type` from Textract response objects in order (read once, page by page).

    An unknown docType is a deployment fault (classifier and normalizers disagree): ConfigurationError.
    """
    normalizer = NORMALIZERS.get(doc_type)
    if normalizer is None:
        raise ConfigurationError(f"No normalizer for docType {doc_type!r}.", doc_type=doc_type)
    return normalizer(responses, threshold=threshold, locale=locale, document_id=document_id)


@cache
def _validator(doc_type: str) -> Draft202012Validator:
    schema = json.loads(files("docpipe").joinpath("schemas", f"{doc_type}.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _path(error: ValidationError) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def _describe(error: ValidationError) -> str:
    """What is wrong, in words that never repeat the offending value."""
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "required" and isinstance(instance, dict):
        return f"missing {', '.join(p for p in expected if p not in instance)}"
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        return f"unexpected {', '.join(sorted(str(k) for k in instance if k not in known))}"
    if keyword == "propertyNames":
        return "has a property name the schema does not allow"
    if keyword == "type":
        return f"must be of type {expected}"
    if keyword in ("const", "enum"):
        return f"must be one of {expected if keyword == 'enum' else [expected]}"
    if keyword == "pattern":
        return "does not have the expected format"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"is outside the allowed range ({keyword} {expected})"
    if keyword in ("minLength", "maxLength", "minItems", "maxItems"):
        return f"violates {keyword} {expected}"
    return f"fails the {keyword!r} rule"


def validate_output(doc: Mapping[str, Any]) -> None:
    """Validate a normalized document against its docType's schema; OutputSchemaViolation names the failing path."""
    doc_type = doc.get("docType") if isinstance(doc, Mapping) else None
    if doc_type not in NORMALIZERS:
        raise OutputSchemaViolation("The normalized output has no known docType.", path="$.docType")
    error = best_match(_validator(str(doc_type)).iter_errors(doc))
    if error is not None:
        path = _path(error)
        raise OutputSchemaViolation(
            f"The normalized {doc_type} output does not match its schema at {path}: {_describe(error)}.",
            path=path, rule=error.validator,
        )


def summarize(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The readable scalar fields as {name: {"value", "confidence"}} (small: for the record and the CLI)."""
    return {
        name: {"value": field["value"], "confidence": field["confidence"]}
        for name, field in (doc.get("fields") or {}).items()
        if field.get("value") is not None
    }
