"""Exports: a project's tasks with answers, consensus and agreement, written to a file by a job.

Rows stream from the database in chunks of tasks, so memory stays flat whatever
the project's size; the format writers live in ``backend.exports``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select, text

from ..db import get_engine, is_sqlite, read_session, unit_of_work
from ..errors import ConcordError, Conflict, ValidationError
from ..exports import FORMATS, write_export
from ..models import Assignment, ConsensusResult, Event, Export, Project, Task, utcnow
from .access import Principal, ensure_manage, managed_row

CHUNK = 5_000
# One spelling of answer times in every format and on both export paths.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
INCLUDES = ("answers", "consensus", "agreement")
FORMAT_TYPES = {"coco": {"bounding_boxes"}, "conll": {"text_spans"}, "spacy": {"text_spans"}}
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "coco": "json", "label_studio": "json", "conll": "conll",
              "spacy": "jsonl", "parquet": "parquet"}
MIMETYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv", "coco": "application/json",
             "label_studio": "application/json", "conll": "text/plain", "spacy": "application/x-ndjson",
             "parquet": "application/vnd.apache.parquet"}


def is_postgres() -> bool:
    return not is_sqlite()


class ExportGone(ConcordError):
    status = 410
    code = "export_expired"


def _project_dict(project: Project) -> dict[str, Any]:
    config = project.label_config
    return {"id": project.id, "name": project.name, "task_type": project.task_type,
            "labels": config.get("labels"), "text_field": config.get("text_field", "text"),
            "image_field": config.get("image_field", "image"), "min": config.get("min"), "max": config.get("max")}


def create_export(*, principal: Principal, project_id: int, fmt: str, batch_ids: list[int] | None,
                  include: list[str] | None, job_id: str) -> Export:
    """Record an export for a job to write. Raises NotFound, Forbidden or ValidationError."""
    principal.require_scope("results:read")
    if fmt not in FORMATS:
        raise ValidationError(f"format: one of {', '.join(FORMATS)}", details={"fields": {"format": ["unknown"]}})
    unknown = sorted(set(include or []) - set(INCLUDES))
    if unknown:
        raise ValidationError(f"include: unknown parts {unknown}", details={"fields": {"include": unknown}})
    with unit_of_work() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        if fmt in FORMAT_TYPES and project.task_type not in FORMAT_TYPES[fmt]:
            raise ValidationError(f"format: {fmt} is for {', '.join(sorted(FORMAT_TYPES[fmt]))} projects",
                                  details={"fields": {"format": [f"not for {project.task_type}"]}})
        export = Export(project_id=project_id, format=fmt, batch_ids=batch_ids, include=include or list(INCLUDES),
                        status="queued", job_id=job_id)
        session.add(export)
    return export


def pseudonym(worker_id: int, project_id: int, salt: str) -> str:
    """A stable per-project worker id that reveals nothing about the account."""
    digest = hmac.new(salt.encode(), f"{project_id}:{worker_id}".encode(), hashlib.sha256).hexdigest()
    return f"w-{digest[:12]}"


def iter_rows(project_id: int, *, batch_ids: list[int] | None, include: list[str], salt: str) -> Iterator[dict]:
    """The export's rows, one per task in task order, read in chunks."""
    after = 0
    answers_col = Assignment.__table__.c.answer
    names: dict[int, str] = {}  # one HMAC per worker, not per answer
    results = ConsensusResult.__table__.c
    while True:
        with read_session() as session:
            stmt = (select(Task.id, Task.external_id, Task.batch_id, Task.data, Task.agreement)
                    .where(Task.project_id == project_id, Task.status != "gold", Task.id > after)
                    .order_by(Task.id).limit(CHUNK))
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
                for task_id, worker_id, answer, submitted_at, seconds in session.execute(text(
                        "SELECT task_id, worker_id, answer, submitted_at, active_seconds FROM assignments "
                        "WHERE project_id = :p AND task_id > :lo AND task_id <= :hi AND status = 'submitted' "
                        "ORDER BY task_id, id")
                        .columns(answer=answers_col.type, submitted_at=Assignment.__table__.c.submitted_at.type),
                        bounds).all():
                    name = names.get(worker_id)
                    if name is None:
                        name = names[worker_id] = pseudonym(worker_id, project_id, salt)
                    answers[task_id].append({"worker": name, "answer": answer,
                                             "submitted_at": submitted_at.strftime(TIME_FORMAT),
                                             "active_seconds": seconds})
            consensus = {}
            if "consensus" in include:
                # Core rows, not ORM objects: this loop runs once per exported task.
                for task_id, answer, confidence, method, used in session.execute(
                        select(results.task_id, results.answer, results.confidence, results.method,
                               results.answers_used).where(results.project_id == project_id,
                                                           results.task_id > after,
                                                           results.task_id <= tasks[-1].id)).all():
                    consensus[task_id] = {"answer": answer, "confidence": confidence, "method": method,
                                          "answers_used": used}
        for t in tasks:
            yield {"task_id": t.id, "external_id": t.external_id, "batch_id": t.batch_id, "data": t.data,
                   "answers": answers.get(t.id, []), "consensus": consensus.get(t.id),
                   "agreement": t.agreement if "agreement" in include else None}
        after = tasks[-1].id


