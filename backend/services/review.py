"""Review of submitted answers: pending, then approved (and paid) or rejected (with a reason).

Every decision is one conditional ``UPDATE`` of the assignment row(s) from the
state it must leave, so of two concurrent decisions on the same answer exactly
one happens; the earning of an approval is written in the same transaction, and
its unique ledger reference refuses a second one. An approval stands (later
corrections are adjustments); a rejection may become an approval within the
project's window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, select, update
from sqlalchemy.orm import Session

from ..db import read_session, unit_of_work
from ..errors import Conflict, ValidationError
from ..models import Assignment, Project, Task, Worker, utcnow
from ..questions import form_of
from . import budget, counting, idempotency, ledger
from .access import Principal, ensure_manage, managed_row
from .pagination import Page, decode_cursor, encode_cursor

_A = Assignment.__table__
BULK_CHUNK = 1000
# An answer "agrees with consensus" when it scores at least this against it, with the gold scorer.
CONSENSUS_AGREEMENT = 0.5


@dataclass
class Decision:
    assignment: Assignment
    replayed: bool = False


def _returning():
    return (_A.c.id, _A.c.worker_id, _A.c.reward_amount, _A.c.reward_currency)


def approve_where(session: Session, project: Project, condition, *, actor: str, now: datetime) -> int:
    """Approve pending answers matching ``condition`` and post their earnings. Returns how many."""
    rows = session.execute(update(_A).where(
        _A.c.project_id == project.id, _A.c.status == "submitted", _A.c.review_status == "pending", condition)
        .values(review_status="approved", reviewed_at=now, reviewed_by=actor, review_reason=None)
        .returning(*_returning())).all()
    ledger.post_earnings(session, rows, organization_id=project.organization_id, project_id=project.id,
                         actor=actor, now=now)
    return len(rows)


def reject_where(session: Session, project: Project, condition, *, reason: str, actor: str,
                 now: datetime) -> int:
    """Reject pending answers matching ``condition``. Returns how many.

    Their committed budget is freed, and they stop counting: control answers leave their workers'
    gold accuracy, and the tasks of the others are recounted (a complete task below its overlap goes
    back to the pool; stored consensus is recomputed). Tasks are locked first, in id order and in
    chunks, as the distribution engine locks them; an answer submitted meanwhile to a task not yet
    locked is left for the next decision.
    """
    pending = and_(_A.c.project_id == project.id, _A.c.status == "submitted", _A.c.review_status == "pending",
                   condition)
    total = 0
    for chunk in counting.chunks(counting.task_ids_where(session, pending)):
        counting.lock_tasks(session, chunk)
        rows = session.execute(update(_A).where(pending, _A.c.task_id.in_(chunk))
                               .values(review_status="rejected", reviewed_at=now, reviewed_by=actor,
                                       review_reason=reason[:500])
                               .returning(*_returning(), _A.c.task_id, _A.c.is_gold, _A.c.gold_score)).all()
        budget.uncommit(session, project.id, sum(r.reward_amount for r in rows))
        counting.adjust_gold(session, project.id, rows, sign=-1)
        counting.recount(session, project, {r.task_id for r in rows if not r.is_gold}, now=now)
        total += len(rows)
    return total


def _check_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("reason: say why, the worker reads it", details={"fields": {"reason": ["required"]}})
    return reason


def decide(*, principal: Principal, assignment_id: int, approve: bool, reason: str | None = None,
           request: idempotency.RequestKey | None = None) -> Decision:
    """Approve or reject one answer (a manager of its project).

    Approving an approved answer or rejecting a rejected one changes nothing. A
    rejection within the project's window may be turned into an approval.
    Raises NotFound, Forbidden, ValidationError (no reason for a rejection), and
    Conflict: not submitted, an approval stands, the window has closed, or the
    budget cannot take a reversed rejection.
    """
    principal.require_scope("payments:write")
    if not approve:
        reason = _check_reason(reason)
    now = utcnow()
    with unit_of_work() as session:
        assignment = managed_row(session, principal, Assignment, assignment_id, "Assignment")
        prior = idempotency.reserve(session, request)
        if prior is not None:
            return Decision(session.get(Assignment, assignment_id, populate_existing=True), replayed=True)
        project = session.get(Project, assignment.project_id)
        by_id = _A.c.id == assignment_id
        if approve:
            done = approve_where(session, project, by_id, actor=principal.actor, now=now)
            if not done:
                done = _reverse_rejection(session, project, assignment_id, actor=principal.actor, now=now)
        else:
            done = reject_where(session, project, by_id, reason=reason, actor=principal.actor, now=now)
        current = session.get(Assignment, assignment_id, populate_existing=True)
        if not done:
            wanted = "approved" if approve else "rejected"
            if current.status != "submitted":
                raise Conflict(f"Assignment {assignment_id} has no answer to review ({current.status}).",
                               code="not_submitted")
            if current.review_status != wanted:
                if approve:
                    raise Conflict(f"The rejection of assignment {assignment_id} can no longer be reversed "
                                   f"(after {project.rejection_window_hours} h).", code="rejection_final")
                raise Conflict(f"Assignment {assignment_id} is approved; an approval stands. Correct the balance "
                               "with an adjustment.", code="approval_stands")
        idempotency.remember(session, request, {"assignment_id": assignment_id})
        return Decision(current)


def _reverse_rejection(session: Session, project: Project, assignment_id: int, *, actor: str, now: datetime) -> int:
    """Turn a rejection within the window into an approval: paid, and counting again (its task recounted)."""
    window = now - timedelta(hours=project.rejection_window_hours)
    task_id = session.scalar(select(_A.c.task_id).where(_A.c.id == assignment_id))
    counting.lock_tasks(session, [task_id])
    row = session.execute(select(*_returning(), _A.c.task_id, _A.c.is_gold, _A.c.gold_score).where(
        _A.c.id == assignment_id, _A.c.status == "submitted", _A.c.review_status == "rejected",
        _A.c.reviewed_at > window).with_for_update()).first()
    if row is None:
        return 0
    if project.budget_amount is not None and not budget.try_commit(session, project.id, row.reward_amount):
        raise Conflict("Approving this answer would overrun the project's budget.", code="budget_exhausted")
    rows = session.execute(update(_A).where(_A.c.id == assignment_id, _A.c.review_status == "rejected")
                           .values(review_status="approved", reviewed_at=now, reviewed_by=actor, review_reason=None)
                           .returning(*_returning())).all()
    ledger.post_earnings(session, rows, organization_id=project.organization_id, project_id=project.id,
                         actor=actor, now=now)
    counting.adjust_gold(session, project.id, [row], sign=1)
    if not row.is_gold:
        counting.recount(session, project, [row.task_id], now=now)
    return len(rows)


def _bulk_condition(project_id: int, *, batch_id: int | None, worker_id: int | None,
                    assignment_ids: list[int] | None, submitted_before: datetime | None, gold: bool | None):
    clauses = []
    if batch_id is not None:
        clauses.append(_A.c.batch_id == batch_id)
    if worker_id is not None:
        clauses.append(_A.c.worker_id == worker_id)
    if assignment_ids:
        clauses.append(_A.c.id.in_(assignment_ids))
    if submitted_before is not None:
        clauses.append(_A.c.submitted_at < submitted_before)
    if gold is not None:
        clauses.append(_A.c.is_gold.is_(gold))
    return and_(_A.c.project_id == project_id, *clauses)


def review_in_bulk(*, principal: Principal, project_id: int, action: str, reason: str | None = None,
                   batch_id: int | None = None, worker_id: int | None = None,
                   assignment_ids: list[int] | None = None, submitted_before: datetime | None = None,
                   gold: bool | None = None, request: idempotency.RequestKey | None = None) -> dict[str, Any]:
    """Approve or reject every pending answer of a project matching the filters, in one transaction.

    Returns ``{"approved"|"rejected": n, "replayed": bool}``. Raises NotFound, Forbidden, ValidationError.
    """
    principal.require_scope("payments:write")
    if action not in ("approve", "reject"):
        raise ValidationError("action: approve or reject", details={"fields": {"action": ["approve or reject"]}})
    if action == "reject":
        reason = _check_reason(reason)
    condition = _bulk_condition(project_id, batch_id=batch_id, worker_id=worker_id, assignment_ids=assignment_ids,
                                submitted_before=submitted_before, gold=gold)
    now = utcnow()
    key = "approved" if action == "approve" else "rejected"
    with unit_of_work() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        prior = idempotency.reserve(session, request)
        if prior is not None:
            return {**prior, "replayed": True}
        if action == "approve":
            count = approve_where(session, project, condition, actor=principal.actor, now=now)
        else:
            count = reject_where(session, project, condition, reason=reason, actor=principal.actor, now=now)
        result = {key: count}
        idempotency.remember(session, request, result)
        return {**result, "replayed": False}


def auto_approve_due(*, now: datetime | None = None) -> int:
    """Approve answers pending longer than their project's ``auto_approve_hours`` (periodic)."""
    now = now or utcnow()
    with read_session() as session:
        projects = session.execute(select(Project.id, Project.auto_approve_hours).where(
            Project.auto_approve_hours.is_not(None), Project.status != "archived")).all()
    total = 0
    for project_id, hours in projects:
        cutoff = now - timedelta(hours=hours)
        while True:
            with unit_of_work() as session:
                project = session.get(Project, project_id)
                chunk = select(_A.c.id).where(_A.c.project_id == project_id, _A.c.review_status == "pending",
                                              _A.c.submitted_at <= cutoff).limit(BULK_CHUNK).scalar_subquery()
                done = approve_where(session, project, _A.c.id.in_(chunk),
                                     actor=f"system:auto-approve-{hours}h", now=now)
            total += done
            if done < BULK_CHUNK:
                break
    return total


