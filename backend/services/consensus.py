"""Consensus: merge each task's answers into one trusted answer, per the project's method.

A run reads the counted answers (``COUNTED_SQL``: submitted, not flagged, not rejected; never on
control tasks), computes in memory with ``backend.quality`` what it has to write
(``consensus_plan``: model-based methods fit the whole project and re-version what moved), and then,
in one transaction, writes those results under a new ``consensus_runs`` version, with each written
task's agreement and, for a model, the fitted parameters the next run starts from. Results it does
not rewrite keep their run. A run that dies half-way leaves the previous results untouched.

Runs of a project are serialized (an advisory lock on PostgreSQL, the write lock on SQLite) and
take their run id under it, so run ids are in commit order, which incremental sync relies on. The
reading and computing happen before the lock; if another run committed meanwhile, what was read
is stale and the run starts again (the last attempt reads under the lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, tuple_

from ..db import is_postgres, read_session, unit_of_work
from ..errors import ValidationError
from ..models import Batch, ConsensusResult, ConsensusRun, Event, Project, Task, utcnow
from ..questions import methods_of
from . import consensus_data as data
from . import consensus_plan, consensus_store, review
from .access import Principal, ensure_manage
from .consensus_data import Scope
from .pagination import Page, decode_cursor, encode_cursor, paginate

_ATTEMPTS = 3
# pg_advisory_xact_lock(namespace, project id): one consensus writer per project at a time.
_LOCK_NAMESPACE = 0x436F6E73


def default_method(project: Project) -> str:
    return project.consensus_method or methods_of(project)[0]


def check_method(project: Project, method: str | None) -> str:
    """The method to use; raises ValidationError for one that does not fit the task type. A form's
    questions each use their own method (``per_question``)."""
    method = method or default_method(project)
    methods = methods_of(project)
    if method not in methods:
        raise ValidationError(f"method: {project.task_type} projects take {', '.join(methods)}",
                              details={"fields": {"method": [f"not available for {project.task_type}"]}})
    return method


def _check_scope(session, project_id: int, batch_ids: Sequence[int] | None, task_ids: Sequence[int] | None) -> None:
    """Raises ValidationError naming the batches or tasks that are not the project's."""
    for name, model, ids in (("batch_ids", Batch, batch_ids), ("task_ids", Task, task_ids)):
        if not ids:
            continue
        wanted = sorted(set(ids))
        found: set[int] = set()
        for start in range(0, len(wanted), 5_000):
            chunk = wanted[start:start + 5_000]
            found |= set(session.scalars(select(model.id).where(model.project_id == project_id, model.id.in_(chunk))))
        missing = [i for i in wanted if i not in found]
        if missing:
            kind = "batches" if name == "batch_ids" else "tasks"
            shown = missing[:20]
            raise ValidationError(f"{name}: not {kind} of project {project_id}: {shown}",
                                  details={"fields": {name: [f"unknown: {shown}"]}})


def _last_run(session, project_id: int) -> int:
    return session.scalar(select(func.max(ConsensusRun.id)).where(ConsensusRun.project_id == project_id)) or 0


def _lock_runs(session, project_id: int) -> None:
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :p)"), {"ns": _LOCK_NAMESPACE, "p": project_id})


def _scope(batch_ids: Sequence[int] | None, task_ids: Sequence[int] | None) -> Scope:
    return Scope(tuple(sorted(set(batch_ids))) if batch_ids else None,
                 tuple(sorted(set(task_ids))) if task_ids is not None else None)


def run_consensus(*, project_id: int, method: str | None = None, batch_ids: Sequence[int] | None = None,
                  task_ids: Sequence[int] | None = None, job_id: str | None = None) -> dict[str, Any]:
    """Compute and store consensus (the job's work). Safe to rerun.

    ``batch_ids``: every task of those batches (a completed batch). ``task_ids``: tasks whose counted
    answers changed (a rejection, a reversed rejection, a suspension), recomputed if they have a
    result; a task left without counted answers gets a withdrawn result (answer null). Neither: the
    whole project. Model-based methods always fit every counted answer of the project and also
    rewrite the stored results that the new fit changes. Call it after the change has committed.
    Raises ValidationError for a method that does not fit, or batches or tasks of another project.
    """
    scope = _scope(batch_ids, task_ids)
    for attempt in range(_ATTEMPTS):
        final = attempt == _ATTEMPTS - 1
        if not final:
            with read_session() as session:
                project, method_used = _checked(session, project_id, method, batch_ids, task_ids)
                seen = _last_run(session, project_id)
                planned = consensus_plan.plan(session, project, method_used, scope)
        with unit_of_work() as session:
            _lock_runs(session, project_id)
            if final:
                project, method_used = _checked(session, project_id, method, batch_ids, task_ids)
                planned = consensus_plan.plan(session, project, method_used, scope)
            elif _last_run(session, project_id) != seen:
                continue  # another run wrote meanwhile: compare against what it wrote
            return _store(session, project_id, method_used, batch_ids, scope, planned, job_id)
    raise AssertionError("unreachable")


