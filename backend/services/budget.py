"""A project's budget for answer rewards: what is committed, what is spent, what finishing will cost.

While a budget is set, ``projects.committed_amount`` holds the rewards of live
leases plus submitted answers not rejected. Every change to it is a conditional
``UPDATE`` of the project row, so concurrent claims cannot together pass the
budget: the row lock orders them and each re-checks the sum. Claims read the
budget under a key-share lock, and setting a budget takes the row exclusively
before recomputing the sum, so no claim slips between the two. The counter can
only err high (a lease expiring while the budget is being set), never low.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ..db import read_session
from ..models import Assignment, Batch, LedgerEntry, Project, Task, utcnow
from .access import Principal, ensure_manage

_PROJECTS = Project.__table__


def try_commit(session: Session, project_id: int, amount: int, *, unbudgeted: bool = False) -> bool:
    """Commit ``amount`` more of the budget; False (and nothing changed) when it would be overrun.

    ``unbudgeted``: the caller does not know whether the project has a budget; one without is True.
    """
    if not amount:
        return True
    if session.execute(
            update(_PROJECTS).where(_PROJECTS.c.id == project_id, _PROJECTS.c.budget_amount.is_not(None),
                                    _PROJECTS.c.committed_amount + amount <= _PROJECTS.c.budget_amount)
            .values(committed_amount=_PROJECTS.c.committed_amount + amount)).rowcount == 1:
        return True
    return unbudgeted and session.scalar(select(_PROJECTS.c.budget_amount).where(_PROJECTS.c.id == project_id)) is None


def uncommit(session: Session, project_id: int, amount: int) -> None:
    """Give back committed budget (a lease ended unanswered, an answer was rejected)."""
    if amount:
        session.execute(update(_PROJECTS).where(_PROJECTS.c.id == project_id, _PROJECTS.c.budget_amount.is_not(None))
                        .values(committed_amount=_PROJECTS.c.committed_amount - amount))


def committed_sum(session: Session, project_id: int) -> int:
    """Rewards of leases not yet ended and of submitted answers not rejected, from the assignments."""
    return int(session.scalar(select(func.coalesce(func.sum(Assignment.reward_amount), 0)).where(
        Assignment.project_id == project_id,
        or_(Assignment.status == "leased",
            and_(Assignment.status == "submitted", Assignment.review_status != "rejected")))) or 0)


def recount(session: Session, project: Project) -> None:
    """Start counting against a new budget. The caller holds the project row exclusively."""
    project.committed_amount = committed_sum(session, project.id)


def project_cost(*, principal: Principal, project_id: int) -> dict[str, Any]:
    """Spent, committed and forecast cost of a project in its reward currency. Raises NotFound, Forbidden."""
    principal.require_scope("payments:read")
    now = utcnow()
    with read_session() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        currency = project.reward_currency
        a = Assignment
        counts = session.execute(select(
            func.coalesce(func.sum(a.reward_amount).filter(a.review_status == "approved"), 0),
            func.coalesce(func.sum(a.reward_amount).filter(a.review_status == "pending"), 0),
            func.coalesce(func.sum(a.reward_amount).filter(a.status == "leased", a.expires_at > now), 0),
            func.count().filter(a.review_status == "approved"),
            func.count().filter(a.review_status == "rejected"),
            func.count().filter(a.submitted_at >= now - timedelta(hours=24)),
            func.min(a.submitted_at).filter(a.submitted_at >= now - timedelta(hours=24)),
        ).where(a.project_id == project_id, a.reward_currency == currency)).one()
        approved, pending, in_flight, n_approved, n_rejected, recent, first_recent = counts
        extras = dict(session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.amount))
            .where(LedgerEntry.project_id == project_id, LedgerEntry.currency == currency,
                   LedgerEntry.kind.in_(("bonus", "adjustment"))).group_by(LedgerEntry.kind)).all())
        # Answers still needed, per batch (a rush batch may pay its own rate); control tasks excluded.
        remaining = session.execute(
            select(Batch.reward_amount, func.coalesce(func.sum(Task.required_overlap - Task.answer_count), 0))
            .join(Batch, Batch.id == Task.batch_id)
            .where(Task.project_id == project_id, Task.status == "open").group_by(Batch.reward_amount)).all()
        committed = project.committed_amount if project.budget_amount is not None else \
            committed_sum(session, project_id)
    reviewed = n_approved + n_rejected
    rejection_rate = n_rejected / reviewed if reviewed else 0.0
    answers_left = int(sum(n for _rate, n in remaining))
    to_finish = sum(int(n) * (project.reward_amount if rate is None else rate) for rate, n in remaining)
    bonuses = int(extras.get("bonus") or 0) + int(extras.get("adjustment") or 0)
    spent = int(approved) + bonuses
    # Rejected answers are not paid: expect the same share of what is pending and still to come to be refused.
    forecast = spent + round((int(pending) + int(in_flight) + to_finish) * (1 - rejection_rate))
    pace = None
    eta = None
    if recent and first_recent is not None:
        hours = max((now - first_recent).total_seconds() / 3600, 1 / 60)
        pace = recent / hours
        eta = answers_left / pace * 3600 if answers_left else 0.0
    return {
        "project_id": project_id, "currency": currency, "budget": project.budget_amount,
        "spent": spent, "approved": int(approved), "bonuses": bonuses, "pending": int(pending),
        "in_flight": int(in_flight), "committed": int(committed),
        "remaining_budget": None if project.budget_amount is None else project.budget_amount - int(committed),
        "rejection_rate": rejection_rate, "answers_remaining": answers_left,
        "forecast_total": forecast, "answers_per_hour": pace, "eta_seconds": eta,
    }

