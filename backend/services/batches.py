"""Batches and the tasks inside them, as managers see them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..db import read_session, unit_of_work
from ..models import Assignment, Batch, Project, Task
from ..questions import form_of
from . import consensus
from .access import Principal, ensure_manage, managed_row
from .pagination import Page, paginate


def managed_batch(session, principal: Principal, batch_id: int, *, lock: bool = False) -> Batch:
    """A batch of a project the caller manages, in ``session``. Raises NotFound (others' batches too)."""
    return managed_row(session, principal, Batch, batch_id, "Batch", lock=lock)


def list_batches(*, principal: Principal, project_id: int, limit: int, cursor: str | None,
                 status: str | None = None) -> Page:
    """A project's batches in creation order. Raises NotFound or Forbidden."""
    principal.require_scope("projects:read")
    with read_session() as session:
        ensure_manage(principal, session.get(Project, project_id), project_id)
        stmt = select(Batch).where(Batch.project_id == project_id)
        if status:
            stmt = stmt.where(Batch.status == status)
        return paginate(session, stmt, Batch.id, limit=limit, cursor=cursor)


def get_batch(*, principal: Principal, batch_id: int) -> Batch:
    """One batch of a project the caller manages. Raises NotFound or Forbidden."""
    principal.require_scope("projects:read")
    with read_session() as session:
        return managed_batch(session, principal, batch_id)


def update_batch(*, principal: Principal, batch_id: int, fields: dict[str, Any]) -> Batch:
    """Change a batch's priority or reward, or pause and resume it. Raises NotFound or Forbidden.

    A new reward applies to claims from now on; work already claimed keeps its rate.
    """
    principal.require_scope("projects:write")
    if "reward_amount" in fields:
        principal.require_scope("payments:write")
    with unit_of_work() as session:
        batch = managed_batch(session, principal, batch_id, lock=True)
        for key in ("priority", "status", "reward_amount"):
            if key in fields:
                setattr(batch, key, fields[key])
    return batch


def list_batch_tasks(*, principal: Principal, batch_id: int, limit: int, cursor: str | None) -> Page:
    """A batch's tasks in order. Raises NotFound or Forbidden."""
    principal.require_scope("projects:read")
    with read_session() as session:
        managed_batch(session, principal, batch_id)
        return paginate(session, select(Task).where(Task.batch_id == batch_id), Task.id,
                        limit=limit, cursor=cursor)


def get_task(*, principal: Principal, task_id: int) -> Task:
    """A task of a project the caller manages. Raises NotFound or Forbidden."""
    principal.require_scope("projects:read")
    with read_session() as session:
        return managed_row(session, principal, Task, task_id, "Task")


def list_project_tasks(*, principal: Principal, project_id: int, limit: int, cursor: str | None,
                       flagged: bool | None = None, status: str | None = None, batch_id: int | None = None) -> Page:
    """A project's tasks, filtered (flagged for review, status, batch). Raises NotFound or Forbidden."""
    principal.require_scope("projects:read")
    with read_session() as session:
        ensure_manage(principal, session.get(Project, project_id), project_id)
        stmt = select(Task).where(Task.project_id == project_id)
        if flagged is not None:
            stmt = stmt.where(Task.flagged.is_(flagged))
        if status:
            stmt = stmt.where(Task.status == status)
        if batch_id is not None:
            stmt = stmt.where(Task.batch_id == batch_id)
        return paginate(session, stmt, Task.id, limit=limit, cursor=cursor)


def get_task_detail(*, principal: Principal, task_id: int) -> Task:
    """A task with its submitted answers and its agreement. Raises NotFound or Forbidden."""
    task = get_task(principal=principal, task_id=task_id)
    with read_session() as session:
        project = session.get(Project, task.project_id)
        task.answers = list(session.scalars(
            select(Assignment).where(Assignment.task_id == task_id, Assignment.status == "submitted")
            .order_by(Assignment.submitted_at, Assignment.id)))
    if task.agreement is None:
        counted = [a.answer for a in task.answers if not a.flagged]
        task.agreement = form_of(project).task_agreement(counted)
    task.consensus = consensus.task_consensus(task_id=task_id)
    return task
