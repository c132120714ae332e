"""OCR with RapidOCR (PP-OCRv4 ONNX models shipped inside the wheel: no download, no network)."""

from __future__ import annotations

import itertools
import re
import statistics
import threading
from collections.abc import Sequence
from typing import Any

from PIL import Image

from docpipe.normalize.values import month_number
from docpipe_local.engine.layout import Line, Point, Quad, Word

# A word break the recogniser did not emit as a space (common on receipts printed in monospace)
# shows as a character pitch well above the line's median: more than 1.6 times it, and wider by
# more than 0.45 line heights. Wide letters in proportional fonts ("m") stay below the second bound.
_WORD_GAP_RATIO = 1.6
_WORD_GAP_HEIGHTS = 0.45
# A date whose spaces the recogniser dropped: a month name, the day and a four-digit year ("May172018").
_GLUED_DATE = re.compile(r"^([^\W\d_]{3,10}\.?)([1-9]|[12]\d|3[01]|0[1-9])((?:19|20)\d\d)$")


class RapidOcrReader:
    """One RapidOCR engine per process, created on first use; calls are serialised by a lock.

    The lock also keeps one set of models in memory however many Step Functions executions run in
    threads (onnxruntime already uses every core for a single image).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engine: Any = None

    def read(self, image: Image.Image) -> list[Line]:
        """Lines of text (unordered) with geometry normalised to the image size."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        with self._lock:
            if self._engine is None:
                from rapidocr_onnxruntime import RapidOCR

                self._engine = RapidOCR()
            # return_word_box: per-character boxes from the recogniser's CTC alignment.
            results, _ = self._engine(rgb, return_word_box=True)
        width, height = rgb.size
        return [line for result in results or [] if (line := _line(result, width, height))]


def _norm(points: Sequence[Sequence[float]], width: int, height: int) -> Quad:
    p = [(float(x) / width, float(y) / height) for x, y in points]
    return (p[0], p[1], p[2], p[3])


def _line(result: Sequence[Any], width: int, height: int) -> Line | None:
    box, text, score = result[0], str(result[1]), float(result[2])
    quad = _norm(box, width, height)
    chars, char_boxes, char_scores = (list(result[4]), list(result[3]), list(result[5])) if len(result) > 5 else ([], [], [])
    if len(chars) == len(text) == len(char_boxes) == len(char_scores) and "".join(chars) == text:
        line_height = abs(float(box[3][1]) - float(box[0][1]))
        words = []
        for group in (part for whole in _word_groups(chars, char_boxes, line_height)
                      for part in _split_glued_date(chars, whole)):
            first, last = char_boxes[group[0]], char_boxes[group[-1]]
            words.append(Word("".join(chars[i] for i in group), _norm((first[0], last[1], last[2], first[3]), width, height),
                              100 * sum(char_scores[i] for i in group) / len(group)))
    else:
        words = _proportional_words(text, quad, score)
    return Line(words, quad, score * 100) if words else None


def _word_groups(chars: list[str], boxes: list[Any], line_height: float) -> list[list[int]]:
    """Character indexes grouped into words at spaces and at unusually wide gaps (boxes in pixels)."""
    centers = [(float(b[0][0]) + float(b[1][0])) / 2 for b in boxes]
    pitches = [b - a for a, b in itertools.pairwise(centers)]
    median_pitch = statistics.median(pitches) if pitches else 0.0
    groups: list[list[int]] = [[]]
    for i, ch in enumerate(chars):
        if ch.isspace():
            if not _inside_number(chars, i):
                groups.append([])
            continue
        if groups[-1]:
            pitch = centers[i] - centers[groups[-1][-1]]
            if pitch > _WORD_GAP_RATIO * median_pitch and pitch - median_pitch > _WORD_GAP_HEIGHTS * line_height:
                groups.append([])
        groups[-1].append(i)
    return [group for group in groups if group]


def _split_glued_date(chars: list[str], group: list[int]) -> list[list[int]]:
    """A word that is a month name, a day and a year run together ("May172018") as three words;
    any other word as it is."""
    match = _GLUED_DATE.match("".join(chars[i] for i in group))
    if match is None or month_number(match.group(1)) is None:
        return [group]
    month, day = len(match.group(1)), len(match.group(2))
    return [group[:month], group[month:month + day], group[month + day:]]


def _inside_number(chars: list[str], i: int) -> bool:
    """A space the recogniser put after a decimal point ("$153. 123"): the amount is one word."""
    return (2 <= i < len(chars) - 1 and chars[i - 1] in ".," and chars[i - 2].isdigit()
            and chars[i + 1].isdigit())


def _proportional_words(text: str, quad: Quad, score: float) -> list[Word]:
    """Words of a line whose characters have no positions: each word gets an x-extent proportional
    to its character offsets along the line's top and bottom edges (a monospace approximation)."""
    words = []
    offset = 0
    for token in text.split(" "):
        if token:
            start, end = offset / len(text), (offset + len(token)) / len(text)
            words.append(Word(token, (_along(quad[0], quad[1], start), _along(quad[0], quad[1], end),
                                      _along(quad[3], quad[2], end), _along(quad[3], quad[2], start)), score * 100))
        offset += len(token) + 1
    return words


def _along(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
