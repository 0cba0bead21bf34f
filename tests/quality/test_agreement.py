"""Agreement metrics against the reference implementations and hand-checked examples."""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from backend.quality import agreement
from backend.quality.agreement import (
    bootstrap_ci,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_cohen_kappa,
    per_task_top_share,
    percent_agreement,
    worker_agreement,
)
from backend.quality.multilabel import masi_distance, mean_jaccard, mean_masi_agreement, multi_label_alpha

FAST = settings(max_examples=60, deadline=None)
NAN = float("nan")


@st.composite
def reliability_data(draw, numeric: bool):
    """A workers x tasks matrix with NaN for missing answers, as the krippendorff package takes it."""
    workers, tasks, k = draw(st.integers(2, 6)), draw(st.integers(1, 25)), draw(st.integers(1, 5))
    cells = draw(
        st.lists(st.one_of(st.none(), st.integers(0, k - 1)), min_size=workers * tasks, max_size=workers * tasks)
    )
    domain = np.arange(k, dtype=float)
    if numeric:
        domain = np.sort(np.array(draw(st.lists(st.integers(-50, 50), min_size=k, max_size=k, unique=True)), float))
        domain = domain * draw(st.sampled_from([1.0, 0.25, 3.5]))
    codes = np.array([np.nan if c is None else c for c in cells]).reshape(workers, tasks)
    return np.where(np.isnan(codes), np.nan, domain[np.nan_to_num(codes).astype(int)])


