"""Bradley-Terry leaderboards from pairwise preferences and rankings (pure numpy).

A comparison says which of two items won, or that they tied. Two input forms:

- rows ``(winner, loser, tie)`` with ``tie`` a bool (``(a, b, True)``: a and b tied), as
  ``ranking_pairs`` makes them;
- an (N x 3) array of ``(i, j, outcome)``: ``outcome`` 1 when i won, 0 when j won, 0.5 for a tie
  (in a float array, ids that are whole numbers are read as integers).

The model: P(i beats j) = p_i / (p_i + p_j). A tie counts as half a win for each side, the usual
way of fitting ties without a tie parameter. Strengths are fitted by Hunter's (2004) MM algorithm
on the aggregated win matrix, with every pair of items given ``alpha`` virtual comparisons that tie
(``alpha`` / 2 wins each way): an item that won, or lost, all its comparisons keeps a finite
strength, an item never compared sits at the average, and the fit is unique even when the
comparisons leave items unconnected. Scores are log-strengths centred at mean 0.

Confidence intervals are percentile bootstrap intervals that resample comparisons: the counts of
each (pair, outcome) cell are redrawn from one multinomial, which is what resampling the rows with
replacement does, at the cost of the cells instead of the rows. All replicates are fitted at once,
warm-started from the point estimate.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_ALPHA = 0.1
# Replicates are fitted together up to this many (replicate x item x item) cells.
_BATCH_CELLS = 1 << 21


@dataclass(frozen=True)
class _Tally:
    """Comparisons aggregated into cells, one per (pair, outcome) that occurs."""

    items: list
    first: np.ndarray  # (P,) index of the pair's lower-numbered item
    second: np.ndarray  # (P,) index of the other item
    outcome: np.ndarray  # (P,) 0: first won, 1: second won, 2: tie
    count: np.ndarray  # (P,) comparisons in the cell

    @property
    def total(self) -> int:
        return int(self.count.sum())


def _codes(values: np.ndarray, items: list) -> np.ndarray:
    index = {item: k for k, item in enumerate(items)}
    if len(index) != len(items):
        raise ValueError("`items` has duplicates")
    try:
        return np.fromiter((index[v] for v in values.tolist()), dtype=np.int64, count=values.size)
    except KeyError as missing:
        raise ValueError(f"item {missing.args[0]!r} is not in `items`") from None


def _tally(comparisons, items: Sequence[Hashable] | None) -> _Tally:
    """Parse either input form into cells. Raises ValueError on malformed comparisons."""
    if isinstance(comparisons, np.ndarray):
        if comparisons.ndim != 2 or comparisons.shape[1] != 3:
            raise ValueError("an array of comparisons must be N x 3: (i, j, outcome)")
        i, j = comparisons[:, 0], comparisons[:, 1]
        outcome = comparisons[:, 2].astype(float)
        if i.dtype.kind == "f" and np.array_equal(i, np.floor(i)) and np.array_equal(j, np.floor(j)):
            i, j = i.astype(np.int64), j.astype(np.int64)  # integer ids, cast to float beside the outcomes
        if not np.isin(outcome, (0.0, 0.5, 1.0)).all():
            raise ValueError("an outcome must be 1 (i won), 0 (j won) or 0.5 (a tie)")
    else:
        rows = list(comparisons)
        if any(len(row) != 3 for row in rows):
            raise ValueError("a comparison must be (winner, loser, tie)")
        winner, loser, tie = zip(*rows, strict=True) if rows else ((), (), ())
        if not all(isinstance(t, bool | np.bool_) for t in tie):
            raise ValueError("`tie` must be a bool; give outcomes 1 / 0 / 0.5 as an N x 3 array")
        i, j = np.asarray(winner), np.asarray(loser)
        outcome = np.where(np.asarray(tie, dtype=bool), 0.5, 1.0)
    if items is None:
        known, code = np.unique(np.concatenate([i, j]), return_inverse=True)
        items, code = known.tolist(), code.reshape(-1)
        ci, cj = code[: i.size], code[i.size :]
    else:
        items = list(items)
        ci, cj = _codes(i, items), _codes(j, items)
    if (ci == cj).any():
        raise ValueError("an item is compared with itself")
    first, second = np.minimum(ci, cj), np.maximum(ci, cj)
    seen_first = np.where(ci == first, outcome, 1.0 - outcome)  # the outcome for `first`
    kind = np.select([seen_first == 1.0, seen_first == 0.0], [0, 1], 2)
    key = (first * len(items) + second) * 3 + kind
    cells, count = np.unique(key, return_counts=True)
    pair, kind = np.divmod(cells, 3)
    first, second = np.divmod(pair, max(len(items), 1))
    return _Tally(items, first, second, kind, count)


def _win_matrices(tally: _Tally, counts: np.ndarray) -> np.ndarray:
    """(B x K x K) wins of row over column from (B x P) cell counts; a tie is half a win each."""
    k = len(tally.items)
    wins = np.zeros((counts.shape[0], k, k))
    a, b, kind = tally.first, tally.second, tally.outcome
    # Within one outcome a pair has one cell, so these fancy-indexed additions never collide.
    wins[:, a[kind == 0], b[kind == 0]] += counts[:, kind == 0]
    wins[:, b[kind == 1], a[kind == 1]] += counts[:, kind == 1]
    wins[:, a[kind == 2], b[kind == 2]] += counts[:, kind == 2] / 2.0
    wins[:, b[kind == 2], a[kind == 2]] += counts[:, kind == 2] / 2.0
    return wins


def _fit(wins: np.ndarray, alpha: float, tol: float, max_iter: int, start: np.ndarray | None = None) -> np.ndarray:
    """Centred log-strengths (B x K) maximising the Bradley-Terry likelihood of each win matrix plus
    ``alpha`` virtual ties per pair, by MM: p_i <- W_i / sum_j n_ij / (p_i + p_j) (Hunter 2004, eq. 3).
    Stops when no log-strength moves by more than ``tol``, or after ``max_iter`` steps."""
    b, k = wins.shape[:2]
    if k < 2:
        return np.zeros((b, k))
    games = wins + np.swapaxes(wins, 1, 2) + alpha
    games[:, np.arange(k), np.arange(k)] = 0.0
    won = wins.sum(axis=2) + alpha * (k - 1) / 2.0
    log_p = np.zeros((b, k)) if start is None else np.array(start, dtype=float)
    active = np.arange(b)  # replicates still moving
    for _ in range(max_iter):
        p = np.exp(log_p[active])
        denominator = (games[active] / (p[:, :, None] + p[:, None, :])).sum(axis=2)
        updated = np.log(won[active] / denominator)
        updated -= updated.mean(axis=1, keepdims=True)
        moving = np.abs(updated - log_p[active]).max(axis=1) > tol
        log_p[active] = updated
        active = active[moving]
        if not active.size:
            break
    return log_p


def _check_alpha(alpha: float) -> None:
    if not alpha > 0:
        raise ValueError("`alpha` must be positive: it keeps unbeaten and winless items finite")


def _scores(tally: _Tally, alpha: float, tol: float, max_iter: int) -> np.ndarray:
    return _fit(_win_matrices(tally, tally.count[None, :].astype(float)), alpha, tol, max_iter)[0]


def _intervals(tally: _Tally, point: np.ndarray, alpha: float, resamples: int, level: float, seed: int):
    """(low, high) arrays of the percentile bootstrap interval of each item's score."""
    if not 0 < level < 1:
        raise ValueError("`level` must be between 0 and 1")
    if resamples < 1:
        raise ValueError("`resamples` must be at least 1")
    k = len(tally.items)
    if not tally.total or k < 2:
        return point.copy(), point.copy()
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(tally.total, tally.count / tally.total, size=resamples).astype(float)
    replicates = np.empty((resamples, k))
    batch = max(1, _BATCH_CELLS // (k * k))
    for low in range(0, resamples, batch):
        chunk = draws[low : low + batch]
        start = np.broadcast_to(point, (chunk.shape[0], k))
        replicates[low : low + batch] = _fit(_win_matrices(tally, chunk), alpha, 1e-6, 10_000, start)
    tail = (1 - level) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail], axis=0)
    return low, high


