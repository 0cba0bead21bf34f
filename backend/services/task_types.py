"""Task types: their label schema, the task data they need and the answers they accept.

Pure functions; every failure is a ``ValidationError`` whose ``details.fields``
names the offending path, so a client can show the message next to the field.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ValidationError
from ..models import TASK_TYPES

LABELLED_TYPES = {"single_choice", "multi_choice", "bounding_boxes", "text_spans"}
MAX_LABELS = 1000
MAX_BOXES = 1000
MAX_SPANS = 10000


def _fail(path: str, message: str) -> ValidationError:
    return ValidationError(f"{path}: {message}", details={"fields": {path: [message]}})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def normalise_label_config(task_type: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Check a project's label schema for its task type and return the stored form."""
    if task_type not in TASK_TYPES:
        raise _fail("task_type", f"must be one of {', '.join(TASK_TYPES)}")
    config: dict[str, Any] = {}
    if task_type in LABELLED_TYPES:
        labels = fields.get("labels")
        if not isinstance(labels, list) or not labels:
            raise _fail("labels", f"{task_type} needs a non-empty list of labels")
        if len(labels) > MAX_LABELS:
            raise _fail("labels", f"at most {MAX_LABELS} labels")
        if not all(isinstance(label, str) and label.strip() for label in labels):
            raise _fail("labels", "every label must be a non-empty string")
        if len(set(labels)) != len(labels):
            raise _fail("labels", "labels must be distinct")
        config["labels"] = list(labels)
    elif fields.get("labels") is not None:
        raise _fail("labels", f"{task_type} does not take labels")
    if task_type == "rating":
        low, high = fields.get("min"), fields.get("max")
        if not _is_int(low) or not _is_int(high):
            raise _fail("min" if not _is_int(low) else "max", "rating needs integer min and max")
        if low >= high:
            raise _fail("max", "must be greater than min")
        config.update(min=low, max=high)
    if task_type == "text_spans":
        text_field = fields.get("text_field") or "text"
        if not isinstance(text_field, str):
            raise _fail("text_field", "must be a string")
        config["text_field"] = text_field
    if task_type == "bounding_boxes":
        image_field = fields.get("image_field") or "image"
        if not isinstance(image_field, str):
            raise _fail("image_field", "must be a string")
        config["image_field"] = image_field
    if task_type == "free_text":
        max_length = fields.get("max_length")
        if max_length is not None:
            if not _is_int(max_length) or max_length < 1:
                raise _fail("max_length", "must be a positive integer")
            config["max_length"] = max_length
    return config


def check_task_data(task_type: str, config: dict[str, Any], data: Any, path: str = "data") -> None:
    """Check that a task's data carries what its type needs (text to mark, an image)."""
    if not isinstance(data, dict):
        raise _fail(path, "must be an object")
    if task_type == "text_spans":
        field = config["text_field"]
        if not isinstance(data.get(field), str):
            raise _fail(f"{path}.{field}", "text_spans tasks need this text field")
    elif task_type == "bounding_boxes":
        field = config["image_field"]
        if not isinstance(data.get(field), str) or not data[field]:
            raise _fail(f"{path}.{field}", "bounding_boxes tasks need an image URL in this field")
        for dim in ("width", "height"):
            if dim in data and (not _is_number(data[dim]) or data[dim] <= 0):
                raise _fail(f"{path}.{dim}", "must be a positive number")


def _only_keys(answer: dict, allowed: set[str], path: str) -> None:
    extra = sorted(set(answer) - allowed)
    if extra:
        raise _fail(f"{path}.{extra[0]}", "unknown field")


def _label(value: Any, labels: list[str], path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, "must be a string")
    if value not in labels:
        raise _fail(path, f"{value!r} is not one of the labels {labels}")
    return value


