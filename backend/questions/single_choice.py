"""One label out of several: ``{"choice": label}``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .base import QuestionKind, check_labels, fail, label, only_keys


class SingleChoice(QuestionKind):
    name = "single_choice"
    fields = ("labels",)
    methods = ("dawid_skene", "majority", "weighted_majority", "one_coin")
    agreement = "nominal"
    scalar_key = "choice"

    def check_config(self, fields, prefix=""):
        super().check_config(fields, prefix)
        return {"labels": check_labels(fields, self.name, f"{prefix}labels")}

    def check_answer(self, config, answer, data=None, path="answer"):
        if not isinstance(answer, dict):
            raise fail(path, "must be an object")
        only_keys(answer, {"choice"}, path)
        return {"choice": label(answer.get("choice"), self.categories(config), f"{path}.choice")}

    def categories(self, config: Mapping[str, Any]) -> list[str]:
        return list(config.get("labels") or [])

    def similarity(self, a, b, config):
        return 1.0 if a["choice"] == b["choice"] else 0.0

    def task_agreement(self, answers: Sequence[Mapping[str, Any]], config) -> float | None:
        """The share of the most common answer."""
        if len(answers) < 2:
            return None
        return Counter(a[self.scalar_key] for a in answers).most_common(1)[0][1] / len(answers)


KIND = SingleChoice()
