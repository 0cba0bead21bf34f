"""A point on an integer scale: ``{"value": int}``; with ``labels`` a Likert scale."""

from __future__ import annotations

from collections import Counter

from .base import MAX_FIELD_NAME, QuestionKind, fail, is_int, only_keys

MAX_POINTS = 1001


class Rating(QuestionKind):
    name = "rating"
    fields = ("min", "max", "labels")
    methods = ("median", "mean")
    agreement = "interval"
    scalar_key = "value"

    def check_config(self, fields, prefix=""):
        super().check_config(fields, prefix)
        low, high = fields.get("min"), fields.get("max")
        if not is_int(low) or not is_int(high):
            raise fail(f"{prefix}min" if not is_int(low) else f"{prefix}max", "rating needs integer min and max")
        if low >= high:
            raise fail(f"{prefix}max", "must be greater than min")
        config = {"min": low, "max": high}
        labels = fields.get("labels")
        if labels is not None:
            config["labels"] = self._point_labels(labels, low, high, f"{prefix}labels")
        return config

    @staticmethod
    def _point_labels(labels, low: int, high: int, path: str) -> dict[str, str]:
        """``{"1": "harmful", "5": "harmless"}``: words for some or all points of the scale."""
        if not isinstance(labels, dict) or not labels:
            raise fail(path, 'must be an object of points and their words, e.g. {"1": "harmful"}')
        if len(labels) > min(high - low + 1, MAX_POINTS):
            raise fail(path, "at most one word per point of the scale")
        out = {}
        for key, text in labels.items():
            try:
                point = int(key)
            except (TypeError, ValueError):
                raise fail(f"{path}.{key}", "must be a point of the scale") from None
            if str(point) != str(key) or not low <= point <= high:
                raise fail(f"{path}.{key}", f"must be an integer point between {low} and {high}")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_FIELD_NAME:
                raise fail(f"{path}.{key}", f"must be a word or phrase of at most {MAX_FIELD_NAME} characters")
            out[str(point)] = text
        return dict(sorted(out.items(), key=lambda item: int(item[0])))

    def check_answer(self, config, answer, data=None, path="answer"):
        if not isinstance(answer, dict):
            raise fail(path, "must be an object")
        only_keys(answer, {"value"}, path)
        value = answer.get("value")
        if not is_int(value):
            raise fail(f"{path}.value", "must be an integer")
        if not config["min"] <= value <= config["max"]:
            raise fail(f"{path}.value", f"must be between {config['min']} and {config['max']}")
        return {"value": value}

    def code(self, answer, config):
        value = answer.get("value")
        return float(value) if is_int(value) else None

    def similarity(self, a, b, config):
        span = config["max"] - config["min"]
        if span <= 0:
            return 1.0 if a["value"] == b["value"] else 0.0
        return min(1.0, max(0.0, 1.0 - abs(a["value"] - b["value"]) / span))

    def task_agreement(self, answers, config):
        """The share of the most common rating."""
        if len(answers) < 2:
            return None
        return Counter(a["value"] for a in answers).most_common(1)[0][1] / len(answers)

    def gold_score(self, answer, gold, config, tolerance=0):
        """1.0 within ``tolerance`` points of the expected rating, else 0.0."""
        return 1.0 if abs(answer["value"] - gold["value"]) <= (tolerance or 0) else 0.0


KIND = Rating()
