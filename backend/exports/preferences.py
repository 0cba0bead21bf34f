"""Preference pairs, in the JSON Lines shape preference-tuning libraries read (TRL's DPO and reward
trainers, for one): ``{"prompt", "chosen", "rejected"}``, one line per merged preference.

A pairwise question gives a line per task whose merged answer prefers one candidate (a control
task's expected answer stands for its consensus); a ranking question gives a line per pair of its
merged order, the better item chosen. Each line also carries:

- ``chosen_id`` / ``rejected_id``: what was compared (the pairwise question's ``a_id`` / ``b_id``
  fields, a ranking item's id; null for a pairwise question without id fields);
- ``votes``: how the counted answers voted on that pair (``chosen``, ``rejected``, ``tie``), and
  ``margin`` = (chosen - rejected) / votes;
- ``agreement``: the share of those votes that agree with the line (null without votes), and
  ``confidence``: the question's consensus confidence;
- ``tie`` (false unless ``include_ties`` wrote a tie: then chosen and rejected are A and B, in the
  task's order), ``task_id``, ``external_id``, ``question``, ``gold``.

The prompt is the question's ``prompt`` field (pairwise) as the task holds it; when it is a
conversation (a list of ``{"role", "content"}`` turns), ``chosen`` and ``rejected`` are given as
one assistant turn each, the conversational form those libraries read; null without a prompt.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, BinaryIO

import orjson

from ._common import DEFAULT_OPTIONS, ChunkedWriter, WriteOptions, form_questions, part, training_answer

PREFERENCE_KINDS = ("pairwise", "ranking")


def _turns(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(t, dict) and "content" in t for t in value) and bool(value)


def _reply(text: Any, conversational: bool) -> Any:
    return [{"role": "assistant", "content": text}] if conversational else text


def _pairwise_lines(question, row: dict, merged: dict, options: WriteOptions) -> list[dict]:
    config, data = question.config, row["data"]
    choice = merged.get("choice")
    if choice not in ("a", "b", "tie") or (choice == "tie" and not options.include_ties):
        return []
    votes = {"a": 0, "b": 0, "tie": 0}
    for answer in row["answers"]:
        voted = part(answer["answer"], question.name) if answer.get("counted") else None
        if voted is not None and voted.get("choice") in votes:
            votes[voted["choice"]] += 1
    first, second = ("b", "a") if choice == "b" else ("a", "b")
    ids = {side: data.get(config[f"{side}_id"]) if config.get(f"{side}_id") else None for side in ("a", "b")}
    prompt = data.get(config["prompt"]) if config.get("prompt") else None
    return [_line(prompt, data.get(config[first]), data.get(config[second]), ids[first], ids[second],
                  (votes[first], votes[second], votes["tie"]), choice == "tie")]


def _ranking_lines(question, row: dict, merged: dict, options: WriteOptions) -> list[dict]:
    raw = row["data"].get(question.config["items"]) or []
    texts = {}
    for n, item in enumerate(raw):
        if isinstance(item, dict):
            texts[str(item.get("id"))] = item.get("text")
        else:
            texts[str(n)] = item
    order = [str(item) for item in merged.get("order") or []]
    position = [{item: n for n, item in enumerate(answer_order)} for answer_order in (
        [str(i) for i in (part(a["answer"], question.name) or {}).get("order") or []]
        for a in row["answers"] if a.get("counted"))]
    lines = []
    for x, better in enumerate(order):
        for worse in order[x + 1:]:
            ahead = sum(1 for p in position if better in p and worse in p and p[better] < p[worse])
            behind = sum(1 for p in position if better in p and worse in p and p[better] > p[worse])
            lines.append(_line(None, texts.get(better), texts.get(worse), better, worse, (ahead, behind, 0), False))
    return lines


def _line(prompt: Any, chosen: Any, rejected: Any, chosen_id: Any, rejected_id: Any,
          votes: tuple[int, int, int], tie: bool) -> dict:
    conversational = _turns(prompt)
    ahead, behind, tied = votes
    total = ahead + behind + tied
    agreeing = tied if tie else ahead
    return {"prompt": prompt, "chosen": _reply(chosen, conversational), "rejected": _reply(rejected, conversational),
            "chosen_id": None if chosen_id is None else str(chosen_id),
            "rejected_id": None if rejected_id is None else str(rejected_id),
            "votes": {"chosen": ahead, "rejected": behind, "tie": tied},
            "margin": (ahead - behind) / total if total else None,
            "agreement": agreeing / total if total else None, "tie": tie}


def write_preferences(
    rows: Iterable[dict],
    fh: BinaryIO,
    project: dict,
    *,
    tmp_dir: str | None = None,
    options: WriteOptions = DEFAULT_OPTIONS,
) -> int:
    """Write a line per merged preference of ``options.question``; return the number of tasks that gave
    one. Raises ``ValueError`` when the project has no such pairwise or ranking question."""
    form = form_questions(project)
    question = form.by_name.get(options.question or "") if form is not None else None
    if question is None or question.kind.name not in PREFERENCE_KINDS:
        raise ValueError(f"A preferences export needs a pairwise or ranking question, not {options.question!r}")
    lines_of = _pairwise_lines if question.kind.name == "pairwise" else _ranking_lines
    out = ChunkedWriter(fh)
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    tasks = 0
    for row in rows:
        merged = part(training_answer(row), question.name)
        if merged is None:
            continue
        confidence = (row.get("confidences") or {}).get(question.name)
        lines = lines_of(question, row, merged, options)
        for line in lines:
            line.update(confidence=confidence, task_id=row["task_id"], external_id=row["external_id"],
                        question=question.name, gold=bool(row.get("gold")))
            out.write(dumps(line, option=option))
        tasks += bool(lines)
    out.flush()
    return tasks
