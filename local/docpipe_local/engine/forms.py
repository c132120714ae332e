"""FORMS, TABLES and QUERIES derived from a page's lines — only what the layout shows.

Key/value pairs come from "Label: value" text, from a label followed by a value to its right on the
same row, and from a label line with its value directly below. Tables are runs of consecutive rows
whose lines fall into the same two or more columns, with at least one numeric column. Queries are
answered from the key/value pair whose key best matches the question; a label the question names
counts as a key even without a colon.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from docpipe_local.engine.layout import Box, Line, Page, Quad, Word, median_height, span_polygon
from docpipe_local.engine.text import AMOUNT, DATE, label_match

# How sure an association between a key and a value is, by how it was found (multiplied by the
# OCR confidence of the words): a colon on the same line is explicit; position alone is weaker.
INLINE = 1.0
SAME_ROW_AFTER_TERMINATOR = 0.97
SAME_ROW_KNOWN_LABEL = 0.95
SAME_ROW_BY_VALUE_SHAPE = 0.8
BELOW_AFTER_TERMINATOR = 0.85
BELOW_KNOWN_LABEL = 0.8

_SEPARATORS = {"|", "•", "·", "/"}
_MAX_KEY_WORDS = 5
_NUMERIC_CELL = re.compile(r"^[-+($€£¥]*\s*[\d.,/:%\s-]*\d[\d.,/:%\s-]*\)?\s*[A-Z]?$")
_QUESTION_WORDS = {"what", "is", "the", "of", "a", "an", "for", "on", "in", "who", "which", "when", "where", "how",
                   "does", "do", "this", "that", "to", "and", "are", "was", "be", "by", "s", "much", "many", "with"}


@dataclass
class KeyValue:
    key: list[Word]
    value: list[Word]
    association: float
    page: int

    @property
    def key_text(self) -> str:
        return " ".join(w.text for w in self.key)

    @property
    def value_text(self) -> str:
        return " ".join(w.text for w in self.value)

    @property
    def confidence(self) -> float:
        return min(w.confidence for w in [*self.key, *self.value]) * self.association


def terminates_key(word: Word) -> bool:
    """A word that ends a printed label: "Date:", "TR#", or a lone "#" or ":"."""
    # A lone ":" too: French sets it off with a space ("N° BON DE COMMANDE : PO201925478").
    return len(word.text) > 1 and word.text[-1] in ":#" and not word.text[:-1].isdigit() or word.text in ("#", ":")


def _value_like(text: str) -> bool:
    """Amounts, dates, numbers and identifiers all carry a digit; a label or a heading does not."""
    return bool(re.search(r"\d", text))


def _known(text: str, labels: frozenset[str]) -> float:
    return label_match(text, labels) if labels else 0.0


def key_values(page: Page, labels: Iterable[str] = ()) -> list[KeyValue]:
    """Every key/value pair on the page; `labels` are normalised label phrases known to be keys.

    Words where OCR glued a label to its value ("ID:11-2234-10190") are split in place first, so the
    page's WORD blocks and the pairs share the same words.
    """
    known = frozenset(labels)
    for line in page.lines:
        split_glued_labels(line)
    rows = page.rows()
    height = median_height(page.lines)
    pairs: list[KeyValue] = []
    used: set[str] = set()  # ids of lines fully consumed as a key or a value

    for line in page.lines:
        pairs.extend(_inline_pairs(line, known, page.number))
    key_starts = {p.key[0].id for p in pairs}

    for r, row in enumerate(rows):
        for i, line in enumerate(row):
            if line.id in used or any(p.key[0] in line.words for p in pairs):
                continue
            right = row[i + 1] if i + 1 < len(row) else None
            terminated = terminates_key(line.words[-1]) and any(ch.isalpha() for ch in line.text)
            # "Date : 28/11/2022" or "PO 456001200" reads as a label once numbers are dropped: it holds its value.
            label_score = 0.0 if _holds_value(line) else _known(line.text, known)
            association = 0.0
            value_line: Line | None = None
            # A label beside another label ("DATE DUE   AMOUNT DUE") heads a column: its value is below.
            heads_column = (right is not None and (terminated or label_score) and not _value_like(right.text)
                            and _known(right.text, known) > 0)
            if right is not None and right.id not in used and not _another_field(right, key_starts) \
                    and not heads_column:
                # A "No."/"#" label numbers something: its value has a digit ("Item #" over a column is a header).
                if terminated and (line.text.endswith(":") or re.search(r"\d", right.text)):
                    association, value_line = SAME_ROW_AFTER_TERMINATOR, right
                elif label_score and _value_like(right.text):
                    association, value_line = SAME_ROW_KNOWN_LABEL * label_score, right
                elif (len(row) == 2 and len(line.words) <= 4 and not _value_like(line.text)
                      and (AMOUNT.search(right.text) or DATE.search(right.text))):
                    association, value_line = SAME_ROW_BY_VALUE_SHAPE, right
            elif (right is None or _another_field(right, key_starts) or heads_column) and (terminated or label_score):
                # Nothing to the label's right but the next field: its value is printed under it.
                # The rows just below, not only the next one: a line of another column can sit between
                # a label and its value ("TOTAL HT" over "100,00", a sentence at the left in between).
                value_line = _below(line, [c for below in rows[r + 1:r + 5] for c in below], height)
                if value_line is not None and value_line.id not in used and not _another_field(value_line, key_starts):
                    association = BELOW_AFTER_TERMINATOR if terminated else BELOW_KNOWN_LABEL * label_score
                else:
                    value_line = None
            if value_line is not None:
                pairs.append(KeyValue(line.words, value_line.words, association, page.number))
                used.update((line.id, value_line.id))
    return pairs


def _holds_value(line: Line) -> bool:
    """A line that prints its value after the label: an amount, a date, or a word with a digit
    outside parentheses that is not a rate ("Sales Tax (20%)" and "VAT 20%" are labels only)."""
    if AMOUNT.search(line.text) or DATE.search(line.text):
        return True
    text = re.sub(r"\([^)]*\)|\S*\d\s?%", " ", line.text)
    return bool(re.search(r"\d", text))


def _another_field(line: Line, key_starts: set[str]) -> bool:
    """A "Label:" line, or a line starting with an inline pair's key, is a field of its own."""
    return terminates_key(line.words[-1]) or line.words[0].id in key_starts


