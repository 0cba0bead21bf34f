"""Managers' view of the workforce: standing per project, suspensions, worker groups."""

from __future__ import annotations

from sqlalchemy import and_, delete, or_, select, update

from ..db import read_session, unit_of_work
from ..errors import NotFound, ValidationError
from ..models import Assignment, Project, Worker, WorkerGroupMember, WorkerQuality, utcnow
from . import counting, quality, review
from .access import Principal, ensure_manage
from .pagination import Page, paginate


def list_standings(*, principal: Principal, project_id: int, limit: int, cursor: str | None,
                   suspended: bool | None = None) -> Page:
    """Workers' gold results and suspensions in a project. Raises NotFound or Forbidden."""
    principal.require_scope("projects:read")
    with read_session() as session:
        ensure_manage(principal, session.get(Project, project_id), project_id)
        stmt = select(WorkerQuality).where(WorkerQuality.project_id == project_id)
        if suspended is not None:
            stmt = stmt.where(WorkerQuality.suspended_at.is_not(None) if suspended
                              else WorkerQuality.suspended_at.is_(None))
        return paginate(session, stmt, WorkerQuality.id, limit=limit, cursor=cursor)


def lift_suspension(*, principal: Principal, project_id: int, worker_id: int) -> WorkerQuality:
    """Let a suspended worker back into the project. Raises NotFound (no such standing) or Forbidden."""
    principal.require_scope("projects:write")
    with unit_of_work() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        row = quality.lift(session, project, worker_id=worker_id, actor=principal.actor, now=utcnow())
        if row is None:
            raise NotFound(f"Worker {worker_id} has no standing in project {project_id}.")
        return row


def suspend_worker(*, principal: Principal, project_id: int, worker_id: int, reason: str) -> WorkerQuality:
    """Suspend a worker from a project by hand (its answers stop counting, it cannot claim).

    Suspending a suspended worker changes nothing. Raises NotFound (project, or a worker who never
    worked on it), Forbidden, ValidationError (no reason).
    """
    principal.require_scope("projects:write")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("reason: say why", details={"fields": {"reason": ["required"]}})
    with unit_of_work() as session:
        project = ensure_manage(principal, session.get(Project, project_id, with_for_update={"key_share": True}),
                                project_id)
        worked = session.scalar(select(Assignment.id).where(Assignment.project_id == project_id,
                                                            Assignment.worker_id == worker_id).limit(1))
        if worked is None:
            raise NotFound(f"Worker {worker_id} has not worked on project {project_id}.")
        row = quality.standing(session, project_id, worker_id)
        if row.suspended_at is None:
            project.manual_suspensions += 1
            quality.suspend(session, project, row, reason=reason[:500], actor=principal.actor, now=utcnow())
    settle_suspension(project_id=project_id, worker_id=worker_id)
    return row


def settle_suspension(*, project_id: int, worker_id: int) -> int:
    """Finish a committed suspension: end the leases it could not lock at once, leave out of
    agreement, consensus and pay any answer that raced it, recount the tasks its answers leave (they
    go back to the pool for replacements) and, with the project's rule, reject its pending answers.
    Safe to run twice. Returns leases ended."""
    now = utcnow()
    with unit_of_work() as session:
        row = session.scalar(select(WorkerQuality).where(WorkerQuality.worker_id == worker_id,
                                                         WorkerQuality.project_id == project_id))
        if row is None or row.suspended_at is None:
            return 0
        project = session.get(Project, project_id)
        # Task locks first, in id order (as on the submit path); a submit holding one finishes first.
        mine = (Assignment.project_id == project_id) & (Assignment.worker_id == worker_id) & (
            Assignment.status.in_(("leased", "submitted")))
        task_ids = counting.lock_tasks(session, counting.task_ids_where(session, mine))
        ended = quality.end_leases(session, project_id, worker_id, now=now, skip_locked=False)
        session.execute(update(Assignment).where(
            Assignment.project_id == project_id, Assignment.worker_id == worker_id,
            Assignment.status == "submitted", Assignment.flagged.is_(False)).values(flagged=True))
        review.reject_for_suspension(session, project, worker_id=worker_id,
                                     reason=row.suspension_reason or "suspended", now=now)
        counting.recount(session, project, task_ids, now=now)
        row.settled_at = now
        return ended


def settle_due_suspensions() -> int:
    """Settle suspensions whose follow-up never completed (periodic): a process killed between a
    suspension's commit and its settling left tasks counted with the suspended worker's answers."""
    with read_session() as session:
        due = session.execute(select(WorkerQuality.project_id, WorkerQuality.worker_id).where(
            WorkerQuality.suspended_at.is_not(None),
            or_(WorkerQuality.settled_at.is_(None), WorkerQuality.settled_at < WorkerQuality.suspended_at))
            .limit(100)).all()
    for project_id, worker_id in due:
        settle_suspension(project_id=project_id, worker_id=worker_id)
    return len(due)


# The column's width (worker_group_members.group_name); project qualification lists use the same bound.
GROUP_NAME_MAX = 100


def set_group(*, principal: Principal, name: str, worker_ids: list[int]) -> list[int]:
    """Replace the members of the organization's named group. Raises ValidationError for unknown workers.

    A worker is known to the organization when it is a crowd annotator (no organization), the
    organization's own, or has worked on its projects. Another tenant's worker is as unknown as an id
    that does not exist, so the answer tells nothing about other organizations.
    """
    principal.require_scope("projects:write")
    organization_id = principal.require_organization("Worker groups")
    if not 1 <= len(name) <= GROUP_NAME_MAX or "\x00" in name:
        raise ValidationError(f"name: 1 to {GROUP_NAME_MAX} characters, no NUL",
                              details={"fields": {"name": [f"1 to {GROUP_NAME_MAX} characters, no NUL"]}})
    wanted = sorted(set(worker_ids))
    with unit_of_work() as session:
        worked_here = (select(Assignment.worker_id).join(Project, Project.id == Assignment.project_id)
                       .where(Project.organization_id == organization_id, Assignment.worker_id.in_(wanted)))
        known = set(session.scalars(select(Worker.id).where(Worker.id.in_(wanted), or_(
            and_(Worker.organization_id.is_(None), Worker.user_id.is_not(None)),
            Worker.organization_id == organization_id, Worker.id.in_(worked_here)))))
        missing = [w for w in wanted if w not in known]
        if missing:
            raise ValidationError(f"worker_ids: unknown workers {missing[:10]}",
                                  details={"fields": {"worker_ids": [f"unknown: {missing[:10]}"]}})
        session.execute(delete(WorkerGroupMember).where(WorkerGroupMember.organization_id == organization_id,
                                                        WorkerGroupMember.group_name == name))
        session.add_all(WorkerGroupMember(organization_id=organization_id, group_name=name, worker_id=w)
                        for w in wanted)
    return wanted


def get_group(*, principal: Principal, name: str) -> list[int]:
    """The members of one of the organization's groups (empty when it has none)."""
    principal.require_scope("projects:write")
    organization_id = principal.require_organization("Worker groups")
    with read_session() as session:
        return list(session.scalars(select(WorkerGroupMember.worker_id).where(
            WorkerGroupMember.organization_id == organization_id, WorkerGroupMember.group_name == name)
            .order_by(WorkerGroupMember.worker_id)))
