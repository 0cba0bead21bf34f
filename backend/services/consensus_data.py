"""What a consensus run reads and writes, as arrays: counted answers, stored results, fitted models.

A model-based run reads every counted answer of its project, a million on a large one, so answers
travel as numpy arrays, never as ORM rows. On PostgreSQL each query is a binary COPY of fixed-width,
non-null columns that numpy reads in place, with a choice coded in SQL as its position among the
labels (``array_position``): PostgreSQL decodes the JSON next to the data, Python never sees it. On
SQLite a plain query does the same, the choice mapped to its code in numpy.

Every read of answers applies ``COUNTED_SQL`` (submitted, not flagged, not rejected) and leaves
out answers on control tasks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import bindparam, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..db import is_postgres
from ..models import COUNTED_SQL, Assignment, ConsensusModel, ConsensusResult
from ..quality.consensus import ModelParams

_ANSWERS = f"FROM assignments WHERE project_id = :p AND {COUNTED_SQL} AND NOT is_gold"
_ANSWER_TYPE = Assignment.__table__.c.answer.type
# Ids per statement when a filter names tasks one by one (SQLite allows 32,766 bound values).
_CHUNK = 5_000


@dataclass(frozen=True)
class Scope:
    """Tasks a run recomputes: those of ``batch_ids``, those in ``task_ids``, or (both None) every task."""

    batch_ids: tuple[int, ...] | None = None
    task_ids: tuple[int, ...] | None = None

    @property
    def whole(self) -> bool:
        return self.batch_ids is None and self.task_ids is None

    def mask(self, task: np.ndarray, batch: np.ndarray) -> np.ndarray:
        """Which entries of parallel (task, batch) arrays are in scope."""
        if self.whole:
            return np.ones(task.size, dtype=bool)
        inside = np.zeros(task.size, dtype=bool)
        if self.batch_ids:
            inside |= np.isin(batch, np.asarray(self.batch_ids, dtype=np.int64))
        if self.task_ids:
            inside |= np.isin(task, np.asarray(self.task_ids, dtype=np.int64))
        return inside


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    ids = sorted(set(ids))
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _filters(scope: Scope, pg: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    """SQL conditions (with their parameters) whose union is the scope, each row in one of them; one
    empty condition for a whole project. PostgreSQL takes a list as one array, SQLite one value each."""
    if scope.whole:
        yield "", {}
        return

    def among(column: str, name: str) -> str:
        return f"{column} = ANY(CAST(:{name} AS bigint[]))" if pg else f"{column} IN :{name}"

    batches = sorted(set(scope.batch_ids or ()))
    if batches:
        yield f" AND {among('batch_id', 'scope')}", {"scope": batches}
    for chunk in _chunks(scope.task_ids or ()):
        # A task named by id that also sits in a named batch must not come twice.
        if batches:
            yield (f" AND {among('task_id', 'scope')} AND NOT {among('batch_id', 'batches')}",
                   {"scope": chunk, "batches": batches})
        else:
            yield f" AND {among('task_id', 'scope')}", {"scope": chunk}


def _statement(sql: str, params: dict[str, Any], pg: bool):
    stmt = text(sql)
    if not pg:
        for name, value in params.items():
            if isinstance(value, list):
                stmt = stmt.bindparams(bindparam(name, expanding=True))
    return stmt


# --- PostgreSQL binary COPY ------------------------------------------------------------------------

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _copy_columns(session: Session, sql: str, params: dict[str, Any], columns: Sequence[tuple[str, str]]
                  ) -> dict[str, np.ndarray]:
    """Rows of ``sql`` (psycopg placeholders) copied out in binary and read into one array per column.

    Every column must be fixed-width and never NULL (``columns``: name and big-endian numpy type, as
    the SQL casts it: ``>i8`` bigint, ``>i4`` integer, ``>i2`` smallint, ``>f8`` double, ``?`` bool),
    so that each row is the same number of bytes and numpy reads the whole copy as one record array.
    """
    raw = session.connection().connection.driver_connection
    buffer = bytearray()
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)", params) as copy:
        for block in copy:
            buffer += block
    if not buffer.startswith(_SIGNATURE):
        raise RuntimeError("unexpected COPY header")
    extension = int.from_bytes(buffer[15:19], "big")
    start, end = 19 + extension, len(buffer) - 2  # the trailer is a field count of -1
    fields = [("count", ">i2")]
    for name, kind in columns:
        fields += [(f"{name}_size", ">i4"), (name, kind)]
    rows = np.frombuffer(memoryview(buffer)[start:end], dtype=np.dtype(fields))
    return {name: rows[name].astype(np.dtype(kind).newbyteorder("=")) for name, kind in columns}


def _pg(sql: str) -> str:
    """A ``text()`` statement's :name placeholders in psycopg's %(name)s spelling (``::`` casts stay)."""
    return re.sub(r"(?<![:\w]):([a-z_]+)", r"%(\1)s", sql)


# --- answers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answers:
    """Counted answers as parallel arrays, one entry per answer."""

    task: np.ndarray  # int64
    worker: np.ndarray  # int64
    batch: np.ndarray  # int64
    value: np.ndarray  # int64 code (choices, ratings), or -1 where an answer names no current label


def _empty() -> Answers:
    nothing = np.empty(0, dtype=np.int64)
    return Answers(nothing, nothing, nothing, nothing)


def _concat(parts: list[Answers]) -> Answers:
    if not parts:
        return _empty()
    return Answers(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("task", "worker", "batch", "value")))


def choices(session: Session, project_id: int, labels: Sequence[str], scope: Scope = Scope()) -> Answers:
    """single_choice answers with their label's code; answers naming a label since removed are left out."""
    parts, pg = [], is_postgres(session)
    for condition, params in _filters(scope, pg):
        if pg:
            sql = ("SELECT task_id::int8, worker_id::int8, batch_id::int8, code::int8 FROM ("
                   "SELECT task_id, worker_id, batch_id, array_position(CAST(:labels AS text[]), answer->>'choice') - 1"
                   f" AS code {_ANSWERS}{condition}) AS a WHERE code IS NOT NULL")
            columns = _copy_columns(session, _pg(sql), {"p": project_id, "labels": list(labels), **params},
                                    [("task", ">i8"), ("worker", ">i8"), ("batch", ">i8"), ("code", ">i8")])
            parts.append(Answers(columns["task"], columns["worker"], columns["batch"], columns["code"]))
            continue
        rows = session.execute(_statement(
            f"SELECT task_id, worker_id, batch_id, json_extract(answer, '$.choice') {_ANSWERS}{condition}", params,
            pg), {"p": project_id, **params}).all()
        if not rows:
            continue
        task, worker, batch, choice = zip(*rows, strict=True)
        index = {label: code for code, label in enumerate(labels)}
        code = np.fromiter((index.get(c, -1) for c in choice), dtype=np.int64, count=len(choice))
        keep = code >= 0
        parts.append(Answers(np.asarray(task, dtype=np.int64)[keep], np.asarray(worker, dtype=np.int64)[keep],
                             np.asarray(batch, dtype=np.int64)[keep], code[keep]))
    return _concat(parts)


