"""Forms: a project of several questions, answered, merged per question and measured per question."""

import numpy as np
import pytest
from scipy.stats import kendalltau

from backend.services import consensus
from tests.api.test_assignments import claim, submit

QUESTIONS = [
    {"name": "preference", "kind": "pairwise", "title": "Which response is better?", "a": "response_a",
     "b": "response_b", "a_id": "model_a", "b_id": "model_b"},
    {"name": "helpful", "kind": "rating", "min": 1, "max": 5, "labels": {"1": "useless", "5": "very helpful"}},
    {"name": "reason", "kind": "free_text", "required": False, "when": {"question": "preference", "equals": "tie"}},
    {"name": "order", "kind": "ranking", "items": "candidates"},
    {"name": "fixed", "kind": "text_edit", "source": "response_a"},
]
DISPLAY = [{"field": "prompt", "as": "chat"}, {"field": "response_a", "as": "markdown"},
           {"field": "response_b", "as": "html"}]


def _item(i):
    return {"prompt": [{"role": "user", "content": f"question {i}"}], "response_a": f"**answer** {i}",
            "response_b": f"<p onclick='x()'>other {i}<script>alert(1)</script></p>", "model_a": "m1",
            "model_b": "m2", "candidates": ["first", "second", "third"]}


@pytest.fixture
def form(project_factory, fill):
    project = project_factory(task_type=None, labels=None, questions=QUESTIONS, display=DISPLAY, overlap=3)
    fill(project, items=[_item(i) for i in range(2)])
    return project


def test_a_form_project_reads_back_its_questions_and_display(form, login_as, manager):
    body = login_as(manager).get(f"/api/v1/projects/{form.id}").json
    assert body["task_type"] == "form" and [q["name"] for q in body["questions"]] == [q["name"] for q in QUESTIONS]
    assert body["questions"][0]["allow_tie"] is True and body["questions"][1]["labels"] == {"1": "useless",
                                                                                           "5": "very helpful"}
    assert body["display"] == DISPLAY and "labels" not in body


def test_the_lease_carries_the_questions_and_sanitised_html(form, workers):
    (ann,) = workers(1)
    body = claim(ann, form.id).json
    assert [q["kind"] for q in body["project"]["questions"]] == ["pairwise", "rating", "free_text", "ranking",
                                                                 "text_edit"]
    rendered = body["task"]["rendered"]
    assert rendered["response_a"].startswith("<p><strong>answer</strong>")
    assert "script" not in rendered["response_b"] and "onclick" not in rendered["response_b"]
    assert "prompt" not in rendered  # a chat is data the client lays out, not HTML


@pytest.mark.parametrize(("answer", "field"), [
    ({"preference": {"choice": "a"}, "order": {"order": ["0", "1", "2"]}}, "answer.helpful"),  # required
    ({"preference": {"choice": "a"}, "helpful": {"value": 3}, "reason": {"text": "x"},
      "order": {"order": ["0", "1", "2"]}, "fixed": {"text": "y"}}, "answer.reason"),  # not asked unless a tie
    ({"preference": {"choice": "c"}}, "answer.preference.choice"),
    ({"bogus": 1}, "answer.bogus"),
    ({"preference": {"choice": "a"}, "helpful": {"value": 3}, "order": {"order": ["0", "1"]},
      "fixed": {"text": "y"}}, "answer.order.order"),  # every item once
    (["a"], "answer"),
])
def test_a_form_answer_is_checked_question_by_question(form, workers, answer, field):
    (ann,) = workers(1)
    lease = claim(ann, form.id).json
    response = submit(ann, lease["id"], answer)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["details"]["fields"]


def _answer(choice, value, order, text, reason=None):
    answer = {"preference": {"choice": choice}, "helpful": {"value": value}, "order": {"order": order},
              "fixed": {"text": text}}
    if reason is not None:
        answer["reason"] = {"text": reason}
    return answer


def test_consensus_and_agreement_are_per_question(form, workers, login_as, manager):
    annotators = workers(3)
    plans = [_answer("a", 4, ["0", "1", "2"], "**answer** 0 fixed"),
             _answer("a", 5, ["0", "2", "1"], "**answer** 0 fixed"),
             _answer("tie", 4, ["0", "1", "2"], "**answer** 0", reason="same")]
    stored = []
    for ann, plan in zip(annotators, plans, strict=True):
        for _ in range(2):
            lease = claim(ann, form.id).json
            response = submit(ann, lease["id"], plan)
            assert response.status_code == 200, response.json
            stored.append(response.json["answer"])
    assert stored[0]["fixed"] == {"text": "**answer** 0 fixed", "distance": 6} or \
        stored[0]["fixed"]["distance"] == 6
    assert "reason" not in stored[0] and stored[-1]["reason"] == {"text": "same"}
    consensus.run_consensus(project_id=form.id)
    mgr = login_as(manager)
    results = mgr.get(f"/api/v1/projects/{form.id}/results").json["items"]
    assert len(results) == 2
    merged = results[0]["consensus"]
    assert merged["answer"]["preference"] == {"choice": "a"}
    assert merged["answer"]["helpful"] == {"value": 4}
    assert merged["answer"]["order"] == {"order": ["0", "1", "2"]}
    assert merged["answer"]["fixed"]["text"] == "**answer** 0 fixed"
    questions = merged["details"]["questions"]
    assert questions["preference"]["method"] == "majority" and questions["order"]["method"] == "ranked_pairs"
    assert merged["confidence"] == pytest.approx(min(q["confidence"] for q in questions.values()))
    report = mgr.get(f"/api/v1/projects/{form.id}/agreement").json
    per_question = report["questions"]
    assert per_question["preference"]["project"]["alpha"]["level"] == "nominal"
    assert per_question["helpful"]["project"]["alpha"]["level"] == "interval"
    assert per_question["reason"]["answers"] == 2  # only the ties were asked why
    assert set(per_question) == {q["name"] for q in QUESTIONS}
    # Each task: two orders [0, 1, 2] and one [0, 2, 1]. Kendall's W and the mean pairwise tau, by scipy.
    orders = [[0, 1, 2], [0, 1, 2], [0, 2, 1]]
    ranks = np.array([[o.index(item) + 1 for item in range(3)] for o in orders])
    m, n = ranks.shape
    w = 12 * ((ranks.sum(axis=0) - m * (n + 1) / 2) ** 2).sum() / (m ** 2 * (n ** 3 - n))
    tau = np.mean([kendalltau(ranks[i], ranks[j]).statistic for i, j in ((0, 1), (0, 2), (1, 2))])
    figures = per_question["order"]["project"]
    assert figures["kendall_w"] == pytest.approx(w, abs=1e-6)
    assert figures["mean_kendall_tau"] == pytest.approx(tau, abs=1e-6)


def test_gold_may_cover_only_some_questions(form, fill, workers):
    fill(form, items=[{"data": _item(9), "gold": {"preference": {"choice": "b"}}}])
    with pytest.raises(Exception, match="gold.helpful"):
        fill(form, items=[{"data": _item(10), "gold": {"helpful": {"value": 9}}}])


def test_an_old_project_reads_back_as_one_question(project_factory, login_as, manager):
    project = project_factory()
    body = login_as(manager).get(f"/api/v1/projects/{project.id}").json
    assert body["task_type"] == "single_choice" and body["labels"] == ["pos", "neg", "neu"]
    assert body["questions"] == [{"name": "answer", "kind": "single_choice", "title": "Sentiment", "required": True,
                                  "when": None, "consensus_method": None, "labels": ["pos", "neg", "neu"]}]
