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
"image_field", "min", "max"}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from ._common import WriteOptions
from .coco import write_coco
from .csv_format import write_csv
from .jsonl import write_jsonl
from .label_studio import label_config, write_label_studio
from .nlp import write_conll, write_spacy
from .parquet import write_parquet

Writer = Callable[..., int]


@dataclass(frozen=True)
class ExportFormat:
    """One export format: its writer, what to name and serve the file as, and which task types it fits."""

    name: str
    extension: str
    media_type: str
    task_types: frozenset[str] | None  # None: every task type
    writer: Writer


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("jsonl", ".jsonl", "application/x-ndjson", None, write_jsonl),
        ExportFormat("csv", ".csv", "text/csv; charset=utf-8", None, write_csv),
        ExportFormat("coco", ".json", "application/json", frozenset({"bounding_boxes"}), write_coco),
        ExportFormat("label_studio", ".json", "application/json", None, write_label_studio),
        ExportFormat("conll", ".conll", "text/plain; charset=utf-8", frozenset({"text_spans"}), write_conll),
        ExportFormat("spacy", ".jsonl", "application/x-ndjson", frozenset({"text_spans"}), write_spacy),
        ExportFormat("parquet", ".parquet", "application/vnd.apache.parquet", None, write_parquet),
    )
}


def check_format(fmt: str, task_type: str) -> ExportFormat:
    """Return the format named ``fmt`` if it fits ``task_type``.

    Raises ``ValueError`` for an unknown format or one the task type cannot use.
    """
    export_format = FORMATS.get(fmt)
    if export_format is None:
        raise ValueError(f"Unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if export_format.task_types is not None and task_type not in export_format.task_types:
        raise ValueError(
            f"The {fmt} export is for {' or '.join(sorted(export_format.task_types))} projects, not {task_type!r}"
        )
    return export_format


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
    return export_format.writer(rows, fh, project, tmp_dir=tmp_dir, options=options or WriteOptions())


# The formats that leave out tasks without consensus unless asked for them (``include_empty``).
EMPTY_OPTIONAL = frozenset({"coco", "conll", "spacy"})

__all__ = ["EMPTY_OPTIONAL", "FORMATS", "ExportFormat", "WriteOptions", "check_format", "label_config", "write_export"]
