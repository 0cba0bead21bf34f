"""Quality control on the claim and submit paths: gold tasks, suspension, qualification.

Everything here runs inside the caller's transaction (the claim or the submit),
after the worker's or the task's row lock has been taken.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from ..db import is_postgres
from ..models import COUNTED_SQL, Assignment, AuditRecord, Event, Project, Worker, WorkerGroupMember, WorkerQuality
from ..models.base import utc_param
from ..questions import form_of
from . import budget, counting

QUALIFICATION_KEYS = ("min_gold_accuracy", "gold_projects", "worker_groups", "vendor_organizations")
_ASSIGNMENTS = Assignment.__table__


def uses_quality_control(project: Project) -> bool:
    """Whether claims in this project need the worker's standing (a cheap check first)."""
    return (bool(project.gold_ratio) or project.min_gold_accuracy is not None or bool(project.qualification)
            or bool(project.manual_suspensions))


def standing(session: Session, project_id: int, worker_id: int) -> WorkerQuality:
    """The worker's quality row in the project, created on first use."""
    row = session.scalar(select(WorkerQuality).where(WorkerQuality.worker_id == worker_id,
                                                     WorkerQuality.project_id == project_id))
    if row is None:
        row = WorkerQuality(worker_id=worker_id, project_id=project_id, claims=0, gold_claims=0, gold_answers=0,
                            gold_score=0.0)
        session.add(row)
        session.flush()
    return row


def refusal(session: Session, project: Project, worker_id: int, row: WorkerQuality) -> tuple[str, str] | None:
    """(reason, message) when the worker may not work on the project now; None when it may."""
    if row.suspended_at is not None:
        return "suspended", row.suspension_reason or "You are suspended from this project."
    rules = project.qualification or {}
    if not rules:
        return None
    worker = session.get(Worker, worker_id)
    vendors = rules.get("vendor_organizations")
    if vendors and worker.organization_id not in vendors:
        return "not_qualified", "This project is open to named vendor organizations only."
    groups = rules.get("worker_groups")
    if groups:
        member = session.scalar(select(WorkerGroupMember.id).where(
            WorkerGroupMember.organization_id == project.organization_id,
            WorkerGroupMember.group_name.in_(groups), WorkerGroupMember.worker_id == worker_id).limit(1))
        if member is None:
            return "not_qualified", f"This project is open to the groups {', '.join(groups)} only."
    minimum = rules.get("min_gold_accuracy")
    if minimum is not None:
        projects = rules.get("gold_projects") or []
        answers, score = session.execute(
            select(func.coalesce(func.sum(WorkerQuality.gold_answers), 0),
                   func.coalesce(func.sum(WorkerQuality.gold_score), 0.0))
            .where(WorkerQuality.worker_id == worker_id, WorkerQuality.project_id.in_(projects))).one()
        if not answers or score / answers < minimum:
            return "not_qualified", (f"This project needs a gold accuracy of {minimum:.0%} on earlier projects "
                                     f"(yours: {score / answers:.0%})." if answers else
                                     "This project needs gold accuracy earned on earlier projects.")
    return None


def wants_gold(project: Project, row: WorkerQuality) -> bool:
    """Serve a control task when the worker's share of them is below the project's gold ratio."""
    return bool(project.gold_ratio) and row.gold_claims < project.gold_ratio * (row.claims + 1)


def record_claim(session: Session, row: WorkerQuality, *, gold: bool) -> None:
    session.execute(update(WorkerQuality).where(WorkerQuality.id == row.id).values(
        claims=WorkerQuality.claims + 1, gold_claims=WorkerQuality.gold_claims + (1 if gold else 0)))


def suspension_reason(session: Session, project_id: int, worker_id: int) -> str | None:
    """Why the worker is suspended from the project, or None. Locks its standing row (PostgreSQL), so a
    suspension being written is waited for and seen, never raced."""
    row = session.execute(select(WorkerQuality.suspended_at, WorkerQuality.suspension_reason).where(
        WorkerQuality.worker_id == worker_id, WorkerQuality.project_id == project_id)
        .with_for_update(key_share=True)).first()
    if row is None or row.suspended_at is None:
        return None
    return row.suspension_reason or "You are suspended from this project."


_LEASED_TASKS = text("SELECT DISTINCT task_id FROM assignments WHERE project_id = :p AND worker_id = :w "
                     "AND status = 'leased'")
_END_LEASE = text(
    "UPDATE assignments SET status = 'released', ended_at = :now, release_reason = 'suspended' "
    "WHERE task_id = :t AND worker_id = :w AND status = 'leased' RETURNING reward_amount").bindparams(
    utc_param("now"))
_FREE_SLOTS = text(
    "UPDATE tasks SET leased_count = leased_count - :n, lease_deadline = "
    "(SELECT min(expires_at) FROM assignments WHERE task_id = :t AND status = 'leased') WHERE id = :t")


