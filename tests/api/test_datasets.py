import io
import json

import pytest


@pytest.fixture
def manager_client(login_as, manager):
    return login_as(manager)


def upload(client, project_id, content: bytes | str, filename: str, **form):
    data = {"file": (io.BytesIO(content.encode() if isinstance(content, str) else content), filename), **form}
    return client.post(f"/api/v1/projects/{project_id}/datasets", data=data, content_type="multipart/form-data")


def tasks_of(client, project_id):
    out = []
    for batch in client.get(f"/api/v1/projects/{project_id}/batches?limit=500").json["items"]:
        out += client.get(f"/api/v1/batches/{batch['id']}/tasks?limit=500").json["items"]
    return out


def test_json_items_become_tasks_split_into_batches(manager_client, project_factory):
    project = project_factory(batch_size=4)
    items = [{"external_id": f"r{i}", "data": {"text": f"review {i}"}} for i in range(10)]
    response = manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": items})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "ready" and body["tasks_created"] == 10 and body["items_total"] == 10
    assert [b["task_count"] for b in body["batches"]] == [4, 4, 2]
    tasks = tasks_of(manager_client, project.id)
    assert [t["data"]["text"] for t in tasks] == [f"review {i}" for i in range(10)]
    assert [t["external_id"] for t in tasks] == [f"r{i}" for i in range(10)]
    assert all(t["status"] == "open" and t["required_overlap"] == 3 for t in tasks)


def test_batch_size_can_be_set_per_upload(manager_client, project_factory):
    project = project_factory(batch_size=100)
    response = manager_client.post(f"/api/v1/projects/{project.id}/datasets",
                                   json={"items": [{"text": "x"}] * 5, "batch_size": 2})
    assert [b["task_count"] for b in response.json["batches"]] == [2, 2, 1]


def test_csv_upload_with_gold_and_external_ids(manager_client, project_factory):
    project = project_factory(labels=["pos", "neg"])
    csv_text = 'external_id,text,gold\na1,"Loved it, really",pos\na2,Meh,\na3,"Hated ""it""",{"choice":"neg"}\n'
    response = upload(manager_client, project.id, csv_text, "reviews.csv")
    assert response.status_code == 201, response.json
    tasks = tasks_of(manager_client, project.id)
    assert [t["data"] for t in tasks] == [{"text": "Loved it, really"}, {"text": "Meh"}, {"text": 'Hated "it"'}]
    assert [t["gold"] for t in tasks] == [{"choice": "pos"}, None, {"choice": "neg"}]


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_json_lines_and_json_array_uploads(manager_client, project_factory, fmt):
    project = project_factory()
    items = [{"external_id": i, "text": f"t{i}", "score": i / 2} for i in range(7)]
    if fmt == "jsonl":
        content, name = "\n".join(json.dumps(i) for i in items) + "\n\n", "items.jsonl"
    else:
        content, name = json.dumps(items), "items.json"
    response = upload(manager_client, project.id, content, name)
    assert response.status_code == 201, response.json
    tasks = tasks_of(manager_client, project.id)
    assert [t["data"] for t in tasks] == [{"text": f"t{i}", "score": i / 2} for i in range(7)]
    assert [t["external_id"] for t in tasks] == [str(i) for i in range(7)]


def test_reuploading_the_same_external_ids_duplicates_nothing(manager_client, project_factory):
    project = project_factory()
    first = [{"external_id": f"x{i}", "text": "original"} for i in range(5)]
    manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": first})
    again = [{"external_id": f"x{i}", "text": "changed"} for i in range(7)] + [{"external_id": "x6", "text": "dup"}]
    response = manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": again})
    assert response.status_code == 201
    assert response.json["tasks_created"] == 2 and response.json["duplicates_skipped"] == 6
    tasks = tasks_of(manager_client, project.id)
    assert len(tasks) == 7
    assert [t["data"]["text"] for t in tasks] == ["original"] * 5 + ["changed"] * 2


def test_a_bad_row_imports_nothing_and_names_the_row(manager_client, project_factory):
    project = project_factory(labels=["pos", "neg"])
    lines = [json.dumps({"text": f"ok {i}"}) for i in range(5)]
    lines.insert(3, json.dumps({"text": "bad", "gold": {"choice": "maybe"}}))
    response = upload(manager_client, project.id, "\n".join(lines), "items.jsonl")
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_row" and error["details"]["row"] == 4
    assert "maybe" in error["message"]
    assert tasks_of(manager_client, project.id) == []
    assert manager_client.get(f"/api/v1/projects/{project.id}/datasets").json["items"] == []


