"""Parquet, one row per task, for data tools (pyarrow, pandas, Hugging Face datasets, DuckDB).

Needs pyarrow, imported when a Parquet export is written. Nested values (task
data, answers, consensus answer, expected answer) are JSON text columns, as in
the CSV export; ``gold`` is a boolean column, true for control tasks. A form
adds two columns per question: ``consensus.NAME`` (a rating's value as a
float, a choice or a text as a string, other answers as JSON text) and
``confidence.NAME``.

The columns of a row group are packed straight into Arrow's memory layout
(values buffer, offsets, validity bitmap) instead of Python lists: that
skips pyarrow's list conversion, which imports pandas (~20 MB, half a second),
and lets every orjson result be freed as soon as it is copied.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import BinaryIO

from ._common import DEFAULT_OPTIONS, WriteOptions, dumps, expected_answer, form_questions, part

# A row group is the unit a reader loads at once; 50,000 tasks is large enough
# for good compression and small enough to keep the writer's memory flat.
ROW_GROUP_ROWS = 50_000
# ...unless the tasks are big (long texts): then the buffered JSON decides. The
# writer holds about twice this while it encodes a group.
ROW_GROUP_BYTES = 8 << 20


def parquet_schema(project: dict):
    """The Arrow schema of a Parquet export, with the project described in its metadata."""
    import pyarrow as pa

    about = {key: project.get(key) for key in ("id", "name", "task_type", "labels")}
    form = form_questions(project)
    per_question = []
    if form is not None:
        about["questions"] = [q.as_dict() for q in form.questions]
    for question in form.questions if form is not None else ():
        per_question += [(f"consensus.{question.name}", pa.float64() if _numeric(question) else pa.string()),
                         (f"confidence.{question.name}", pa.float64())]
    return pa.schema(
        [
            ("task_id", pa.int64()),
            ("external_id", pa.string()),
            ("batch_id", pa.int64()),
            ("data", pa.string()),
            ("answers", pa.string()),
            ("consensus_answer", pa.string()),
            ("confidence", pa.float64()),
            ("method", pa.string()),
            ("agreement", pa.float64()),
            ("gold", pa.bool_()),
            ("expected", pa.string()),
            *per_question,
        ],
        metadata={b"concord.project": dumps(about)},
    )


class _Column:
    """One column of the row group being filled, with a validity byte per row."""

    __slots__ = ("valid", "nulls")

    def __init__(self) -> None:
        self.valid = bytearray()
        self.nulls = 0

    def _validity(self):
        import numpy as np
        import pyarrow as pa

        if not self.nulls:
            return None
        return pa.py_buffer(np.packbits(np.frombuffer(self.valid, np.uint8), bitorder="little"))


class _Strings(_Column):
    """UTF-8 values laid out as an Arrow string array: one data buffer and int32 offsets."""

    __slots__ = ("data", "offsets")

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.offsets = array("i", [0])

    def append(self, value: bytes | None) -> None:
        if value is None:
            self.nulls += 1
            self.valid.append(0)
        else:
            self.data += value
            self.valid.append(1)
        self.offsets.append(len(self.data))

    def to_arrow(self):
        import pyarrow as pa

        buffers = [self._validity(), pa.py_buffer(self.offsets), pa.py_buffer(self.data)]
        return pa.Array.from_buffers(pa.string(), len(self.valid), buffers, self.nulls)


class _Numbers(_Column):
    """int64 or float64 values in a packed array; a null is stored as 0 and marked invalid."""

    __slots__ = ("values", "arrow_type")

    def __init__(self, typecode: str) -> None:
        super().__init__()
        self.values = array(typecode)
        self.arrow_type = {"q": "int64", "d": "float64"}[typecode]

    def append(self, value: float | None) -> None:
        if value is None:
            self.nulls += 1
            self.valid.append(0)
            self.values.append(0)
        else:
            self.valid.append(1)
            self.values.append(value)

    def to_arrow(self):
        import pyarrow as pa

        buffers = [self._validity(), pa.py_buffer(self.values)]
        return pa.Array.from_buffers(pa.type_for_alias(self.arrow_type), len(self.valid), buffers, self.nulls)


class _Booleans(_Column):
    """Booleans packed as Arrow stores them, one bit a row (never null here)."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        super().__init__()
        self.values = bytearray()

    def append(self, value: bool) -> None:
        self.valid.append(1)
        self.values.append(1 if value else 0)

    def to_arrow(self):
        import numpy as np
        import pyarrow as pa

        bits = pa.py_buffer(np.packbits(np.frombuffer(self.values, np.uint8), bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), len(self.values), [None, bits], 0)


