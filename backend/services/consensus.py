"""Consensus: merge each task's answers into one trusted answer, per the project's method.

A run reads the counted answers (submitted, not from suspended workers, not on
control tasks), computes every task's result in memory with ``backend.quality``
and then, in one transaction, replaces the results of the batches it covers.
A run that dies half-way leaves the previous results untouched.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, func, insert, select, text, tuple_

from ..db import read_session, unit_of_work
from ..errors import ValidationError
from ..models import Assignment, Batch, ConsensusResult, ConsensusRun, Event, Project, Task, WorkerQuality, utcnow
from ..quality import consensus as algorithms
from ..quality import structured
from . import review
from .access import Principal, ensure_manage
from .pagination import Page, decode_cursor, encode_cursor, paginate

METHODS: dict[str, tuple[str, ...]] = {
    "single_choice": ("dawid_skene", "majority", "weighted_majority", "one_coin"),
    "multi_choice": ("majority", "dawid_skene"),
    "rating": ("median", "mean"),
    "bounding_boxes": ("box_cluster",),
    "text_spans": ("span_vote",),
    "free_text": ("medoid",),
}


def default_method(project: Project) -> str:
    return project.consensus_method or METHODS[project.task_type][0]


def check_method(project: Project, method: str | None) -> str:
    """The method to use; raises ValidationError for one that does not fit the task type."""
    method = method or default_method(project)
    if method not in METHODS[project.task_type]:
        raise ValidationError(f"method: {project.task_type} projects take {', '.join(METHODS[project.task_type])}",
                              details={"fields": {"method": [f"not available for {project.task_type}"]}})
    return method


def _rows(session, project_id: int, batch_ids: list[int] | None) -> list[tuple]:
    sql = ("SELECT task_id, batch_id, worker_id, answer FROM assignments WHERE project_id = :p "
           "AND status = 'submitted' AND NOT flagged AND NOT is_gold")
    params: dict[str, Any] = {"p": project_id}
    stmt = text(sql + (" AND batch_id IN :b" if batch_ids else "") + " ORDER BY task_id, id")
    if batch_ids:
        stmt = stmt.bindparams(bindparam("b", expanding=True))
        params["b"] = batch_ids
    return session.execute(stmt.columns(answer=Assignment.__table__.c.answer.type), params).all()


def _categorical(project: Project, rows: list[tuple], method: str, weights: dict[int, float]) -> list[dict]:
    labels = project.labels
    index = {label: i for i, label in enumerate(labels)}
    task = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    worker = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
    value = np.fromiter((index.get(r[3]["choice"], -1) for r in rows), dtype=np.int64, count=len(rows))
    keep = value >= 0  # answers with a label since removed from the schema are left out
    task, worker, value = task[keep], worker[keep], value[keep]
    if not len(task):
        return []
    if method == "majority":
        result = algorithms.majority_vote(task, worker, value, n_classes=len(labels))
    elif method == "weighted_majority":
        result = algorithms.weighted_majority(task, worker, value, weights, n_classes=len(labels))
    elif method == "one_coin":
        result = algorithms.one_coin_dawid_skene(task, worker, value, n_classes=len(labels))
    else:
        result = algorithms.dawid_skene(task, worker, value, n_classes=len(labels))
    used = dict(zip(*np.unique(task, return_counts=True), strict=True))
    ties = getattr(result, "tie", None)
    return [{"task_id": int(t), "answer": {"choice": labels[int(code)]}, "confidence": float(conf),
             "answers_used": int(used[t]), "flagged": bool(ties[i]) if ties is not None else False,
             "details": {"tie": bool(ties[i])} if ties is not None and ties[i] else None}
            for i, (t, code, conf) in enumerate(zip(result.task, result.label, result.confidence, strict=True))]


def _multi_choice(project: Project, rows: list[tuple], method: str) -> list[dict]:
    labels = project.labels
    index = {label: i for i, label in enumerate(labels)}
    task = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    worker = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.zeros((len(rows), len(labels)), dtype=bool)
    for i, row in enumerate(rows):
        for choice in row[3]["choices"]:
            if choice in index:
                matrix[i, index[choice]] = True
    task_ids, decided, confidence = algorithms.multi_label_consensus(task, worker, matrix, method=method)
    used = dict(zip(*np.unique(task, return_counts=True), strict=True))
    return [{"task_id": int(t), "answer": {"choices": [labels[j] for j in np.flatnonzero(decided[i])]},
             "confidence": float(np.mean(confidence[i])), "answers_used": int(used[t]), "flagged": False,
             "details": {"label_confidence": {labels[j]: round(float(confidence[i][j]), 6)
                                              for j in range(len(labels))}}}
            for i, t in enumerate(task_ids)]


def _per_task(project: Project, rows: list[tuple], method: str) -> list[dict]:
    by_task: dict[int, list[dict]] = defaultdict(list)
    for task_id, _batch, _worker, answer in rows:
        by_task[task_id].append(answer)
    out = []
    for task_id, answers in by_task.items():
        if project.task_type == "rating":
            values = np.array([a["value"] for a in answers], dtype=float)
            median, mean, spread = float(np.median(values)), float(values.mean()), float(values.std())
            chosen = median if method == "median" else mean
            span = (project.label_config["max"] - project.label_config["min"]) or 1
            out.append({"task_id": task_id, "answer": {"value": chosen}, "confidence": max(0.0, 1 - spread / span),
                        "answers_used": len(answers), "flagged": False,
                        "details": {"median": median, "mean": mean, "std": spread}})
            continue
        if project.task_type == "bounding_boxes":
            merged = structured.box_consensus([a["boxes"] for a in answers])
            answer, confidence = {"boxes": merged["boxes"]}, merged["confidence"]
        elif project.task_type == "text_spans":
            merged = structured.span_consensus([a["spans"] for a in answers])
            answer, confidence = {"spans": merged["spans"]}, merged["confidence"]
        else:
            merged = structured.text_medoid([a["text"] for a in answers])
            answer, confidence = {"text": merged["text"]}, merged["confidence"]
        out.append({"task_id": task_id, "answer": answer, "confidence": float(confidence),
                    "answers_used": len(answers), "flagged": False, "details": None})
    return out


def run_consensus(*, project_id: int, method: str | None = None, batch_ids: list[int] | None = None,
                  job_id: str | None = None) -> dict[str, Any]:
    """Compute and store consensus for a project or some of its batches (the job's work). Safe to rerun."""
    with read_session() as session:
        project = session.get(Project, project_id)
        method = check_method(project, method)
        rows = _rows(session, project_id, batch_ids)
        weights = dict(session.execute(
            select(WorkerQuality.worker_id, WorkerQuality.gold_score / WorkerQuality.gold_answers)
            .where(WorkerQuality.project_id == project_id, WorkerQuality.gold_answers > 0)).all())
    batch_of = {r[0]: r[1] for r in rows}
    if not rows:
        results = []
    elif project.task_type == "single_choice":
        results = _categorical(project, rows, method, weights)
    elif project.task_type == "multi_choice":
        results = _multi_choice(project, rows, method)
    else:
        results = _per_task(project, rows, method)
    now = utcnow()
    with unit_of_work() as session:
        # The project lock orders runs, so versions are gap-free and replacements never interleave.
        session.execute(select(Project.id).where(Project.id == project_id).with_for_update(key_share=True))
        version = (session.scalar(select(func.max(ConsensusRun.version)).where(
            ConsensusRun.project_id == project_id)) or 0) + 1
        run = ConsensusRun(project_id=project_id, version=version, method=method, batch_ids=batch_ids,
                           status="finished", tasks=len(results), job_id=job_id, created_at=now, finished_at=now,
                           details={"answers": len(rows)})
        session.add(run)
        session.flush()
        scope = delete(ConsensusResult).where(ConsensusResult.project_id == project_id)
        if batch_ids:
            scope = scope.where(ConsensusResult.batch_id.in_(batch_ids))
        session.execute(scope)
        if results:
            session.execute(insert(ConsensusResult), [
                {**r, "project_id": project_id, "batch_id": batch_of[r["task_id"]], "run_id": run.id,
                 "method": method, "computed_at": now} for r in results])
        approved = review.approve_agreeing(session, project, results, now=now) if project.auto_approve_consensus \
            else 0
        session.add(Event(kind="consensus.ready", project_id=project_id, created_at=now,
                          payload={"run_id": run.id, "version": version, "method": method, "tasks": len(results),
                                   "batch_ids": batch_ids}))
    return {"run_id": run.id, "version": version, "method": method, "tasks": len(results), "answers": len(rows),
            "approved": approved}


def prepare_run(*, principal: Principal, project_id: int, method: str | None,
                batch_ids: list[int] | None) -> tuple[Project, str]:
    """Check a consensus request before its job is queued. Raises NotFound, Forbidden, ValidationError."""
    principal.require_scope("results:read")
    with read_session() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        method = check_method(project, method)
        if batch_ids:
            found = set(session.scalars(select(Batch.id).where(Batch.project_id == project_id,
                                                               Batch.id.in_(batch_ids))))
            missing = sorted(set(batch_ids) - found)
            if missing:
                raise ValidationError(f"batch_ids: not batches of project {project_id}: {missing}",
                                      details={"fields": {"batch_ids": [f"unknown: {missing}"]}})
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
