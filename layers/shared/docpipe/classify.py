"""Choose a document's docType and the Textract plan that extracts it.

Evidence in order of trust: an explicit hint in the key (`incoming/<type>/…` or a type word in the
file name), the object's `doc-type` metadata or tag, then the PDF text layer. Images carry no text
layer, so an unhinted image gets the expense-first plan: AnalyzeExpense returns both the full text
(its Blocks) and expense fields, and NormalizeDocument refines the docType from that text. When the
text shows an ID, an insurance document or a generic form, the state machine runs Textract once more
with that docType's plan (a hint in the key or metadata saves that second call).
"""

from __future__ import annotations

import re
import tempfile
from typing import Any

from docpipe.contracts import Classification, TextractPlan
from docpipe.errors import AccessDenied

EXPENSE_DOC_TYPES = frozenset({"receipt", "invoice"})
SYNC_MEDIA_TYPES = frozenset({"image/png", "image/jpeg"})
TEXT_LAYER_MAX_BYTES = 20 * 1024 * 1024
TEXT_LAYER_PAGES = 2

_ALIASES = {
    "receipt": "receipt", "receipts": "receipt",
    "invoice": "invoice", "invoices": "invoice", "bill": "invoice", "bills": "invoice",
    "insurance": "insurance", "policy": "insurance", "claim": "insurance",
    "identity": "identity", "id": "identity", "ids": "identity", "passport": "identity", "licence": "identity",
    "license": "identity", "driver-license": "identity",
    "generic": "generic", "form": "generic", "forms": "generic",
}

# Phrases that, seen in a document's text, point at a docType; two hits are needed to decide.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "receipt": ("receipt", "cashier", "change due", "thank you for shopping", "subtotal", "tender", "visa",
                "mastercard", "cash", "store #", "trans", "qty"),
    "invoice": ("invoice", "bill to", "amount due", "due date", "invoice number", "invoice date", "payment terms",
                "remit", "po number", "balance due"),
    "insurance": ("policy number", "insured", "premium", "coverage", "member id", "group number", "insurer",
                  "policyholder", "deductible", "claim number"),
    "identity": ("driver license", "driver's license", "passport", "date of birth", "dob", "expires", "class",
                 "nationality", "identity card"),
}

# Whole words only: "dob" must not match "Adobe", nor "class" "classic".
_KEYWORD_PATTERNS = {t: [re.compile(rf"(?<![a-z]){re.escape(w)}(?![a-z])") for w in words] for t, words in _KEYWORDS.items()}

# Textract Queries per docType that uses them (insurance); aliases become field names.
QUERIES: dict[str, list[dict[str, str]]] = {
    "insurance": [
        {"Text": "What is the policy number?", "Alias": "policy_number"},
        {"Text": "Who is the insurance company?", "Alias": "insurer_name"},
        {"Text": "What is the name of the insured or member?", "Alias": "insured_name"},
        {"Text": "What is the member ID?", "Alias": "member_id"},
        {"Text": "What is the group number?", "Alias": "group_number"},
        {"Text": "What is the effective date?", "Alias": "effective_date"},
        {"Text": "What is the expiration date?", "Alias": "expiration_date"},
        {"Text": "What is the premium?", "Alias": "premium"},
        {"Text": "What is the coverage?", "Alias": "coverage"},
    ],
}


def doc_type_from_hint(value: str | None) -> str | None:
    """A docType named by a hint string (`receipts`, `Invoice`, `id`), or None."""
    if not value:
        return None
    return _ALIASES.get(value.strip().lower())


def doc_type_from_key(key: str, incoming_prefix: str) -> str | None:
    """`incoming/receipts/x.pdf` → receipt; `incoming/2024-03-receipt.jpg` → receipt."""
    relative = key[len(incoming_prefix):] if key.startswith(incoming_prefix) else key
    parts = relative.split("/")
    for folder in parts[:-1]:
        found = doc_type_from_hint(folder)
        if found:
            return found
    stem = parts[-1].rsplit(".", 1)[0].lower()
    hits = {_ALIASES[token] for token in re.split(r"[^a-z]+", stem) if token in _ALIASES and len(token) > 2}
    return hits.pop() if len(hits) == 1 else None


