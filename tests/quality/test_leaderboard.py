"""Bradley-Terry leaderboards against choix's MM and I-LSR fits."""

from __future__ import annotations

import choix
import numpy as np
import pytest
from scipy.stats import spearmanr

from backend.quality.leaderboard import bradley_terry, bradley_terry_ci, leaderboard, ranking_pairs

TINY = 1e-9  # virtual ties this light leave the maximum-likelihood fit as it is


def simulate(seed: int, items: int, comparisons: int, tie_share: float = 0.0):
    """(i, j, outcome) arrays from a Bradley-Terry model with normal log-strengths."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, items)
    i = rng.integers(0, items, comparisons)
    j = (i + rng.integers(1, items, comparisons)) % items
    i_wins = rng.random(comparisons) < 1 / (1 + np.exp(strength[j] - strength[i]))
    outcome = np.where(rng.random(comparisons) < tie_share, 0.5, i_wins.astype(float))
    return i, j, outcome


def as_vector(scores: dict, n: int) -> np.ndarray:
    return np.array([scores[k] for k in range(n)])


def centred(params: np.ndarray) -> np.ndarray:
    return params - params.mean()


@pytest.mark.parametrize("seed", range(4))
def test_scores_match_choix_maximum_likelihood(seed):
    n = 8 + seed
    i, j, outcome = simulate(seed, n, 400 * n)
    winner, loser = np.where(outcome == 1, i, j), np.where(outcome == 1, j, i)
    data = list(zip(winner.tolist(), loser.tolist(), strict=True))
    ours = as_vector(bradley_terry(np.column_stack([i, j, outcome]), alpha=TINY), n)
    ilsr = centred(choix.ilsr_pairwise(n, data))
    mm = centred(choix.mm_pairwise(n, data))
    assert spearmanr(ours, ilsr).statistic == pytest.approx(1.0)
    assert np.abs(ours - ilsr).max() < 1e-7
    assert np.abs(ours - mm).max() < 1e-5  # choix's MM stops at a looser tolerance
    assert ours.mean() == pytest.approx(0.0, abs=1e-12)


def test_a_tie_counts_as_half_a_win_each():
    # choix has no ties: with every decisive comparison twice and every tie as one win each way,
    # its data hold exactly twice our counts, which leaves the maximum-likelihood fit unchanged.
    n = 10
    i, j, outcome = simulate(5, n, 4000, tie_share=0.3)
    data = []
    for a, b, o in zip(i.tolist(), j.tolist(), outcome.tolist(), strict=True):
        data += [(a, b), (b, a)] if o == 0.5 else [(a, b) if o == 1 else (b, a)] * 2
    ours = as_vector(bradley_terry(np.column_stack([i, j, outcome]), alpha=TINY), n)
    assert np.abs(ours - centred(choix.ilsr_pairwise(n, data))).max() < 1e-7


def test_rows_and_arrays_say_the_same():
    i, j, outcome = simulate(2, 6, 500, tie_share=0.2)
    rows = [
        (a, b, o == 0.5) if o != 0 else (b, a, False)
        for a, b, o in zip(i.tolist(), j.tolist(), outcome.tolist(), strict=True)
    ]
    from_rows = bradley_terry(rows)
    from_array = bradley_terry(np.column_stack([i, j, outcome]))
    assert from_rows.keys() == from_array.keys() == set(range(6))
    assert as_vector(from_rows, 6) == pytest.approx(as_vector(from_array, 6), abs=1e-9)


def test_unbeaten_and_winless_items_stay_finite_and_in_order():
    rows = [("champ", "mid", False)] * 5 + [("mid", "last", False)] * 5 + [("champ", "last", False)] * 5
    scores = bradley_terry(rows)
    assert all(np.isfinite(list(scores.values())))
    assert scores["champ"] > scores["mid"] > scores["last"]
    assert scores["champ"] == pytest.approx(-scores["last"])


def test_the_virtual_tie_of_two_items_in_closed_form():
    # With two items, P(a beats b) = (wins + alpha / 2) / (games + alpha): a 5-0 record and alpha 1
    # give odds of 5.5 : 0.5, split evenly around 0.
    scores = bradley_terry([("a", "b", False)] * 5, alpha=1.0)
    assert scores["a"] == pytest.approx(np.log(5.5 / 0.5) / 2)
    assert scores["b"] == pytest.approx(-scores["a"])


def test_more_virtual_ties_pull_scores_together():
    i, j, outcome = simulate(3, 6, 60)
    data = np.column_stack([i, j, outcome])
    spreads = [np.ptp(list(bradley_terry(data, alpha=a).values())) for a in (0.01, 1.0, 10.0)]
    assert spreads[0] > spreads[1] > spreads[2] > 0


def test_an_item_never_compared_lands_among_the_others():
    rows = [("a", "b", False), ("b", "c", False), ("a", "c", False), ("c", "a", False)]
    scores = bradley_terry(rows, items=["a", "b", "c", "unseen"])
    assert list(scores) == ["a", "b", "c", "unseen"]
    others = [scores[k] for k in "abc"]
    assert min(others) < scores["unseen"] < max(others)


def test_malformed_comparisons_are_refused():
    with pytest.raises(ValueError, match="outcome"):
        bradley_terry(np.array([[0, 1, 0.7]]))
    with pytest.raises(ValueError, match="bool"):
        bradley_terry([("a", "b", 0)])
    with pytest.raises(ValueError, match="itself"):
        bradley_terry([("a", "a", False)])
    with pytest.raises(ValueError, match="not in `items`"):
        bradley_terry([("a", "b", False)], items=["a"])
    with pytest.raises(ValueError, match="alpha"):
        bradley_terry([("a", "b", False)], alpha=0)
    with pytest.raises(ValueError, match="N x 3"):
        bradley_terry(np.zeros((4, 2)))


# Bootstrap intervals


def test_intervals_hold_the_estimate_and_are_reproducible():
    data = np.column_stack(simulate(4, 12, 3000, tie_share=0.1))
    scores = bradley_terry(data)
    intervals = bradley_terry_ci(data, resamples=100)
    for item, (low, high) in intervals.items():
        assert low < scores[item] < high
    assert bradley_terry_ci(data, resamples=100) == intervals
    assert bradley_terry_ci(data, resamples=100, seed=1) != intervals


def test_intervals_narrow_with_more_comparisons():
    def mean_width(comparisons: int) -> float:
        intervals = bradley_terry_ci(np.column_stack(simulate(6, 8, comparisons)), resamples=100)
        return float(np.mean([high - low for low, high in intervals.values()]))

    # Widths shrink as 1 / sqrt(comparisons): 16 times the data, a quarter of the width.
    assert mean_width(16_000) / mean_width(1_000) == pytest.approx(0.25, rel=0.2)


def test_multinomial_intervals_agree_with_resampling_rows():
    data = np.column_stack(simulate(7, 6, 1500, tie_share=0.1))
    rng = np.random.default_rng(11)
    replicates = np.array(
        [as_vector(bradley_terry(data[rng.integers(0, len(data), len(data))]), 6) for _ in range(300)]
    )
    rows_low, rows_high = np.quantile(replicates, [0.025, 0.975], axis=0)
    ours = bradley_terry_ci(data, resamples=300)
    ours_low, ours_high = (np.array([ours[k][side] for k in range(6)]) for side in (0, 1))
    assert ours_high - ours_low == pytest.approx(rows_high - rows_low, rel=0.25)
    assert (ours_low + ours_high) / 2 == pytest.approx((rows_low + rows_high) / 2, abs=0.05)


def test_the_level_sets_the_width():
    data = np.column_stack(simulate(8, 5, 800))
    wide, narrow = bradley_terry_ci(data, level=0.95), bradley_terry_ci(data, level=0.5)
    for item in wide:
        assert wide[item][0] < narrow[item][0] < narrow[item][1] < wide[item][1]
    with pytest.raises(ValueError, match="level"):
        bradley_terry_ci(data, level=95)
    with pytest.raises(ValueError, match="resamples"):
        bradley_terry_ci(data, resamples=0)


# The leaderboard


def test_leaderboard_rows_best_first_with_counts():
    rows = (
        [("gpt", "llama", False)] * 6
        + [("llama", "gpt", False)] * 2
        + [("gpt", "llama", True)] * 2
        + [("llama", "mistral", False)] * 4
        + [("mistral", "gpt", False)]
    )
    board = leaderboard(rows)
    assert [row["item"] for row in board] == ["gpt", "llama", "mistral"]
    assert [(row["wins"], row["losses"], row["ties"]) for row in board] == [(6, 3, 2), (6, 6, 2), (1, 4, 0)]
    assert set(board[0]) == {"item", "score", "ci_low", "ci_high", "wins", "losses", "ties"}
    scores = [row["score"] for row in board]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) == pytest.approx(0.0, abs=1e-12)
    assert all(row["ci_low"] <= row["score"] <= row["ci_high"] for row in board)
    assert leaderboard(rows) == board


def test_leaderboard_matches_the_separate_fits():
    data = np.column_stack(simulate(9, 7, 2000, tie_share=0.2))
    board = leaderboard(data, resamples=50, seed=3)
    scores, intervals = bradley_terry(data), bradley_terry_ci(data, resamples=50, seed=3)
    for row in board:
        assert row["score"] == pytest.approx(scores[row["item"]])
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(intervals[row["item"]])
    assert sum(row["wins"] + row["losses"] + row["ties"] for row in board) == 2 * len(data)


def test_empty_and_single_item_boards():
    assert leaderboard([]) == []
    board = leaderboard([], items=["a", "b"])
    assert [(row["item"], row["score"], row["ci_low"], row["ci_high"]) for row in board] == [
        ("a", 0.0, 0.0, 0.0),
        ("b", 0.0, 0.0, 0.0),
    ]


# Rankings as comparisons


def test_a_ranking_beats_each_later_item():
    assert ranking_pairs(["b", "c", "a"]) == [("b", "c", False), ("b", "a", False), ("c", "a", False)]
    assert ranking_pairs(["only"]) == []
    with pytest.raises(ValueError, match="twice"):
        ranking_pairs(["a", "b", "a"])


def test_rankings_feed_the_leaderboard():
    answers = [["x", "y", "z"]] * 3 + [["y", "x", "z"]]
    comparisons = [pair for order in answers for pair in ranking_pairs(order)]
    board = leaderboard(comparisons)
    assert [row["item"] for row in board] == ["x", "y", "z"]
    assert (board[2]["wins"], board[2]["losses"]) == (0, 8)
