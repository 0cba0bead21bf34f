"""Which task a claim takes: the candidate query, control tasks, and stale leases found on the way.

The caller (``assignments.claim_next_task``) holds the project and worker locks and passes the
time it read; every statement here runs in its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from ..db import is_postgres
from ..models.base import JSONType, utc_param
from . import budget

MAX_CANDIDATE_RETRIES = 50


_CANDIDATE = """
SELECT t.id, t.batch_id, t.external_id, t.data, t.answer_count, t.leased_count, t.required_overlap
FROM tasks t
WHERE t.batch_id = :batch_id AND t.status = 'open'
  AND (t.answer_count + t.leased_count < t.required_overlap OR t.lease_deadline <= :now)
  AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.worker_id = :worker_id AND a.task_id = t.id {fence})
  {skip}
ORDER BY (t.answer_count = 0), t.ordinal
LIMIT 1 {lock}
"""


def expire_stale_leases(session: Session, task_id: int, now: datetime) -> int:
    """Expire a task's leases that are past their time; the caller holds the task lock."""
    rows = session.execute(
        text("UPDATE assignments SET status = 'expired', ended_at = :now "
             "WHERE task_id = :task_id AND status = 'leased' AND expires_at <= :now "
             "RETURNING project_id, reward_amount")
        .bindparams(utc_param("now")), {"task_id": task_id, "now": now}).all()
    session.execute(
        text("UPDATE tasks SET leased_count = leased_count - :n, lease_deadline = "
             "(SELECT min(expires_at) FROM assignments WHERE task_id = :task_id AND status = 'leased') "
             "WHERE id = :task_id"), {"n": len(rows), "task_id": task_id})
    if rows:
        budget.uncommit(session, rows[0].project_id, sum(r.reward_amount for r in rows))
        from .counting import complete_if_full  # counting -> completion -> quality: imported when needed

        complete_if_full(session, task_id, now=now)
    return len(rows)


@dataclass
class TaskView:
    """The part of a task a worker sees (never its gold answer)."""

    id: int
    batch_id: int
    external_id: str | None
    data: dict
    status: str = "open"


def pick_gold(session: Session, *, project_id: int, worker_id: int) -> TaskView | None:
    """A control task of an active batch that this worker has not had yet (control tasks ignore overlap)."""
    fence = "OFFSET 0" if is_postgres(session) else ""  # one probe per candidate, as in _candidate_stmt
    row = session.execute(text(
        "SELECT t.id, t.batch_id, t.external_id, t.data FROM tasks t JOIN batches b ON b.id = t.batch_id "
        "WHERE t.project_id = :p AND t.status = 'gold' AND b.status = 'active' "
        f"AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.worker_id = :w AND a.task_id = t.id {fence}) "
        "ORDER BY t.ordinal LIMIT 1").columns(data=JSONType), {"p": project_id, "w": worker_id}).first()
    return TaskView(row.id, row.batch_id, row.external_id, row.data, "gold") if row else None


def _candidate_stmt(pg: bool, skipped: bool):
    # OFFSET 0 keeps "not seen by this worker" a probe of the (worker, task) key per candidate. Without
    # it PostgreSQL may plan an anti-join that passes over all of the worker's assignments for every
    # candidate: fine when statistics say the worker has few, O(tasks skipped x answers given) when they
    # are stale, as they are for a new, busy worker (200 ms a claim seen here).
    sql = _CANDIDATE.format(skip="AND t.id NOT IN :skipped" if skipped else "", fence="OFFSET 0" if pg else "",
                            lock="FOR NO KEY UPDATE OF t SKIP LOCKED" if pg else "")
    stmt = text(sql).bindparams(utc_param("now")).columns(data=JSONType)
    if skipped:
        stmt = stmt.bindparams(bindparam("skipped", expanding=True))
    return stmt


# Statements on the hot paths are built once: a statement object reused across calls keeps its cache
# key, so SQLAlchemy neither rebuilds nor re-hashes it on every request (that cost more than the query).
CANDIDATES = {(pg, skipped): _candidate_stmt(pg, skipped) for pg in (True, False) for skipped in (True, False)}
_TASK_COUNTS = text("SELECT answer_count, leased_count, required_overlap FROM tasks WHERE id = :id")


def pick_task(session: Session, *, batch_ids: list[int], worker_id: int, now: datetime) -> TaskView | None:
    """Lock one task this worker may take, in batch order; None when there is none."""
    pg = is_postgres(session)
    for batch_id in batch_ids:
        skipped: list[int] = []
        for _attempt in range(MAX_CANDIDATE_RETRIES):
            params: dict[str, Any] = {"batch_id": batch_id, "now": now, "worker_id": worker_id}
            if skipped:
                params["skipped"] = skipped
            row = session.execute(CANDIDATES[pg, bool(skipped)], params).first()
            if row is None:
                break
            view = TaskView(row.id, row.batch_id, row.external_id, row.data)
            if row.answer_count + row.leased_count < row.required_overlap:
                return view
            # Picked because a lease may have expired: settle that under the lock, then look again.
            expire_stale_leases(session, row.id, now)
            fresh = session.execute(_TASK_COUNTS, {"id": row.id}).one()
            if fresh.answer_count + fresh.leased_count < fresh.required_overlap:
                return view
            skipped.append(row.id)
    return None