def _checked(session, project_id: int, method: str | None, batch_ids, task_ids) -> tuple[Project, str]:
    project = session.get(Project, project_id)
    if project is None:
        raise ValidationError(f"project_id: no project {project_id}", details={"fields": {"project_id": ["unknown"]}})
    method = check_method(project, method)
    _check_scope(session, project_id, batch_ids, task_ids)
    return project, method


def _store(session, project_id: int, method: str, batch_ids, scope: Scope, planned: consensus_plan.Plan,
           job_id: str | None) -> dict[str, Any]:
    now = utcnow()
    project = session.get(Project, project_id)
    version = (session.scalar(select(func.max(ConsensusRun.version)).where(
        ConsensusRun.project_id == project_id)) or 0) + 1
    details = {"answers": planned.answers, "task_ids": len(scope.task_ids) if scope.task_ids is not None else None,
               **planned.details}
    run = ConsensusRun(project_id=project_id, version=version, method=method,
                       batch_ids=list(batch_ids) if batch_ids else None, status="finished",
                       tasks=len(planned.results), job_id=job_id, created_at=now, finished_at=now, details=details)
    session.add(run)
    session.flush()
    data.write_results(session, planned.results, project_id=project_id, run_id=run.id, method=method, computed_at=now)
    data.write_agreement(session, planned.agreement)
    if planned.model is not None:
        labels, params = planned.model
        consensus_store.save_model(session, project_id=project_id, method=method, run_id=run.id, labels=labels,
                                   params=params, answers=planned.answers, now=now,
                                   results=planned.stored_after)
    approved = 0
    if project.auto_approve_consensus:
        approved = review.approve_agreeing(session, project, [r for r in planned.results if r["answers_used"]],
                                           now=now)
    session.add(Event(kind="consensus.ready", project_id=project_id, created_at=now,
                      payload={"run_id": run.id, "version": version, "method": method,
                               "tasks": len(planned.results), "batch_ids": run.batch_ids}))
    return {"run_id": run.id, "version": version, "method": method, "tasks": len(planned.results),
            "answers": planned.answers, "approved": approved, "revised": planned.details.get("revised", 0),
            "withdrawn": planned.details.get("withdrawn", 0)}


def compute_results(*, project_id: int, method: str | None = None) -> dict[int, dict[str, Any]]:
    """What a fresh run over the whole project would store (fitted from the majority vote), by task,
    without storing anything: for checks and benchmarks. Raises ValidationError as run_consensus."""
    with read_session() as session:
        project, method = _checked(session, project_id, method, None, None)
        planned = consensus_plan.plan(session, project, method, Scope(), warm=False)
    return {r["task_id"]: {**r, "method": method} for r in planned.results}


def prepare_run(*, principal: Principal, project_id: int, method: str | None,
                batch_ids: list[int] | None, task_ids: list[int] | None = None) -> tuple[Project, str]:
    """Check a consensus request before its job is queued. Raises NotFound, Forbidden, ValidationError."""
    principal.require_scope("results:read")
    with read_session() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        method = check_method(project, method)
        _check_scope(session, project_id, batch_ids, task_ids)
    return project, method


