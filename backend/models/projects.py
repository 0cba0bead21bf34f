"""Projects, datasets, batches and tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, utcnow

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
BigId = BigInteger().with_variant(Integer(), "sqlite")

TASK_TYPES = ("single_choice", "multi_choice", "rating", "bounding_boxes", "text_spans", "free_text")
PROJECT_STATUSES = ("draft", "active", "paused", "archived")
BATCH_STATUSES = ("active", "paused")
# Project settings about money and review, copied as they are from the API.
PAYMENT_FIELDS = ("gold_reward_amount", "auto_approve_hours", "auto_approve_consensus", "auto_reject_suspended",
                  "rejection_window_hours", "min_hourly_rate", "fair_pay_auto_apply",
                  "max_answers_per_worker_per_day", "budget_amount")


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    task_type: Mapped[str] = mapped_column(String(32))
    # The label schema: labels, min/max, text_field, image_field, max_length; for a form (task_type
    # "form"), {"questions": [...]} (backend.questions).
    label_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # How task data fields are shown: [{"field", "as"}] (text, markdown, html, image, audio, chat...).
    display: Mapped[list[dict[str, str]] | None] = mapped_column(JSONType)
    # Overlap in hundredths so that 2.5 is exact: 250.
    overlap_centi: Mapped[int] = mapped_column(Integer)
    max_overlap: Mapped[int] = mapped_column(Integer)
    lease_seconds: Mapped[int] = mapped_column(Integer, default=600)
    max_active_leases: Mapped[int] = mapped_column(Integer, default=1)
    reward_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    reward_currency: Mapped[str] = mapped_column(String(3), default="USD")
    batch_size: Mapped[int] = mapped_column(Integer, default=500)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Last task ordinal handed out by an import; guarded by a row lock.
    task_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    batch_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Quality control. gold_ratio: share of a worker's stream that is control tasks.
    gold_ratio: Mapped[float] = mapped_column(default=0.0, server_default="0")
    min_gold_accuracy: Mapped[float | None] = mapped_column()
    min_gold_answers: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    rating_tolerance: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Dynamic overlap: below this agreement a finished task gets one more answer, up to max_overlap.
    agreement_threshold: Mapped[float | None] = mapped_column()
    # {"min_gold_accuracy", "gold_projects", "worker_groups", "vendor_organizations"}
    qualification: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Consensus method used when a batch completes; None: the task type's default.
    consensus_method: Mapped[str | None] = mapped_column(String(32))
    # Suspensions made by hand so far: once there is one, claims look at each worker's standing.
    manual_suspensions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Payments. Control tasks may pay a different rate (same currency); None: the regular rate.
    gold_reward_amount: Mapped[int | None] = mapped_column(BigInteger)
    # Review rules, all off by default: nothing is paid or refused without a manager's choice.
    auto_approve_hours: Mapped[int | None] = mapped_column(Integer)
    auto_approve_consensus: Mapped[bool] = mapped_column(default=False, server_default="0")
    auto_reject_suspended: Mapped[bool] = mapped_column(default=False, server_default="0")
    # A rejection may be turned into an approval for this long after it was made.
    rejection_window_hours: Mapped[int] = mapped_column(Integer, default=72, server_default="72")
    # Fair pay: minor units per hour of approved time on task; top-ups applied without review when set.
    min_hourly_rate: Mapped[int | None] = mapped_column(BigInteger)
    fair_pay_auto_apply: Mapped[bool] = mapped_column(default=False, server_default="0")
    max_answers_per_worker_per_day: Mapped[int | None] = mapped_column(Integer)
    # Budget for answer rewards, in the reward currency. While it is set, committed_amount holds the
    # rewards of live leases and of submitted answers not rejected, kept under the project row lock.
    budget_amount: Mapped[int | None] = mapped_column(BigInteger)
    committed_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def overlap(self) -> float:
        return self.overlap_centi / 100

    @property
    def labels(self) -> list[str]:
        return list(self.label_config.get("labels") or [])


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="importing")
    batch_size: Mapped[int] = mapped_column(Integer)
    items_total: Mapped[int] = mapped_column(BigInteger, default=0)
    tasks_created: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates_skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    job_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        # Target of the tasks' composite foreign key (see Task).
        UniqueConstraint("id", "project_id", name="uq_batches_id_project_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    task_count: Mapped[int] = mapped_column(Integer, default=0)
    completed_count: Mapped[int] = mapped_column(Integer, default=0)
    # Control tasks never complete by overlap; a batch is complete when its other tasks are.
    gold_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A rush batch may pay more: overrides the project's reward amount (same currency).
    reward_amount: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("project_id", "external_id"),
        # The claim order itself: within a batch, open tasks that have answers first, then by
        # ordinal. The claim query reads it in index order and stops at the first free task.
        Index("ix_tasks_claim_order", "batch_id", "status", text("(answer_count = 0)"), "ordinal"),
        # One composite key checks both the batch and that the task's project is the batch's:
        # half the cost of two foreign keys on bulk imports, and a stronger guarantee.
        ForeignKeyConstraint(["batch_id", "project_id"], ["batches.id", "batches.project_id"],
                             name="fk_tasks_batch_id_project_id_batches"),
        Index("ix_tasks_project_id_flagged", "project_id", postgresql_where=text("flagged"),
              sqlite_where=text("flagged")),
        Index("ix_tasks_gold", "project_id", "ordinal", postgresql_where=text("status = 'gold'"),
              sqlite_where=text("status = 'gold'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[int] = mapped_column(Integer)
    ordinal: Mapped[int] = mapped_column(BigInteger)
    external_id: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    gold: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    required_overlap: Mapped[int] = mapped_column(Integer)
    answer_count: Mapped[int] = mapped_column(Integer, default=0)
    # Assignments in status "leased"; some may have expired and not been swept yet.
    leased_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Earliest expiry among those leases (may be early, never late): past it, a slot may be free.
    lease_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # open | complete | gold (a control task: handed to each worker at most once, never completes)
    status: Mapped[str] = mapped_column(String(16), default="open")
    agreement: Mapped[float | None] = mapped_column()
    flagged: Mapped[bool] = mapped_column(default=False, server_default="0")
    flag_reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
