"""Payout batches: pay every worker whose unpaid balance reached a minimum, then settle the batch.

Payouts of one organization are serialized by a lock on its row, so two
concurrent payouts never both pay the same balance: the second one, once the
first has committed, finds those balances at zero. Money earned while a payout
is being made simply stays in the balance for the next one.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from sqlalchemy import func, select, update

from ..db import is_postgres, read_session, unit_of_work
from ..errors import Conflict, NotFound, ValidationError
from ..exports._common import csv_cell
from ..models import Event, LedgerEntry, Organization, Payout, User, Worker, utcnow
from . import idempotency
from .access import Principal
from .money import check_currency, minor_unit_digits
from .pagination import Page, paginate

_LEDGER = LedgerEntry.__table__
FILE_COLUMNS = ("payout_id", "worker_id", "external_id", "email", "amount", "amount_decimal", "currency")


def create_payout(*, principal: Principal, currency: str, minimum: int = 0, note: str | None = None,
                  request: idempotency.RequestKey | None = None) -> tuple[Payout, bool]:
    """Pay out every worker whose balance in ``currency`` with the caller's organization is at least
    ``minimum`` (and above zero). Returns the batch and whether it is a replay.

    A batch with no worker in it is still recorded (it says nobody was due). Raises ValidationError.
    """
    principal.require_scope("payments:write")
    organization_id = principal.require_organization("Payouts")
    check_currency(currency)
    if minimum < 0:
        raise ValidationError("minimum: zero or more", details={"fields": {"minimum": ["zero or more"]}})
    now = utcnow()
    with unit_of_work() as session:
        prior = idempotency.reserve(session, request)
        if prior is not None:
            return session.get(Payout, prior["payout_id"]), True
        if is_postgres(session):
            session.execute(select(Organization.id).where(Organization.id == organization_id).with_for_update())
        total = func.sum(_LEDGER.c.amount)
        due = session.execute(
            select(_LEDGER.c.worker_id, total)
            .where(_LEDGER.c.organization_id == organization_id, _LEDGER.c.currency == currency)
            .group_by(_LEDGER.c.worker_id).having(total >= max(minimum, 1)).order_by(_LEDGER.c.worker_id)).all()
        payout = Payout(organization_id=organization_id, currency=currency, minimum=minimum, status="created",
                        total_amount=sum(int(a) for _w, a in due), worker_count=len(due),
                        note=(note or None) and note[:500], actor=principal.actor, created_at=now)
        session.add(payout)
        session.flush()
        if due:
            session.execute(_LEDGER.insert(), [
                {"organization_id": organization_id, "worker_id": worker_id, "currency": currency,
                 "amount": -int(amount), "kind": "payout", "reference": f"payout:{payout.id}:{worker_id}",
                 "payout_id": payout.id, "reason": f"Payout {payout.id}", "actor": principal.actor,
                 "created_at": now} for worker_id, amount in due])
        session.add(Event(kind="payout.created", organization_id=organization_id, created_at=now, payload={
            "payout_id": payout.id, "currency": currency, "total_amount": payout.total_amount,
            "worker_count": payout.worker_count}))
        idempotency.remember(session, request, {"payout_id": payout.id})
        return payout, False


def _own_payout(session, principal: Principal, payout_id: int, *, lock: bool = False) -> Payout:
    payout = session.get(Payout, payout_id, with_for_update=lock)
    if payout is None or not (principal.is_admin or payout.organization_id == principal.organization_id):
        raise NotFound(f"Payout {payout_id} not found.")
    return payout


def settle_payout(*, principal: Principal, payout_id: int, status: str, note: str | None = None,
                  request: idempotency.RequestKey | None = None) -> tuple[Payout, bool]:
    """Mark a payout batch ``paid`` or ``failed``. A failed batch gives every worker its money back
    with a new entry. Settling again to the same status changes nothing.

    Raises NotFound, ValidationError, Conflict (already settled the other way).
    """
    principal.require_scope("payments:write")
    if status not in ("paid", "failed"):
        raise ValidationError("status: paid or failed", details={"fields": {"status": ["paid or failed"]}})
    now = utcnow()
    with unit_of_work() as session:
        payout = _own_payout(session, principal, payout_id)
        prior = idempotency.reserve(session, request)
        if prior is not None:
            return payout, True
        moved = session.execute(update(Payout).where(Payout.id == payout_id, Payout.status == "created")
                                .values(status=status, settled_at=now, note=(note or payout.note))).rowcount
        session.refresh(payout)
        if not moved and payout.status != status:
            raise Conflict(f"Payout {payout_id} is already {payout.status}.", code="payout_settled")
        if moved and status == "failed":
            paid = session.execute(select(_LEDGER.c.worker_id, _LEDGER.c.amount).where(
                _LEDGER.c.payout_id == payout_id, _LEDGER.c.amount < 0)).all()
            if paid:
                session.execute(_LEDGER.insert(), [
                    {"organization_id": payout.organization_id, "worker_id": worker_id, "currency": payout.currency,
                     "amount": -amount, "kind": "payout", "reference": f"payout-failed:{payout_id}:{worker_id}",
                     "payout_id": payout_id, "reason": f"Payout {payout_id} failed: money returned to the balance",
                     "actor": principal.actor, "created_at": now} for worker_id, amount in paid])
        idempotency.remember(session, request, {"payout_id": payout_id})
        return payout, False


def get_payout(*, principal: Principal, payout_id: int) -> Payout:
    """One payout batch of the caller's organization. Raises NotFound."""
    principal.require_scope("payments:read")
    with read_session() as session:
        return _own_payout(session, principal, payout_id)


