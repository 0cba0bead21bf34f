"""Task forms: the questions a project asks, how its task data is shown, and the checks over both.

A project created the old way stores its one question's configuration in ``label_config`` and its
kind in ``task_type``; a form project has ``task_type`` ``"form"`` and ``label_config`` ``{"questions":
[...]}``. ``form_of`` reads either as a ``Form``. A form's answer is ``{NAME: that question's answer}``;
an old project's answer is its one question's answer, as it always was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from .base import MAX_FIELD_NAME, QuestionKind, fail
from .registry import KINDS, LEGACY_KINDS

FORM = "form"
LEGACY_NAME = "answer"
MAX_QUESTIONS = 50
MAX_TITLE = 500
MAX_WHEN_VALUE = 1000
MAX_CHAT_TURNS = 1000
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
DISPLAY_AS = ("text", "markdown", "html", "image", "images", "audio", "video", "chat")
_COMMON = ("name", "kind", "title", "required", "when", "consensus_method")


@dataclass(frozen=True)
class Question:
    name: str
    kind: QuestionKind
    title: str
    required: bool = True
    when: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    consensus_method: str | None = None

    @property
    def method(self) -> str:
        return self.consensus_method or self.kind.methods[0]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.name, "title": self.title, "required": self.required,
                "when": self.when, "consensus_method": self.consensus_method, **self.config}


def legacy_config(task_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """An old-style project's label schema for its task type, checked; field names as the API has them."""
    if task_type not in LEGACY_KINDS:
        kinds = ", ".join(LEGACY_KINDS)
        hint = " (new kinds are asked as questions)" if task_type in KINDS else ""
        raise fail("task_type", f"must be one of {kinds}{hint}")
    kind = KINDS[task_type]
    # The old way ignores the fields of other types, except labels, which a type without them refuses.
    taken = {k: v for k, v in fields.items() if k in kind.fields or k == "labels"}
    if taken.get("labels") is not None and "labels" not in kind.fields:
        raise fail("labels", f"{task_type} does not take labels")
    return kind.check_config(taken)


def _check_when(when: Any, earlier: Mapping[str, Question], path: str) -> dict[str, Any]:
    if not isinstance(when, dict) or set(when) != {"question", "equals"}:
        raise fail(path, 'must be {"question": an earlier question\'s name, "equals": a value}')
    target = when["question"]
    if target not in earlier:
        raise fail(f"{path}.question", "must name a question that comes before this one")
    value = when["equals"]
    if len(orjson.dumps(value)) > MAX_WHEN_VALUE:
        raise fail(f"{path}.equals", f"at most {MAX_WHEN_VALUE} characters of JSON")
    kind, config = earlier[target].kind, earlier[target].config
    categories = kind.categories(config)
    if categories is not None and not isinstance(value, dict) and value not in categories:
        raise fail(f"{path}.equals", f"{target} is answered with one of {categories}")
    if kind.name == "multi_choice" and isinstance(value, str) and value not in config["labels"]:
        raise fail(f"{path}.equals", f"{value!r} is not one of {target}'s labels")
    return {"question": target, "equals": value}


