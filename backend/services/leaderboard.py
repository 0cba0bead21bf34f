"""Leaderboards: what a pairwise or ranking question compares, ranked by Bradley-Terry strength.

A pairwise answer is one comparison of the task's two candidates (named by the question's
``a_id`` / ``b_id`` fields, else by the candidates' text); a ranking answer is every pair its order
makes (each item beats every later one). ``source="answers"`` counts every counted answer, as an
arena does; ``source="consensus"`` counts each task's merged answer once. Gold tasks and rejected
answers never count.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select

from ..db import read_session
from ..errors import NotFound
from ..models import ConsensusResult, Project, Task
from ..quality import leaderboard as bt
from ..questions import form_of
from ..questions.base import fail
from ..questions.form import Question
from . import consensus_data
from .access import Principal, ensure_manage

SOURCES = ("answers", "consensus")
RANKED_KINDS = ("pairwise", "ranking")
_OUTCOME = {"a": 1.0, "b": 0.0, "tie": 0.5}


def question_leaderboard(*, principal: Principal, project_id: int, name: str, source: str = "answers"
                         ) -> dict[str, Any]:
    """The compared items best first, with score, 95% interval and their wins, losses and ties.
    Raises NotFound (project, question), Forbidden, ValidationError (a question that compares nothing)."""
    principal.require_scope("results:read")
    if source not in SOURCES:
        raise fail("source", f"must be one of {', '.join(SOURCES)}")
    with read_session() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        question = form_of(project).by_name.get(name)
        if question is None:
            raise NotFound(f"Project {project_id} has no question named {name!r}.")
        if question.kind.name not in RANKED_KINDS:
            raise fail("name", f"{name} is a {question.kind.name} question; leaderboards rank what pairwise and "
                               "ranking questions compare")
        if question.kind.name == "pairwise":
            comparisons, items = _pairwise(session, project_id, question, source)
        else:
            comparisons, items = _ranking(session, project_id, question, source)
    count = len(comparisons)
    rows = bt.leaderboard(np.asarray(comparisons, dtype=float).reshape(-1, 3), items=list(range(len(items))))
    entries = [{**row, "item": items[row["item"]]} for row in rows if row["wins"] + row["losses"] + row["ties"]]
    return {"question": name, "kind": question.kind.name, "source": source, "comparisons": count, "items": entries}


class _Items:
    """Item names coded as integers in the order first met."""

    def __init__(self) -> None:
        self.code: dict[str, int] = {}

    def __call__(self, item: Any) -> int:
        return self.code.setdefault(str(item), len(self.code))

    @property
    def names(self) -> list[str]:
        return list(self.code)


def _pairwise(session, project_id: int, question: Question, source: str) -> tuple[list[tuple], list[str]]:
    config, code = question.config, _Items()
    fields = (config["a_id"], config["b_id"]) if config.get("a_id") else (config["a"], config["b"])
    candidates = {task: (a, b) for task, a, b in session.execute(
        select(Task.id, Task.data[fields[0]].as_string(), Task.data[fields[1]].as_string())
        .where(Task.project_id == project_id, Task.status != "gold"))}
    if source == "answers":
        labels = ["a", "b", "tie"]
        answers = consensus_data.choices(session, project_id, labels, question=question.name)
        votes = zip(answers.task.tolist(), (labels[v] for v in answers.value.tolist()), strict=True)
    else:
        votes = ((task, part.get("choice")) for task, part in _consensus(session, project_id, question.name))
    comparisons = []
    for task, choice in votes:
        pair = candidates.get(task)
        if pair is None or choice not in _OUTCOME or None in pair or pair[0] == pair[1]:
            continue  # a candidate without a name, or one compared with itself, says nothing
        comparisons.append((code(pair[0]), code(pair[1]), _OUTCOME[choice]))
    return comparisons, code.names


def _ranking(session, project_id: int, question: Question, source: str) -> tuple[list[tuple], list[str]]:
    code = _Items()
    if source == "answers":
        orders = (answer.get("order") for _task, _batch, answer in
                  consensus_data.answer_rows(session, project_id, consensus_data.Scope(), question=question.name))
    else:
        orders = (part.get("order") for _task, part in _consensus(session, project_id, question.name))
    comparisons = []
    for order in orders:
        if not isinstance(order, list):
            continue
        coded = [code(item) for item in order]
        comparisons += [(winner, loser, 1.0) for winner, loser, _tie in bt.ranking_pairs(coded)]
    return comparisons, code.names


def _consensus(session, project_id: int, name: str):
    """(task, the question's merged answer) of tasks whose consensus stands."""
    rows = session.execute(select(ConsensusResult.task_id, ConsensusResult.answer)
                           .join(Task, Task.id == ConsensusResult.task_id)
                           .where(ConsensusResult.project_id == project_id, ConsensusResult.answers_used > 0,
                                  Task.status != "gold"))
    for task, answer in rows:
        if isinstance(answer, dict) and isinstance(answer.get(name), dict):
            yield task, answer[name]

