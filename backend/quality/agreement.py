"""Chance-corrected agreement between annotators, on long-format answers (pure numpy).

Every function takes parallel arrays with one entry per answer: ``task`` (task id),
``worker`` (worker id) and ``value`` (a category code for nominal data, a number for
ordinal and interval ratings). Ids need not be contiguous; NaN values count as missing.

Repeated (task, worker) pairs occur in real data. Everything except Cohen's kappa keeps
each answer as a separate value of its task: these measures only look at the values a
task received, not at who gave them. Cohen's kappa needs one label per worker and task
and keeps the worker's first answer.

Undefined figures (no task with two answers, no variation at all) come back as NaN
rather than raising, because reports compute them on small slices of a project.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEVELS = ("nominal", "ordinal", "interval")
# The task x value table is counted densely with bincount when it has at most this many
# cells, or this many per answer; beyond that sorting the keys uses less memory.
_DENSE_CELLS = 1 << 20
_DENSE_PER_ANSWER = 4
# Bootstrap weights are drawn for this many (replicate x task) cells at a time.
_BOOT_CELLS = 1 << 22
_BOOT_TABLE_CELLS = 1 << 26


def _index(x: np.ndarray, domain=None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``x`` (sorted, or ``domain`` in its own order) and each entry's position."""
    if domain is not None:
        domain = np.asarray(domain).reshape(-1)
        order = np.argsort(domain, kind="stable")
        ranked = domain[order]
        if ranked.size > 1 and (ranked[1:] == ranked[:-1]).any():
            raise ValueError("`values` has duplicates")
        if x.size and not ranked.size:
            raise ValueError("some answers are not in `values`")
        pos = np.minimum(np.searchsorted(ranked, x), max(ranked.size - 1, 0))
        if x.size and not (ranked[pos] == x).all():
            raise ValueError("some answers are not in `values`")
        return domain, order[pos]
    small_int = x.dtype.kind == "i" or (x.dtype.kind == "u" and x.dtype.itemsize < 8)
    if small_int and x.size and int(x.max()) - int(x.min()) <= max(x.size, 1 << 16):
        # Ids and codes are usually a compact integer range: a lookup table is O(n) where unique sorts.
        low = int(x.min())
        shifted = x.astype(np.int64, copy=False)
        if low:
            shifted = shifted - low
        seen = np.zeros(int(x.max()) - low + 1, dtype=bool)
        seen[shifted] = True
        if seen.all():  # already a contiguous range: positions are the shifted values
            return np.arange(low, low + seen.size).astype(x.dtype), shifted
        return (np.flatnonzero(seen) + low).astype(x.dtype), (np.cumsum(seen) - 1)[shifted]
    uniques, inverse = np.unique(x, return_inverse=True)
    return uniques, inverse.reshape(-1)


@dataclass(frozen=True)
class _Tally:
    """The task x value count table in sparse form: one cell per (task, value) that occurs."""

    kept: np.ndarray | None  # mask of the answers kept (None: all), to filter parallel arrays
    task_ids: np.ndarray  # (T,) distinct task ids
    domain: np.ndarray  # (K,) distinct values
    m: np.ndarray  # (T,) answers per task
    answer_task: np.ndarray  # (A,) task index of each answer
    answer_key: np.ndarray  # (A,) task index * K + value index of each answer
    cell_key: np.ndarray  # (P,) the same key for each cell, ascending
    cell_task: np.ndarray  # (P,) task index of each cell, ascending: a task's cells are contiguous
    cell_value: np.ndarray  # (P,) value index of each cell, ascending within a task
    cell_count: np.ndarray  # (P,) answers in the cell


