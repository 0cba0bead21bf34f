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

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from ..db import read_session
from ..models import Assignment, Batch, LedgerEntry, Project, Task, WorkerQuality, utcnow
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


def _control_answers_to_come(session: Session, project: Project, regular: int) -> tuple[float, float]:
    """How many control answers will come with ``regular`` more regular answers, and their mean rate.

    Each worker's stream holds a share ``gold_ratio`` of control tasks, so N regular claims come with
    N x r / (1 - r) control claims (at r = 1 a worker takes every control task it has not had before any
    regular one: the control tasks the project's known workers have not had yet). None come when the
    project has no control task in an active batch. An upper bound when workers run out of control tasks
    they have not seen (each worker gets each one once).
    """
    ratio = project.gold_ratio or 0.0
    if ratio <= 0:
        return 0.0, 0.0
    by_rate = session.execute(
        select(Batch.reward_amount, func.sum(Batch.gold_count))
        .where(Batch.project_id == project.id, Batch.status == "active", Batch.gold_count > 0)
        .group_by(Batch.reward_amount)).all()
    control_tasks = sum(int(n) for _rate, n in by_rate)
    if not control_tasks:
        return 0.0, 0.0
    if project.gold_reward_amount is not None:
        rate = float(project.gold_reward_amount)
    else:  # a control task pays its batch's rate, as a claim does
        rate = sum((project.reward_amount if r is None else r) * int(n) for r, n in by_rate) / control_tasks
    if ratio < 1:
        return regular * ratio / (1 - ratio), rate
    workers, had = session.execute(
        select(func.count(), func.coalesce(func.sum(WorkerQuality.gold_claims), 0))
        .where(WorkerQuality.project_id == project.id)).one()
    return float(max(0, int(workers) * control_tasks - int(had))), rate


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
            # Every lease a task counts in leased_count, an expired one the sweep has not ended included.
            func.coalesce(func.sum(a.reward_amount).filter(a.status == "leased"), 0),
            func.count().filter(a.review_status == "approved"),
            func.count().filter(a.review_status == "rejected"),
            func.count().filter(a.submitted_at >= now - timedelta(hours=24)),
            func.min(a.submitted_at).filter(a.submitted_at >= now - timedelta(hours=24)),
        ).where(a.project_id == project_id, a.reward_currency == currency)).one()
        approved, pending, in_flight, leased, n_approved, n_rejected, recent, first_recent = counts
        extras = dict(session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.amount))
            .where(LedgerEntry.project_id == project_id, LedgerEntry.currency == currency,
                   LedgerEntry.kind.in_(("bonus", "adjustment"))).group_by(LedgerEntry.kind)).all())
        # Answers still needed, per batch (a rush batch may pay its own rate); control tasks apart. Leased
        # slots are paid at their claimed rates above, so only the slots nobody holds cost today's rate.
        needed = Task.required_overlap - Task.answer_count
        unclaimed = needed - Task.leased_count
        remaining = session.execute(
            select(Batch.reward_amount, func.coalesce(func.sum(case((needed > 0, needed), else_=0)), 0),
                   func.coalesce(func.sum(case((unclaimed > 0, unclaimed), else_=0)), 0))
            .join(Batch, Batch.id == Task.batch_id)
            .where(Task.project_id == project_id, Task.status == "open").group_by(Batch.reward_amount)).all()
        to_claim = sum(int(n) for _rate, _needed, n in remaining)
        control_to_come, control_rate = _control_answers_to_come(session, project, to_claim)
        committed = project.committed_amount if project.budget_amount is not None else \
            committed_sum(session, project_id)
    reviewed = n_approved + n_rejected
    rejection_rate = n_rejected / reviewed if reviewed else 0.0
    answers_left = int(sum(n for _rate, n, _unclaimed in remaining))
    to_finish = sum(int(n) * (project.reward_amount if rate is None else rate) for rate, _needed, n in remaining)
    to_finish += control_to_come * control_rate
    bonuses = int(extras.get("bonus") or 0) + int(extras.get("adjustment") or 0)
    spent = int(approved) + bonuses
    # Rejected answers are not paid: expect the same share of what is pending and still to come to be refused.
    forecast = spent + round((int(pending) + int(leased) + to_finish) * (1 - rejection_rate))
    control_expected = round(control_to_come)
    pace = None
    eta = None
    if recent and first_recent is not None:
        hours = max((now - first_recent).total_seconds() / 3600, 1 / 60)
        pace = recent / hours  # every answer, control answers included: so is the work left below
        left = answers_left + control_expected
        eta = left / pace * 3600 if left else 0.0
    return {
        "project_id": project_id, "currency": currency, "budget": project.budget_amount,
        "spent": spent, "approved": int(approved), "bonuses": bonuses, "pending": int(pending),
        "in_flight": int(in_flight), "committed": int(committed),
        "remaining_budget": None if project.budget_amount is None else project.budget_amount - int(committed),
        "rejection_rate": rejection_rate, "answers_remaining": answers_left,
        "control_answers_expected": control_expected,
        "forecast_total": forecast, "answers_per_hour": pace, "eta_seconds": eta,
    }
