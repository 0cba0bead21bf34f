"""Job records: who started a job, its state and its outcome."""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..db import read_session, unit_of_work
from ..errors import NotFound
from ..models import Dataset, Export, JobRecord, utcnow
from .access import Principal
from .pagination import Page, paginate


def record_job(*, job_id: str, kind: str, organization_id: int | None, project_id: int | None = None,
               func: str | None = None, queue: str | None = None, args: dict[str, Any] | None = None,
               retries: int = 0, runner: str | None = None) -> JobRecord:
    """Write the record of a job about to be queued, with what to queue (the outbox entry)."""
    with unit_of_work() as session:
        job = JobRecord(id=job_id, kind=kind, organization_id=organization_id, project_id=project_id,
                        status="queued", func=func, queue=queue, args=args, retries=retries, runner=runner)
        session.add(job)
    return job


def mark_enqueued(*, job_id: str, runner: str | None = None) -> None:
    """The queue has the job: the outbox entry is done."""
    with unit_of_work() as session:
        job = session.get(JobRecord, job_id)
        if job is not None:
            job.enqueued_at = utcnow()
            job.runner = runner


def not_enqueued(*, created_before: datetime, limit: int = 100) -> list[JobRecord]:
    """Queued jobs whose enqueue never succeeded (the queue was down), oldest first."""
    with read_session() as session:
        return list(session.scalars(
            select(JobRecord).where(JobRecord.status == "queued", JobRecord.func.is_not(None),
                                    JobRecord.enqueued_at.is_(None), JobRecord.created_at < created_before)
            .order_by(JobRecord.id).limit(limit)))


def unfinished_on(*, runner_prefix: str) -> list[JobRecord]:
    """Jobs queued or started by in-process runners whose names start with ``runner_prefix``."""
    with read_session() as session:
        return list(session.scalars(
            select(JobRecord).where(JobRecord.status.in_(("queued", "started")),
                                    JobRecord.runner.startswith(runner_prefix, autoescape=True))
            .order_by(JobRecord.id)))


def is_final(*, job_id: str) -> bool:
    with read_session() as session:
        job = session.get(JobRecord, job_id)
        return job is None or job.status in ("finished", "failed")


def fail_abandoned(*, job_id: str, reason: str, export_dir: Path, upload_path: str | None = None,
                   code: str = "job_abandoned") -> bool:
    """Fail a job whose runner died (and the dataset or export it was making); remove its files.

    Safe to run twice. Returns whether anything was still unfinished.
    """
    error = {"code": code, "message": reason, "details": {}}
    changed = False
    partials: list[Path] = []
    with unit_of_work() as session:
        job = session.get(JobRecord, job_id, with_for_update=True)
        if job is not None and job.status not in ("finished", "failed"):
            job.status, job.error, job.finished_at = "failed", error, utcnow()
            changed = True
            if upload_path is None and job.args:
                upload_path = job.args.get("path")
        for dataset in session.scalars(select(Dataset).where(Dataset.job_id == job_id,
                                                             Dataset.status == "importing")):
            dataset.status, dataset.error, dataset.finished_at = "failed", error, utcnow()
            changed = True
        for export in session.scalars(select(Export).where(Export.job_id == job_id)):
            partials.append(export_dir / f"export-{export.id}.{_extension(export.format)}.partial")
            if export.status in ("queued", "running"):
                export.status, export.error, export.finished_at = "failed", error, utcnow()
                changed = True
    for path in [*partials, *([Path(upload_path)] if upload_path else [])]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return changed


def _extension(fmt: str) -> str:
    from .exports import EXTENSIONS

    return EXTENSIONS.get(fmt, fmt)


def public_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """A job's error as managers see it: code, short message, details without tracebacks."""
    if not error:
        return error
    details = {k: v for k, v in (error.get("details") or {}).items() if k not in ("traceback", "stack")}
    return {"code": error.get("code"), "message": error.get("message"), "details": details}


def mark_started(*, job_id: str) -> None:
    with unit_of_work() as session:
        job = session.get(JobRecord, job_id)
        if job is not None:
            job.status = "started"
            job.started_at = job.started_at or utcnow()
            job.error = None


def mark_finished(*, job_id: str, result: dict[str, Any] | None) -> None:
    with unit_of_work() as session:
        job = session.get(JobRecord, job_id)
        if job is not None:
            job.status, job.progress, job.result, job.finished_at = "finished", 1.0, result, utcnow()


def mark_failed(*, job_id: str, error: dict[str, Any], final: bool = True) -> None:
    """Record a failure; a failure that will be retried leaves the job queued."""
    with unit_of_work() as session:
        job = session.get(JobRecord, job_id)
        if job is not None:
            job.error = error
            job.status = "failed" if final else "queued"
            if final:
                job.finished_at = utcnow()


def _visible(principal: Principal):
    if principal.is_admin:
        return JobRecord.id.is_not(None)
    if principal.role in ("manager", "organization") and principal.organization_id is not None:
        return JobRecord.organization_id == principal.organization_id
    return JobRecord.id.is_(None)


def get_job(*, principal: Principal, job_id: str) -> JobRecord:
    """A job of the caller's organization. Raises NotFound."""
    with read_session() as session:
        job = session.scalar(select(JobRecord).where(JobRecord.id == job_id, _visible(principal)))
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    return job


def list_jobs(*, principal: Principal, limit: int, cursor: str | None, status: str | None = None) -> Page:
    """The organization's jobs, oldest first."""
    with read_session() as session:
        stmt = select(JobRecord).where(_visible(principal))
        if status:
            stmt = stmt.where(JobRecord.status == status)
        return paginate(session, stmt, JobRecord.id, limit=limit, cursor=cursor)
