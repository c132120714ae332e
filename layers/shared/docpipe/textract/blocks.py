"""Page-at-a-time reading of raw Textract responses.

The input is always an iterable of response dicts in order: the single response of a sync call
(AnalyzeExpense, AnalyzeDocument, DetectDocumentText, AnalyzeID) or the pages of an async result
(Get* pages, or the OutputConfig objects `<prefix>/<JobId>/1, /2, …`, which have the same shape).

Blocks are grouped by their `Page` (sync responses omit it: they are one page). One page's blocks
may be spread over two consecutive response objects (Textract writes at most 1,000 blocks per
object), so a page is handed out only when a block of another page arrives or the stream ends.
Only the current page's blocks are held, never the whole document's: memory does not grow with
the page count. Textract emits pages in order; should a page ever reappear later in the stream,
its late blocks come out as a second `PageBlocks` with the same number.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Block = Mapping[str, Any]
Response = Mapping[str, Any]

SELECTED = "SELECTED"
NOT_SELECTED = "NOT_SELECTED"


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    confidence: float
    page: int


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    confidence: float
    page: int
    text_type: str = "PRINTED"


@dataclass(frozen=True, slots=True)
class KeyValue:
    """A FORMS pair; `confidence` is the lower of the key's and the value's."""

    key: str
    value: str
    confidence: float
    page: int
    key_confidence: float
    value_confidence: float


@dataclass(frozen=True, slots=True)
class Cell:
    row: int
    column: int
    text: str
    confidence: float
    row_span: int = 1
    column_span: int = 1
    header: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """A TABLE as a full grid: `rows[r][c]` (0-based); positions Textract left empty are blank cells."""

    page: int
    confidence: float
    rows: tuple[tuple[Cell, ...], ...]

    def texts(self) -> list[list[str]]:
        """The grid as cell texts."""
        return [[cell.text for cell in row] for row in self.rows]


@dataclass(frozen=True, slots=True)
class QueryAnswer:
    """One QUERY_RESULT; `alias` is the query's Alias, or its text when it had none."""

    alias: str
    question: str
    text: str
    confidence: float
    page: int


@dataclass(frozen=True, slots=True)
class Selection:
    status: str
    confidence: float
    page: int


@dataclass(frozen=True, slots=True)
class ExpenseField:
    """One AnalyzeExpense SummaryField or LineItemExpenseField.

    `confidence` is the lower of the Type's and the ValueDetection's: both the classification
    ("this is the TOTAL") and the reading of the value must be trusted.
    """

    type: str
    value: str
    confidence: float
    page: int
    label: str | None = None
    currency: str | None = None
    groups: tuple[str, ...] = ()
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExpenseDocument:
    index: int
    summary_fields: tuple[ExpenseField, ...]
    line_items: tuple[tuple[ExpenseField, ...], ...]
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class IdentityField:
    """One AnalyzeID field; `normalized` is Textract's NormalizedValue (ISO date-time) when given."""

    type: str
    value: str
    confidence: float
    page: int
    normalized: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    index: int
    fields: tuple[IdentityField, ...]
    lines: tuple[Line, ...]


@dataclass
class StreamStats:
    """What a pass over the responses learnt about the document as a whole."""

    pages_reported: int = 0
    highest_page: int = 0

    def observe(self, response: Response) -> None:
        pages = (response.get("DocumentMetadata") or {}).get("Pages")
        if isinstance(pages, int) and pages > self.pages_reported:
            self.pages_reported = pages

    def saw_page(self, page: int) -> None:
        self.highest_page = max(self.highest_page, page)

    @property
    def page_count(self) -> int:
        """DocumentMetadata.Pages, or the highest page number seen if that is larger."""
        return max(self.pages_reported, self.highest_page)


