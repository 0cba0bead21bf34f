"""Labelled character ranges of a text: ``{"spans": [{"label", "start", "end"}]}``."""

from __future__ import annotations

from ..quality.similarity import span_f1
from ..quality.structured import span_consensus
from .base import QuestionKind, check_labels, data_field, fail, is_int, label, only_keys

MAX_SPANS = 10000


class TextSpans(QuestionKind):
    name = "text_spans"
    fields = ("labels", "text_field")
    methods = ("span_vote",)

    def check_config(self, fields, prefix=""):
        super().check_config(fields, prefix)
        return {"labels": check_labels(fields, self.name, f"{prefix}labels"),
                "text_field": data_field(fields, "text_field", f"{prefix}text_field", default="text")}

    def check_data(self, config, data, path="data"):
        field = config["text_field"]
        if not isinstance(data.get(field), str):
            raise fail(f"{path}.{field}", "text_spans tasks need this text field")

    def check_answer(self, config, answer, data=None, path="answer"):
        """Spans are trimmed to leave out whitespace at either end; a span of whitespace only is refused."""
        if not isinstance(answer, dict):
            raise fail(path, "must be an object")
        only_keys(answer, {"spans"}, path)
        spans = answer.get("spans")
        if not isinstance(spans, list):
            raise fail(f"{path}.spans", "must be a list of spans")
        if len(spans) > MAX_SPANS:
            raise fail(f"{path}.spans", f"at most {MAX_SPANS} spans")
        text = (data or {}).get(config.get("text_field", "text"))
        out = []
        for i, span in enumerate(spans):
            where = f"{path}.spans[{i}]"
            if not isinstance(span, dict):
                raise fail(where, "must be an object")
            only_keys(span, {"label", "start", "end", "text"}, where)
            name = label(span.get("label"), config["labels"], f"{where}.label")
            start, end = span.get("start"), span.get("end")
            if not is_int(start) or not is_int(end):
                raise fail(where, "start and end must be integer character offsets")
            if start < 0 or end <= start:
                raise fail(where, "need 0 <= start < end")
            if isinstance(text, str):
                if end > len(text):
                    raise fail(f"{where}.end", f"is past the end of the text ({len(text)} characters)")
                quoted = span.get("text")
                if quoted is not None and quoted != text[start:end]:
                    raise fail(f"{where}.text", f"does not match the text at {start}:{end}")
                # Stored tight: NLP tools cannot place a span that starts or ends on whitespace on their
                # tokens (spaCy drops it), and "São Paulo " is the same mention as "São Paulo".
                while start < end and text[start].isspace():
                    start += 1
                while end > start and text[end - 1].isspace():
                    end -= 1
                if start == end:
                    raise fail(where, "marks only whitespace")
            out.append({"label": name, "start": start, "end": end})
        out.sort(key=lambda s: (s["start"], s["end"], s["label"]))
        return {"spans": out}

    def similarity(self, a, b, config):
        return span_f1(a["spans"], b["spans"])

    def merge(self, answers, method, config):
        merged = span_consensus([a["spans"] for a in answers])
        return {"spans": merged["spans"]}, float(merged["confidence"]), None


KIND = TextSpans()
