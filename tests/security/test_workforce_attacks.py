"""A suspended worker, and a vendor key minting workers: what they try, and what holds."""

from datetime import timedelta

from sqlalchemy import func, select, update

from backend.db import read_session, unit_of_work
from backend.models import Assignment, Project, Task, Worker
from backend.services import datasets
from tests.conftest import principal_of


def _claim(client, project_id, **kwargs):
    return client.post(f"/api/v1/projects/{project_id}/assignments", **kwargs)


def _submit(client, lease_id, choice="pos", **kwargs):
    return client.post(f"/api/v1/assignments/{lease_id}/submit", json={"answer": {"choice": choice}}, **kwargs)


def _task(task_id):
    with read_session() as session:
        return session.get(Task, task_id)


def _stored_answer(assignment_id):
    with read_session() as session:
        return session.get(Assignment, assignment_id)


def test_suspended_worker_cannot_submit_held_lease(project_factory, manager, user_factory, api_key, login_as):
    project = project_factory(overlap=1, reward={"amount": 5, "currency": "USD"}, budget_amount=100)
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "only"}])
    cheat, honest = (api_key(user=user_factory("annotator")) for _ in range(2))
    held = _claim(cheat, project.id).json
    # The one slot is held: nobody else gets the task.
    assert _claim(honest, project.id).status_code == 204
    mgr = login_as(manager)
    done = mgr.post(f"/api/v1/projects/{project.id}/workers/{held['worker_id']}/suspend", json={"reason": "Bot"})
    assert done.status_code == 200
    # The lease ended at once: its slot and its budget are free, and the task goes to someone else.
    assert _task(held["task"]["id"]).leased_count == 0
    with read_session() as session:
        assert session.get(Project, project.id).committed_amount == 0
    refused = _submit(cheat, held["id"])
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "worker_suspended" and refused.json["error"]["details"]["reason"] == "Bot"
    stored = _stored_answer(held["id"])
    assert stored.answer is None and stored.status == "released"
    other = _claim(honest, project.id)
    assert other.status_code == 201 and other.json["task"]["id"] == held["task"]["id"]
    assert _submit(honest, other.json["id"]).status_code == 200
    task = _task(held["task"]["id"])
    assert task.answer_count == 1 and task.leased_count == 0


def test_suspended_worker_cannot_submit_an_expired_lease_late(project_factory, manager, user_factory, api_key,
                                                              login_as):
    project = project_factory(overlap=2)
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "t"}])
    cheat = api_key(user=user_factory("annotator"))
    first = _claim(cheat, project.id).json
    assert _submit(cheat, first["id"]).status_code == 200
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "u"}])
    late = _claim(cheat, project.id).json
    with unit_of_work() as session:
        # The lease ran out (and was swept) before the suspension; the task still wants answers.
        row = session.get(Assignment, late["id"])
        session.execute(update(Assignment).where(Assignment.id == late["id"]).values(
            status="expired", expires_at=row.leased_at + timedelta(seconds=1), ended_at=row.leased_at))
        session.execute(update(Task).where(Task.id == row.task_id).values(leased_count=Task.leased_count - 1))
    mgr = login_as(manager)
    assert mgr.post(f"/api/v1/projects/{project.id}/workers/{first['worker_id']}/suspend",
                    json={"reason": "Spam"}).status_code == 200
    refused = _submit(cheat, late["id"])
    assert refused.status_code == 403 and refused.json["error"]["code"] == "worker_suspended"
    assert _stored_answer(late["id"]).answer is None and _task(late["task"]["id"]).answer_count == 0
    # Its answer given before the suspension replays, and stays out of consensus (flagged).
    assert _submit(cheat, first["id"]).status_code == 200
    assert _stored_answer(first["id"]).flagged


