"""Pieces every export writer shares: buffered output, options, and reading the project and row dicts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from ..questions import FORM
from ..questions.form import Form, form_from

# One write() per megabyte keeps syscalls and per-call overhead negligible
# while the buffer stays small next to the rows we are streaming.
FLUSH_BYTES = 1 << 20


class ChunkedWriter:
    """Collect small byte strings and hand them to the file in ~1 MiB writes.

    Pieces are copied into one bytearray rather than kept in a list: orjson
    (3.13) returns bytes objects that each hold a 4 KiB allocation, so a list
    of a few thousand small rows would cost tens of megabytes.
    """

    __slots__ = ("_fh", "_buffer", "_limit")

    def __init__(self, fh: BinaryIO, limit: int = FLUSH_BYTES) -> None:
        self._fh = fh
        self._buffer = bytearray()
        self._limit = limit

    def write(self, data: bytes) -> None:
        """Buffer ``data``; flush once the buffer passes the limit."""
        self._buffer += data
        if len(self._buffer) >= self._limit:
            self.flush()

    def flush(self) -> None:
        """Write out what is buffered (the caller's file is not flushed or closed)."""
        if self._buffer:
            self._fh.write(self._buffer)
            # A fresh buffer rather than clear(): a file-like sink may keep the object it was given.
            self._buffer = bytearray()


@dataclass(frozen=True)
class WriteOptions:
    """What an export asked for beyond its rows.

    ``include_empty``: the training formats (coco, conll, spacy) also write tasks without consensus, as
    images or documents with no labels. ``image_dir``: the directory whose files may be read to size an
    image named by a local path (None: no local file is read). ``question`` and ``include_ties``: the
    question a preferences export writes, and whether it writes ties.
    """

    include_empty: bool = False
    image_dir: str | None = None
    question: str | None = None
    include_ties: bool = False


DEFAULT_OPTIONS = WriteOptions()


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes."""
    return orjson.dumps(value)


def form_questions(project: dict) -> Form | None:
    """A form project's questions (``project["questions"]``); None for a project asked the old way,
    whose answer is written as it always was."""
    if project.get("task_type") != FORM:
        return None
    return form_from(project.get("questions") or [], project.get("display") or [])


def part(answer: Any, name: str) -> dict | None:
    """A form answer's answer to question ``name``, or None (not answered, no answer)."""
    value = answer.get(name) if isinstance(answer, dict) else None
    return value if isinstance(value, dict) else None


def text_field(project: dict) -> str:
    """The data field that holds the text of a text_spans task."""
    return project.get("text_field") or "text"


def image_field(project: dict) -> str:
    """The data field that holds the image URL of a bounding_boxes task."""
    return project.get("image_field") or "image"


def consensus_answer(row: dict) -> dict | None:
    """The merged answer of a row, or None when the task has no consensus yet."""
    consensus = row.get("consensus")
    return consensus["answer"] if consensus else None


def expected_answer(row: dict) -> dict | None:
    """The expected answer of a control (gold) task, or None for any other task."""
    return row.get("expected") if row.get("gold") else None


def training_answer(row: dict) -> dict | None:
    """The answer the training formats write for a task: a control task's expected answer (the truth),
    else the consensus; None when the task has neither."""
    expected = expected_answer(row)
    return expected if expected is not None else consensus_answer(row)


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """``start:end`` narrowed to leave out whitespace at either end (start == end when it is all space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def training_spans(row: dict, text: str) -> list[dict] | None:
    """The spans the training formats write, sorted by position; None when the task has no answer to write.

    Spans are trimmed of surrounding whitespace (answers stored before the API trimmed them may have it,
    and spaCy cannot place such a span on its tokens); a span of whitespace only is left out.
    """
    answer = training_answer(row)
    if answer is None:
        return None
    spans = []
    for span in answer.get("spans") or ():
        start, end = trimmed(text, span["start"], min(span["end"], len(text)))
        if start < end:
            spans.append({"label": span["label"], "start": start, "end": end})
    return sorted(spans, key=lambda s: (s["start"], s["end"]))


# OWASP's CSV injection advice: a cell a spreadsheet could read as a formula starts with one of these.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell a spreadsheet will not run: text starting with = + - @, tab or CR gets a
    leading single quote (OWASP). Plain numbers ("-3", "+1.5e3", and int or float values) are kept as
    they are: a spreadsheet reads them as the number they are, and no formula starts that way."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value
