from datetime import timedelta

import pytest

from backend.models import utcnow
from backend.services import assignments as assignment_service


@pytest.fixture
def later(monkeypatch):
    """Move the engine's clock forward by some seconds."""

    def move(seconds):
        real = utcnow
        monkeypatch.setattr(assignment_service, "utcnow", lambda: real() + timedelta(seconds=seconds))

    return move


def claim(client, project_id, **kwargs):
    return client.post(f"/api/v1/projects/{project_id}/assignments", **kwargs)


def submit(client, assignment_id, answer, **kwargs):
    return client.post(f"/api/v1/assignments/{assignment_id}/submit", json={"answer": answer, **kwargs})


def test_claim_gives_a_task_with_what_a_labeling_client_needs(project_factory, fill, workers):
    project = project_factory(labels=["pos", "neg"], instructions="Be careful.", lease_seconds=60, gold_ratio=1.0)
    fill(project, items=[{"text": "great", "gold": {"choice": "pos"}}, {"text": "fine"}])
    (ann,) = workers(1)
    response = claim(ann, project.id)
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "leased" and body["task"]["data"] == {"text": "great"}
    assert body["project"] == {"id": project.id, "name": project.name, "task_type": "single_choice",
                               "instructions": "Be careful.", "lease_seconds": 60, "labels": ["pos", "neg"],
                               # The one question, as a form's would be described, and no declared display.
                               "questions": [{"name": "answer", "kind": "single_choice", "title": project.name,
                                              "required": True, "when": None, "consensus_method": None,
                                              "labels": ["pos", "neg"]}],
                               "display": []}
    assert body["task"]["rendered"] == {}
    assert "gold" not in body["task"] and "gold" not in str(body)
    assert body["reward"] == {"amount": 0, "currency": "USD"}
    again = claim(ann, project.id)
    assert again.status_code == 200 and again.json["id"] == body["id"]


def test_each_task_goes_to_exactly_overlap_distinct_workers(project_factory, fill, workers):
    project = project_factory(overlap=3)
    fill(project, 1)
    crowd = workers(4)
    leases = [claim(w, project.id) for w in crowd[:3]]
    assert [r.status_code for r in leases] == [201, 201, 201]
    assert len({r.json["task"]["id"] for r in leases}) == 1
    fourth = claim(crowd[3], project.id)
    assert fourth.status_code == 204 and fourth.headers["X-Concord-Reason"] == "no_task_available"
    for w, lease in zip(crowd, leases, strict=False):
        assert submit(w, lease.json["id"], {"choice": "pos"}).status_code == 200
    assert claim(crowd[3], project.id).status_code == 204


def test_submit_validates_is_idempotent_and_refuses_a_different_answer(project_factory, fill, workers, login_as,
                                                                        manager):
    project = project_factory(overlap=1)
    fill(project, 1)
    (ann,) = workers(1)
    lease = claim(ann, project.id).json
    bad = submit(ann, lease["id"], {"choice": "maybe"})
    assert bad.status_code == 422 and "answer.choice" in bad.json["error"]["details"]["fields"]
    first = submit(ann, lease["id"], {"choice": "neg"}, active_seconds=12)
    assert first.status_code == 200 and first.json["status"] == "submitted"
    again = submit(ann, lease["id"], {"choice": "neg"}, active_seconds=12)
    assert again.status_code == 200 and again.json == first.json
    other = submit(ann, lease["id"], {"choice": "pos"})
    assert other.status_code == 409 and other.json["error"]["code"] == "already_submitted"
    task = login_as(manager).get(f"/api/v1/tasks/{lease['task']['id']}").json
    assert task["status"] == "complete" and task["answer_count"] == 1
    assert [(a["answer"], a["active_seconds"]) for a in task["answers"]] == [({"choice": "neg"}, 12)]
    assert task["answers"][0]["worker_id"] == lease["worker_id"]


def test_only_the_assignments_worker_may_touch_it(project_factory, fill, workers, login_as, manager):
    project = project_factory()
    fill(project, 1)
    owner, other = workers(2)
    lease = claim(owner, project.id).json
    for client in (other, login_as(manager)):
        assert submit(client, lease["id"], {"choice": "pos"}).status_code in (403, 404)
        assert client.post(f"/api/v1/assignments/{lease['id']}/release", json={}).status_code in (403, 404)
    assert submit(other, lease["id"], {"choice": "pos"}).status_code == 404
    assert other.get(f"/api/v1/assignments/{lease['id']}").status_code == 404


