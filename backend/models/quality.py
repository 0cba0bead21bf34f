"""Worker quality per project, worker groups, agreement reports and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, utcnow


class WorkerQuality(Base):
    """A worker's standing in one project: gold results and suspension."""

    __tablename__ = "worker_quality"
    __table_args__ = (UniqueConstraint("worker_id", "project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    gold_claims: Mapped[int] = mapped_column(Integer, default=0)
    gold_answers: Mapped[int] = mapped_column(Integer, default=0)
    gold_score: Mapped[float] = mapped_column(default=0.0)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    # When the suspension's follow-up (recounts, rejections) last completed; behind suspended_at: due.
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_score / self.gold_answers if self.gold_answers else None


class WorkerGroupMember(Base):
    """Membership of a worker in a named group of an organization (used by qualification)."""

    __tablename__ = "worker_group_members"
    __table_args__ = (UniqueConstraint("organization_id", "group_name", "worker_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    group_name: Mapped[str] = mapped_column(String(100))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AgreementReport(Base):
    """The latest agreement figures of a project, computed by a background job."""

    __tablename__ = "agreement_reports"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)
    answers_counted: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    job_id: Mapped[str | None] = mapped_column(String(36))


class AuditRecord(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    actor: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