# A label glued to its value by OCR: letters ending in ":" or "#", then the value ("Payer ID:87726",
# "Invoice#23-AUK9909"). The label has two letters or more, so times (10:30) and URLs stay whole.
_GLUED = re.compile(r"^([A-Za-z](?:[A-Za-z.'/-]*[A-Za-z.])?)(:|#|°)([A-Za-z0-9($€£¥+].*)$")


# A number sign glued to the number it marks ("Invoice #2334889", "#23413561D" under "INVOICE").
_GLUED_HASH = re.compile(r"^()(#)([A-Za-z0-9][A-Za-z0-9/_.-]*)$")


def split_glued_labels(line: Line) -> None:
    """Split each word that is a label (or a "#") glued to its value into two words, in place. The
    value keeps the original word's id, so anything that already refers to the word still finds the
    value."""
    words: list[Word] = []
    for word in line.words:
        match = _GLUED.match(word.text) or _GLUED_HASH.match(word.text)
        if match is None or (match.group(2) in "#°" and not re.search(r"\d", match.group(3))):
            words.append(word)
            continue
        label = match.group(1) + match.group(2)
        cut = len(label) / len(word.text)  # characters have no positions here: split proportionally
        words.append(Word(label, _part(word.polygon, 0.0, cut), word.confidence))
        words.append(Word(match.group(3), _part(word.polygon, cut, 1.0), word.confidence, id=word.id))
    line.words[:] = words


def _part(quad: Quad, start: float, end: float) -> Quad:
    """The slice of a word's quad between two fractions of its length."""
    def along(a: tuple[float, float], b: tuple[float, float], t: float) -> tuple[float, float]:
        return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)

    top_left, top_right, bottom_right, bottom_left = quad
    return (along(top_left, top_right, start), along(top_left, top_right, end),
            along(bottom_left, bottom_right, end), along(bottom_left, bottom_right, start))


def _inline_pairs(line: Line, known: frozenset[str], page: int) -> list[KeyValue]:
    """"Label: value" pairs inside one line (several per line when several labels end in ':')."""
    words = line.words
    ends = [i for i, w in enumerate(words[:-1]) if terminates_key(w)]
    pairs = []
    for n, end in enumerate(ends):
        start = _key_start(words, end, first=n == 0, previous_end=ends[n - 1] if n else -1, known=known)
        stop = ends[n + 1] if n + 1 < len(ends) else len(words)
        next_start = (_key_start(words, stop, first=False, previous_end=end, known=known)
                      if n + 1 < len(ends) else stop)
        value = words[end + 1:next_start]
        if value and any(ch.isalpha() for w in words[start:end + 1] for ch in w.text):
            pairs.append(KeyValue(words[start:end + 1], value, INLINE, page))
    return pairs