def end_leases(session: Session, project_id: int, worker_id: int, *, now: datetime, skip_locked: bool) -> int:
    """End a suspended worker's live leases in the project; their slots go back to the pool at once.

    With ``skip_locked`` (the caller already holds a task or standing lock) leases whose task another
    transaction holds are left for ``workforce.settle_suspension``; their submits are refused meanwhile.
    Returns how many leases ended.
    """
    task_ids = list(session.execute(_LEASED_TASKS, {"p": project_id, "w": worker_id}).scalars())
    if not task_ids:
        return 0
    if is_postgres(session):
        task_ids = list(session.execute(text(
            "SELECT id FROM tasks WHERE id IN :ids ORDER BY id FOR NO KEY UPDATE"
            + (" SKIP LOCKED" if skip_locked else "")).bindparams(bindparam("ids", expanding=True)),
            {"ids": task_ids}).scalars())
    ended, refund = 0, 0
    for task_id in sorted(task_ids):
        rewards = session.execute(_END_LEASE, {"t": task_id, "w": worker_id, "now": now}).scalars().all()
        if rewards:
            session.execute(_FREE_SLOTS, {"n": len(rewards), "t": task_id})
            ended += len(rewards)
            refund += sum(rewards)
    budget.uncommit(session, project_id, refund)
    return ended


def score_gold_answer(session: Session, project: Project, *, worker_id: int, answer: dict, gold: dict,
                      now: datetime) -> tuple[float, bool]:
    """Score a control answer, update the worker's accuracy and apply the suspension rule.

    Returns the score and whether this answer got the worker suspended."""
    score = form_of(project).gold_score(answer, gold, project.rating_tolerance)
    row = session.scalar(select(WorkerQuality).where(WorkerQuality.worker_id == worker_id,
                                                     WorkerQuality.project_id == project.id)
                         .with_for_update(key_share=True))
    if row is None:
        row = standing(session, project.id, worker_id)
    row.gold_answers += 1
    row.gold_score += score
    if (project.min_gold_accuracy is not None and row.suspended_at is None
            and row.gold_answers >= project.min_gold_answers and row.gold_accuracy < project.min_gold_accuracy):
        _suspend(session, project, row, now)
        return score, True
    return score, False


def _suspend(session: Session, project: Project, row: WorkerQuality, now: datetime) -> None:
    accuracy = row.gold_accuracy
    reason = (f"Gold accuracy {accuracy:.0%} over {row.gold_answers} control tasks is below "
              f"the project's minimum of {project.min_gold_accuracy:.0%}.")
    suspend(session, project, row, reason=reason, actor="system:gold-rule", now=now,
            details={"gold_accuracy": accuracy, "gold_answers": row.gold_answers,
                     "min_gold_accuracy": project.min_gold_accuracy})


def suspend(session: Session, project: Project, row: WorkerQuality, *, reason: str, actor: str, now: datetime,
            details: dict[str, Any] | None = None) -> None:
    """Stop a worker claiming in the project: its live leases end (their slots free), its answers
    are flagged (left out of agreement and consensus), an audit record and a worker.suspended event
    are written. The caller then runs ``workforce.settle_suspension`` after the commit: it recounts
    the tasks those answers leave (they go back to the pool) and, with the project's rule, rejects
    the pending ones. That part takes the tasks' locks, which a submit holding a control task's lock
    must not wait for."""
    # The caller holds a task or project lock already: take other tasks' locks only when free.
    end_leases(session, project.id, row.worker_id, now=now, skip_locked=True)
    row.suspended_at = now
    row.suspension_reason = reason
    session.execute(update(_ASSIGNMENTS).where(
        _ASSIGNMENTS.c.project_id == project.id, _ASSIGNMENTS.c.worker_id == row.worker_id,
        _ASSIGNMENTS.c.status == "submitted").values(flagged=True))
    details = {"reason": reason, **(details or {})}
    session.add(AuditRecord(kind="worker.suspended", organization_id=project.organization_id,
                            project_id=project.id, worker_id=row.worker_id, actor=actor,
                            details=details, created_at=now))
    session.execute(insert(Event.__table__).values(kind="worker.suspended", project_id=project.id,
                                                   payload={"worker_id": row.worker_id, **details}, created_at=now))


def lift(session: Session, project: Project, *, worker_id: int, actor: str, now: datetime) -> WorkerQuality | None:
    """Lift a suspension: the worker starts afresh on gold, its answers count again."""
    row = session.scalar(select(WorkerQuality).where(WorkerQuality.worker_id == worker_id,
                                                     WorkerQuality.project_id == project.id)
                         .with_for_update(key_share=True))
    if row is None or row.suspended_at is None:
        return row
    details = {"gold_accuracy": row.gold_accuracy, "gold_answers": row.gold_answers,
               "suspended_at": row.suspended_at.isoformat()}
    row.suspended_at = None
    row.suspension_reason = None
    row.gold_answers, row.gold_score = 0, 0.0
    # Its answers count again: their tasks are recounted (a reopened task may complete again).
    answered = (_ASSIGNMENTS.c.project_id == project.id) & (_ASSIGNMENTS.c.worker_id == worker_id) & (
        _ASSIGNMENTS.c.flagged.is_(True))
    task_ids = counting.lock_tasks(session, counting.task_ids_where(session, answered))
    session.execute(update(_ASSIGNMENTS).where(
        _ASSIGNMENTS.c.project_id == project.id, _ASSIGNMENTS.c.worker_id == worker_id).values(flagged=False))
    counting.recount(session, project, task_ids, now=now)
    session.add(AuditRecord(kind="worker.suspension_lifted", organization_id=project.organization_id,
                            project_id=project.id, worker_id=worker_id, actor=actor, details=details,
                            created_at=now))
    return row


def task_answers(session: Session, task_id: int) -> list[dict[str, Any]]:
    """Answers that count for a task (submitted, not from a suspended worker, not rejected)."""
    return list(session.execute(text(
        f"SELECT answer FROM assignments WHERE task_id = :t AND {COUNTED_SQL} ORDER BY id")
        .columns(answer=_ASSIGNMENTS.c.answer.type), {"t": task_id}).scalars())

