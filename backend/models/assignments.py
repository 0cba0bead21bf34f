"""Assignments (a task leased to a worker, and the answer that comes back) and completion events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, utcnow
from .projects import BigId

ASSIGNMENT_STATUSES = ("leased", "submitted", "released", "expired")
# An answer counts (towards overlap, in consensus, agreement and quality figures) when it was
# submitted, is not from a suspended worker (flagged) and was not rejected in review. One
# definition for every query: SQL text for raw statements, ``counted(table)`` for Core.
COUNTED_SQL = "status = 'submitted' AND NOT flagged AND (review_status IS NULL OR review_status <> 'rejected')"


# The predicate of ix_assignments_worker_history: true of every row, implied only by queries that say it.
WORKER_HISTORY_SQL = f"status IN ({', '.join(repr(status) for status in ASSIGNMENT_STATUSES)})"


def counted(table):
    """The COUNTED_SQL condition over an assignments table (or alias) in Core."""
    c = table.c
    return (c.status == "submitted") & c.flagged.is_(False) & (
        c.review_status.is_(None) | (c.review_status != "rejected"))


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        # The database itself guarantees that a worker never gets the same task twice; worker
        # first, so the claim query's "not seen by this worker" test is one probe of this key.
        UniqueConstraint("worker_id", "task_id"),
        Index("ix_assignments_task_id_status", "task_id", "status"),
        # A worker's live leases in a project. Partial, so the planner can never mistake it for
        # the (worker, task) key when probing "has this worker seen this task".
        Index("ix_assignments_worker_leases", "worker_id", "project_id", postgresql_where=text("status = 'leased'"),
              sqlite_where=text("status = 'leased'")),
        Index("ix_assignments_live_leases", "expires_at", postgresql_where=text("status = 'leased'"),
              sqlite_where=text("status = 'leased'")),
        Index("ix_assignments_project_id_submitted_at", "project_id", "submitted_at"),
        # A worker's day in a project (daily caps, workload), and the review queue. Project first: an
        # index that starts with worker_id could be mistaken for the (worker, task) key by the claim query.
        Index("ix_assignments_project_worker_leased_at", "project_id", "worker_id", "leased_at"),
        Index("ix_assignments_review_queue", "project_id", "submitted_at",
              postgresql_where=text("review_status = 'pending'"), sqlite_where=text("review_status = 'pending'")),
        # A worker's own list, newest claim first (GET /me/assignments). Partial on every status, which the
        # list names and the claim query's "has this worker seen this task" probe does not: the probe can
        # never take it for the (worker, task) key and walk the worker's whole history.
        Index("ix_assignments_worker_history", "worker_id", "leased_at", "id",
              postgresql_where=text(WORKER_HISTORY_SQL), sqlite_where=text(WORKER_HISTORY_SQL)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    task_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("tasks.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    status: Mapped[str] = mapped_column(String(16), default="leased")
    leased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    release_reason: Mapped[str | None] = mapped_column(String(500))
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    active_seconds: Mapped[int | None] = mapped_column(Integer)
    is_gold: Mapped[bool] = mapped_column(default=False, server_default="0")
    gold_score: Mapped[float | None] = mapped_column()
    # Set when the worker was suspended for failing gold: such answers are left out of consensus.
    flagged: Mapped[bool] = mapped_column(default=False, server_default="0")
    # The rate in force when the task was claimed; later rate changes never alter it.
    reward_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    reward_currency: Mapped[str] = mapped_column(String(3), default="USD")
    # Review of a submitted answer: pending, then approved (paid) or rejected with a reason.
    review_status: Mapped[str | None] = mapped_column(String(16))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    review_reason: Mapped[str | None] = mapped_column(String(500))


class Event(Base):
    """An outbox of domain events, written in the transaction that caused them."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_project_id_id", "project_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    # Project events name their project; organization events (payouts) name the organization.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    batch_id: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
