"""The protocol every question kind follows, and the checks the kinds share.

A kind is one module in this package holding one ``QuestionKind`` subclass: what its configuration
takes, what task data it needs, which answers it accepts and in what canonical form, how alike two
answers are, how a task's answers agree, how an answer scores against gold, which consensus methods
fit it and how a spreadsheet cell shows it. Every failure is a ``ValidationError`` whose
``details.fields`` names the offending path, so a client can show the message next to the field.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any, ClassVar

import orjson

from ..errors import ValidationError

MAX_LABELS = 1000
MAX_FIELD_NAME = 200


def fail(path: str, message: str) -> ValidationError:
    return ValidationError(f"{path}: {message}", details={"fields": {path: [message]}})


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def only_keys(value: Mapping, allowed: set[str], path: str) -> None:
    extra = sorted(set(value) - allowed, key=str)
    if extra:
        raise fail(f"{path}.{extra[0]}", "unknown field")


def label(value: Any, labels: Sequence[str], path: str) -> str:
    if not isinstance(value, str):
        raise fail(path, "must be a string")
    if value not in labels:
        raise fail(path, f"{value!r} is not one of the labels {list(labels)}")
    return value


def check_labels(fields: Mapping[str, Any], kind: str, path: str) -> list[str]:
    labels = fields.get("labels")
    if not isinstance(labels, list) or not labels:
        raise fail(path, f"{kind} needs a non-empty list of labels")
    if len(labels) > MAX_LABELS:
        raise fail(path, f"at most {MAX_LABELS} labels")
    if not all(isinstance(item, str) and item.strip() and len(item) <= MAX_FIELD_NAME for item in labels):
        raise fail(path, f"every label must be a non-empty string of at most {MAX_FIELD_NAME} characters")
    if len(set(labels)) != len(labels):
        raise fail(path, "labels must be distinct")
    return list(labels)


def data_field(fields: Mapping[str, Any], key: str, path: str, *, default: str | None = None,
               required: bool = True) -> str | None:
    """A configuration entry naming a field of the task data."""
    value = fields.get(key)
    if value is None:
        value = default
    if value is None:
        if required:
            raise fail(path, "name the data field")
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_FIELD_NAME:
        raise fail(path, f"must be a data field name of 1 to {MAX_FIELD_NAME} characters")
    return value


class QuestionKind(ABC):
    """One kind of question. Subclasses set the class attributes and override what differs."""

    name: ClassVar[str]
    # Configuration entries the kind takes (beyond name, kind, title, required, when).
    fields: ClassVar[tuple[str, ...]] = ()
    # Consensus methods, the default first.
    methods: ClassVar[tuple[str, ...]]
    # How agreement is measured: "nominal" and "interval" are Krippendorff levels over coded answers,
    # "multi_label" per label, "ranking" Kendall's W, "similarity" the mean pairwise similarity.
    agreement: ClassVar[str] = "similarity"
    # The answer's key that ``when`` compares and a spreadsheet shows bare, if it has one.
    scalar_key: ClassVar[str | None] = None

    def check_config(self, fields: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        """The stored configuration; ``prefix`` is put before field names in errors."""
        for key in fields:
            if key not in self.fields and fields[key] is not None:
                raise fail(f"{prefix}{key}", f"{self.name} does not take {key}")
        return {}

    def check_data(self, config: Mapping[str, Any], data: Mapping[str, Any], path: str = "data") -> None:
        """Raise when the task data lacks what the kind shows (text to mark, an image, the candidates);
        kinds that show nothing of their own need nothing."""
        return None

    @abstractmethod
    def check_answer(self, config: Mapping[str, Any], answer: Any, data: Mapping[str, Any] | None = None,
                     path: str = "answer") -> dict[str, Any]:
        """The answer in canonical form; raises ValidationError naming the offending path."""

    def categories(self, config: Mapping[str, Any]) -> list[str] | None:
        """The answer's possible values for kinds whose answer is one of a few (coded for agreement)."""
        return None

    def code(self, answer: Mapping[str, Any], config: Mapping[str, Any]) -> float | None:
        """The answer as a number for Krippendorff's alpha (a label's position, a rating); None: unknown."""
        categories = self.categories(config)
        if categories is None or self.scalar_key is None:
            return None
        try:
            return float(categories.index(answer[self.scalar_key]))
        except (KeyError, ValueError):
            return None

    @abstractmethod
    def similarity(self, a: Mapping[str, Any], b: Mapping[str, Any], config: Mapping[str, Any]) -> float:
        """How alike two answers are, in [0, 1]."""

    def task_agreement(self, answers: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> float | None:
        """Agreement among one task's answers: the mean pairwise similarity; None with fewer than 2."""
        if len(answers) < 2:
            return None
        scores = [self.similarity(a, b, config) for a, b in combinations(answers, 2)]
        return sum(scores) / len(scores)

    def gold_score(self, answer: Mapping[str, Any], gold: Mapping[str, Any], config: Mapping[str, Any],
                   tolerance: float | None = 0) -> float:
        """Score in [0, 1] of an answer against the expected one."""
        return self.similarity(answer, gold, config)

    def merge(self, answers: Sequence[Mapping[str, Any]], method: str, config: Mapping[str, Any]
              ) -> tuple[dict[str, Any], float, dict[str, Any] | None]:
        """One task's consensus from its answers, for kinds merged task by task: (answer, confidence,
        details). Choices and ratings are merged over whole arrays instead (services.consensus_plan), so
        their kinds have no per-task merge and asking for one is a programming error."""
        raise TypeError(f"{self.name} answers are merged over arrays, not task by task")

    def when_value(self, answer: Mapping[str, Any]) -> Any:
        """What ``when: {"equals": ...}`` of another question compares with."""
        return answer.get(self.scalar_key) if self.scalar_key else answer

    def matches(self, answer: Mapping[str, Any], value: Any) -> bool:
        return value == answer or value == self.when_value(answer)

    def scalar(self, answer: Mapping[str, Any] | None) -> str | int | float:
        """The answer as one spreadsheet cell: a bare value where the kind has one, else JSON."""
        if answer is None:
            return ""
        if self.scalar_key is not None:
            return answer[self.scalar_key]
        return orjson.dumps(answer).decode()
