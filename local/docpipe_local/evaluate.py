"""`docpipe eval DIR`: extraction quality against ground truth, measured through the whole pipeline.

Every document in DIR with a `<name>.truth.json` beside it (`{"docType": "...", "fields": {name:
value}}`, the values a person reads on the document) runs through the local twin; each expected
field is then compared with what the pipeline recorded.
"""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from docpipe_local.run import collect
from docpipe_local.twin.twin import LocalTwin

TRUTH_SUFFIX = ".truth.json"


@dataclass
class FieldScore:
    """Counts for one field name across documents."""

    expected: int = 0
    predicted: int = 0
    matched: int = 0

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 0.0


@dataclass
class Evaluation:
    fields: dict[str, FieldScore] = field(default_factory=dict)
    doc_types: Counter[tuple[str, str]] = field(default_factory=Counter)
    documents: int = 0

    @property
    def matched(self) -> int:
        return sum(s.matched for s in self.fields.values())

    @property
    def expected(self) -> int:
        return sum(s.expected for s in self.fields.values())


def same_value(expected: Any, predicted: Any) -> bool:
    """Equal as numbers when both are numbers ("154.06" == "154.060"), else as trimmed case-folded text."""
    if predicted is None:
        return False
    try:
        return Decimal(str(expected)) == Decimal(str(predicted))
    except (InvalidOperation, ValueError):
        return " ".join(str(expected).split()).casefold() == " ".join(str(predicted).split()).casefold()


def pairs(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(document, truth) for every document that has a truth file next to it."""
    found = []
    for truth_path in sorted(directory.glob(f"*{TRUTH_SUFFIX}")):
        stem = truth_path.name[: -len(TRUTH_SUFFIX)]
        documents = [p for p in directory.iterdir() if p.is_file() and p.name != truth_path.name
                     and (p.name == stem or p.stem == stem) and not p.name.endswith(TRUTH_SUFFIX)]
        if not documents:
            raise SystemExit(f"docpipe: {truth_path.name} has no document next to it")
        found.append((documents[0], json.loads(truth_path.read_text(encoding="utf-8"))))
    if not found:
        raise SystemExit(f"docpipe: no *{TRUTH_SUFFIX} files in {directory}")
    return found


def score(evaluation: Evaluation, truth: dict[str, Any], doc_type: str | None, fields: dict[str, Any]) -> None:
    evaluation.documents += 1
    evaluation.doc_types[(truth.get("docType", "?"), doc_type or "-")] += 1
    for name, expected in (truth.get("fields") or {}).items():
        stats = evaluation.fields.setdefault(name, FieldScore())
        stats.expected += 1
        predicted = (fields.get(name) or {}).get("value")
        if predicted is not None:
            stats.predicted += 1
            stats.matched += same_value(expected, predicted)


def report(evaluation: Evaluation, stream: TextIO) -> None:
    stream.write(f"{'field':<20} {'expected':>8} {'precision':>9} {'recall':>7} {'exact':>7}\n")
    for name in sorted(evaluation.fields):
        s = evaluation.fields[name]
        stream.write(f"{name:<20} {s.expected:>8} {s.precision:>9.0%} {s.recall:>7.0%} "
                     f"{s.matched / s.expected:>7.0%}\n")
    stream.write("\ndocType confusion (truth → predicted: documents)\n")
    for (truth, predicted), count in sorted(evaluation.doc_types.items()):
        stream.write(f"  {truth} → {predicted}: {count}\n")
    percent = evaluation.matched / evaluation.expected if evaluation.expected else 0.0
    stream.write(f"fields: {evaluation.matched} matched of {evaluation.expected} ({percent:.0%})\n")


def evaluate(root: Path, directory: Path, *, replay_dir: Path | None, stream: TextIO | None = None) -> Evaluation:
    """Run every document with ground truth through the twin and report per-field scores."""
    work = pairs(directory)
    evaluation = Evaluation()
    with LocalTwin(root, log_stream=io.StringIO(), replay_dir=replay_dir) as twin:
        uploads = [twin.upload(path) for path, _ in work]
        twin.pump_intake()
        described = twin.wait(uploads)
        for upload, (_, truth) in zip(uploads, work):
            result = collect(twin, upload, described[upload.upload_id])
            score(evaluation, truth, result.doc_type, result.fields)
    report(evaluation, stream or sys.stdout)
    return evaluation