def bradley_terry(
    comparisons: Iterable[tuple] | np.ndarray,
    items: Sequence[Hashable] | None = None,
    alpha: float = DEFAULT_ALPHA,
    *,
    tol: float = 1e-10,
    max_iter: int = 100_000,
) -> dict:
    """Bradley-Terry scores (log-strengths, mean 0) of the compared items: {item: score}.

    ``items`` fixes the items and their order (an item never compared, tied with all the others by
    the virtual ties alone, lands in the middle); by default the items compared, sorted. ``alpha`` is
    the weight of the virtual tie between every two items.
    Raises ValueError on malformed comparisons, an item not in ``items``, or ``alpha`` <= 0."""
    _check_alpha(alpha)
    tally = _tally(comparisons, items)
    return dict(zip(tally.items, _scores(tally, alpha, tol, max_iter).tolist(), strict=True))


def bradley_terry_ci(
    comparisons: Iterable[tuple] | np.ndarray,
    items: Sequence[Hashable] | None = None,
    alpha: float = DEFAULT_ALPHA,
    *,
    resamples: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> dict:
    """Percentile bootstrap intervals of the Bradley-Terry scores: {item: (low, high)}.

    ``resamples`` redraws of the comparisons from a generator seeded with ``seed``, so the same
    input gives the same intervals. Raises ValueError as ``bradley_terry``, and on a ``level``
    outside (0, 1) or fewer than one resample."""
    _check_alpha(alpha)
    tally = _tally(comparisons, items)
    point = _scores(tally, alpha, 1e-10, 100_000)
    low, high = _intervals(tally, point, alpha, resamples, level, seed)
    return {item: (float(lo), float(hi)) for item, lo, hi in zip(tally.items, low, high, strict=True)}


def leaderboard(
    comparisons: Iterable[tuple] | np.ndarray,
    items: Sequence[Hashable] | None = None,
    alpha: float = DEFAULT_ALPHA,
    *,
    resamples: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> list[dict]:
    """The items best first: ``{"item", "score", "ci_low", "ci_high", "wins", "losses", "ties"}``.

    ``score`` and the interval as in ``bradley_terry`` and ``bradley_terry_ci``; wins, losses and
    ties are the item's own counts. Equal scores keep the order of ``items`` (default: sorted).
    Raises ValueError as ``bradley_terry_ci``."""
    _check_alpha(alpha)
    tally = _tally(comparisons, items)
    k = len(tally.items)
    point = _scores(tally, alpha, 1e-10, 100_000)
    low, high = _intervals(tally, point, alpha, resamples, level, seed)
    a, b, kind, count = tally.first, tally.second, tally.outcome, tally.count
    wins = np.bincount(a[kind == 0], count[kind == 0], k) + np.bincount(b[kind == 1], count[kind == 1], k)
    losses = np.bincount(b[kind == 0], count[kind == 0], k) + np.bincount(a[kind == 1], count[kind == 1], k)
    ties = np.bincount(a[kind == 2], count[kind == 2], k) + np.bincount(b[kind == 2], count[kind == 2], k)
    rank = np.lexsort((np.arange(k), -point))
    return [
        {
            "item": tally.items[n],
            "score": float(point[n]),
            "ci_low": float(low[n]),
            "ci_high": float(high[n]),
            "wins": int(wins[n]),
            "losses": int(losses[n]),
            "ties": int(ties[n]),
        }
        for n in rank.tolist()
    ]


def ranking_pairs(order: Sequence[Hashable]) -> list[tuple]:
    """The comparisons a ranking answer (best first) makes: each item beats every later one.

    Raises ValueError when the order names an item twice."""
    order = list(order)
    if len(set(order)) != len(order):
        raise ValueError("an order names an item twice")
    return [(order[x], order[y], False) for x in range(len(order)) for y in range(x + 1, len(order))]
