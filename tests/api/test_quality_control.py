"""Gold tasks, suspension, dynamic overlap, qualification and the agreement endpoints."""

import pytest
from sqlalchemy import select

from backend.db import read_session
from backend.models import AuditRecord, Event
from backend.services import datasets
from tests.conftest import principal_of


@pytest.fixture
def fill(manager):
    def run(project, items, batch_size=None):
        return datasets.import_items(principal=principal_of(manager), project_id=project.id, items=items,
                                     batch_size=batch_size)

    return run


@pytest.fixture
def crowd(user_factory, api_key):
    def make(n):
        return [api_key(user=user_factory("annotator")) for _ in range(n)]

    return make


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


def claim(client, project_id):
    return client.post(f"/api/v1/projects/{project_id}/assignments")


def answer(client, lease, choice):
    return client.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"choice": choice}})


def work_through(client, project_id, pick, limit=1000):
    """Claim and answer until nothing is left; returns the claimed task ids in order."""
    seen = []
    for _ in range(limit):
        r = claim(client, project_id)
        if r.status_code != 201:
            return seen, r
        seen.append(r.json["task"]["id"])
        assert answer(client, r.json, pick(r.json)).status_code == 200
    raise AssertionError("did not finish")


def test_gold_tasks_are_mixed_in_at_the_ratio_and_look_like_any_task(project_factory, fill, crowd, mgr):
    project = project_factory(overlap=1, gold_ratio=0.25, batch_size=100)
    items = [{"text": f"regular {i}"} for i in range(12)] + [
        {"text": f"control {i}", "gold": {"choice": "pos"}} for i in range(4)]
    batch = fill(project, items).batches[0]
    assert batch.gold_count == 4 and batch.task_count == 16
    (worker,) = crowd(1)
    shapes = set()
    kinds = []
    for _ in range(16):
        r = claim(worker, project.id)
        if r.status_code != 201:
            break
        shapes.add(tuple(sorted(r.json)))
        assert "gold" not in r.json["task"]
        kinds.append(r.json["task"]["data"]["text"].split()[0])
        assert answer(worker, r.json, "pos").status_code == 200
    assert len(shapes) == 1
    assert kinds.count("control") == 4 and kinds.count("regular") == 12
    # One in four: never two controls before three regular tasks came in between.
    assert kinds[:4].count("control") == 1
    body = mgr.get(f"/api/v1/projects/{project.id}/workers").json["items"][0]
    assert body["gold_answers"] == 4 and body["gold_accuracy"] == 1.0 and body["gold_claims"] == 4
    # The batch is complete although its control tasks never complete by overlap.
    listed = mgr.get(f"/api/v1/projects/{project.id}/batches").json["items"][0]
    assert listed["completed_at"] is not None and listed["completed_count"] == 12


def test_each_worker_sees_each_gold_task_once_regardless_of_overlap(project_factory, fill, crowd):
    project = project_factory(overlap=1, gold_ratio=0.5)
    fill(project, [{"text": f"r{i}"} for i in range(30)] + [{"text": "g", "gold": {"choice": "neg"}}])
    seen_gold = 0
    for worker in crowd(3):
        for _ in range(4):
            r = claim(worker, project.id)
            if r.status_code != 201:
                break
            seen_gold += r.json["task"]["data"]["text"] == "g"
            answer(worker, r.json, "neg")
    assert seen_gold == 3


