"""CSV, one row per task, for spreadsheets.

Nested values (task data, answers, structured consensus answers) are stored as
JSON strings so that every project type has the same flat columns. ``gold`` is
``true`` for a control task, and ``expected`` holds its expected answer (spelled
as the consensus is). A form adds two columns per question after these:
``consensus.NAME`` (the merged answer as one cell: the choice, the rating, the
text, else JSON) and ``confidence.NAME``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import BinaryIO

from ._common import (
    DEFAULT_OPTIONS,
    ChunkedWriter,
    WriteOptions,
    csv_cell,
    dumps,
    expected_answer,
    form_questions,
    part,
)

CSV_COLUMNS = (
    "task_id",
    "external_id",
    "batch_id",
    "data",
    "consensus_answer",
    "confidence",
    "method",
    "agreement",
    "answer_count",
    "answers",
    "gold",
    "expected",
)


def _csv_consensus(task_type: str, answer: dict | None) -> str | int | float:
    """The consensus as a spreadsheet reader wants it: a bare value where the type has one."""
    if answer is None:
        return ""
    if task_type == "single_choice":
        return answer["choice"]
    if task_type == "rating":
        return answer["value"]
    return dumps(answer).decode()


class _Utf8Lines:
    """The text sink csv.writer needs, encoding each line into a ChunkedWriter.

    Used instead of io.TextIOWrapper, which wants a full buffered binary file
    and closes it when garbage-collected unless detached.
    """

    __slots__ = ("_out",)

    def __init__(self, out: ChunkedWriter) -> None:
        self._out = out

    def write(self, line: str) -> None:
        self._out.write(line.encode())


def write_csv(
    rows: Iterable[dict],
    fh: BinaryIO,
    project: dict,
    *,
    tmp_dir: str | None = None,
    options: WriteOptions = DEFAULT_OPTIONS,
) -> int:
    """Write a header and one CSV row per task (UTF-8, RFC 4180 quoting); return the number of tasks written.

    Empty cells stand for "none": no external id, no consensus, no agreement, no expected answer. Text a spreadsheet
    could run as a formula is written with a leading single quote (see ``csv_cell``).
    """
    task_type = project["task_type"]
    form = form_questions(project)
    questions = form.questions if form is not None else []
    out = ChunkedWriter(fh)
    writer = csv.writer(_Utf8Lines(out))
    writer.writerow(CSV_COLUMNS + tuple(f"{column}.{q.name}" for q in questions for column in ("consensus",
                                                                                                 "confidence")))
    count = 0
    for row in rows:
        consensus = row["consensus"]
        cells = (
            row["task_id"],
            "" if row["external_id"] is None else row["external_id"],
            row["batch_id"],
            dumps(row["data"]).decode(),
            _csv_consensus(task_type, consensus["answer"] if consensus else None),
            "" if consensus is None else consensus["confidence"],
            "" if consensus is None else consensus["method"],
            "" if row["agreement"] is None else row["agreement"],
            len(row["answers"]),
            dumps(row["answers"]).decode(),
            "true" if row.get("gold") else "false",
            _csv_consensus(task_type, expected_answer(row)),
        )
        if questions:
            answer = consensus["answer"] if consensus else None
            confidences = row.get("confidences") or {}
            for question in questions:
                confidence = confidences.get(question.name)
                cells += (question.kind.scalar(part(answer, question.name)), "" if confidence is None else confidence)
        writer.writerow([csv_cell(cell) for cell in cells])
        count += 1
    out.flush()
    return count
