"""The distribution engine: lease tasks to distinct workers, take answers back, never over-fill.

Invariants, kept by row locks on PostgreSQL and by one writer at a time on
SQLite (``BEGIN IMMEDIATE``):

- a task is leased only while ``answer_count + live leases < required_overlap``;
- a worker never gets the same task twice (a unique key on (task, worker));
- claims of one worker are serialized (a lock on the worker row), so
  ``max_active_leases`` holds and a retried claim returns the same lease;
- every change to a task's counters happens under that task's row lock, and
  the claim query re-checks its conditions on the locked row (PostgreSQL's
  EvalPlanQual with ``FOR UPDATE SKIP LOCKED``).

Leases past their expiry free their slot at once: the claim path treats a
task whose ``lease_deadline`` has passed as a candidate and expires its stale
leases under the task lock; a periodic job sweeps the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import LABEL_STYLE_TABLENAME_PLUS_COL, Integer, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from ..db import is_postgres, read_session, unit_of_work
from ..errors import Conflict, Forbidden, NotFound
from ..models import Assignment, Project, Task, Worker, utcnow
from ..models.base import JSONType, utc_param
from ..questions import form_of
from . import budget, counting, quality, workforce, workload
from .access import Principal, ensure_view
from .completion import finish_task
from .picking import TaskView, expire_stale_leases, pick_gold, pick_task

_ASSIGNMENTS = Assignment.__table__


@dataclass
class NoTask:
    """Why a claim found nothing (sent to the client as a reason)."""

    reason: str
    message: str


@dataclass(frozen=True)
class Actor:
    """Who acts on an assignment: one worker, or a vendor key for any of its workers."""

    worker_id: int | None = None
    vendor_organization_id: int | None = None


@dataclass
class Lease:
    assignment: Assignment
    task: Task
    project: Project
    created: bool
    # Set by a submit that completed the task's batch: its follow-up work (consensus) is due.
    batch_completed: bool = False


def _load_lease(session: Session, assignment_id: int, created: bool) -> Lease:
    assignment = session.get(Assignment, assignment_id)
    task = session.get(Task, assignment.task_id)
    project = session.get(Project, assignment.project_id)
    return Lease(assignment, task, project, created)


_PROJECTS = Project.__table__
_PROJECT_COLUMNS = tuple(c.key for c in _PROJECTS.c)
# PostgreSQL: the project (key-share: a budget being set waits for this claim, and this claim sees a
# budget just set) and the worker's lock (claims of one worker are serialized), in one round trip.
_CLAIM_LOCKS_PG = text(
    f"SELECT {', '.join('p.' + c.name for c in _PROJECTS.c)} FROM projects p, workers w "
    "WHERE p.id = :p AND w.id = :w FOR KEY SHARE OF p FOR NO KEY UPDATE OF w"
).columns(*_PROJECTS.c)
# PostgreSQL, once the locks are held (so from a snapshot taken after them): the worker's live
# leases in the project, and its active batches in claim order with their own rates.
_CLAIM_STATE_PG = text(
    "SELECT ARRAY(SELECT id FROM assignments WHERE worker_id = :w AND project_id = :p AND status = 'leased' "
    "AND expires_at > :now ORDER BY id) AS live, b.ids AS batch_ids, b.rates AS batch_rates "
    "FROM (SELECT array_agg(id ORDER BY priority DESC, id) AS ids, "
    "array_agg(reward_amount ORDER BY priority DESC, id) AS rates FROM batches "
    "WHERE project_id = :p AND status = 'active' AND completed_at IS NULL) b"
).bindparams(utc_param("now"))
_LOCK_WORKER = text("SELECT id FROM workers WHERE id = :w FOR NO KEY UPDATE")
_LIVE_LEASES = text(
    "SELECT id FROM assignments WHERE worker_id = :w AND project_id = :p AND status = 'leased' "
    "AND expires_at > :now ORDER BY id").bindparams(utc_param("now"))
_ACTIVE_BATCHES = text(
    "SELECT id, reward_amount FROM batches WHERE project_id = :p AND status = 'active' "
    "AND completed_at IS NULL ORDER BY priority DESC, id")
# PostgreSQL: the task's counters and the lease row in one statement (the task is locked already).
_LEASE_PG = text(
    "WITH t AS (UPDATE tasks SET leased_count = leased_count + 1, "
    "lease_deadline = CASE WHEN lease_deadline IS NULL OR lease_deadline > :expires_at "
    "THEN :expires_at ELSE lease_deadline END WHERE id = :task_id RETURNING id) "
    "INSERT INTO assignments (project_id, batch_id, task_id, worker_id, status, leased_at, expires_at, is_gold, "
    "flagged, reward_amount, reward_currency) "
    "SELECT :project_id, :batch_id, t.id, :worker_id, :status, :leased_at, :expires_at, :is_gold, false, "
    ":reward_amount, :reward_currency FROM t RETURNING id"
).bindparams(utc_param("leased_at"), utc_param("expires_at"))
_TASK_LEASED = text(
    "UPDATE tasks SET leased_count = leased_count + 1, "
    "lease_deadline = CASE WHEN lease_deadline IS NULL OR lease_deadline > :exp "
    "THEN :exp ELSE lease_deadline END WHERE id = :t").bindparams(utc_param("exp"))


def _detached(model, mapping, columns: tuple[str, ...], prefix: str = ""):
    """A model instance built from a row read with Core (attached to no session)."""
    return model(**{key: mapping[prefix + key] for key in columns})


def claim_next_task(*, principal: Principal, project_id: int, worker_id: int) -> Lease | NoTask:
    """Lease the next task of a project to a worker, or say why there is none.

    Returns the worker's live lease again when it already holds
    ``max_active_leases`` of them. Raises NotFound when the project is not visible.
    """
    with unit_of_work() as session:
        pg = is_postgres(session)
        locked = session.execute(_CLAIM_LOCKS_PG, {"p": project_id, "w": worker_id}).first() if pg else None
        if locked is not None:
            project = ensure_view(principal, _detached(Project, locked._mapping, _PROJECT_COLUMNS), project_id)
        else:
            # SQLite (one writer at a time), or no such project (or worker) on PostgreSQL.
            project = ensure_view(principal, session.get(Project, project_id, with_for_update={
                "read": True, "key_share": True} if pg else None), project_id)
        if project.status != "active":
            return NoTask("project_not_active", f"Project {project_id} is {project.status}.")
        if pg and locked is None:
            session.execute(_LOCK_WORKER, {"w": worker_id})
        # Read the clock once the locks are held: a lease is timed from when it is really granted.
        now = utcnow()
        batch_rates = None
        if pg:
            state = session.execute(_CLAIM_STATE_PG, {"w": worker_id, "p": project_id, "now": now}).one()
            live = state.live
            batch_rates = dict(zip(state.batch_ids or (), state.batch_rates or (), strict=True))
        else:
            live = session.execute(_LIVE_LEASES, {"w": worker_id, "p": project_id, "now": now}).scalars().all()
        if len(live) >= project.max_active_leases:
            return _load_lease(session, live[0], created=False)
        standing = None
        if quality.uses_quality_control(project):
            standing = quality.standing(session, project_id, worker_id)
            refused = quality.refusal(session, project, worker_id, standing)
            if refused:
                return NoTask(*refused)
        cap = project.max_answers_per_worker_per_day
        if cap is not None and workload.answers_today(session, project_id=project_id, worker_id=worker_id,
                                                      now=now) >= cap:
            return NoTask("daily_cap_reached", f"You reached today's limit of {cap} answers in this project.")
        if batch_rates is None:
            batch_rates = dict(session.execute(_ACTIVE_BATCHES, {"p": project_id}).all())
        task = pick_task(session, batch_ids=list(batch_rates), worker_id=worker_id, now=now)
        if task is None:
            return NoTask("no_task_available", f"No open task for you in project {project_id} right now.")
        if standing is not None:
            # Re-read under the standing's lock: a suspension committed since the check above is seen here,
            # so no lease is granted after it (the lock order stays worker, task, standing).
            reason = quality.suspension_reason(session, project_id, worker_id)
            if reason is not None:
                return NoTask("suspended", reason)
        gold = standing is not None and quality.wants_gold(project, standing)
        if gold:
            # A control task takes this turn; the regular task found above stays unleased (its lock
            # ends with the transaction). Workers cannot tell the two apart in the response.
            task = pick_gold(session, project_id=project_id, worker_id=worker_id) or task
            gold = task.status == "gold"
        rate = _rate(project, batch_rates.get(task.batch_id), gold=gold)
        if project.budget_amount is not None and not budget.try_commit(session, project_id, rate):
            return NoTask("budget_exhausted", f"Project {project_id} has no budget left for more answers.")
        expires = now + timedelta(seconds=project.lease_seconds)
        values = {"project_id": project_id, "batch_id": task.batch_id, "task_id": task.id, "worker_id": worker_id,
                  "status": "leased", "leased_at": now, "expires_at": expires, "is_gold": gold,
                  "reward_amount": rate, "reward_currency": project.reward_currency}
        # Core statements on the hot path: the ORM's unit of work costs more than the SQL here.
        if pg:
            new_id = session.execute(_LEASE_PG, values).scalar_one()
        else:
            new_id = session.execute(insert(_ASSIGNMENTS).values(**values).returning(_ASSIGNMENTS.c.id)).scalar_one()
            session.execute(_TASK_LEASED, {"t": task.id, "exp": expires})
        if standing is not None:
            # After the task update: locks go task, then quality row, as on the submit path.
            quality.record_claim(session, standing, gold=gold)
        return Lease(Assignment(id=new_id, **values), task, project, created=True)


def _rate(project: Project, batch_rate: int | None, *, gold: bool) -> int:
    """The reward in force for this claim: a control task's own rate, a rush batch's, or the project's."""
    if gold and project.gold_reward_amount is not None:
        return project.gold_reward_amount
    return project.reward_amount if batch_rate is None else batch_rate


