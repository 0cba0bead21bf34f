"""Agreement reports: how far annotators agree, per project, batch, label, day and worker.

Computing them reads every answer of a project, so a background job does it and
stores the result with the time it was computed; reading a report is one row.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from ..db import read_session, unit_of_work
from ..models import (
    COUNTED_SQL,
    AgreementReport,
    Assignment,
    AuditRecord,
    ConsensusResult,
    JobRecord,
    Project,
    WorkerQuality,
    utcnow,
)
from ..quality import agreement as metrics
from ..quality import multilabel, ranking
from ..questions import FORM, MULTI_CHOICE, form_of
from .access import Principal, ensure_manage
from .consensus_plan import View

# Below this many answers a missing report is computed in the request itself.
INLINE_ANSWERS = 20_000
BOOTSTRAP_SAMPLES = 200
TOP_WORKERS = 10


def _answers(session, project_id: int) -> list[tuple]:
    return session.execute(text(
        "SELECT task_id, worker_id, batch_id, answer, submitted_at FROM assignments "
        f"WHERE project_id = :p AND {COUNTED_SQL} AND NOT is_gold ORDER BY task_id, id")
        .columns(answer=Assignment.__table__.c.answer.type, submitted_at=Assignment.__table__.c.submitted_at.type),
        {"p": project_id}).all()


def _clean(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 6)


def _categorical_figures(task: np.ndarray, value: np.ndarray, level: str, ci: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {"answers": int(len(task)), "tasks": int(len(np.unique(task)))}
    if len(task) == 0:
        return figures
    alpha = metrics.krippendorff_alpha(task, value, level=level)
    interval = (metrics.bootstrap_ci(task, value, statistic="alpha", level=level, n_boot=BOOTSTRAP_SAMPLES)
                if ci and not math.isnan(alpha) else (None, None))
    figures["alpha"] = {"value": _clean(alpha), "level": level, "ci95": [_clean(interval[0]), _clean(interval[1])]}
    if level == "nominal":
        kappa = metrics.fleiss_kappa(task, value)
        kappa_ci = (metrics.bootstrap_ci(task, value, statistic="fleiss", n_boot=BOOTSTRAP_SAMPLES)
                    if ci and kappa.value is not None and not math.isnan(kappa.value) else (None, None))
        figures["fleiss_kappa"] = {"value": _clean(kappa.value), "reason": kappa.reason,
                                   "ci95": [_clean(kappa_ci[0]), _clean(kappa_ci[1])]}
    figures["percent_agreement"] = _clean(metrics.percent_agreement(task, value))
    return figures


def _encode(project: View, rows: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """task, worker, batch and value arrays for the categorical kinds."""
    task = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    worker = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    batch = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
    if project.kind.agreement == "nominal":
        index = {label: i for i, label in enumerate(project.labels)}
        value = np.fromiter((index.get(r[3]["choice"], -1) for r in rows), dtype=np.int64, count=len(rows))
        # Answers with a label since removed from the schema are left out.
        keep = value >= 0
        task, worker, batch, value = task[keep], worker[keep], batch[keep], value[keep]
    else:
        value = np.fromiter((r[3]["value"] for r in rows), dtype=np.float64, count=len(rows))
    return task, worker, batch, value


def compute_report(*, project_id: int, job_id: str | None = None) -> dict[str, Any]:
    """Compute and store a project's agreement report (the background job's work)."""
    now = utcnow()
    with read_session() as session:
        project = session.get(Project, project_id)
        rows = _answers(session, project_id)
        gold = dict(session.execute(
            select(WorkerQuality.worker_id, WorkerQuality.gold_score / WorkerQuality.gold_answers)
            .where(WorkerQuality.project_id == project_id, WorkerQuality.gold_answers > 0)).all())
    if project.task_type == FORM:
        report = _form_report(project, rows, gold)
    else:
        report = {"task_type": project.task_type, "answers": len(rows),
                  **_question_report(View.of(project), rows, gold, _consensus_values(project, None))}
        report["questions"] = {"answer": {"kind": project.task_type, **{
            k: report[k] for k in ("answers", "project", "batches", "labels", "workers")}}}
    values = {"report": report, "answers_counted": len(rows), "computed_at": now, "job_id": job_id}
    try:
        with unit_of_work() as session:
            stored = session.get(AgreementReport, project_id, with_for_update={"key_share": True})
            if stored is None:
                session.add(AgreementReport(project_id=project_id, **values))
            elif stored.computed_at <= now:
                for key, value in values.items():
                    setattr(stored, key, value)
    except IntegrityError:
        # Another run stored its first report at the same moment; both read the same answers.
        pass
    return {"project_id": project_id, "answers": len(rows), "computed_at": now.isoformat()}


def _question_report(view: View, rows: list[tuple], gold: dict[int, float],
                     consensus: dict[int, dict]) -> dict[str, Any]:
    """One question's figures over its answers (task, worker, batch, answer, submitted_at)."""
    report: dict[str, Any] = {}
    if view.kind.agreement in ("nominal", "interval"):
        task, worker, batch, value = _encode(view, rows)
        levels = ["nominal"] if view.kind.agreement == "nominal" else ["interval", "ordinal"]
        report["project"] = _categorical_figures(task, value, levels[0], ci=True)
        for extra in levels[1:]:
            report["project"][f"alpha_{extra}"] = _clean(metrics.krippendorff_alpha(task, value, level=extra)) \
                if len(task) else None
        report["batches"] = [{"batch_id": int(b), **_categorical_figures(task[batch == b], value[batch == b],
                                                                         levels[0], ci=False)}
                             for b in np.unique(batch)]
        report["labels"] = _per_label(view, task, value)
        report["daily"] = _daily([r for r in rows if _known(view, r[3])], task, value, levels[0])
        coded = {t: c for t, c in ((t, view.kind.code(a, view.config)) for t, a in consensus.items()) if c is not None}
        report["workers"], report["pairwise_kappa"] = _workers(task, worker, value, gold, coded)
    else:
        report.update(_similarity_report(view, rows, gold))
        if view.kind.agreement == "ranking" and rows:
            report["project"].update(_ranking_figures(rows))
        if view.kind is MULTI_CHOICE and rows:
            report["project"].update(_multi_choice_figures(view, rows))
            report["labels"] = report["project"].pop("labels")
    return report


