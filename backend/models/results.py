"""Consensus runs and results, and export files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, utcnow
from .projects import BigId

_TaskId = BigInteger().with_variant(Integer(), "sqlite")
EXPORT_OPTION_MARKERS = ("gold", "empty")


class ConsensusRun(Base):
    """One computation of consensus over some batches of a project, with its method and version."""

    __tablename__ = "consensus_runs"
    __table_args__ = (Index("ix_consensus_runs_project_id_version", "project_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    version: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(32))
    batch_ids: Mapped[list[int] | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="running")
    tasks: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    job_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsensusResult(Base):
    """The merged answer of a task, written by the run named in ``run_id``; a later run that changes
    it writes the row again under its own run. ``answer`` is JSON null (``answers_used`` 0, flagged,
    ``details.reason`` "no_counted_answers") once a task that had a result has no counted answer left."""

    __tablename__ = "consensus_results"
    __table_args__ = (Index("ix_consensus_results_project_id_task_id", "project_id", "task_id"),
                      Index("ix_consensus_results_batch_id", "batch_id"),
                      # Change order for incremental sync: runs of a project commit in id order.
                      Index("ix_consensus_results_project_id_run_id_task_id", "project_id", "run_id", "task_id"))

    task_id: Mapped[int] = mapped_column(_TaskId, ForeignKey("tasks.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    batch_id: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(ForeignKey("consensus_runs.id"))
    answer: Mapped[dict[str, Any]] = mapped_column(JSONType)
    confidence: Mapped[float] = mapped_column()
    method: Mapped[str] = mapped_column(String(32))
    answers_used: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[bool] = mapped_column(default=False)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConsensusModel(Base):
    """The fitted parameters of a project's model-based consensus (one row per method), from which the
    next run starts (a warm start). Arrays are little-endian numpy bytes, keyed by ``worker_ids`` and
    ``labels`` (the class of each code as fitted): ``workers`` is (parts x W x K x K) confusion matrices
    (true code, observed code) for Dawid-Skene or (parts x W) accuracies for one-coin, ``priors`` is
    (parts x K). A part is one model: one for single_choice, one per label (K = 2) for multi_choice."""

    __tablename__ = "consensus_models"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    method: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("consensus_runs.id"))
    labels: Mapped[list[str]] = mapped_column(JSONType)
    worker_ids: Mapped[bytes] = mapped_column(LargeBinary)
    workers: Mapped[bytes] = mapped_column(LargeBinary)
    priors: Mapped[bytes] = mapped_column(LargeBinary)
    answers: Mapped[int] = mapped_column(BigInteger)
    # single_choice: the project's stored results right after run ``run_id``, packed, so that the next
    # run of this method compares with them without reading every result (valid while no other run
    # has written since). Stored uncompressed on PostgreSQL (STORAGE EXTERNAL): it would not shrink.
    results: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Export(Base):
    """An export file of a project, written by a background job; it expires."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    format: Mapped[str] = mapped_column(String(16))
    batch_ids: Mapped[list[int] | None] = mapped_column(JSONType)
    # What the file holds: the parts of each task ("answers", "consensus", "agreement"), and the export's
    # options as markers: "gold" (control tasks are in), "empty" (tasks without consensus are in).
    include: Mapped[list[str] | None] = mapped_column(JSONType)
    # What the format itself was asked for: {"question", "include_ties"} of a preferences export.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    job_id: Mapped[str | None] = mapped_column(String(36))
    path: Mapped[str | None] = mapped_column(String(500))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    tasks: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def parts(self) -> list[str]:
        """The parts of each task the file holds (``include`` without the option markers)."""
        return [part for part in self.include or () if part not in EXPORT_OPTION_MARKERS]

    @property
    def include_gold(self) -> bool:
        """Control tasks are in the file (exports made before they could be are without)."""
        return "gold" in (self.include or ())

    @property
    def include_empty(self) -> bool:
        """The training formats also hold tasks without consensus, with no labels."""
        return "empty" in (self.include or ())

    @property
    def question(self) -> str | None:
        """The form question a preferences export is of."""
        return (self.options or {}).get("question")

    @property
    def include_ties(self) -> bool:
        """A preferences export also writes ties."""
        return bool((self.options or {}).get("include_ties"))