def test_release_gives_the_task_to_someone_else_but_never_back(project_factory, fill, workers):
    project = project_factory(overlap=1)
    fill(project, 2)
    a, b = workers(2)
    first = claim(a, project.id).json
    released = a.post(f"/api/v1/assignments/{first['id']}/release", json={"reason": "unclear"})
    assert released.status_code == 200 and released.json["status"] == "released"
    assert released.json["release_reason"] == "unclear"
    assert a.post(f"/api/v1/assignments/{first['id']}/release", json={}).status_code == 200
    assert submit(a, first["id"], {"choice": "pos"}).status_code == 409
    assert claim(b, project.id).json["task"]["id"] == first["task"]["id"]
    assert claim(a, project.id).json["task"]["id"] != first["task"]["id"]


def test_an_expired_lease_frees_its_slot_at_once(project_factory, fill, workers, later):
    project = project_factory(overlap=1, lease_seconds=5)
    fill(project, 1)
    a, b = workers(2)
    lease = claim(a, project.id).json
    assert claim(b, project.id).status_code == 204
    later(6)
    taken = claim(b, project.id)
    assert taken.status_code == 201 and taken.json["task"]["id"] == lease["task"]["id"]
    # The first worker never gets that task again, and its late answer would over-fill it.
    assert claim(a, project.id).status_code == 204
    assert submit(b, taken.json["id"], {"choice": "pos"}).status_code == 200
    late = submit(a, lease["id"], {"choice": "neg"})
    assert late.status_code == 409 and late.json["error"]["code"] == "lease_expired"


def test_a_late_answer_is_kept_when_the_task_still_needs_it(project_factory, fill, workers, later, login_as,
                                                             manager):
    project = project_factory(overlap=2, lease_seconds=5)
    fill(project, 1)
    (a,) = workers(1)
    lease = claim(a, project.id).json
    later(60)
    assert assignment_service.expire_leases() == 1
    accepted = submit(a, lease["id"], {"choice": "pos"})
    assert accepted.status_code == 200
    task = login_as(manager).get(f"/api/v1/tasks/{lease['task']['id']}").json
    assert task["answer_count"] == 1 and task["leased_count"] == 0


def test_batches_by_priority_then_age_and_paused_batches_are_skipped(project_factory, fill, workers, login_as,
                                                                      manager):
    project = project_factory(overlap=1, max_active_leases=10)
    first = fill(project, 2).batches[0]
    second = fill(project, 2).batches[0]
    (ann,) = workers(1)
    mgr = login_as(manager)
    assert claim(ann, project.id).json["batch_id"] == first.id
    mgr.patch(f"/api/v1/batches/{second.id}", json={"priority": 10})
    assert claim(ann, project.id).json["batch_id"] == second.id
    mgr.patch(f"/api/v1/batches/{second.id}", json={"status": "paused"})
    assert claim(ann, project.id).json["batch_id"] == first.id
    assert claim(ann, project.id).status_code == 204  # first batch used up, second paused


def test_tasks_that_have_answers_come_first(project_factory, fill, workers):
    project = project_factory(overlap=2)
    fill(project, 5)
    a, b, c = workers(3)
    # a takes and releases task 1, b answers task 2 only after a moved on.
    t1 = claim(a, project.id).json
    a.post(f"/api/v1/assignments/{t1['id']}/release", json={})
    t2 = claim(a, project.id).json
    submit(a, t2["id"], {"choice": "pos"})
    # task 1 (no answers) comes before in order, but task 2 has an answer and is finished first.
    assert claim(b, project.id).json["task"]["id"] == t2["task"]["id"]
    assert claim(c, project.id).json["task"]["id"] == t1["task"]["id"]


def test_max_active_leases_bounds_what_a_worker_holds(project_factory, fill, workers):
    project = project_factory(overlap=1, max_active_leases=2)
    fill(project, 5)
    (ann,) = workers(1)
    one, two, three = (claim(ann, project.id) for _ in range(3))
    assert (one.status_code, two.status_code, three.status_code) == (201, 201, 200)
    assert three.json["id"] == one.json["id"] and one.json["task"]["id"] != two.json["task"]["id"]


def test_projects_that_are_not_active_hand_out_nothing(project_factory, fill, workers, login_as, manager):
    project = project_factory()
    fill(project, 3)
    (ann,) = workers(1)
    login_as(manager).patch(f"/api/v1/projects/{project.id}", json={"status": "paused"})
    assert claim(ann, project.id).status_code == 404
    assert claim(ann, 999999).status_code == 404
    assert claim(login_as(manager), project.id).status_code == 403


