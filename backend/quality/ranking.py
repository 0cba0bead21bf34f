"""Agreement and consensus for ranking answers (pure numpy).

A ranking answer is an *order*: the item ids best first, every item of the task once. Raters of
one task rank the same items, so their orders are permutations of one set; nothing here corrects
for ties, because an order has none. Internally an order becomes a row of 0-based ranks aligned on
the task's items in sorted id order (``argsort`` of the order is exactly that row).

Undefined figures (one rater, one item) come back as None.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

METHODS = ("ranked_pairs", "borda")
# Pair-sign columns are built for this many (answer x pair) cells at a time.
_PAIR_CELLS = 1 << 23


def _ranks_from_orders(orders) -> tuple[list, np.ndarray]:
    """The items (sorted) and the (raters x items) 0-based ranks of ``orders``.

    Raises ValueError when an order repeats an item or the orders do not rank the same items."""
    orders = [list(order) for order in orders]
    if not orders:
        return [], np.zeros((0, 0), dtype=np.int64)
    items = sorted(orders[0])
    if len(set(items)) != len(items):
        raise ValueError("an order names an item twice")
    for order in orders[1:]:
        if sorted(order) != items:
            raise ValueError("the orders do not rank the same items")
    position = {item: k for k, item in enumerate(items)}
    ranks = np.empty((len(orders), len(items)), dtype=np.int64)
    for row, order in enumerate(orders):
        ranks[row, [position[item] for item in order]] = np.arange(len(items))
    return items, ranks


def _normalise_ranks(ranks) -> np.ndarray:
    """Ranks of any numbers (lower is better, 0- or 1-based) as 0-based integer ranks per row."""
    ranks = np.asarray(ranks)
    if ranks.ndim != 2:
        raise ValueError("`ranks` must be a 2-D array (raters x items)")
    order = np.argsort(ranks, axis=1, kind="stable")
    ordered = np.take_along_axis(ranks, order, axis=1)
    if ranks.shape[1] > 1 and (ordered[:, 1:] == ordered[:, :-1]).any():
        raise ValueError("a rater gives two items the same rank")
    return np.argsort(order, axis=1)


def _rater_ranks(orders, ranks) -> np.ndarray:
    if (orders is None) == (ranks is None):
        raise TypeError("give exactly one of `orders` and `ranks`")
    return _normalise_ranks(ranks) if ranks is not None else _ranks_from_orders(orders)[1]


def _w(rank_sums: np.ndarray, m, n: int) -> np.ndarray:
    """Kendall's W from the per-item rank sums of m raters (0-based ranks), no tie correction."""
    m = np.asarray(m, dtype=float)
    spread = ((rank_sums - (m * (n - 1) / 2.0)[..., None]) ** 2).sum(axis=-1)
    return 12.0 * spread / (m**2 * (n**3 - n))