def ratings(session: Session, project_id: int, scope: Scope = Scope()) -> Answers:
    """rating answers with their integer value."""
    parts, pg = [], is_postgres(session)
    for condition, params in _filters(scope, pg):
        value = "CAST(answer->>'value' AS int8)" if pg else "json_extract(answer, '$.value')"
        sql = f"SELECT task_id, worker_id, batch_id, {value} {_ANSWERS}{condition}"
        rows = session.execute(_statement(sql, params, pg), {"p": project_id, **params}).all()
        if rows:
            parts.append(Answers(*(np.asarray(column, dtype=np.int64) for column in zip(*rows, strict=True))))
    return _concat(parts)


@dataclass(frozen=True)
class Ticks:
    """multi_choice answers: one entry per answer, and which labels it ticked."""

    task: np.ndarray
    worker: np.ndarray
    batch: np.ndarray
    ticked: np.ndarray  # (answers x labels) bool


def ticks(session: Session, project_id: int, labels: Sequence[str], scope: Scope = Scope()) -> Ticks:
    """multi_choice answers, each with the labels it ticked (labels since removed are ignored).

    The list of choices is unnested in SQL: one row per (answer, ticked label), and a row with code
    -1 for an answer that ticked nothing known, so it still counts as an answer.
    """
    ids, task, worker, batch, code = [], [], [], [], []
    pg = is_postgres(session)
    for condition, params in _filters(scope, pg):
        if pg:
            sql = ("SELECT a.id::int8, a.task_id::int8, a.worker_id::int8, a.batch_id::int8, "
                   "COALESCE(array_position(CAST(:labels AS text[]), c.value) - 1, -1)::int8 "
                   f"FROM (SELECT id, task_id, worker_id, batch_id, answer {_ANSWERS}{condition}) AS a "
                   "LEFT JOIN LATERAL jsonb_array_elements_text(a.answer->'choices') AS c(value) ON true")
            columns = _copy_columns(session, _pg(sql), {"p": project_id, "labels": list(labels), **params},
                                    [("id", ">i8"), ("task", ">i8"), ("worker", ">i8"), ("batch", ">i8"),
                                     ("code", ">i8")])
            for out, name in ((ids, "id"), (task, "task"), (worker, "worker"), (batch, "batch"), (code, "code")):
                out.append(columns[name])
            continue
        rows = session.execute(_statement(
            "SELECT a.id, a.task_id, a.worker_id, a.batch_id, c.value "
            f"FROM (SELECT id, task_id, worker_id, batch_id, answer {_ANSWERS}{condition}) AS a "
            "LEFT JOIN json_each(a.answer, '$.choices') AS c", params, pg), {"p": project_id, **params}).all()
        if rows:
            index = {label: position for position, label in enumerate(labels)}
            columns = list(zip(*rows, strict=True))
            for out, column in zip((ids, task, worker, batch), columns[:4], strict=True):
                out.append(np.asarray(column, dtype=np.int64))
            code.append(np.fromiter((index.get(c, -1) for c in columns[4]), dtype=np.int64, count=len(rows)))
    if not ids:
        nothing = np.empty(0, dtype=np.int64)
        return Ticks(nothing, nothing, nothing, np.zeros((0, len(labels)), dtype=bool))
    ids, task, worker, batch, code = (np.concatenate(x) for x in (ids, task, worker, batch, code))
    answer_ids, first, row = np.unique(ids, return_index=True, return_inverse=True)
    ticked = np.zeros((answer_ids.size, len(labels)), dtype=bool)
    known = code >= 0
    ticked[row[known], code[known]] = True
    return Ticks(task[first], worker[first], batch[first], ticked)