def validate_answer(
    task_type: str, config: dict[str, Any], answer: Any, data: dict | None = None, path: str = "answer"
) -> dict[str, Any]:
    """Validate an answer (or a gold answer) and return it in canonical form.

    Text spans are trimmed to leave out whitespace at either end; a span of whitespace only is a
    ``ValidationError`` naming it.
    """
    if not isinstance(answer, dict):
        raise _fail(path, "must be an object")
    labels = config.get("labels") or []
    if task_type == "single_choice":
        _only_keys(answer, {"choice"}, path)
        return {"choice": _label(answer.get("choice"), labels, f"{path}.choice")}
    if task_type == "multi_choice":
        _only_keys(answer, {"choices"}, path)
        choices = answer.get("choices")
        if not isinstance(choices, list):
            raise _fail(f"{path}.choices", "must be a list of labels")
        seen = [_label(c, labels, f"{path}.choices[{i}]") for i, c in enumerate(choices)]
        if len(set(seen)) != len(seen):
            raise _fail(f"{path}.choices", "labels must not repeat")
        return {"choices": sorted(seen, key=labels.index)}
    if task_type == "rating":
        _only_keys(answer, {"value"}, path)
        value = answer.get("value")
        if not _is_int(value):
            raise _fail(f"{path}.value", "must be an integer")
        if not config["min"] <= value <= config["max"]:
            raise _fail(f"{path}.value", f"must be between {config['min']} and {config['max']}")
        return {"value": value}
    if task_type == "bounding_boxes":
        return {"boxes": _boxes(answer, labels, data, path)}
    if task_type == "text_spans":
        return {"spans": _spans(answer, labels, config, data, path)}
    if task_type == "free_text":
        _only_keys(answer, {"text"}, path)
        text = answer.get("text")
        if not isinstance(text, str):
            raise _fail(f"{path}.text", "must be a string")
        limit = config.get("max_length")
        if limit is not None and len(text) > limit:
            raise _fail(f"{path}.text", f"must be at most {limit} characters")
        return {"text": text}
    raise _fail("task_type", f"unknown task type {task_type!r}")


def _boxes(answer: dict, labels: list[str], data: dict | None, path: str) -> list[dict]:
    _only_keys(answer, {"boxes"}, path)
    boxes = answer.get("boxes")
    if not isinstance(boxes, list):
        raise _fail(f"{path}.boxes", "must be a list of boxes")
    if len(boxes) > MAX_BOXES:
        raise _fail(f"{path}.boxes", f"at most {MAX_BOXES} boxes")
    width = (data or {}).get("width")
    height = (data or {}).get("height")
    out = []
    for i, box in enumerate(boxes):
        where = f"{path}.boxes[{i}]"
        if not isinstance(box, dict):
            raise _fail(where, "must be an object")
        _only_keys(box, {"label", "x", "y", "width", "height"}, where)
        label = _label(box.get("label"), labels, f"{where}.label")
        coords = {}
        for key in ("x", "y", "width", "height"):
            value = box.get(key)
            if not _is_number(value):
                raise _fail(f"{where}.{key}", "must be a number of pixels")
            coords[key] = value
        if coords["x"] < 0 or coords["y"] < 0:
            raise _fail(where, "x and y must not be negative")
        if coords["width"] <= 0 or coords["height"] <= 0:
            raise _fail(where, "width and height must be positive")
        if _is_number(width) and coords["x"] + coords["width"] > width:
            raise _fail(where, f"box goes past the image width {width}")
        if _is_number(height) and coords["y"] + coords["height"] > height:
            raise _fail(where, f"box goes past the image height {height}")
        out.append({"label": label, **coords})
    return out


def _spans(answer: dict, labels: list[str], config: dict, data: dict | None, path: str) -> list[dict]:
    _only_keys(answer, {"spans"}, path)
    spans = answer.get("spans")
    if not isinstance(spans, list):
        raise _fail(f"{path}.spans", "must be a list of spans")
    if len(spans) > MAX_SPANS:
        raise _fail(f"{path}.spans", f"at most {MAX_SPANS} spans")
    text = (data or {}).get(config.get("text_field", "text"))
    out = []
    for i, span in enumerate(spans):
        where = f"{path}.spans[{i}]"
        if not isinstance(span, dict):
            raise _fail(where, "must be an object")
        _only_keys(span, {"label", "start", "end", "text"}, where)
        label = _label(span.get("label"), labels, f"{where}.label")
        start, end = span.get("start"), span.get("end")
        if not _is_int(start) or not _is_int(end):
            raise _fail(where, "start and end must be integer character offsets")
        if start < 0 or end <= start:
            raise _fail(where, "need 0 <= start < end")
        if isinstance(text, str):
            if end > len(text):
                raise _fail(f"{where}.end", f"is past the end of the text ({len(text)} characters)")
            quoted = span.get("text")
            if quoted is not None and quoted != text[start:end]:
                raise _fail(f"{where}.text", f"does not match the text at {start}:{end}")
            # Stored tight: NLP tools cannot place a span that starts or ends on whitespace on their tokens
            # (spaCy drops it), and "São Paulo " is the same mention as "São Paulo".
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if start == end:
                raise _fail(where, "marks only whitespace")
        out.append({"label": label, "start": start, "end": end})
    out.sort(key=lambda s: (s["start"], s["end"], s["label"]))
    return out


def required_overlap(overlap_centi: int, ordinal: int) -> int:
    """Answers a task needs. A fractional overlap spreads the extra answers evenly.

    With overlap 2.5 the tasks alternate 2, 3, 2, 3...: over any run of n
    consecutive tasks the extras add up to n * 0.5 within one.
    """
    base, frac = divmod(overlap_centi, 100)
    return base + ((ordinal + 1) * frac) // 100 - (ordinal * frac) // 100
