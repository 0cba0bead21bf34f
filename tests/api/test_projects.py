import pytest

MOVIE = {"name": "Movie reviews", "instructions": "Pick the sentiment.", "task_type": "single_choice",
         "labels": ["positive", "negative", "neutral"], "overlap": 3, "batch_size": 500, "lease_seconds": 600,
         "reward": {"amount": 5, "currency": "USD"}}


@pytest.fixture
def manager_client(login_as, manager):
    return login_as(manager)


def test_manager_creates_and_reads_a_project(manager_client, manager):
    created = manager_client.post("/api/v1/projects", json=MOVIE)
    assert created.status_code == 201
    body = created.json
    assert body["labels"] == MOVIE["labels"] and body["overlap"] == 3 and body["max_overlap"] == 3
    assert body["reward"] == {"amount": 5, "currency": "USD"}
    assert body["status"] == "draft" and body["organization_id"] == manager.organization_id
    assert manager_client.get(f"/api/v1/projects/{body['id']}").json == body


@pytest.mark.parametrize("fields", [
    {"task_type": "single_choice", "labels": ["a", "b"]},
    {"task_type": "multi_choice", "labels": ["a", "b", "c"]},
    {"task_type": "rating", "min": 1, "max": 5},
    {"task_type": "bounding_boxes", "labels": ["car", "person"]},
    {"task_type": "text_spans", "labels": ["PER", "LOC"], "text_field": "sentence"},
    {"task_type": "free_text", "max_length": 280},
])
def test_every_task_type_keeps_its_schema(manager_client, fields):
    response = manager_client.post("/api/v1/projects", json={"name": "P", **fields})
    assert response.status_code == 201, response.json
    for key, value in fields.items():
        assert response.json[key] == value


@pytest.mark.parametrize(("fields", "bad_field"), [
    ({"task_type": "single_choice"}, "labels"),
    ({"task_type": "single_choice", "labels": ["a", "a"]}, "labels"),
    ({"task_type": "rating", "min": 5, "max": 1}, "max"),
    ({"task_type": "rating", "min": 1}, "max"),
    ({"task_type": "free_text", "labels": ["x"]}, "labels"),
    ({"task_type": "telepathy"}, "task_type"),
    ({"task_type": "free_text", "overlap": 0.5}, "overlap"),
    ({"task_type": "free_text", "overlap": 2.555}, "overlap"),
    ({"task_type": "free_text", "overlap": 3, "max_overlap": 2}, "max_overlap"),
    ({"task_type": "free_text", "lease_seconds": 1}, "lease_seconds"),
    ({"task_type": "free_text", "reward": {"amount": 1.5, "currency": "USD"}}, "reward"),
    ({"task_type": "free_text", "reward": {"amount": 5, "currency": "XYZ"}}, "reward.currency"),
    ({"task_type": "free_text", "colour": "red"}, "colour"),
])
def test_invalid_settings_name_the_field(manager_client, fields, bad_field):
    response = manager_client.post("/api/v1/projects", json={"name": "P", **fields})
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_error"
    assert bad_field in response.json["error"]["details"]["fields"]


def test_another_organizations_project_is_not_found(project_factory, login_as, user_factory):
    project = project_factory()
    stranger = login_as(user_factory("manager"))
    for call in (stranger.get(f"/api/v1/projects/{project.id}"),
                 stranger.patch(f"/api/v1/projects/{project.id}", json={"name": "mine"}),
                 stranger.get(f"/api/v1/projects/{project.id}/batches")):
        assert call.status_code == 404
    assert stranger.get("/api/v1/projects").json["items"] == []


def test_annotators_see_active_projects_but_cannot_create_or_edit(project_factory, login_as, user_factory):
    active = project_factory(status="active")
    project_factory(status="draft")
    annotator = login_as(user_factory("annotator"))
    listed = annotator.get("/api/v1/projects").json["items"]
    assert [p["id"] for p in listed] == [active.id]
    assert annotator.get(f"/api/v1/projects/{active.id}").status_code == 200
    assert annotator.post("/api/v1/projects", json=MOVIE).status_code == 403
    assert annotator.patch(f"/api/v1/projects/{active.id}", json={"name": "x"}).status_code == 403
    assert annotator.get(f"/api/v1/projects/{active.id}/batches").status_code == 403


def test_anonymous_requests_get_401(client, project_factory):
    project = project_factory()
    for response in (client.get("/api/v1/projects"), client.get(f"/api/v1/projects/{project.id}"),
                     client.post("/api/v1/projects", json=MOVIE), client.get("/api/v1/tokens")):
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"


def test_list_is_paginated_with_a_cursor(manager_client):
    ids = [manager_client.post("/api/v1/projects", json={**MOVIE, "name": f"P{i}"}).json["id"] for i in range(5)]
    first = manager_client.get("/api/v1/projects?limit=2").json
    assert [p["id"] for p in first["items"]] == ids[:2] and first["next_cursor"]
    second = manager_client.get(f"/api/v1/projects?limit=2&cursor={first['next_cursor']}").json
    third = manager_client.get(f"/api/v1/projects?limit=2&cursor={second['next_cursor']}").json
    assert [p["id"] for p in second["items"] + third["items"]] == ids[2:]
    assert third["next_cursor"] is None
    assert manager_client.get("/api/v1/projects?cursor=garbage").status_code == 422
    assert manager_client.get("/api/v1/projects?limit=0").status_code == 422


def test_patch_changes_settings_and_keeps_the_rest(manager_client):
    project = manager_client.post("/api/v1/projects", json=MOVIE).json
    patched = manager_client.patch(f"/api/v1/projects/{project['id']}",
                                   json={"status": "active", "labels": ["yes", "no"], "lease_seconds": 30})
    assert patched.status_code == 200
    assert patched.json["labels"] == ["yes", "no"] and patched.json["status"] == "active"
    assert patched.json["instructions"] == MOVIE["instructions"]
    bad = manager_client.patch(f"/api/v1/projects/{project['id']}", json={"task_type": "rating"})
    assert bad.status_code == 422


def test_new_overlap_applies_to_open_tasks(manager_client, project_factory, manager):
    project = project_factory(overlap=2)
    manager_client.post(f"/api/v1/projects/{project.id}/datasets",
                        json={"items": [{"text": str(i)} for i in range(10)]})
    manager_client.patch(f"/api/v1/projects/{project.id}", json={"overlap": 2.5})
    batch = manager_client.get(f"/api/v1/projects/{project.id}/batches").json["items"][0]
    tasks = manager_client.get(f"/api/v1/batches/{batch['id']}/tasks").json["items"]
    assert sorted(t["required_overlap"] for t in tasks) == [2] * 5 + [3] * 5
