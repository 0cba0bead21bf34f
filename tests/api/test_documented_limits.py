"""What the OpenAPI document promises about input, the server holds to: ids in arrays within the bounds
of path ids, currencies as ISO 4217 codes, no task_type in a project update, and bodies optional exactly
where the document says so. Bad input is a 422 in the one error shape."""

from __future__ import annotations

import pytest

from backend.schemas.common import MAX_BIG_ID, MAX_ID


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


@pytest.fixture
def project(mgr):
    created = mgr.post("/api/v1/projects", json={"name": "P", "task_type": "single_choice", "labels": ["a", "b"],
                                                 "overlap": 1, "status": "active"})
    assert created.status_code == 201, created.json
    return created.json


def _refused(response, field: str) -> None:
    assert response.status_code == 422, response.json
    assert set(response.json) == {"error"} and field in response.json["error"]["details"]["fields"], response.json


@pytest.mark.parametrize("too_big", [MAX_ID + 1, -1])
def test_ids_in_arrays_beyond_the_path_bounds_are_422(mgr, project, too_big):
    pid = project["id"]
    _refused(mgr.post(f"/api/v1/projects/{pid}/exports", json={"format": "jsonl", "batch_ids": [too_big]}),
             "batch_ids")
    _refused(mgr.post(f"/api/v1/projects/{pid}/consensus", json={"batch_ids": [1, too_big]}), "batch_ids")
    _refused(mgr.put("/api/v1/worker-groups/core", json={"worker_ids": [too_big]}), "worker_ids")
    _refused(mgr.post(f"/api/v1/projects/{pid}/fair-pay/confirm", json={"ids": [too_big]}), "ids")
    _refused(mgr.patch(f"/api/v1/projects/{pid}", json={"qualification": {"gold_projects": [too_big]}}),
             "qualification")
    # Assignments count with 64-bit ids: a 32-bit overflow is still an id that may exist.
    assert mgr.post(f"/api/v1/projects/{pid}/reviews", json={"action": "approve", "assignment_ids": [MAX_ID + 1]}
                    ).status_code == 200
    _refused(mgr.post(f"/api/v1/projects/{pid}/reviews",
                      json={"action": "approve", "assignment_ids": [MAX_BIG_ID + 1]}), "assignment_ids")


@pytest.mark.parametrize("code", ["usd", "US", "USDX", "U5D", "USD\n"])
def test_currencies_are_three_capital_letters(mgr, project, code):
    _refused(mgr.post("/api/v1/payouts", json={"currency": code}), "currency")
    _refused(mgr.patch(f"/api/v1/projects/{project['id']}", json={"reward": {"amount": 5, "currency": code}}),
             "reward")
    _refused(mgr.get("/api/v1/me/earnings", query_string={"currency": code}), "currency")


def test_a_project_update_refuses_the_task_type_even_unchanged(mgr, project):
    for task_type in ("single_choice", "rating"):
        refused = mgr.patch(f"/api/v1/projects/{project['id']}", json={"task_type": task_type, "name": "Q"})
        _refused(refused, "task_type")
        assert refused.json["error"]["details"]["fields"]["task_type"] == ["cannot change once the project exists"]
    assert mgr.get(f"/api/v1/projects/{project['id']}").json["name"] == "P"


def test_bodies_the_document_marks_optional_may_be_left_out(mgr, project, user_factory, login_as):
    mgr.post(f"/api/v1/projects/{project['id']}/datasets", json={"items": [{"text": "x"}, {"text": "y"}]})
    worker = login_as(user_factory("annotator"))
    lease = worker.post(f"/api/v1/projects/{project['id']}/assignments").json
    assert worker.post(f"/api/v1/assignments/{lease['id']}/release").status_code == 200  # body optional
    lease = worker.post(f"/api/v1/projects/{project['id']}/assignments").json
    _refused(worker.post(f"/api/v1/assignments/{lease['id']}/submit"), "answer")  # body required
    assert mgr.patch(f"/api/v1/projects/{project['id']}").status_code == 200
