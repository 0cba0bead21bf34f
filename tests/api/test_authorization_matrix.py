"""Every endpoint x every kind of caller: the expected status, and nothing of another tenant leaks.

Callers: anonymous; the annotator who did the work; another annotator; a manager of the
organization; a manager of another organization; the organization's key with every scope, and
with every scope but the one the endpoint needs; another organization's requester key (every
scope but tasks:work). A table row per endpoint; a new endpoint without a row fails the test.
"""

from __future__ import annotations

import json

import pytest

from backend.db import unit_of_work
from backend.models import SCOPES, WebhookDelivery, utcnow
from backend.services import accounts, datasets, payouts, projects, workforce
from tests.conftest import principal_of

ROLES = ("anon", "ann", "ann2", "mgr", "mgr_b", "key", "key_noscope", "key_b")
SECRET = "SECRET-A"  # in every name, description and external id of organization A's data
OK = "ok"

# method, path (with {placeholders}), body, expectations per role in ROLES order.
# "ok" = any 2xx; "once": the first allowed caller changes the state, later ones may see 404/409.
MATRIX = [
    ("GET", "/assignments/{done}", None, "401 ok 404 403 403 404 403 403"),
    ("POST", "/assignments/{done}/approve", {}, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/assignments/{done}/reject", {"reason": "no"}, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/assignments/{leased}/release", {}, "401 ok 404 403 403 404 403 403"),
    ("POST", "/assignments/{leased}/submit", {"answer": {"choice": "a"}}, "401 ok 404 403 403 404 403 403"),
    ("GET", "/audit", None, "401 ok ok ok ok ok 403 ok"),
    ("POST", "/auth/logout", None, "401 ok ok ok ok ok ok ok"),
    ("GET", "/batches/{batch}", None, "401 404 404 ok 404 ok 403 404"),
    ("PATCH", "/batches/{batch}", {"priority": 3}, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/batches/{batch}/progress", None, "401 404 404 ok 404 ok 403 404"),
    ("GET", "/batches/{batch}/tasks", None, "401 404 404 ok 404 ok 403 404"),
    ("GET", "/datasets/{dataset}", None, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/exports/{export}", None, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/exports/{export}/download", None, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/jobs", None, "401 ok ok ok ok ok ok ok"),
    ("GET", "/jobs/{job}", None, "401 404 404 ok 404 ok ok 404"),
    ("GET", "/me", None, "401 ok ok ok ok ok ok ok"),
    # Workers' own assignments: the organization's key lists those of the vendor worker it names.
    ("GET", "/me/assignments", None, "401 ok ok 403 403 ok 403 403"),
    ("GET", "/me/earnings", None, "401 ok ok 403 403 403 403 403"),
    # Only a browser session changes a password; every caller here holds a token.
    ("POST", "/me/password", {"current_password": "x", "new_password": "long enough"},
     "401 403 403 403 403 403 403 403"),
    ("GET", "/me/stats", None, "401 ok ok 403 403 403 403 403"),
    ("POST", "/payouts", {"currency": "USD"}, "401 403 403 ok ok ok 403 ok"),
    ("GET", "/payouts", None, "401 ok ok ok ok ok 403 ok"),
    ("GET", "/payouts/{payout}", None, "401 404 404 ok 404 ok 403 404"),
    ("POST", "/payouts/{payout}/failed", {}, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/payouts/{payout}/file", None, "401 404 404 ok 404 ok 403 404"),
    ("POST", "/payouts/{payout}/paid", {}, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/projects", {"name": "New", "task_type": "single_choice", "labels": ["a", "b"]},
     "401 403 403 ok ok ok 403 ok"),
    ("GET", "/projects", None, "401 ok ok ok ok ok 403 ok"),
    ("GET", "/projects/{project}", None, "401 ok ok ok 404 ok 403 404"),
    ("PATCH", "/projects/{project}", {"instructions": "Read twice."}, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/agreement", None, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/projects/{project}/agreement/refresh", None, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/projects/{project}/assignments", None, "401 ok ok 403 403 ok 403 403"),
    ("GET", "/projects/{project}/batches", None, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/projects/{project}/consensus", {}, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/consensus/runs", None, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/cost", None, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/projects/{project}/datasets", {"items": [{"text": "more"}]}, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/datasets", None, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/projects/{project}/exports", {"format": "jsonl"}, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/exports", None, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/projects/{project}/fair-pay", None, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/fair-pay", None, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/projects/{project}/fair-pay/confirm", {}, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/progress", None, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/results", None, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/projects/{project}/reviews", {"action": "approve"}, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/reviews", None, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/tasks", None, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/workers", None, "401 403 403 ok 404 ok 403 404"),
    # The matrix project asks one single-choice question, which ranks nothing.
    ("GET", "/projects/{project}/questions/answer/leaderboard", None, "401 403 403 422 404 422 403 404"),
    ("POST", "/projects/{project}/workers/{worker}/lift-suspension", None, "401 403 403 ok 404 ok 403 404"),
    ("POST", "/projects/{project}/workers/{worker}/suspend", {"reason": "spam"}, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/workers/agreement", None, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/projects/{project}/workload", None, "401 403 403 ok 404 ok 403 404"),
    ("GET", "/tasks/{task}", None, "401 404 404 ok 404 ok 403 404"),
    ("POST", "/tokens", {"name": "another"}, "401 ok ok ok ok 403 403 403"),
    ("GET", "/tokens", None, "401 ok ok ok ok ok ok ok"),
    ("DELETE", "/tokens/{token}", None, "401 404 404 ok 404 404 404 404"),
    ("POST", "/tokens/{token}/rotate", {}, "401 404 404 ok 404 404 404 404"),
    ("POST", "/webhooks", {"url": "http://127.0.0.2:9/hook", "events": ["export.ready"]},
     "401 403 403 ok ok ok 403 ok"),
    ("GET", "/webhooks", None, "401 ok ok ok ok ok 403 ok"),
    ("GET", "/webhooks/{webhook}", None, "401 404 404 ok 404 ok 403 404"),
    ("PATCH", "/webhooks/{webhook}", {"active": False}, "401 403 403 ok 404 ok 403 404"),
    ("DELETE", "/webhooks/{webhook}", None, "401 403 403 ok 404 once 403 404"),
    ("GET", "/webhooks/{webhook}/deliveries", None, "401 404 404 ok 404 ok 403 404"),
    ("POST", "/webhooks/{webhook}/deliveries/{delivery}/redeliver", None, "401 403 403 ok 404 ok 403 404"),
    ("PUT", "/worker-groups/core", {"worker_ids": []}, "401 403 403 ok ok ok 403 ok"),
    ("GET", "/worker-groups/core", None, "401 403 403 ok ok ok 403 ok"),
    ("POST", "/workers", {"external_id": "vendor-worker-2"}, "401 403 403 403 403 ok 403 403"),
    ("POST", "/workers/{worker}/adjustments", {"amount": -1, "currency": "USD", "reason": "fix"},
     "401 403 403 ok 404 ok 403 404"),
    ("POST", "/workers/{worker}/bonuses", {"amount": 5, "currency": "USD", "reason": "thanks"},
     "401 403 403 ok 404 ok 403 404"),
    ("GET", "/workers/{worker}/earnings", None, "401 404 404 ok 404 ok 403 404"),
    ("GET", "/workers/{worker}/stats", None, "401 404 404 ok 404 ok 403 404"),
]
# Public by design: logging in is how a caller becomes one; the document describes the API.
PUBLIC = {("POST", "/api/v1/auth/login"), ("GET", "/api/v1/openapi.json")}


def _token(**kwargs) -> dict[str, str]:
    _token_row, secret = accounts.create_token(name="matrix", **kwargs)
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def world(app, manager, user_factory, org_factory, run_jobs):
    """Organization A's project with work in every state, and a caller of every kind."""
    principal = principal_of(manager)
    org_a = principal.organization_id
    project = projects.create_project(principal=principal, fields={
        "name": f"{SECRET} project", "task_type": "single_choice", "labels": ["a", "b"], "overlap": 2,
        "status": "active", "min_hourly_rate": 600, "reward": {"amount": 3, "currency": "USD"},
        "min_gold_accuracy": 0.1})  # quality control on: workers have a standing in the project
    dataset = datasets.import_items(principal=principal, project_id=project.id, items=[
        {"external_id": f"{SECRET}-{i}", "text": f"{SECRET} text {i}"} for i in range(4)])
    ann_user, ann2_user = user_factory("annotator"), user_factory("annotator")
    client = app.test_client()
    headers = {
        "anon": {}, "ann": _token(user_id=ann_user.id), "ann2": _token(user_id=ann2_user.id),
        "mgr": _token(user_id=manager.id), "mgr_b": _token(user_id=user_factory("manager").id),
        "key": _token(organization_id=org_a, scopes=list(SCOPES)),
        "key_b": _token(organization_id=org_factory().id, scopes=[s for s in SCOPES if s != "tasks:work"]),
    }
    done = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers["ann"]).json
    client.post(f"/api/v1/assignments/{done['id']}/submit", json={"answer": {"choice": "a"}}, headers=headers["ann"])
    leased = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers["ann"]).json
    export = client.post(f"/api/v1/projects/{project.id}/exports", json={"format": "jsonl"},
                         headers=headers["mgr"]).json
    run_jobs()
    payout, _ = payouts.create_payout(principal=principal, currency="USD")
    hook = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.2:9/hook", "events": ["export.ready"],
                                                 "description": f"{SECRET} hook"}, headers=headers["mgr"]).json
    with unit_of_work() as session:
        delivery = WebhookDelivery(webhook_id=hook["id"], event="export.ready", payload={"secret": SECRET},
                                   status="failed", attempts=8, created_at=utcnow())
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    workforce.set_group(principal=principal, name="core", worker_ids=[done["worker_id"]])
    mgr_token, _secret = accounts.create_token(name=f"{SECRET} token", user_id=manager.id)
    ids = {"project": project.id, "batch": dataset.batches[0].id, "dataset": dataset.id, "task": done["task"]["id"],
           "done": done["id"], "leased": leased["id"], "export": export["export"]["id"], "job": export["job"]["id"],
           "payout": payout.id, "webhook": hook["id"], "delivery": delivery_id, "worker": done["worker_id"],
           "token": mgr_token.id}
    headers["org_a"] = org_a
    return client, headers, ids