def _key_start(words: Sequence[Word], end: int, *, first: bool, previous_end: int, known: frozenset[str]) -> int:
    """Where the key ending at `end` starts. The first key of a line runs back to the line start or a
    separator (at most a few words); a later key only takes the words before its terminator when
    together they make a known label ("Due Date:"), since those words could end the previous value."""
    if first:
        start = end
        while start > 0 and end - start + 1 < _MAX_KEY_WORDS and words[start - 1].text not in _SEPARATORS:
            start -= 1
        return start
    for back in (2, 1):
        start = end - back
        if start > previous_end + 1 and _known(" ".join(w.text for w in words[start:end + 1]), known):
            return start
    return end


def _below(line: Line, next_rows: Sequence[Line], height: float) -> Line | None:
    """The nearest line right under `line` (within ~1.5 line heights, starting under it)."""
    box = line.box
    for candidate in sorted(next_rows, key=lambda c: c.box.top):
        c = candidate.box
        if c.top - box.bottom <= 1.5 * max(height, box.height) and c.x_overlap(box) > 0 and \
                abs(c.left - box.left) <= max(box.width, 2 * box.height):
            return candidate
    return None


# -- tables ----------------------------------------------------------------------------------------
@dataclass
class Cell:
    row: int
    column: int
    words: list[Word]
    box: Box
    header: bool


@dataclass
class Table:
    cells: list[Cell]
    confidence: float
    page: int

    @property
    def box(self) -> Box:
        return Box.union(c.box for c in self.cells)


def tables(page: Page) -> list[Table]:
    """Runs of consecutive rows whose lines keep falling into the same columns."""
    height = median_height(page.lines)
    found = []
    for run, columns in _row_runs(page.rows(), height):
        table = _table(run, columns, page.number)
        if table is not None:
            found.append(table)
    return found


def _row_runs(rows: list[list[Line]], height: float) -> Iterable[tuple[list[list[Line]], list[list[float]]]]:
    run: list[list[Line]] = []
    columns: list[list[float]] = []
    for row in rows:
        if len(row) >= 2 and run and _row_gap(run[-1], row) <= 1.5 * height:
            merged = _merge_columns(columns, row)
            if merged is not None:
                run.append(row)
                columns = merged
                continue
        if len(run) >= 3:
            yield run, columns
        run, columns = ([row], [[ln.box.left, ln.box.right] for ln in row]) if len(row) >= 2 else ([], [])
    if len(run) >= 3:
        yield run, columns


def _row_gap(above: list[Line], below: list[Line]) -> float:
    return min(ln.box.top for ln in below) - max(ln.box.bottom for ln in above)


def _merge_columns(columns: list[list[float]], row: list[Line]) -> list[list[float]] | None:
    """The run's column intervals widened by this row, or None when a line straddles two columns."""
    merged = [list(c) for c in columns]
    for line in row:
        box = line.box
        hits = [c for c in merged if box.left < c[1] and box.right > c[0]]
        if len(hits) > 1:
            return None
        if hits:
            hits[0][0], hits[0][1] = min(hits[0][0], box.left), max(hits[0][1], box.right)
        else:
            merged.append([box.left, box.right])
    merged.sort()
    if any(a[1] > b[0] for a, b in itertools.pairwise(merged)):
        return None
    return merged


def _table(run: list[list[Line]], columns: list[list[float]], page: int) -> Table | None:
    if len(columns) < 2:
        return None
    # Rows that are mostly "Label:" lines are a form laid out in columns, not a table.
    if sum(any(terminates_key(ln.words[-1]) for ln in row) for row in run) * 2 >= len(run):
        return None
    grid = [[[w for ln in row if _column_of(ln, columns) == c for w in ln.words] for c in range(len(columns))]
            for row in run]
    numeric = [sum(1 for row in grid[1:] if row[c] and _NUMERIC_CELL.match(_text(row[c]))) for c in range(len(columns))]
    if max(numeric) * 2 < len(grid) - 1:
        return None
    header = all(not cell or not _NUMERIC_CELL.match(_text(cell)) for cell in grid[0])
    cells = []
    for r, (row, words_by_column) in enumerate(zip(run, grid)):
        top, bottom = min(ln.box.top for ln in row), max(ln.box.bottom for ln in row)
        for c, words in enumerate(words_by_column):
            left, right = columns[c]
            cells.append(Cell(r + 1, c + 1, words, Box(left, top, right - left, bottom - top), header and r == 0))
    word_confidences = [w.confidence for cell in cells for w in cell.words]
    # Structure is inferred from alignment only, hence below the words' own confidence.
    confidence = statistics.mean(word_confidences) * 0.9
    return Table(cells, confidence, page)


