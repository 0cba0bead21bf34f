"""Money: the append-only ledger, payout batches, fair-pay top-ups, and idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, utcnow
from .projects import BigId

# The largest amount of money any one field may hold, in minor units (10^12 cents is ten billion
# dollars). Every amount Concord accepts is bounded by it, so sums of many stay far inside 64 bits.
MAX_AMOUNT = 10**12

LEDGER_KINDS = ("earning", "bonus", "adjustment", "payout")
PAYOUT_STATUSES = ("created", "paid", "failed")
REVIEW_STATUSES = ("pending", "approved", "rejected")


class LedgerEntry(Base):
    """One movement of money owed to a worker by an organization. Rows are only ever inserted.

    A balance is the sum of a worker's entries in one currency. ``reference`` names
    the thing an entry pays for (``earning:assignment:7``, ``payout:3``, ...); it is
    unique, so the database itself refuses to pay the same thing twice.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_balance", "organization_id", "currency", "worker_id"),
        Index("ix_ledger_entries_worker_id_id", "worker_id", "id"),
        Index("ix_ledger_entries_project_id_kind", "project_id", "kind"),
        Index("ix_ledger_entries_payout_id", "payout_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    # Signed integer minor units: earnings and bonuses positive, payouts negative.
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(100), unique=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    assignment_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    # Who moved the money: "user:5", "token:3" or "system:<rule>".
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Payout(Base):
    """A payout batch: every worker whose unpaid balance reached the minimum, paid in one file."""

    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    minimum: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="created")
    total_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    worker_count: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FairPayTopUp(Base):
    """A proposed top-up bringing a worker's approved work in a project up to the minimum hourly rate."""

    __tablename__ = "fair_pay_topups"
    __table_args__ = (
        Index("ix_fair_pay_topups_project_id_status", "project_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    # What the proposal was computed from: approved time on task and what that work already earned.
    seconds: Mapped[int] = mapped_column(BigInteger)
    earned: Mapped[int] = mapped_column(BigInteger)
    min_hourly_rate: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="proposed")  # proposed | applied | superseded
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ledger_entry_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))


class IdempotencyKey(Base):
    """The first outcome of a request sent with an ``Idempotency-Key`` header, kept for replays."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Whose key it is ("user:5", "token:3"): two callers never share a key space.
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    # A digest of method, path and body: the same key with a different request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

