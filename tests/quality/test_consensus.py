"""Consensus algorithms on hand-checked examples and small synthetic crowds."""

from __future__ import annotations

import numpy as np
import pytest

from backend.quality.consensus import (
    ModelParams,
    dawid_skene,
    majority_vote,
    multi_label_consensus,
    multi_label_fits,
    one_coin_dawid_skene,
    rating_consensus,
    weighted_majority,
)
from backend.quality.structured import box_consensus, span_consensus, text_medoid


def expert_and_weak_crowd(seed: int = 0, n: int = 400):
    """Binary tasks, 5 answers each: worker 0 is right 95% of the time, workers 1-4 only 60%."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    accuracy = np.array([0.95, 0.6, 0.6, 0.6, 0.6])
    value = np.where(rng.random((n, 5)) < accuracy, truth[:, None], 1 - truth[:, None]).ravel()
    return np.repeat(np.arange(n), 5), np.tile(np.arange(5), n), value, truth


# --- majority and weighted majority -------------------------------------------------------------


def test_majority_vote_counts_votes_and_flags_ties_broken_to_the_lowest_code():
    task = [30, 30, 30, 10, 10, 20, 20, 20, 20]
    worker = ["a", "b", "c", "a", "b", "a", "b", "c", "d"]
    value = [2, 2, 1, 1, 0, 2, 1, 2, 1]
    result = majority_vote(task, worker, value)
    assert result.task.tolist() == [10, 20, 30]
    assert result.label.tolist() == [0, 1, 2]  # 10: 0-1 tie -> 0; 20: 1-2 tie -> 1; 30: two 2s
    assert result.tie.tolist() == [True, True, False]
    assert result.confidence.tolist() == pytest.approx([0.5, 0.5, 2 / 3])
    assert result.posterior.sum(axis=1).tolist() == pytest.approx([1, 1, 1])
    assert result.method == "majority"


def test_majority_vote_three_way_tie_goes_to_the_lowest_code_given():
    result = majority_vote([1, 1, 1], [1, 2, 3], [3, 1, 2], n_classes=5)
    assert result.label.tolist() == [1]
    assert result.tie.tolist() == [True]
    assert result.posterior.shape == (1, 5)


@pytest.mark.parametrize(
    ("task", "worker", "value", "n_classes"),
    [
        ([1, 2], [1, 1], [0], None),  # lengths differ
        ([1, 2], [1, 1], [0, 3], 2),  # code beyond n_classes
        ([1, 2], [1, 1], [0, -1], None),  # negative code
        ([1, 2], [1, 1], [0.0, 1.0], None),  # not integer codes
    ],
)
def test_bad_input_is_rejected(task, worker, value, n_classes):
    with pytest.raises(ValueError):
        majority_vote(task, worker, value, n_classes)
    with pytest.raises(ValueError):
        dawid_skene(task, worker, value, n_classes)


def test_weighted_majority_lets_one_trusted_worker_outvote_two_others():
    task, worker, value = [1, 1, 1], ["gold", "x", "y"], [0, 1, 1]
    assert majority_vote(task, worker, value).label.tolist() == [1]
    result = weighted_majority(task, worker, value, {"gold": 0.95, "x": 0.4, "y": 0.4})
    assert result.label.tolist() == [0]
    assert result.confidence.tolist() == pytest.approx([0.95 / 1.75])
    assert not result.tie.any()


def test_weighted_majority_gives_unknown_workers_the_mean_weight():
    # "new" weighs (0.9 + 0.3) / 2 = 0.6, more than "low" alone.
    result = weighted_majority([1, 1], ["low", "new"], [0, 1], {"high": 0.9, "low": 0.3})
    assert result.label.tolist() == [1]
    assert result.confidence.tolist() == pytest.approx([0.6 / 0.9])
    plain = weighted_majority([1, 1, 2, 2], [1, 2, 1, 2], [0, 1, 1, 1], {})
    assert plain.label.tolist() == [0, 1] and plain.tie.tolist() == [True, False]


def test_weighted_majority_ties_on_weight_and_never_picks_a_code_nobody_gave():
    result = weighted_majority([1, 1, 2, 2], [1, 2, 1, 2], [2, 1, 3, 2], {1: 0.0, 2: 0.0})
    assert result.label.tolist() == [1, 2]
    assert result.tie.all()
    with pytest.raises(ValueError):
        weighted_majority([1], [1], [0], {1: -0.5})


# --- Dawid-Skene and one-coin ---------------------------------------------------------------------


def test_dawid_skene_recovers_the_truth_where_majority_fails():
    task, worker, value, truth = expert_and_weak_crowd()
    majority = majority_vote(task, worker, value)
    ds = dawid_skene(task, worker, value)
    one_coin = one_coin_dawid_skene(task, worker, value)
    assert (majority.label == truth).mean() <= 0.85
    assert (ds.label == truth).mean() >= 0.95
    assert (one_coin.label == truth).mean() >= 0.95
    assert ds.worker_skill.argmax() == 0 and one_coin.worker_skill.argmax() == 0
    assert ds.worker_skill[0] > 0.9 and (np.abs(ds.worker_skill[1:] - 0.6) < 0.1).all()
    assert ds.converged and ds.iterations < 100


def test_dawid_skene_posterior_is_a_distribution_and_decides_the_label():
    task, worker, value, _ = expert_and_weak_crowd(seed=1, n=100)
    for result in (dawid_skene(task, worker, value, n_classes=3), one_coin_dawid_skene(task, worker, value)):
        assert np.allclose(result.posterior.sum(axis=1), 1.0)
        assert (result.posterior >= 0).all()
        assert (result.label == result.posterior.argmax(axis=1)).all()
        assert np.allclose(result.confidence, result.posterior.max(axis=1))
    assert dawid_skene(task, worker, value, n_classes=3).posterior[:, 2].max() < 0.01  # a code nobody gave


def test_dawid_skene_copes_with_a_worker_seen_once():
    task, worker, value, truth = expert_and_weak_crowd(n=60)
    # A newcomer's single answer contradicts the expert and two weak workers on task 0.
    task, worker, value = np.append(task, 0), np.append(worker, 99), np.append(value, 1 - truth[0])
    for smoothing in (0.0, 0.01, 1.0):
        result = dawid_skene(task, worker, value, smoothing=smoothing)
        assert np.isfinite(result.posterior).all() and np.isfinite(result.worker_skill).all()
        assert ((result.worker_skill >= 0) & (result.worker_skill <= 1)).all()
        assert result.worker_ids.tolist() == [0, 1, 2, 3, 4, 99]
    one_coin = one_coin_dawid_skene(task, worker, value)
    assert 0.3 < one_coin.worker_skill[-1] < 0.7  # one answer says little either way
    assert np.isfinite(one_coin.posterior).all()


def test_em_reports_whether_it_converged():
    task, worker, value, _ = expert_and_weak_crowd(n=100)
    for method in (dawid_skene, one_coin_dawid_skene):
        stopped = method(task, worker, value, max_iter=1)
        assert stopped.iterations == 1 and stopped.converged is False
        done = method(task, worker, value)
        assert done.converged is True and 1 < done.iterations < 100
    with pytest.raises(ValueError):
        dawid_skene(task, worker, value, tol=-1)


def test_em_keeps_task_and_worker_ids_of_any_kind():
    task = ["t9", "t9", "t9", "t1", "t1", "t1"]
    worker = [70, 50, 60, 70, 50, 60]
    result = dawid_skene(task, worker, [1, 1, 0, 0, 0, 0])
    assert result.task.tolist() == ["t1", "t9"]
    assert result.label.tolist() == [0, 1]
    assert result.worker_ids.tolist() == [50, 60, 70]
    empty = dawid_skene([], [], np.array([], dtype=int), n_classes=2)
    assert empty.task.size == 0 and empty.posterior.shape == (0, 2)


def sparse_crowd(seed: int = 5, n: int = 3000, workers: int = 60, k: int = 3):
    """Three answers a task from workers of mixed skill: the latent class stays uncertain, EM is slow."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(k, n, p=[0.5, 0.3, 0.2][:k] if k == 3 else None)
    skill = rng.uniform(0.45, 0.95, workers)
    task = np.repeat(np.arange(n), 3)
    worker = np.concatenate([rng.choice(workers, 3, replace=False) for _ in range(n)])
    wrong = (truth[task] + rng.integers(1, k, task.size)) % k
    return task, worker, np.where(rng.random(task.size) < skill[worker], truth[task], wrong)


