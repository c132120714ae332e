"""The local engine's OCR words and label matching, on what a recogniser and printed labels produce.

The recogniser's output is built by hand here (RapidOCR's result shape: box, text, score, character
boxes, characters, character scores), so no model runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from docpipe_local.engine.forms import split_glued_labels
from docpipe_local.engine.layout import Line, Word
from docpipe_local.engine.ocr import _line
from docpipe_local.engine.text import label_match, normalize_label

_QUAD = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def recognised(text: str, *, left: float = 100.0, pitch: float = 8.0, top: float = 50.0,
               height: float = 17.0) -> list[Any]:
    """One recognised line whose characters sit at an even pitch, as CTC alignment reports them."""
    boxes = [[[left + i * pitch, top], [left + (i + 1) * pitch, top], [left + (i + 1) * pitch, top + height],
              [left + i * pitch, top + height]] for i in range(len(text))]
    right = left + len(text) * pitch
    box = [[left, top], [right, top], [right, top + height], [left, top + height]]
    return [box, text, 0.95, boxes, list(text), [0.95] * len(text)]


@pytest.mark.parametrize(("text", "words"), [
    ("May172018", ["May", "17", "2018"]),
    ("Due Apr262018", ["Due", "Apr", "26", "2018"]),
    ("Dec12018", ["Dec", "1", "2018"]),
    ("Account2018", ["Account2018"]),
    ("INV12345", ["INV12345"]),
])
def test_a_date_whose_spaces_the_recogniser_dropped_is_three_words(text: str, words: list[str]) -> None:
    # GIVEN a recognised line where a month name, a day and a year run together
    line = _line(recognised(text), 1000, 1000)
    # THEN the date is split into its parts (a word that only starts with letters is left alone)
    assert line is not None and [w.text for w in line.words] == words
    # AND the parts stay in order, left to right, inside the line
    lefts = [w.box.left for w in line.words]
    assert lefts == sorted(lefts)


def test_a_number_sign_glued_to_its_number_is_split_off() -> None:
    line = Line([Word("Invoice", _QUAD, 99.0), Word("#2334889", _QUAD, 99.0)], _QUAD, 99.0)
    number_id = line.words[1].id
    split_glued_labels(line)
    assert [w.text for w in line.words] == ["Invoice", "#", "2334889"]
    # AND the number keeps the word's id (anything already pointing at the word finds the value)
    assert line.words[2].id == number_id


def test_a_lone_sign_or_one_without_digits_is_left_alone() -> None:
    line = Line([Word("#", _QUAD, 99.0), Word("#ABC", _QUAD, 99.0)], _QUAD, 99.0)
    split_glued_labels(line)
    assert [w.text for w in line.words] == ["#", "#ABC"]


@pytest.mark.parametrize(("text", "normalised"), [
    ("TOTAL H.T.", "TOTAL HT"), ("P.O. #", "PO #"), ("Sales Tax (7.5%):", "SALES TAX"), ("E. Main St", "E MAIN ST"),
])
def test_dotted_abbreviations_close_up_in_labels(text: str, normalised: str) -> None:
    assert normalize_label(text) == normalised


@pytest.mark.parametrize(("text", "score"), [
    ("TOTALAMOUNTDUE", 0.9), ("PAYMENTDUEDATE", 0.9), ("Total Amount Due", 1.0), ("TOTALAMOUNT", 0.0),
    ("DUEDATEPAYMENT", 0.0),
])
def test_a_label_whose_spaces_ocr_dropped_still_matches(text: str, score: float) -> None:
    # One dropped space is one edit (already tolerated); several are still the same label.
    assert label_match(text, {"TOTAL AMOUNT DUE", "PAYMENT DUE DATE"}) == score
