"""Ranking agreement and consensus against scipy and hand-checked examples."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from backend.quality.ranking import aggregate_ranking, kendall_w, kendall_w_over_tasks, mean_kendall_tau


def random_orders(rng, raters: int, items: list) -> list[list]:
    return [list(rng.permutation(np.array(items, dtype=object))) for _ in range(raters)]


def scipy_tau(first: list, second: list) -> float:
    """Kendall tau of two orders of the same items, from their ranks."""
    return kendalltau([first.index(item) for item in first], [second.index(item) for item in first]).statistic


# Kendall's W


def test_w_of_a_hand_computed_example():
    # Rank sums 4, 6, 8, 12 around their mean 7.5: S = 3.5^2 + 1.5^2 + 0.5^2 + 4.5^2 = 35,
    # W = 12 S / (m^2 (n^3 - n)) = 420 / (9 * 60) = 7/9.
    ranks = [[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]]
    assert kendall_w(ranks=ranks) == pytest.approx(7 / 9)
    orders = [["a", "b", "c", "d"], ["b", "a", "c", "d"], ["a", "c", "b", "d"]]
    assert kendall_w(orders) == pytest.approx(7 / 9)


def test_w_is_one_for_identical_rankings_and_zero_for_opposite_ones():
    assert kendall_w([["x", "y", "z", "w"]] * 4) == pytest.approx(1.0)
    assert kendall_w([["x", "y", "z", "w"], ["w", "z", "y", "x"]]) == pytest.approx(0.0)
    # Every cyclic shift once: each item's rank sum is the same.
    assert kendall_w([["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]) == pytest.approx(0.0)


@pytest.mark.parametrize("seed", range(20))
def test_w_matches_the_mean_spearman_correlation(seed):
    # Without ties, W = ((m - 1) * mean pairwise Spearman rho + 1) / m.
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(2, 7)), int(rng.integers(2, 9))
    ranks = np.argsort(rng.random((m, n)), axis=1)
    rho = np.mean([spearmanr(ranks[a], ranks[b]).statistic for a, b in itertools.combinations(range(m), 2)])
    assert kendall_w(ranks=ranks) == pytest.approx(((m - 1) * rho + 1) / m)


def test_w_reads_ranks_of_any_base_and_orders_alike():
    ranks = np.array([[3, 1, 2, 4], [1, 2, 4, 3]])
    orders = [["b", "c", "a", "d"], ["a", "b", "d", "c"]]
    assert kendall_w(ranks=ranks) == pytest.approx(kendall_w(ranks=ranks - 1))
    assert kendall_w(ranks=ranks) == pytest.approx(kendall_w(orders))
    assert kendall_w(ranks=ranks) == pytest.approx(kendall_w(ranks=ranks * 10.5))


def test_w_is_undefined_for_one_rater_or_one_item():
    assert kendall_w([["a", "b", "c"]]) is None
    assert kendall_w([["a"], ["a"], ["a"]]) is None
    assert kendall_w([]) is None


def test_orders_of_different_items_are_refused():
    with pytest.raises(ValueError, match="same items"):
        kendall_w([["a", "b"], ["a", "c"]])
    with pytest.raises(ValueError, match="twice"):
        kendall_w([["a", "a"], ["a", "a"]])
    with pytest.raises(ValueError, match="same rank"):
        kendall_w(ranks=[[1, 1, 2], [1, 2, 3]])
    with pytest.raises(TypeError):
        kendall_w([["a", "b"]], ranks=[[1, 2]])


# Kendall tau


@pytest.mark.parametrize("seed", range(20))
def test_mean_tau_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    orders = random_orders(rng, int(rng.integers(2, 7)), [f"item{k}" for k in range(int(rng.integers(2, 9)))])
    expected = np.mean([scipy_tau(a, b) for a, b in itertools.combinations(orders, 2)])
    assert mean_kendall_tau(orders) == pytest.approx(expected)


def test_mean_tau_of_agreeing_and_opposite_raters():
    assert mean_kendall_tau([[1, 2, 3]] * 3) == pytest.approx(1.0)
    assert mean_kendall_tau([[1, 2, 3], [3, 2, 1]]) == pytest.approx(-1.0)
    assert mean_kendall_tau([[1, 2, 3]]) is None


# Over many tasks


def ragged_crowd(seed: int):
    """Tasks of 1 to 6 items and 1 to 5 answers; workers reuse a noisy truth or answer at random."""
    rng = np.random.default_rng(seed)
    task, worker, orders = [], [], []
    for t in range(60):
        items = [f"t{t}-{k}" for k in range(int(rng.integers(1, 7)))]
        truth = list(rng.permutation(np.array(items, dtype=object)))
        for w in rng.choice(12, size=int(rng.integers(1, 6)), replace=False):
            order = list(truth)
            if w % 3 == 0:
                order = list(rng.permutation(np.array(items, dtype=object)))
            elif len(order) > 1 and rng.random() < 0.5:
                k = int(rng.integers(0, len(order) - 1))
                order[k], order[k + 1] = order[k + 1], order[k]
            task.append(1000 - 7 * t)
            worker.append(f"w{w}")
            orders.append(order)
    shuffle = rng.permutation(len(task))
    return [task[i] for i in shuffle], [worker[i] for i in shuffle], [orders[i] for i in shuffle]


@pytest.mark.parametrize("seed", range(5))
def test_over_tasks_matches_each_task_alone(seed):
    task, worker, orders = ragged_crowd(seed)
    by_task: dict = {}
    for t, w, order in zip(task, worker, orders, strict=True):
        by_task.setdefault(t, []).append((w, order))
    ws = [kendall_w([o for _, o in answers]) for answers in by_task.values()]
    taus = [mean_kendall_tau([o for _, o in answers]) for answers in by_task.values()]
    per_worker: dict = {}
    for answers in by_task.values():
        if len(answers) < 2 or len(answers[0][1]) < 2:
            continue
        for k, (w, order) in enumerate(answers):
            others = [scipy_tau(order, o) for j, (_, o) in enumerate(answers) if j != k]
            per_worker.setdefault(w, []).append(np.mean(others))

    result = kendall_w_over_tasks(task, worker, orders)

    defined = [w for w in ws if w is not None]
    assert result.tasks == len(defined)
    assert result.answers == len(task)
    assert result.kendall_w == pytest.approx(np.mean(defined))
    assert result.mean_kendall_tau == pytest.approx(np.mean([t for t in taus if t is not None]))
    assert result.worker_tau.keys() == per_worker.keys()
    for w, values in per_worker.items():
        assert result.worker_tau[w] == pytest.approx(np.mean(values)), w


def test_over_tasks_takes_an_array_of_equal_length_orders():
    rng = np.random.default_rng(3)
    orders = np.argsort(rng.random((300, 4)), axis=1)
    task, worker = np.repeat(np.arange(100), 3), rng.integers(0, 10, 300)
    as_array = kendall_w_over_tasks(task, worker, orders)
    as_lists = kendall_w_over_tasks(task.tolist(), worker.tolist(), orders.tolist())
    assert as_array == as_lists
    assert as_array.kendall_w == pytest.approx(np.mean([kendall_w(orders[task == t]) for t in range(100)]))


def test_a_worker_who_reverses_everyone_scores_minus_one():
    orders = [["a", "b", "c"], ["a", "b", "c"], ["c", "b", "a"]] * 2
    result = kendall_w_over_tasks([1, 1, 1, 2, 2, 2], ["x", "y", "z"] * 2, orders)
    assert result.worker_tau == pytest.approx({"x": 0.0, "y": 0.0, "z": -1.0})
    assert result.mean_kendall_tau == pytest.approx(-1 / 3)


def test_over_tasks_with_nothing_defined():
    result = kendall_w_over_tasks([1, 2], ["x", "x"], [["a", "b"], ["a", "b"]])
    assert (result.kendall_w, result.mean_kendall_tau, result.tasks, result.answers) == (None, None, 0, 2)
    assert result.worker_tau == {}
    assert kendall_w_over_tasks([], [], []).answers == 0


def test_over_tasks_refuses_orders_of_different_items_on_a_task():
    with pytest.raises(ValueError, match="same items"):
        kendall_w_over_tasks([1, 1], ["x", "y"], [["a", "b"], ["a", "c"]])
    with pytest.raises(ValueError, match="same items"):
        kendall_w_over_tasks([1, 1], ["x", "y"], [["a", "b"], ["a", "b", "c"]])
    with pytest.raises(ValueError, match="twice"):
        kendall_w_over_tasks([1, 1], ["x", "y"], [["a", "a"], ["a", "a"]])
    with pytest.raises(ValueError, match="one entry per answer"):
        kendall_w_over_tasks([1], ["x", "y"], [["a", "b"], ["a", "b"]])


# Consensus order

TENNESSEE = (
    [["Memphis", "Nashville", "Chattanooga", "Knoxville"]] * 42
    + [["Nashville", "Chattanooga", "Knoxville", "Memphis"]] * 26
    + [["Chattanooga", "Knoxville", "Nashville", "Memphis"]] * 15
    + [["Knoxville", "Chattanooga", "Nashville", "Memphis"]] * 17
)


def test_ranked_pairs_puts_the_condorcet_winner_first():
    # Nashville beats every other city head to head (58:42, 68:32, 68:32).
    order, _ = aggregate_ranking(TENNESSEE)
    assert order == ["Nashville", "Chattanooga", "Knoxville", "Memphis"]


def test_borda_counts_positions():
    # Borda scores: Nashville 194, Chattanooga 173, Memphis 126, Knoxville 107.
    order, _ = aggregate_ranking(TENNESSEE, method="borda")
    assert order == ["Nashville", "Chattanooga", "Memphis", "Knoxville"]


def test_ranked_pairs_drops_the_weakest_majority_of_a_cycle():
    # B beats C by 7, A beats B by 3, C beats A by 1: locking C over A would close the cycle.
    orders = [["A", "B", "C"]] * 5 + [["B", "C", "A"]] * 4 + [["C", "A", "B"]] * 2
    order, _ = aggregate_ranking(orders)
    assert order == ["A", "B", "C"]


@pytest.mark.parametrize("method", ["ranked_pairs", "borda"])
def test_ties_are_broken_the_same_whatever_order_the_answers_came_in(method):
    cycle = [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    results = {tuple(aggregate_ranking(list(p), method=method)[0]) for p in itertools.permutations(cycle)}
    assert results == {("a", "b", "c")}
    rng = np.random.default_rng(0)
    orders = random_orders(rng, 7, list("pqrstu"))
    first = aggregate_ranking(orders, method=method)
    for _ in range(10):
        assert aggregate_ranking([orders[i] for i in rng.permutation(7)], method=method) == first


def test_confidence_is_the_mean_tau_with_the_result_mapped_to_unit_interval():
    assert aggregate_ranking([["a", "b", "c"]] * 3) == (["a", "b", "c"], pytest.approx(1.0))
    order, confidence = aggregate_ranking(TENNESSEE)
    tau = np.mean([scipy_tau(order, o) for o in TENNESSEE])
    assert confidence == pytest.approx((tau + 1) / 2)
    assert 0.5 < confidence < 1


def test_a_single_item_and_bad_input():
    assert aggregate_ranking([["only"], ["only"]]) == (["only"], 1.0)
    with pytest.raises(ValueError, match="method"):
        aggregate_ranking([["a", "b"]], method="kemeny")
    with pytest.raises(ValueError, match="no orders"):
        aggregate_ranking([])
    with pytest.raises(ValueError, match="same items"):
        aggregate_ranking([["a", "b"], ["b", "c"]])
