"""Progress of a project or a batch: tasks, answers, workers and the time left at the current pace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text

from ..db import read_session
from ..models import Project, utcnow
from ..models.base import utc_param
from .access import Principal, ensure_manage
from .batches import managed_batch

PACE_WINDOW = timedelta(minutes=15)


@dataclass
class Progress:
    tasks_total: int
    tasks_complete: int
    answers_required: int
    answers_submitted: int
    answers_in_flight: int
    active_workers: int
    answers_per_hour: float
    estimated_seconds_left: float | None
    computed_at: datetime
    project_id: int
    batch_id: int | None = None


def _progress(session, *, project_id: int, batch_id: int | None) -> Progress:
    now = utcnow()
    scope = "batch_id = :b" if batch_id is not None else "project_id = :p"
    params = {"p": project_id, "b": batch_id, "now": now, "since": now - PACE_WINDOW}
    tasks_total, tasks_complete = session.execute(
        text(f"SELECT coalesce(sum(task_count), 0), coalesce(sum(completed_count), 0) FROM batches "
             f"WHERE {'id = :b' if batch_id is not None else 'project_id = :p'}"), params).one()
    required, submitted = session.execute(
        text(f"SELECT coalesce(sum(required_overlap), 0), coalesce(sum(answer_count), 0) FROM tasks WHERE {scope}"),
        params).one()
    in_flight, active, recent = session.execute(
        text(f"SELECT "
             f" count(*) FILTER (WHERE status = 'leased' AND expires_at > :now),"
             f" count(DISTINCT worker_id) FILTER (WHERE (status = 'leased' AND expires_at > :now)"
             f"   OR submitted_at >= :since),"
             f" count(*) FILTER (WHERE submitted_at >= :since)"
             f" FROM assignments WHERE {scope} AND (status = 'leased' OR submitted_at >= :since)")
        .bindparams(utc_param("now"), utc_param("since")),
        params).one()
    per_hour = recent * 3600 / PACE_WINDOW.total_seconds()
    remaining = max(0, int(required) - int(submitted))
    eta = remaining / per_hour * 3600 if per_hour > 0 else (0.0 if remaining == 0 else None)
    return Progress(int(tasks_total), int(tasks_complete), int(required), int(submitted), int(in_flight),
                    int(active), round(per_hour, 2), None if eta is None else round(eta, 1), now,
                    project_id, batch_id)


def project_progress(*, principal: Principal, project_id: int) -> Progress:
    """Progress of a whole project. Raises NotFound or Forbidden."""
    principal.require_scope("projects:read")
    with read_session() as session:
        ensure_manage(principal, session.get(Project, project_id), project_id)
        return _progress(session, project_id=project_id, batch_id=None)


def batch_progress(*, principal: Principal, batch_id: int) -> Progress:
    """Progress of one batch. Raises NotFound or Forbidden."""
    principal.require_scope("projects:read")
    with read_session() as session:
        batch = managed_batch(session, principal, batch_id)
        return _progress(session, project_id=batch.project_id, batch_id=batch_id)