def list_results(*, principal: Principal, project_id: int, limit: int, cursor: str | None,
                 batch_id: int | None = None, min_confidence: float | None = None,
                 max_confidence: float | None = None, flagged: bool | None = None,
                 updated_since: datetime | None = None) -> Page:
    """A project's consensus results with their tasks, in task order. Raises NotFound or Forbidden.

    Incremental sync (``updated_since``, or a cursor from ``Page.sync_cursor``): results come in the
    order they were written, (run, task). Runs of a project are serialized by its row lock and take
    their ids under it, so that order is the commit order: a client that keeps polling with the last
    sync cursor sees every new or recomputed result once, and misses none.
    """
    principal.require_scope("results:read")
    after = decode_cursor(cursor)
    if isinstance(after, str) and not after.startswith("s:"):
        raise ValidationError("cursor: not a cursor this server issued",
                              details={"fields": {"cursor": ["invalid cursor"]}})
    sync = updated_since is not None or (isinstance(after, str) and after.startswith("s:"))
    with read_session() as session:
        ensure_manage(principal, session.get(Project, project_id), project_id)
        stmt = (select(ConsensusResult, Task.external_id, Task.data, Task.flagged.label("task_flagged"))
                .join(Task, Task.id == ConsensusResult.task_id)
                .where(ConsensusResult.project_id == project_id))
        if batch_id is not None:
            stmt = stmt.where(ConsensusResult.batch_id == batch_id)
        if min_confidence is not None:
            stmt = stmt.where(ConsensusResult.confidence >= min_confidence)
        if max_confidence is not None:
            stmt = stmt.where(ConsensusResult.confidence <= max_confidence)
        if flagged is not None:
            stmt = stmt.where((ConsensusResult.flagged | Task.flagged).is_(flagged) if flagged
                              else ~(ConsensusResult.flagged | Task.flagged))
        if sync:
            if updated_since is not None:
                stmt = stmt.where(ConsensusResult.computed_at > updated_since)
            if after is not None:
                run_id, task_id = _sync_position(after)
                stmt = stmt.where(tuple_(ConsensusResult.run_id, ConsensusResult.task_id) > tuple_(run_id, task_id))
            order = (ConsensusResult.run_id, ConsensusResult.task_id)
        else:
            if after is not None:
                stmt = stmt.where(ConsensusResult.task_id > after)
            order = (ConsensusResult.task_id,)
        rows = session.execute(stmt.order_by(*order).limit(limit + 1)).all()
    items = [{"task_id": r.ConsensusResult.task_id, "external_id": r.external_id, "data": r.data,
              "batch_id": r.ConsensusResult.batch_id,
              "consensus": {"answer": r.ConsensusResult.answer, "confidence": r.ConsensusResult.confidence,
                            "method": r.ConsensusResult.method, "answers_used": r.ConsensusResult.answers_used,
                            "details": r.ConsensusResult.details},
              "flagged": bool(r.ConsensusResult.flagged or r.task_flagged), "run_id": r.ConsensusResult.run_id,
              "computed_at": r.ConsensusResult.computed_at} for r in rows[:limit]]
    if not sync:
        return Page(items, encode_cursor(items[-1]["task_id"]) if len(rows) > limit else None)
    position = f"s:{items[-1]['run_id']}:{items[-1]['task_id']}" if items else (
        after if isinstance(after, str) else "s:0:0")
    page = Page(items, encode_cursor(position) if len(rows) > limit else None)
    page.sync_cursor = encode_cursor(position)
    return page


def _sync_position(after) -> tuple[int, int]:
    try:
        _s, run_id, task_id = str(after).split(":")
        return int(run_id), int(task_id)
    except ValueError as exc:
        raise ValidationError("cursor: not a cursor this server issued",
                              details={"fields": {"cursor": ["invalid cursor"]}}) from exc


def task_consensus(*, task_id: int) -> dict | None:
    """The stored consensus of one task, as the results list shows it."""
    with read_session() as session:
        row = session.get(ConsensusResult, task_id)
    if row is None:
        return None
    return {"answer": row.answer, "confidence": row.confidence, "method": row.method,
            "answers_used": row.answers_used, "details": row.details, "computed_at": row.computed_at}


def runs(*, principal: Principal, project_id: int, limit: int, cursor: str | None) -> Page:
    """A project's consensus runs, newest first (one per completed batch, so pages)."""
    principal.require_scope("results:read")
    with read_session() as session:
        ensure_manage(principal, session.get(Project, project_id), project_id)
        return paginate(session, select(ConsensusRun).where(ConsensusRun.project_id == project_id),
                        ConsensusRun.id, limit=limit, cursor=cursor, newest_first=True)
