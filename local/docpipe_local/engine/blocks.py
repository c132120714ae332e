"""Textract Block lists for DetectDocumentText and AnalyzeDocument, one page at a time.

Per page the order follows real responses: PAGE, its LINEs, their WORDs, then TABLE and CELLs,
KEY/VALUE pairs, and QUERY/QUERY_RESULT.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from docpipe_local.engine import forms
from docpipe_local.engine.layout import Box, Page, Word, geometry, new_id

_FULL_PAGE = Box(0.0, 0.0, 1.0, 1.0).quad()


def _child(ids: Sequence[str]) -> list[dict[str, Any]]:
    return [{"Type": "CHILD", "Ids": list(ids)}] if ids else []


def text_blocks(page: Page, children: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The PAGE block (children: its lines, then `children`) followed by its LINE and WORD blocks."""
    lines: list[dict[str, Any]] = []
    words: list[dict[str, Any]] = []
    for line in page.lines:
        lines.append({"BlockType": "LINE", "Confidence": line.confidence, "Text": line.text,
                      "Geometry": geometry(line.polygon), "Id": line.id,
                      "Relationships": _child([w.id for w in line.words]), "Page": page.number})
        words.extend(_word(w, page) for w in line.words)
    page_block = {"BlockType": "PAGE", "Geometry": geometry(_FULL_PAGE), "Id": new_id(),
                  "Relationships": _child([*(line.id for line in page.lines), *children]), "Page": page.number}
    return [page_block, *lines, *words]


def _word(word: Word, page: Page) -> dict[str, Any]:
    block = {"BlockType": "WORD", "Confidence": word.confidence, "Text": word.text,
             "Geometry": geometry(word.polygon), "Id": word.id, "Page": page.number}
    # A text layer is printed text by definition; OCR here cannot tell print from handwriting.
    if page.source == "text-layer":
        block["TextType"] = "PRINTED"
    return block


def analyze_page(page: Page, features: set[str], queries: Sequence[dict[str, Any]],
                 labels: Iterable[str]) -> list[dict[str, Any]]:
    """PAGE/LINE/WORD plus the blocks of the requested features; `queries` already filtered to
    the ones that apply to this page."""
    extra: list[dict[str, Any]] = []
    if "TABLES" in features:
        for table in forms.tables(page):
            extra.extend(_table_blocks(table))
    if "FORMS" in features:
        for pair in forms.key_values(page, labels):
            extra.extend(_pair_blocks(pair))
    if queries:
        # Labels the queries name are keys for answering them, not for the FORMS output.
        hinted = forms.key_values(page, {*labels, *forms.query_labels(q["Text"] for q in queries)})
        for query in queries:
            extra.extend(_query_blocks(query, forms.answer(query["Text"], hinted), page.number))
    children = [b["Id"] for b in extra if b["BlockType"] in ("TABLE", "KEY_VALUE_SET", "QUERY", "QUERY_RESULT")]
    return [*text_blocks(page, children), *extra]


def _table_blocks(table: forms.Table) -> list[dict[str, Any]]:
    cells = []
    for cell in table.cells:
        block: dict[str, Any] = {
            "BlockType": "CELL",
            "Confidence": (sum(w.confidence for w in cell.words) / len(cell.words) * 0.9) if cell.words
            else table.confidence,
            "RowIndex": cell.row, "ColumnIndex": cell.column, "RowSpan": 1, "ColumnSpan": 1,
            "Geometry": geometry(cell.box.quad()), "Id": new_id(), "Page": table.page,
        }
        if cell.words:
            block["Relationships"] = _child([w.id for w in cell.words])
        if cell.header:
            block["EntityTypes"] = ["COLUMN_HEADER"]
        cells.append(block)
    table_block = {"BlockType": "TABLE", "Confidence": table.confidence, "Geometry": geometry(table.box.quad()),
                   "Id": new_id(), "Relationships": _child([c["Id"] for c in cells]),
                   "EntityTypes": ["STRUCTURED_TABLE"], "Page": table.page}
    return [table_block, *cells]


def _pair_blocks(pair: forms.KeyValue) -> list[dict[str, Any]]:
    key_id, value_id = new_id(), new_id()
    confidence = pair.confidence
    key = {"BlockType": "KEY_VALUE_SET", "Confidence": confidence,
           "Geometry": geometry(forms.value_polygon(pair.key)), "Id": key_id,
           "Relationships": [{"Type": "VALUE", "Ids": [value_id]}, *_child([w.id for w in pair.key])],
           "EntityTypes": ["KEY"], "Page": pair.page}
    value = {"BlockType": "KEY_VALUE_SET", "Confidence": confidence,
             "Geometry": geometry(forms.value_polygon(pair.value)), "Id": value_id,
             "Relationships": _child([w.id for w in pair.value]), "EntityTypes": ["VALUE"], "Page": pair.page}
    return [key, value]


def _query_blocks(query: dict[str, Any], found: forms.Answer | None, page: int) -> list[dict[str, Any]]:
    block: dict[str, Any] = {"BlockType": "QUERY", "Id": new_id(), "Query": dict(query), "Page": page}
    if found is None:
        return [block]
    result = {"BlockType": "QUERY_RESULT", "Confidence": found.confidence,
              "Text": " ".join(w.text for w in found.words),
              "Geometry": geometry(forms.value_polygon(found.words)), "Id": new_id(), "Page": page}
    block["Relationships"] = [{"Type": "ANSWER", "Ids": [result["Id"]]}]
    return [block, result]