@pytest.mark.parametrize(("method", "speedup"), [(dawid_skene, 3), (one_coin_dawid_skene, 1)])
def test_accelerated_em_reaches_plain_ems_optimum_in_fewer_steps(method, speedup):
    task, worker, value = sparse_crowd()
    optimum = method(task, worker, value, n_classes=3, posterior_tol=1e-12, max_iter=20_000)
    fast = method(task, worker, value, n_classes=3, posterior_tol=1e-7, max_iter=20_000)
    # Plain EM (tol=0: only max_iter stops it), given `speedup` times the steps, is still farther off.
    plain = method(task, worker, value, n_classes=3, tol=0.0, max_iter=fast.iterations * speedup)
    assert optimum.converged and fast.converged
    assert np.abs(fast.posterior - optimum.posterior).max() < np.abs(plain.posterior - optimum.posterior).max()
    assert np.abs(fast.posterior - optimum.posterior).max() < 1e-5 and (fast.label == optimum.label).all()
    # ... and it is the optimum plain EM creeps towards from the same start.
    long_plain = method(task, worker, value, n_classes=3, tol=0.0, max_iter=5_000)
    assert np.abs(long_plain.posterior - optimum.posterior).max() < 1e-4


@pytest.mark.parametrize("method", [dawid_skene, one_coin_dawid_skene])
def test_a_warm_start_from_a_fit_stays_at_its_optimum(method):
    task, worker, value = sparse_crowd(n=1000)
    cold = method(task, worker, value, n_classes=3, posterior_tol=1e-9, max_iter=5000)
    assert cold.params.worker_ids.tolist() == cold.worker_ids.tolist()
    assert cold.params.prior.sum() == pytest.approx(1.0)
    warm = method(task, worker, value, n_classes=3, posterior_tol=1e-9, max_iter=5000, init=cold.params)
    assert warm.iterations <= 4 < cold.iterations
    assert np.abs(warm.posterior - cold.posterior).max() < 1e-6


