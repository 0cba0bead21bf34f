"""Every bad export request is a 4xx in the one error shape, never a 500; good options are accepted."""

from __future__ import annotations

import pytest


@pytest.fixture
def projects(project_factory, fill):
    choice = project_factory()
    other = project_factory()
    fill(choice, [{"text": "x"}])
    other_batch = fill(other, [{"text": "y"}]).batches[0].id
    return choice, other_batch


BAD_BODIES = {
    "no format": ({}, "format"),
    "null format": ({"format": None}, "format"),
    "format not a string": ({"format": 7}, "format"),
    "unknown format": ({"format": "xml"}, "format"),
    "format for another task type": ({"format": "coco"}, "format"),
    "include not a list": ({"format": "jsonl", "include": "answers"}, "include"),
    "unknown part": ({"format": "jsonl", "include": ["gold"]}, "include"),
    "null part": ({"format": "jsonl", "include": [None]}, "include"),
    "no batches": ({"format": "jsonl", "batch_ids": []}, "batch_ids"),
    "batch id zero": ({"format": "jsonl", "batch_ids": [0]}, "batch_ids"),
    "batch id text": ({"format": "jsonl", "batch_ids": ["a"]}, "batch_ids"),
    "batch id fraction": ({"format": "jsonl", "batch_ids": [1.5]}, "batch_ids"),
    "batch id past 64 bits": ({"format": "jsonl", "batch_ids": [2**63]}, "batch_ids"),
    "batch id far past 64 bits": ({"format": "jsonl", "batch_ids": [2**80]}, "batch_ids"),
    "include_gold text": ({"format": "jsonl", "include_gold": "true"}, "include_gold"),
    "include_gold number": ({"format": "jsonl", "include_gold": 0}, "include_gold"),
    "include_empty list": ({"format": "jsonl", "include_empty": [True]}, "include_empty"),
    "include_empty where every task is written": ({"format": "csv", "include_empty": True}, "include_empty"),
    "unknown field": ({"format": "jsonl", "gold_only": True}, "gold_only"),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_a_bad_export_request_is_a_422_naming_the_field(projects, mgr, case):
    project, _ = projects
    body, field = BAD_BODIES[case]
    refused = mgr.post(f"/api/v1/projects/{project.id}/exports", json=body)
    assert refused.status_code == 422, refused.json
    assert set(refused.json) == {"error"} and set(refused.json["error"]) == {"code", "message", "details"}
    assert field in refused.json["error"]["details"]["fields"], refused.json


def test_another_projects_batch_is_refused(projects, mgr):
    project, other_batch = projects
    refused = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "jsonl", "batch_ids": [other_batch]})
    assert refused.status_code == 422 and "batch_ids" in refused.json["error"]["details"]["fields"]


@pytest.mark.parametrize("body", [[], "jsonl", None, 3])
def test_a_body_that_is_not_an_object_is_a_4xx(projects, mgr, body):
    project, _ = projects
    refused = mgr.post(f"/api/v1/projects/{project.id}/exports", json=body)
    assert 400 <= refused.status_code < 500 and set(refused.json) == {"error"}, refused.json


def test_options_are_accepted_and_shown_on_the_export(project_factory, mgr):
    spans = project_factory(task_type="text_spans", labels=["PER"])
    created = mgr.post(f"/api/v1/projects/{spans.id}/exports",
                       json={"format": "conll", "include_empty": True, "include_gold": False, "include": ["consensus"]})
    assert created.status_code == 202, created.json
    export = created.json["export"]
    assert (export["include"], export["include_gold"], export["include_empty"]) == (["consensus"], False, True)
    assert export["label_config"] is None
    defaults = mgr.post(f"/api/v1/projects/{spans.id}/exports", json={"format": "label_studio"}).json["export"]
    assert (defaults["include"], defaults["include_gold"], defaults["include_empty"]) == (
        ["answers", "consensus", "agreement"], True, False)
    assert defaults["label_config"].startswith("<View>") and 'value="PER"' in defaults["label_config"]
    listed = mgr.get(f"/api/v1/projects/{spans.id}/exports").json["items"]
    assert [(e["include_gold"], e["label_config"] is not None) for e in listed] == [(True, True), (False, False)]
