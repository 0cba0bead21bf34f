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

from sqlalchemy import bindparam, func, select, text

from ..db import read_session, unit_of_work
from ..errors import ConcordError, Conflict, NotFound, ValidationError
from ..exports import FORMATS, write_export
from ..models import Assignment, ConsensusResult, Event, Export, Project, Task, utcnow
from .access import Principal, ensure_manage

CHUNK = 5_000
INCLUDES = ("answers", "consensus", "agreement")
FORMAT_TYPES = {"coco": {"bounding_boxes"}, "conll": {"text_spans"}, "spacy": {"text_spans"}}
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "coco": "json", "label_studio": "json", "conll": "conll",
              "spacy": "jsonl", "parquet": "parquet"}
MIMETYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv", "coco": "application/json",
             "label_studio": "application/json", "conll": "text/plain", "spacy": "application/x-ndjson",
             "parquet": "application/vnd.apache.parquet"}


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
            ids = [t.id for t in tasks]
            answers: dict[int, list] = defaultdict(list)
            if "answers" in include:
                for task_id, worker_id, answer, submitted_at, seconds in session.execute(text(
                        "SELECT task_id, worker_id, answer, submitted_at, active_seconds FROM assignments "
                        "WHERE task_id IN :ids AND status = 'submitted' ORDER BY task_id, id")
                        .bindparams(bindparam("ids", expanding=True))
                        .columns(answer=answers_col.type, submitted_at=Assignment.__table__.c.submitted_at.type),
                        {"ids": ids}):
                    answers[task_id].append({"worker": pseudonym(worker_id, project_id, salt), "answer": answer,
                                             "submitted_at": submitted_at.isoformat(), "active_seconds": seconds})
            consensus = {}
            if "consensus" in include:
                for row in session.scalars(select(ConsensusResult).where(ConsensusResult.task_id.in_(ids))):
                    consensus[row.task_id] = {"answer": row.answer, "confidence": row.confidence,
                                              "method": row.method, "answers_used": row.answers_used}
        for t in tasks:
            yield {"task_id": t.id, "external_id": t.external_id, "batch_id": t.batch_id, "data": t.data,
                   "answers": answers.get(t.id, []), "consensus": consensus.get(t.id),
                   "agreement": t.agreement if "agreement" in include else None}
        after = tasks[-1].id


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
        export = session.get(Export, export_id)
        if export is None:
            raise NotFound(f"Export {export_id} not found.")
        try:
            ensure_manage(principal, session.get(Project, export.project_id), export.project_id)
        except NotFound as exc:
            raise NotFound(f"Export {export_id} not found.") from exc
        return export


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
