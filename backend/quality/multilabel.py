"""Multi-choice agreement: per-label alpha and set agreement (Jaccard, MASI), pure numpy.

``labels_matrix`` is an (answers x labels) boolean array, one row per answer, parallel to
``task``.
"""

from __future__ import annotations

import numpy as np

from .agreement import _index, _pairs_within, _safe_ratio


def _label_sets(task, labels_matrix) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels_matrix, dtype=bool)
    if labels.ndim != 2 or labels.shape[0] != np.size(task):
        raise ValueError("labels_matrix must be (answers x labels), one row per task entry")
    return _index(np.asarray(task).reshape(-1))[1], labels


def multi_label_alpha(task, labels_matrix) -> np.ndarray:
    """Nominal alpha of each label of a multi-choice question, read as a yes/no variable per answer."""
    t, labels = _label_sets(task, labels_matrix)
    order = np.argsort(t, kind="stable")
    m = np.bincount(t)
    if not m.size:
        return np.full(labels.shape[1], np.nan)
    ones = np.add.reduceat(labels[order].astype(np.int32), np.cumsum(m) - m, axis=0).astype(np.float64)
    pairable = m >= 2
    ones, m = ones[pairable], m[pairable].astype(np.float64)[:, None]
    # Binary nominal alpha: per task 2 a (m - a) / (m - 1) disagreeing coincidences, 2 n_0 n_1 expected.
    observed = (2 * ones * (m - ones) / (m - 1)).sum(axis=0)
    total, n1 = m.sum(), ones.sum(axis=0)
    return 1 - (total - 1) * _safe_ratio(observed, 2 * n1 * (total - n1))


def _set_pairs(task, labels_matrix, chunk: int = 1 << 22):
    """(intersection, size a, size b) for every pair of answers on the same task, in chunks of cells."""
    t, labels = _label_sets(task, labels_matrix)
    order = np.argsort(t, kind="stable")
    a, b = _pairs_within(t[order])
    a, b = order[a], order[b]
    sizes = labels.sum(axis=1)
    step = max(1, chunk // max(labels.shape[1], 1))
    inter = np.concatenate(
        [(labels[a[s : s + step]] & labels[b[s : s + step]]).sum(axis=1) for s in range(0, a.size, step)]
        or [np.zeros(0, dtype=np.int64)]
    )
    return inter, sizes[a], sizes[b]


def _jaccard(inter, size_a, size_b):
    union = size_a + size_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)  # two empty sets agree


def mean_jaccard(task, labels_matrix) -> float:
    """Mean Jaccard similarity over all pairs of answers on the same task (two empty sets: 1.0); NaN if none."""
    inter, size_a, size_b = _set_pairs(task, labels_matrix)
    return float(_jaccard(inter, size_a, size_b).mean()) if inter.size else float("nan")


def _monotonicity(inter, size_a, size_b):
    # Passonneau (2006): 1 identical, 2/3 one set contains the other, 1/3 overlap, 0 disjoint.
    return np.select(
        [(inter == size_a) & (inter == size_b), inter == np.minimum(size_a, size_b), inter > 0],
        [1.0, 2 / 3, 1 / 3],
        0.0,
    )


def masi_distance(a: set, b: set) -> float:
    """MASI distance (Passonneau 2006): 1 - Jaccard x monotonicity; 0.0 for two empty sets.

    Monotonicity uses the paper's 2/3 and 1/3 (NLTK rounds them to 0.67 and 0.33).
    """
    a, b = set(a), set(b)
    inter, size_a, size_b = np.array([len(a & b)]), np.array([len(a)]), np.array([len(b)])
    return float(1 - (_jaccard(inter, size_a, size_b) * _monotonicity(inter, size_a, size_b))[0])


def mean_masi_agreement(task, labels_matrix) -> float:
    """Mean of 1 - MASI distance over all pairs of answers on the same task; NaN if none."""
    inter, size_a, size_b = _set_pairs(task, labels_matrix)
    if not inter.size:
        return float("nan")
    return float((_jaccard(inter, size_a, size_b) * _monotonicity(inter, size_a, size_b)).mean())