def _worker_assignment(session: Session, assignment_id: int, actor: Actor) -> Assignment:
    assignment = session.get(Assignment, assignment_id)
    if assignment is not None:
        if actor.worker_id is not None and assignment.worker_id == actor.worker_id:
            return assignment
        if actor.worker_id is None and actor.vendor_organization_id is not None:
            worker = session.get(Worker, assignment.worker_id)
            if worker.organization_id == actor.vendor_organization_id and worker.user_id is None:
                return assignment
    raise NotFound(f"Assignment {assignment_id} not found.")


def get_assignment(*, assignment_id: int, actor: Actor) -> Lease:
    """One of the worker's assignments. Raises NotFound for anyone else's."""
    with read_session() as session:
        assignment = _worker_assignment(session, assignment_id, actor)
        return _load_lease(session, assignment.id, created=False)


def _lock_task(session: Session, task_id: int) -> Task:
    # NO KEY UPDATE: it does not block the key-share locks that foreign-key checks take.
    return session.get(Task, task_id, with_for_update={"key_share": True}, populate_existing=True)


_TASKS = Task.__table__


class _LockedTask(NamedTuple):
    id: int
    batch_id: int
    external_id: str | None
    data: dict
    status: str
    answer_count: int
    required_overlap: int
    gold: dict | None


