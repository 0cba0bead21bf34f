import pytest

from backend.errors import ValidationError
from backend.services.task_types import normalise_label_config, required_overlap, validate_answer

LABELS = {"labels": ["cat", "dog", "bird"]}


def check(task_type, config, answer, data=None):
    return validate_answer(task_type, normalise_label_config(task_type, config), answer, data)


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


@pytest.mark.parametrize(("overlap", "expected"), [(300, {3: 100}), (250, {2: 50, 3: 50}),
                                                   (233, {2: 67, 3: 33}), (110, {1: 90, 2: 10})])
def test_fractional_overlap_is_exact_over_any_run(overlap, expected):
    counts: dict[int, int] = {}
    for ordinal in range(1000, 1100):
        value = required_overlap(overlap, ordinal)
        counts[value] = counts.get(value, 0) + 1
    assert counts == expected