def test_a_warm_start_finds_workers_by_id_and_gives_newcomers_the_mean():
    task, worker, value, truth = expert_and_weak_crowd(n=200)
    first = dawid_skene(task[:500], worker[:500], value[:500], posterior_tol=1e-8, max_iter=2000)
    # More tasks, a newcomer (worker 7) and worker ids in another order in the stored fit.
    order = np.argsort(-first.params.worker_ids)
    shuffled = ModelParams(first.params.worker_ids[order], first.params.workers[order], first.params.prior)
    task, worker, value = np.append(task, [200, 200]), np.append(worker, [7, 0]), np.append(value, [1, 1])
    warm = dawid_skene(task, worker, value, posterior_tol=1e-8, max_iter=2000, init=shuffled)
    cold = dawid_skene(task, worker, value, posterior_tol=1e-8, max_iter=2000)
    assert warm.converged and (warm.label == cold.label).all()
    assert warm.worker_ids.tolist() == [0, 1, 2, 3, 4, 7]
    assert (warm.label[:200] == truth).mean() >= 0.95
    # A fit that knows none of the workers is no start at all: the majority vote is used.
    stranger = ModelParams(np.array([100, 101]), first.params.workers[:2], first.params.prior)
    assert dawid_skene(task, worker, value, posterior_tol=1e-8, max_iter=2000,
                       init=stranger).iterations == cold.iterations
    with pytest.raises(ValueError):
        dawid_skene(task, worker, value, n_classes=3, init=first.params)  # fitted with two classes