def test_a_worker_failing_gold_is_suspended_flagged_audited_and_can_be_lifted(project_factory, fill, crowd, mgr):
    project = project_factory(overlap=1, gold_ratio=0.5, min_gold_accuracy=0.7, min_gold_answers=3)
    fill(project, [{"text": f"r{i}"} for i in range(20)] + [{"text": f"g{i}", "gold": {"choice": "pos"}}
                                                           for i in range(6)])
    good, bad = crowd(2)
    _, last = work_through(bad, project.id, lambda lease: "neg")
    assert last.status_code == 204 and last.headers["X-Concord-Reason"] == "suspended"
    standing = mgr.get(f"/api/v1/projects/{project.id}/workers?suspended=true").json["items"]
    assert len(standing) == 1 and standing[0]["gold_accuracy"] == 0.0 and "below" in standing[0]["suspension_reason"]
    worker_id = standing[0]["worker_id"]
    with read_session() as session:
        audit = session.scalars(select(AuditRecord).where(AuditRecord.worker_id == worker_id)).all()
        events = session.scalars(select(Event).where(Event.kind == "worker.suspended")).all()
    assert [a.kind for a in audit] == ["worker.suspended"] and len(events) == 1
    answers = [a for t in mgr.get(f"/api/v1/projects/{project.id}/tasks?limit=100").json["items"]
               for a in mgr.get(f"/api/v1/tasks/{t['id']}").json["answers"]]
    flagged = [a for a in answers if a["worker_id"] == worker_id]
    assert flagged and all(a["flagged"] for a in flagged)
    # A careful worker is unaffected.
    assert claim(good, project.id).status_code == 201
    lifted = mgr.post(f"/api/v1/projects/{project.id}/workers/{worker_id}/lift-suspension")
    assert lifted.status_code == 200 and lifted.json["suspended_at"] is None
    assert claim(bad, project.id).status_code == 201
    assert mgr.post(f"/api/v1/projects/{project.id}/workers/999999/lift-suspension").status_code == 404


def test_a_manager_suspends_a_worker_by_hand_in_a_project_without_gold(project_factory, fill, crowd, mgr):
    project = project_factory(overlap=1, reward={"amount": 2, "currency": "USD"}, auto_reject_suspended=True)
    fill(project, [{"text": f"r{i}"} for i in range(6)])
    spammer, other = crowd(2)
    lease = claim(spammer, project.id).json
    answer(spammer, lease, "pos")
    worker_id = lease["worker_id"]
    no_reason = mgr.post(f"/api/v1/projects/{project.id}/workers/{worker_id}/suspend", json={"reason": ""})
    assert no_reason.status_code == 422
    done = mgr.post(f"/api/v1/projects/{project.id}/workers/{worker_id}/suspend", json={"reason": "Copy-paste answers"})
    assert done.status_code == 200 and done.json["suspension_reason"] == "Copy-paste answers"
    refused = claim(spammer, project.id)
    assert refused.status_code == 204 and refused.headers["X-Concord-Reason"] == "suspended"
    assert refused.headers["X-Concord-Message"] == "Copy-paste answers"
    assert claim(other, project.id).status_code == 201
    # The project's rule rejected the pending answer, with the reason the worker can read.
    mine = spammer.get(f"/api/v1/assignments/{lease['id']}").json
    assert mine["review_status"] == "rejected" and mine["review_reason"] == "Copy-paste answers"
    assert mgr.post(f"/api/v1/projects/{project.id}/workers/{worker_id}/lift-suspension").status_code == 200
    assert claim(spammer, project.id).status_code == 201
    stranger = mgr.post(f"/api/v1/projects/{project.id}/workers/999999/suspend", json={"reason": "x"})
    assert stranger.status_code == 404


def test_low_agreement_grows_the_overlap_up_to_max_then_flags(project_factory, fill, crowd, mgr):
    project = project_factory(overlap=2, max_overlap=3, agreement_threshold=0.7)
    fill(project, [{"text": "contested"}, {"text": "easy"}])
    a, b, c = crowd(3)
    votes = {id(a): {"contested": "pos", "easy": "neu"}, id(b): {"contested": "neg", "easy": "neu"},
             id(c): {"contested": "neu", "easy": "neu"}}
    for worker in (a, b, c):
        work_through(worker, project.id, lambda lease, w=worker: votes[id(w)][lease["task"]["data"]["text"]])
    tasks = {t["data"]["text"]: t for t in mgr.get(f"/api/v1/projects/{project.id}/tasks").json["items"]}
    assert tasks["easy"]["required_overlap"] == 2 and tasks["easy"]["answer_count"] == 2
    assert tasks["easy"]["agreement"] == 1.0 and not tasks["easy"]["flagged"]
    assert tasks["contested"]["required_overlap"] == 3 and tasks["contested"]["answer_count"] == 3
    assert tasks["contested"]["flagged"] and tasks["contested"]["flag_reason"] == "no_agreement"
    flagged = mgr.get(f"/api/v1/projects/{project.id}/tasks?flagged=true").json["items"]
    assert [t["data"]["text"] for t in flagged] == ["contested"]
    detail = mgr.get(f"/api/v1/tasks/{tasks['contested']['id']}").json
    assert detail["agreement"] == pytest.approx(1 / 3) and len(detail["answers"]) == 3