def list_payouts(*, principal: Principal, limit: int, cursor: str | None, status: str | None = None) -> Page:
    """The organization's payout batches, oldest first."""
    principal.require_scope("payments:read")
    with read_session() as session:
        stmt = select(Payout)
        if not principal.is_admin:
            stmt = stmt.where(Payout.organization_id == principal.organization_id)
        if status:
            stmt = stmt.where(Payout.status == status)
        return paginate(session, stmt, Payout.id, limit=limit, cursor=cursor)


def payout_lines(*, principal: Principal, payout_id: int) -> tuple[Payout, list[dict[str, Any]]]:
    """Who is paid what in a payout batch, for the payment processor. Raises NotFound."""
    principal.require_scope("payments:read")
    with read_session() as session:
        payout = _own_payout(session, principal, payout_id)
        rows = session.execute(
            select(LedgerEntry.worker_id, Worker.external_id, User.email, LedgerEntry.amount, LedgerEntry.currency)
            .join(Worker, Worker.id == LedgerEntry.worker_id).outerjoin(User, User.id == Worker.user_id)
            .where(LedgerEntry.payout_id == payout_id, LedgerEntry.amount < 0)
            .order_by(LedgerEntry.worker_id)).all()
    digits = minor_unit_digits(payout.currency)
    lines = [{"payout_id": payout_id, "worker_id": r.worker_id, "external_id": r.external_id, "email": r.email,
              "amount": -r.amount, "currency": r.currency,
              "amount_decimal": _decimal(-r.amount, digits)} for r in rows]
    return payout, lines


def _decimal(amount: int, digits: int) -> str:
    """Minor units as a plain decimal string (1234, 2 -> "12.34"), exact, no float on the way."""
    if digits == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def payout_file(*, principal: Principal, payout_id: int, fmt: str) -> tuple[bytes, str]:
    """The payout file in ``csv`` or ``json``: (content, media type). Raises NotFound, ValidationError."""
    if fmt not in ("csv", "json"):
        raise ValidationError("format: csv or json", details={"fields": {"format": ["csv or json"]}})
    payout, lines = payout_lines(principal=principal, payout_id=payout_id)
    if fmt == "json":
        body = {"payout_id": payout.id, "currency": payout.currency, "status": payout.status,
                "total_amount": payout.total_amount, "lines": lines}
        return orjson.dumps(body), "application/json"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FILE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({name: csv_cell(value) for name, value in line.items()} for line in lines)
    return out.getvalue().encode(), "text/csv"