_ASSIGNMENT_COLUMNS = tuple(c.key for c in _ASSIGNMENTS.c)
_LOCKED_TASK_COLUMNS = _LockedTask._fields
_LOCK_TASK = (select(*(_TASKS.c[key] for key in _LOCKED_TASK_COLUMNS))
              .where(_TASKS.c.id == bindparam("t")).with_for_update(key_share=True))
# PostgreSQL, a worker's own assignment: the assignment, its project and its task, the task locked.
# The task row is the locked (latest) version; the assignment's status is re-checked by the update.
_SUBMIT_LOAD_PG = (
    select(*_ASSIGNMENTS.c, *(_TASKS.c[key] for key in _LOCKED_TASK_COLUMNS), *_PROJECTS.c)
    .select_from(_ASSIGNMENTS.join(_TASKS, _TASKS.c.id == _ASSIGNMENTS.c.task_id)
                 .join(_PROJECTS, _PROJECTS.c.id == _ASSIGNMENTS.c.project_id))
    .where(_ASSIGNMENTS.c.id == bindparam("a"), _ASSIGNMENTS.c.worker_id == bindparam("w"))
    .with_for_update(of=_TASKS, key_share=True)
    .set_label_style(LABEL_STYLE_TABLENAME_PLUS_COL)
)
# PostgreSQL: an on-time answer and the task's counters in one statement (no row when not on time).
_SUBMIT_ON_TIME_PG = text(
    "WITH a AS (UPDATE assignments SET status = :status, answer = :answer, submitted_at = :submitted_at, "
    "ended_at = :ended_at, active_seconds = :active_seconds, review_status = :review_status "
    "WHERE id = :a AND status = 'leased' AND expires_at > :submitted_at RETURNING id) "
    "UPDATE tasks SET answer_count = answer_count + 1, leased_count = leased_count - 1 FROM a "
    "WHERE tasks.id = :t RETURNING tasks.answer_count, tasks.required_overlap"
).bindparams(utc_param("submitted_at"), utc_param("ended_at"), bindparam("answer", type_=JSONType),
             bindparam("active_seconds", type_=Integer()))
