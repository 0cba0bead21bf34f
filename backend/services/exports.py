"""Exports: a project's tasks with answers, consensus and agreement, written to a file by a job.

Rows stream from the database in chunks of tasks, so memory stays flat whatever
the project's size; the format writers live in ``backend.exports``. On PostgreSQL,
JSON Lines are written by the database and copied out as they are, and Parquet
reads one stream whose JSON values are never decoded (see docs/BENCHMARKS.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import psycopg
from sqlalchemy import Connection, func, select, text

from ..db import get_engine, is_postgres, read_session, unit_of_work
from ..errors import ConcordError, Conflict, ValidationError
from ..exports import EMPTY_OPTIONAL, FORMATS, WriteOptions, form_question, label_config, write_export
from ..models import COUNTED_SQL, Assignment, Batch, ConsensusResult, Event, Export, Project, Task, utcnow
from ..questions import FORM, form_of
from .access import Principal, ensure_manage, managed_row
from .pagination import Page, paginate

CHUNK = 5_000
INCLUDES = ("answers", "consensus", "agreement")
# A file's name and media type come from its format (backend.exports.FORMATS).
EXTENSIONS = {name: f.extension.lstrip(".") for name, f in FORMATS.items()}


class ExportGone(ConcordError):
    status = 410
    code = "export_expired"


def _project_dict(project: Project) -> dict[str, Any]:
    config = project.label_config
    about = {"id": project.id, "name": project.name, "task_type": project.task_type,
             "labels": config.get("labels"), "text_field": config.get("text_field", "text"),
             "image_field": config.get("image_field", "image"), "min": config.get("min"), "max": config.get("max")}
    if project.task_type == FORM:
        about.update(questions=config.get("questions", []), display=project.display or [])
    return about


def _with_label_config(export: Export, project: Project) -> Export:
    """A Label Studio export's resource carries the labeling config its results are named for."""
    export.label_config = label_config(_project_dict(project)) if export.format == "label_studio" else None
    return export


def create_export(*, principal: Principal, project_id: int, fmt: str, batch_ids: list[int] | None,
                  include: list[str] | None, job_id: str, include_gold: bool = True,
                  include_empty: bool = False, question: str | None = None, include_ties: bool = False) -> Export:
    """Record an export for a job to write. Raises NotFound, Forbidden or ValidationError.

    ``include_gold``: control tasks are written, marked, with their expected answer. ``include_empty``
    (coco, conll, spacy only): tasks without consensus are written too, with no labels. ``question`` and
    ``include_ties`` (preferences only): the pairwise or ranking question, and whether ties are written.
    """
    principal.require_scope("results:read")
    if fmt not in FORMATS:
        raise ValidationError(f"format: one of {', '.join(FORMATS)}", details={"fields": {"format": ["unknown"]}})
    unknown = sorted(set(include or []) - set(INCLUDES))
    if unknown:
        raise ValidationError(f"include: unknown parts {unknown}", details={"fields": {"include": unknown}})
    if include_empty and fmt not in EMPTY_OPTIONAL:
        raise ValidationError(
            f"include_empty: only for {', '.join(sorted(EMPTY_OPTIONAL))}; a {fmt} export holds every task",
            details={"fields": {"include_empty": [f"not for {fmt}"]}})
    if fmt != "preferences" and include_ties:
        raise ValidationError("include_ties: only for preferences exports",
                              details={"fields": {"include_ties": [f"not for {fmt}"]}})
    parts = [part for part in INCLUDES if part in (include or INCLUDES)]
    markers = (["gold"] if include_gold else []) + (["empty"] if include_empty else [])
    with unit_of_work() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        export_format = FORMATS[fmt]
        if not export_format.fits(project.task_type):
            raise ValidationError(f"format: {fmt} is for {', '.join(sorted(export_format.task_types))} projects",
                                  details={"fields": {"format": [f"not for {project.task_type}"]}})
        options = None
        if project.task_type == FORM:
            try:
                question = form_question(fmt, form_of(project), question)
            except ValueError as exc:
                raise ValidationError(f"question: {exc}", details={"fields": {"question": [str(exc)]}}) from exc
            if question is not None:
                options = {"question": question, "include_ties": include_ties}
        elif question is not None:
            raise ValidationError("question: only for form projects", details={"fields": {"question": ["not a form"]}})
        if fmt == "preferences":
            parts = list(INCLUDES)  # the votes, the merged preference and the agreement are what it writes
        if batch_ids:
            found = set(session.scalars(select(Batch.id).where(Batch.project_id == project_id,
                                                               Batch.id.in_(batch_ids))))
            missing = sorted(set(batch_ids) - found)
            if missing:
                raise ValidationError(f"batch_ids: not batches of project {project_id}: {missing[:20]}",
                                      details={"fields": {"batch_ids": [f"unknown: {missing[:20]}"]}})
        export = Export(project_id=project_id, format=fmt, batch_ids=batch_ids, include=parts + markers,
                        options=options, status="queued", job_id=job_id)
        session.add(export)
        _with_label_config(export, project)
    return export