def to_long(matrix: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(task, worker, value) in shuffled order, with task ids that are neither 0-based nor contiguous."""
    worker, task = np.nonzero(~np.isnan(matrix))
    value = matrix[worker, task]
    order = np.random.default_rng(seed).permutation(task.size)
    return task[order] * 7 + 100, worker[order], value[order]


def reference_alpha(matrix: np.ndarray, level: str) -> float:
    try:
        with np.errstate(all="ignore"):
            return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))
    except ValueError:  # the package raises where alpha is undefined; we return NaN
        return NAN


@FAST
@given(matrix=reliability_data(numeric=False))
def test_nominal_alpha_equals_the_krippendorff_package(matrix):
    task, _worker, value = to_long(matrix)
    expected = reference_alpha(matrix, "nominal")
    assert krippendorff_alpha(task, value.astype(int), level="nominal") == pytest.approx(
        expected, abs=1e-9, nan_ok=True
    )


@FAST
@given(matrix=reliability_data(numeric=True), level=st.sampled_from(["ordinal", "interval"]))
def test_ordinal_and_interval_alpha_equal_the_krippendorff_package(matrix, level):
    task, worker, value = to_long(matrix)
    expected = reference_alpha(matrix, level)
    assert krippendorff_alpha(task, value, level=level, worker=worker) == pytest.approx(expected, abs=1e-9, nan_ok=True)


@FAST
@given(
    answers=st.lists(st.tuples(st.integers(0, 10), st.integers(0, 3)), max_size=60),
    level=st.sampled_from(agreement.LEVELS),
)
def test_alpha_with_repeated_answers_equals_the_package_on_value_counts(answers, level):
    # value_counts (tasks x values) holds any number of answers per task, repeats by one worker included.
    domain = np.array([-2.0, 0.5, 1.0, 7.0])
    task = np.array([a[0] for a in answers], dtype=np.int64)
    code = np.array([a[1] for a in answers], dtype=np.int64)
    counts = np.zeros((11, 4))
    np.add.at(counts, (task, code), 1)
    try:
        with np.errstate(all="ignore"):
            expected = krippendorff.alpha(value_counts=counts, value_domain=domain, level_of_measurement=level)
    except ValueError:
        expected = NAN
    assert krippendorff_alpha(task, domain[code], level, values=domain) == pytest.approx(
        expected, abs=1e-9, nan_ok=True
    )


def test_alpha_on_the_sorted_path_equals_the_dense_path(monkeypatch):
    rng = np.random.default_rng(5)
    task, value = rng.integers(0, 400, 2000), rng.integers(0, 6, 2000)
    dense = [krippendorff_alpha(task, value, level) for level in agreement.LEVELS]
    dense_other = (percent_agreement(task, value), per_task_top_share(task, value)[1])
    monkeypatch.setattr(agreement, "_DENSE_CELLS", 0)
    monkeypatch.setattr(agreement, "_DENSE_PER_ANSWER", 0)
    assert [krippendorff_alpha(task, value, level) for level in agreement.LEVELS] == pytest.approx(dense, abs=1e-12)
    assert percent_agreement(task, value) == pytest.approx(dense_other[0])
    assert per_task_top_share(task, value)[1] == pytest.approx(dense_other[1])


# Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12 units.
K2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
        [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
    ]
)


@pytest.mark.parametrize(("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_alpha_reproduces_krippendorffs_2011_worked_example(level, published):
    task, _worker, value = to_long(K2011)
    assert round(krippendorff_alpha(task, value, level=level), 3) == published


def test_ordinal_alpha_follows_the_order_given_in_values():
    task, _worker, value = to_long(K2011)
    names = np.array(["very low", "low", "mid", "high", "very high"])
    labelled = names[value.astype(int) - 1]
    order = ["very low", "low", "mid", "high", "very high"]
    assert krippendorff_alpha(task, labelled, "ordinal", values=order) == pytest.approx(
        krippendorff_alpha(task, value, "ordinal"), abs=1e-12
    )
    with pytest.raises(ValueError, match="not in `values`"):
        krippendorff_alpha(task, labelled, "ordinal", values=order[:-1])


def test_perfect_agreement_gives_alpha_one_and_no_information_gives_nan():
    task = np.array([1, 1, 1, 2, 2, 3, 3, 3])
    value = np.array([0, 0, 0, 2, 2, 1, 1, 1])
    for level in agreement.LEVELS:
        assert krippendorff_alpha(task, value, level) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha([1, 2, 3], [0, 1, 0]))  # no task with two answers
    assert np.isnan(krippendorff_alpha([1, 1, 2, 2], [4, 4, 4, 4]))  # no variation at all
    assert np.isnan(krippendorff_alpha([], []))
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(task, value, "ratio")


def test_a_repeated_answer_counts_as_one_more_value_of_its_task():
    # Worker 0 answered task 2 twice: alpha reads it like an extra coder on that task.
    task = np.array([0, 0, 1, 1, 2, 2, 2, 3, 3])
    worker = np.array([0, 1, 0, 1, 0, 1, 0, 0, 1])
    value = np.array([1, 1, 0, 1, 2, 2, 1, 0, 0])
    matrix = np.full((3, 4), np.nan)
    matrix[worker[:6], task[:6]] = value[:6]
    matrix[2, 2] = value[6]
    matrix[worker[7:], task[7:]] = value[7:]
    assert krippendorff_alpha(task, value, worker=worker) == pytest.approx(reference_alpha(matrix, "nominal"))


def test_nan_values_are_missing_answers():
    assert krippendorff_alpha([1, 1, 2, 2, 2], [0.0, 1.0, 2.0, 2.0, np.nan], "interval") == pytest.approx(
        krippendorff_alpha([1, 1, 2, 2], [0.0, 1.0, 2.0, 2.0], "interval")
    )


@FAST
@given(tasks=st.integers(1, 30), raters=st.integers(2, 6), k=st.integers(1, 5), data=st.data())
def test_fleiss_kappa_equals_statsmodels(tasks, raters, k, data):
    labels = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=tasks * raters, max_size=tasks * raters)))
    task = np.repeat(np.arange(tasks), raters)
    table = np.zeros((tasks, k))
    np.add.at(table, (task, labels), 1)
    with np.errstate(all="ignore"):
        expected = sm_fleiss_kappa(table, method="fleiss")
    result = fleiss_kappa(task, labels)
    if np.isnan(expected):
        assert result.value is None and "one category" in result.reason
    else:
        assert result.reason is None and result.value == pytest.approx(expected, abs=1e-9)


def test_fleiss_kappa_does_not_apply_to_uneven_tasks():
    result = fleiss_kappa([1, 1, 1, 2, 2], [0, 1, 0, 1, 1])
    assert result.value is None and "same number" in result.reason
    assert fleiss_kappa([1, 2], [0, 1]).reason == "every task has a single answer"


@FAST
@given(pairs=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_cohen_kappa_equals_scikit_learn(pairs):
    a, b = np.array(pairs).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = cohen_kappa_score(a, b)
    assert cohen_kappa(a, b) == pytest.approx(expected, abs=1e-9, nan_ok=True)


def test_cohen_kappa_takes_string_labels():
    a, b = ["neg", "pos", "neg", "neu", "pos"], ["neg", "pos", "neg", "neu", "neg"]
    assert cohen_kappa(a, b) == pytest.approx(0.6875)


@FAST
@given(answers=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 4), st.integers(0, 2)), max_size=70))
def test_pairwise_cohen_kappa_equals_scikit_learn_on_shared_tasks(answers):
    workers = np.array([3, 0, 1, 2, 4, 9])  # 9 never answers
    matrix = pairwise_cohen_kappa(
        *(np.array(col, dtype=np.int64) for col in zip(*answers, strict=True)) if answers else ([], [], []),
        workers=workers,
    )
    first: dict[tuple[int, int], int] = {}
    for task, worker, value in answers:
        first.setdefault((task, worker), value)  # a repeated answer counts once: the first
    for i, x in enumerate(workers):
        for j, y in enumerate(workers):
            shared = sorted({t for t, w in first if w == x} & {t for t, w in first if w == y})
            if i == j:
                expected = 1.0
            elif len(shared) < 2:
                expected = NAN
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    expected = cohen_kappa_score([first[t, x] for t in shared], [first[t, y] for t in shared])
            assert matrix[i, j] == pytest.approx(expected, abs=1e-9, nan_ok=True)


def test_percent_agreement_and_top_share_by_hand():
    task = np.array([1, 1, 1, 2, 2, 3])
    value = np.array(["a", "a", "b", "a", "a", "c"])
    # task 1: 2 of 6 ordered pairs agree; task 2: all; task 3 has one answer and is left out.
    assert percent_agreement(task, value) == pytest.approx((1 / 3 + 1) / 2)
    ids, share = per_task_top_share(task, value)
    assert ids.tolist() == [1, 2, 3] and share == pytest.approx([2 / 3, 1.0, 1.0])
    assert np.isnan(percent_agreement([1, 2], [0, 0]))


def test_worker_agreement_by_hand():
    task = np.array([1, 1, 1, 2, 2, 2, 3, 3, 4])
    worker = np.array([10, 20, 30, 10, 20, 40, 30, 50, 50])
    value = np.array([0, 0, 1, 0, 1, 0, 1, 1, 0])
    ids, share, n = worker_agreement(task, worker, value)
    assert ids.tolist() == [10, 20, 30, 40, 50]
    # 10: task 1 one of two others agree, task 2 one of two; 20: 1/2 then 0/2; 30: 0/2 then 1/1;
    # 40: 1/2; 50: 1/1 on task 3, task 4 has a single answer and is skipped.
    assert share == pytest.approx([0.5, 0.25, 0.5, 0.5, 1.0])
    assert n.tolist() == [2, 2, 2, 1, 1]
    ids, share, n = worker_agreement([1, 2], [7, 8], [0, 0])
    assert np.isnan(share).all() and n.tolist() == [0, 0]


def _crowd(tasks: int = 300, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    per_task = rng.integers(2, 6, tasks)
    task = np.repeat(np.arange(tasks), per_task)
    truth = rng.integers(0, 4, tasks)[task]
    correct = rng.random(task.size) < 0.7
    return task, np.where(correct, truth, rng.integers(0, 4, task.size))


@pytest.mark.parametrize("level", agreement.LEVELS)
def test_bootstrap_interval_contains_the_estimate_and_is_reproducible(level):
    task, value = _crowd()
    low, high = bootstrap_ci(task, value, statistic="alpha", level=level, n_boot=300, seed=4)
    assert low < krippendorff_alpha(task, value, level) < high
    assert (low, high) == bootstrap_ci(task, value, statistic="alpha", level=level, n_boot=300, seed=4)


def test_fleiss_bootstrap_contains_the_estimate_and_refuses_uneven_tasks():
    task = np.repeat(np.arange(200), 3)
    value = _crowd(600)[1][:600]
    low, high = bootstrap_ci(task, value, statistic="fleiss", n_boot=300)
    assert low < fleiss_kappa(task, value).value < high
    with pytest.raises(ValueError, match="same number"):
        bootstrap_ci(*_crowd(), statistic="fleiss")


@pytest.mark.parametrize(
    "statistic,level", [("alpha", "nominal"), ("alpha", "ordinal"), ("alpha", "interval"), ("fleiss", "nominal")]
)
def test_a_bootstrap_replicate_is_the_statistic_of_the_resampled_tasks(statistic, level):
    task, value = _crowd(40, seed=2)
    if statistic == "fleiss":
        task = np.repeat(np.arange(40), 3)
        value = value[:120]
    tally = agreement._tally(task, value)
    if statistic == "alpha":
        parts = agreement._alpha_parts(tally, level, resampled=True)
        # Ordinal keeps per-pair entries for resampling; it must agree with the closed form.
        assert parts.value() == pytest.approx(krippendorff_alpha(task, value, level), abs=1e-12)
    else:
        parts = agreement._fleiss_parts(tally)
    replicate = parts.replicates(1, np.random.default_rng(8))[0]
    # The same draw, done by hand: copy every drawn task's answers under a fresh task id.
    drawn = tally.task_ids[np.random.default_rng(8).integers(0, 40, size=(1, 40))[0]]
    pieces = [(np.full((task == t).sum(), i), value[task == t]) for i, t in enumerate(drawn)]
    new_task, new_value = (np.concatenate(p) for p in zip(*pieces, strict=True))
    if statistic == "alpha":
        assert replicate == pytest.approx(krippendorff_alpha(new_task, new_value, level), abs=1e-9)
    else:
        assert replicate == pytest.approx(fleiss_kappa(new_task, new_value).value, abs=1e-9)


@FAST
@given(rows=st.lists(st.tuples(st.integers(0, 8), st.lists(st.booleans(), min_size=3, max_size=3)), max_size=40))
def test_multi_label_alpha_is_nominal_alpha_of_each_label(rows):
    task = np.array([r[0] for r in rows], dtype=np.int64)
    labels = np.array([r[1] for r in rows], dtype=bool).reshape(-1, 3)
    expected = [krippendorff_alpha(task, labels[:, j].astype(int)) for j in range(3)]
    assert multi_label_alpha(task, labels) == pytest.approx(expected, abs=1e-9, nan_ok=True)


def test_multi_label_alpha_equals_the_package_on_one_label():
    task, worker, value = to_long(K2011)
    labels = np.stack([value >= 3, value == 2], axis=1)
    matrix = np.where(np.isnan(K2011), np.nan, (K2011 >= 3).astype(float))
    assert multi_label_alpha(task, labels)[0] == pytest.approx(reference_alpha(matrix, "nominal"), abs=1e-12)


def test_jaccard_and_masi_by_hand():
    task = np.array([1, 1, 2, 2, 3])
    labels = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 1]], dtype=bool)
    # Task 1: {a} vs {a, b}, Jaccard 1/2 and MASI 1/2 * 2/3; task 2: two empty sets agree; task 3 is alone.
    assert mean_jaccard(task, labels) == pytest.approx((0.5 + 1.0) / 2)
    assert mean_masi_agreement(task, labels) == pytest.approx((1 / 3 + 1.0) / 2)
    assert np.isnan(mean_jaccard([1, 2], labels[:2]))
    assert masi_distance({"a"}, {"a"}) == 0.0
    assert masi_distance({"a"}, {"a", "b"}) == pytest.approx(2 / 3)
    assert masi_distance({"a", "b"}, {"b", "c"}) == pytest.approx(1 - 1 / 9)
    assert masi_distance({"a"}, {"b"}) == 1.0
    assert masi_distance(set(), set()) == 0.0
    assert masi_distance(set(), {"a"}) == 1.0