def approve_agreeing(session: Session, project: Project, results: list[dict[str, Any]], *, now: datetime) -> int:
    """Approve pending answers that agree with freshly computed consensus (in the consensus transaction)."""
    consensus = {r["task_id"]: r["answer"] for r in results if not r.get("flagged")}
    approved = 0
    form = form_of(project)
    task_ids = sorted(consensus)
    for start in range(0, len(task_ids), BULK_CHUNK):
        chunk = task_ids[start:start + BULK_CHUNK]
        rows = session.execute(select(_A.c.id, _A.c.task_id, _A.c.answer).where(
            _A.c.task_id.in_(chunk), _A.c.review_status == "pending", _A.c.flagged.is_(False))).all()
        agreeing = [r.id for r in rows
                    if form.gold_score(r.answer, consensus[r.task_id], project.rating_tolerance) >= CONSENSUS_AGREEMENT]
        if agreeing:
            approved += approve_where(session, project, _A.c.id.in_(agreeing), actor="system:consensus", now=now)
    return approved


def reject_for_suspension(session: Session, project: Project, *, worker_id: int, reason: str, now: datetime) -> int:
    """Reject a suspended worker's pending answers in the project (when the project asks for it)."""
    if not project.auto_reject_suspended:
        return 0
    return reject_where(session, project, _A.c.worker_id == worker_id, reason=reason, actor="system:gold-rule",
                        now=now)


