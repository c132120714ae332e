"""Insurance documents (policies, cards, certificates), from AnalyzeDocument QUERIES + FORMS.

Query aliases are the field names (see `docpipe.classify.QUERIES`); form keys are matched by what
they say ('Policy No.', 'Member ID', 'Group #', 'Effective Date', …). A field takes the most
confident reading from either source. This is an honest first mapping, not a tuned extractor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from docpipe.normalize.common import BestFields, Candidate, Kind, convert, document, key_text, review
from docpipe.normalize.values import clean_name, locale_currency
from docpipe.textract.blocks import NOT_SELECTED, SELECTED, StreamStats, iter_pages

FIELDS: dict[str, Kind] = {
    "policy_number": "text", "insurer_name": "name", "insured_name": "name", "member_id": "text",
    "group_number": "text", "effective_date": "date", "expiration_date": "date", "premium": "money",
    "coverage": "text",
}
REQUIRED = (("policy_number", "member_id"),)

_KEYS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), name) for p, name in (
    (r"^(policy|pol|certificate|contract)( (number|no|num|#|id))?( #)?$|^policy ?#$", "policy_number"),
    (r"^(member|subscriber|identification|insured|enrollee)( (id|number|no|#|id number|id no))+$|^id( (number|no|#))?$",
     "member_id"),
    (r"^(group|grp)( (number|no|num|#|id))?( #)?$", "group_number"),
    (r"^(insurer|insurance company|insurance carrier|carrier|company|payer|underwriter|issued by)$", "insurer_name"),
    ((r"^(insured|name of insured|insured name|named insured|policy ?holder|policy ?holder name|member|member name|"
      r"subscriber|subscriber name|name)$"), "insured_name"),
    ((r"^(effective|eff|effective date|eff date|coverage (start|begins|effective)|start date|policy period from|"
      r"period from|from)$"), "effective_date"),
    ((r"^(expiration|expiry|expires|exp|expiration date|expiry date|exp date|end date|policy period to|period to|to|"
      r"valid (until|thru|through))$"), "expiration_date"),
    (r"^((total|annual|monthly|policy) )?premium( amount)?$", "premium"),
    (r"^(coverage|coverage type|type of coverage|plan|plan type|plan name|coverage amount|limits?)$", "coverage"),
))


def field_for_key(key: str) -> str | None:
    """The insurance field a form key names ('Policy No.:' → policy_number), or None."""
    text = key_text(key)
    return next((name for pattern, name in _KEYS if pattern.search(text)), None)


def field_for_alias(alias: str) -> str | None:
    """The field a query alias names (aliases are field names; 'POLICY_NUMBER' and 'policy number' also work)."""
    name = re.sub(r"[\s\-]+", "_", alias.strip().lower())
    return name if name in FIELDS else None


def normalize_insurance(
    responses: Iterable[Mapping[str, Any]], *, threshold: float, locale: str, document_id: str
) -> dict[str, Any]:
    """Insurance fields from query answers and form keys; NEEDS_REVIEW without a policy number or member ID."""
    stats = StreamStats()
    best = BestFields()
    for page in iter_pages(responses, stats):
        found = [(field_for_alias(a.alias), Candidate(a.text, a.confidence, a.page, f"QUERY:{a.alias}"))
                 for a in page.query_answers()]
        found += [(field_for_key(kv.key), Candidate(kv.value, kv.confidence, kv.page, f"KEY:{clean_name(kv.key)}"))
                  for kv in page.key_values() if kv.value and kv.value not in (SELECTED, NOT_SELECTED)]
        for name, cand in found:
            if name is None:
                continue
            best.offer(name, convert(FIELDS[name], cand, locale)[0])
    fields = {name: best.fields[name] for name in FIELDS if name in best.fields}
    premium = fields.get("premium")
    if premium is not None and premium["value"] is not None and "currency" not in premium:
        default = locale_currency(locale)  # the premium showed no currency of its own
        if default:
            premium["currency"] = default
    return document("insurance", document_id, stats.page_count, fields, review(fields, REQUIRED, threshold))