def test_qualification_by_group_vendor_and_earlier_gold(project_factory, fill, crowd, mgr, user_factory, api_key,
                                                        org_factory):
    first = project_factory(overlap=1, gold_ratio=1.0)
    fill(first, [{"text": "g", "gold": {"choice": "pos"}}, {"text": "r"}])
    skilled, unskilled, stranger = crowd(3)
    answer(skilled, claim(skilled, first.id).json, "pos")
    answer(unskilled, claim(unskilled, first.id).json, "neg")
    gated = project_factory(overlap=3, qualification={"min_gold_accuracy": 0.8, "gold_projects": [first.id]})
    fill(gated, [{"text": "x"}])
    assert claim(skilled, gated.id).status_code == 201
    refused = claim(unskilled, gated.id)
    assert refused.status_code == 204 and refused.headers["X-Concord-Reason"] == "not_qualified"
    assert claim(stranger, gated.id).headers["X-Concord-Reason"] == "not_qualified"

    grouped = project_factory(overlap=3, qualification={"worker_groups": ["medical"]})
    fill(grouped, [{"text": "y"}])
    member_id = stranger.get("/api/v1/me").json["worker_id"]
    assert mgr.put("/api/v1/worker-groups/medical", json={"worker_ids": [member_id]}).json["worker_ids"] == [member_id]
    assert mgr.get("/api/v1/worker-groups/medical").json["worker_ids"] == [member_id]
    assert mgr.put("/api/v1/worker-groups/medical", json={"worker_ids": [987654]}).status_code == 422
    assert claim(stranger, grouped.id).status_code == 201
    assert claim(skilled, grouped.id).headers["X-Concord-Reason"] == "not_qualified"
    # A project restricted to groups is not even listed for workers outside them.
    assert skilled.get(f"/api/v1/projects/{grouped.id}").status_code == 404
    assert grouped.id not in [p["id"] for p in skilled.get("/api/v1/projects").json["items"]]
    assert stranger.get(f"/api/v1/projects/{grouped.id}").status_code == 200
    # A gold-accuracy requirement does not hide the project: the refusal says what is missing.
    assert unskilled.get(f"/api/v1/projects/{gated.id}").status_code == 200

    vendor = org_factory("Trusted vendor")
    vendor_only = project_factory(overlap=3, qualification={"vendor_organizations": [vendor.id]})
    fill(vendor_only, [{"text": "z"}])
    vendor_key = api_key(organization=vendor, scopes=["tasks:work", "projects:read"])
    ok = vendor_key.post(f"/api/v1/projects/{vendor_only.id}/assignments", headers={"X-Concord-Worker": "v1"})
    assert ok.status_code == 201
    assert claim(skilled, vendor_only.id).headers["X-Concord-Reason"] == "not_qualified"
    assert skilled.get(f"/api/v1/projects/{vendor_only.id}").status_code == 404
    assert vendor_key.get(f"/api/v1/projects/{vendor_only.id}").status_code == 200
    bad = mgr.patch(f"/api/v1/projects/{vendor_only.id}", json={"qualification": {"min_gold_accuracy": 0.5,
                                                                                  "gold_projects": [424242]}})
    assert bad.status_code == 422