def test_a_number_too_large_to_store_is_a_row_error_not_a_500(manager_client, project_factory):
    project = project_factory(labels=["pos", "neg"])
    items = [{"text": "ok"}, {"text": "big", "score": 2**70}]
    response = manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": items})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_row" and error["details"]["row"] == 2 and "64-bit" in error["message"]
    assert tasks_of(manager_client, project.id) == []
    gold = [{"text": "g", "gold": {"choice": "pos", "weight": -(2**65)}}]
    refused = manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": gold})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "invalid_row"


@pytest.mark.parametrize(("content", "filename", "row", "needle"), [
    ("text\nfine\n\"broken", "a.csv", 3, "malformed"),
    ("a,b\n1,2\n3\n", "a.csv", 3, "fewer fields"),
    ("a,b\n1,2,3\n", "a.csv", 2, "fields"),
    ('{"text": 1}\n{"text": \n', "a.jsonl", 2, "invalid JSON"),
    ('[{"text": 1}, {"text": 2}, oops]', "a.json", 3, "invalid JSON"),
    ('[{"text": 1}, 7]', "a.json", 2, "object"),
])
def test_malformed_files_say_what_is_wrong(manager_client, project_factory, content, filename, row, needle):
    project = project_factory()
    response = upload(manager_client, project.id, content, filename)
    assert response.status_code == 422, response.json
    assert response.json["error"]["details"]["row"] == row
    assert needle in response.json["error"]["message"]


def test_files_of_unknown_shape_are_refused(manager_client, project_factory):
    project = project_factory()
    assert upload(manager_client, project.id, "hello", "notes.txt").json["error"]["code"] == "unknown_format"
    assert upload(manager_client, project.id, '"just a string"', "x.json").json["error"]["code"] == "invalid_file"
    assert upload(manager_client, project.id, "\xff\xfe", "x.csv").status_code == 422
    missing = manager_client.post(f"/api/v1/projects/{project.id}/datasets", data={"other": "x"},
                                  content_type="multipart/form-data")
    assert missing.status_code == 422 and "file" in missing.json["error"]["details"]["fields"]
    empty = manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": []})
    assert empty.status_code == 422


def test_text_spans_tasks_need_their_text(manager_client, project_factory):
    project = project_factory(task_type="text_spans", labels=["PER"], text_field="sentence")
    bad = manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": [{"text": "no"}]})
    assert bad.status_code == 422 and bad.json["error"]["details"]["field"] == "data.sentence"
    gold = {"spans": [{"label": "PER", "start": 0, "end": 3}]}
    good = manager_client.post(f"/api/v1/projects/{project.id}/datasets",
                               json={"items": [{"sentence": "Ada wrote it", "gold": gold}]})
    assert good.status_code == 201
    past_end = {"spans": [{"label": "PER", "start": 0, "end": 30}]}
    assert manager_client.post(f"/api/v1/projects/{project.id}/datasets",
                               json={"items": [{"sentence": "Ada", "gold": past_end}]}).status_code == 422


def test_fractional_overlap_spreads_extra_answers_exactly(manager_client, project_factory):
    project = project_factory(overlap=2.5, batch_size=1000)
    manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": [{"n": i} for i in range(100)]})
    required = [t["required_overlap"] for t in tasks_of(manager_client, project.id)]
    assert required.count(2) == 50 and required.count(3) == 50
    project2 = project_factory(overlap=1.25, batch_size=1000)
    manager_client.post(f"/api/v1/projects/{project2.id}/datasets", json={"items": [{"n": i} for i in range(40)]})
    required = [t["required_overlap"] for t in tasks_of(manager_client, project2.id)]
    assert required.count(2) == 10 and required.count(1) == 30


def test_a_large_file_is_imported_by_a_background_job(manager_client, project_factory, run_jobs):
    project = project_factory(batch_size=100)
    content = "".join(json.dumps({"external_id": f"e{i}", "text": f"item number {i}"}) + "\n" for i in range(250))
    assert len(content) > 4096  # the test settings' inline limit
    response = upload(manager_client, project.id, content, "big.jsonl")
    assert response.status_code == 202, response.json
    job = response.json["job"]
    assert job["status"] == "queued" and response.json["dataset"]["status"] == "importing"
    run_jobs()
    status = manager_client.get(f"/api/v1/jobs/{job['id']}").json
    assert status["status"] == "finished" and status["progress"] == 1.0
    assert status["result"]["tasks_created"] == 250
    dataset = manager_client.get(f"/api/v1/datasets/{response.json['dataset']['id']}").json
    assert dataset["status"] == "ready" and [b["task_count"] for b in dataset["batches"]] == [100, 100, 50]
    listed = manager_client.get("/api/v1/jobs").json["items"]
    assert [j["id"] for j in listed] == [job["id"]]