def _tally(task, value, values=None) -> _Tally:
    task, value = np.asarray(task).reshape(-1), np.asarray(value).reshape(-1)
    if task.shape != value.shape:
        raise ValueError("task and value must have the same length")
    kept = None
    if value.dtype.kind == "f" and np.isnan(value).any():
        kept = ~np.isnan(value)
        task, value = task[kept], value[kept]
    task_ids, answer_task = _index(task)
    domain, answer_value = _index(value, values)
    n_tasks, n_values = task_ids.size, max(domain.size, 1)
    key = answer_task.astype(np.int64)  # a copy, so the in-place steps leave the index alone
    key *= n_values
    key += answer_value
    if n_tasks * n_values <= max(_DENSE_CELLS, _DENSE_PER_ANSWER * key.size):
        table = np.bincount(key, minlength=n_tasks * n_values)
        cells = np.flatnonzero(table)
        counts = table[cells]
    else:
        cells, counts = np.unique(key, return_counts=True)
    cell_task, cell_value = np.divmod(cells, n_values)
    return _Tally(
        kept,
        task_ids,
        domain,
        np.bincount(answer_task, minlength=n_tasks),
        answer_task,
        key,
        cells,
        cell_task,
        cell_value,
        counts,
    )


def _pairs_within(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of positions (i < j) with equal entries in ``groups`` (group indices, sorted ascending)."""
    end = np.cumsum(np.bincount(groups))[groups] if groups.size else groups
    later = end - np.arange(groups.size) - 1
    first = np.repeat(np.arange(groups.size), later)
    run_start = np.repeat(np.cumsum(later) - later, later)
    return first, first + 1 + np.arange(first.size) - run_start


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1), np.nan)


@dataclass(frozen=True)
class _Parts:
    """A statistic as a function of column sums of per-task entries, so a bootstrap only reweights tasks.

    ``groups`` holds (task index, column, value) arrays; a column given as an int applies to the whole group.
    """

    groups: tuple[tuple[np.ndarray, np.ndarray | int, np.ndarray], ...]
    width: int
    n_tasks: int
    finish: Callable[[np.ndarray], np.ndarray]  # (R, width) column sums -> (R,) statistics

    def value(self) -> float:
        sums = np.zeros(self.width)
        for _rows, cols, vals in self.groups:
            if isinstance(cols, int):
                sums[cols] += vals.sum()
            else:
                sums += np.bincount(cols, weights=vals, minlength=self.width)
        return float(self.finish(sums[None, :])[0])

    def replicates(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        n_tasks, width = self.n_tasks, self.width
        if n_tasks * width > _BOOT_TABLE_CELLS:
            raise ValueError("too many distinct values to bootstrap")
        table = np.zeros(n_tasks * width)
        for rows, cols, vals in self.groups:
            table += np.bincount(rows * width + cols, weights=vals, minlength=n_tasks * width)
        table = table.reshape(n_tasks, width)
        chunk, out = max(1, _BOOT_CELLS // max(n_tasks, 1)), []
        for start in range(0, n_boot, chunk):
            size = min(chunk, n_boot - start)
            # Resampling tasks with replacement = multinomial counts per task; bincount draws them for a chunk.
            draws = rng.integers(0, n_tasks, size=(size, n_tasks)) + np.arange(size)[:, None] * n_tasks
            weights = np.bincount(draws.ravel(), minlength=size * n_tasks).reshape(size, n_tasks)
            out.append(self.finish(weights.astype(np.float64) @ table))
        return np.concatenate(out) if out else np.empty(0)


def _alpha_parts(tally: _Tally, level: str, resampled: bool = False) -> _Parts:
    """Krippendorff's alpha = 1 - (n - 1) sum(o * d) / sum(n_c n_k d_ck), from sums over tasks.

    o = N^T diag(1/(m_u - 1)) N - diag(sum_u n_u / (m_u - 1)) is never built: its diagonal has
    distance 0, and each task's share of sum(o * d) has a closed form, (m_u^2 - sum_c n_uc^2) /
    (m_u - 1) for nominal and 2 m_u SS_u / (m_u - 1) for interval (SS_u: squared deviations from
    the task's mean). Ordinal is interval on mid-ranks. No T x K or K x K array is needed, so
    continuous ratings with many distinct values cost nothing extra. Mid-ranks move with the
    marginals, so for a bootstrap (``resampled``) ordinal keeps o's off-diagonal entries instead.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    pairable = tally.m[tally.cell_task] >= 2  # a task with one answer has no pairable value
    t, v = tally.cell_task[pairable], tally.cell_value[pairable]
    n = tally.cell_count[pairable].astype(np.float64)
    m = tally.m.astype(np.float64)
    tasks = np.flatnonzero(m >= 2)
    k, n_tasks = tally.domain.size, tally.task_ids.size
    if level == "nominal":
        same = np.bincount(t, weights=n * n, minlength=n_tasks)[tasks]
        observed = (m[tasks] ** 2 - same) / (m[tasks] - 1)
        return _Parts(((tasks, 0, observed), (t, 1 + v, n)), 1 + k, n_tasks, _nominal_finish)
    if level == "ordinal" and resampled:
        return _ordinal_pair_parts(tally, t, v, n)
    counts = np.bincount(v, weights=n, minlength=k)
    x = tally.domain.astype(np.float64) if level == "interval" else _midranks(counts[None, :])[0]
    if n.size:  # centring keeps N*S2 - S1^2 free of cancellation
        x = x - counts @ x / n.sum()
    xv = x[v]
    mean = np.bincount(t, weights=n * xv, minlength=n_tasks) / np.maximum(m, 1)
    squares = np.bincount(t, weights=n * (xv - mean[t]) ** 2, minlength=n_tasks)[tasks]
    groups = ((tasks, 0, 2 * m[tasks] * squares / (m[tasks] - 1)), (t, 1, n), (t, 2, n * xv), (t, 3, n * xv**2))
    return _Parts(groups, 4, n_tasks, _interval_finish)


def _midranks(counts: np.ndarray) -> np.ndarray:
    # Krippendorff's ordinal distance (sum_{g=c..k} n_g - (n_c + n_k)/2)^2 is the squared
    # difference of mid-ranks z_c = sum_{g<=c} n_g - n_c/2.
    return np.cumsum(counts, axis=1) - counts / 2


def _ordinal_pair_parts(tally: _Tally, t: np.ndarray, v: np.ndarray, n: np.ndarray) -> _Parts:
    k = tally.domain.size
    first, second = _pairs_within(t)
    pair_task = t[first]
    pair_o = 2.0 * n[first] * n[second] / (tally.m[pair_task] - 1)  # o_ck + o_kc
    combos, pair_col = np.unique(v[first] * k + v[second], return_inverse=True)
    low, high = np.divmod(combos, k)

    def finish(sums: np.ndarray) -> np.ndarray:
        counts, o_pairs = sums[:, :k], sums[:, k:]
        z = _midranks(counts)
        observed = (o_pairs * (z[:, low] - z[:, high]) ** 2).sum(axis=1)
        total = counts.sum(axis=1)
        mean = _safe_ratio((counts * z).sum(axis=1), total)
        expected = 2 * total * (counts * (z - mean[:, None]) ** 2).sum(axis=1)
        return 1 - (total - 1) * _safe_ratio(observed, expected)

    groups = ((t, v, n), (pair_task, k + pair_col.reshape(-1), pair_o))
    return _Parts(groups, k + combos.size, tally.task_ids.size, finish)


def _nominal_finish(sums: np.ndarray) -> np.ndarray:
    observed, counts = sums[:, 0], sums[:, 1:]
    total = counts.sum(axis=1)
    expected = (counts * (total[:, None] - counts)).sum(axis=1)
    return 1 - (total - 1) * _safe_ratio(observed, expected)


def _interval_finish(sums: np.ndarray) -> np.ndarray:
    observed, total, s1, s2 = sums.T
    return 1 - (total - 1) * _safe_ratio(observed, 2 * (total * s2 - s1 * s1))


def krippendorff_alpha(task, value, level: str = "nominal", values=None, *, worker=None) -> float:
    """Krippendorff's alpha for ``level`` in nominal, ordinal, interval; NaN when undefined.

    Tasks with fewer than 2 answers are ignored, as in Krippendorff's definition. ``values``
    fixes the value domain (and, for ordinal data, its order); answers outside it raise
    ValueError. ``worker`` is accepted for symmetry with the other functions and not used.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    return _alpha_parts(_tally(task, value, values), level).value()


@dataclass(frozen=True)
class KappaResult:
    """A kappa value, or None with the reason it does not apply."""

    value: float | None
    reason: str | None = None


def _fleiss_parts(tally: _Tally) -> _Parts | str:
    m = tally.m
    if not m.size:
        return "no answers"
    if m.min() != m.max():
        return f"tasks have between {m.min()} and {m.max()} answers; Fleiss' kappa needs the same number on each"
    raters = float(m[0])
    if raters < 2:
        return "every task has a single answer"
    n_tasks, counts = m.size, tally.cell_count.astype(np.float64)
    groups = (
        (np.arange(n_tasks), 0, np.ones(n_tasks)),
        (tally.cell_task, 1, counts**2),
        (tally.cell_task, 2 + tally.cell_value, counts),
    )

    def finish(sums: np.ndarray) -> np.ndarray:
        tasks = sums[:, 0]
        p_mean = (sums[:, 1] / tasks - raters) / (raters * (raters - 1))
        p_expected = ((sums[:, 2:] / (tasks * raters)[:, None]) ** 2).sum(axis=1)
        return _safe_ratio(p_mean - p_expected, 1 - p_expected)

    return _Parts(groups, 2 + tally.domain.size, n_tasks, finish)


def fleiss_kappa(task, value) -> KappaResult:
    """Fleiss' kappa; value None with a reason when tasks differ in answer count or it is undefined."""
    parts = _fleiss_parts(_tally(task, value))
    if isinstance(parts, str):
        return KappaResult(None, parts)
    kappa = parts.value()
    if np.isnan(kappa):
        return KappaResult(None, "all answers are in one category: kappa is undefined")
    return KappaResult(kappa)


def _kappa(n, agree, chance):
    """Cohen's kappa from counts: (n * agree - chance) / (n^2 - chance), chance = sum_k rows_k cols_k."""
    return _safe_ratio(n * agree - chance, n * n - chance)


def cohen_kappa(a, b) -> float:
    """Cohen's kappa between two equal-length label arrays; NaN when undefined (one label in common)."""
    a, b = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
    if a.shape != b.shape:
        raise ValueError("a and b must have the same length")
    if not a.size:
        return float("nan")
    _, codes = _index(np.concatenate([a, b]))
    k = int(codes.max()) + 1
    table = np.bincount(codes[: a.size] * k + codes[a.size :], minlength=k * k).reshape(k, k).astype(np.float64)
    chance = table.sum(axis=1) @ table.sum(axis=0)
    return float(_kappa(np.float64(a.size), np.trace(table), chance))


def pairwise_cohen_kappa(task, worker, value, workers) -> np.ndarray:
    """Cohen's kappa for every pair of ``workers`` on the tasks both answered.

    NaN where a pair shares fewer than 2 tasks or kappa is undefined; the diagonal is 1.0.
    A worker's repeated answers on one task count once (the first).
    """
    task, worker, value = (np.asarray(x).reshape(-1) for x in (task, worker, value))
    selected = np.asarray(workers).reshape(-1)
    size = selected.size
    order = np.argsort(selected, kind="stable")
    ranked = selected[order]
    if size > 1 and (ranked[1:] == ranked[:-1]).any():
        raise ValueError("`workers` has duplicates")
    out = np.full((size, size), np.nan)
    np.fill_diagonal(out, 1.0)
    if not size or not task.size:
        return out
    pos = np.minimum(np.searchsorted(ranked, worker), size - 1)
    mine = ranked[pos] == worker
    if value.dtype.kind == "f":
        mine &= ~np.isnan(value)
    row = order[pos[mine]].astype(np.int64)
    _, t = _index(task[mine])
    _, v = _index(value[mine])
    _, first = np.unique(t.astype(np.int64) * size + row, return_index=True)  # sorted by task, then worker
    t, row, v = t[first], row[first], v[first].astype(np.int64)
    a, b = _pairs_within(t)
    i, j, vi, vj = row[a], row[b], v[a], v[b]
    flat = size * size
    shared = np.bincount(i * size + j, minlength=flat) + np.bincount(j * size + i, minlength=flat)
    same = (vi == vj).astype(np.float64)
    agree = np.bincount(i * size + j, weights=same, minlength=flat) + np.bincount(
        j * size + i, weights=same, minlength=flat
    )
    # Chance agreement needs, per pair (x, y) and label k, how often x said k on their shared tasks:
    # a sparse (k, x, y) count, matched with its mirror (k, y, x).
    keys, counts = np.unique(
        np.concatenate([(vi * size + i) * size + j, (vj * size + j) * size + i]), return_counts=True
    )
    label, rest = np.divmod(keys, flat)
    x, y = np.divmod(rest, size)
    mirror = (label * size + y) * size + x
    at = np.minimum(np.searchsorted(keys, mirror), keys.size - 1)
    found = keys[at] == mirror
    chance = np.bincount(
        x[found] * size + y[found], weights=(counts[found] * counts[at[found]]).astype(np.float64), minlength=flat
    )
    kappa = _kappa(shared.astype(np.float64), agree, chance).reshape(size, size)
    kappa[shared.reshape(size, size) < 2] = np.nan
    np.fill_diagonal(kappa, 1.0)
    return kappa


def percent_agreement(task, value) -> float:
    """Mean over tasks with at least 2 answers of the share of agreeing ordered answer pairs; NaN if none."""
    tally = _tally(task, value)
    same = np.bincount(tally.cell_task, weights=tally.cell_count.astype(np.float64) ** 2, minlength=tally.m.size)
    m = tally.m.astype(np.float64)
    pairable = m >= 2
    if not pairable.any():
        return float("nan")
    return float(((same[pairable] - m[pairable]) / (m[pairable] * (m[pairable] - 1))).mean())


def per_task_top_share(task, value) -> tuple[np.ndarray, np.ndarray]:
    """(task ids, share of the task's answers that gave its most common value), for every task."""
    tally = _tally(task, value)
    if not tally.m.size:
        return tally.task_ids, np.empty(0)
    starts = np.searchsorted(tally.cell_task, np.arange(tally.m.size))  # every task has a cell
    return tally.task_ids, np.maximum.reduceat(tally.cell_count, starts) / tally.m


def worker_agreement(task, worker, value) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(worker ids, agreement, answers counted) for every worker in the input.

    Agreement is the mean over the worker's answers of the share of the other answers on
    the same task that equal it; answers on single-answer tasks are skipped, and a worker
    with none counted gets NaN.
    """
    worker = np.asarray(worker).reshape(-1)
    if worker.size != np.size(task):
        raise ValueError("task, worker and value must have the same length")
    tally = _tally(task, value)
    if tally.kept is not None:
        worker = worker[tally.kept]
    worker_ids, w = _index(worker)
    others = tally.m[tally.answer_task] - 1
    counted = others > 0
    cell = np.searchsorted(tally.cell_key, tally.answer_key[counted])
    share = (tally.cell_count[cell] - 1) / others[counted]
    n = np.bincount(w[counted], minlength=worker_ids.size)
    total = np.bincount(w[counted], weights=share, minlength=worker_ids.size)
    return worker_ids, _safe_ratio(total, n.astype(np.float64)), n


def bootstrap_ci(
    task,
    value,
    statistic: str = "alpha",
    level: str = "nominal",
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile interval (1 - alpha) of Krippendorff's alpha or Fleiss' kappa, resampling tasks.

    Replicates where the statistic is undefined are left out; (NaN, NaN) if all are.
    Raises ValueError for an unknown statistic or when Fleiss' kappa does not apply.
    """
    tally = _tally(task, value)
    if statistic == "alpha":
        parts = _alpha_parts(tally, level, resampled=True)
    elif statistic == "fleiss":
        parts = _fleiss_parts(tally)
        if isinstance(parts, str):
            raise ValueError(parts)
    else:
        raise ValueError("statistic must be 'alpha' or 'fleiss'")
    reps = parts.replicates(n_boot, np.random.default_rng(seed))
    reps = reps[np.isfinite(reps)]
    if not reps.size:
        return float("nan"), float("nan")
    low, high = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