def test_agreement_report_for_a_project(project_factory, fill, crowd, mgr, run_jobs):
    project = project_factory(overlap=3, labels=["pos", "neg", "neu"], batch_size=5)
    fill(project, [{"text": f"t{i}"} for i in range(10)])
    workers = crowd(3)
    # Workers agree on the first five tasks and split on the rest.
    picks = {0: ["pos", "pos", "pos"], 1: ["neg", "neg", "neg"], 2: ["pos", "neg", "neu"]}
    for index, worker in enumerate(workers):
        def pick(lease, index=index):
            n = int(lease["task"]["data"]["text"][1:])
            return picks[0 if n < 3 else 1 if n < 5 else 2][index]
        work_through(worker, project.id, pick)
    body = mgr.get(f"/api/v1/projects/{project.id}/agreement").json
    assert body["status"] == "fresh" and body["answers_counted"] == 30
    alpha = body["project"]["alpha"]
    assert alpha["level"] == "nominal" and -1 <= alpha["value"] < 1
    assert alpha["ci95"][0] <= alpha["value"] <= alpha["ci95"][1]
    assert body["project"]["fleiss_kappa"]["value"] is not None
    assert body["project"]["percent_agreement"] == pytest.approx(0.5)
    first, second = body["batches"]
    assert first["alpha"]["value"] == pytest.approx(1.0) and second["alpha"]["value"] < 0.1
    assert [label["label"] for label in body["labels"]] == ["pos", "neg", "neu"]
    assert len(body["daily"]) == 1 and body["daily"][0]["answers"] == 30
    per_worker = mgr.get(f"/api/v1/projects/{project.id}/workers/agreement").json
    assert len(per_worker["workers"]) == 3 and len(per_worker["pairwise_kappa"]["matrix"]) == 3
    refresh = mgr.post(f"/api/v1/projects/{project.id}/agreement/refresh")
    assert refresh.status_code == 202
    run_jobs()
    assert mgr.get(f"/api/v1/jobs/{refresh.json['job']['id']}").json["status"] == "finished"


def test_agreement_needs_results_scope_and_tenancy(project_factory, login_as, user_factory, api_key, manager):
    project = project_factory()
    assert login_as(user_factory("manager")).get(f"/api/v1/projects/{project.id}/agreement").status_code == 404
    assert login_as(user_factory("annotator")).get(f"/api/v1/projects/{project.id}/agreement").status_code == 403
    reader = api_key(user=manager, scopes=["projects:read"])
    assert reader.get(f"/api/v1/projects/{project.id}/agreement").status_code == 403


def test_agreement_for_multi_choice_and_free_text(project_factory, fill, crowd, mgr):
    multi = project_factory(task_type="multi_choice", labels=["red", "green", "blue"], overlap=2)
    fill(multi, [{"text": "a"}, {"text": "b"}])
    a, b = crowd(2)
    for worker, sets in ((a, {"a": ["red"], "b": ["green", "blue"]}), (b, {"a": ["red"], "b": ["blue"]})):
        while (r := claim(worker, multi.id)).status_code == 201:
            worker.post(f"/api/v1/assignments/{r.json['id']}/submit",
                        json={"answer": {"choices": sets[r.json["task"]["data"]["text"]]}})
    body = mgr.get(f"/api/v1/projects/{multi.id}/agreement").json
    assert body["project"]["mean_jaccard"] == pytest.approx((1 + 0.5) / 2)
    assert [label["label"] for label in body["labels"]] == ["red", "green", "blue"]

    text = project_factory(task_type="free_text", labels=None, overlap=2)
    fill(text, [{"text": "x"}])
    for worker, said in ((a, "a cat"), (b, "a cat!")):
        r = claim(worker, text.id)
        worker.post(f"/api/v1/assignments/{r.json['id']}/submit", json={"answer": {"text": said}})
    body = mgr.get(f"/api/v1/projects/{text.id}/agreement").json
    assert body["project"]["mean_task_agreement"] == pytest.approx(1 - 1 / 6)
    assert body["project"]["alpha"] is None