def _pair_signs(ranks: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """+1 where a row ranks the pair's first item above its second, -1 otherwise (answers x pairs)."""
    first, second = pairs
    above = (ranks[:, first] < ranks[:, second]).view(np.int8)
    return above + above - np.int8(1)


def kendall_w(orders: Sequence[Sequence[Hashable]] | None = None, *, ranks=None) -> float | None:
    """Kendall's coefficient of concordance W of m raters ranking the same n items.

    Give ``orders`` (one order per rater, best first) or ``ranks`` (raters x items, lower is better,
    no two items of a rater at the same rank). W = 12 S / (m^2 (n^3 - n)), S the squared deviations
    of the items' rank sums from their mean: 1 when all raters agree, 0 when the rank sums are all
    equal (two opposite orders). None when m < 2 or n < 2. Raises ValueError on orders that do not
    rank the same items."""
    r = _rater_ranks(orders, ranks)
    m, n = r.shape
    if m < 2 or n < 2:
        return None
    return float(_w(r.sum(axis=0), m, n))


def mean_kendall_tau(orders: Sequence[Sequence[Hashable]] | None = None, *, ranks=None) -> float | None:
    """The mean Kendall tau over every pair of raters (tau-a: orders have no ties, so it is tau-b too).

    None when there are fewer than two raters or two items. Raises ValueError as ``kendall_w``."""
    r = _rater_ranks(orders, ranks)
    m, n = r.shape
    if m < 2 or n < 2:
        return None
    signs = _pair_signs(r, np.triu_indices(n, 1)).astype(np.int64)
    n_pairs = n * (n - 1) // 2
    column = signs.sum(axis=0)
    # sum over rater pairs a != b of s_a . s_b = |sum s|^2 - m * n_pairs; each unordered pair twice.
    return float((column @ column - m * n_pairs) / (n_pairs * m * (m - 1)))


@dataclass(frozen=True)
class RankingAgreement:
    """Agreement of the ranking answers of many tasks.

    ``kendall_w`` and ``mean_kendall_tau`` are means over the ``tasks`` that have at least two
    answers and two items, each task weighing the same; None when there is no such task.
    ``worker_tau`` maps each worker to the mean, over its answers on those tasks, of the mean
    Kendall tau of its order with each other order of the task; a worker with no such answer is
    absent. ``answers`` counts every answer given.
    """

    kendall_w: float | None
    mean_kendall_tau: float | None
    tasks: int
    answers: int
    worker_tau: dict


def _order_groups(orders) -> list[tuple[np.ndarray, np.ndarray]]:
    """(answer positions, orders array) for each order length: a 2-D array is one group."""
    if isinstance(orders, np.ndarray) and orders.ndim == 2:
        return [(np.arange(orders.shape[0]), orders)]
    orders = list(orders)
    lengths = np.fromiter((len(order) for order in orders), dtype=np.int64, count=len(orders))
    if lengths.size and (lengths == lengths[0]).all():
        return [(np.arange(lengths.size), np.asarray(orders).reshape(lengths.size, int(lengths[0])))]
    groups = []
    for length in np.unique(lengths):
        where = np.flatnonzero(lengths == length)
        groups.append((where, np.asarray([orders[i] for i in where]).reshape(where.size, int(length))))
    return groups


def _group_agreement(task_index: np.ndarray, orders: np.ndarray):
    """Per task W and mean tau, and per answer the summed tau with the task's other answers.

    ``task_index`` gives each row's task as 0..T-1 in ascending row-sorted order (rows already sorted
    by task). Returns (task ids present, answers per task, W, mean tau, per answer tau sum)."""
    a, n = orders.shape
    ranks = np.argsort(orders, axis=1, kind="stable").astype(np.int32 if n > 1 << 15 else np.int16)
    items = np.take_along_axis(orders, ranks, axis=1)
    if n > 1 and (items[:, 1:] == items[:, :-1]).any():
        raise ValueError("an order names an item twice")
    starts = np.flatnonzero(np.r_[True, task_index[1:] != task_index[:-1]])
    m = np.diff(np.r_[starts, a])
    row_task = np.repeat(np.arange(starts.size), m)
    if (items != items[starts][row_task]).any():
        raise ValueError("the orders of a task do not rank the same items")
    tau_sum = np.zeros(a)
    w = mean_tau = np.full(starts.size, np.nan)
    if n > 1:
        w = _w(np.add.reduceat(ranks, starts, axis=0, dtype=np.int64), m, n)
        first, second = np.triu_indices(n, 1)
        n_pairs = first.size
        dots = np.zeros(a, dtype=np.int64)
        squares = np.zeros(starts.size, dtype=np.int64)
        step = max(1, _PAIR_CELLS // max(a, 1))
        for low in range(0, n_pairs, step):
            block = slice(low, low + step)
            signs = _pair_signs(ranks, (first[block], second[block]))
            column = np.add.reduceat(signs, starts, axis=0, dtype=np.int64)
            dots += np.einsum("ij,ij->i", signs, column[row_task], dtype=np.int64)
            squares += np.einsum("ij,ij->i", column, column)
        tau_sum = (dots - n_pairs) / n_pairs
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_tau = (squares - m * n_pairs) / (n_pairs * m * (m - 1.0))
    return starts, m, w, mean_tau, tau_sum


def kendall_w_over_tasks(task, worker, orders) -> RankingAgreement:
    """Mean Kendall W and mean Kendall tau over many tasks, and each worker's tau with the others.

    Long format, one entry per answer: ``task`` and ``worker`` ids (any comparable values) and
    ``orders``, the answers' orders (best first): a (answers x items) array when every task has the
    same number of items, or a sequence of sequences. A task's orders must rank the same items;
    repeated (task, worker) pairs count as separate answers. Vectorised over tasks: one sort of the
    answers, rank sums and pair-sign sums with ``reduceat``. Raises ValueError on orders that
    repeat an item, on a task whose orders differ in their items, and on arrays of unequal length."""
    task, worker = np.asarray(task).reshape(-1), np.asarray(worker).reshape(-1)
    groups = _order_groups(orders)
    answers = sum(rows.size for rows, _ in groups)
    if not (task.size == worker.size == answers):
        raise ValueError("`task`, `worker` and `orders` must have one entry per answer")
    if not answers:
        return RankingAgreement(None, None, 0, 0, {})
    # One sort of the answers by task, which a single group (every order the same length) reuses.
    by_task = np.argsort(task, kind="stable")
    ordered = task[by_task]
    task_code = np.empty(task.size, dtype=np.int64)
    task_code[by_task] = np.cumsum(np.r_[False, ordered[1:] != ordered[:-1]])
    w_parts, tau_parts, rows_used, tau_used, m_used, seen = [], [], [], [], [], []
    for rows, group in groups:
        local = by_task if len(groups) == 1 else np.argsort(task_code[rows], kind="stable")
        rows, codes = rows[local], task_code[rows[local]]
        starts, m, w, mean_tau, tau_sum = _group_agreement(codes, group[local])
        seen.append(codes[starts])
        defined = (m > 1) & (group.shape[1] > 1)
        w_parts.append(w[defined])
        tau_parts.append(mean_tau[defined])
        row_m = np.repeat(m, m)
        keep = np.repeat(defined, m)
        rows_used.append(rows[keep])
        tau_used.append(tau_sum[keep])
        m_used.append(row_m[keep])
    seen = np.concatenate(seen) if seen else np.zeros(0, dtype=np.int64)
    if np.unique(seen).size != seen.size:
        raise ValueError("the orders of a task do not rank the same items")
    w_all, tau_all = np.concatenate(w_parts or [np.zeros(0)]), np.concatenate(tau_parts or [np.zeros(0)])
    rows = np.concatenate(rows_used or [np.zeros(0, dtype=np.int64)])
    per_answer = np.concatenate(tau_used or [np.zeros(0)]) / (np.concatenate(m_used or [np.ones(0)]) - 1)
    worker_tau = {}
    if rows.size:
        worker_ids, worker_code = np.unique(worker[rows], return_inverse=True)
        worker_code = worker_code.reshape(-1)
        mean = np.bincount(worker_code, per_answer) / np.bincount(worker_code)
        worker_tau = dict(zip(worker_ids.tolist(), mean.tolist(), strict=True))
    return RankingAgreement(
        kendall_w=float(w_all.mean()) if w_all.size else None,
        mean_kendall_tau=float(tau_all.mean()) if tau_all.size else None,
        tasks=int(w_all.size),
        answers=int(answers),
        worker_tau=worker_tau,
    )


def _ranked_pairs(prefer: np.ndarray, tie_break: np.ndarray) -> list[int]:
    """Tideman's ranked pairs on a (items x items) count of raters preferring row over column.

    Majorities are locked strongest margin first unless they close a cycle with the ones already
    locked; equal margins go by ``tie_break`` (the position of each item in the tie-break order) of
    the winner, then of the loser. The order is read off the locked graph, the tie-break choosing
    among items that nothing remaining beats (items whose every contest is a tie)."""
    n = prefer.shape[0]
    margin = prefer - prefer.T
    winners, losers = np.nonzero(margin > 0)
    ranked = sorted(
        zip(winners.tolist(), losers.tolist(), strict=True),
        key=lambda p: (-margin[p], tie_break[p[0]], tie_break[p[1]]),
    )
    reach = np.eye(n, dtype=bool)  # reach[x, y]: a locked path leads from x to y
    locked = np.zeros((n, n), dtype=bool)
    for x, y in ranked:
        if reach[y, x]:
            continue  # locking x over y would close a cycle
        locked[x, y] = True
        reach |= np.outer(reach[:, x], reach[y])
    remaining, result = set(range(n)), []
    while remaining:
        sources = [k for k in remaining if not any(locked[j, k] for j in remaining)]
        best = min(sources, key=lambda k: tie_break[k])
        result.append(best)
        remaining.remove(best)
    return result


def aggregate_ranking(orders: Sequence[Sequence[Hashable]], method: str = "ranked_pairs") -> tuple[list, float]:
    """The consensus order of several orders of the same items, and its confidence in [0, 1].

    ``ranked_pairs`` (Tideman; a Condorcet winner, when there is one, comes first) or ``borda``
    (items by their summed positions). Ties are broken the same way every time, never by the order
    the answers came in: by Borda score, then by item id; ranked pairs breaks equal margins so too.
    ``confidence`` is the mean Kendall tau of the input orders with the result, mapped from [-1, 1]
    to [0, 1] by (tau + 1) / 2: 1 when every rater gave the result, 0.5 when the raters are as far
    from it as from its reverse on average; 1 for a single item. Raises ValueError on no orders, an
    unknown method, or orders that do not rank the same items."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    items, ranks = _ranks_from_orders(orders)
    if not ranks.shape[0]:
        raise ValueError("no orders to aggregate")
    m, n = ranks.shape
    borda = (n - 1 - ranks).sum(axis=0)
    tie_break = np.empty(n, dtype=np.int64)
    tie_break[np.lexsort((np.arange(n), -borda))] = np.arange(n)
    if method == "borda":
        result = np.argsort(tie_break).tolist()
    else:
        prefer = (ranks[:, :, None] < ranks[:, None, :]).sum(axis=0)
        result = _ranked_pairs(prefer, tie_break)
    if n < 2:
        return [items[k] for k in result], 1.0
    position = np.empty(n, dtype=np.int64)
    position[result] = np.arange(n)
    pairs = np.triu_indices(n, 1)
    agree = _pair_signs(ranks, pairs).astype(np.int64) @ _pair_signs(position[None, :], pairs)[0].astype(np.int64)
    tau = agree.mean() / pairs[0].size
    return [items[k] for k in result], float((tau + 1) / 2)