def _queue_query(project_id: int, *, review_status: str | None, batch_id: int | None, worker_id: int | None,
                 gold: bool | None) -> Select:
    stmt = (select(Assignment, Task.external_id, Task.data, Worker.external_id.label("worker_external_id"))
            .join(Task, Task.id == Assignment.task_id).join(Worker, Worker.id == Assignment.worker_id)
            .where(Assignment.project_id == project_id, Assignment.status == "submitted"))
    if review_status:
        stmt = stmt.where(Assignment.review_status == review_status)
    if batch_id is not None:
        stmt = stmt.where(Assignment.batch_id == batch_id)
    if worker_id is not None:
        stmt = stmt.where(Assignment.worker_id == worker_id)
    if gold is not None:
        stmt = stmt.where(Assignment.is_gold.is_(gold))
    return stmt


def list_answers(*, principal: Principal, project_id: int, limit: int, cursor: str | None,
                 review_status: str | None = "pending", batch_id: int | None = None, worker_id: int | None = None,
                 gold: bool | None = None) -> Page:
    """The review queue: submitted answers of a project with their task, oldest first. Raises NotFound, Forbidden."""
    with read_session() as session:
        ensure_manage(principal, session.get(Project, project_id), project_id)
        stmt = _queue_query(project_id, review_status=review_status, batch_id=batch_id, worker_id=worker_id,
                            gold=gold)
        after = decode_cursor(cursor, int)
        if after is not None:
            stmt = stmt.where(Assignment.id > after)
        rows = session.execute(stmt.order_by(Assignment.id).limit(limit + 1)).all()
    items = [{"assignment": r.Assignment, "task_external_id": r.external_id, "task_data": r.data,
              "worker_external_id": r.worker_external_id} for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1].Assignment.id) if len(rows) > limit else None
    return Page(items, next_cursor)