def doc_type_from_text(text: str) -> str | None:
    """The docType whose keywords the text hits most (at least twice), or None."""
    lowered = " ".join(text.lower().split())
    scores = {t: sum(1 for pattern in patterns if pattern.search(lowered)) for t, patterns in _KEYWORD_PATTERNS.items()}
    best = max(scores, key=lambda t: scores[t])
    if scores[best] < 2 or list(scores.values()).count(scores[best]) > 1:
        return None
    return best


def plan_for(doc_type: str, media_type: str, page_count: int, *, expense_first: bool = False) -> TextractPlan:
    """The Textract API, features and sync/async mode for a docType and document shape."""
    single_image = media_type in SYNC_MEDIA_TYPES or (media_type == "image/tiff" and page_count == 1)
    mode = "sync" if single_image else "async"
    if doc_type == "identity" and single_image:
        return {"api": "AnalyzeID", "mode": "sync", "featureTypes": [], "queries": []}
    if doc_type in ("receipt", "invoice") or expense_first:
        return {"api": "AnalyzeExpense", "mode": mode, "featureTypes": [], "queries": []}
    if doc_type in ("insurance", "identity"):
        queries = QUERIES.get(doc_type, [])
        features = ["QUERIES", "FORMS"] if queries else ["FORMS"]
        return {"api": "AnalyzeDocument", "mode": mode, "featureTypes": features, "queries": queries}
    return {"api": "AnalyzeDocument", "mode": mode, "featureTypes": ["FORMS", "TABLES"], "queries": []}


def pdf_text(s3: Any, bucket: str, key: str, version_id: str | None, size: int) -> str:
    """Text of the first pages' text layer of a small enough PDF ('' when there is none)."""
    import pypdfium2

    if size > TEXT_LAYER_MAX_BYTES:
        return ""
    extra = {"VersionId": version_id} if version_id else {}
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        s3.download_fileobj(bucket, key, handle, ExtraArgs=extra or None)
        handle.flush()
        pdf = pypdfium2.PdfDocument(handle.name)
        try:
            chunks = []
            for index in range(min(len(pdf), TEXT_LAYER_PAGES)):
                page = pdf[index]
                textpage = page.get_textpage()
                chunks.append(textpage.get_text_range())
                textpage.close()
                page.close()
            return "\n".join(chunks)
        finally:
            pdf.close()


def object_hint(s3: Any, bucket: str, key: str, version_id: str | None) -> str | None:
    """The docType named by the object's `doc-type` metadata or tag, if any."""
    extra = {"VersionId": version_id} if version_id else {}
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **extra)
        found = doc_type_from_hint(head.get("Metadata", {}).get("doc-type"))
        if found:
            return found
        tags = s3.get_object_tagging(Bucket=bucket, Key=key, **extra).get("TagSet", [])
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("AccessDenied", "403"):
            raise AccessDenied("Reading the upload's metadata or tags was denied.") from error
        raise
    for tag in tags:
        if tag.get("Key") == "doc-type":
            return doc_type_from_hint(tag.get("Value"))
    return None


def classify(
    s3: Any, *, bucket: str, key: str, version_id: str | None, document: dict[str, Any], incoming_prefix: str
) -> Classification:
    """docType, where it came from, and the Textract plan."""
    media_type, pages = document["mediaType"], int(document["pageCount"])
    found = doc_type_from_key(key, incoming_prefix)
    source = "key"
    if not found:
        found, source = object_hint(s3, bucket, key, version_id), "metadata"
    if not found and media_type == "application/pdf":
        found, source = doc_type_from_text(pdf_text(s3, bucket, key, version_id, int(document["size"]))), "text"
    if found:
        return {"docType": found, "source": source, "plan": plan_for(found, media_type, pages)}
    return {"docType": "generic", "source": "default", "plan": plan_for("generic", media_type, pages, expense_first=True)}