def test_a_failing_import_job_reports_the_row_and_imports_nothing(manager_client, project_factory, run_jobs):
    project = project_factory()
    lines = [json.dumps({"text": "x" * 50}) for _ in range(200)] + ["{not json"]
    response = upload(manager_client, project.id, "\n".join(lines), "big.jsonl")
    assert response.status_code == 202
    run_jobs()
    status = manager_client.get(f"/api/v1/jobs/{response.json['job']['id']}").json
    assert status["status"] == "failed"
    assert status["error"]["details"]["row"] == 201
    dataset = manager_client.get(f"/api/v1/datasets/{response.json['dataset']['id']}").json
    assert dataset["status"] == "failed" and dataset["error"]["details"]["row"] == 201
    assert tasks_of(manager_client, project.id) == []


def test_jobs_are_private_to_their_organization(manager_client, project_factory, run_jobs, login_as, user_factory):
    project = project_factory()
    content = "\n".join(json.dumps({"text": "y" * 60}) for _ in range(100))
    job_id = upload(manager_client, project.id, content, "big.jsonl").json["job"]["id"]
    run_jobs()
    stranger = login_as(user_factory("manager"))
    assert stranger.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert stranger.get("/api/v1/jobs").json["items"] == []


def test_batches_can_be_prioritised_and_paused(manager_client, project_factory, login_as, user_factory):
    project = project_factory(batch_size=2)
    manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": [{"t": i} for i in range(4)]})
    batch = manager_client.get(f"/api/v1/projects/{project.id}/batches").json["items"][0]
    patched = manager_client.patch(f"/api/v1/batches/{batch['id']}", json={"priority": 5, "status": "paused"})
    assert patched.status_code == 200 and patched.json["priority"] == 5 and patched.json["status"] == "paused"
    paused = manager_client.get(f"/api/v1/projects/{project.id}/batches?status=paused").json["items"]
    assert [b["id"] for b in paused] == [batch["id"]]
    assert manager_client.patch(f"/api/v1/batches/{batch['id']}", json={"status": "done"}).status_code == 422
    stranger = login_as(user_factory("manager"))
    assert stranger.patch(f"/api/v1/batches/{batch['id']}", json={"priority": 1}).status_code == 404
    task_id = manager_client.get(f"/api/v1/batches/{batch['id']}/tasks").json["items"][0]["id"]
    assert manager_client.get(f"/api/v1/tasks/{task_id}").json["data"] == {"t": 0}
    assert stranger.get(f"/api/v1/tasks/{task_id}").status_code == 404
    assert stranger.get(f"/api/v1/batches/{batch['id']}/tasks").status_code == 404


def test_awkward_values_survive_the_import_unchanged(manager_client, project_factory):
    project = project_factory()
    awkward = {"text": 'back\\slash "quoted" tab\there\nnewline \\N é 漢字 🙂', "nested": {"list": [1, None, 2.5]}}
    items = [{"external_id": "id\twith\\tab", "data": awkward}, {"external_id": "\\N", "data": {"text": ""}}]
    response = manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": items})
    assert response.status_code == 201, response.json
    tasks = tasks_of(manager_client, project.id)
    assert tasks[0]["data"] == awkward and tasks[0]["external_id"] == "id\twith\\tab"
    assert tasks[1]["external_id"] == "\\N" and tasks[1]["data"] == {"text": ""}


def test_many_batches_with_a_tiny_batch_size(manager_client, project_factory):
    project = project_factory(batch_size=1)
    response = manager_client.post(f"/api/v1/projects/{project.id}/datasets",
                                   json={"items": [{"n": i} for i in range(130)]})
    assert response.status_code == 201
    assert len(response.json["batches"]) == 130 and all(b["task_count"] == 1 for b in response.json["batches"])
    assert [b["number"] for b in response.json["batches"]] == list(range(1, 131))
    again = manager_client.post(f"/api/v1/projects/{project.id}/datasets", json={"items": [{"n": 1}] * 2})
    assert [b["number"] for b in again.json["batches"]] == [131, 132]
