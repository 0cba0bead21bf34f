"""The earnings ledger: append-only entries per worker, paying organization and currency.

How it stays exact:

- amounts are signed integers of minor units; a balance is ``SUM(amount)`` over
  entries, computed when asked, never stored;
- entries are only inserted (a correction is a new ``adjustment``, a failed
  payout a new entry that gives the money back);
- every entry that pays for something names it in ``reference``, which is
  unique: an answer is earned once (``earning:<assignment>``), a payout line is
  written once per worker and payout, a top-up is applied once;
- each entry is written in the same transaction as the state change that causes
  it (the approval, the payout batch), so neither can exist without the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, func, insert, select
from sqlalchemy.orm import Session

from ..db import read_session, unit_of_work
from ..errors import NotFound, ValidationError
from ..models import MAX_AMOUNT, Assignment, LedgerEntry, Project, User, Worker, utcnow
from . import idempotency
from .access import Principal
from .money import check_currency
from .pagination import Page, paginate

_LEDGER = LedgerEntry.__table__


def post(session: Session, *, organization_id: int, worker_id: int, currency: str, amount: int, kind: str,
         actor: str, reference: str | None = None, project_id: int | None = None,
         assignment_id: int | None = None, payout_id: int | None = None, reason: str | None = None,
         now: datetime | None = None) -> int:
    """Insert one entry in the caller's transaction; returns its id."""
    return session.execute(insert(_LEDGER).values(
        organization_id=organization_id, worker_id=worker_id, currency=currency, amount=amount, kind=kind,
        actor=actor, reference=reference, project_id=project_id, assignment_id=assignment_id, payout_id=payout_id,
        reason=reason, created_at=now or utcnow()).returning(_LEDGER.c.id)).scalar_one()


def post_earnings(session: Session, rows: Iterable[Any], *, organization_id: int, project_id: int, actor: str,
                  now: datetime) -> int:
    """Earnings for freshly approved answers (rows with id, worker_id, reward_amount, reward_currency).

    The unique reference makes a second earning for the same answer impossible. Returns the count.
    """
    values = [{"organization_id": organization_id, "worker_id": r.worker_id, "currency": r.reward_currency,
               "amount": r.reward_amount, "kind": "earning", "reference": f"earning:{r.id}",
               "project_id": project_id, "assignment_id": r.id, "actor": actor, "created_at": now}
              for r in rows if r.reward_amount]
    if values:
        session.execute(insert(_LEDGER), values)
    return len(values)


def visible_worker(session: Session, principal: Principal, worker_id: int) -> Worker:
    """A worker the caller's organization deals with: its own vendor worker or annotator, or one who
    has worked on its projects. Anyone else is a 404, so other tenants' worker ids leak nothing."""
    worker = session.get(Worker, worker_id)
    if worker is not None and principal.is_admin:
        return worker
    org = principal.organization_id
    if worker is not None and org is not None and principal.role in ("manager", "organization"):
        if worker.organization_id == org:
            return worker
        if worker.user_id is not None and session.scalar(
                select(User.organization_id).where(User.id == worker.user_id)) == org:
            return worker
        if session.scalar(select(exists().where(
                Assignment.worker_id == worker_id, Assignment.project_id == Project.id,
                Project.organization_id == org))):
            return worker
    raise NotFound(f"Worker {worker_id} not found.")


def add_entry(*, principal: Principal, worker_id: int, kind: str, amount: int, currency: str, reason: str,
              project_id: int | None = None,
              request: idempotency.RequestKey | None = None) -> tuple[LedgerEntry, bool]:
    """Pay a worker a bonus, or correct its balance with an adjustment (which may be negative).

    Returns the entry and whether it is a replay of an earlier request with the same key.
    Raises NotFound (worker or project not the organization's), ValidationError.
    """
    principal.require_scope("payments:write")
    organization_id = principal.require_organization("Payments")
    check_currency(currency)
    if kind == "bonus" and amount <= 0:
        raise ValidationError("amount: a bonus is positive", details={"fields": {"amount": ["must be positive"]}})
    if amount == 0 or abs(amount) > MAX_AMOUNT:
        raise ValidationError("amount: out of range", details={"fields": {"amount": ["out of range"]}})
    with unit_of_work() as session:
        worker = visible_worker(session, principal, worker_id)
        if project_id is not None:
            project = session.get(Project, project_id)
            if project is None or project.organization_id != organization_id:
                raise NotFound(f"Project {project_id} not found.")
        prior = idempotency.reserve(session, request)
        if prior is not None:
            return session.get(LedgerEntry, prior["entry_id"]), True
        entry_id = post(session, organization_id=organization_id, worker_id=worker.id, currency=currency,
                        amount=amount, kind=kind, actor=principal.actor, project_id=project_id,
                        reason=reason[:500])
        idempotency.remember(session, request, {"entry_id": entry_id})
        return session.get(LedgerEntry, entry_id), False


