"""When answers stop or start counting: rejections, reversed rejections, suspensions and their lifting.

An answer counts (``models.COUNTED_SQL``) towards its task's overlap, in consensus, agreement and
the worker's quality figures while it is submitted, not from a suspended worker and not rejected.
When that changes, the task's ``answer_count`` is recounted from the answers themselves (so a
repeat changes nothing), a complete task that fell below its overlap goes back to the pool (its
batch is open again, so claims see it), a reopened task that is full again completes, and the
tasks whose stored consensus is now stale get a ``results.stale`` event, whose dispatch recomputes
them (a new consensus version that incremental sync returns).

Lock order is the distribution engine's: task rows first (in id order), then the assignment rows,
then the project row. Callers lock with ``lock_tasks`` before they change any assignment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from ..db import is_postgres
from ..models import Assignment, Batch, ConsensusResult, Event, Project, Task, WorkerQuality, counted
from .completion import finish_task

_A = Assignment.__table__
_T = Task.__table__
CHUNK = 1000


@dataclass
class Recount:
    """What a recount changed."""

    reopened: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    batches_completed: int = 0
    stale_results: list[int] = field(default_factory=list)


def chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def lock_tasks(session: Session, task_ids: Iterable[int]) -> list[int]:
    """Lock these tasks' rows in id order (PostgreSQL; SQLite has one writer). Returns the sorted ids."""
    ids = sorted(set(task_ids))
    if is_postgres(session):
        for chunk in chunks(ids):
            session.execute(text("SELECT id FROM tasks WHERE id IN :ids ORDER BY id FOR NO KEY UPDATE")
                            .bindparams(bindparam("ids", expanding=True)), {"ids": chunk})
    return ids


def task_ids_where(session: Session, condition) -> list[int]:
    """Distinct tasks of the assignments matching a Core condition (read before locking them)."""
    return sorted(session.execute(select(_A.c.task_id).where(condition).distinct()).scalars())


def recount(session: Session, project: Project, task_ids: Iterable[int], *, now: datetime) -> Recount:
    """Bring these tasks' counts, statuses and batches in line with the answers that count.

    The caller holds the tasks' locks (``lock_tasks``) and has changed the answers already. A few
    statements per chunk of tasks, however many tasks a bulk decision touches.
    """
    out = Recount()
    counted_answers = (select(func.count()).select_from(_A)
                       .where(_A.c.task_id == _T.c.id, counted(_A)).scalar_subquery())
    for chunk in chunks(sorted(set(task_ids))):
        in_chunk = _T.c.id.in_(chunk)
        session.execute(update(_T).where(in_chunk, _T.c.status != "gold").values(answer_count=counted_answers))
        moved = session.execute(select(_T.c.id, _T.c.batch_id, _T.c.status, _T.c.answer_count,
                                       _T.c.required_overlap, _T.c.leased_count).where(
            in_chunk, ((_T.c.status == "complete") & (_T.c.answer_count < _T.c.required_overlap))
            | ((_T.c.status == "open") & (_T.c.answer_count >= _T.c.required_overlap)))
            .order_by(_T.c.id)).all()
        reopen = [t for t in moved if t.status == "complete"]
        if reopen:
            _reopen(session, project, reopen, now=now)
            out.reopened += [t.id for t in reopen]
        # Open and full: a reopened task whose answers count again (a reversal, a lifted suspension).
        # One with a live lease (a replacement being worked on) completes when that answer comes in,
        # or when the lease ends (``complete_if_full``), so its worker is never refused the work.
        for task in (t for t in moved if t.status == "open" and not t.leased_count):
            out.batches_completed += finish_task(session, project, task_id=task.id, batch_id=task.batch_id,
                                                 answers=task.answer_count, required=task.required_overlap,
                                                 now=now)
            out.completed.append(task.id)
        out.stale_results += session.execute(select(ConsensusResult.task_id).where(
            ConsensusResult.task_id.in_(chunk))).scalars().all()
    if out.stale_results:
        session.execute(insert(Event.__table__).values(
            kind="results.stale", project_id=project.id, created_at=now,
            payload={"task_ids": sorted(out.stale_results)}))
    return out


def complete_if_full(session: Session, task_id: int, *, now: datetime) -> bool:
    """A lease of a task ended (released, expired): complete the task if it is open, has all the
    answers it needs and no other lease (a reversal filled it while the lease was live). The caller
    holds the task lock. Returns whether its batch completed."""
    task = session.execute(select(_T.c.id, _T.c.project_id, _T.c.batch_id, _T.c.answer_count,
                                  _T.c.required_overlap).where(
        _T.c.id == task_id, _T.c.status == "open", _T.c.leased_count == 0,
        _T.c.answer_count >= _T.c.required_overlap)).first()
    if task is None:
        return False
    project = session.get(Project, task.project_id)
    return finish_task(session, project, task_id=task.id, batch_id=task.batch_id, answers=task.answer_count,
                       required=task.required_overlap, now=now)


def _reopen(session: Session, project: Project, tasks: list, *, now: datetime) -> None:
    """Complete tasks lost counted answers below their overlap: back to the pool, their batches open."""
    session.execute(update(_T).where(_T.c.id.in_([t.id for t in tasks])).values(
        status="open", completed_at=None, flagged=False, flag_reason=None))
    per_batch = Counter(t.batch_id for t in tasks)
    for batch_id, n in sorted(per_batch.items()):
        session.execute(update(Batch.__table__).where(Batch.id == batch_id).values(
            completed_count=Batch.completed_count - n, completed_at=None))
    session.execute(insert(Event.__table__), [
        {"kind": "task.reopened", "project_id": project.id, "batch_id": t.batch_id, "task_id": t.id,
         "created_at": now, "payload": {"answers": t.answer_count, "required": t.required_overlap}}
        for t in tasks])


def adjust_gold(session: Session, project_id: int, rows: Iterable, *, sign: int) -> None:
    """Take rejected control answers out of their workers' gold accuracy (sign -1), or put reversed
    ones back (+1). ``rows`` carry worker_id, is_gold and gold_score."""
    per_worker: dict[int, tuple[int, float]] = {}
    for row in rows:
        if row.is_gold and row.gold_score is not None:
            n, score = per_worker.get(row.worker_id, (0, 0.0))
            per_worker[row.worker_id] = (n + 1, score + row.gold_score)
    for worker_id, (n, score) in sorted(per_worker.items()):
        # A lifted suspension restarts the count at zero: never go below it.
        session.execute(update(WorkerQuality).where(
            WorkerQuality.project_id == project_id, WorkerQuality.worker_id == worker_id).values(
            gold_answers=func.max(WorkerQuality.gold_answers + sign * n, 0) if not is_postgres(session)
            else func.greatest(WorkerQuality.gold_answers + sign * n, 0),
            gold_score=func.max(WorkerQuality.gold_score + sign * score, 0.0) if not is_postgres(session)
            else func.greatest(WorkerQuality.gold_score + sign * score, 0.0)))


def required_overlap(overlap_centi: int, ordinal: int) -> int:
    """Answers a task needs. A fractional overlap spreads the extra answers evenly.

    With overlap 2.5 the tasks alternate 2, 3, 2, 3...: over any run of n
    consecutive tasks the extras add up to n * 0.5 within one.
    """
    base, frac = divmod(overlap_centi, 100)
    return base + ((ordinal + 1) * frac) // 100 - (ordinal * frac) // 100
