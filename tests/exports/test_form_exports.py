"""Forms in every export, read by the tools that read them: a column or field per question (pandas, pyarrow,
Label Studio's converter), boxes of a form's box question in COCO (pycocotools), and preference pairs loaded by
Hugging Face ``datasets``."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.exports.test_label_studio_converter import convert, read_csv

QUESTIONS = [
    {"name": "preference", "kind": "pairwise", "title": "Which reply is better?", "a": "reply_a", "b": "reply_b",
     "a_id": "model_a", "b_id": "model_b", "prompt": "chat"},
    {"name": "helpful", "kind": "rating", "min": 1, "max": 5, "labels": {"1": "useless", "5": "very helpful"}},
    {"name": "reason", "kind": "free_text", "required": False, "when": {"question": "preference", "equals": "tie"}},
    {"name": "order", "kind": "ranking", "items": "candidates"},
    {"name": "fixed", "kind": "text_edit", "source": "reply_a"},
]
DISPLAY = [{"field": "chat", "as": "chat"}, {"field": "reply_a", "as": "markdown"},
           {"field": "reply_b", "as": "markdown"}]
CANDIDATES = [{"id": "x", "text": "first"}, {"id": "y", "text": "second"}, {"id": "z", "text": "third"}]


def _item(n: int) -> dict:
    return {"external_id": f"t{n}", "chat": [{"role": "user", "content": f"question {n}"}],
            "reply_a": f"answer A{n}", "reply_b": f"answer B{n}", "model_a": "alpha", "model_b": "beta",
            "candidates": CANDIDATES}


# t0: two of three prefer A (alpha); t1: all prefer B (beta); t2: a tie by two of three.
CHOICES = {"t0": ["a", "a", "b"], "t1": ["b", "b", "b"], "t2": ["tie", "tie", "a"]}
ORDERS = [["x", "y", "z"], ["x", "y", "z"], ["y", "x", "z"]]


def _answer(worker: int):
    def answer(external_id: str) -> dict:
        choice = CHOICES[external_id][worker]
        given = {"preference": {"choice": choice}, "helpful": {"value": 3 + (worker == 0)},
                 "order": {"order": ORDERS[worker]}, "fixed": {"text": f"answer A{external_id[1:]}!"}}
        if choice == "tie":
            given["reason"] = {"text": "both fine"}
        return given
    return answer


@pytest.fixture
def llm_form(project_factory, fill, answer_all):
    project = project_factory(task_type=None, labels=None, questions=QUESTIONS, display=DISPLAY, overlap=3,
                              batch_size=10)
    fill(project, [_item(n) for n in range(3)])
    answer_all(project, [_answer(w) for w in range(3)])
    return project


def test_csv_has_a_column_per_question(llm_form, make_export):
    import pandas as pd

    _resource, body = make_export(llm_form, "csv")
    frame = pd.read_csv(io.BytesIO(body), keep_default_na=False).set_index("external_id")
    assert frame.loc["t0", "consensus.preference"] == "a" and frame.loc["t1", "consensus.preference"] == "b"
    assert frame.loc["t0", "consensus.helpful"] == 3  # the median of 4, 3, 3
    assert frame.loc["t0", "consensus.order"] == json.dumps({"order": ["x", "y", "z"]}, separators=(",", ":"))
    assert frame.loc["t0", "consensus.fixed"] == "answer A0!"
    assert frame.loc["t2", "consensus.reason"] == "both fine" and frame.loc["t0", "consensus.reason"] == ""
    assert frame.loc["t0", "confidence.preference"] == pytest.approx(2 / 3)
    assert frame.loc["t1", "confidence.preference"] == pytest.approx(1.0)
    for name in ("preference", "helpful", "reason", "order", "fixed"):
        assert f"consensus.{name}" in frame.columns and f"confidence.{name}" in frame.columns


def test_parquet_has_a_field_per_question(llm_form, make_export, tmp_path):
    import pyarrow.parquet as pq

    _resource, body = make_export(llm_form, "parquet")
    (tmp_path / "form.parquet").write_bytes(body)
    table = pq.read_table(tmp_path / "form.parquet")
    assert str(table.schema.field("consensus.helpful").type) == "double"
    rows = {r["external_id"]: r for r in table.to_pylist()}
    assert rows["t1"]["consensus.preference"] == "b" and rows["t0"]["consensus.helpful"] == 3.0
    assert rows["t0"]["confidence.preference"] == pytest.approx(2 / 3)
    assert rows["t0"]["consensus.reason"] is None and rows["t2"]["consensus.reason"] == "both fine"
    about = json.loads(table.schema.metadata[b"concord.project"])
    assert [q["name"] for q in about["questions"]] == [q["name"] for q in QUESTIONS]


def test_label_studio_names_a_control_per_question(llm_form, make_export, tmp_path):
    resource, body = make_export(llm_form, "label_studio")
    config = resource["label_config"]
    for tag in ('<Choices name="preference"', '<Rating name="helpful"', '<TextArea name="reason"',
                '<Ranker name="order" toName="candidates"', '<TextArea name="fixed"', '<Paragraphs name="chat"'):
        assert tag in config, tag
    tasks = {t["meta"]["external_id"]: t for t in json.loads(body)}
    first = {r["from_name"]: r["value"] for r in tasks["t0"]["annotations"][0]["result"]}
    assert first["preference"] == {"choices": ["a"]} and first["helpful"] == {"rating": 4}
    assert first["order"] == {"ranker": {"candidates": ["x", "y", "z"]}}
    # Label Studio's own converter reads the file with that config: a column per question.
    rows = read_csv(convert(resource, body, tmp_path, "CSV") / "result.csv")
    assert len(rows) == 9 and {"preference", "helpful", "fixed"} <= set(rows[0])
    assert sorted(r["preference"] for r in rows) == sorted(c for cs in CHOICES.values() for c in cs)


def test_preferences_load_with_hugging_face_datasets(llm_form, make_export, tmp_path):
    from datasets import load_dataset

    resource, body = make_export(llm_form, "preferences", question="preference")
    assert resource["question"] == "preference" and resource["include_ties"] is False
    (tmp_path / "prefs.jsonl").write_bytes(body)
    data = load_dataset("json", data_files=str(tmp_path / "prefs.jsonl"), split="train")
    assert data.num_rows == 2  # the tie is left out
    rows = {r["external_id"]: r for r in data}
    assert rows["t0"]["prompt"] == [{"role": "user", "content": "question 0"}]
    assert rows["t0"]["chosen"] == [{"role": "assistant", "content": "answer A0"}]
    assert rows["t0"]["rejected"] == [{"role": "assistant", "content": "answer B0"}]
    assert (rows["t0"]["chosen_id"], rows["t0"]["rejected_id"]) == ("alpha", "beta")
    assert rows["t0"]["votes"] == {"chosen": 2, "rejected": 1, "tie": 0}
    assert rows["t0"]["margin"] == pytest.approx(1 / 3) and rows["t0"]["agreement"] == pytest.approx(2 / 3)
    assert (rows["t1"]["chosen_id"], rows["t1"]["rejected_id"]) == ("beta", "alpha")
    assert rows["t1"]["agreement"] == 1.0 and not any(data["tie"])

    _resource, with_ties = make_export(llm_form, "preferences", question="preference", include_ties=True)
    lines = [json.loads(line) for line in with_ties.splitlines()]
    assert len(lines) == 3 and [line["tie"] for line in lines if line["external_id"] == "t2"] == [True]


def test_a_ranking_gives_each_pair_of_its_merged_order(llm_form, make_export, tmp_path):
    from datasets import load_dataset

    _resource, body = make_export(llm_form, "preferences", question="order")
    (tmp_path / "ranked.jsonl").write_bytes(body)
    data = load_dataset("json", data_files=str(tmp_path / "ranked.jsonl"), split="train")
    assert data.num_rows == 3 * 3  # three tasks, three pairs each
    t0 = [(r["chosen_id"], r["rejected_id"], r["votes"]["chosen"], r["votes"]["rejected"]) for r in data
          if r["external_id"] == "t0"]
    assert t0 == [("x", "y", 2, 1), ("x", "z", 3, 0), ("y", "z", 3, 0)]
    assert {r["chosen"] for r in data if r["chosen_id"] == "x"} == {"first"}


@pytest.mark.parametrize(("body", "field"), [
    ({"format": "preferences", "question": "helpful"}, "question"),
    ({"format": "preferences", "question": "nope"}, "question"),
    ({"format": "csv", "question": "preference"}, "question"),
    ({"format": "csv", "include_ties": True}, "include_ties"),
    ({"format": "coco"}, "question"),  # the form asks no box question
])
def test_what_a_form_export_cannot_be_is_refused(llm_form, mgr, body, field):
    response = mgr.post(f"/api/v1/projects/{llm_form.id}/exports", json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["details"]["fields"]
    assert mgr.get(f"/api/v1/projects/{llm_form.id}/exports").json["items"] == []


def test_two_preference_questions_need_one_named(project_factory, mgr):
    second = dict(QUESTIONS[0], name="safer", title="Which is safer?")
    project = project_factory(task_type=None, labels=None, questions=[QUESTIONS[0], second])
    response = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "preferences"})
    assert response.status_code == 422 and "preference, safer" in response.json["error"]["message"]
    named = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "preferences", "question": "safer"})
    assert named.status_code == 202 and named.json["export"]["question"] == "safer"


def test_an_old_project_has_no_preferences(project_factory, mgr):
    project = project_factory()
    response = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "preferences"})
    assert response.status_code == 422 and "form" in response.json["error"]["message"]


def test_coco_writes_a_forms_box_question(project_factory, fill, answer_all, make_export, tmp_path):
    from pycocotools.coco import COCO

    questions = [{"name": "objects", "kind": "bounding_boxes", "labels": ["car", "person"]},
                 {"name": "quality", "kind": "rating", "min": 1, "max": 3}]
    project = project_factory(task_type=None, labels=None, questions=questions, overlap=2)
    fill(project, [{"external_id": "img", "image": "https://img.test/a.png", "width": 100, "height": 50}])
    box = {"label": "car", "x": 10, "y": 5, "width": 30, "height": 20}
    answer_all(project, [lambda _e: {"objects": {"boxes": [box]}, "quality": {"value": 2}}] * 2)
    _resource, body = make_export(project, "coco")
    (tmp_path / "coco.json").write_bytes(body)
    coco = COCO(str(tmp_path / "coco.json"))
    (annotation,) = coco.loadAnns(coco.getAnnIds())
    assert annotation["bbox"] == [10, 5, 30, 20]
    assert coco.loadCats(annotation["category_id"])[0]["name"] == "car"


def test_csv_of_an_old_project_is_unchanged(project_factory, fill, answer_all, make_export):
    project = project_factory(overlap=1)
    fill(project, [{"external_id": "e", "text": "fine"}])
    answer_all(project, [lambda _e: {"choice": "pos"}])
    _resource, body = make_export(project, "csv")
    header = next(csv.reader(io.StringIO(body.decode())))
    assert not any(column.startswith(("consensus.", "confidence.")) for column in header)
