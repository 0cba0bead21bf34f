"""Control (gold) tasks in every export format, marked with their expected answer, and left out on request;
Hugging Face ``datasets`` loading the JSON Lines and Parquet exports with those fields."""

from __future__ import annotations

import csv
import io
import json

import pytest

EXPECTED = {"g1": {"choice": "neg"}, "g2": {"choice": "pos"}}


@pytest.fixture
def choice_project(project_factory, fill, answer_all):
    """Three regular tasks answered by two workers (with consensus) and two control tasks."""
    project = project_factory(overlap=2, consensus_method="majority", labels=["pos", "neg"])
    fill(project, [{"external_id": f"t{i}", "text": f"review {i}"} for i in range(3)]
         + [{"external_id": key, "text": f"control {key}", "gold": answer} for key, answer in EXPECTED.items()])
    answer_all(project, [lambda e: {"choice": "pos"}, lambda e: {"choice": "pos"}])
    return project


def jsonl(body):
    return [json.loads(line) for line in body.decode().splitlines()]


def marked_jsonl(body):
    return {row["external_id"]: (row["gold"], row["expected"]) for row in jsonl(body)}


def marked_csv(body):
    rows = csv.DictReader(io.StringIO(body.decode()))
    return {r["external_id"]: (r["gold"] == "true", r["expected"] or None) for r in rows}


def marked_parquet(body):
    import pyarrow.parquet as pq

    return {r["external_id"]: (r["gold"], r["expected"] and json.loads(r["expected"]))
            for r in pq.read_table(io.BytesIO(body)).to_pylist()}


def marked_label_studio(body):
    out = {}
    for task in json.loads(body):
        reference = [a for a in task["annotations"] if a["ground_truth"]]
        if task["meta"]["gold"]:
            # The expected answer, in Concord's form and as Label Studio's ground-truth annotation.
            assert [r["value"]["choices"] for a in reference for r in a["result"]] == [
                [task["meta"]["expected"]["choice"]]]
        else:
            assert reference == [] and "expected" not in task["meta"]
        out[task["meta"]["external_id"]] = (task["meta"]["gold"], task["meta"].get("expected"))
    return out


READERS = {"jsonl": marked_jsonl, "csv": marked_csv, "parquet": marked_parquet, "label_studio": marked_label_studio}
ANSWERS = {"jsonl": EXPECTED, "csv": {"g1": "neg", "g2": "pos"}, "parquet": EXPECTED, "label_studio": EXPECTED}


@pytest.mark.parametrize("fmt", READERS)
def test_gold_tasks_are_in_every_export_marked_with_their_expected_answer(choice_project, make_export, fmt):
    resource, body = make_export(choice_project, fmt)
    marked = READERS[fmt](body)
    regular = {f"t{i}": (False, None) for i in range(3)}
    assert marked == {**regular, **{key: (True, answer) for key, answer in ANSWERS[fmt].items()}}
    assert resource["include_gold"] is True and resource["tasks"] == 5

    resource, body = make_export(choice_project, fmt, include_gold=False)
    assert READERS[fmt](body) == regular and resource["include_gold"] is False and resource["tasks"] == 3


def test_answers_keep_their_review_status(choice_project, make_export):
    _, body = make_export(choice_project, "jsonl")
    answers = [a for row in jsonl(body) for a in row["answers"]]
    assert len(answers) == 6 and {(a["review_status"], a["counted"]) for a in answers} == {("pending", True)}


def test_gold_tasks_in_the_training_formats(project_factory, fill, answer_all, make_export, tmp_path):
    spans = project_factory(task_type="text_spans", labels=["PER"], overlap=1, consensus_method="span_vote")
    fill(spans, [{"external_id": "t", "text": "Ada wrote."},
                 {"external_id": "g", "text": "Grace coded.", "gold": {"spans": [{"label": "PER", "start": 0,
                                                                                    "end": 5}]}}])
    answer_all(spans, [lambda e: {"spans": [{"label": "PER", "start": 0, "end": 3}]}])
    _, body = make_export(spans, "spacy")
    assert [(d["meta"]["external_id"], d["meta"]["gold"], d["spans"]) for d in jsonl(body)] == [
        ("t", False, [{"label": "PER", "start": 0, "end": 3}]), ("g", True, [{"label": "PER", "start": 0, "end": 5}])]
    _, body = make_export(spans, "spacy", include_gold=False)
    assert [d["meta"]["external_id"] for d in jsonl(body)] == ["t"]
    _, body = make_export(spans, "conll")
    # The third column says where the tags come from: "_" the consensus, "gold" a control task's expected answer.
    assert [line for line in body.decode().splitlines() if line and not line.startswith("-DOCSTART-")] == [
        "Ada -X- _ B-PER", "wrote -X- _ O", ". -X- _ O", "Grace -X- gold B-PER", "coded -X- gold O", ". -X- gold O"]
    _, body = make_export(spans, "conll", include_gold=False)
    assert b"gold" not in body and body.count(b"-DOCSTART-") == 1

    boxes = project_factory(task_type="bounding_boxes", labels=["car"], overlap=1, consensus_method="box_cluster")
    box = {"label": "car", "x": 1, "y": 1, "width": 5, "height": 5}
    fill(boxes, [{"external_id": "t", "image": "https://images.invalid/t.jpg", "width": 10, "height": 10},
                 {"external_id": "g", "image": "https://images.invalid/g.jpg", "width": 10, "height": 10,
                  "gold": {"boxes": [box]}}])
    answer_all(boxes, [lambda e: {"boxes": [box]}])
    _, body = make_export(boxes, "coco")
    coco = json.loads(body)
    assert [(i["concord"]["external_id"], i["concord"]["gold"]) for i in coco["images"]] == [("t", False), ("g", True)]
    assert [(a["image_id"], a["score"]) for a in coco["annotations"]] == [
        (coco["images"][0]["id"], 1.0), (coco["images"][1]["id"], 1.0)]
    _, body = make_export(boxes, "coco", include_gold=False)
    assert [i["concord"]["external_id"] for i in json.loads(body)["images"]] == ["t"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_hugging_face_datasets_loads_the_exports_with_gold_fields(choice_project, make_export, tmp_path, fmt):
    import datasets

    _, body = make_export(choice_project, fmt)
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(body)
    loaded = datasets.load_dataset("json" if fmt == "jsonl" else "parquet", data_files=str(path), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
    assert loaded.num_rows == 5
    assert loaded.features["gold"].dtype == "bool" and loaded["gold"] == [False, False, False, True, True]
    assert loaded["external_id"] == ["t0", "t1", "t2", "g1", "g2"]
    expected = loaded["expected"]
    if fmt == "parquet":  # a JSON text column, as data and answers are
        expected = [value and json.loads(value) for value in expected]
    assert expected == [None, None, None, EXPECTED["g1"], EXPECTED["g2"]]
    if fmt == "jsonl":
        assert loaded[0]["answers"][0]["review_status"] == "pending" and loaded[0]["answers"][0]["counted"] is True
        assert loaded[0]["consensus"]["answer"] == {"choice": "pos"}
