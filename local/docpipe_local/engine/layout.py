"""Pages as the engine sees them: lines of words with page-normalised geometry, in reading order."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]  # top-left, top-right, bottom-right, bottom-left


def new_id() -> str:
    return str(uuid.uuid4())


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in page coordinates normalised to 0..1 (origin top-left)."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def center_x(self) -> float:
        return self.left + self.width / 2

    @property
    def center_y(self) -> float:
        return self.top + self.height / 2

    @classmethod
    def around(cls, points: Iterable[Point]) -> Box:
        xs, ys = zip(*points)
        left, top = _clamp(min(xs)), _clamp(min(ys))
        return cls(left, top, _clamp(max(xs)) - left, _clamp(max(ys)) - top)

    @classmethod
    def union(cls, boxes: Iterable[Box]) -> Box:
        boxes = list(boxes)
        return cls.around([(b.left, b.top) for b in boxes] + [(b.right, b.bottom) for b in boxes])

    def quad(self) -> Quad:
        return ((self.left, self.top), (self.right, self.top), (self.right, self.bottom), (self.left, self.bottom))

    def x_overlap(self, other: Box) -> float:
        """Horizontal overlap as a fraction of the narrower box."""
        overlap = min(self.right, other.right) - max(self.left, other.left)
        return max(0.0, overlap) / max(1e-9, min(self.width, other.width))

    def y_overlap(self, other: Box) -> float:
        """Vertical overlap as a fraction of the shorter box."""
        overlap = min(self.bottom, other.bottom) - max(self.top, other.top)
        return max(0.0, overlap) / max(1e-9, min(self.height, other.height))


def geometry(polygon: Sequence[Point]) -> dict[str, Any]:
    """Textract's Geometry: the coarse BoundingBox and the 4-point Polygon."""
    box = Box.around(polygon)
    return {
        "BoundingBox": {"Width": box.width, "Height": box.height, "Left": box.left, "Top": box.top},
        "Polygon": [{"X": _clamp(x), "Y": _clamp(y)} for x, y in polygon],
    }


@dataclass
class Word:
    text: str
    polygon: Quad
    confidence: float  # 0..100
    id: str = field(default_factory=new_id)

    @property
    def box(self) -> Box:
        return Box.around(self.polygon)


@dataclass
class Line:
    words: list[Word]
    polygon: Quad
    confidence: float  # 0..100
    id: str = field(default_factory=new_id)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def box(self) -> Box:
        return Box.around(self.polygon)


@dataclass
class Page:
    """One page's text. `source` says where it came from: the PDF's text layer or OCR."""

    number: int
    lines: list[Line]
    source: str

    def rows(self) -> list[list[Line]]:
        return rows(self.lines)


def span_polygon(words: Sequence[Word]) -> Quad:
    """The polygon around consecutive words of one line: first word's left edge to last word's right."""
    first, last = words[0].polygon, words[-1].polygon
    if len(words) == 1:
        return first
    return (first[0], last[1], last[2], first[3])


def rows(lines: Iterable[Line]) -> list[list[Line]]:
    """Group lines into visual rows (top to bottom), each row's lines left to right.

    A line joins a row when it overlaps the row's first line vertically by at least half the
    smaller height (slightly skewed scans stay one row) and sits beside, not above or below, the
    lines already in the row (stacked lines such as "DRIVER" over "LICENSE" are separate rows).
    """
    result: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: (ln.box.center_y, ln.box.left)):
        box = line.box
        row = result[-1] if result else None
        if row is not None and box.y_overlap(row[0].box) >= 0.5 and all(box.x_overlap(o.box) < 0.2 for o in row):
            row.append(line)
        else:
            result.append([line])
    return [sorted(row, key=lambda ln: ln.box.left) for row in result]


def reading_order(lines: Iterable[Line]) -> list[Line]:
    return [line for row in rows(lines) for line in row]


def median_height(lines: Sequence[Line]) -> float:
    return statistics.median(ln.box.height for ln in lines) if lines else 0.0
