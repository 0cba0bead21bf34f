"""What a consensus run writes: each task type's results, and which of them are new or changed.

Two kinds of method:

- Model-based methods (single_choice dawid_skene, one_coin and weighted_majority, multi_choice
  dawid_skene) learn about workers from every counted answer of the project, so each run fits the
  whole project, and its results for tasks outside the run's scope may move too. The plan writes
  the tasks in scope, and every other stored result whose answer, flag or answer count changed,
  or whose confidence moved by more than ``CONFIDENCE_TOLERANCE``; stored results that did not
  change keep their run. The stored results of the project therefore always equal, within that
  tolerance, what a fresh run over the whole project would give.
- Per-task methods (majority, median, mean, box_cluster, span_vote, medoid) decide each task from
  its own answers: only the tasks in scope are computed.

Scope: a batch run covers every task of its batches; a task run (``task_ids``: tasks whose counted
answers changed) covers those of its tasks that already have a result (the others get theirs when
their batch completes); a run without either covers the whole project. A task in scope, or for a
model-based method any task, that had a result and has no counted answer left gets a withdrawn
result: answer null, confidence 0, answers_used 0, flagged, details.reason "no_counted_answers".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import ConsensusRun, Project, WorkerQuality
from ..quality import consensus as algorithms
from ..questions import FORM, KINDS, MULTI_CHOICE, QuestionKind, form_of
from . import consensus_data as data
from . import consensus_store as store
from .consensus_data import Scope

# Stored confidences stay within this of the whole-project model's; a smaller move is not a change.
# Every batch moves every worker's matrix a little, so every task's posterior: after a 500-task batch
# on a project of a million answers (three a task) a fifth of all tasks move by more than 0.001,
# one in a hundred by more than 0.01 (docs/BENCHMARKS.md). Re-versioning the former would resend a
# fifth of the project to every syncing client after every batch.
CONFIDENCE_TOLERANCE = 0.01
# Fits stop once an EM step moves no posterior by more than this. On a crowd of 2,000 workers with
# 75 answers each (three a task, 15% of workers answering at random) that leaves every posterior
# within 0.001 of the optimum (1e-4 with 500 answers each): well inside CONFIDENCE_TOLERANCE.
POSTERIOR_TOL = 1e-5
MAX_ITER = 2_000
# A run fits its model from the majority vote, as a fresh run over the whole project would: the
# stored results then never depend on the order in which batches completed. Only on projects of at
# least this many answers (times labels for multi_choice) does a batch or task run start from the
# stored fit instead (a warm start), to bound its time. A warm start is not the same fit: EM has
# several optima on sparse crowds, and a chain of warm starts can settle in another one. Fed 500
# tasks at a time, chains of warm starts ended with 1,992 of 20,232 labels unlike a fresh fit on
# Zheng et al.'s S_Rel set and 215 of 11,040 on S_Adult (none on D_Product, D_PosSent, S_Dog, nor
# on a synthetic million answers), and on small sets such as Snow et al.'s RTE one or two.
# A run over the whole project always fits fresh. docs/BENCHMARKS.md has the figures.
WARM_START_MIN_ANSWERS = 2_000_000
MODEL_METHODS = frozenset({"dawid_skene", "one_coin", "weighted_majority"})
NO_ANSWERS = {"reason": "no_counted_answers"}


@dataclass(frozen=True)
class View:
    """One question of a project as a run reads it: an old project's one question (``question`` None,
    the answer is the question's answer) or a form's question ``question``."""

    id: int  # the project's
    kind: QuestionKind
    config: dict[str, Any]
    question: str | None = None

    @property
    def labels(self) -> list[str]:
        return self.kind.categories(self.config) or list(self.config.get("labels") or [])

    @classmethod
    def of(cls, project: Project) -> View:
        return cls(project.id, KINDS[project.task_type], project.label_config)


@dataclass
class Plan:
    """Results to write (rows without run, method and time), their tasks' agreement, and the fit to keep."""

    results: list[dict[str, Any]] = field(default_factory=list)
    agreement: list[tuple[int, float | None]] = field(default_factory=list)
    model: tuple[list[str], list[algorithms.ModelParams]] | None = None
    stored_after: bytes | None = None  # single_choice: the project's results once this plan is written
    answers: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def plan(session: Session, project: Project, method: str, scope: Scope, *, warm: bool = True) -> Plan:
    """Read, compute and compare: what a run of ``method`` over ``scope`` writes. ``warm=False`` never
    starts from the stored fit."""
    if scope.task_ids is not None:
        # A task run recomputes tasks that have a result; the others wait for their batch.
        stored = set(data.stored_rows(session, project.id, Scope(task_ids=scope.task_ids)))
        scope = Scope(scope.batch_ids, tuple(t for t in scope.task_ids if t in stored))
    if project.task_type == FORM:
        return _form(session, project, scope)
    view = View.of(project)
    if method in MODEL_METHODS and view.kind.agreement == "nominal":
        return _choices_model(session, view, method, scope, warm)
    if method == "dawid_skene" and view.kind is MULTI_CHOICE:
        return _multi_model(session, view, scope, warm)
    return _per_task(session, view, method, scope)


