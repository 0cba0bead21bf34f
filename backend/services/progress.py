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
    """Control (gold) tasks are counted apart: each worker answers them once and they never complete, so
    counting them among the tasks that must complete would hold a finished project below 100% forever."""

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
    control_tasks: int = 0
    control_answers: int = 0


def _progress(session, *, project_id: int, batch_id: int | None) -> Progress:
    now = utcnow()
    scope = "batch_id = :b" if batch_id is not None else "project_id = :p"
    params = {"p": project_id, "b": batch_id, "now": now, "since": now - PACE_WINDOW}
    tasks_total, tasks_complete, control_tasks = session.execute(
        text(f"SELECT coalesce(sum(task_count - gold_count), 0), coalesce(sum(completed_count), 0), "
             f"coalesce(sum(gold_count), 0) FROM batches "
             f"WHERE {'id = :b' if batch_id is not None else 'project_id = :p'}"), params).one()
    # Answers still needed are counted per open task: a complete task with an answer beyond its overlap
    # must not make up for one that still lacks some.
    required, submitted, left, control_answers = session.execute(
        text(f"SELECT coalesce(sum(required_overlap) FILTER (WHERE status <> 'gold'), 0),"
             f" coalesce(sum(answer_count) FILTER (WHERE status <> 'gold'), 0),"
             f" coalesce(sum(required_overlap - answer_count)"
             f"   FILTER (WHERE status = 'open' AND required_overlap > answer_count), 0),"
             f" coalesce(sum(answer_count) FILTER (WHERE status = 'gold'), 0)"
             f" FROM tasks WHERE {scope}"), params).one()
    in_flight, active, recent = session.execute(
        text(f"SELECT "
             f" count(*) FILTER (WHERE status = 'leased' AND expires_at > :now),"
             f" count(DISTINCT worker_id) FILTER (WHERE (status = 'leased' AND expires_at > :now)"
             f"   OR submitted_at >= :since),"
             # The pace of the answers still needed: control answers are not among them.
             f" count(*) FILTER (WHERE submitted_at >= :since AND NOT is_gold)"
             f" FROM assignments WHERE {scope} AND (status = 'leased' OR submitted_at >= :since)")
        .bindparams(utc_param("now"), utc_param("since")),
        params).one()
    per_hour = recent * 3600 / PACE_WINDOW.total_seconds()
    remaining = int(left)
    eta = remaining / per_hour * 3600 if per_hour > 0 else (0.0 if remaining == 0 else None)
    return Progress(tasks_total=int(tasks_total), tasks_complete=int(tasks_complete), answers_required=int(required),
                    answers_submitted=int(submitted), answers_in_flight=int(in_flight), active_workers=int(active),
                    answers_per_hour=round(per_hour, 2), estimated_seconds_left=None if eta is None else round(eta, 1),
                    computed_at=now, project_id=project_id, batch_id=batch_id, control_tasks=int(control_tasks),
                    control_answers=int(control_answers))


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