def test_worker_suspended_by_gold_cannot_submit_its_other_lease(project_factory, manager, user_factory, api_key):
    project = project_factory(overlap=1, gold_ratio=0.5, min_gold_accuracy=0.9, min_gold_answers=1,
                              max_active_leases=2)
    datasets.import_items(principal=principal_of(manager), project_id=project.id,
                          items=[{"text": "g", "gold": {"choice": "pos"}}, {"text": "r1"}])
    cheat, honest = (api_key(user=user_factory("annotator")) for _ in range(2))
    leases = [_claim(cheat, project.id).json for _ in range(2)]
    assert len({lease["id"] for lease in leases}) == 2
    gold = next(lease for lease in leases if lease["task"]["data"]["text"] == "g")
    regular = next(lease for lease in leases if lease is not gold)
    # A wrong control answer suspends the worker; the lease it still holds ends with it.
    assert _submit(cheat, gold["id"], "neg").status_code == 200
    assert _task(regular["task"]["id"]).leased_count == 0
    refused = _submit(cheat, regular["id"])
    assert refused.status_code == 403 and refused.json["error"]["code"] == "worker_suspended"
    assert _stored_answer(regular["id"]).answer is None
    # Its slot went back to the pool: a careful worker gets that task.
    taken = {_claim(honest, project.id).json["task"]["id"] for _ in range(2)}
    assert regular["task"]["id"] in taken


def test_vendor_key_cannot_mint_unbounded_workers_with_x_concord_worker(app, monkeypatch, project_factory, manager,
                                                                         org_factory, api_key):
    monkeypatch.setitem(app.config, "CONCORD_SETTINGS",
                        app.config["CONCORD_SETTINGS"].with_overrides(max_new_workers_per_key_per_hour=3))
    project = project_factory(overlap=10)
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "t"}])
    vendor = org_factory()
    key = api_key(organization=vendor, scopes=["tasks:work", "projects:read"])
    for n in range(3):
        made = _claim(key, project.id, headers={"X-Concord-Worker": f"w{n}"})
        assert made.status_code == 201
    refused = _claim(key, project.id, headers={"X-Concord-Worker": "w-extra"})
    assert refused.status_code == 429 and refused.json["error"]["code"] == "worker_registration_limited"
    registered = key.post("/api/v1/workers", json={"external_id": "w-extra-2"})
    assert registered.status_code == 429 and registered.json["error"]["code"] == "worker_registration_limited"
    with read_session() as session:
        assert session.scalar(select(func.count(Worker.id)).where(Worker.organization_id == vendor.id)) == 3
    # Workers it already has keep working; another key of the organization has its own allowance.
    assert _claim(key, project.id, headers={"X-Concord-Worker": "w0"}).status_code == 200
    other = api_key(organization=vendor, scopes=["tasks:work", "projects:read"])
    assert _claim(other, project.id, headers={"X-Concord-Worker": "w-other"}).status_code == 201


def test_vendor_key_cannot_mint_workers_by_reading_or_submitting_assignments(project_factory, manager, org_factory,
                                                                            api_key):
    project = project_factory(overlap=2)
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "t"}])
    vendor = org_factory()
    key = api_key(organization=vendor, scopes=["tasks:work", "projects:read"])
    lease = _claim(key, project.id, headers={"X-Concord-Worker": "real"}).json
    for n, (method, path, body) in enumerate([
            ("get", f"/api/v1/assignments/{lease['id']}", None),
            ("post", f"/api/v1/assignments/{lease['id']}/submit", {"answer": {"choice": "pos"}}),
            ("post", f"/api/v1/assignments/{lease['id']}/release", {})]):
        kwargs = {"headers": {"X-Concord-Worker": f"ghost-{n}"}}
        if body is not None:
            kwargs["json"] = body
        response = getattr(key, method)(path, **kwargs)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    with read_session() as session:
        names = session.scalars(select(Worker.external_id).where(Worker.organization_id == vendor.id)).all()
    assert names == ["real"]
    assert _submit(key, lease["id"], headers={"X-Concord-Worker": "real"}).status_code == 200