def _expectations(row: str) -> dict[str, str]:
    return dict(zip(ROLES, row.split(), strict=True))


def _scope_of(app, method: str, path: str) -> str | None:
    adapter = app.url_map.bind("localhost")
    endpoint, _args = adapter.match(path, method=method)
    return getattr(app.view_functions[endpoint], "_concord_scope", None)


def test_the_matrix_covers_every_endpoint(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    covered = set()
    adapter = app.url_map.bind("localhost")
    for method, path, _body, _row in MATRIX:
        concrete = path.format(**{k: 1 for k in ("done", "leased", "batch", "dataset", "export", "job", "payout",
                                                 "project", "worker", "task", "token", "webhook", "delivery")})
        rule, _args = adapter.match("/api/v1" + concrete, method=method, return_rule=True)
        covered.add((method, rule.rule))
    assert routes - covered - PUBLIC == set()


@pytest.mark.parametrize(("method", "path", "body", "row"), MATRIX, ids=[f"{m} {p}" for m, p, _b, _r in MATRIX])
def test_every_caller_gets_the_expected_status_and_nothing_foreign(app, world, method, path, body, row):
    client, headers, ids = world
    url = "/api/v1" + path.format(**ids)
    expected = _expectations(row)
    scope = _scope_of(app, method, url)
    headers["key_noscope"] = _token(organization_id=headers["org_a"], scopes=[s for s in SCOPES if s != scope]) \
        if scope else headers["key"]
    seen = {}
    for role in ROLES:
        sent = dict(headers[role])
        if role.startswith("key") and "/assignments" in path:
            sent["X-Concord-Worker"] = "vendor-worker-1"  # organization keys work through their own workers
        kwargs = {"headers": sent}
        if body is not None:
            kwargs["json"] = body
        response = client.open(url, method=method, **kwargs)
        seen[role] = response.status_code
        want = expected[role]
        if want == OK:
            assert 200 <= response.status_code < 300, (role, response.status_code, response.get_data(as_text=True))
        elif want == "once":
            assert response.status_code in (200, 204, 404, 409), (role, response.status_code)
        else:
            assert response.status_code == int(want), (role, response.status_code, response.get_data(as_text=True))
        if response.status_code >= 400:
            assert set(response.json) == {"error"}, (role, response.json)  # the one error format
        if role in ("mgr_b", "key_b", "anon"):
            # Another tenant never sees organization A's data, not even its ids. (Annotators do see the
            # active projects they may work on: the crowd is shared.)
            text = response.get_data(as_text=True)
            assert SECRET not in text, (role, text[:300])
            if role in ("mgr_b", "key_b") and response.is_json and method == "GET":
                _assert_no_foreign_ids(response.json, ids, role)


def _assert_no_foreign_ids(body, ids, role) -> None:
    """Lists answered to another tenant hold none of A's projects, tasks, payouts or webhooks."""
    items = body.get("items") if isinstance(body, dict) else None
    for item in items or []:
        for key, own in (("id", None), ("project_id", ids["project"]), ("task_id", ids["task"])):
            if key in item and own is not None:
                assert item[key] != own, (role, json.dumps(item)[:200])
        if "organization_id" in item:
            assert item.get("name", "") != f"{SECRET} project", role