def answer_time(moment: datetime) -> str:
    """One spelling of answer times in every format and on both export paths: RFC 3339 in UTC, as
    PostgreSQL writes a timestamp in JSON (``2026-01-01T10:00:00.5+00:00``: no trailing zeros)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}+00:00"


def pseudonym(worker_id: int, project_id: int, salt: str) -> str:
    """A stable per-project worker id that reveals nothing about the account."""
    digest = hmac.new(salt.encode(), f"{project_id}:{worker_id}".encode(), hashlib.sha256).hexdigest()
    return f"w-{digest[:12]}"


def iter_rows(project_id: int, *, batch_ids: list[int] | None, include: list[str], salt: str,
              include_gold: bool = True) -> Iterator[dict]:
    """The export's rows, one per task in task order, read in chunks.

    Every submitted answer is listed with its review status and whether it counts (``COUNTED_SQL``);
    control tasks are in (``gold``, with their ``expected`` answer) unless ``include_gold`` is false.
    """
    after = 0
    answers_col = Assignment.__table__.c.answer
    names: dict[int, str] = {}  # one HMAC per worker, not per answer
    results = ConsensusResult.__table__.c
    while True:
        with read_session() as session:
            stmt = (select(Task.id, Task.external_id, Task.batch_id, Task.data, Task.agreement, Task.status,
                           Task.gold, Task.created_at)
                    .where(Task.project_id == project_id, Task.id > after)
                    .order_by(Task.id).limit(CHUNK))
            if not include_gold:
                stmt = stmt.where(Task.status != "gold")
            if batch_ids:
                stmt = stmt.where(Task.batch_id.in_(batch_ids))
            tasks = session.execute(stmt).all()
            if not tasks:
                return
            # The chunk's tasks are contiguous in id order: fetch what hangs off them by id range,
            # not with a list of thousands of ids.
            bounds = {"p": project_id, "lo": after, "hi": tasks[-1].id}
            answers: dict[int, list] = defaultdict(list)
            if "answers" in include:
                for task_id, worker_id, answer, submitted_at, seconds, review, is_counted in session.execute(text(
                        "SELECT task_id, worker_id, answer, submitted_at, active_seconds, review_status, "
                        f"CASE WHEN {COUNTED_SQL} THEN 1 ELSE 0 END FROM assignments "
                        "WHERE project_id = :p AND task_id > :lo AND task_id <= :hi AND status = 'submitted' "
                        "ORDER BY task_id, id")
                        .columns(answer=answers_col.type, submitted_at=Assignment.__table__.c.submitted_at.type),
                        bounds).all():
                    name = names.get(worker_id)
                    if name is None:
                        name = names[worker_id] = pseudonym(worker_id, project_id, salt)
                    answers[task_id].append({"worker": name, "answer": answer,
                                             "submitted_at": answer_time(submitted_at),
                                             "active_seconds": seconds, "review_status": review,
                                             "counted": bool(is_counted)})
            consensus, confidences = {}, {}
            if "consensus" in include:
                # Core rows, not ORM objects: this loop runs once per exported task.
                for task_id, answer, confidence, method, used, details in session.execute(
                        select(results.task_id, results.answer, results.confidence, results.method,
                               results.answers_used, results.details).where(results.project_id == project_id,
                                                                            results.task_id > after,
                                                                            results.task_id <= tasks[-1].id)).all():
                    consensus[task_id] = {"answer": answer, "confidence": confidence, "method": method,
                                          "answers_used": used}
                    if isinstance(details, dict) and isinstance(details.get("questions"), dict):
                        confidences[task_id] = _confidences(details["questions"])
        for t in tasks:
            gold = t.status == "gold"
            yield {"task_id": t.id, "external_id": t.external_id, "batch_id": t.batch_id, "data": t.data,
                   "answers": answers.get(t.id, []), "consensus": consensus.get(t.id),
                   "agreement": t.agreement if "agreement" in include else None,
                   "gold": gold, "expected": t.gold if gold else None, "created_at": answer_time(t.created_at),
                   "confidences": confidences.get(t.id)}
        after = tasks[-1].id


def _confidences(questions: dict[str, Any]) -> dict[str, float | None]:
    """A form's confidence per question, from its result's ``details.questions``."""
    return {name: q.get("confidence") for name, q in questions.items() if isinstance(q, dict)}


# PostgreSQL writes each JSON Lines line itself, by concatenating text: json_build_object looks up every
# argument's type on every call, and a correlated subquery per task costs an index descent and a sort.
# Here one merge join walks tasks, consensus and answers (aggregated per task) in id order. Every value
# that may be NULL is COALESCEd: a NULL would blank the whole line. Worker pseudonyms (HMACs, computed
# once per worker in Python) come in as one jsonb object, read with ->> (a pseudonym needs no JSON
# escaping, nor does a review status, one of a few words): joining them as a relation instead costs the
# merge its order (a sort of every answer).
# Times are PostgreSQL's own JSON spelling (the session is in UTC), which costs a third of to_char's;
# ``answer_time`` writes the same on the other paths. Each ``||`` copies the text on its left, so a line is
# put together from a few groups, each built short, rather than by appending every piece to the whole line.
_ANSWERS_JOIN = """
LEFT JOIN (
  SELECT a.task_id, string_agg(
      '{"worker":' || COALESCE('"' || (CAST(%(names)s AS jsonb) ->> CAST(a.worker_id AS text)) || '"', 'null')
      || ',"answer":' || COALESCE(a.answer::text, 'null')
      || ',"submitted_at":' || COALESCE(to_json(a.submitted_at)::text, 'null')
      || ',"active_seconds":' || COALESCE(a.active_seconds::text, 'null')
      || ',"review_status":' || COALESCE('"' || a.review_status || '"', 'null')
      || ',"counted":' || CASE WHEN {counted} THEN 'true' ELSE 'false' END || '}', ',' ORDER BY a.id) AS answers
  FROM assignments a
  WHERE a.project_id = %(p)s AND a.status = 'submitted' AND a.task_id > %(lo)s AND a.task_id <= %(hi)s
  GROUP BY a.task_id) a ON a.task_id = t.id"""
_ANSWERS_JOIN = _ANSWERS_JOIN.replace("{counted}", COUNTED_SQL)  # the one definition of a counted answer
_CONSENSUS_JOIN = """
LEFT JOIN consensus_results c ON c.task_id = t.id AND c.task_id > %(lo)s AND c.task_id <= %(hi)s"""
_CONSENSUS = """CASE WHEN c.task_id IS NULL THEN 'null' ELSE '{{"answer":' || c.answer::text
  || ',"confidence":' || {confidence} || ',"method":' || to_json(c.method)::text
  || ',"answers_used":' || c.answers_used::text || '}}' END"""
_JSONL_SQL = """
SELECT t.id, ('{{"task_id":' || t.id::text || ',"external_id":' || COALESCE(to_json(t.external_id)::text, 'null')
  || ',"batch_id":' || t.batch_id::text || ',"data":') || t.data::text || (',"answers":[' || {answers})
  || ('],"consensus":' || {consensus} || ',"agreement":' || {agreement}
      || ',"gold":' || CASE WHEN t.status = 'gold' THEN 'true' ELSE 'false' END
      || ',"expected":' || CASE WHEN t.status = 'gold' THEN COALESCE(t.gold::text, 'null') ELSE 'null' END
      || '}}') AS line
