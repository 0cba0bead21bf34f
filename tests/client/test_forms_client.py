"""A form of several questions through the client alone: an LLM-feedback project set up, labelled by a
vendor's workers, merged question by question, ranked on a leaderboard and exported as preferences."""

from __future__ import annotations

import datasets
import pytest
from concord_client import ValidationError

from .conftest import label_all

QUESTIONS = [
    {"name": "preference", "kind": "pairwise", "title": "Which reply is better?", "prompt": "chat",
     "a": "reply_a", "b": "reply_b", "a_id": "model_a", "b_id": "model_b"},
    {"name": "helpful", "kind": "rating", "min": 1, "max": 5, "labels": {"1": "not at all", "5": "fully"}},
    {"name": "reason", "kind": "free_text", "required": False},
]
DISPLAY = [{"field": "chat", "as": "chat"}, {"field": "reply_a", "as": "markdown"},
           {"field": "reply_b", "as": "markdown"}]
STRENGTH = {"big": 2, "mid": 1, "small": 0}


def _items():
    pairs = [("big", "mid"), ("mid", "small"), ("small", "big"), ("big", "small"), ("mid", "big"), ("small", "mid")]
    return [{"external_id": f"t{i}", "data": {
        "chat": [{"role": "user", "content": f"question {i}"}], "reply_a": f"reply of {a}", "reply_b": f"reply of {b}",
        "model_a": a, "model_b": b}} for i, (a, b) in enumerate(pairs)]


def _answer(lease):
    data = lease["task"]["data"]
    better = "a" if STRENGTH[data["model_a"]] > STRENGTH[data["model_b"]] else "b"
    return {"preference": {"choice": better}, "helpful": {"value": 4}}


def test_a_form_is_labelled_merged_ranked_and_exported_through_the_client(requester, vendor, tmp_path):
    project = requester.projects.create("Replies", questions=QUESTIONS, display=DISPLAY, overlap=3, batch_size=6,
                                        status="active", reward={"amount": 10, "currency": "USD"})
    assert project["task_type"] == "form" and [q["name"] for q in project["questions"]] == \
        ["preference", "helpful", "reason"]
    assert project["display"] == DISPLAY
    assert requester.datasets.push(project["id"], _items())["tasks_created"] == 6

    lease = vendor.assignments.claim(project["id"], worker="w-1")
    assert [q["kind"] for q in lease["project"]["questions"]] == ["pairwise", "rating", "free_text"]
    assert lease["task"]["rendered"]["reply_a"].startswith("<p>reply of")
    with pytest.raises(ValidationError) as refused:
        vendor.assignments.submit(lease["id"], {"preference": {"choice": "a"}}, worker="w-1")
    assert "answer.helpful" in refused.value.details["fields"]
    for worker in ("w-1", "w-2", "w-3"):
        label_all(vendor, project["id"], worker, _answer)

    requester.consensus.run(project["id"], timeout=60, poll_interval=0.1)
    results = {r["external_id"]: r for r in requester.results.iter(project["id"])}
    assert results["t0"]["consensus"]["answer"] == {"preference": {"choice": "a"}, "helpful": {"value": 4}}
    assert results["t2"]["consensus"]["answer"]["preference"] == {"choice": "b"}
    assert results["t0"]["consensus"]["details"]["questions"]["preference"]["confidence"] == pytest.approx(1.0)

    agreement = requester.projects.agreement(project["id"])
    assert agreement["questions"]["preference"]["project"]["alpha"]["value"] == pytest.approx(1.0)
    board = requester.projects.leaderboard(project["id"], "preference")
    assert [row["item"] for row in board["items"]] == ["big", "mid", "small"]
    assert board["comparisons"] == 18 and board["items"][0]["wins"] == 12 and board["items"][0]["losses"] == 0
    assert requester.projects.leaderboard(project["id"], "preference", source="consensus")["comparisons"] == 6
    with pytest.raises(ValidationError):
        requester.projects.leaderboard(project["id"], "helpful")

    path = requester.exports.export(project["id"], "preferences", tmp_path / "prefs.jsonl", question="preference",
                                    timeout=60, poll_interval=0.1)
    lines = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf"))
    assert len(lines) == 6
    for line in lines:
        assert STRENGTH[line["chosen_id"]] > STRENGTH[line["rejected_id"]]
        assert line["prompt"][0]["role"] == "user" and line["chosen"][0]["role"] == "assistant"
        assert line["chosen"][0]["content"] == f"reply of {line['chosen_id']}"
