"""Consensus (answer aggregation) for categorical answers, on long-format arrays (pure numpy).

Every function takes parallel arrays with one entry per answer: ``task`` (task id), ``worker``
(worker id) and ``value`` (an integer category code in 0..K-1). Ids need not be contiguous or
numeric; codes must be, because the posterior's columns are the codes. Repeated (task, worker)
pairs count as separate answers, as in crowd-kit.

Ties go to the LOWEST code, as in crowd-kit, and are flagged, so a caller can send the task out
again instead of trusting the tie-break.

The EM models (Dawid-Skene and its one-coin variant) never build a task x worker table: the
E-step sums log-probabilities per task with bincount over the answers, the M-step sums posteriors
per (worker, observed code) the same way, one class at a time, so memory stays at a few arrays of
one float per answer. Both start from the majority-vote shares, as crowd-kit does, and add a
Laplace (Dirichlet) pseudo-count to every confusion cell and class prior: a worker seen once then
has a nearly uniform confusion matrix instead of a perfect one that would dictate its task.
With ``posterior_tol`` they run to that precision, accelerated (``em.squarem``: the same optimum as
plain EM, in 2 to 14 times fewer steps on the label sets of docs/BENCHMARKS.md); ``init`` starts
them from an earlier fit (``params`` of a result) instead of the majority vote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from . import em

METHODS = ("majority", "dawid_skene", "one_coin_dawid_skene")
# Posteriors within this of the best one count as tied (floating-point noise, not evidence).
_TIE_ATOL = 1e-12
_EPS = em.EPS


@dataclass(frozen=True)
class ConsensusResult:
    """One decision per task, in ascending task id order.

    ``confidence`` is the winning label's vote share for the voting methods and its posterior
    probability for the models. ``posterior`` (tasks x classes) holds the vote shares or the
    posteriors themselves; rows sum to 1. ``tie`` flags tasks decided by the tie-break.
    ``worker_skill`` is the estimated accuracy of each worker in ``worker_ids`` (EM methods only).
    """

    task: np.ndarray
    label: np.ndarray
    confidence: np.ndarray
    tie: np.ndarray
    method: str
    posterior: np.ndarray | None = None
    worker_ids: np.ndarray | None = None
    worker_skill: np.ndarray | None = None
    iterations: int | None = None
    converged: bool | None = None
    params: ModelParams | None = None


@dataclass(frozen=True)
class ModelParams:
    """Fitted parameters of an EM model, keyed by worker id and class code: what a warm start needs.

    ``workers`` is (W x K x K) for Dawid-Skene, each worker's P(observed code | true code) with a row
    per true code, and (W,) accuracies for one-coin. ``prior`` is (K,) class probabilities.
    """

    worker_ids: np.ndarray
    workers: np.ndarray
    prior: np.ndarray


@dataclass(frozen=True)
class _Answers:
    task_ids: np.ndarray  # (T,) distinct task ids, ascending
    worker_ids: np.ndarray  # (W,) distinct worker ids, ascending
    t: np.ndarray  # (A,) task index of each answer (intp, so bincount does not copy it)
    w: np.ndarray  # (A,) worker index of each answer
    v: np.ndarray  # (A,) code of each answer
    k: int  # number of classes


def _codes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``x`` (ascending) and each entry's position among them, as intp."""
    small_int = x.dtype.kind == "i" or (x.dtype.kind == "u" and x.dtype.itemsize < 8)
    if small_int and x.size and int(x.max()) - int(x.min()) <= max(x.size, 1 << 16):
        # Ids are usually a compact integer range: a lookup table is O(n) where unique sorts.
        low = int(x.min())
        shifted = x.astype(np.intp)
        shifted -= low
        seen = np.zeros(int(x.max()) - low + 1, dtype=bool)
        seen[shifted] = True
        if seen.all():
            return np.arange(low, low + seen.size).astype(x.dtype), shifted
        return (np.flatnonzero(seen) + low).astype(x.dtype), (np.cumsum(seen) - 1)[shifted]
    uniques, inverse = np.unique(x, return_inverse=True)
    return uniques, inverse.reshape(-1).astype(np.intp, copy=False)


