"""A worker's own assignments: its answers with the review decision and the reviewer's reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..db import read_session
from ..errors import ValidationError
from ..models import ASSIGNMENT_STATUSES, REVIEW_STATUSES, Assignment, Project, Task
from .pagination import Page, decode_cursor, paginate


@dataclass
class WorkerAssignment:
    """An assignment with what its worker may see of the task and project (never the gold answer)."""

    assignment: Assignment
    project_name: str
    task_external_id: str | None
    task_data: dict[str, Any]


def _check(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise ValidationError(f"{name}: one of {', '.join(allowed)}",
                              details={"fields": {name: [f"one of {', '.join(allowed)}"]}})


def list_worker_assignments(*, worker_id: int | None, limit: int, cursor: str | None, status: str | None = None,
                            review_status: str | None = None, project_id: int | None = None) -> Page:
    """One worker's assignments, newest claim first, a page at a time; filtered by the assignment's
    ``status``, the answer's ``review_status`` (which implies a submitted answer) and ``project_id``.

    ``worker_id`` None (a vendor's worker that never claimed anything) is an empty list. Only this
    worker's own rows are read, so a filter naming another tenant's project finds nothing rather than
    telling it exists. Raises ValidationError (a filter or cursor this server does not know).
    """
    _check("status", status, ASSIGNMENT_STATUSES)
    _check("review_status", review_status, REVIEW_STATUSES)
    decode_cursor(cursor, int)
    if worker_id is None:
        return Page([], None)
    stmt = select(Assignment).where(Assignment.worker_id == worker_id)
    if status is not None:
        stmt = stmt.where(Assignment.status == status)
    if review_status is not None:
        stmt = stmt.where(Assignment.status == "submitted", Assignment.review_status == review_status)
    if project_id is not None:
        stmt = stmt.where(Assignment.project_id == project_id)
    with read_session() as session:
        page = paginate(session, stmt, Assignment.id, limit=limit, cursor=cursor, newest_first=True)
        if not page.items:
            return page
        task_ids = {a.task_id for a in page.items}
        project_ids = {a.project_id for a in page.items}
        # Only the columns a worker may see: the gold answer stays in the database.
        tasks = {row.id: row for row in session.execute(
            select(Task.id, Task.external_id, Task.data).where(Task.id.in_(task_ids)))}
        names = dict(session.execute(select(Project.id, Project.name).where(Project.id.in_(project_ids))).all())
    page.items = [WorkerAssignment(a, names[a.project_id], tasks[a.task_id].external_id, tasks[a.task_id].data)
                  for a in page.items]
    return page