_TASK_ANSWERED = text("UPDATE tasks SET answer_count = answer_count + 1, leased_count = leased_count - :d "
                      "WHERE id = :t RETURNING answer_count, required_overlap")
_OTHER_LIVE_LEASES = text(
    "SELECT count(*) FROM assignments WHERE task_id = :t AND status = 'leased' AND expires_at > :now "
    "AND id <> :a").bindparams(utc_param("now"))


def submit_answer(*, assignment_id: int, actor: Actor, answer: Any,
                  active_seconds: int | None = None) -> Lease:
    """Record the worker's answer. Safe to retry with the same answer.

    Raises NotFound (not the worker's), Forbidden (worker_suspended: the worker is
    suspended from the project; its live leases end), ValidationError (answer does
    not fit the schema), Conflict (a different answer was already given, the assignment was
    released, or the lease expired and the task needs no more answers).
    """
    # PostgreSQL, a worker acting for itself (the common case): fewer round trips, the same checks.
    fast = actor.worker_id is not None and is_postgres()
    if not fast:
        with read_session() as session:
            assignment = _worker_assignment(session, assignment_id, actor)
            project = session.get(Project, assignment.project_id)
    now = utcnow()
    with unit_of_work() as session:
        # Every change to a task's counters happens under its row lock; take it first.
        if fast:
            row = session.execute(_SUBMIT_LOAD_PG, {"a": assignment_id, "w": actor.worker_id}).first()
            if row is None:
                raise NotFound(f"Assignment {assignment_id} not found.")
            mapping = row._mapping
            assignment = _detached(Assignment, mapping, _ASSIGNMENT_COLUMNS, "assignments_")
            project = _detached(Project, mapping, _PROJECT_COLUMNS, "projects_")
            task = _LockedTask(*(mapping["tasks_" + key] for key in _LOCKED_TASK_COLUMNS))
        else:
            task = session.execute(_LOCK_TASK, {"t": assignment.task_id}).one()
        if quality.uses_quality_control(project):
            _refuse_if_suspended(session, project.id, assignment.worker_id, assignment_id, now)
        answer = form_of(project).check_answer(answer, task.data)
        if task.status == "complete":
            current = session.execute(select(_ASSIGNMENTS.c.status, _ASSIGNMENTS.c.expires_at).where(
                _ASSIGNMENTS.c.id == assignment_id)).one()
            if current.status == "leased" and current.expires_at > now:
                # A live lease on a complete task: the overlap was lowered. The task needs no more answers.
                raise Conflict("The task already has all the answers it needs.", code="task_complete")
        values = {"status": "submitted", "answer": answer, "submitted_at": now, "ended_at": now,
                  "active_seconds": active_seconds, "review_status": "pending"}
        by_id = _ASSIGNMENTS.c.id == assignment_id
        batch_completed = False
        counts = None
        if fast:
            # On time (the common case): the answer and the task's counters in one statement.
            counts = session.execute(_SUBMIT_ON_TIME_PG, {**values, "a": assignment_id, "t": task.id}).first()
            on_time = counts is not None
        else:
            on_time = session.execute(update(_ASSIGNMENTS).where(
                by_id, _ASSIGNMENTS.c.status == "leased", _ASSIGNMENTS.c.expires_at > now).values(**values)).rowcount
        freed_lease = 1
        if not on_time:
            current = session.execute(select(_ASSIGNMENTS).where(by_id)).one()
            if current.status == "submitted":
                if current.answer == answer:
                    return Lease(Assignment(**current._asdict()), TaskView(task.id, task.batch_id, task.external_id,
                                                                           task.data), project, created=False)
                raise Conflict("This assignment already has a different answer.", code="already_submitted",
                               details={"assignment_id": assignment_id})
            if current.status == "released":
                raise Conflict("This assignment was released; its task went back to the pool.",
                               code="assignment_released")
            others = session.execute(_OTHER_LIVE_LEASES, {"t": task.id, "now": now, "a": assignment_id}).scalar_one()
            full = task.status != "open" or task.answer_count + others >= task.required_overlap
            if task.status != "gold" and full:
                raise Conflict("The lease expired and the task already has all the answers it needs.",
                               code="lease_expired", details={"expired_at": current.expires_at.isoformat()})
            # A late answer the task still needs: keep it. Its slot was freed already if the lease was swept.
            freed_lease = 1 if current.status == "leased" else 0
            # A swept lease gave its reward back to the budget: the late answer must fit it again.
            if not freed_lease and not budget.try_commit(session, project.id, current.reward_amount,
                                                         unbudgeted=True):
                raise Conflict("The lease expired and the project's budget has no room for this answer now.",
                               code="budget_exhausted")
            session.execute(update(_ASSIGNMENTS).where(by_id).values(**values))
        if counts is None:
            counts = session.execute(_TASK_ANSWERED, {"d": freed_lease, "t": task.id}).one()
        answers, required = counts
        suspended_now = False
        if task.status == "gold":
            values["gold_score"], suspended_now = quality.score_gold_answer(
                session, project, worker_id=assignment.worker_id, answer=answer, gold=task.gold, now=now)
            session.execute(update(_ASSIGNMENTS).where(by_id).values(gold_score=values["gold_score"], is_gold=True))
        elif answers >= required:
            batch_completed = finish_task(session, project, task_id=task.id, batch_id=task.batch_id, answers=answers,
                         required=required, now=now)
        for key, value in values.items():
            setattr(assignment, key, value)
        lease = Lease(assignment, TaskView(task.id, task.batch_id, task.external_id, task.data), project,
                      created=False)
        lease.batch_completed = batch_completed
    if suspended_now:
        workforce.settle_suspension(project_id=project.id, worker_id=assignment.worker_id)
    return lease


