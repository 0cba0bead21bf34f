"""Leaderboards of what pairwise and ranking questions compare: every counted vote, or each task's consensus."""

import pytest

from backend.quality.leaderboard import leaderboard
from backend.services import consensus
from tests.api.test_assignments import claim, submit

QUESTIONS = [
    {"name": "preference", "kind": "pairwise", "a": "response_a", "b": "response_b", "a_id": "model_a",
     "b_id": "model_b"},
    {"name": "order", "kind": "ranking", "items": "candidates"},
    {"name": "helpful", "kind": "rating", "min": 1, "max": 5},
]
STRENGTH = {"m1": 3, "m2": 2, "m3": 1}  # what the honest workers go by
PAIRS = [("m1", "m2"), ("m2", "m3"), ("m3", "m1"), ("m1", "m3")]


def _item(a, b):
    return {"response_a": f"from {a}", "response_b": f"from {b}", "model_a": a, "model_b": b,
            "candidates": [{"id": m, "text": f"from {m}"} for m in ("m3", "m1", "m2")]}


@pytest.fixture
def arena(project_factory, fill):
    project = project_factory(task_type=None, labels=None, questions=QUESTIONS, overlap=3)
    fill(project, items=[_item(a, b) for a, b in PAIRS])
    return project


def _vote(worker: int, a: str, b: str) -> str:
    if worker == 2:  # the contrarian: a tie between the two best, else the weaker one
        return "tie" if {a, b} == {"m1", "m2"} else ("a" if STRENGTH[a] < STRENGTH[b] else "b")
    return "a" if STRENGTH[a] > STRENGTH[b] else "b"


def _work(project, annotators):
    """Every annotator answers every task; returns (assignment id, a, b, choice) of each answer."""
    done = []
    for n, ann in enumerate(annotators):
        for _ in PAIRS:
            lease = claim(ann, project.id).json
            a, b = lease["task"]["data"]["model_a"], lease["task"]["data"]["model_b"]
            choice = _vote(n, a, b)
            order = sorted(STRENGTH, key=STRENGTH.get, reverse=n != 2)
            answer = {"preference": {"choice": choice}, "order": {"order": order}, "helpful": {"value": 3}}
            assert submit(ann, lease["id"], answer).status_code == 200
            done.append((lease["id"], a, b, choice))
    return done


def _expected(votes):
    rows = [(a, b, True) if c == "tie" else ((a, b, False) if c == "a" else (b, a, False)) for _id, a, b, c in votes]
    return leaderboard(rows)


def _board(client, project, name, **query):
    return client.get(f"/api/v1/projects/{project.id}/questions/{name}/leaderboard", query_string=query)


def test_every_counted_vote_ranks_the_models(arena, workers, login_as, manager):
    votes = _work(arena, workers(3))
    mgr = login_as(manager)
    body = _board(mgr, arena, "preference").json
    assert body["kind"] == "pairwise" and body["source"] == "answers" and body["comparisons"] == 12
    assert [row["item"] for row in body["items"]] == ["m1", "m2", "m3"]
    expected = {row["item"]: row for row in _expected(votes)}
    for row in body["items"]:
        want = expected[row["item"]]
        assert (row["wins"], row["losses"], row["ties"]) == (want["wins"], want["losses"], want["ties"])
        assert row["score"] == pytest.approx(want["score"]) and row["ci_low"] <= row["score"] <= row["ci_high"]
    assert body["items"][0]["ties"] == 1 and body["items"][1]["ties"] == 1  # the contrarian's m1-m2 tie

    # A rejected answer stops counting.
    rejected = next(v for v in votes if v[3] == "tie")
    assert mgr.post(f"/api/v1/assignments/{rejected[0]}/reject", json={"reason": "no reason given"}).status_code == 200
    body = _board(mgr, arena, "preference").json
    assert body["comparisons"] == 11 and all(row["ties"] == 0 for row in body["items"])
    kept = [v for v in votes if v[0] != rejected[0]]
    assert {r["item"]: r["wins"] for r in body["items"]} == {r["item"]: r["wins"] for r in _expected(kept)}


def test_consensus_counts_each_task_once(arena, workers, login_as, manager):
    _work(arena, workers(3))
    consensus.run_consensus(project_id=arena.id)
    body = _board(login_as(manager), arena, "preference", source="consensus").json
    assert body["source"] == "consensus" and body["comparisons"] == len(PAIRS)
    by_item = {row["item"]: row for row in body["items"]}
    # The majority follows strength: m1 wins its three tasks, m3 loses its three.
    assert by_item["m1"]["wins"] == 3 and by_item["m3"]["losses"] == 3 and by_item["m2"]["wins"] == 1


def test_a_ranking_makes_every_pair_its_order_implies(arena, workers, login_as, manager):
    _work(arena, workers(3))
    body = _board(login_as(manager), arena, "order").json
    assert body["kind"] == "ranking" and body["comparisons"] == 12 * 3  # 3 items: 3 pairs per answer
    assert [row["item"] for row in body["items"]] == ["m1", "m2", "m3"]
    top = body["items"][0]
    assert (top["wins"], top["losses"]) == (16, 8)  # first in 8 orders, last in the contrarian's 4


@pytest.mark.parametrize(("name", "query", "status", "field"), [
    ("nope", {}, 404, None),
    ("helpful", {}, 422, "name"),
    ("preference", {"source": "everything"}, 422, "source"),
])
def test_what_ranks_nothing_is_refused(arena, login_as, manager, name, query, status, field):
    response = _board(login_as(manager), arena, name, **query)
    assert response.status_code == status and set(response.json) == {"error"}
    if field:
        assert field in response.json["error"]["details"]["fields"]


def test_an_empty_question_has_an_empty_board(arena, login_as, manager):
    body = _board(login_as(manager), arena, "preference").json
    assert body["comparisons"] == 0 and body["items"] == []
