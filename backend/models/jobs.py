"""A record of every background job, whatever queue runs it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, utcnow

JOB_STATUSES = ("queued", "started", "finished", "failed")


class JobRecord(Base):
    """Who started a job and how it ended. Live progress is kept by the queue."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(default=0.0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The outbox: what to queue (function, queue, arguments), so a job whose enqueue failed
    # (queue down) or whose runner died can be queued again or failed by the reaper.
    func: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(32))
    args: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    retries: Mapped[int] = mapped_column(default=0, server_default="0")
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Which process runs it on the in-process queue ("inproc:<host>:<pid>"); None on RQ.
    runner: Mapped[str | None] = mapped_column(String(128))
