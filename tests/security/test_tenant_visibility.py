"""What one organization can learn about another's workers and projects."""

from backend.services import workers


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