FROM tasks t {joins}
WHERE t.project_id = %(p)s {gold} AND t.id > %(lo)s AND t.id <= %(hi)s {batches}
ORDER BY t.id"""
_NOT_GOLD = "AND t.status <> 'gold'"


def _export_settings(conn: Connection) -> None:
    """UTF-8 text and UTC times for the export's transaction; no JIT: compiling these queries (their cost
    passes jit_above_cost from a few hundred thousand tasks on) takes longer than it saves, the time goes
    into text functions, which JIT does not speed up; no parallel workers: a large JSON Lines export
    already runs ``JSONL_STREAMS`` connections, one per core."""
    conn.exec_driver_sql("SET LOCAL client_encoding = 'UTF8'")
    conn.exec_driver_sql("SET LOCAL timezone = 'UTC'")
    conn.exec_driver_sql("SET LOCAL jit = off")
    conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")


# How many connections build one PostgreSQL JSON Lines export at once, each over its own range of tasks
# (PostgreSQL's work is most of an export's), and the fewest tasks that make a range worth a connection.
JSONL_STREAMS = 2
JSONL_MIN_RANGE = 20_000


def _json_float(column: str) -> str:
    """SQL for a float column as a JSON number; NaN and infinities are null, as orjson writes them."""
    return f"COALESCE(CASE WHEN {column} IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE {column} END::text, 'null')"


# Tasks per row of the JSON Lines COPY, at most. One row per task would make PostgreSQL send, and the exporter
# receive, a protocol message per task: per-message work was a third of the exporter's CPU. Large tasks get
# fewer to a row, so that a row (held whole on both sides) stays near JSONL_ROW_BYTES whatever their size.
JSONL_TASKS_PER_ROW = 256
JSONL_ROW_BYTES = 1 << 20
_JSONL_COPY = """
COPY (
  SELECT lines.n, convert_to(lines.body, 'UTF8')
  FROM (SELECT g AS lo, LEAST(g + {step}, %(hi)s::bigint) AS hi
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1, {step}) g) r,
  LATERAL (SELECT count(*) AS n, string_agg(line, E'\\n' ORDER BY id) AS body FROM ({lines}) l) lines
  WHERE lines.n > 0
) TO STDOUT (FORMAT binary)"""


def _tasks_per_row(conn: Connection, project_id: int, low: int) -> int:
    """Task ids per COPY row: ``JSONL_TASKS_PER_ROW``, fewer when the first 64 tasks of the export (their
    data and answers) make a row of that many longer than ``JSONL_ROW_BYTES``."""
    n, data, last = conn.execute(text(
        "SELECT count(*), coalesce(sum(octet_length(data::text)), 0), max(id) FROM ("
        " SELECT id, data FROM tasks WHERE project_id = :p AND id > :lo ORDER BY id LIMIT 64) t"),
        {"p": project_id, "lo": low}).one()
    if not n:
        return JSONL_TASKS_PER_ROW
    answers = conn.scalar(text(
        "SELECT coalesce(sum(octet_length(answer::text)), 0) FROM assignments"
        " WHERE task_id > :lo AND task_id <= :last AND status = 'submitted' AND project_id = :p"),
        {"p": project_id, "lo": low, "last": last})
    per_task = (data + answers) / n + 200  # plus the line's own keys, ids, times and pseudonyms
    return max(1, min(JSONL_TASKS_PER_ROW, int(JSONL_ROW_BYTES // per_task)))


def _jsonl_sql(*, include: list[str], batch_ids: list[int] | None, step: int, include_gold: bool = True) -> str:
    """COPY of the JSON Lines of one range of tasks: rows of (line count, lines joined by newlines).

    Each row covers ``step`` task ids (fewer lines where ids are missing or belong to
    other projects; empty spans send no row). The binary format sends the text as it is: the text and
    CSV formats would scan it for characters to escape or quote, and JSON text holds newlines here.
    """
    joins = (_ANSWERS_JOIN if "answers" in include else "") + (_CONSENSUS_JOIN if "consensus" in include else "")
    select = _JSONL_SQL.format(
        answers="COALESCE(a.answers, '')" if "answers" in include else "''",
        consensus=_CONSENSUS.format(confidence=_json_float("c.confidence")) if "consensus" in include else "'null'",
        agreement=_json_float("t.agreement") if "agreement" in include else "'null'",
        joins=joins, batches="AND t.batch_id = ANY(%(batch_ids)s)" if batch_ids else "",
        gold="" if include_gold else _NOT_GOLD)
    # Each span's own bounds replace the range's in the per-task query.
    lines = select.replace("%(lo)s", "r.lo").replace("%(hi)s", "r.hi")
    return _JSONL_COPY.format(step=int(step), lines=lines)


def _copy_range(conn: Connection, sql: str, params: dict, out: BinaryIO, counted: list[int], slot: int,
                stop: threading.Event, progress: Callable[[], None] = lambda: None) -> None:
    """Stream one range's COPY into ``out``, counting its lines in ``counted[slot]``."""
    reported = 0
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(sql, params) as copy:
        copy.set_types(["int8", "bytea"])
        for n, lines in copy.rows():
            if stop.is_set():
                raise RuntimeError("export stopped: another part failed")
            out.write(lines)
            out.write(b"\n")
            counted[slot] += n
            if counted[slot] - reported >= CHUNK:
                reported = counted[slot]
                progress()