def answer_rows(session: Session, project_id: int, scope: Scope) -> list[tuple[int, int, dict]]:
    """(task, batch, answer) of the counted answers in scope, in task then answer order (structured types)."""
    rows, pg = [], is_postgres(session)
    for condition, params in _filters(scope, pg):
        rows += session.execute(_statement(f"SELECT task_id, batch_id, answer {_ANSWERS}{condition} ORDER BY id",
                                           params, pg).columns(answer=_ANSWER_TYPE), {"p": project_id, **params}).all()
    return sorted(rows, key=lambda r: r[0])  # stable: each task's answers stay in the order they came


# --- stored results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredChoices:
    """A project's stored single_choice results as arrays, in ascending task order."""

    task: np.ndarray
    batch: np.ndarray
    code: np.ndarray  # the answer's label code; -1 for a label since removed, -2 for a withdrawn result
    confidence: np.ndarray
    used: np.ndarray
    flagged: np.ndarray
    same_method: np.ndarray  # written by the method of this run


def stored_choices(session: Session, project_id: int, labels: Sequence[str], method: str) -> StoredChoices:
    """Every stored result of a single_choice project, its answer coded as in ``choices``."""
    params = {"p": project_id, "labels": list(labels), "m": method}
    if is_postgres(session):
        sql = ("SELECT task_id::int8, batch_id::int8, CASE WHEN answers_used = 0 THEN -2 ELSE COALESCE("
               "array_position(CAST(:labels AS text[]), answer->>'choice') - 1, -1) END::int8, "
               "confidence::float8, answers_used::int8, flagged, method = :m "
               "FROM consensus_results WHERE project_id = :p ORDER BY task_id")
        c = _copy_columns(session, _pg(sql), params, [("task", ">i8"), ("batch", ">i8"), ("code", ">i8"),
                                                       ("confidence", ">f8"), ("used", ">i8"), ("flagged", "?"),
                                                       ("same", "?")])
        return StoredChoices(c["task"], c["batch"], c["code"], c["confidence"], c["used"], c["flagged"], c["same"])
    rows = session.execute(text(
        "SELECT task_id, batch_id, answers_used, json_extract(answer, '$.choice'), confidence, flagged, method "
        "FROM consensus_results WHERE project_id = :p ORDER BY task_id"), {"p": project_id}).all()
    index = {label: code for code, label in enumerate(labels)}
    task, batch, used, choice, confidence, flagged, by = zip(*rows, strict=True) if rows else [()] * 7
    return StoredChoices(
        np.asarray(task, dtype=np.int64), np.asarray(batch, dtype=np.int64),
        np.fromiter((-2 if n == 0 else index.get(c, -1) for n, c in zip(used, choice, strict=True)), dtype=np.int64,
                    count=len(rows)),
        np.asarray(confidence, dtype=np.float64), np.asarray(used, dtype=np.int64), np.asarray(flagged, dtype=bool),
        np.fromiter((m == method for m in by), dtype=bool, count=len(rows)))