def _ranking_figures(rows: list[tuple]) -> dict[str, Any]:
    """Rankings: the mean over tasks of Kendall's W and of the mean pairwise Kendall tau."""
    try:
        figures = ranking.kendall_w_over_tasks([r[0] for r in rows], [r[1] for r in rows],
                                               [r[3]["order"] for r in rows])
    except ValueError:  # orders of one task over different items (its data changed): no figure
        return {"kendall_w": None, "mean_kendall_tau": None}
    return {"kendall_w": _clean(figures.kendall_w), "mean_kendall_tau": _clean(figures.mean_kendall_tau)}


def _form_report(project: Project, rows: list[tuple], gold: dict[int, float]) -> dict[str, Any]:
    """A form: each question's report under ``questions``; the workers' figures are their mean over questions."""
    form = form_of(project)
    questions, workers = {}, defaultdict(list)
    for question in form.questions:
        view = View(project.id, question.kind, question.config, question.name)
        part = [(t, w, b, a[question.name], at) for t, w, b, a, at in rows if isinstance(a.get(question.name), dict)]
        figures = _question_report(view, part, gold, _consensus_values(project, question.name))
        questions[question.name] = {"kind": question.kind.name, "answers": len(part), **figures}
        for row in figures["workers"]:
            if row["agreement_with_others"] is not None:
                workers[row["worker_id"]].append(row["agreement_with_others"])
    answers = defaultdict(int)
    for _t, w, _b, _a, _at in rows:
        answers[w] += 1
    return {
        "task_type": FORM, "answers": len(rows), "questions": questions,
        "project": {"answers": len(rows), "tasks": len({r[0] for r in rows}),
                    "note": "a form: each question's figures are under questions"},
        "batches": [], "labels": [], "daily": [],
        "workers": [{"worker_id": w, "answers": n, "gold_accuracy": _clean(gold.get(w)),
                     "agreement_with_others": _clean(sum(workers[w]) / len(workers[w])) if workers[w] else None,
                     "agreement_with_consensus": None}
                    for w, n in sorted(answers.items(), key=lambda kv: -kv[1])],
        "pairwise_kappa": {"workers": [], "matrix": []},
    }