def test_multi_label_fits_start_each_label_from_its_own_fit():
    task = np.repeat(np.arange(300), 3)
    rng = np.random.default_rng(2)
    worker = np.concatenate([rng.choice(8, 3, replace=False) for _ in range(300)])
    truth = rng.random((300, 2)) < 0.4
    ticked = np.where(rng.random((task.size, 2)) < 0.85, truth[task], ~truth[task])
    options = {"posterior_tol": 1e-9, "max_iter": 2000}
    cold = multi_label_fits(task, worker, ticked, "dawid_skene", **options)
    warm = multi_label_fits(task, worker, ticked, "dawid_skene", init=[cold[0].params, None], **options)
    assert warm[0].iterations <= 4 < cold[0].iterations and warm[1].iterations == cold[1].iterations
    for a, b in zip(warm, cold, strict=True):
        assert (a.label == b.label).all()
    task_ids, decided, _confidence = multi_label_consensus(task, worker, ticked, method="dawid_skene")
    assert (decided[:, 0] == (cold[0].label == 1)).all()


# --- multi-label and ratings -------------------------------------------------------------------


def test_multi_label_consensus_decides_each_label_on_its_own():
    task = [1, 1, 1, 2, 2]
    worker = [1, 2, 3, 1, 2]
    ticked = [[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1], [1, 1, 0]]
    tasks, decisions, confidence = multi_label_consensus(task, worker, ticked)
    assert tasks.tolist() == [1, 2]
    # Task 2 splits 1-1 on labels 0 and 2: a tie leaves the label off.
    assert decisions.tolist() == [[True, False, True], [False, True, False]]
    assert np.allclose(confidence, [[2 / 3, 1.0, 2 / 3], [0.5, 1.0, 0.5]])
    tasks, decisions, confidence = multi_label_consensus(task, worker, ticked, method="dawid_skene")
    assert decisions.shape == confidence.shape == (2, 3)
    assert decisions[:, 1].tolist() == [False, True]
    with pytest.raises(ValueError):
        multi_label_consensus(task, worker, ticked, method="glad")
    with pytest.raises(ValueError):
        multi_label_consensus(task, worker, ticked[:4])


def test_rating_consensus_gives_median_mean_spread_and_count():
    result = rating_consensus([5, 5, 5, 5, 2, 2, 2, 2], [4, 1, 3, 2, 5, float("nan"), 5, 2])
    assert result.task.tolist() == [2, 5]
    assert result.count.tolist() == [3, 4]
    assert result.median.tolist() == [5.0, 2.5]
    assert result.mean.tolist() == pytest.approx([4.0, 2.5])
    assert result.std.tolist() == pytest.approx([np.std([5, 5, 2]), np.std([4, 1, 3, 2])])
    # On an integer scale: the lower median is a rating somebody gave, the mean rounds half up.
    assert result.lower_median.tolist() == [5.0, 2.0]
    assert result.rounded_mean.tolist() == [4.0, 3.0]
    halves = rating_consensus([1, 1, 2, 2, 3, 3, 3], [3, 4, 1, 2, 2, 2, 3])
    assert halves.median.tolist() == [3.5, 1.5, 2.0]
    assert halves.lower_median.tolist() == [3.0, 1.0, 2.0]
    assert halves.rounded_mean.tolist() == [4.0, 2.0, 2.0]  # 7/3 rounds down


# --- structured answers ------------------------------------------------------------------------


def box(label, x, y, width, height):
    return {"label": label, "x": x, "y": y, "width": width, "height": height}


