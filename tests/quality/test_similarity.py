"""Answer similarity per task type, on small hand-checked answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.quality.similarity import (
    box_f1,
    box_iou,
    levenshtein,
    span_f1,
    text_similarity,
)


def box(label, x, y, width=10, height=10):
    return {"label": label, "x": x, "y": y, "width": width, "height": height}


def span(label, start, end):
    return {"label": label, "start": start, "end": end}


def test_box_iou():
    assert box_iou(box("a", 0, 0), box("a", 0, 0)) == 1.0
    assert box_iou(box("a", 0, 0), box("a", 5, 0)) == pytest.approx(50 / 150)
    assert box_iou(box("a", 0, 0), box("a", 10, 0)) == 0.0  # touching edges share no area
    assert box_iou(box("a", 0, 0, 20, 20), box("a", 5, 5)) == pytest.approx(100 / 400)
    assert box_iou(box("a", 3, 3, 0, 0), box("a", 3, 3, 0, 0)) == 1.0


def test_box_f1_matches_same_label_boxes_above_the_threshold():
    a = [box("cat", 0, 0), box("dog", 50, 50)]
    assert box_f1(a, [box("cat", 1, 0), box("dog", 50, 51)]) == 1.0
    # The dog box is where a's is but labelled cat: only the first box matches.
    assert box_f1(a, [box("cat", 1, 0), box("cat", 50, 50)]) == pytest.approx(0.5)
    assert box_f1(a, [box("cat", 6, 0)]) == 0.0  # IoU 4/16 < 0.5
    assert box_f1(a, [box("cat", 6, 0)], iou_threshold=0.2) == pytest.approx(2 / 3)
    assert box_f1([], []) == 1.0
    assert box_f1(a, []) == 0.0


def test_box_f1_matches_each_box_once():
    a = [box("cat", 0, 0), box("cat", 1, 0)]
    assert box_f1(a, [box("cat", 0, 0)]) == pytest.approx(2 / 3)


def test_span_f1():
    a = [span("PER", 0, 5), span("ORG", 10, 14)]
    assert span_f1(a, list(reversed(a))) == 1.0
    assert span_f1(a, [span("PER", 0, 5), span("LOC", 10, 14)]) == pytest.approx(0.5)
    assert span_f1(a, [span("PER", 0, 4)]) == 0.0
    assert span_f1([], []) == 1.0
    assert span_f1([], a) == 0.0
    assert span_f1([span("PER", 0, 5)] * 2, [span("PER", 0, 5)]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("kitten", "sitting", 3),
        ("", "", 0),
        ("", "abc", 3),
        ("abc", "", 3),
        ("flaw", "lawn", 2),
        ("intention", "execution", 5),
        ("same", "same", 0),
        ("ab", "ba", 2),
        ("naïve", "naive", 1),
    ],
)
def test_levenshtein_known_cases(a, b, distance):
    assert levenshtein(a, b) == distance


def _levenshtein_table(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@settings(max_examples=60, deadline=None)
@given(a=st.text(alphabet="abc d", max_size=90), b=st.text(alphabet="abcde", max_size=90))
def test_levenshtein_equals_the_textbook_table(a, b):
    assert levenshtein(a, b) == _levenshtein_table(a, b)


def test_text_similarity_normalises_case_and_whitespace():
    assert text_similarity("  Hello   World ", "hello world") == 1.0
    assert text_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert text_similarity("", "   ") == 1.0
    assert text_similarity("abc", "") == 0.0
    assert text_similarity("Straße", "STRASSE") == 1.0


def test_text_similarity_compares_the_first_2000_characters_of_two_long_texts():
    assert text_similarity("a" * 2000 + "b" * 500, "a" * 2000 + "c" * 900) == 1.0
    assert text_similarity("a" * 1000, "a" * 4000) == pytest.approx(0.25)