_JSONL_SQL = """
SELECT json_build_object(
  'task_id', t.id, 'external_id', t.external_id, 'batch_id', t.batch_id, 'data', t.data,
  'answers', CASE WHEN :with_answers THEN COALESCE((
      SELECT json_agg(json_build_object(
          'worker', CAST(:names AS jsonb) ->> CAST(a.worker_id AS text), 'answer', a.answer,
          'submitted_at', to_char(a.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
          'active_seconds', a.active_seconds) ORDER BY a.id)
      FROM assignments a WHERE a.task_id = t.id AND a.status = 'submitted'), '[]') ELSE '[]' END,
  'consensus', CASE WHEN :with_consensus THEN (
      SELECT json_build_object('answer', c.answer, 'confidence', c.confidence, 'method', c.method,
                               'answers_used', c.answers_used)
      FROM consensus_results c WHERE c.task_id = t.id) END,
  'agreement', CASE WHEN :with_agreement THEN t.agreement END)::text
FROM tasks t
WHERE t.project_id = :p AND t.status <> 'gold' {batches}
ORDER BY t.id
"""


def _jsonl_from_postgres(project_id: int, *, batch_ids: list[int] | None, include: list[str], salt: str,
                         fh, progress: Callable[[int], None]) -> int:
    """JSON Lines built by PostgreSQL itself, streamed from a server-side cursor.

    The same objects as the generic writer (``backend.exports.jsonl``), without a
    Python object per task, answer and value: the export's hot path at scale.
    """
    with read_session() as session:
        workers = session.execute(text("SELECT DISTINCT worker_id FROM assignments WHERE project_id = :p"),
                                  {"p": project_id}).scalars().all()
    names = orjson.dumps({str(w): pseudonym(w, project_id, salt) for w in workers}).decode()
    sql = _JSONL_SQL.format(batches="AND t.batch_id = ANY(:batch_ids)" if batch_ids else "")
    params = {"p": project_id, "names": names, "with_answers": "answers" in include,
              "with_consensus": "consensus" in include, "with_agreement": "agreement" in include}
    if batch_ids:
        params["batch_ids"] = batch_ids
    count = 0
    with get_engine().connect() as conn, conn.begin():
        result = conn.execution_options(stream_results=True, max_row_buffer=CHUNK).execute(text(sql), params)
        for rows in result.partitions(CHUNK):
            fh.write("".join(row[0] + "\n" for row in rows).encode())
            count += len(rows)
            progress(count)
    return count


def run_export(*, export_id: int, directory: Path, salt: str, ttl_hours: int,
               progress: Callable[[float], None] = lambda _f: None) -> dict[str, Any]:
    """Write an export's file (the job's work). Safe to rerun: the file is rewritten whole."""
    with unit_of_work() as session:
        export = session.get(Export, export_id)
        project = session.get(Project, export.project_id)
        export.status = "running"
        total = session.scalar(select(func.count()).select_from(Task).where(
            Task.project_id == project.id, Task.status != "gold")) or 1
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
                written = _jsonl_from_postgres(project.id, batch_ids=export.batch_ids, include=export.include,
                                               salt=salt, fh=fh, progress=lambda n: progress(min(0.99, n / total)))
            else:
                written = write_export(export.format, counted(iter_rows(project.id, batch_ids=export.batch_ids,
                                                                        include=export.include, salt=salt)),
                                       fh, _project_dict(project), tmp_dir=str(directory))
        # The file appears under its final name only once complete.
        os.replace(partial, final)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        with unit_of_work() as session:
            failed = session.get(Export, export_id)
            failed.status, failed.finished_at = "failed", utcnow()
            failed.error = {"code": "export_failed", "message": str(exc), "details": {}}
        raise
    now = utcnow()
    with unit_of_work() as session:
        done = session.get(Export, export_id)
        done.status, done.path, done.size_bytes, done.tasks = "ready", str(final), final.stat().st_size, written
        done.finished_at, done.expires_at = now, now + timedelta(hours=ttl_hours)
        session.add(Event(kind="export.ready", project_id=done.project_id, created_at=now,
                          payload={"export_id": export_id, "format": done.format, "tasks": written}))
    return {"export_id": export_id, "tasks": written, "size_bytes": final.stat().st_size}


def get_export(*, principal: Principal, export_id: int) -> Export:
    """An export of a project the caller manages. Raises NotFound."""
    principal.require_scope("results:read")
    with read_session() as session:
        return managed_row(session, principal, Export, export_id, "Export")


def download(*, principal: Principal, export_id: int) -> tuple[Path, str, str]:
    """(path, download name, mimetype) of a ready export. Raises NotFound, Conflict (not ready), ExportGone."""
    export = get_export(principal=principal, export_id=export_id)
    if export.status != "ready":
        raise Conflict(f"Export {export_id} is {export.status}; download it once it is ready.",
                       code="export_not_ready")
    if export.expires_at and export.expires_at <= utcnow() or not export.path or not Path(export.path).exists():
        raise ExportGone(f"Export {export_id} has expired; create a new one.")
    name = f"project-{export.project_id}-export-{export.id}.{EXTENSIONS[export.format]}"
    return Path(export.path), name, MIMETYPES[export.format]


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