@contextmanager
def _snapshot_connection(snapshot: str | None = None) -> Iterator[Connection]:
    """A REPEATABLE READ transaction on PostgreSQL: the exporter's own, or one that shares its snapshot."""
    with get_engine().connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        if snapshot:
            conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        _export_settings(conn)
        yield conn


# The project's workers, one index descent each on (project_id, worker_id, ...) from the last one found: a
# DISTINCT would read every assignment of the project (0.16 s for 1,000,000; this takes 5 ms for 500 workers).
_PROJECT_WORKERS = text("""
WITH RECURSIVE w(id) AS (
  SELECT min(worker_id) FROM assignments WHERE project_id = :p
  UNION ALL
  SELECT (SELECT min(a.worker_id) FROM assignments a WHERE a.project_id = :p AND a.worker_id > w.id)
  FROM w WHERE w.id IS NOT NULL)
SELECT id FROM w WHERE id IS NOT NULL""")


def _worker_names(conn: Connection, project_id: int, salt: str) -> str:
    """The pseudonym of each worker of the project, as a JSON object for the queries' jsonb parameter."""
    workers = conn.scalars(_PROJECT_WORKERS, {"p": project_id}).all()
    return orjson.dumps({str(w): pseudonym(w, project_id, salt) for w in workers}).decode()