def test_box_consensus_fuses_majority_boxes_and_drops_a_minority_box():
    answers = [
        [box("car", 10, 10, 100, 50), box("person", 300, 200, 40, 80)],
        [box("car", 12, 8, 100, 54), box("person", 302, 198, 40, 84), box("dog", 600, 400, 30, 30)],
        [box("truck", 14, 12, 96, 48)],
    ]
    result = box_consensus(answers)
    car, person = result["boxes"]
    # Edges are medians: left 12, top 10, right median(110, 112, 110) = 110, bottom median(60, 62, 60) = 60.
    assert car == {"label": "car", "x": 12, "y": 10, "width": 98, "height": 50, "support": 1.0}
    # Two of three annotators: top median(200, 198) = 199, bottom median(280, 282) = 281.
    assert person == {"label": "person", "x": 301, "y": 199, "width": 40, "height": 82, "support": 2 / 3}
    assert result["confidence"] == pytest.approx((1.0 + 2 / 3) / 2)  # the dog (1 of 3) is gone


def test_box_consensus_votes_labels_alphabetically_on_ties_and_counts_an_annotator_once():
    answers = [
        [box("zebra", 0, 0, 10, 10), box("zebra", 1, 1, 10, 10)],  # two boxes on the same object
        [box("horse", 0, 0, 10, 10)],
    ]
    result = box_consensus(answers)
    assert [(b["label"], b["support"]) for b in result["boxes"]] == [("horse", 1.0)]


def test_box_consensus_confidence_when_nothing_is_kept():
    assert box_consensus([[], [], []]) == {"boxes": [], "confidence": 1.0}
    scattered = box_consensus([[box("a", 0, 0, 5, 5)], [box("a", 50, 50, 5, 5)], []])
    assert scattered == {"boxes": [], "confidence": pytest.approx(1 / 3)}


def span(label, start, end):
    return {"label": label, "start": start, "end": end}


def test_span_consensus_keeps_exact_majorities_then_overlapping_ones():
    answers = [
        [span("PER", 0, 5), span("LOC", 10, 20), span("ORG", 30, 35)],
        [span("PER", 0, 5), span("LOC", 11, 20)],
        [span("PER", 0, 4), span("LOC", 10, 21), span("LOC", 40, 45)],
    ]
    result = span_consensus(answers)
    assert result["spans"] == [
        {"label": "PER", "start": 0, "end": 5, "support": 2 / 3},  # exact; the third PER overlaps it
        {"label": "LOC", "start": 10, "end": 20, "support": 1.0},  # no exact majority: fused by medians
    ]
    assert result["confidence"] == pytest.approx((2 / 3 + 1.0) / 2)
    assert span_consensus([[], []]) == {"spans": [], "confidence": 1.0}


def test_span_consensus_does_not_merge_different_labels():
    answers = [[span("PER", 0, 5)], [span("LOC", 0, 5)], [span("PER", 1, 5)]]
    result = span_consensus(answers)
    # Two PER spans: a tie between their starts, which goes to the tighter span.
    assert result["spans"] == [{"label": "PER", "start": 1, "end": 5, "support": 2 / 3}]


def test_span_consensus_prefers_the_tighter_span_on_ties():
    # "São Paulo" (0, 9) by two annotators, one of them taking in the space before and the comma after.
    answers = [[span("LOC", 0, 9)], [span("LOC", 0, 11)], [span("LOC", 0, 9)], [span("LOC", 0, 11)], []]
    assert span_consensus(answers)["spans"] == [{"label": "LOC", "start": 0, "end": 9, "support": 0.8}]
    odd = [[span("LOC", 2, 9)], [span("LOC", 1, 11)], [span("LOC", 0, 10)], [span("LOC", 3, 12)]]
    assert span_consensus(odd)["spans"] == [{"label": "LOC", "start": 2, "end": 10, "support": 1.0}]


def test_text_medoid_picks_the_answer_closest_to_the_others():
    texts = ["The cat sat on the mat", "the cat sat on the mat.", "A cat sat on a mat", "dog"]
    result = text_medoid(texts)
    assert result["index"] == 0 and result["text"] == texts[0]
    assert 0 < result["confidence"] < 1
    assert text_medoid(["same", "same"])["index"] == 0  # ties go to the earliest
    assert text_medoid(["only"]) == {"text": "only", "index": 0, "confidence": 1.0}
    with pytest.raises(ValueError):
        text_medoid([])