def stored_rows(session: Session, project_id: int, scope: Scope = Scope()) -> dict[int, dict[str, Any]]:
    """Stored results (answer, confidence, answers_used, flagged, method, details, batch_id) by task."""
    c = ConsensusResult.__table__.c
    out, pg = {}, is_postgres(session)
    for condition, params in _filters(scope, pg):
        for row in session.execute(_statement(
                "SELECT task_id, batch_id, answer, confidence, answers_used, flagged, method, details "
                f"FROM consensus_results WHERE project_id = :p{condition}", params, pg)
                .columns(answer=c.answer.type, details=c.details.type), {"p": project_id, **params}).mappings():
            out[row["task_id"]] = dict(row)
    return out


# --- writes ----------------------------------------------------------------------------------------


def write_results(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or replace result rows (whole rows, keyed by task)."""
    if not rows:
        return
    table = ConsensusResult.__table__
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt = dialect_insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.task_id], set_={
        name: stmt.excluded[name] for name in rows[0] if name != "task_id"})
    for start in range(0, len(rows), 10_000):
        session.execute(stmt, rows[start:start + 10_000])


def write_agreement(session: Session, values: Iterable[tuple[int, float | None]]) -> None:
    """Store each task's agreement (``tasks.agreement``), in task order."""
    values = sorted(values)
    if not values:
        return
    if is_postgres(session):
        for start in range(0, len(values), 50_000):
            part = values[start:start + 50_000]
            session.execute(text(
                "UPDATE tasks SET agreement = u.a FROM unnest(CAST(:ids AS bigint[]), CAST(:a AS float8[])) "
                "AS u(id, a) WHERE tasks.id = u.id AND tasks.agreement IS DISTINCT FROM u.a"),
                {"ids": [t for t, _ in part], "a": [a for _, a in part]})
        return
    session.execute(text("UPDATE tasks SET agreement = :a WHERE id = :id"), [{"id": t, "a": a} for t, a in values])


# --- fitted models ---------------------------------------------------------------------------------


def load_model(session: Session, project_id: int, method: str, *, per_label: bool
               ) -> tuple[list[str], list[ModelParams]] | None:
    """The stored parameters of a method's last fit: its labels and one ModelParams per part (one part,
    or with ``per_label`` one two-class part per label)."""
    row = session.get(ConsensusModel, (project_id, method))
    if row is None:
        return None
    worker_ids = np.frombuffer(row.worker_ids, dtype="<i8")
    priors = np.frombuffer(row.priors, dtype="<f8")
    parts = len(row.labels) if per_label else 1
    if not parts:
        return None
    k = priors.size // parts
    workers = np.frombuffer(row.workers, dtype="<f8").reshape(parts, worker_ids.size, -1)
    shape = (worker_ids.size, k, k) if workers.shape[2] == k * k else (worker_ids.size,)
    return list(row.labels), [ModelParams(worker_ids, workers[i].reshape(shape), priors.reshape(parts, k)[i])
                              for i in range(parts)]


def save_model(session: Session, *, project_id: int, method: str, run_id: int, labels: Sequence[str],
               params: Sequence[ModelParams], answers: int, now) -> None:
    """Keep a fit's parameters for the next run's warm start; all parts must share their workers."""
    worker_ids = np.asarray(params[0].worker_ids, dtype="<i8")
    values = {"run_id": run_id, "labels": list(labels), "worker_ids": worker_ids.tobytes(),
              "workers": np.stack([np.asarray(p.workers, dtype="<f8").reshape(worker_ids.size, -1)
                                   for p in params]).tobytes(),
              "priors": np.stack([np.asarray(p.prior, dtype="<f8") for p in params]).tobytes(),
              "answers": answers, "updated_at": now}
    row = session.get(ConsensusModel, (project_id, method))
    if row is None:
        session.execute(insert(ConsensusModel), [{"project_id": project_id, "method": method, **values}])
    else:
        for key, value in values.items():
            setattr(row, key, value)