def _batch_sizes(session_or_conn, project_id: int, batch_ids: list[int] | None,
                 include_gold: bool = True) -> list[tuple[int, int]]:
    """(batch id, tasks exported: all, or those that are not control tasks) of the exported batches, in id
    order: the batches' own counters, so that sizing an export costs no pass over its tasks."""
    size = Batch.task_count if include_gold else Batch.task_count - Batch.gold_count
    stmt = select(Batch.id, size).where(Batch.project_id == project_id)
    if batch_ids:
        stmt = stmt.where(Batch.id.in_(batch_ids))
    return session_or_conn.execute(stmt.order_by(Batch.id)).all()


def _id_bounds(conn: Connection, project_id: int, batch_ids: list[int] | None) -> tuple[int, int]:
    """(low, high) such that every exported task has low < id <= high; (0, 0) when there is none.

    Read through the batches' tasks (one pass over the export's own tasks, by batch): the table's
    own first and last ids would bound an old or small project by every other project's tasks.
    """
    batches = select(Batch.id).where(Batch.project_id == project_id)
    if batch_ids:
        batches = batches.where(Batch.id.in_(batch_ids))
    # id + 0: on a bare min(id) and max(id) PostgreSQL walks the primary key from either end instead.
    low, high = conn.execute(select(func.min(Task.id + 0), func.max(Task.id + 0))
                             .where(Task.batch_id.in_(batches))).one()
    return (low - 1, high) if low is not None else (0, 0)


