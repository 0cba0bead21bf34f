"""Which of two candidates is better: ``{"choice": "a" | "b" | "tie"}``.

``a`` and ``b`` name the data fields holding the candidates (two model responses, say), ``a_id``
and ``b_id`` optionally the fields naming what is compared (the models), which the leaderboard
ranks. Agreement is nominal over a / b / tie, and consensus is a majority or Dawid-Skene over the
same three answers, exactly as for a single-choice question with those labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import data_field, fail, only_keys
from .single_choice import SingleChoice


class Pairwise(SingleChoice):
    name = "pairwise"
    fields = ("a", "b", "a_id", "b_id", "prompt", "allow_tie")
    methods = ("majority", "dawid_skene")

    def check_config(self, fields, prefix=""):
        for key in fields:
            if key not in self.fields and fields[key] is not None:
                raise fail(f"{prefix}{key}", f"pairwise does not take {key}")
        config: dict[str, Any] = {"a": data_field(fields, "a", f"{prefix}a"),
                                  "b": data_field(fields, "b", f"{prefix}b")}
        if config["a"] == config["b"]:
            raise fail(f"{prefix}b", "must name another data field than a")
        for key in ("a_id", "b_id", "prompt"):
            config[key] = data_field(fields, key, f"{prefix}{key}", required=False)
        if (config["a_id"] is None) != (config["b_id"] is None):
            raise fail(f"{prefix}b_id" if config["b_id"] is None else f"{prefix}a_id", "give both a_id and b_id")
        allow_tie = fields.get("allow_tie", True)
        if not isinstance(allow_tie, bool):
            raise fail(f"{prefix}allow_tie", "must be true or false")
        config["allow_tie"] = allow_tie
        return config

    def categories(self, config: Mapping[str, Any]) -> list[str]:
        return ["a", "b", "tie"] if config.get("allow_tie", True) else ["a", "b"]

    def check_data(self, config, data, path="data"):
        for key in ("a", "b"):
            field = config[key]
            if data.get(field) in (None, ""):
                raise fail(f"{path}.{field}", f"pairwise tasks need candidate {key.upper()} in this field")
        for key in ("a_id", "b_id"):
            field = config.get(key)
            if field is not None and (not isinstance(data.get(field), str | int) or isinstance(data.get(field), bool)
                                      or data.get(field) == ""):
                raise fail(f"{path}.{field}", "must name the candidate (a string or an integer)")

    def check_answer(self, config, answer, data=None, path="answer"):
        if not isinstance(answer, dict):
            raise fail(path, "must be an object")
        only_keys(answer, {"choice"}, path)
        choice = answer.get("choice")
        allowed = self.categories(config)
        if choice not in allowed:
            raise fail(f"{path}.choice", f"must be one of {', '.join(map(repr, allowed))}")
        return {"choice": choice}

    @staticmethod
    def candidates(config: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[str, str]:
        """What was compared, as the leaderboard names it: the id fields, else the candidates' text."""
        if config.get("a_id"):
            return str(data.get(config["a_id"])), str(data.get(config["b_id"]))
        return str(data.get(config["a"])), str(data.get(config["b"]))


KIND = Pairwise()
