"""Fair pay: top-ups so that each worker's approved work in a project earns at least a minimum hourly rate.

Time on task is the server-side lease time (claim to submit), capped by the
active seconds the client reported, so an idle tab does not count as work and a
client cannot claim more time than the lease lasted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.orm import Session

from ..db import is_postgres, read_session, unit_of_work
from ..errors import ValidationError
from ..models import Assignment, FairPayTopUp, LedgerEntry, Project, utcnow
from . import idempotency, ledger
from .access import Principal, ensure_manage
from .pagination import Page, paginate

_TOPUPS = FairPayTopUp.__table__
REFERENCE = "fairpay:"


def time_on_task(session: Session):
    """Seconds of work in an answer: lease time capped by the reported active seconds (SQL expression)."""
    if is_postgres(session):
        return literal_column("LEAST(EXTRACT(EPOCH FROM (assignments.submitted_at - assignments.leased_at)), "
                              "COALESCE(assignments.active_seconds, 1e18))")
    return literal_column("MIN((julianday(assignments.submitted_at) - julianday(assignments.leased_at)) * 86400.0, "
                          "COALESCE(assignments.active_seconds, 1e18))")


def _approved_work(session: Session, project: Project) -> list[Any]:
    a = Assignment
    return session.execute(
        select(a.worker_id, func.sum(time_on_task(session)), func.sum(a.reward_amount))
        .where(a.project_id == project.id, a.review_status == "approved", a.reward_currency == project.reward_currency)
        .group_by(a.worker_id).order_by(a.worker_id)).all()


def _topped_up(session: Session, project: Project) -> dict[int, int]:
    return dict(session.execute(
        select(LedgerEntry.worker_id, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.project_id == project.id, LedgerEntry.kind == "bonus",
               LedgerEntry.currency == project.reward_currency, LedgerEntry.reference.like(REFERENCE + "%"))
        .group_by(LedgerEntry.worker_id)).all())


def prepare_run(*, principal: Principal, project_id: int) -> Project:
    """Check that the caller may compute top-ups for the project. Raises NotFound, Forbidden, ValidationError."""
    principal.require_scope("payments:write")
    with read_session() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
    if not project.min_hourly_rate:
        raise ValidationError("Set the project's min_hourly_rate first.", code="no_min_hourly_rate",
                              details={"fields": {"min_hourly_rate": ["not set"]}})
    return project


def propose_topups(*, project_id: int) -> dict[str, Any]:
    """Recompute top-up proposals for a project (the job's work). Safe to rerun: open proposals are
    replaced, applied ones count as paid. Applies them at once when the project says so."""
    now = utcnow()
    with unit_of_work() as session:
        # One run at a time per project; the lock also orders runs against confirmations.
        project = session.get(Project, project_id, with_for_update={"key_share": True})
        rate = project.min_hourly_rate
        session.execute(update(_TOPUPS).where(_TOPUPS.c.project_id == project_id, _TOPUPS.c.status == "proposed")
                        .values(status="superseded"))
        if not rate:
            return {"proposed": 0, "applied": 0, "amount": 0}
        topped = _topped_up(session, project)
        proposals = []
        for worker_id, seconds, earned in _approved_work(session, project):
            seconds = int(seconds or 0)
            owed = -(-rate * seconds // 3600)  # ceil: a worker is never paid below the rate by rounding
            due = owed - int(earned or 0) - int(topped.get(worker_id, 0))
            if due > 0:
                proposals.append({"project_id": project_id, "worker_id": worker_id,
                                  "currency": project.reward_currency, "amount": due, "seconds": seconds,
                                  "earned": int(earned or 0) + int(topped.get(worker_id, 0)),
                                  "min_hourly_rate": rate, "status": "proposed", "created_at": now})
        if proposals:
            session.execute(_TOPUPS.insert(), proposals)
        applied = _apply(session, project, None, actor="system:fair-pay", now=now) if project.fair_pay_auto_apply \
            else 0
        return {"proposed": len(proposals), "applied": applied, "amount": sum(p["amount"] for p in proposals)}


def refresh_all() -> int:
    """Recompute top-ups of every active project with a minimum hourly rate (periodic). Returns how many
    were applied (projects that apply them automatically)."""
    with read_session() as session:
        project_ids = session.scalars(select(Project.id).where(Project.min_hourly_rate.is_not(None),
                                                               Project.status == "active")).all()
    return sum(propose_topups(project_id=project_id)["applied"] for project_id in project_ids)


def _apply(session: Session, project: Project, ids: list[int] | None, *, actor: str, now: datetime) -> int:
    stmt = update(_TOPUPS).where(_TOPUPS.c.project_id == project.id, _TOPUPS.c.status == "proposed")
    if ids is not None:
        stmt = stmt.where(_TOPUPS.c.id.in_(ids))
    rows = session.execute(stmt.values(status="applied", applied_at=now)
                           .returning(_TOPUPS.c.id, _TOPUPS.c.worker_id, _TOPUPS.c.amount, _TOPUPS.c.currency,
                                      _TOPUPS.c.min_hourly_rate)).all()
    for row in rows:
        entry_id = ledger.post(session, organization_id=project.organization_id, worker_id=row.worker_id,
                               currency=row.currency, amount=row.amount, kind="bonus", actor=actor,
                               reference=f"{REFERENCE}{row.id}", project_id=project.id, now=now,
                               reason=f"Fair pay: top-up to {row.min_hourly_rate} minor units per hour")
        session.execute(update(_TOPUPS).where(_TOPUPS.c.id == row.id).values(ledger_entry_id=entry_id))
    return len(rows)


def confirm_topups(*, principal: Principal, project_id: int, topup_ids: list[int] | None = None,
                   request: idempotency.RequestKey | None = None) -> dict[str, Any]:
    """A manager confirms proposed top-ups (all of them, or the listed ones): each becomes a bonus.

    Returns ``{"applied": n, "replayed": bool}``. Raises NotFound, Forbidden.
    """
    principal.require_scope("payments:write")
    now = utcnow()
    with unit_of_work() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        prior = idempotency.reserve(session, request)
        if prior is not None:
            return {**prior, "replayed": True}
        result = {"applied": _apply(session, project, topup_ids, actor=principal.actor, now=now)}
        idempotency.remember(session, request, result)
        return {**result, "replayed": False}


def list_topups(*, principal: Principal, project_id: int, status: str | None = "proposed", limit: int = 50,
                cursor: str | None = None) -> Page:
    """A project's top-ups (proposed by default), a page at a time. Raises NotFound, Forbidden."""
    principal.require_scope("payments:read")
    with read_session() as session:
        ensure_manage(principal, session.get(Project, project_id), project_id)
        stmt = select(FairPayTopUp).where(FairPayTopUp.project_id == project_id)
        if status:
            stmt = stmt.where(FairPayTopUp.status == status)
        return paginate(session, stmt, FairPayTopUp.id, limit=limit, cursor=cursor)


def hourly_rates(session: Session, project: Project) -> dict[int, dict[str, Any]]:
    """Per worker: approved seconds on task, what that work earned (with top-ups), and the effective rate."""
    topped = _topped_up(session, project)
    out = {}
    for worker_id, seconds, earned in _approved_work(session, project):
        paid = int(earned or 0) + int(topped.get(worker_id, 0))
        seconds = int(seconds or 0)
        out[worker_id] = {"approved_seconds": seconds, "approved_earnings": paid,
                          "effective_hourly_rate": round(paid * 3600 / seconds) if seconds else None}
    return out