def _scope(stmt, worker_id: int, organization_id: int | None):
    stmt = stmt.where(_LEDGER.c.worker_id == worker_id)
    return stmt if organization_id is None else stmt.where(_LEDGER.c.organization_id == organization_id)


def balances(session: Session, *, worker_id: int, organization_id: int | None = None) -> list[dict[str, Any]]:
    """Per currency: balance (unpaid, approved), pending (submitted, not yet reviewed), paid_out, and
    the totals by kind. Organization None: across every organization that owes the worker money."""
    kind_sum = {kind: func.coalesce(func.sum(case((_LEDGER.c.kind == kind, _LEDGER.c.amount), else_=0)), 0)
                for kind in ("earning", "bonus", "adjustment", "payout")}
    rows = session.execute(_scope(select(_LEDGER.c.currency, func.sum(_LEDGER.c.amount), *kind_sum.values()),
                                  worker_id, organization_id).group_by(_LEDGER.c.currency)).all()
    out: dict[str, dict[str, Any]] = {}
    for currency, balance, earned, bonuses, adjustments, payouts in rows:
        out[currency] = {"currency": currency, "balance": int(balance), "pending": 0, "paid_out": -int(payouts),
                         "earned": int(earned), "bonuses": int(bonuses), "adjustments": int(adjustments)}
    pending = select(Assignment.reward_currency, func.sum(Assignment.reward_amount)).where(
        Assignment.worker_id == worker_id, Assignment.status == "submitted", Assignment.review_status == "pending")
    if organization_id is not None:
        pending = pending.join(Project, Project.id == Assignment.project_id).where(
            Project.organization_id == organization_id)
    for currency, amount in session.execute(pending.group_by(Assignment.reward_currency)).all():
        if amount:
            row = out.setdefault(currency, {"currency": currency, "balance": 0, "pending": 0, "paid_out": 0,
                                            "earned": 0, "bonuses": 0, "adjustments": 0})
            row["pending"] = int(amount)
    return [out[c] for c in sorted(out)]


def earnings(*, worker_id: int, organization_id: int | None, limit: int, cursor: str | None,
             currency: str | None = None, kind: str | None = None,
             order: str = "oldest") -> tuple[list[dict[str, Any]], Page]:
    """A worker's balances and one page of its entries, oldest first (``order="newest"``: newest first,
    for a history that shows the latest entries). Raises ValidationError."""
    if order not in ("oldest", "newest"):
        raise ValidationError("order: oldest or newest", details={"fields": {"order": ["oldest or newest"]}})
    with read_session() as session:
        stmt = _scope(select(LedgerEntry), worker_id, organization_id)
        if currency:
            stmt = stmt.where(LedgerEntry.currency == currency)
        if kind:
            stmt = stmt.where(LedgerEntry.kind == kind)
        page = paginate(session, stmt, LedgerEntry.id, limit=limit, cursor=cursor, newest_first=order == "newest")
        return balances(session, worker_id=worker_id, organization_id=organization_id), page


def worker_earnings(*, principal: Principal, worker_id: int, limit: int, cursor: str | None,
                    currency: str | None = None, kind: str | None = None,
                    order: str = "oldest") -> tuple[list[dict[str, Any]], Page]:
    """What the caller's organization owes one worker, and the entries behind it. Raises NotFound."""
    principal.require_scope("payments:read")
    with read_session() as session:
        visible_worker(session, principal, worker_id)
    organization_id = None if principal.is_admin else principal.organization_id
    return earnings(worker_id=worker_id, organization_id=organization_id, limit=limit, cursor=cursor,
                    currency=currency, kind=kind, order=order)
