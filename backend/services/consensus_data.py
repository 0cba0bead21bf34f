"""What a consensus run reads and writes, as arrays: counted answers and stored results.

A model-based run reads every counted answer of its project, a million on a large one, so answers
travel as numpy arrays, never as ORM rows. On PostgreSQL a read is one bytea of fixed-width rows
that the server packs (``_packed``) and numpy reads in place, with a choice coded in SQL as its
position among the labels (``array_position``): PostgreSQL decodes the JSON next to the data,
Python never sees it. Writes bind whole columns as array literals. On SQLite plain queries do the
same, a choice mapped to its code in numpy.

Every read of answers applies ``COUNTED_SQL`` (submitted, not flagged, not rejected) and leaves
out answers on control tasks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from ..db import is_postgres
from ..models import COUNTED_SQL, Assignment, ConsensusResult
from ..models.base import UTCDateTime

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


_QUESTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _field(question: str | None, key: str | None, pg: bool) -> str:
    """SQL for a part of the stored answer: ``key`` of the answer, or of a form question's answer
    (``question``); ``key`` None: the question's whole answer (JSON). Question names are identifiers
    (backend.questions checks them when the form is made), so they are written into the SQL."""
    if question is not None and not _QUESTION.fullmatch(question):
        raise ValueError(f"not a question name: {question!r}")
    if question is None and key is None:
        return "answer"
    if pg:
        base = "answer" if question is None else f"answer->'{question}'"
        return base if key is None else f"{base}->>'{key}'"
    path = "$" + (f".{question}" if question else "") + (f".{key}" if key else "")
    return f"json_extract(answer, '{path}')"


def _asked(question: str | None, pg: bool) -> str:
    """The condition that an answer answers ``question`` (every answer answers an old project's one)."""
    if question is None:
        return ""
    return (f" AND jsonb_typeof(answer->'{question}') = 'object'" if pg
            else f" AND json_type(answer, '$.{question}') = 'object'")


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


# --- PostgreSQL: rows packed into bytea ------------------------------------------------------------

_SEND = {">i8": "int8send({}::int8)", ">i4": "int4send({}::int4)", ">i2": "int2send({}::int2)",
         ">f8": "float8send({}::float8)", "?": "boolsend({}::boolean)"}


def _packed(session: Session, source: str, params: dict[str, Any], columns: Sequence[tuple[str, str, str]]
            ) -> dict[str, np.ndarray]:
    """The rows of ``source`` (SQL with psycopg placeholders) read into one array per column.

    PostgreSQL packs each row's columns (``columns``: name, SQL expression, big-endian numpy type:
    ``>i8`` bigint, ``>i4`` integer, ``>i2`` smallint, ``>f8`` double, ``?`` bool; never NULL) into
    fixed-width bytes and concatenates them into one bytea: one message instead of one per row (a
    million rows as messages, or as a COPY, cost psycopg a second of Python), which numpy reads in
    place as a record array. The scan runs in parallel (parallel workers filter the rows and decode
    the JSON; the planner's default cost per row sent from a worker would keep it serial), without
    JIT (compiling these expressions costs more than it saves).
    """
    packed = " || ".join(_SEND[kind].format(expression) for _name, expression, kind in columns)
    raw = session.connection().connection.driver_connection
    with raw.transaction(), raw.cursor(binary=True) as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL parallel_tuple_cost = 0.001")
        cursor.execute(f"SELECT string_agg({packed}, ''::bytea) FROM ({source}) AS s", params)
        blob = cursor.fetchone()[0] or b""
    rows = np.frombuffer(blob, dtype=np.dtype([(name, kind) for name, _expression, kind in columns]))
    return {name: rows[name].astype(np.dtype(kind).newbyteorder("=")) for name, _expression, kind in columns}


# Task ids per packed read: a blob stays well under bytea's 1 GB (18 bytes an answer, a few answers a task).
_RANGE = 2_000_000


def _id_ranges(session: Session, project_id: int, table: str, column: str) -> list[tuple[int, int]]:
    """Consecutive [lo, hi) ranges of ``column`` covering the project's rows of ``table``, _RANGE ids each."""
    low, high = session.execute(text(f"SELECT min({column}), max({column}) FROM {table} WHERE project_id = :p"),
                                {"p": project_id}).one()
    if low is None:
        return []
    return [(lo, min(lo + _RANGE, high + 1)) for lo in range(low, high + 1, _RANGE)]


def _packed_ranges(session: Session, project_id: int | None, source: str, params: dict[str, Any],
                   columns: Sequence[tuple[str, str, str]], table: str = "tasks", column: str = "id"
                   ) -> dict[str, np.ndarray]:
    """``_packed`` over a whole project (``project_id``), one task-id range at a time (``source`` filters
    on :lo and :hi); with ``project_id`` None, ``source`` is small enough to read at once."""
    if project_id is None:
        return _packed(session, source, params, columns)
    parts = [_packed(session, source, {**params, "lo": lo, "hi": hi}, columns)
             for lo, hi in _id_ranges(session, project_id, table, column)]
    if not parts:
        return {name: np.empty(0, dtype=np.dtype(kind).newbyteorder("=")) for name, _e, kind in columns}
    return {name: np.concatenate([p[name] for p in parts]) for name, _e, _k in columns}


def _pg(sql: str) -> str:
    """A ``text()`` statement's :name placeholders in psycopg's %(name)s spelling (``::`` casts stay)."""
    return re.sub(r"(?<![:\w]):([a-z_]+)", r"%(\1)s", sql)


def array_literal(values: Iterable[Any], kind: str) -> str:
    """A PostgreSQL array literal of ``values`` (kind: int, float, bool or text; None is NULL), bound as
    one text parameter and cast in SQL: psycopg adapts a list element by element in Python, which
    costs seconds for a few hundred thousand values."""
    if kind == "int":
        body = ",".join(map(str, values))
    elif kind == "float":
        body = ",".join("NULL" if v is None or v != v else repr(float(v)) for v in values)
    elif kind == "bool":
        body = ",".join("t" if v else "f" for v in values)
    else:
        body = ",".join("NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                        for v in values)
    return "{" + body + "}"


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


def choices(session: Session, project_id: int, labels: Sequence[str], scope: Scope = Scope(),
            question: str | None = None) -> Answers:
    """single_choice answers (or a form question's: pairwise too) with their label's code; answers
    naming a label since removed are left out."""
    parts, pg = [], is_postgres(session)
    for condition, params in _filters(scope, pg):
        condition += _asked(question, pg)
        if pg:
            source = ("SELECT task_id, worker_id, batch_id, array_position(CAST(:labels AS text[]), "
                      f"{_field(question, 'choice', pg)}) - 1 AS code {_ANSWERS}{condition}")
            if scope.whole:
                source += " AND task_id >= :lo AND task_id < :hi"
            columns = _packed_ranges(session, project_id if scope.whole else None,
                                     _pg(f"SELECT * FROM ({source}) AS a WHERE code IS NOT NULL"),
                                     {"p": project_id, "labels": list(labels), **params},
                                     [("task", "task_id", ">i8"), ("worker", "worker_id", ">i4"),
                                      ("batch", "batch_id", ">i4"), ("code", "code", ">i2")])
            parts.append(Answers(*(columns[name].astype(np.int64) for name in ("task", "worker", "batch", "code"))))
            continue
        rows = session.execute(_statement(
            f"SELECT task_id, worker_id, batch_id, {_field(question, 'choice', pg)} {_ANSWERS}{condition}", params,
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


def ratings(session: Session, project_id: int, scope: Scope = Scope(), question: str | None = None) -> Answers:
    """rating answers with their integer value."""
    parts, pg = [], is_postgres(session)
    for condition, params in _filters(scope, pg):
        condition += _asked(question, pg)
        value = f"CAST({_field(question, 'value', pg)} AS int8)" if pg else _field(question, "value", pg)
        sql = f"SELECT task_id, worker_id, batch_id, {value} {_ANSWERS}{condition}"
        rows = session.execute(_statement(sql, params, pg), {"p": project_id, **params}).all()
        if rows:
            parts.append(Answers(*(np.asarray(column, dtype=np.int64) for column in zip(*rows, strict=True))))
    return _concat(parts)


def answered(session: Session, project_id: int, scope: Scope = Scope()) -> tuple[np.ndarray, np.ndarray]:
    """The task and batch of each counted answer in scope (a form's answers, whatever they answered)."""
    task, batch, pg = [], [], is_postgres(session)
    for condition, params in _filters(scope, pg):
        if pg:
            source = f"SELECT task_id, batch_id {_ANSWERS}{condition}"
            if scope.whole:
                source += " AND task_id >= :lo AND task_id < :hi"
            columns = _packed_ranges(session, project_id if scope.whole else None, _pg(source),
                                     {"p": project_id, **params},
                                     [("task", "task_id", ">i8"), ("batch", "batch_id", ">i4")])
            task.append(columns["task"].astype(np.int64))
            batch.append(columns["batch"].astype(np.int64))
            continue
        rows = session.execute(_statement(f"SELECT task_id, batch_id {_ANSWERS}{condition}", params, pg),
                               {"p": project_id, **params}).all()
        if rows:
            t, b = zip(*rows, strict=True)
            task.append(np.asarray(t, dtype=np.int64))
            batch.append(np.asarray(b, dtype=np.int64))
    if not task:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(task), np.concatenate(batch)


@dataclass(frozen=True)
class Ticks:
    """multi_choice answers: one entry per answer, and which labels it ticked."""

    task: np.ndarray
    worker: np.ndarray
    batch: np.ndarray
    ticked: np.ndarray  # (answers x labels) bool


def ticks(session: Session, project_id: int, labels: Sequence[str], scope: Scope = Scope(),
          question: str | None = None) -> Ticks:
    """multi_choice answers, each with the labels it ticked (labels since removed are ignored).

    The list of choices is unnested in SQL: one row per (answer, ticked label), and a row with code
    -1 for an answer that ticked nothing known, so it still counts as an answer.
    """
    ids, task, worker, batch, code = [], [], [], [], []
    pg = is_postgres(session)
    for condition, params in _filters(scope, pg):
        condition += _asked(question, pg)
        if pg:
            bounds = " AND task_id >= :lo AND task_id < :hi" if scope.whole else ""
            source = ("SELECT a.id, a.task_id, a.worker_id, a.batch_id, "
                      "COALESCE(array_position(CAST(:labels AS text[]), c.value) - 1, -1) AS code "
                      f"FROM (SELECT id, task_id, worker_id, batch_id, answer {_ANSWERS}{condition}{bounds}) AS a "
                      f"LEFT JOIN LATERAL jsonb_array_elements_text(a.{_field(question, None, pg)}->'choices') "
                      "AS c(value) ON true")
            columns = _packed_ranges(session, project_id if scope.whole else None, _pg(source),
                                     {"p": project_id, "labels": list(labels), **params},
                                     [("id", "id", ">i8"), ("task", "task_id", ">i8"), ("worker", "worker_id", ">i4"),
                                      ("batch", "batch_id", ">i4"), ("code", "code", ">i2")])
            for out, name in ((ids, "id"), (task, "task"), (worker, "worker"), (batch, "batch"), (code, "code")):
                out.append(columns[name].astype(np.int64))
            continue
        rows = session.execute(_statement(
            "SELECT a.id, a.task_id, a.worker_id, a.batch_id, c.value "
            f"FROM (SELECT id, task_id, worker_id, batch_id, answer {_ANSWERS}{condition}) AS a "
            f"LEFT JOIN json_each(a.answer, '{'$.' + question + '.choices' if question else '$.choices'}') AS c",
            params, pg), {"p": project_id, **params}).all()
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


def answer_rows(session: Session, project_id: int, scope: Scope, question: str | None = None
                ) -> list[tuple[int, int, dict]]:
    """(task, batch, answer) of the counted answers in scope, in task then answer order (structured types);
    with ``question``, that question's answer, from the answers that answered it."""
    rows, pg = [], is_postgres(session)
    for condition, params in _filters(scope, pg):
        condition += _asked(question, pg)
        rows += session.execute(_statement(
            f"SELECT task_id, batch_id, {_field(question, None, pg)} AS answer {_ANSWERS}{condition} ORDER BY id",
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
        source = ("SELECT task_id, batch_id, CASE WHEN answers_used = 0 THEN -2 ELSE COALESCE("
                  "array_position(CAST(:labels AS text[]), answer->>'choice') - 1, -1) END AS code, "
                  "confidence, answers_used, flagged, method = :m AS same FROM consensus_results WHERE project_id = :p "
                  "AND task_id >= :lo AND task_id < :hi")
        c = _packed_ranges(session, project_id, _pg(source), params,
                    [("task", "task_id", ">i8"), ("batch", "batch_id", ">i4"), ("code", "code", ">i2"),
                     ("confidence", "confidence", ">f8"), ("used", "answers_used", ">i4"), ("flagged", "flagged", "?"),
                     ("same", "same", "?")], "consensus_results", "task_id")
        order = np.argsort(c["task"], kind="stable")
        return StoredChoices(c["task"][order].astype(np.int64), c["batch"][order].astype(np.int64),
                             c["code"][order].astype(np.int64), c["confidence"][order],
                             c["used"][order].astype(np.int64), c["flagged"][order], c["same"][order])
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


_RESULT_COLUMNS = ("task_id", "project_id", "batch_id", "run_id", "answer", "confidence", "method", "answers_used",
                   "flagged", "details", "computed_at")
_UPSERT_PG = (
    "INSERT INTO consensus_results (" + ", ".join(_RESULT_COLUMNS) + ") "
    "SELECT u.task_id, :project_id, u.batch_id, :run_id, u.answer, u.confidence, :method, u.answers_used, u.flagged, "
    "u.details, :computed_at FROM unnest(CAST(:task_id AS bigint[]), CAST(:batch_id AS int[]), "
    "CAST(:answer AS jsonb[]), CAST(:confidence AS float8[]), CAST(:answers_used AS int[]), "
    "CAST(:flagged AS boolean[]), CAST(:details AS jsonb[])) "
    "AS u(task_id, batch_id, answer, confidence, answers_used, flagged, details) "
    "ON CONFLICT (task_id) DO UPDATE SET " + ", ".join(
        f"{c} = EXCLUDED.{c}" for c in _RESULT_COLUMNS if c != "task_id"))


def write_results(session: Session, rows: list[dict[str, Any]], *, project_id: int, run_id: int, method: str,
                  computed_at) -> None:
    """Insert or replace result rows (task_id, batch_id, answer, confidence, answers_used, flagged,
    details) under one run. PostgreSQL takes them as arrays in one statement per 50,000 rows."""
    if not rows:
        return
    if is_postgres(session):
        dumps = orjson.dumps
        for start in range(0, len(rows), 100_000):
            part = rows[start:start + 100_000]
            session.execute(text(_UPSERT_PG).bindparams(bindparam("computed_at", type_=UTCDateTime())), {
                "project_id": project_id, "run_id": run_id, "method": method, "computed_at": computed_at,
                "task_id": array_literal((r["task_id"] for r in part), "int"),
                "batch_id": array_literal((r["batch_id"] for r in part), "int"),
                # JSON null for a withdrawn answer (the column is NOT NULL), SQL NULL for no details.
                "answer": array_literal((dumps(r["answer"]).decode() for r in part), "text"),
                "confidence": array_literal((r["confidence"] for r in part), "float"),
                "answers_used": array_literal((r["answers_used"] for r in part), "int"),
                "flagged": array_literal((r["flagged"] for r in part), "bool"),
                "details": array_literal((None if r["details"] is None else dumps(r["details"]).decode()
                                          for r in part), "text")})
        return
    table = ConsensusResult.__table__
    stmt = sqlite.insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.task_id], set_={
        name: stmt.excluded[name] for name in _RESULT_COLUMNS if name != "task_id"})
    extra = {"project_id": project_id, "run_id": run_id, "method": method, "computed_at": computed_at}
    for start in range(0, len(rows), 10_000):
        session.execute(stmt, [{**r, **extra} for r in rows[start:start + 10_000]])


def write_agreement(session: Session, values: Iterable[tuple[int, float | None]]) -> None:
    """Store each task's agreement (``tasks.agreement``), in task order."""
    values = sorted(values)
    if not values:
        return
    if is_postgres(session):
        for start in range(0, len(values), 100_000):
            part = values[start:start + 100_000]
            session.execute(text(
                "UPDATE tasks SET agreement = u.a FROM unnest(CAST(:ids AS bigint[]), CAST(:a AS float8[])) "
                "AS u(id, a) WHERE tasks.id = u.id AND tasks.agreement IS DISTINCT FROM u.a"),
                {"ids": array_literal((t for t, _ in part), "int"), "a": array_literal((a for _, a in part), "float")})
        return
    session.execute(text("UPDATE tasks SET agreement = :a WHERE id = :id"), [{"id": t, "a": a} for t, a in values])