def _conf(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _page_of(block: Block, default: int) -> int:
    page = block.get("Page")
    return int(page) if isinstance(page, int) and page > 0 else default


class PageBlocks:
    """The blocks of one page, indexed by Id, with readers for each kind of content."""

    __slots__ = ("_blocks", "_by_id", "number")

    def __init__(self, number: int, blocks: list[Block]) -> None:
        self.number = number
        self._blocks = blocks
        self._by_id = {b["Id"]: b for b in blocks if "Id" in b}

    def __len__(self) -> int:
        return len(self._blocks)

    def blocks(self, block_type: str | None = None) -> Iterator[Block]:
        """The page's blocks in stream order, optionally of one BlockType."""
        return (b for b in self._blocks if block_type is None or b.get("BlockType") == block_type)

    def related(self, block: Block, relationship: str = "CHILD") -> Iterator[Block]:
        """Blocks linked from `block` by a relationship type (CHILD, VALUE, ANSWER, MERGED_CELL…)."""
        for rel in block.get("Relationships") or []:
            if rel.get("Type") == relationship:
                for block_id in rel.get("Ids") or []:
                    found = self._by_id.get(block_id)
                    if found is not None:
                        yield found

    def content_text(self, block: Block) -> str:
        """Text of a block's WORD / SELECTION_ELEMENT children, space-joined."""
        parts = []
        for child in self.related(block):
            kind = child.get("BlockType")
            if kind == "WORD" and child.get("Text"):
                parts.append(child["Text"])
            elif kind == "SELECTION_ELEMENT":
                parts.append(child.get("SelectionStatus", NOT_SELECTED))
        return " ".join(parts)

    def lines(self) -> list[Line]:
        """LINEs in reading order (Textract emits them in reading order)."""
        return [Line(b.get("Text", ""), _conf(b.get("Confidence")), self.number) for b in self.blocks("LINE")]

    def text(self) -> str:
        """The page's text, one LINE per line."""
        return "\n".join(b.get("Text", "") for b in self.blocks("LINE"))

    def words(self) -> list[Word]:
        return [
            Word(b.get("Text", ""), _conf(b.get("Confidence")), self.number, b.get("TextType", "PRINTED"))
            for b in self.blocks("WORD")
        ]

    def key_values(self) -> list[KeyValue]:
        """FORMS pairs: key text, value text (selection marks as SELECTED/NOT_SELECTED)."""
        pairs = []
        for block in self.blocks("KEY_VALUE_SET"):
            if "KEY" not in (block.get("EntityTypes") or []):
                continue
            key_conf = _conf(block.get("Confidence"))
            values = list(self.related(block, "VALUE"))
            value_text = " ".join(t for t in (self.content_text(v) for v in values) if t)
            value_conf = min((_conf(v.get("Confidence")) for v in values), default=key_conf)
            pairs.append(KeyValue(self.content_text(block), value_text, min(key_conf, value_conf), self.number,
                                  key_conf, value_conf))
        return pairs

    def tables(self) -> list[Table]:
        """TABLEs as grids of cells, row by row."""
        tables = []
        for block in self.blocks("TABLE"):
            cells = []
            for cell in self.related(block):
                if cell.get("BlockType") != "CELL":
                    continue
                cells.append(Cell(
                    row=int(cell.get("RowIndex", 1)), column=int(cell.get("ColumnIndex", 1)),
                    text=self.content_text(cell), confidence=_conf(cell.get("Confidence")),
                    row_span=int(cell.get("RowSpan", 1)), column_span=int(cell.get("ColumnSpan", 1)),
                    header="COLUMN_HEADER" in (cell.get("EntityTypes") or []),
                ))
            if not cells:
                continue
            n_rows = max(c.row + c.row_span - 1 for c in cells)
            n_cols = max(c.column + c.column_span - 1 for c in cells)
            grid: list[list[Cell]] = [[Cell(r + 1, c + 1, "", 0.0) for c in range(n_cols)] for r in range(n_rows)]
            for c in cells:
                grid[c.row - 1][c.column - 1] = c
            tables.append(Table(self.number, _conf(block.get("Confidence")), tuple(tuple(r) for r in grid)))
        return tables

    def query_answers(self) -> list[QueryAnswer]:
        """Answered QUERIES on this page (a query without an ANSWER yields nothing)."""
        answers = []
        for block in self.blocks("QUERY"):
            query = block.get("Query") or {}
            question = query.get("Text", "")
            alias = query.get("Alias") or question
            for result in self.related(block, "ANSWER"):
                answers.append(QueryAnswer(alias, question, result.get("Text", ""), _conf(result.get("Confidence")),
                                           _page_of(result, self.number)))
        return answers

    def selections(self) -> list[Selection]:
        return [
            Selection(b.get("SelectionStatus", NOT_SELECTED), _conf(b.get("Confidence")), self.number)
            for b in self.blocks("SELECTION_ELEMENT")
        ]


def _expense_default_page(document: Mapping[str, Any]) -> int:
    for field in document.get("SummaryFields") or []:
        if isinstance(field.get("PageNumber"), int):
            return int(field["PageNumber"])
    for group in document.get("LineItemGroups") or []:
        for item in group.get("LineItems") or []:
            for field in item.get("LineItemExpenseFields") or []:
                if isinstance(field.get("PageNumber"), int):
                    return int(field["PageNumber"])
    return 1


def response_blocks(response: Response) -> Iterator[tuple[int, Block]]:
    """(page, block) for every block of one response object.

    AnalyzeExpense/AnalyzeID carry their blocks inside each Expense/IdentityDocument; when a
    response also has top-level Blocks (the same blocks again), only those are used.
    """
    top = response.get("Blocks")
    if top:
        for block in top:
            yield _page_of(block, 1), block
        return
    for document in response.get("ExpenseDocuments") or []:
        default = _expense_default_page(document)
        for block in document.get("Blocks") or []:
            yield _page_of(block, default), block
    for document in response.get("IdentityDocuments") or []:
        default = int(document.get("DocumentIndex") or 1)
        for block in document.get("Blocks") or []:
            yield _page_of(block, default), block


class PageGrouper:
    """Feeds response objects in, hands complete pages out (for loops that also read other parts)."""

    def __init__(self, stats: StreamStats | None = None) -> None:
        self.stats = stats if stats is not None else StreamStats()
        self._page: int | None = None
        self._buffer: list[Block] = []

    def feed(self, response: Response) -> list[PageBlocks]:
        """Take one response object; return the pages it completed."""
        self.stats.observe(response)
        done = []
        for page, block in response_blocks(response):
            if page != self._page:
                if self._buffer:
                    done.append(PageBlocks(self._page or 1, self._buffer))
                self._page, self._buffer = page, []
                self.stats.saw_page(page)
            self._buffer.append(block)
        return done

    def finish(self) -> list[PageBlocks]:
        """The last page, once the stream has ended."""
        done = [PageBlocks(self._page or 1, self._buffer)] if self._buffer else []
        self._page, self._buffer = None, []
        return done


def iter_pages(responses: Iterable[Response], stats: StreamStats | None = None) -> Iterator[PageBlocks]:
    """The document's pages in order, each complete, however its blocks were split across objects."""
    grouper = PageGrouper(stats)
    for response in responses:
        yield from grouper.feed(response)
    yield from grouper.finish()


def _clean(text: Any) -> str:
    return " ".join(str(text or "").split())


def _expense_field(raw: Mapping[str, Any], stats: StreamStats | None) -> ExpenseField | None:
    value = raw.get("ValueDetection") or {}
    text = str(value.get("Text") or "").strip()
    if not text:
        return None
    type_ = raw.get("Type") or {}
    confidence = _conf(value.get("Confidence"))
    if "Confidence" in type_:
        confidence = min(confidence, _conf(type_["Confidence"]))
    page = int(raw["PageNumber"]) if isinstance(raw.get("PageNumber"), int) else 1
    if stats is not None:
        stats.saw_page(page)
    groups = raw.get("GroupProperties") or []
    label = _clean((raw.get("LabelDetection") or {}).get("Text")) or None
    return ExpenseField(
        type=str(type_.get("Text") or "OTHER"), value=text, confidence=confidence, page=page, label=label,
        currency=(raw.get("Currency") or {}).get("Code") or None,
        groups=tuple(t for g in groups for t in g.get("Types") or []),
        group_id=groups[0].get("Id") if groups else None,
    )


def _lines_of(blocks: Iterable[Block], default_page: int) -> tuple[Line, ...]:
    return tuple(
        Line(b.get("Text", ""), _conf(b.get("Confidence")), _page_of(b, default_page))
        for b in blocks if b.get("BlockType") == "LINE"
    )


def expense_documents(response: Response, stats: StreamStats | None = None) -> list[ExpenseDocument]:
    """The ExpenseDocuments of one response object (AnalyzeExpense / GetExpenseAnalysis)."""
    if stats is not None:
        stats.observe(response)
    raw_documents = response.get("ExpenseDocuments") or []
    found: list[ExpenseDocument] = []
    for raw in raw_documents:
        summary = tuple(f for f in (_expense_field(x, stats) for x in raw.get("SummaryFields") or []) if f)
        items: list[tuple[ExpenseField, ...]] = []
        for group in raw.get("LineItemGroups") or []:
            for item in group.get("LineItems") or []:
                fields = tuple(
                    f for f in (_expense_field(x, stats) for x in item.get("LineItemExpenseFields") or []) if f
                )
                if fields:
                    items.append(fields)
        blocks = raw.get("Blocks") or (response.get("Blocks") if len(raw_documents) == 1 else None) or []
        found.append(ExpenseDocument(int(raw.get("ExpenseIndex") or len(found) + 1), summary, tuple(items),
                                     _lines_of(blocks, _expense_default_page(raw))))
    return found


def iter_expense_documents(
    responses: Iterable[Response], stats: StreamStats | None = None
) -> Iterator[ExpenseDocument]:
    """Every ExpenseDocument of the stream, in order."""
    for response in responses:
        yield from expense_documents(response, stats)


def identity_documents(response: Response, stats: StreamStats | None = None) -> list[IdentityDocument]:
    """The IdentityDocuments of one AnalyzeID response; each document is one input page."""
    if stats is not None:
        stats.observe(response)
    found: list[IdentityDocument] = []
    for raw in response.get("IdentityDocuments") or []:
        page = int(raw.get("DocumentIndex") or len(found) + 1)
        if stats is not None:
            stats.saw_page(page)
        fields: list[IdentityField] = []
        for item in raw.get("IdentityDocumentFields") or []:
            value = item.get("ValueDetection") or {}
            text = str(value.get("Text") or "").strip()
            if not text:
                continue
            normalized = (value.get("NormalizedValue") or {}).get("Value")
            fields.append(IdentityField(str((item.get("Type") or {}).get("Text") or ""), text,
                                        _conf(value.get("Confidence")), page, normalized))
        found.append(IdentityDocument(page, tuple(fields), _lines_of(raw.get("Blocks") or [], page)))
    return found


def iter_identity_documents(
    responses: Iterable[Response], stats: StreamStats | None = None
) -> Iterator[IdentityDocument]:
    """Every IdentityDocument of the stream, in order."""
    for response in responses:
        yield from identity_documents(response, stats)
