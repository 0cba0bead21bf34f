"""A corrected text: ``{"text": str}``, starting from a data field's text; the edit distance is kept.

The stored answer is ``{"text", "distance"}``: ``distance`` is the Levenshtein distance from the
source, so how much people changed a model's output is a figure, not a guess.
"""

from __future__ import annotations

from ..quality.similarity import levenshtein, text_similarity
from ..quality.structured import text_medoid
from .base import QuestionKind, data_field, fail, only_keys
from .free_text import check_max_length, check_text


class TextEdit(QuestionKind):
    name = "text_edit"
    scalar_key = "text"
    fields = ("source", "max_length")
    methods = ("medoid",)

    def check_config(self, fields, prefix=""):
        super().check_config(fields, prefix)
        return {"source": data_field(fields, "source", f"{prefix}source"), **check_max_length(fields, prefix)}

    def check_data(self, config, data, path="data"):
        field = config["source"]
        if not isinstance(data.get(field), str):
            raise fail(f"{path}.{field}", "text_edit tasks need the text to correct in this field")

    def check_answer(self, config, answer, data=None, path="answer"):
        if not isinstance(answer, dict):
            raise fail(path, "must be an object")
        # A client may send back a stored answer: its distance is recomputed, never trusted.
        only_keys(answer, {"text", "distance"}, path)
        text = check_text(config, answer, path)
        source = (data or {}).get(config["source"])
        out = {"text": text}
        if isinstance(source, str):
            out["distance"] = levenshtein(source, text)
        return out

    def similarity(self, a, b, config):
        return text_similarity(a["text"], b["text"])

    def gold_score(self, answer, gold, config, tolerance=0):
        return text_similarity(answer["text"], gold["text"])

    def when_value(self, answer):
        return answer["text"]

    def merge(self, answers, method, config):
        """The medoid correction (with its distance from the source)."""
        merged = text_medoid([a["text"] for a in answers])
        return dict(answers[merged["index"]]), float(merged["confidence"]), None


KIND = TextEdit()
