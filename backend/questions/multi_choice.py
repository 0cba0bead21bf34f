"""Any number of labels: ``{"choices": [label, ...]}``, stored in the labels' order."""

from __future__ import annotations

from ..quality.similarity import jaccard
from .base import QuestionKind, check_labels, fail, label, only_keys


class MultiChoice(QuestionKind):
    name = "multi_choice"
    fields = ("labels",)
    methods = ("majority", "dawid_skene")
    agreement = "multi_label"

    def check_config(self, fields, prefix=""):
        super().check_config(fields, prefix)
        return {"labels": check_labels(fields, self.name, f"{prefix}labels")}

    def check_answer(self, config, answer, data=None, path="answer"):
        if not isinstance(answer, dict):
            raise fail(path, "must be an object")
        only_keys(answer, {"choices"}, path)
        labels = config["labels"]
        choices = answer.get("choices")
        if not isinstance(choices, list):
            raise fail(f"{path}.choices", "must be a list of labels")
        seen = [label(c, labels, f"{path}.choices[{i}]") for i, c in enumerate(choices)]
        if len(set(seen)) != len(seen):
            raise fail(f"{path}.choices", "labels must not repeat")
        return {"choices": sorted(seen, key=labels.index)}

    def similarity(self, a, b, config):
        return jaccard(set(a["choices"]), set(b["choices"]))

    def matches(self, answer, value):
        """``when`` holds when the value is among the choices (or is the whole list)."""
        return value == answer or value == answer["choices"] or value in answer["choices"]


KIND = MultiChoice()
