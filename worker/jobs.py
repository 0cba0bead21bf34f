"""Thin job functions: reload state from ids, call one service, report progress.

Every function takes ``job_id`` first; the queue passes it. They are safe to
run twice.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from backend import db, jobs
from backend.config import Settings
from backend.services import agreement, assignments, datasets


def _ensure_database() -> None:
    try:
        db.get_engine()
    except RuntimeError:
        settings = Settings.from_env()
        db.configure(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


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


def expire_leases() -> int:
    """Mark leases past their expiry as expired (periodic; the claim path never waits for it)."""
    _ensure_database()
    return assignments.expire_leases()


def compute_agreement(job_id: str, project_id: int) -> dict | None:
    """Recompute a project's agreement report. Safe to rerun: the report is replaced."""
    _ensure_database()
    return jobs.run_tracked(job_id, lambda _progress: agreement.compute_report(project_id=project_id, job_id=job_id))