def _consensus_values(project: Project, question: str | None) -> dict[int, dict]:
    """The stored consensus per task (of one form question, when ``question`` is named)."""
    with read_session() as session:
        rows = session.execute(select(ConsensusResult.task_id, ConsensusResult.answer).where(
            ConsensusResult.project_id == project.id, ConsensusResult.answers_used > 0)).all()  # not withdrawn
    if question is None:
        return {t: a for t, a in rows if isinstance(a, dict)}
    return {t: a[question] for t, a in rows if isinstance(a, dict) and isinstance(a.get(question), dict)}


def _known(project: View, answer: dict) -> bool:
    return project.kind.agreement != "nominal" or answer["choice"] in project.labels


def _per_label(project: View, task: np.ndarray, value: np.ndarray) -> list[dict[str, Any]]:
    if project.kind.agreement != "nominal" or len(task) == 0:
        return []
    out = []
    for i, label in enumerate(project.labels):
        # One label against the rest: how reliably annotators tell this label apart.
        binary = (value == i).astype(np.int64)
        out.append({"label": label, "share": _clean(binary.mean()),
                    "alpha": _clean(metrics.krippendorff_alpha(task, binary, level="nominal"))})
    return out


def _daily(rows: list[tuple], task: np.ndarray, value: np.ndarray, level: str) -> list[dict[str, Any]]:
    """Figures per day; a task belongs to the day its last answer came in."""
    if not rows:
        return []
    last: dict[int, str] = {}
    for task_id, row in zip(task.tolist(), rows, strict=True):
        day = row[4].date().isoformat()
        if day > last.get(task_id, ""):
            last[task_id] = day
    task_day = np.array([last[t] for t in task.tolist()])
    return [{"date": day, **_categorical_figures(task[task_day == day], value[task_day == day], level, ci=False)}
            for day in sorted(set(last.values()))]


def _with_consensus(worker: np.ndarray, matches: np.ndarray, known: np.ndarray) -> dict[int, float]:
    """Per worker, the share of its answers (on tasks with a consensus) that match it."""
    ids, inverse = np.unique(worker[known], return_inverse=True)
    totals = np.bincount(inverse, weights=matches[known].astype(float), minlength=ids.size)
    counts = np.bincount(inverse, minlength=ids.size)
    return {int(w): float(t / c) for w, t, c in zip(ids, totals, counts, strict=True) if c}


def _workers(task, worker, value, gold: dict[int, float],
             consensus: dict[int, float]) -> tuple[list[dict], dict[str, Any]]:
    if len(task) == 0:
        return [], {"workers": [], "matrix": []}
    ids, agreement, counted = metrics.worker_agreement(task, worker, value)
    answers = dict(zip(*np.unique(worker, return_counts=True), strict=True))
    agreed = {}
    if consensus:
        merged = np.array([consensus.get(int(t), np.nan) for t in task.tolist()], dtype=float)
        known = ~np.isnan(merged)
        agreed = _with_consensus(worker, np.isclose(merged, value.astype(float)), known)
    rows = [{"worker_id": int(w), "answers": int(answers[w]), "agreement_with_others": _clean(a),
             "answers_compared": int(n), "gold_accuracy": _clean(gold.get(int(w))),
             "agreement_with_consensus": _clean(agreed.get(int(w)))}
            for w, a, n in zip(ids, agreement, counted, strict=True)]
    rows.sort(key=lambda r: -r["answers"])
    top = [r["worker_id"] for r in rows[:TOP_WORKERS]]
    matrix = metrics.pairwise_cohen_kappa(task, worker, value, np.array(top, dtype=np.int64)) if top else []
    return rows, {"workers": top, "matrix": [[_clean(x) for x in row] for row in np.asarray(matrix).tolist()]}


