"""A worker's own assignments: its answers with the review decision and the reviewer's reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, text

from ..db import read_session
from ..errors import ValidationError
from ..models import ASSIGNMENT_STATUSES, REVIEW_STATUSES, Assignment, Project, Task
from ..models.assignments import WORKER_HISTORY_SQL
from .pagination import Page, decode_cursor, encode_cursor


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


def _position(assignment: Assignment) -> str:
    return encode_cursor(f"{assignment.leased_at.isoformat()} {assignment.id}")


def _decode_position(cursor: str | None) -> tuple[datetime, int] | None:
    """The (claim time, id) a cursor of this list stands for. Raises ValidationError for any other cursor."""
    value = decode_cursor(cursor, str)
    if value is None:
        return None
    try:
        moment, last_id = value.split(" ")
        position = datetime.fromisoformat(moment).astimezone(UTC), int(last_id)
        if not 0 <= position[1] < 2**63:
            raise ValueError(last_id)
        return position
    except (ValueError, OverflowError) as exc:
        raise ValidationError("cursor: not a cursor this server issued",
                              details={"fields": {"cursor": ["invalid cursor"]}}) from exc


def list_worker_assignments(*, worker_id: int | None, limit: int, cursor: str | None, status: str | None = None,
                            review_status: str | None = None, project_id: int | None = None) -> Page:
    """One worker's assignments, newest claim first (claim time, then id), a page at a time; filtered by the
    assignment's ``status``, the answer's ``review_status`` (which implies a submitted answer) and ``project_id``.

    ``worker_id`` None (a vendor's worker that never claimed anything) is an empty list. Only this
    worker's own rows are read, so a filter naming another tenant's project finds nothing rather than
    telling it exists. Raises ValidationError (a filter or cursor this server does not know).
    """
    _check("status", status, ASSIGNMENT_STATUSES)
    _check("review_status", review_status, REVIEW_STATUSES)
    after = _decode_position(cursor)
    if worker_id is None:
        return Page([], None)
    a = Assignment
    # The status list is true of every row: it lets the planner use ix_assignments_worker_history, which
    # gives this order itself. Ordered by id alone, PostgreSQL may walk the primary key backwards instead,
    # and for a busy worker whose work is old that reads the whole table.
    stmt = select(a).where(a.worker_id == worker_id, text(WORKER_HISTORY_SQL))
    if status is not None:
        stmt = stmt.where(a.status == status)
    if review_status is not None:
        stmt = stmt.where(a.status == "submitted", a.review_status == review_status)
    if project_id is not None:
        stmt = stmt.where(a.project_id == project_id)
    if after is not None:
        leased_at, last_id = after
        stmt = stmt.where(a.leased_at <= leased_at, or_(a.leased_at < leased_at, a.id < last_id))
    stmt = stmt.order_by(a.leased_at.desc(), a.id.desc()).limit(limit + 1)
    with read_session() as session:
        rows = list(session.scalars(stmt))
        page = Page(rows[:limit], _position(rows[limit - 1]) if len(rows) > limit else None)
        if not page.items:
            return page
        task_ids = {item.task_id for item in page.items}
        project_ids = {item.project_id for item in page.items}
        # Only the columns a worker may see: the gold answer stays in the database.
        tasks = {row.id: row for row in session.execute(
            select(Task.id, Task.external_id, Task.data).where(Task.id.in_(task_ids)))}
        names = dict(session.execute(select(Project.id, Project.name).where(Project.id.in_(project_ids))).all())
    page.items = [WorkerAssignment(item, names[item.project_id], tasks[item.task_id].external_id,
                                   tasks[item.task_id].data) for item in page.items]
    return page