def _range_cuts(conn: Connection, project_id: int, batch_ids: list[int] | None, include_gold: bool = True) -> list[int]:
    """Task ids that cut an export into ``JSONL_STREAMS`` ranges of about as many tasks each.

    Cut at batch starts, found from the batches' counters: tasks get their ids batch by batch, so this
    balances the ranges without counting tasks. Only the balance depends on it: the ranges always
    cover every id. Small exports are not cut.
    """
    sizes = _batch_sizes(conn, project_id, batch_ids, include_gold)
    total = sum(n for _, n in sizes)
    if total < JSONL_STREAMS * JSONL_MIN_RANGE:
        return []
    cuts, running = [], 0
    targets = [total * k // JSONL_STREAMS for k in range(1, JSONL_STREAMS)]
    for batch_id, n in sizes:
        if targets and running >= targets[0]:
            targets.pop(0)
            # min(id + 0): a plain min(id) walks the primary key from the table's start.
            first = conn.scalar(text("SELECT min(id + 0) FROM tasks WHERE batch_id = :b"), {"b": batch_id})
            if first is not None and first - 1 > (cuts[-1] if cuts else 0):
                cuts.append(first - 1)
        running += n
    return cuts


def _jsonl_from_postgres(project_id: int, *, batch_ids: list[int] | None, include: list[str], salt: str,
                         fh: BinaryIO, tmp_dir: Path, progress: Callable[[int], None],
                         include_gold: bool = True) -> int:
    """JSON Lines built by PostgreSQL itself and copied out as raw bytes, never parsed by Python.

    The same objects as the generic writer (``backend.exports.jsonl``). A large export is cut into
    ``JSONL_STREAMS`` ranges of tasks, each copied by its own connection into its own file at the same
    time, all in one snapshot; the files are then joined in task order.
    """
    with _snapshot_connection() as conn:
        snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
        low, high = _id_bounds(conn, project_id, batch_ids)
        cuts = _range_cuts(conn, project_id, batch_ids, include_gold)
        bounds = [low, *(cut for cut in cuts if low < cut < high), high]
        names = _worker_names(conn, project_id, salt)
        sql = _jsonl_sql(include=include, batch_ids=batch_ids, step=_tasks_per_row(conn, project_id, low),
                         include_gold=include_gold)
        params = [{"p": project_id, "names": names, "batch_ids": batch_ids, "lo": lo, "hi": hi}
                  for lo, hi in zip(bounds, bounds[1:], strict=False)]
        counted, stop = [0] * len(params), threading.Event()

        def later_part(slot: int, out: BinaryIO) -> None:
            with _snapshot_connection(snapshot) as other:
                _copy_range(other, sql, params[slot], out, counted, slot, stop)

        with ExitStack() as files, ThreadPoolExecutor(max_workers=max(1, len(params) - 1)) as pool:
            later = [files.enter_context(tempfile.TemporaryFile(dir=tmp_dir)) for _ in params[1:]]
            futures = [pool.submit(later_part, slot, out) for slot, out in enumerate(later, 1)]
            try:
                # The first range goes straight into the file while the others fill theirs.
                _copy_range(conn, sql, params[0], fh, counted, 0, stop, lambda: progress(sum(counted)))
                for future, out in zip(futures, later, strict=True):
                    future.result()
                    out.seek(0)
                    shutil.copyfileobj(out, fh, 1 << 20)
            except BaseException:
                stop.set()  # the other parts give up at their next write
                raise
    return sum(counted)


_ROWS_SQL = """
SELECT t.id, t.external_id, t.batch_id, t.data::text, {answers}, {consensus}, {agreement},
  t.status = 'gold', CASE WHEN t.status = 'gold' THEN t.gold::text END
FROM tasks t {joins}
WHERE t.project_id = %(p)s {gold} AND t.id > %(lo)s AND t.id <= %(hi)s {batches}
ORDER BY t.id"""


def _serialized_rows_from_postgres(project_id: int, *, batch_ids: list[int] | None, include: list[str],
                                   salt: str, include_gold: bool = True, form: bool = False) -> Iterator[dict]:
    """``iter_rows`` for the writers that only serialize values (Parquet): one ordered stream, and the
    JSON values (data, answers, consensus answer) as PostgreSQL's JSON text in ``orjson.Fragment``s,
    which orjson writes out as they are instead of decoding and encoding them again. ``form``: the
    consensus answer is decoded, for the writer's column per question.
    """
    answers, consensus = "answers" in include, "consensus" in include
    sql = _ROWS_SQL.format(
        answers="'[' || COALESCE(a.answers, '') || ']'" if answers else "'[]'",
        consensus=("c.answer::text, c.confidence, c.method, c.answers_used, (c.details -> 'questions')::text"
                   if consensus else "NULL, NULL, NULL, NULL, NULL"),
        agreement="t.agreement" if "agreement" in include else "NULL",
        joins=(_ANSWERS_JOIN if answers else "") + (_CONSENSUS_JOIN if consensus else ""),
        batches="AND t.batch_id = ANY(%(batch_ids)s)" if batch_ids else "",
        gold="" if include_gold else _NOT_GOLD)
    fragment = orjson.Fragment
    with get_engine().connect() as conn, conn.begin():
        _export_settings(conn)
        low, high = _id_bounds(conn, project_id, batch_ids)
        params = {"p": project_id, "names": _worker_names(conn, project_id, salt), "batch_ids": batch_ids,
                  "lo": low, "hi": high}
        # Rows arrive in chunks while PostgreSQL goes on computing the next ones (libpq 17's chunked mode).
        size = CHUNK if psycopg.pq.version() >= 170000 else 1
        stream = conn.connection.driver_connection.cursor().stream(sql, params, size=size)
        # Closed before the transaction ends, should the writer stop early: psycopg then drops the rest.
        with closing(stream):
            for (task_id, external_id, batch_id, data, answer_list, answer, confidence, method, used, questions,
                 agreement, gold, expected) in stream:
                # A form's writer reads each question's part: its merged answer is decoded (a small object).
                merged = None if answer is None else (orjson.loads(answer) if form else fragment(answer))
                yield {"task_id": task_id, "external_id": external_id, "batch_id": batch_id,
                       "data": fragment(data),
                       "answers": fragment(answer_list),
                       "consensus": None if answer is None else {"answer": merged, "confidence": confidence,
                                                                 "method": method, "answers_used": used},
                       "agreement": agreement, "gold": gold,
                       "expected": None if expected is None else fragment(expected),
                       "confidences": _confidences(orjson.loads(questions)) if questions else None}


def run_export(*, export_id: int, directory: Path, salt: str, ttl_hours: int,
               progress: Callable[[float], None] = lambda _f: None, image_dir: Path | None = None) -> dict[str, Any]:
    """Write an export's file (the job's work). Safe to rerun: the file is rewritten whole.

    ``image_dir``: the directory whose images the box formats may read to learn an image's size when
    the task data does not give it (None: no local file is read).
    """
    with unit_of_work() as session:
        export = session.get(Export, export_id)
        project = session.get(Project, export.project_id)
        export.status = "running"
        total = sum(n for _, n in _batch_sizes(session, project.id, export.batch_ids, export.include_gold)) or 1
    parts, include_gold = export.parts, export.include_gold
    options = WriteOptions(include_empty=export.include_empty, image_dir=str(image_dir) if image_dir else None,
                           question=export.question, include_ties=export.include_ties)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"export-{export_id}.{EXTENSIONS[export.format]}"
    partial = final.with_suffix(final.suffix + ".partial")

    def counted(rows: Iterator[dict]) -> Iterator[dict]:
        for n, row in enumerate(rows, 1):
            if n % CHUNK == 0:
                progress(min(0.99, n / total))
            yield row

    try:
        with open(partial, "wb") as fh:
            if export.format == "jsonl" and is_postgres():
                written = _jsonl_from_postgres(project.id, batch_ids=export.batch_ids, include=parts,
                                               salt=salt, fh=fh, tmp_dir=directory,
                                               progress=lambda n: progress(min(0.99, n / total)),
                                               include_gold=include_gold)
            else:
                if export.format == "parquet" and is_postgres():
                    rows = _serialized_rows_from_postgres(project.id, batch_ids=export.batch_ids, include=parts,
                                                          salt=salt, include_gold=include_gold,
                                                          form=project.task_type == FORM)
                else:
                    rows = iter_rows(project.id, batch_ids=export.batch_ids, include=parts, salt=salt,
                                     include_gold=include_gold)
                with closing(rows):  # a writer that fails mid-way: end the read and its transaction now
                    written = write_export(export.format, counted(rows), fh, _project_dict(project),
                                           tmp_dir=str(directory), options=options)
        # The file appears under its final name only once complete.
        os.replace(partial, final)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        with unit_of_work() as session:
            failed = session.get(Export, export_id)
            failed.status, failed.finished_at = "failed", utcnow()
            # The cause goes to the log (the job's traceback); the record keeps a short reason.
            failed.error = {"code": "export_failed", "message": "The export could not be written.",
                            "details": {"exception": type(exc).__name__}}
        raise
    now = utcnow()
    with unit_of_work() as session:
        done = session.get(Export, export_id)
        done.status, done.path, done.size_bytes, done.tasks = "ready", str(final), final.stat().st_size, written
        done.finished_at, done.expires_at = now, now + timedelta(hours=ttl_hours)
        session.add(Event(kind="export.ready", project_id=done.project_id, created_at=now,
                          payload={"export_id": export_id, "format": done.format, "tasks": written}))
    return {"export_id": export_id, "tasks": written, "size_bytes": final.stat().st_size}


def list_exports(*, principal: Principal, project_id: int, limit: int, cursor: str | None) -> Page:
    """A project's exports, newest first (expired ones too, without their files). Raises NotFound, Forbidden."""
    principal.require_scope("results:read")
    with read_session() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        page = paginate(session, select(Export).where(Export.project_id == project_id), Export.id, limit=limit,
                        cursor=cursor, newest_first=True)
        for export in page.items:
            _with_label_config(export, project)
        return page


def get_export(*, principal: Principal, export_id: int) -> Export:
    """An export of a project the caller manages. Raises NotFound."""
    principal.require_scope("results:read")
    with read_session() as session:
        export = managed_row(session, principal, Export, export_id, "Export")
        return _with_label_config(export, session.get(Project, export.project_id))


def download(*, principal: Principal, export_id: int) -> tuple[Path, str, str]:
    """(path, download name, mimetype) of a ready export. Raises NotFound, Conflict (not ready), ExportGone."""
    export = get_export(principal=principal, export_id=export_id)
    if export.status != "ready":
        raise Conflict(f"Export {export_id} is {export.status}; download it once it is ready.",
                       code="export_not_ready")
    if export.expires_at and export.expires_at <= utcnow() or not export.path or not Path(export.path).exists():
        raise ExportGone(f"Export {export_id} has expired; create a new one.")
    name = f"project-{export.project_id}-export-{export.id}.{EXTENSIONS[export.format]}"
    return Path(export.path), name, FORMATS[export.format].media_type


def delete_expired() -> int:
    """Delete the files of expired exports (periodic)."""
    now = utcnow()
    with unit_of_work() as session:
        expired = list(session.scalars(select(Export).where(Export.status == "ready", Export.expires_at <= now)))
        for export in expired:
            if export.path:
                Path(export.path).unlink(missing_ok=True)
            export.status, export.path = "expired", None
    return len(expired)