def _multi_choice_figures(project: View, rows: list[tuple]) -> dict[str, Any]:
    """Per-label alpha (each label a yes/no judgement) and set agreement (Jaccard, MASI)."""
    labels = project.labels
    index = {label: i for i, label in enumerate(labels)}
    task = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.zeros((len(rows), len(labels)), dtype=bool)
    for i, row in enumerate(rows):
        for choice in row[3]["choices"]:
            if choice in index:  # a label removed from the schema since
                matrix[i, index[choice]] = True
    alphas = multilabel.multi_label_alpha(task, matrix)
    return {"mean_jaccard": _clean(multilabel.mean_jaccard(task, matrix)),
            "mean_masi_agreement": _clean(multilabel.mean_masi_agreement(task, matrix)),
            "labels": [{"label": label, "share": _clean(matrix[:, i].mean()), "alpha": _clean(alphas[i])}
                       for i, label in enumerate(labels)]}


def _similarity_report(project: View, rows: list[tuple], gold: dict[int, float]) -> dict[str, Any]:
    """Kinds without categories: the mean of each task's natural similarity between answers."""
    by_task: dict[int, list] = defaultdict(list)
    batch_of: dict[int, int] = {}
    for task_id, worker_id, batch_id, answer, _at in rows:
        by_task[task_id].append((worker_id, answer))
        batch_of[task_id] = batch_id
    per_task = {t: project.kind.task_agreement([a for _w, a in answers], project.config)
                for t, answers in by_task.items()}
    scored = {t: s for t, s in per_task.items() if s is not None}

    def mean(values):
        values = list(values)
        return _clean(sum(values) / len(values)) if values else None

    batches = defaultdict(list)
    for t, s in scored.items():
        batches[batch_of[t]].append(s)
    workers = defaultdict(list)
    for t, answers in by_task.items():
        if t in scored:
            for worker_id, _answer in answers:
                workers[worker_id].append(scored[t])
    return {
        "project": {"answers": len(rows), "tasks": len(by_task), "mean_task_agreement": mean(scored.values()),
                    "alpha": None, "note": f"{project.kind.name}: agreement is the mean pairwise similarity"},
        "batches": [{"batch_id": b, "mean_task_agreement": mean(v), "tasks": len(v)}
                    for b, v in sorted(batches.items())],
        "labels": [], "daily": [],
        "workers": [{"worker_id": w, "answers": len(v), "agreement_with_others": mean(v),
                     "gold_accuracy": _clean(gold.get(w)), "agreement_with_consensus": None}
                    for w, v in sorted(workers.items(), key=lambda kv: -len(kv[1]))],
        "pairwise_kappa": {"workers": [], "matrix": []},
    }


def _answers_changed_at(session, project_id: int) -> datetime | None:
    """When the project's counted answers last changed: a submit, a review decision (a rejection or
    its reversal), a suspension or its lifting."""
    moments = [
        session.scalar(select(func.max(Assignment.submitted_at)).where(Assignment.project_id == project_id)),
        session.scalar(select(func.max(Assignment.reviewed_at)).where(Assignment.project_id == project_id)),
        session.scalar(select(func.max(AuditRecord.created_at)).where(
            AuditRecord.project_id == project_id,
            AuditRecord.kind.in_(("worker.suspended", "worker.suspension_lifted")))),
    ]
    return max((m for m in moments if m is not None), default=None)


def report_state(*, principal: Principal, project_id: int) -> dict[str, Any]:
    """The stored report and whether newer answers exist. Raises NotFound or Forbidden."""
    principal.require_scope("results:read")
    with read_session() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        stored = session.get(AgreementReport, project_id)
        latest = _answers_changed_at(session, project_id)
        running = None
        if stored is None or (latest is not None and latest > stored.computed_at):
            running = session.scalar(select(JobRecord).where(
                JobRecord.project_id == project_id, JobRecord.kind == "compute_agreement",
                JobRecord.status.in_(("queued", "started"))).order_by(JobRecord.created_at.desc()).limit(1))
            small = stored is None and (session.scalar(select(func.count()).select_from(Assignment).where(
                Assignment.project_id == project_id, Assignment.submitted_at.is_not(None))) or 0) <= INLINE_ANSWERS
        else:
            small = False
    stale = stored is None or (latest is not None and latest > stored.computed_at)
    return {"project": project, "stored": stored, "stale": stale, "running": running, "small": small}


def as_of(stored: AgreementReport | None) -> datetime | None:
    return stored.computed_at if stored else None
