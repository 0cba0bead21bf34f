"""Thin job functions: reload state from ids, call one service, report progress.

Every function takes ``job_id`` first; the queue passes it. They are safe to
run twice.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from backend import db, jobs
from backend.config import Settings
from backend.runtime import configure_process
from backend.services import (
    accounts,
    agreement,
    assignments,
    consensus,
    datasets,
    events,
    exports,
    fair_pay,
    idempotency,
    review,
    webhooks,
    workforce,
)


def _ensure_database() -> None:
    """A process that did not start through create_app or `concord` gets configured the same way here."""
    try:
        db.get_engine()
    except RuntimeError:
        configure_process(Settings.from_env())


def import_dataset(job_id: str, dataset_id: int, path: str) -> dict | None:
    """Import an uploaded file into its dataset. The upload is deleted once the job has ended."""
    _ensure_database()
    try:
        result = jobs.run_tracked(
            job_id, lambda progress: datasets.run_file_import(dataset_id=dataset_id, path=Path(path),
                                                              progress=progress))
    except Exception:
        if jobs.backend().retries_left() == 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        raise
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return result


def on_job_failure(job, connection, exc_type=None, exc_value=None, tb=None) -> None:
    """RQ's on_failure callback: also run by StartedJobRegistry.cleanup() for an abandoned job (its
    worker and work horse died: AbandonedJobError). Unless RQ retries the job, fail its record and the
    dataset or export it was making, and remove its upload and partial files. Safe to run twice."""
    if job.retries_left:
        return
    _ensure_database()
    from rq.exceptions import AbandonedJobError

    abandoned = isinstance(exc_value, AbandonedJobError) or exc_type is AbandonedJobError
    jobs.after_final_failure(job.id, reason=jobs.ABANDONED if abandoned else jobs.FAILED,
                             code="job_abandoned" if abandoned else "job_failed",
                             upload_path=(job.kwargs or {}).get("path"))


def on_job_stopped(job, connection) -> None:
    """RQ's on_stopped callback (`rq` stop-job command): the job ends failed, its files removed."""
    _ensure_database()
    jobs.after_final_failure(job.id, reason="The job was stopped.", code="job_stopped",
                             upload_path=(job.kwargs or {}).get("path"))


def recover_jobs() -> int:
    """Fail (or let RQ retry) abandoned jobs and queue jobs whose enqueue failed (periodic; also when
    `concord worker` and the embedded server start)."""
    _ensure_database()
    return jobs.recover()


def expire_leases() -> int:
    """Mark leases past their expiry as expired (periodic; the claim path never waits for it)."""
    _ensure_database()
    return assignments.expire_leases()


def compute_agreement(job_id: str, project_id: int) -> dict | None:
    """Recompute a project's agreement report. Safe to rerun: the report is replaced."""
    _ensure_database()
    return jobs.run_tracked(job_id, lambda _progress: agreement.compute_report(project_id=project_id, job_id=job_id))


def run_consensus(job_id: str, project_id: int, method: str | None = None, batch_ids: list[int] | None = None,
                  task_ids: list[int] | None = None) -> dict:
    """Merge answers into consensus for a project, some batches, or tasks whose counted answers changed.
    Safe to rerun: results are rewritten."""
    _ensure_database()
    return jobs.run_tracked(job_id, lambda _progress: consensus.run_consensus(
        project_id=project_id, method=method, batch_ids=batch_ids, task_ids=task_ids, job_id=job_id))


def run_export(job_id: str, export_id: int) -> dict:
    """Write an export file. Safe to rerun: the file is written again under a temporary name."""
    _ensure_database()
    settings = Settings.from_env()
    return jobs.run_tracked(job_id, lambda progress: exports.run_export(
        export_id=export_id, directory=settings.export_dir, salt=settings.secret_key,
        ttl_hours=settings.export_ttl_hours, progress=progress, image_dir=settings.export_image_dir))


_dispatching = threading.Lock()


def dispatch_events() -> int:
    """Start the follow-up work of committed events: consensus for each completed batch and for tasks
    whose answers stopped or started counting (periodic).

    One dispatcher at a time per process, so that an event is not picked up twice by the timer and
    an immediate dispatch. Across processes a rare second pick-up only repeats a consensus run,
    which replaces its results.
    """
    _ensure_database()
    with _dispatching:
        return _dispatch()


def _dispatch() -> int:
    started = deliveries = 0
    for event, organization_id in events.undispatched():
        if event.kind == "batch.completed":
            # A QueueUnavailable leaves the job recorded in the outbox; flush_outbox queues it later.
            with contextlib.suppress(jobs.QueueUnavailable):
                jobs.start_job("worker.jobs.run_consensus", kind="consensus", organization_id=organization_id,
                               project_id=event.project_id, queue="consensus", retries=2,
                               args={"project_id": event.project_id, "batch_ids": [event.batch_id]})
        elif event.kind == "results.stale":
            with contextlib.suppress(jobs.QueueUnavailable):
                jobs.start_job("worker.jobs.run_consensus", kind="consensus", organization_id=organization_id,
                               project_id=event.project_id, queue="consensus", retries=2,
                               args={"project_id": event.project_id, "task_ids": event.payload["task_ids"]})
        deliveries += events.mark_dispatched(event_id=event.id, organization_id=organization_id)
        started += 1
    if deliveries:
        with contextlib.suppress(jobs.QueueUnavailable):  # the periodic deliverer sends them anyway
            jobs.run_soon("worker.jobs.deliver_webhooks")
    return started


def deliver_webhooks() -> int:
    """Send the webhook deliveries that are due, first attempts and retries (periodic)."""
    _ensure_database()
    return webhooks.deliver_due()


def delete_expired_exports() -> int:
    """Remove expired export files (periodic)."""
    _ensure_database()
    return exports.delete_expired()


def propose_fair_pay(job_id: str, project_id: int) -> dict | None:
    """Recompute a project's fair-pay top-ups. Safe to rerun: open proposals are replaced."""
    _ensure_database()
    return jobs.run_tracked(job_id, lambda _progress: fair_pay.propose_topups(project_id=project_id))


def refresh_fair_pay() -> int:
    """Recompute fair-pay top-ups of projects with a minimum hourly rate, applying them where the project
    says so (periodic)."""
    _ensure_database()
    return fair_pay.refresh_all()


def auto_approve_answers() -> int:
    """Approve answers pending longer than their project's auto_approve_hours (periodic)."""
    _ensure_database()
    return review.auto_approve_due()


def settle_suspensions() -> int:
    """Finish suspensions whose follow-up was cut short (periodic): recount their tasks, reject per rule."""
    _ensure_database()
    return workforce.settle_due_suspensions()


def purge_ended_sessions() -> int:
    """Delete browser sessions that ended (logged out, expired) more than a day ago (periodic)."""
    _ensure_database()
    return accounts.purge_ended_sessions()


def purge_idempotency_keys() -> int:
    """Forget idempotency keys past their 24-hour replay window (periodic)."""
    _ensure_database()
    return idempotency.purge_expired()
