"""What one organization can learn about another's workers and projects."""

from backend.services import datasets, workers
from tests.conftest import principal_of

# Owner's business: budgets, pay rules, review and gold settings, qualification, consensus.
MANAGER_ONLY = ("budget_amount", "auto_approve_hours", "auto_approve_consensus", "auto_reject_suspended",
                "rejection_window_hours", "min_hourly_rate", "fair_pay_auto_apply", "gold_reward_amount",
                "gold_ratio", "min_gold_accuracy", "min_gold_answers", "rating_tolerance", "agreement_threshold",
                "qualification", "consensus_method", "max_overlap", "batch_size", "overlap")


def test_manager_cannot_probe_other_organizations_worker_ids_through_a_group_update(
        manager, login_as, org_factory, user_factory):
    other = org_factory()
    vendor_worker, _ = workers.register_vendor_worker(organization_id=other.id, external_id="theirs")
    their_annotator = user_factory("annotator", organization=other)
    their_annotator_worker = login_as(their_annotator).get("/api/v1/me").json["worker_id"]
    mgr = login_as(manager)
    missing = mgr.put("/api/v1/worker-groups/probe", json={"worker_ids": [987654321]})
    assert missing.status_code == 422
    for foreign in (vendor_worker.id, their_annotator_worker):
        probed = mgr.put("/api/v1/worker-groups/probe", json={"worker_ids": [foreign]})
        assert probed.status_code == missing.status_code
        assert probed.json["error"]["code"] == missing.json["error"]["code"]
        assert probed.json["error"]["message"] == missing.json["error"]["message"].replace("987654321", str(foreign))
    # Nothing was stored; the organization's own crowd of annotators can still be grouped.
    assert mgr.get("/api/v1/worker-groups/probe").json["worker_ids"] == []
    crowd = login_as(user_factory("annotator")).get("/api/v1/me").json["worker_id"]
    assert mgr.put("/api/v1/worker-groups/probe", json={"worker_ids": [crowd]}).status_code == 200


def test_annotator_cannot_read_budget_pay_and_review_settings_of_a_project(
        project_factory, manager, user_factory, api_key, org_factory):
    project = project_factory(overlap=2, reward={"amount": 7, "currency": "USD"}, budget_amount=5000,
                              auto_approve_hours=48, min_hourly_rate=900, fair_pay_auto_apply=True,
                              auto_reject_suspended=True, gold_reward_amount=1, gold_ratio=0.1,
                              min_gold_accuracy=0.8, rejection_window_hours=24, auto_approve_consensus=True)
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "t"}])
    annotator = api_key(user=user_factory("annotator"))
    vendor = api_key(organization=org_factory(), scopes=["tasks:work", "projects:read"])
    for caller in (annotator, vendor):
        one = caller.get(f"/api/v1/projects/{project.id}")
        assert one.status_code == 200
        listed = [p for p in caller.get("/api/v1/projects").json["items"] if p["id"] == project.id]
        assert len(listed) == 1
        for shown in (one.json, listed[0]):
            assert not set(MANAGER_ONLY) & set(shown), set(MANAGER_ONLY) & set(shown)
            # What it needs to label and what it earns is there.
            assert shown["labels"] == ["pos", "neg", "neu"] and shown["reward"] == {"amount": 7, "currency": "USD"}
    # The owner still sees everything.
    owner = api_key(user=manager).get(f"/api/v1/projects/{project.id}").json
    assert owner["budget_amount"] == 5000 and owner["min_hourly_rate"] == 900
