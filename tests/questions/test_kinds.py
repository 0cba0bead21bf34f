"""Each question kind on its own: its configuration, the answers it accepts, and how it scores them."""

import pytest

from backend.errors import ValidationError
from backend.questions import KINDS, legacy_config

LABELS = {"labels": ["cat", "dog", "bird"]}


def check(task_type, config, answer, data=None):
    return KINDS[task_type].check_answer(legacy_config(task_type, config), answer, data)


def rejects(task_type, config, answer, data=None, field=None):
    with pytest.raises(ValidationError) as info:
        check(task_type, config, answer, data)
    if field:
        assert field in info.value.details["fields"]


def test_single_choice():
    assert check("single_choice", LABELS, {"choice": "dog"}) == {"choice": "dog"}
    rejects("single_choice", LABELS, {"choice": "cow"}, field="answer.choice")
    rejects("single_choice", LABELS, {"choice": 1}, field="answer.choice")
    rejects("single_choice", LABELS, {"choice": "dog", "extra": 1}, field="answer.extra")
    rejects("single_choice", LABELS, ["dog"], field="answer")


def test_multi_choice_is_canonicalised_in_label_order():
    assert check("multi_choice", LABELS, {"choices": ["bird", "cat"]}) == {"choices": ["cat", "bird"]}
    assert check("multi_choice", LABELS, {"choices": []}) == {"choices": []}
    rejects("multi_choice", LABELS, {"choices": ["cat", "cat"]})
    rejects("multi_choice", LABELS, {"choices": ["cow"]}, field="answer.choices[0]")


def test_rating_bounds_and_integers():
    config = {"min": 1, "max": 5}
    assert check("rating", config, {"value": 5}) == {"value": 5}
    rejects("rating", config, {"value": 6})
    rejects("rating", config, {"value": 2.5})
    rejects("rating", config, {"value": True})


def test_bounding_boxes_in_pixels_inside_the_image():
    config = {"labels": ["car"]}
    data = {"image": "https://img/1.jpg", "width": 100, "height": 50}
    box = {"label": "car", "x": 10, "y": 5, "width": 20.5, "height": 10}
    assert check("bounding_boxes", config, {"boxes": [box]}, data) == {"boxes": [box]}
    rejects("bounding_boxes", config, {"boxes": [{**box, "x": 90}]}, data)
    rejects("bounding_boxes", config, {"boxes": [{**box, "width": 0}]}, data)
    rejects("bounding_boxes", config, {"boxes": [{**box, "label": "bus"}]}, data, field="answer.boxes[0].label")
    rejects("bounding_boxes", config, {"boxes": [{**box, "x": "1"}]}, data, field="answer.boxes[0].x")


def test_text_spans_are_checked_against_the_text():
    config = {"labels": ["PER", "LOC"]}
    data = {"text": "Ada lives in London"}
    spans = [{"label": "LOC", "start": 13, "end": 19}, {"label": "PER", "start": 0, "end": 3, "text": "Ada"}]
    assert check("text_spans", config, {"spans": spans}, data) == {"spans": [
        {"label": "PER", "start": 0, "end": 3}, {"label": "LOC", "start": 13, "end": 19}]}
    rejects("text_spans", config, {"spans": [{"label": "PER", "start": 0, "end": 99}]}, data)
    rejects("text_spans", config, {"spans": [{"label": "PER", "start": 3, "end": 3}]}, data)
    rejects("text_spans", config, {"spans": [{"label": "PER", "start": 0, "end": 3, "text": "Bob"}]}, data)


def test_free_text_length():
    assert check("free_text", {"max_length": 5}, {"text": "hello"}) == {"text": "hello"}
    rejects("free_text", {"max_length": 5}, {"text": "hello!"})
    rejects("free_text", {}, {"text": None})


def box(label, x, y, width=10, height=10):
    return {"label": label, "x": x, "y": y, "width": width, "height": height}


def span(label, start, end):
    return {"label": label, "start": start, "end": end}


CONFIG = {"labels": ["x", "y", "z"], "min": 1, "max": 5}


def test_answer_similarity_per_type():
    assert KINDS["single_choice"].similarity({"choice": "x"}, {"choice": "x"}, CONFIG) == 1.0
    assert KINDS["single_choice"].similarity({"choice": "x"}, {"choice": "y"}, CONFIG) == 0.0
    assert KINDS["multi_choice"].similarity({"choices": ["x", "y"]}, {"choices": ["y", "z"]}, CONFIG) == pytest.approx(
        1 / 3
    )
    assert KINDS["multi_choice"].similarity({"choices": []}, {"choices": []}, CONFIG) == 1.0
    assert KINDS["rating"].similarity({"value": 2}, {"value": 5}, CONFIG) == pytest.approx(0.25)
    assert KINDS["bounding_boxes"].similarity({"boxes": [box("x", 0, 0)]}, {"boxes": []}, CONFIG) == 0.0
    assert KINDS["text_spans"].similarity({"spans": [span("x", 1, 2)]}, {"spans": [span("x", 1, 2)]}, CONFIG) == 1.0
    assert KINDS["free_text"].similarity({"text": "Kitten"}, {"text": "sitting"}, CONFIG) == pytest.approx(4 / 7)
    with pytest.raises(KeyError):
        KINDS["video"]


def test_task_agreement():
    assert KINDS["single_choice"].task_agreement([{"choice": "x"}], CONFIG) is None
    assert KINDS["single_choice"].task_agreement([{"choice": c} for c in "xxyx"], CONFIG) == 0.75
    assert KINDS["rating"].task_agreement([{"value": v} for v in (1, 2, 2)], CONFIG) == pytest.approx(2 / 3)
    texts = [{"text": "abc"}, {"text": "abc"}, {"text": "abd"}]
    assert KINDS["free_text"].task_agreement(texts, CONFIG) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


def test_gold_score():
    assert KINDS["single_choice"].gold_score({"choice": "x"}, {"choice": "x"}, CONFIG) == 1.0
    assert KINDS["multi_choice"].gold_score({"choices": ["x"]}, {"choices": ["x", "y"]}, CONFIG) == 0.5
    assert KINDS["rating"].gold_score({"value": 3}, {"value": 4}, CONFIG) == 0.0
    assert KINDS["rating"].gold_score({"value": 3}, {"value": 4}, CONFIG, tolerance=1) == 1.0
    assert KINDS["rating"].gold_score({"value": 3}, {"value": 3}, CONFIG, tolerance=None) == 1.0
    assert KINDS["bounding_boxes"].gold_score({"boxes": [box("x", 0, 0)]}, {"boxes": [box("x", 1, 1)]}, CONFIG) == 1.0
    assert KINDS["text_spans"].gold_score({"spans": []}, {"spans": [span("x", 0, 1)]}, CONFIG) == 0.0
    assert KINDS["free_text"].gold_score({"text": "abcd"}, {"text": "abce"}, CONFIG) == pytest.approx(0.75)