def _question(raw: Any, earlier: Mapping[str, Question], path: str) -> Question:
    if not isinstance(raw, dict):
        raise fail(path, "must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise fail(f"{path}.name", "must be an identifier: a letter or _, then letters, digits or _ (at most 64)")
    if name in earlier:
        raise fail(f"{path}.name", f"another question is already named {name}")
    kind = KINDS.get(raw.get("kind")) if isinstance(raw.get("kind"), str) else None
    if kind is None:
        raise fail(f"{path}.kind", f"must be one of {', '.join(KINDS)}")
    title = raw.get("title", name)
    if title is None:
        title = name
    if not isinstance(title, str) or len(title) > MAX_TITLE:
        raise fail(f"{path}.title", f"must be a string of at most {MAX_TITLE} characters")
    required = raw.get("required", True)
    if not isinstance(required, bool):
        raise fail(f"{path}.required", "must be true or false")
    when = raw.get("when")
    if when is not None:
        when = _check_when(when, earlier, f"{path}.when")
    method = raw.get("consensus_method")
    if method is not None and method not in kind.methods:
        raise fail(f"{path}.consensus_method", f"{kind.name} questions take {', '.join(kind.methods)}")
    config = kind.check_config({k: v for k, v in raw.items() if k not in _COMMON}, prefix=f"{path}.")
    return Question(name, kind, title, required, when, config, method)


def check_questions(raw: Any, path: str = "questions") -> list[dict[str, Any]]:
    """A form's questions, checked and in their stored form. Raises ValidationError naming the field."""
    if not isinstance(raw, list) or not raw:
        raise fail(path, "must be a non-empty list of questions")
    if len(raw) > MAX_QUESTIONS:
        raise fail(path, f"at most {MAX_QUESTIONS} questions")
    questions: dict[str, Question] = {}
    for i, item in enumerate(raw):
        question = _question(item, questions, f"{path}[{i}]")
        questions[question.name] = question
    return [q.as_dict() for q in questions.values()]


def check_display(raw: Any, path: str = "display") -> list[dict[str, str]]:
    """How task data fields are shown: ``[{"field", "as"}]``, one entry per field."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise fail(path, 'must be a list of {"field", "as"}')
    if len(raw) > MAX_QUESTIONS:
        raise fail(path, f"at most {MAX_QUESTIONS} entries")
    out, seen = [], set()
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(item, dict) or set(item) != {"field", "as"}:
            raise fail(where, 'must be {"field": a data field, "as": how to show it}')
        name, shown = item["field"], item["as"]
        if not isinstance(name, str) or not name or len(name) > MAX_FIELD_NAME:
            raise fail(f"{where}.field", f"must be a data field name of 1 to {MAX_FIELD_NAME} characters")
        if name in seen:
            raise fail(f"{where}.field", f"{name} is declared twice")
        if shown not in DISPLAY_AS:
            raise fail(f"{where}.as", f"must be one of {', '.join(DISPLAY_AS)}")
        seen.add(name)
        out.append({"field": name, "as": shown})
    return out


def _check_shown(display: Sequence[Mapping[str, str]], data: Mapping[str, Any], path: str) -> None:
    """A declared field, when the task has it, holds what its display needs."""
    for entry in display:
        name, shown = entry["field"], entry["as"]
        if name not in data or data[name] is None:
            continue
        value, where = data[name], f"{path}.{name}"
        if shown in ("text", "markdown", "html", "image", "audio", "video") and not isinstance(value, str):
            raise fail(where, f"shown as {shown}: must be a string")
        if shown == "images" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise fail(where, "shown as images: must be a list of URLs")
        if shown == "chat":
            if not isinstance(value, list) or len(value) > MAX_CHAT_TURNS:
                raise fail(where, f'shown as chat: must be a list of at most {MAX_CHAT_TURNS} {{"role", "content"}}')
            for j, turn in enumerate(value):
                if not (isinstance(turn, dict) and isinstance(turn.get("role"), str)
                        and isinstance(turn.get("content"), str)):
                    raise fail(f"{where}[{j}]", 'must be {"role": str, "content": str}')


class Form:
    """The questions of one project; ``legacy`` for a project of one question created the old way."""

    def __init__(self, questions: Sequence[Question], display: Sequence[Mapping[str, str]] = (),
                 legacy: bool = False) -> None:
        self.questions = list(questions)
        self.by_name = {q.name: q for q in self.questions}
        self.display = list(display)
        self.legacy = legacy

    # --- reading stored answers ------------------------------------------------------------------

    def part(self, answer: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
        """One question's part of a stored answer (None where it was not shown or not answered)."""
        if answer is None:
            return None
        if self.legacy:
            return answer
        part = answer.get(name)
        return part if isinstance(part, dict) else None

    def shown(self, question: Question, answers: Mapping[str, Any]) -> bool:
        """Whether ``question`` is shown, given the (canonical) answers to the questions before it."""
        if question.when is None:
            return True
        target = self.by_name[question.when["question"]]
        given = answers.get(target.name)
        return given is not None and target.kind.matches(given, question.when["equals"])

    # --- checks ----------------------------------------------------------------------------------

    def check_data(self, data: Any, path: str = "data") -> None:
        if not isinstance(data, dict):
            raise fail(path, "must be an object")
        for question in self.questions:
            question.kind.check_data(question.config, data, path)
        _check_shown(self.display, data, path)

    def check_answer(self, answer: Any, data: Mapping[str, Any] | None = None, path: str = "answer"
                     ) -> dict[str, Any]:
        """A worker's answer in canonical form. Every shown required question must be answered, an
        unshown one must not be, and names the form lacks are refused."""
        if self.legacy:
            question = self.questions[0]
            return question.kind.check_answer(question.config, answer, data, path)
        if not isinstance(answer, dict):
            raise fail(path, "must be an object of the questions' answers by name")
        self._unknown(answer, path)
        out: dict[str, Any] = {}
        for question in self.questions:
            value = answer.get(question.name)
            where = f"{path}.{question.name}"
            if not self.shown(question, out):
                if value is not None:
                    raise fail(where, f"not asked: {question.when['question']} is not {question.when['equals']!r}")
                continue
            if value is None:
                if question.required:
                    raise fail(where, "this question needs an answer")
                continue
            out[question.name] = question.kind.check_answer(question.config, value, data, where)
        return out

    def check_gold(self, gold: Any, data: Mapping[str, Any] | None = None, path: str = "gold") -> dict[str, Any]:
        """An expected answer: for a form, of any of its questions (gold may cover only some)."""
        if self.legacy:
            return self.check_answer(gold, data, path)
        if not isinstance(gold, dict) or not gold:
            raise fail(path, "must be an object of expected answers by question name")
        self._unknown(gold, path)
        return {q.name: q.kind.check_answer(q.config, gold[q.name], data, f"{path}.{q.name}")
                for q in self.questions if gold.get(q.name) is not None}

    def _unknown(self, answer: Mapping[str, Any], path: str) -> None:
        unknown = sorted((str(k) for k in answer if k not in self.by_name), key=str)
        if unknown:
            raise fail(f"{path}.{unknown[0][:MAX_FIELD_NAME]}", "no question of this form has this name")

    # --- scores ----------------------------------------------------------------------------------

    def gold_score(self, answer: Mapping[str, Any], gold: Mapping[str, Any], tolerance: float | None = 0) -> float:
        """The mean score over the questions the gold answer covers; one left unanswered scores 0."""
        scores = []
        for question in self.questions:
            expected = self.part(gold, question.name)
            if expected is None:
                continue
            given = self.part(answer, question.name)
            scores.append(0.0 if given is None else question.kind.gold_score(given, expected, question.config,
                                                                             tolerance))
        return sum(scores) / len(scores) if scores else 0.0

    def task_agreement(self, answers: Sequence[Mapping[str, Any]]) -> float | None:
        """The mean over questions of each question's agreement among the task's answers to it."""
        values = [v for v in (self.question_agreement(q, answers) for q in self.questions) if v is not None]
        return sum(values) / len(values) if values else None

    def question_agreement(self, question: Question, answers: Sequence[Mapping[str, Any]]) -> float | None:
        parts = [p for p in (self.part(a, question.name) for a in answers) if p is not None]
        return question.kind.task_agreement(parts, question.config)

    def similarity(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        """How alike two answers are: the mean over the questions either answered."""
        scores = []
        for question in self.questions:
            x, y = self.part(a, question.name), self.part(b, question.name)
            if x is None and y is None:
                continue
            scores.append(0.0 if x is None or y is None else question.kind.similarity(x, y, question.config))
        return sum(scores) / len(scores) if scores else 1.0

    def scalar(self, answer: Mapping[str, Any] | None) -> str | int | float:
        """An old project's answer as one spreadsheet cell (a form has a cell per question)."""
        if self.legacy:
            question = self.questions[0]
            return question.kind.scalar(answer)
        return "" if answer is None else orjson.dumps(answer).decode()


def form_of(project: Any) -> Form:
    """The questions of a project (anything with ``task_type``, ``label_config``, ``display``)."""
    config = project.label_config or {}
    if project.task_type == FORM:
        return form_from(config.get("questions", []), getattr(project, "display", None) or [])
    kind = KINDS[project.task_type]
    question = Question(LEGACY_NAME, kind, project.name if hasattr(project, "name") else LEGACY_NAME, True, None,
                        dict(config), getattr(project, "consensus_method", None))
    return Form([question], getattr(project, "display", None) or [], legacy=True)


def form_from(questions: Sequence[Mapping[str, Any]], display: Sequence[Mapping[str, str]] = ()) -> Form:
    """A form from its questions as stored (or as ``Question.as_dict`` writes them), already checked."""
    made = []
    for raw in questions:
        kind = KINDS[raw["kind"]]
        made.append(Question(raw["name"], kind, raw.get("title") or raw["name"], raw.get("required", True),
                             raw.get("when"), {k: raw[k] for k in kind.fields if k in raw},
                             raw.get("consensus_method")))
    return Form(made, display)


def methods_of(project: Any) -> tuple[str, ...]:
    """Consensus methods a project takes: its kind's, or for a form ``per_question`` (each question's own)."""
    if project.task_type == FORM:
        return ("per_question",)
    return KINDS[project.task_type].methods