def _prepare(task, worker, value, n_classes: int | None) -> _Answers:
    task, worker, value = (np.asarray(x).reshape(-1) for x in (task, worker, value))
    if not task.size == worker.size == value.size:
        raise ValueError("task, worker and value must have the same length")
    if value.dtype.kind not in "iub":
        raise ValueError("value must hold integer category codes")
    k = int(n_classes) if n_classes is not None else (int(value.max()) + 1 if value.size else 0)
    if value.size and (int(value.min()) < 0 or int(value.max()) >= k):
        raise ValueError(f"category codes must be in 0..{k - 1}")
    task_ids, t = _codes(task)
    worker_ids, w = _codes(worker)
    return _Answers(task_ids, worker_ids, t, w, value.astype(np.intp, copy=False), k)


def _decide(scores: np.ndarray, atol: float | np.ndarray = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(label, tie) per row of (tasks x classes) scores: the lowest code among those within atol of the best."""
    if not scores.size:
        return np.zeros(scores.shape[0], dtype=np.intp), np.zeros(scores.shape[0], dtype=bool)
    near = scores >= scores.max(axis=1, keepdims=True) - np.reshape(atol, (-1, 1))
    return near.argmax(axis=1), near.sum(axis=1) > 1


def _table(ans: _Answers, weights: np.ndarray | None = None) -> np.ndarray:
    """(tasks x classes) sum of the answers' weights (counts when None)."""
    n_tasks = ans.task_ids.size
    key = ans.t * ans.k
    key += ans.v
    return np.bincount(key, weights=weights, minlength=n_tasks * ans.k).reshape(n_tasks, ans.k)


def _shares(scores: np.ndarray) -> np.ndarray:
    total = scores.sum(axis=1, keepdims=True)
    # A task whose answers all weigh 0 has no evidence: uniform shares rather than 0/0.
    return np.divide(scores, total, out=np.full(scores.shape, 1 / max(scores.shape[1], 1)), where=total > 0)


def majority_vote(task, worker, value, n_classes: int | None = None) -> ConsensusResult:
    """The most given code per task; ties go to the lowest code and are flagged.

    Raises ValueError when the arrays differ in length or a code is not an integer in 0..n_classes-1
    (n_classes defaults to the largest code + 1).
    """
    ans = _prepare(task, worker, value, n_classes)
    counts = _table(ans)
    label, tie = _decide(counts)
    shares = _shares(counts.astype(np.float64))
    return ConsensusResult(ans.task_ids, label, _pick(shares, label), tie, "majority", shares)


def _pick(table: np.ndarray, label: np.ndarray) -> np.ndarray:
    return table[np.arange(label.size), label] if label.size else np.empty(0)


def weighted_majority(task, worker, value, weights: Mapping, n_classes: int | None = None) -> ConsensusResult:
    """Per task, the code with the largest total weight of its voters; ties to the lowest code, flagged.

    ``weights`` maps worker id -> weight, used as given: with gold accuracies a vote counts its
    worker's accuracy. We do not turn accuracy into log-odds: that is optimal only for exactly known
    accuracies, and gold accuracies measured on a few items are often 1.0 (infinite log-odds: one
    worker would overrule any crowd) or below chance (negative: a vote would count against its own
    label). Workers missing from ``weights`` get the mean of its values, or 1.0 when it is empty.
    Only codes somebody gave can win, even when all their voters weigh 0.

    Raises ValueError for a negative or non-finite weight, and as majority_vote for bad arrays.
    """
    ans = _prepare(task, worker, value, n_classes)
    given = np.array([float(x) for x in weights.values()], dtype=np.float64)
    if given.size and not (np.isfinite(given).all() and (given >= 0).all()):
        raise ValueError("weights must be finite and non-negative")
    per_worker = np.full(ans.worker_ids.size, given.mean() if given.size else 1.0)
    ids = list(weights.keys())
    if ids and ans.worker_ids.size:
        keys = np.asarray(ids)
        pos = np.minimum(np.searchsorted(ans.worker_ids, keys), ans.worker_ids.size - 1)
        found = ans.worker_ids[pos] == keys
        per_worker[pos[found]] = given[found]
    scores = _table(ans, per_worker[ans.w])
    # Codes nobody gave must not win a tie among zero-weight voters.
    candidates = np.where(_table(ans) > 0, scores, -np.inf)
    label, tie = _decide(candidates, 1e-9 * np.maximum(scores.sum(axis=1), 1.0))
    shares = _shares(scores)
    return ConsensusResult(ans.task_ids, label, _pick(shares, label), tie, "weighted_majority", shares)


def _em(
    ans: _Answers,
    m_step: Callable[[np.ndarray], tuple],
    e_step: Callable[[tuple], tuple[np.ndarray, float]],
    max_iter: int,
    tol: float,
    start: tuple | None = None,
    posterior_tol: float | None = None,
    free: tuple[Callable[[tuple], tuple], Callable[[tuple], tuple]] | None = None,
) -> tuple[np.ndarray, tuple | None, int, bool]:
    """em.run from the majority-vote shares (class-major: each class's row is contiguous)."""
    return em.run(lambda: _shares(_table(ans).astype(np.float64)).T.copy(), m_step, e_step, n_answers=ans.t.size,
                  max_iter=max_iter, tol=tol, start=start, posterior_tol=posterior_tol, free=free)


def _model_result(
    ans: _Answers, method: str, fitted: tuple, skill: np.ndarray, params: ModelParams | None
) -> ConsensusResult:
    resp, _params, iterations, converged = fitted
    posterior = resp.T
    label, tie = _decide(posterior, _TIE_ATOL)
    confidence = _pick(posterior, label)
    return ConsensusResult(
        ans.task_ids, label, confidence, tie, method, posterior, ans.worker_ids, skill, iterations, converged, params
    )


def _aligned(init: ModelParams, ans: _Answers, cell: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    return em.aligned(init.worker_ids, init.workers, init.prior, ans.worker_ids, ans.k, cell)


def _check_em_args(max_iter: int, tol: float, smoothing: float) -> None:
    if max_iter < 0 or tol < 0 or smoothing < 0:
        raise ValueError("max_iter, tol and smoothing must be non-negative")


def _log_prior(resp: np.ndarray, smoothing: float) -> np.ndarray:
    k, n_tasks = resp.shape
    return np.log(np.maximum((resp.sum(axis=1) + smoothing) / (n_tasks + k * smoothing), _EPS))


def dawid_skene(
    task,
    worker,
    value,
    n_classes: int | None = None,
    max_iter: int = 100,
    tol: float = 1e-5,
    *,
    smoothing: float = 0.01,
    init: ModelParams | None = None,
    posterior_tol: float | None = None,
) -> ConsensusResult:
    """Dawid-Skene EM: a confusion matrix per worker, class priors, a posterior per task.

    Starts from the majority-vote shares and stops when the mean log-likelihood per answer changes by
    at most ``tol`` (``converged``) or after ``max_iter`` iterations. ``smoothing`` is the pseudo-count
    added to every confusion cell and class prior (MAP estimate under a symmetric Dirichlet prior).
    The default 0.01 leaves busy workers' matrices as the data make them and only keeps sparse ones
    finite; a worker seen once counts for little anyway, since every row of its matrix is fitted
    to its one answer, which is then about as likely under any true class. Larger values pull all
    workers toward uniform; 0 is allowed (rows with no evidence are then uniform).
    ``worker_skill`` is each worker's accuracy, its confusion diagonal weighted by the class priors.
    ``tie`` flags tasks whose two best posteriors are equal (within 1e-12).

    ``init`` (the ``params`` of an earlier fit, K classes) starts EM from that fit instead of the
    majority vote: its workers keep their matrices, newcomers get the mean of theirs. Started near
    the optimum EM needs few iterations, and it converges to the same optimum as from the majority
    vote wherever the data leave one (see ``posterior_tol`` for how close). With ``posterior_tol``
    the fit stops once no posterior moves by more than that in an iteration, instead of by ``tol``.
    ``params`` of the result holds the fitted matrices and priors for the next warm start.

    Raises ValueError for bad arrays (as majority_vote), a negative max_iter, tol or smoothing, or an
    ``init`` with another number of classes.
    """
    _check_em_args(max_iter, tol, smoothing)
    ans = _prepare(task, worker, value, n_classes)
    k, n_workers, n_tasks = ans.k, ans.worker_ids.size, ans.task_ids.size
    cells = n_workers * k
    wo = ans.w * k
    wo += ans.v  # (worker, observed code) of each answer: the M-step's bincount key
    per_cell = np.bincount(wo, minlength=cells).astype(np.float64)
    # One float per answer, refilled in place by every step. mode="clip" because with ``out`` the
    # default mode buffers a copy to check bounds, and these indices are valid by construction.
    gathered = np.empty(ans.t.size)

    def m_step(resp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = np.empty((k, cells))  # (true class, worker * k + observed)
        for c in range(k - 1):
            counts[c] = np.bincount(wo, weights=np.take(resp[c], ans.t, out=gathered, mode="clip"), minlength=cells)
        # Posteriors sum to 1 over classes, so the last class's counts are what the others leave.
        counts[k - 1] = np.maximum(per_cell - counts[: k - 1].sum(axis=0), 0.0)
        confusion = counts.reshape(k, n_workers, k)  # (true, worker, observed)
        confusion += smoothing
        total = confusion.sum(axis=2, keepdims=True)
        # Without smoothing, a class a worker never met leaves a row of zeros: make it uninformative.
        np.divide(confusion, total, out=confusion, where=total > 0)
        confusion[np.broadcast_to(total == 0, confusion.shape)] = 1 / k
        np.maximum(confusion, _EPS, out=confusion)
        return np.log(counts), _log_prior(resp, smoothing)  # counts now holds the confusion rows

    def e_step(params: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, float]:
        log_confusion, log_prior = params
        # Measured against the last class, which then needs no per-task sum: one bincount fewer.
        last = log_confusion[k - 1]
        ll = np.zeros((k, n_tasks))
        for c in range(k - 1):
            ratio = np.take(log_confusion[c] - last, wo, out=gathered, mode="clip")
            ll[c] = np.bincount(ans.t, weights=ratio, minlength=n_tasks)
            ll[c] += log_prior[c] - log_prior[k - 1]
        # The Dirichlet prior's term makes this the objective EM climbs (MAP), not just the likelihood.
        penalty = smoothing * (log_confusion.sum() + log_prior.sum())
        return em.normalise_log(ll, per_cell @ last + n_tasks * log_prior[k - 1] + penalty, ans.t.size)

    start = None
    if init is not None and (aligned := _aligned(init, ans, (k, k))) is not None:
        confusion, prior = aligned
        start = (np.log(confusion.transpose(1, 0, 2).reshape(k, cells)), np.log(prior))
    def from_free(free: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        log_confusion = em.log_normalised(free[0].reshape(k, n_workers, k)).reshape(k, cells)
        return log_confusion, em.log_normalised(free[1])

    fitted = _em(ans, m_step, e_step, max_iter, tol, start, posterior_tol, (lambda p: p, from_free))
    skill, params = np.zeros(n_workers), None
    if fitted[1] is not None:
        log_confusion, log_prior = fitted[1]
        confusion = np.exp(log_confusion.reshape(k, n_workers, k))  # (true, worker, observed)
        skill = np.exp(log_prior) @ confusion[np.arange(k), :, np.arange(k)]  # diagonal: (k, W)
        params = ModelParams(ans.worker_ids, confusion.transpose(1, 0, 2).copy(), np.exp(log_prior))
    return _model_result(ans, "dawid_skene", fitted, skill, params)


def one_coin_dawid_skene(
    task,
    worker,
    value,
    n_classes: int | None = None,
    max_iter: int = 100,
    tol: float = 1e-5,
    *,
    smoothing: float = 1.0,
    init: ModelParams | None = None,
    posterior_tol: float | None = None,
) -> ConsensusResult:
    """One-coin Dawid-Skene EM: one accuracy per worker, errors spread evenly over the other codes.

    Fewer parameters than full Dawid-Skene, so it suits workers with few answers or many classes.
    ``smoothing`` is added to each worker's expected correct and wrong answer counts (a Beta prior)
    and to the class priors; the default 1 (Laplace) costs little with one parameter per worker and
    keeps a worker seen once near 0.5 instead of 0 or 1. Stopping and the result are as in
    dawid_skene; ``worker_skill`` is the estimated accuracy. ``init`` and ``posterior_tol`` are as in
    dawid_skene (``params.workers`` holds the accuracies). Raises ValueError as dawid_skene.
    """
    _check_em_args(max_iter, tol, smoothing)
    ans = _prepare(task, worker, value, n_classes)
    k, n_workers, n_tasks = ans.k, ans.worker_ids.size, ans.task_ids.size
    per_worker = np.bincount(ans.w, minlength=n_workers).astype(np.float64)
    given = ans.v * n_tasks
    given += ans.t  # position of each answer's (code, task) in the class-major posterior
    gathered = np.empty(ans.t.size)  # refilled in place, as in dawid_skene

    def m_step(resp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        correct = np.bincount(ans.w, weights=np.take(resp, given, out=gathered, mode="clip"), minlength=n_workers)
        skill = (correct + smoothing) / (per_worker + 2 * smoothing)
        return np.clip(skill, _EPS, 1 - _EPS), _log_prior(resp, smoothing)

    def e_step(params: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, float]:
        skill, log_prior = params
        log_wrong = np.log((1 - skill) / max(k - 1, 1))
        # Every answer costs log_wrong under every class, plus (log s - log_wrong) under its own code.
        weight = np.take(np.log(skill) - log_wrong, ans.w, out=gathered, mode="clip")
        ll = np.bincount(given, weights=weight, minlength=k * n_tasks).reshape(k, n_tasks)
        ll += log_prior[:, None]
        penalty = smoothing * (np.log(skill).sum() + np.log1p(-skill).sum() + log_prior.sum())  # as in dawid_skene
        return em.normalise_log(ll, per_worker @ log_wrong + penalty, ans.t.size)

    start = None
    if init is not None and (aligned := _aligned(init, ans, ())) is not None:
        accuracy, prior = aligned
        start = (np.clip(accuracy, _EPS, 1 - _EPS), np.log(prior))

    def to_free(p: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return np.log(p[0]) - np.log1p(-p[0]), p[1]

    def from_free(free: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return np.clip(1 / (1 + np.exp(-free[0])), _EPS, 1 - _EPS), em.log_normalised(free[1])

    fitted = _em(ans, m_step, e_step, max_iter, tol, start, posterior_tol, (to_free, from_free))
    skill, params = np.zeros(n_workers), None
    if fitted[1] is not None:
        skill = fitted[1][0]
        params = ModelParams(ans.worker_ids, skill.copy(), np.exp(fitted[1][1]))
    return _model_result(ans, "one_coin_dawid_skene", fitted, skill, params)


def multi_label_consensus(
    task, worker, labels_matrix, method: str = "majority", **options
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aggregate each of L labels as its own yes/no question.

    ``labels_matrix`` is (answers x L) bool: which labels each answer ticked. ``method`` is one of
    METHODS; ``options`` go to it (max_iter, tol, smoothing). Returns (task ids, (tasks x L) bool
    decisions, (tasks x L) confidence of each decision). A majority tie leaves the label off (False
    is the lower code). Raises ValueError for an unknown method or a matrix whose row count is not
    the number of answers.
    """
    task = np.asarray(task).reshape(-1)
    fits = multi_label_fits(task, worker, labels_matrix, method, **options)
    task_ids = _codes(task)[0]
    decisions = np.zeros((task_ids.size, len(fits)), dtype=bool)
    confidence = np.zeros((task_ids.size, len(fits)))
    for column, result in enumerate(fits):
        decisions[:, column] = result.label == 1
        confidence[:, column] = result.confidence
    return task_ids, decisions, confidence


def multi_label_fits(
    task, worker, labels_matrix, method: str = "majority", init=None, **options
) -> list[ConsensusResult]:
    """The yes/no result of each label column (code 1: ticked), as multi_label_consensus decides them.

    ``init`` (EM methods only) holds one ModelParams or None per column, to warm-start each fit.
    Raises ValueError as multi_label_consensus.
    """
    aggregate = {"majority": majority_vote, "dawid_skene": dawid_skene, "one_coin_dawid_skene": one_coin_dawid_skene}
    if method not in aggregate:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    task = np.asarray(task).reshape(-1)
    matrix = np.asarray(labels_matrix, dtype=bool)
    if matrix.ndim != 2 or matrix.shape[0] != task.size:
        raise ValueError("labels_matrix must be (answers x labels)")
    fits = []
    for column in range(matrix.shape[1]):
        extra = dict(options)
        if init is not None and method != "majority":
            extra["init"] = init[column]
        fits.append(aggregate[method](task, worker, matrix[:, column], n_classes=2, **extra))
    return fits


@dataclass(frozen=True)
class RatingConsensus:
    """Per task statistics of numeric ratings, in ascending task id order.

    ``median`` is the midpoint of the two middle ratings when their count is even (3 and 4 give 3.5);
    ``lower_median`` is the lower of the two, always one of the ratings given, so on the scale;
    ``rounded_mean`` is the mean rounded half up (3.5 gives 4), on the scale of integer ratings.
    """

    task: np.ndarray
    median: np.ndarray
    mean: np.ndarray
    std: np.ndarray  # population standard deviation (ddof=0)
    count: np.ndarray
    lower_median: np.ndarray | None = None
    rounded_mean: np.ndarray | None = None


def rating_consensus(task, value) -> RatingConsensus:
    """Median, lower median, mean, mean rounded half up, standard deviation (ddof=0) and count of each
    task's ratings; NaN ratings are skipped.

    Raises ValueError when task and value differ in length.
    """
    task, value = np.asarray(task).reshape(-1), np.asarray(value, dtype=np.float64).reshape(-1)
    if task.size != value.size:
        raise ValueError("task and value must have the same length")
    kept = ~np.isnan(value)
    if not kept.all():
        task, value = task[kept], value[kept]
    task_ids, t = _codes(task)
    count = np.bincount(t, minlength=task_ids.size)
    mean = np.bincount(t, weights=value, minlength=task_ids.size) / np.maximum(count, 1)
    std = np.sqrt(np.bincount(t, weights=(value - mean[t]) ** 2, minlength=task_ids.size) / np.maximum(count, 1))
    ordered = value[np.lexsort((value, t))]
    start = np.cumsum(count) - count
    lower = ordered[start + (count - 1) // 2] if ordered.size else mean
    median = (lower + ordered[start + count // 2]) / 2 if ordered.size else mean
    # The mean of integers is s / n, correctly rounded: exactly k + 0.5 when it is, never across it.
    return RatingConsensus(task_ids, median, mean, std, count, lower, np.floor(mean + 0.5))
