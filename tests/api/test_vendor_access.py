"""Vendor-grade access: rate limits, key rotation, the audit log, idempotent creation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.models import utcnow
from backend.services import accounts


@pytest.fixture
def low_limits(app, monkeypatch):
    settings = app.config["CONCORD_SETTINGS"]
    monkeypatch.setitem(app.config, "CONCORD_SETTINGS",
                        settings.with_overrides(api_rate_limit="5 per minute", token_rate_limit="2 per minute"))


def test_api_calls_are_limited_per_key_with_headers_and_a_429(low_limits, api_key, manager):
    first, second = api_key(user=manager), api_key(user=manager)
    answers = [first.get("/api/v1/projects") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[0].headers["X-RateLimit-Limit"] == "5" and answers[0].headers["X-RateLimit-Remaining"] == "4"
    limited = answers[-1]
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.json["error"]["code"] == "rate_limited"
    # Another key of the same user has its own budget.
    assert second.get("/api/v1/projects").status_code == 200


def test_token_creation_is_limited_much_more_tightly(low_limits, login_as, manager):
    client = login_as(manager)
    codes = [client.post("/api/v1/tokens", json={"name": f"t{i}"}).status_code for i in range(3)]
    assert codes == [201, 201, 429]


def test_rotation_gives_a_new_secret_and_keeps_the_old_one_for_the_grace_period(app, login_as, manager,
                                                                                monkeypatch):
    client = login_as(manager)
    created = client.post("/api/v1/tokens", json={"name": "vendor", "organization": True,
                                                  "scopes": ["projects:read"]}).json
    old = {"Authorization": f"Bearer {created['secret']}"}
    c = app.test_client()
    assert c.get("/api/v1/projects", headers=old).status_code == 200
    rotated = client.post(f"/api/v1/tokens/{created['id']}/rotate", json={"grace_seconds": 3600})
    assert rotated.status_code == 200 and rotated.json["id"] == created["id"]
    new = {"Authorization": f"Bearer {rotated.json['secret']}"}
    assert rotated.json["secret"] != created["secret"] and rotated.json["scopes"] == ["projects:read"]
    assert c.get("/api/v1/projects", headers=new).status_code == 200
    assert c.get("/api/v1/projects", headers=old).status_code == 200  # within the grace period
    real = utcnow
    monkeypatch.setattr(accounts, "utcnow", lambda: real() + timedelta(seconds=3601))
    assert c.get("/api/v1/projects", headers=old).status_code == 401
    assert c.get("/api/v1/projects", headers=new).status_code == 200
    # A rotation without grace retires the old secret at once.
    monkeypatch.setattr(accounts, "utcnow", real)
    again = client.post(f"/api/v1/tokens/{created['id']}/rotate", json={"grace_seconds": 0}).json
    assert c.get("/api/v1/projects", headers=new).status_code == 401
    listed = {t["id"]: t for t in client.get("/api/v1/tokens").json["items"]}
    assert listed[created["id"]]["rotated_at"] and listed[created["id"]]["last_used_at"]
    assert c.get("/api/v1/projects", headers={"Authorization": f"Bearer {again['secret']}"}).status_code == 200


def test_rotating_someone_elses_token_is_404(login_as, user_factory, manager):
    mine = login_as(manager).post("/api/v1/tokens", json={"name": "x"}).json
    assert login_as(user_factory("manager")).post(f"/api/v1/tokens/{mine['id']}/rotate", json={}).status_code == 404


def test_writes_are_audited_per_key(api_key, login_as, manager, org_factory):
    org = accounts.get_user(user_id=manager.id).organization
    key = api_key(organization=org, scopes=["projects:read", "projects:write"])
    made = key.post("/api/v1/projects", json={"name": "Audited", "task_type": "single_choice",
                                              "labels": ["a", "b"]})
    assert made.status_code == 201
    key.patch(f"/api/v1/projects/{made.json['id']}", json={"name": "Renamed"})
    key.post("/api/v1/projects", json={"name": ""})  # refused: not a write that happened
    records = login_as(manager).get("/api/v1/audit?kind=api.write").json["items"]
    by_key = [r for r in records if r["actor"].startswith("token:")]
    assert [(r["details"]["method"], r["details"]["status"]) for r in by_key] == [("POST", 201), ("PATCH", 200)]
    actor = by_key[0]["actor"]
    assert login_as(manager).get(f"/api/v1/audit?actor={actor}").json["items"] == by_key
    # Another organization sees none of it.
    other = api_key(organization=org_factory(), scopes=["projects:read"])
    assert other.get("/api/v1/audit").json["items"] == []


def test_creating_posts_replay_with_the_same_idempotency_key(login_as, manager):
    client = login_as(manager)
    body = {"name": "Once", "task_type": "single_choice", "labels": ["a", "b"]}
    first = client.post("/api/v1/projects", json=body, headers={"Idempotency-Key": "create-once"})
    again = client.post("/api/v1/projects", json=body, headers={"Idempotency-Key": "create-once"})
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert len([p for p in client.get("/api/v1/projects").json["items"] if p["name"] == "Once"]) == 1
    other = client.post("/api/v1/projects", json={**body, "name": "Twice"}, headers={"Idempotency-Key": "create-once"})
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    # A refused request frees nothing and is replayed as refused.
    bad = client.post("/api/v1/projects", json={"name": "x", "task_type": "nope"}, headers={"Idempotency-Key": "k2"})
    assert bad.status_code == 422