def _refuse_if_suspended(session: Session, project_id: int, worker_id: int, assignment_id: int,
                         now: datetime) -> None:
    """Refuse an answer from a worker suspended from the project (a retry of one it gave before the
    suspension still replays). Its live leases end first, and that is committed before the refusal."""
    reason = quality.suspension_reason(session, project_id, worker_id)
    if reason is None:
        return
    status = session.scalar(select(_ASSIGNMENTS.c.status).where(_ASSIGNMENTS.c.id == assignment_id))
    if status == "submitted":
        return
    quality.end_leases(session, project_id, worker_id, now=now, skip_locked=True)
    session.commit()
    raise Forbidden(f"You are suspended from project {project_id}; this answer is not accepted.",
                    code="worker_suspended", details={"reason": reason, "assignment_id": assignment_id})


def release_assignment(*, assignment_id: int, actor: Actor, reason: str | None = None) -> Lease:
    """Give a leased task back. Repeating it is harmless. Raises NotFound, or Conflict once submitted."""
    now = utcnow()
    with unit_of_work() as session:
        assignment = _worker_assignment(session, assignment_id, actor)
        task = _lock_task(session, assignment.task_id)
        assignment = session.get(Assignment, assignment_id, populate_existing=True)
        if assignment.status == "submitted":
            raise Conflict("This assignment was already submitted.", code="already_submitted")
        if assignment.status == "leased":
            assignment.status = "released"
            assignment.ended_at = now
            assignment.release_reason = (reason or "")[:500] or None
            task.leased_count -= 1
            budget.uncommit(session, assignment.project_id, assignment.reward_amount)
            session.flush()
            counting.complete_if_full(session, task.id, now=now)
        session.flush()
        return _load_lease(session, assignment.id, created=False)


def expire_leases(*, limit: int = 1000) -> int:
    """Mark leases past their expiry as expired and free their slots. Returns how many."""
    now = utcnow()
    total = 0
    while True:
        with unit_of_work() as session:
            pg = is_postgres(session)
            task_ids = session.execute(
                text("SELECT DISTINCT task_id FROM assignments WHERE status = 'leased' AND expires_at <= :now "
                     "LIMIT :limit").bindparams(utc_param("now")), {"now": now, "limit": limit}).scalars().all()
            if not task_ids:
                return total
            if pg:
                locked = session.execute(
                    text("SELECT id FROM tasks WHERE id IN :ids ORDER BY id FOR NO KEY UPDATE SKIP LOCKED")
                    .bindparams(bindparam("ids", expanding=True)), {"ids": list(task_ids)}).scalars().all()
            else:
                locked = list(task_ids)
            for task_id in locked:
                total += expire_stale_leases(session, task_id, now)
            if len(task_ids) < limit or not locked:
                return total