# --- helpers -------------------------------------------------------------------------------------


def _withdrawn(task_id: int, batch_id: int) -> dict[str, Any]:
    return {"task_id": task_id, "batch_id": batch_id, "answer": None, "confidence": 0.0, "answers_used": 0,
            "flagged": True, "details": dict(NO_ANSWERS)}


def _task_batch(t_index: np.ndarray, batch: np.ndarray, n_tasks: int) -> np.ndarray:
    """The batch of each task, from per-answer arrays (``t_index``: each answer's task position)."""
    out = np.zeros(n_tasks, dtype=np.int64)
    out[t_index] = batch  # every answer of a task names the task's batch
    return out


def _top_share(t_index: np.ndarray, value: np.ndarray, n_tasks: int, used: np.ndarray) -> np.ndarray:
    """Per task, the share of its most common answer value (task_agreement for single_choice and
    rating); NaN with fewer than two answers."""
    best = np.zeros(n_tasks)
    if value.size:
        low = int(value.min())
        k = int(value.max()) - low + 1
        key = t_index.astype(np.int64) * k + (value - low)
        if n_tasks * k <= 1 << 24:
            best = np.bincount(key, minlength=n_tasks * k).reshape(n_tasks, k).max(axis=1).astype(np.float64)
        else:  # a wide scale: count only the pairs that occur
            pair, counts = np.unique(key, return_counts=True)
            np.maximum.at(best, pair // k, counts)
    return np.where(used >= 2, best / np.maximum(used, 1), np.nan)


def _agreement_value(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _remap(params: algorithms.ModelParams, old: list[str], new: list[str]) -> algorithms.ModelParams | None:
    """A stored single_choice fit on the project's current labels (kept by name); None when too few remain."""
    if old == new:
        return params
    where = {label: i for i, label in enumerate(old)}
    kept = [(i, where[label]) for i, label in enumerate(new) if label in where]
    if len(kept) < 2:
        return None
    k = len(new)
    new_idx, old_idx = (np.array(x) for x in zip(*kept, strict=True))
    prior = np.full(k, 1e-6)
    prior[new_idx] = params.prior[old_idx]
    workers = params.workers
    if workers.ndim == 3:
        confusion = np.full((workers.shape[0], k, k), 1e-6)
        confusion[:, new_idx[:, None], new_idx[None, :]] = workers[:, old_idx[:, None], old_idx[None, :]]
        workers = confusion / confusion.sum(axis=2, keepdims=True)
    return algorithms.ModelParams(params.worker_ids, workers, prior / prior.sum())


def _warm_init(scope: Scope, warm: bool, answers: int, stored: store.StoredModel | None) -> bool:
    """Whether a run starts from the stored fit (see WARM_START_MIN_ANSWERS)."""
    return warm and stored is not None and not scope.whole and answers >= WARM_START_MIN_ANSWERS


def _last_run(session: Session, project_id: int) -> int:
    return session.scalar(select(func.max(ConsensusRun.id)).where(ConsensusRun.project_id == project_id)) or 0


# --- single_choice, model-based ------------------------------------------------------------------


def _choices_model(session: Session, project: View, method: str, scope: Scope, warm: bool) -> Plan:
    labels = project.labels
    ans = data.choices(session, project.id, labels)
    fit, model, details, kept = None, None, {}, None
    if method == "weighted_majority":
        weights = dict(session.execute(
            select(WorkerQuality.worker_id, WorkerQuality.gold_score / WorkerQuality.gold_answers)
            .where(WorkerQuality.project_id == project.id, WorkerQuality.gold_answers > 0)).all())
        fit = algorithms.weighted_majority(ans.task, ans.worker, ans.value, weights, n_classes=len(labels))
    else:
        kept = store.load_model(session, project.id, method, per_label=False)
        init = _remap(kept.params[0], kept.labels, labels) if _warm_init(scope, warm, ans.task.size, kept) else None
        fitter = algorithms.dawid_skene if method == "dawid_skene" else algorithms.one_coin_dawid_skene
        fit = fitter(ans.task, ans.worker, ans.value, n_classes=len(labels), init=init, max_iter=MAX_ITER,
                     posterior_tol=POSTERIOR_TOL)
        details = {"warm_start": init is not None, "iterations": fit.iterations, "converged": fit.converged}
        model = (labels, [fit.params]) if fit.params is not None else None
    # The results as the last run of this method left them, when no run has written since; else read.
    if kept is not None and kept.results is not None and kept.labels == labels and kept.run_id == _last_run(
            session, project.id):
        stored = kept.results
    else:
        stored = data.stored_choices(session, project.id, labels, method)

    task_ids = fit.task
    n = task_ids.size
    t_index = np.searchsorted(task_ids, ans.task)
    used = np.bincount(t_index, minlength=n)
    agreement = _top_share(t_index, ans.value, n, used)
    batch = _task_batch(t_index, ans.batch, n)

    write = scope.mask(task_ids, batch)
    pos = np.minimum(np.searchsorted(task_ids, stored.task), max(n - 1, 0))
    present = (pos < n) & (task_ids[pos] == stored.task) if n else np.zeros(stored.task.size, dtype=bool)
    at = pos[present]
    changed = ((~stored.same_method[present]) | (stored.code[present] != fit.label[at])
               | (stored.flagged[present] != fit.tie[at]) | (stored.used[present] != used[at])
               | (np.abs(stored.confidence[present] - fit.confidence[at]) > CONFIDENCE_TOLERANCE))
    revised = at[changed & ~write[at]]
    write[at[changed]] = True
    gone = ~present & (stored.code != -2)

    result = Plan(model=model, answers=int(ans.task.size))
    for i in np.flatnonzero(write):
        tie = bool(fit.tie[i])
        result.results.append({
            "task_id": int(task_ids[i]), "batch_id": int(batch[i]), "answer": {"choice": labels[int(fit.label[i])]},
            "confidence": float(fit.confidence[i]), "answers_used": int(used[i]), "flagged": tie,
            "details": {"tie": True} if tie else None})
        result.agreement.append((int(task_ids[i]), _agreement_value(agreement[i])))
    for task_id, batch_id in zip(stored.task[gone], stored.batch[gone], strict=True):
        result.results.append(_withdrawn(int(task_id), int(batch_id)))
        result.agreement.append((int(task_id), None))
    result.details = {"fit": details, "revised": int(revised.size), "withdrawn": int(gone.sum())}
    if model is not None:
        result.stored_after = store.pack_results(_after(stored, task_ids, batch, fit, used, write, gone))
    return result


def _after(stored: data.StoredChoices, task_ids, batch, fit, used, write, gone) -> data.StoredChoices:
    """The stored results once the plan's rows (``write``, and the withdrawn ``gone``) are written."""
    rewritten = np.concatenate([task_ids[write], stored.task[gone]])
    keep = ~np.isin(stored.task, rewritten)
    n_gone = int(gone.sum())
    task = np.concatenate([stored.task[keep], task_ids[write], stored.task[gone]])
    order = np.argsort(task, kind="stable")

    def column(old, new, withdrawn):
        return np.concatenate([old[keep], new, np.full(n_gone, withdrawn, dtype=old.dtype)])[order]

    return data.StoredChoices(
        task[order], np.concatenate([stored.batch[keep], batch[write], stored.batch[gone]])[order],
        column(stored.code, fit.label[write].astype(np.int64), -2),
        column(stored.confidence, fit.confidence[write], 0.0), column(stored.used, used[write].astype(np.int64), 0),
        column(stored.flagged, fit.tie[write], True),
        column(stored.same_method, np.ones(int(write.sum()), dtype=bool), True))


# --- multi_choice, Dawid-Skene per label ---------------------------------------------------------


def _multi_model(session: Session, project: View, scope: Scope, warm: bool) -> Plan:
    labels = project.labels
    ticks = data.ticks(session, project.id, labels)
    kept = store.load_model(session, project.id, "dawid_skene", per_label=True)
    init = None
    if _warm_init(scope, warm, ticks.task.size * len(labels), kept):
        by_label = dict(zip(kept.labels, kept.params, strict=True))
        init = [by_label.get(label) for label in labels]
    fits = algorithms.multi_label_fits(ticks.task, ticks.worker, ticks.ticked, "dawid_skene", init=init,
                                       max_iter=MAX_ITER, posterior_tol=POSTERIOR_TOL)
    task_ids = np.unique(ticks.task)
    decided = np.stack([f.label == 1 for f in fits], axis=1) if fits else np.zeros((task_ids.size, 0), bool)
    confidence = np.stack([f.confidence for f in fits], axis=1) if fits else np.zeros((task_ids.size, 0))
    computed = {}
    for i, task_id in enumerate(task_ids.tolist()):
        computed[task_id] = {
            "answer": {"choices": [labels[j] for j in np.flatnonzero(decided[i])]},
            "confidence": float(np.mean(confidence[i])) if labels else 1.0, "flagged": False,
            "details": {"label_confidence": {labels[j]: round(float(confidence[i][j]), 6)
                                             for j in range(len(labels))}}}
    plan_ = _compare_rows(session, project, "dawid_skene", scope, computed, ticks.task, ticks.batch,
                          lambda rows: _ticked_agreement(rows, labels, ticks))
    params = [f.params for f in fits]
    if params and all(p is not None for p in params):
        plan_.model = (labels, params)
    plan_.answers = int(ticks.task.size)
    plan_.details["fit"] = {"warm_start": init is not None and any(p is not None for p in init),
                            "iterations": int(sum(f.iterations or 0 for f in fits)),
                            "converged": all(f.converged is not False for f in fits)}
    return plan_


def _ticked_agreement(task_ids: list[int], labels: list[str], ticks: data.Ticks) -> dict[int, float | None]:
    wanted = np.isin(ticks.task, np.asarray(task_ids, dtype=np.int64))
    answers: dict[int, list[dict]] = {t: [] for t in task_ids}
    for t, row in zip(ticks.task[wanted].tolist(), ticks.ticked[wanted], strict=True):
        answers[t].append({"choices": [labels[j] for j in np.flatnonzero(row)]})
    return {t: MULTI_CHOICE.task_agreement(a, {}) for t, a in answers.items()}


def _same(old: dict[str, Any], new: dict[str, Any], method: str) -> bool:
    if (old["method"] != method or old["answer"] != new["answer"] or bool(old["flagged"]) != new["flagged"]
            or old["answers_used"] != new["answers_used"]
            or abs(old["confidence"] - new["confidence"]) > CONFIDENCE_TOLERANCE):
        return False
    before = (old.get("details") or {}).get("label_confidence")
    after = (new.get("details") or {}).get("label_confidence")
    if before is None or after is None:
        return before == after
    return before.keys() == after.keys() and all(abs(before[k] - after[k]) <= CONFIDENCE_TOLERANCE for k in after)


def _compare_rows(session: Session, project: View | Project, method: str, scope: Scope, computed: dict[int, dict],
                  task: np.ndarray, batch: np.ndarray, agreement_of) -> Plan:
    """The plan of a model-based run whose results are dicts by task (multi_choice)."""
    task_ids = np.asarray(sorted(computed), dtype=np.int64)
    t_index = np.searchsorted(task_ids, task)
    batches = _task_batch(t_index, batch, task_ids.size)
    used = np.bincount(t_index, minlength=task_ids.size)
    stored = data.stored_rows(session, project.id)
    inside = scope.mask(task_ids, batches)
    out = Plan()
    revised = 0
    for i, task_id in enumerate(task_ids.tolist()):
        row = {"task_id": task_id, "batch_id": int(batches[i]), **computed[task_id], "answers_used": int(used[i])}
        old = stored.get(task_id)
        if inside[i] or (old is not None and not _same(old, row, method)):
            revised += not inside[i]
            out.results.append(row)
    gone = [t for t, old in stored.items() if t not in computed and old["answers_used"] > 0]
    out.results += [_withdrawn(t, stored[t]["batch_id"]) for t in gone]
    agreement = agreement_of([r["task_id"] for r in out.results if r["answers_used"]])
    out.agreement = [(r["task_id"], agreement.get(r["task_id"])) for r in out.results]
    out.details = {"revised": revised, "withdrawn": len(gone)}
    return out


# --- per-task methods ----------------------------------------------------------------------------


def _per_task(session: Session, view: View, method: str, scope: Scope) -> Plan:
    """Majority (single and multi choice, pairwise), ratings and structured answers: each task on its own."""
    if scope.task_ids is not None and not scope.task_ids and not scope.batch_ids:
        return Plan(details={"revised": 0, "withdrawn": 0})
    computed, answers, agreement = _question(session, view, method, scope)
    out = Plan(answers=answers)
    out.results = [computed[t] for t in sorted(computed)]
    _withdraw_gone(session, view.id, scope, computed, out)
    out.agreement = [(r["task_id"], agreement.get(r["task_id"])) for r in out.results]
    return out


def _withdraw_gone(session: Session, project_id: int, scope: Scope, computed: dict[int, Any], out: Plan) -> None:
    """Add a withdrawn result for each stored result in scope whose task has no counted answer left."""
    stored = data.stored_rows(session, project_id, scope)
    gone = sorted(t for t, old in stored.items() if t not in computed and old["answers_used"] > 0)
    out.results += [_withdrawn(t, stored[t]["batch_id"]) for t in gone]
    out.details = {"revised": 0, "withdrawn": len(gone)}


def _question(session: Session, view: View, method: str, scope: Scope):
    """One question's results by task over ``scope``, the answers read, and each task's agreement."""
    if view.kind.agreement == "nominal":
        if method in MODEL_METHODS:
            return _choices_fit(session, view, method)
        return _majority(session, view, scope)
    if view.kind is MULTI_CHOICE:
        return _multi_majority(session, view, scope)
    if view.kind.agreement == "interval":
        return _ratings(session, view, method, scope)
    return _structured(session, view, method, scope)


def _coded_rows(ans: data.Answers, labels: list[str], task_ids: np.ndarray, label: np.ndarray,
                confidence: np.ndarray, tie: np.ndarray):
    n = task_ids.size
    t_index = np.searchsorted(task_ids, ans.task)
    used = np.bincount(t_index, minlength=n)
    share = _top_share(t_index, ans.value, n, used)
    batch = _task_batch(t_index, ans.batch, n)
    computed = {}
    for i, task_id in enumerate(task_ids.tolist()):
        flagged = bool(tie[i])
        computed[task_id] = {"task_id": task_id, "batch_id": int(batch[i]),
                             "answer": {"choice": labels[int(label[i])]}, "confidence": float(confidence[i]),
                             "answers_used": int(used[i]), "flagged": flagged,
                             "details": {"tie": True} if flagged else None}
    return computed, int(ans.task.size), {t: _agreement_value(share[i]) for i, t in enumerate(task_ids.tolist())}


def _majority(session: Session, view: View, scope: Scope):
    labels = view.labels
    ans = data.choices(session, view.id, labels, scope, view.question)
    fit = algorithms.majority_vote(ans.task, ans.worker, ans.value, n_classes=len(labels))
    return _coded_rows(ans, labels, fit.task, fit.label, fit.confidence, fit.tie)


def _choices_fit(session: Session, view: View, method: str):
    """A form question's model-based fit over every counted answer of the project, fresh each run."""
    labels = view.labels
    ans = data.choices(session, view.id, labels, Scope(), view.question)
    if method == "weighted_majority":
        weights = dict(session.execute(
            select(WorkerQuality.worker_id, WorkerQuality.gold_score / WorkerQuality.gold_answers)
            .where(WorkerQuality.project_id == view.id, WorkerQuality.gold_answers > 0)).all())
        fit = algorithms.weighted_majority(ans.task, ans.worker, ans.value, weights, n_classes=len(labels))
    else:
        fitter = algorithms.dawid_skene if method == "dawid_skene" else algorithms.one_coin_dawid_skene
        fit = fitter(ans.task, ans.worker, ans.value, n_classes=len(labels), max_iter=MAX_ITER,
                     posterior_tol=POSTERIOR_TOL)
    return _coded_rows(ans, labels, fit.task, fit.label, fit.confidence, fit.tie)


def _multi_majority(session: Session, view: View, scope: Scope):
    labels = view.labels
    ticks = data.ticks(session, view.id, labels, scope, view.question)
    task_ids, decided, confidence = algorithms.multi_label_consensus(ticks.task, ticks.worker, ticks.ticked)
    t_index = np.searchsorted(task_ids, ticks.task)
    batch = _task_batch(t_index, ticks.batch, task_ids.size)
    used = np.bincount(t_index, minlength=task_ids.size)
    computed = {}
    for i, task_id in enumerate(task_ids.tolist()):
        computed[task_id] = {
            "task_id": task_id, "batch_id": int(batch[i]),
            "answer": {"choices": [labels[j] for j in np.flatnonzero(decided[i])]},
            "confidence": float(np.mean(confidence[i])) if labels else 1.0, "answers_used": int(used[i]),
            "flagged": False, "details": {"label_confidence": {labels[j]: round(float(confidence[i][j]), 6)
                                                               for j in range(len(labels))}}}
    return computed, int(ticks.task.size), _ticked_agreement(list(computed), labels, ticks)


def _ratings(session: Session, view: View, method: str, scope: Scope):
    """Median: the lower median, a rating somebody gave. Mean: the mean rounded half up. Either way
    the answer is an integer on the project's scale; the figure before rounding is ``details.unrounded``."""
    ans = data.ratings(session, view.id, scope, view.question)
    stats = algorithms.rating_consensus(ans.task, ans.value)
    n = stats.task.size
    t_index = np.searchsorted(stats.task, ans.task)
    share = _top_share(t_index, ans.value, n, stats.count)
    batch = _task_batch(t_index, ans.batch, n)
    span = (view.config["max"] - view.config["min"]) or 1
    computed = {}
    for i, task_id in enumerate(stats.task.tolist()):
        median, mean, spread = float(stats.median[i]), float(stats.mean[i]), float(stats.std[i])
        value = int(stats.lower_median[i]) if method == "median" else int(stats.rounded_mean[i])
        computed[task_id] = {
            "task_id": task_id, "batch_id": int(batch[i]), "answer": {"value": value},
            "confidence": max(0.0, 1 - spread / span), "answers_used": int(stats.count[i]), "flagged": False,
            "details": {"median": median, "mean": mean, "std": spread,
                        "unrounded": median if method == "median" else mean}}
    return computed, int(ans.task.size), {t: _agreement_value(share[i]) for i, t in enumerate(stats.task.tolist())}


def _structured(session: Session, view: View, method: str, scope: Scope):
    """Kinds merged task by task (boxes, spans, texts, corrections, rankings): the kind's own merge."""
    by_task: dict[int, list[dict]] = {}
    batch_of: dict[int, int] = {}
    rows = data.answer_rows(session, view.id, scope, view.question)
    for task_id, batch_id, answer in rows:
        by_task.setdefault(task_id, []).append(answer)
        batch_of[task_id] = batch_id
    computed, agreement = {}, {}
    for task_id, answers in by_task.items():
        answer, confidence, details = view.kind.merge(answers, method, view.config)
        computed[task_id] = {"task_id": task_id, "batch_id": batch_of[task_id], "answer": answer,
                             "confidence": float(confidence), "answers_used": len(answers), "flagged": False,
                             "details": details}
        agreement[task_id] = view.kind.task_agreement(answers, view.config)
    return computed, len(rows), agreement


# --- forms ---------------------------------------------------------------------------------------


def _form(session: Session, project: Project, scope: Scope) -> Plan:
    """A form: each question by its own method, merged per task into ``{NAME: answer}``.

    The task's confidence is its least confident question's, it is flagged when any question is
    (a tie), and ``details.questions`` holds each question's confidence, method and answers. When a
    question uses a model-based method the run fits it on the whole project, fresh, and rewrites the
    stored results that moved, as for an old project's model (``_compare_rows``)."""
    form = form_of(project)
    model = any(q.method in MODEL_METHODS for q in form.questions)
    if not model and scope.task_ids is not None and not scope.task_ids and not scope.batch_ids:
        return Plan(details={"revised": 0, "withdrawn": 0})
    read = Scope() if model else scope
    parts = []
    for question in form.questions:
        view = View(project.id, question.kind, question.config, question.name)
        computed, _answers, agreement = _question(session, view, question.method, read)
        parts.append((question.name, question.method, computed, agreement))
    merged: dict[int, dict[str, Any]] = {}
    for name, method, computed, _agreement in parts:
        for task_id, row in computed.items():
            into = merged.get(task_id)
            if into is None:
                into = merged[task_id] = {"task_id": task_id, "batch_id": row["batch_id"], "answer": {},
                                          "confidence": 1.0, "flagged": False, "details": {"questions": {}}}
            into["answer"][name] = row["answer"]
            into["confidence"] = min(into["confidence"], row["confidence"])
            into["flagged"] = into["flagged"] or row["flagged"]
            into["details"]["questions"][name] = {"confidence": row["confidence"], "method": method,
                                                  "answers_used": row["answers_used"], **(row["details"] or {})}

    task, batch = data.answered(session, project.id, read)
    known = np.isin(task, np.fromiter(merged, dtype=np.int64, count=len(merged)))
    task, batch = task[known], batch[known]  # answers that answered no question leave no result

    def agreement_of(task_ids) -> dict[int, float | None]:
        out = {}
        for task_id in task_ids:
            values = [a[task_id] for _n, _m, _c, a in parts if a.get(task_id) is not None]
            out[task_id] = sum(values) / len(values) if values else None
        return out

    if model:
        plan_ = _compare_rows(session, project, "per_question", scope, merged, task, batch, agreement_of)
        plan_.answers = int(task.size)
        return plan_
    ids, counts = np.unique(task, return_counts=True)
    used = dict(zip(ids.tolist(), counts.tolist(), strict=True))
    out = Plan(answers=int(task.size))
    for task_id in sorted(merged):
        out.results.append({**merged[task_id], "answers_used": used[task_id]})
    _withdraw_gone(session, project.id, scope, merged, out)
    agreement = agreement_of(merged)
    out.agreement = [(r["task_id"], agreement.get(r["task_id"])) for r in out.results]
    return out