def _text(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


def _numeric(question) -> bool:
    return question.kind.scalar_key == "value"


class _Questions:
    """A form's two columns per question for one row group."""

    def __init__(self, questions) -> None:
        self.questions = questions
        self.columns = [(_Numbers("d") if _numeric(q) else _Strings(), _Numbers("d")) for q in questions]

    def append(self, row: dict) -> None:
        consensus = row["consensus"]
        answer = consensus["answer"] if consensus else None
        confidences = row.get("confidences") or {}
        for question, (value, confidence) in zip(self.questions, self.columns, strict=True):
            answered = part(answer, question.name)
            if answered is None:
                value.append(None)
            elif _numeric(question):
                value.append(float(answered["value"]))
            else:
                cell = question.kind.scalar(answered)
                value.append(cell.encode() if isinstance(cell, str) else dumps(cell))
            confidence.append(confidences.get(question.name))

    def arrays(self) -> list:
        return [column.to_arrow() for pair in self.columns for column in pair]


def write_parquet(
    rows: Iterable[dict],
    fh: BinaryIO,
    project: dict,
    *,
    tmp_dir: str | None = None,
    options: WriteOptions = DEFAULT_OPTIONS,
) -> int:
    """Write a Parquet file in row groups of at most 50,000 tasks; return the number of tasks written.

    JSON columns hold UTF-8 JSON text; consensus_answer, confidence and method
    are null for a task without consensus, expected for a task that is not a
    control task. Raises ``RuntimeError`` when pyarrow is not installed.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("The parquet export needs pyarrow: pip install pyarrow") from exc

    schema = parquet_schema(project)
    form = form_questions(project)
    questions = form.questions if form is not None else []
    rows = iter(rows)  # each row group's loop resumes where the previous one stopped
    count = 0
    # Dictionary encoding only pays where values repeat; the JSON columns are nearly all distinct.
    writer = pq.ParquetWriter(fh, schema, compression="zstd", use_dictionary=["batch_id", "method"])
    try:
        while True:
            # New column objects for every group: Arrow may still point into the previous ones' buffers.
            task_id, batch_id, confidence, agreement = _Numbers("q"), _Numbers("q"), _Numbers("d"), _Numbers("d")
            external_id, data, answers, consensus_answer, method, expected = (_Strings() for _ in range(6))
            gold = _Booleans()
            per_question = _Questions(questions)
            pending = 0
            for row in rows:
                if questions:
                    per_question.append(row)
                consensus = row["consensus"]
                task_id.append(row["task_id"])
                external_id.append(_text(row["external_id"]))
                batch_id.append(row["batch_id"])
                data.append(dumps(row["data"]))
                answers.append(dumps(row["answers"]))
                if consensus is None:
                    consensus_answer.append(None)
                    confidence.append(None)
                    method.append(None)
                else:
                    consensus_answer.append(dumps(consensus["answer"]))
                    confidence.append(consensus["confidence"])
                    method.append(_text(consensus["method"]))
                agreement.append(row["agreement"])
                gold.append(bool(row.get("gold")))
                answer = expected_answer(row)
                expected.append(None if answer is None else dumps(answer))
                pending += 1
                if pending >= ROW_GROUP_ROWS or len(data.data) + len(answers.data) >= ROW_GROUP_BYTES:
                    break
            if not pending:
                break
            columns = (
                task_id,
                external_id,
                batch_id,
                data,
                answers,
                consensus_answer,
                confidence,
                method,
                agreement,
                gold,
                expected,
            )
            arrays = [column.to_arrow() for column in columns] + per_question.arrays()
            table = pa.Table.from_arrays(arrays, schema=schema)
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            count += pending
    finally:
        # Closing the writer writes the footer; it leaves the caller's file open.
        writer.close()
    return count
