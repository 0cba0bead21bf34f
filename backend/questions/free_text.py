"""A written answer: ``{"text": str}``."""

from __future__ import annotations

from ..quality.similarity import text_similarity
from ..quality.structured import text_medoid
from .base import QuestionKind, fail, is_int, only_keys

# The longest answer accepted when a project sets no limit (the request body caps it anyway).
MAX_TEXT = 100_000


def check_max_length(fields, prefix: str) -> dict:
    max_length = fields.get("max_length")
    if max_length is None:
        return {}
    if not is_int(max_length) or not 1 <= max_length <= MAX_TEXT:
        raise fail(f"{prefix}max_length", f"must be an integer between 1 and {MAX_TEXT}")
    return {"max_length": max_length}


def check_text(config, answer, path: str) -> str:
    text = answer.get("text")
    if not isinstance(text, str):
        raise fail(f"{path}.text", "must be a string")
    limit = config.get("max_length")
    if limit is not None and len(text) > limit:
        raise fail(f"{path}.text", f"must be at most {limit} characters")
    return text


class FreeText(QuestionKind):
    name = "free_text"
    scalar_key = "text"
    fields = ("max_length",)
    methods = ("medoid",)

    def check_config(self, fields, prefix=""):
        super().check_config(fields, prefix)
        return check_max_length(fields, prefix)

    def check_answer(self, config, answer, data=None, path="answer"):
        if not isinstance(answer, dict):
            raise fail(path, "must be an object")
        only_keys(answer, {"text"}, path)
        return {"text": check_text(config, answer, path)}

    def similarity(self, a, b, config):
        return text_similarity(a["text"], b["text"])

    def when_value(self, answer):
        return answer["text"]

    def merge(self, answers, method, config):
        """The medoid: the answer most like the others."""
        merged = text_medoid([a["text"] for a in answers])
        return dict(answers[merged["index"]]), float(merged["confidence"]), None


KIND = FreeText()
