"""Behaviour found wanting in review, kept from coming back."""

from backend.services import datasets
from tests.conftest import principal_of


def test_lowering_the_overlap_never_over_fills_a_task(project_factory, manager, login_as, user_factory, api_key):
    project = project_factory(overlap=3, batch_size=10)
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"t": 1}, {"t": 2}])
    crowd = [api_key(user=user_factory("annotator")) for _ in range(4)]
    leases = [c.post(f"/api/v1/projects/{project.id}/assignments").json for c in crowd[:3]]
    assert len({lease["task"]["id"] for lease in leases}) == 1
    mgr = login_as(manager)
    assert mgr.patch(f"/api/v1/projects/{project.id}", json={"overlap": 1}).status_code == 200
    statuses = [c.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"choice": "pos"}}).status_code
                for c, lease in zip(crowd, leases, strict=False)]
    assert statuses == [200, 200, 200]  # the task kept the overlap it was leased under
    tasks = mgr.get(f"/api/v1/projects/{project.id}/tasks").json["items"]
    touched, untouched = tasks
    assert touched["answer_count"] == touched["required_overlap"] == 3 and touched["status"] == "complete"
    assert untouched["required_overlap"] == 1
    # The untouched task still goes out and completes the batch exactly once.
    fourth = crowd[3].post(f"/api/v1/projects/{project.id}/assignments").json
    assert fourth["task"]["id"] == untouched["id"]
    crowd[3].post(f"/api/v1/assignments/{fourth['id']}/submit", json={"answer": {"choice": "neg"}})
    batch = mgr.get(f"/api/v1/projects/{project.id}/batches").json["items"][0]
    assert batch["completed_count"] == 2 and batch["completed_at"] is not None


def test_a_read_only_token_cannot_mint_a_stronger_key(api_key, manager):
    reader = api_key(user=manager, scopes=["projects:read"])
    denied = reader.post("/api/v1/tokens", json={"name": "x", "organization": True, "scopes": ["projects:read"]})
    assert denied.status_code == 403
    writer = api_key(user=manager, scopes=["projects:read", "projects:write"])
    stronger = writer.post("/api/v1/tokens", json={"name": "x", "organization": True,
                                                   "scopes": ["payments:write"]})
    assert stronger.status_code == 403
    ok = writer.post("/api/v1/tokens", json={"name": "x", "organization": True,
                                             "scopes": ["projects:read", "tasks:work"]})
    assert ok.status_code == 201


def test_out_of_range_numbers_are_client_errors(login_as, manager):
    client = login_as(manager)
    assert client.get("/api/v1/projects/99999999999999999999").status_code == 404
    import base64
    import json

    cursor = base64.urlsafe_b64encode(json.dumps({"after": 10**30}).encode()).decode()
    assert client.get(f"/api/v1/projects?cursor={cursor}").status_code == 422


def test_non_finite_coordinates_are_refused(project_factory, manager, api_key, user_factory):
    project = project_factory(task_type="bounding_boxes", labels=["car"])
    datasets.import_items(principal=principal_of(manager), project_id=project.id,
                          items=[{"image": "https://img/1.png"}])
    worker = api_key(user=user_factory("annotator"))
    lease = worker.post(f"/api/v1/projects/{project.id}/assignments").json
    body = '{"answer": {"boxes": [{"label": "car", "x": NaN, "y": 1, "width": 2, "height": 2}]}}'
    response = worker.post(f"/api/v1/assignments/{lease['id']}/submit", data=body, content_type="application/json")
    assert response.status_code in (400, 422)


def test_workers_do_not_see_quality_settings(project_factory, api_key, user_factory, login_as, manager):
    project = project_factory(gold_ratio=0.2, min_gold_accuracy=0.8)
    seen = api_key(user=user_factory("annotator")).get(f"/api/v1/projects/{project.id}").json
    assert "gold_ratio" not in seen and "min_gold_accuracy" not in seen and seen["labels"] == ["pos", "neg", "neu"]
    assert login_as(manager).get(f"/api/v1/projects/{project.id}").json["gold_ratio"] == 0.2