def test_completion_cascades_to_batch_and_project_with_events(project_factory, fill, workers, login_as, manager):
    from sqlalchemy import select

    from backend.db import read_session
    from backend.models import Event

    project = project_factory(overlap=2)
    batches = fill(project, 3, batch_size=2).batches
    a, b = workers(2)
    for w in (a, b):
        while (r := claim(w, project.id)).status_code == 201:
            submit(w, r.json["id"], {"choice": "neu"})
    mgr = login_as(manager)
    listed = mgr.get(f"/api/v1/projects/{project.id}/batches").json["items"]
    assert [(x["completed_count"], x["completed_at"] is not None) for x in listed] == [(2, True), (1, True)]
    with read_session() as session:
        kinds = [e.kind for e in session.scalars(select(Event).where(
            Event.project_id == project.id, Event.kind.like("%.completed")).order_by(Event.id))]
    assert kinds.count("task.completed") == 3 and kinds.count("batch.completed") == 2
    assert kinds[-1] == "project.completed" and kinds.count("project.completed") == 1
    assert len(batches) == 2


def test_fractional_overlap_collects_the_expected_number_of_answers(project_factory, fill, workers, login_as,
                                                                     manager):
    project = project_factory(overlap=2.5, max_overlap=3)
    fill(project, 10)
    crowd = workers(3)
    for w in crowd:
        while (r := claim(w, project.id)).status_code == 201:
            assert submit(w, r.json["id"], {"choice": "pos"}).status_code == 200
    progress = login_as(manager).get(f"/api/v1/projects/{project.id}/progress").json
    assert progress["answers_submitted"] == progress["answers_required"] == 25
    assert progress["tasks_complete"] == progress["tasks_total"] == 10


def test_progress_reports_work_done_in_flight_and_left(project_factory, fill, workers, login_as, manager):
    project = project_factory(overlap=2, batch_size=2)
    batch = fill(project, 4).batches[0]
    a, b = workers(2)
    submit(a, claim(a, project.id).json["id"], {"choice": "pos"})
    claim(b, project.id)
    mgr = login_as(manager)
    body = mgr.get(f"/api/v1/projects/{project.id}/progress").json
    assert body["tasks_total"] == 4 and body["tasks_complete"] == 0
    assert body["answers_required"] == 8 and body["answers_submitted"] == 1 and body["answers_in_flight"] == 1
    assert body["active_workers"] == 2 and body["answers_per_hour"] == 4.0
    assert body["estimated_seconds_left"] == pytest.approx(7 / 4 * 3600)
    per_batch = mgr.get(f"/api/v1/batches/{batch.id}/progress").json
    assert per_batch["batch_id"] == batch.id and per_batch["tasks_total"] == 2
    assert login_as(manager).get("/api/v1/projects/999/progress").status_code == 404


def test_vendor_keys_route_their_own_workers(project_factory, fill, org_factory, api_key, workers):
    project = project_factory(overlap=2)
    fill(project, 1)
    vendor = api_key(organization=org_factory("Vendor"), scopes=["tasks:work", "projects:read"])
    registered = vendor.post("/api/v1/workers", json={"external_id": "w-1"})
    assert registered.status_code == 201
    assert vendor.post("/api/v1/workers", json={"external_id": "w-1"}).status_code == 200
    as_w1 = {"X-Concord-Worker": "w-1"}
    lease = claim(vendor, project.id, headers=as_w1)
    assert lease.status_code == 201 and lease.json["worker_id"] == registered.json["id"]
    assert claim(vendor, project.id, headers=as_w1).json["id"] == lease.json["id"]
    # Another vendor worker (registered on first use) gets the same task: they are distinct workers.
    second = claim(vendor, project.id, headers={"X-Concord-Worker": "w-2"})
    assert second.status_code == 201 and second.json["task"]["id"] == lease.json["task"]["id"]
    assert claim(vendor, project.id).status_code == 422  # a vendor key must say which worker
    done = vendor.post(f"/api/v1/assignments/{lease.json['id']}/submit", json={"answer": {"choice": "pos"}})
    assert done.status_code == 200
    (ann,) = workers(1)
    assert claim(ann, project.id).status_code == 204
    other_vendor = api_key(organization=org_factory("Other"), scopes=["tasks:work"])
    assert other_vendor.post(f"/api/v1/assignments/{second.json['id']}/submit",
                             json={"answer": {"choice": "pos"}}).status_code == 404
    no_scope = api_key(organization=org_factory("NoScope"), scopes=["projects:read"])
    assert claim(no_scope, project.id, headers=as_w1).status_code == 403


def test_expire_leases_job_marks_and_frees(project_factory, fill, workers, later, login_as, manager):
    project = project_factory(overlap=1, lease_seconds=5)
    fill(project, 2)
    a, b = workers(2)
    claim(a, project.id)
    claim(b, project.id)
    assert assignment_service.expire_leases() == 0
    later(10)
    assert assignment_service.expire_leases() == 2
    body = login_as(manager).get(f"/api/v1/projects/{project.id}/progress").json
    assert body["answers_in_flight"] == 0
