"""Streaming export writers: tasks with their answers and consensus, in the formats tools read.

Pure Python (no Flask, no database). The caller streams rows from the
database and calls ``write_export``; every writer consumes the rows once and
keeps its memory flat however many there are, writing to ``fh`` in chunks.

A row is ``{"task_id", "external_id", "batch_id", "data", "answers":
[{"worker", "answer", "submitted_at", "active_seconds", "review_status",
"counted"}], "consensus": {"answer", "confidence", "method", "answers_used"} |
None, "agreement", "gold"?, "expected"?, "created_at"?}``: ``gold`` is true
for a control task, whose ``expected`` answer is given (a row without them is
not a control task); ``created_at`` (the task's import time) dates a control
task's reference answer in Label Studio.
A project is ``{"id", "name", "task_type", "labels", "text_field",
"image_field", "min", "max"}``, and for a form ``"questions"`` and ``"display"``
(every format then writes a column or field per question). A row may carry
``confidences``: a form's consensus confidence per question.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

from ..questions import FORM
from ..questions.form import Form
from ._common import WriteOptions, form_questions, part
from .coco import write_coco
from .csv_format import write_csv
from .jsonl import write_jsonl
from .label_studio import label_config, write_label_studio
from .nlp import write_conll, write_spacy
from .parquet import write_parquet
from .preferences import PREFERENCE_KINDS, write_preferences

Writer = Callable[..., int]


@dataclass(frozen=True)
class ExportFormat:
    """One export format: its writer, what to name and serve the file as, and which task types it fits.

    ``question_kinds``: a format made for one kind of answer (boxes, spans, preferences) writes one
    question of a form, of these kinds; None: it writes every question."""

    name: str
    extension: str
    media_type: str
    task_types: frozenset[str] | None  # None: every task type
    writer: Writer
    question_kinds: frozenset[str] | None = None

    def fits(self, task_type: str) -> bool:
        if task_type == FORM:
            return self.task_types is None or self.question_kinds is not None
        return self.task_types is None or task_type in self.task_types


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("jsonl", ".jsonl", "application/x-ndjson", None, write_jsonl),
        ExportFormat("csv", ".csv", "text/csv; charset=utf-8", None, write_csv),
        ExportFormat("coco", ".json", "application/json", frozenset({"bounding_boxes"}), write_coco,
                     frozenset({"bounding_boxes"})),
        ExportFormat("label_studio", ".json", "application/json", None, write_label_studio),
        ExportFormat("conll", ".conll", "text/plain; charset=utf-8", frozenset({"text_spans"}), write_conll,
                     frozenset({"text_spans"})),
        ExportFormat("spacy", ".jsonl", "application/x-ndjson", frozenset({"text_spans"}), write_spacy,
                     frozenset({"text_spans"})),
        ExportFormat("parquet", ".parquet", "application/vnd.apache.parquet", None, write_parquet),
        ExportFormat("preferences", ".jsonl", "application/x-ndjson", frozenset({FORM}), write_preferences,
                     frozenset(PREFERENCE_KINDS)),
    )
}


def check_format(fmt: str, task_type: str) -> ExportFormat:
    """Return the format named ``fmt`` if it fits ``task_type``.

    Raises ``ValueError`` for an unknown format or one the task type cannot use.
    """
    export_format = FORMATS.get(fmt)
    if export_format is None:
        raise ValueError(f"Unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if not export_format.fits(task_type):
        raise ValueError(
            f"The {fmt} export is for {' or '.join(sorted(export_format.task_types))} projects, not {task_type!r}"
        )
    return export_format


def form_question(fmt: str, form: Form, name: str | None) -> str | None:
    """The question of ``form`` that format ``fmt`` writes: ``name``, or the form's only question of the
    kinds the format is made for; None for a format that writes every question. Raises ``ValueError``
    (its message says what to name) when there is none, or several and none is named."""
    kinds = FORMATS[fmt].question_kinds
    if kinds is None:
        if name is not None:
            raise ValueError(f"a {fmt} export writes every question; do not name one")
        return None
    fitting = [q.name for q in form.questions if q.kind.name in kinds]
    wanted = " or ".join(sorted(kinds))
    if name is None:
        if len(fitting) == 1:
            return fitting[0]
        raise ValueError(f"name one of the {wanted} questions: {', '.join(fitting)}" if fitting
                         else f"the project has no {wanted} question")
    if name not in fitting:
        raise ValueError(f"{name!r} is not a {wanted} question of the project "
                         f"(these are: {', '.join(fitting) or 'none'})")
    return name


def _one_question(rows: Iterable[dict], name: str) -> Iterator[dict]:
    """A form's rows with each answer narrowed to question ``name``, for the formats of one kind."""
    for row in rows:
        consensus = row["consensus"]
        yield {**row,
               "answers": [{**a, "answer": part(a["answer"], name) or {}} for a in row["answers"]
                           if part(a["answer"], name) is not None],
               "consensus": None if consensus is None or part(consensus["answer"], name) is None
               else {**consensus, "answer": part(consensus["answer"], name),
                     "confidence": (row.get("confidences") or {}).get(name, consensus["confidence"])},
               "expected": part(row.get("expected"), name)}


def write_export(
    fmt: str,
    rows: Iterable[dict],
    fh: BinaryIO,
    project: dict,
    *,
    tmp_dir: str | None = None,
    options: WriteOptions | None = None,
) -> int:
    """Write ``rows`` to the binary file ``fh`` in format ``fmt``; return the number of tasks written.

    The format and task type are checked before any row is read, so a
    ``ValueError`` (unknown format, or one that does not fit the project's task
    type) leaves ``fh`` untouched. ``tmp_dir`` is where the coco writer keeps
    its two temporary files (default: the system's). ``fh`` is neither flushed
    nor closed. coco, conll and spacy leave out tasks without consensus unless
    ``options.include_empty``, so they may return fewer than the rows given.
    """
    export_format = check_format(fmt, project["task_type"])
    options = options or WriteOptions()
    form = form_questions(project)
    if form is not None and export_format.question_kinds is not None:
        name = form_question(fmt, form, options.question)
        if fmt != "preferences":  # the formats of one kind write the question as a project of that kind
            question = form.by_name[name]
            project = {"id": project.get("id"), "name": project.get("name"), "task_type": question.kind.name,
                       "labels": question.config.get("labels"), **question.config}
            rows = _one_question(rows, name)
        options = replace(options, question=name)
    return export_format.writer(rows, fh, project, tmp_dir=tmp_dir, options=options)


# The formats that leave out tasks without consensus unless asked for them (``include_empty``).
EMPTY_OPTIONAL = frozenset({"coco", "conll", "spacy"})

__all__ = ["EMPTY_OPTIONAL", "FORMATS", "ExportFormat", "WriteOptions", "check_format", "form_question", "label_config",
           "write_export"]
