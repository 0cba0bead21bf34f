"""Job records: who started a job, its state and its outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..db import read_session, unit_of_work
from ..errors import NotFound
from ..models import JobRecord, utcnow
from .access import Principal
from .pagination import Page, paginate


def record_job(*, job_id: str, kind: str, organization_id: int | None, project_id: int | None = None) -> JobRecord:
    """Write the record of a job about to be queued."""
    with unit_of_work() as session:
        job = JobRecord(id=job_id, kind=kind, organization_id=organization_id, project_id=project_id,
                        status="queued")
        session.add(job)
    return job


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