def _column_of(line: Line, columns: list[list[float]]) -> int:
    box = line.box
    return max(range(len(columns)), key=lambda c: min(box.right, columns[c][1]) - max(box.left, columns[c][0]))


def _text(words: Sequence[Word]) -> str:
    return " ".join(w.text for w in words)


# -- queries ---------------------------------------------------------------------------------------
@dataclass
class Answer:
    words: list[Word]
    confidence: float


def query_labels(questions: Iterable[str]) -> set[str]:
    """Label phrases the questions name ("What is the member ID?" → MEMBER, ID, MEMBER ID): a line
    printing one of them is a key even without a colon ("Member." with the name under it)."""
    phrases: set[str] = set()
    for question in questions:
        terms = [t for t in re.findall(r"[a-z0-9]+", question.lower()) if t not in _QUESTION_WORDS and t != "or"]
        for size in (1, 2, 3):
            phrases.update(" ".join(terms[i:i + size]).upper() for i in range(len(terms) - size + 1))
    return phrases


def answer(question: str, pairs: Sequence[KeyValue]) -> Answer | None:
    """The value of the pair whose key best matches the question (see `_match`); its confidence is
    the pair's times how well the key matched."""
    best: tuple[float, KeyValue] | None = None
    for pair in pairs:
        score = _match(question, pair)
        if score and (best is None or score > best[0]):
            best = (score, pair)
    if best is None:
        return None
    score, pair = best
    return Answer(pair.value, pair.confidence * score)


# Words saying what kind of value is asked for, each with the test a value of that kind passes.
_KINDS = {
    "name": lambda v: bool(re.search(r"[A-Za-z]", v)) and not re.search(r"\d", v),
    "number": lambda v: bool(re.search(r"\d", v)),
    "id": lambda v: bool(re.search(r"\d", v)),
    "date": lambda v: bool(DATE.search(v)),
}
_SYNONYMS = {"no": "number", "num": "number", "nbr": "number", "#": "number"}


def _match(question: str, pair: KeyValue) -> float:
    """How surely the pair answers the question: 1.0 when key and question name the same thing; 0.9
    when the question only adds what kind of value it wants and the value is of that kind ("name of
    the member" → "Member: JOHN DOE"); else their word overlap (Jaccard, at least 0.5). The key must
    name what is asked ("manufacturer" in "the manufacturer of the 1st dose", not just "1st Dose"),
    and "X or Y" in a question is matched as either alternative."""
    key = _terms(pair.key_text)
    best = 0.0
    for wanted, head in _readings(question):
        if not wanted or not key or not (head - _KINDS.keys()) <= key:
            continue
        missing = wanted - key
        if any(not _KINDS[kind](pair.value_text) for kind in missing & _KINDS.keys()):
            continue
        subject = wanted - _KINDS.keys()
        if key == wanted:
            score = 1.0
        elif key < wanted and missing <= _KINDS.keys():
            score = 0.9
        elif subject and not subject & key:
            score = 0.0
        else:
            jaccard = len(wanted & key) / len(wanted | key)
            score = jaccard if jaccard >= 0.5 else 0.0
        best = max(best, score)
    return best


def _terms(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+|#", text.lower())
    return {_SYNONYMS.get(w, w) for w in words if w not in _QUESTION_WORDS}


def _readings(question: str) -> list[tuple[set[str], set[str]]]:
    """(content words, the words naming what is asked: those before "of", else all), once per
    reading of each "X or Y" in the question."""
    words = [_SYNONYMS.get(w, w) for w in re.findall(r"[a-z0-9]+|#", question.lower())
             if w not in _QUESTION_WORDS or w == "of"]
    head = set(words[:words.index("of")]) if "of" in words[1:] else None
    words = [w for w in words if w != "of"]
    ors = [i for i, w in enumerate(words) if w == "or" and 0 < i < len(words) - 1]
    readings = [{w for j, w in enumerate(words) if j not in dropped and w != "or"}
                for dropped in itertools.product(*[(i - 1, i + 1) for i in ors])]
    return [(wanted, head or wanted) for wanted in readings]


def value_polygon(words: Sequence[Word]) -> Quad:
    """Geometry for value words that may span lines: one line's span, or the union box."""
    return span_polygon(words) if _one_line(words) else Box.union(w.box for w in words).quad()


def _one_line(words: Sequence[Word]) -> bool:
    return max(w.box.top for w in words) < min(w.box.bottom for w in words)
