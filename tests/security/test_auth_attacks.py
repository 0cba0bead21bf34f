"""Attacks on credentials: keys that grant themselves more, money set without payments:write,
login limits dodged by a header, and sessions that outlive their logout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.services import accounts


def _org_key(org, scopes):
    _token, secret = accounts.create_token(name="vendor", organization_id=org.id, scopes=scopes)
    return _token, secret


def _bearer(client, secret):
    from tests.conftest import AuthedClient

    return AuthedClient(client, {"Authorization": f"Bearer {secret}"})


# --- 1. rotation and revocation -------------------------------------------------------------


def test_read_only_token_cannot_rotate_the_organization_key_and_pay_with_it(client, user_factory, api_key):
    manager = user_factory("manager")
    org_key, _ = _org_key(manager.organization, ["projects:read", "payments:read", "payments:write"])
    reader = api_key(user=manager, scopes=["projects:read"])

    response = reader.post(f"/api/v1/tokens/{org_key.id}/rotate", json={"grace_seconds": 0})
    assert response.status_code == 403, response.json
    assert response.json["error"]["code"] == "scope_not_allowed"
    assert "payments:write" in response.json["error"]["details"]["missing_scopes"]
    assert "secret" not in response.json
    # The key still works with its old secret: nothing was rotated.
    stored = next(t for t in accounts.list_tokens(principal=accounts.principal_for_user(
        accounts.get_user(user_id=manager.id)), limit=50, cursor=None).items if t.id == org_key.id)
    assert stored.rotated_at is None


def test_read_only_token_cannot_revoke_the_integration_keys(user_factory, api_key):
    manager = user_factory("manager")
    org_key, org_secret = _org_key(manager.organization, ["projects:read", "projects:write", "tasks:work"])
    reader = api_key(user=manager, scopes=["projects:read"])

    response = reader.delete(f"/api/v1/tokens/{org_key.id}")
    assert response.status_code == 403, response.json
    assert accounts.resolve_token(secret=org_secret).token_id == org_key.id


def test_personal_token_cannot_revoke_a_stronger_token_of_the_same_user(user_factory, api_key):
    manager = user_factory("manager")
    strong, strong_secret = accounts.create_token(name="full", user_id=manager.id)
    weak = api_key(user=manager, scopes=["results:read"])
    assert weak.delete(f"/api/v1/tokens/{strong.id}").status_code == 403
    assert weak.post(f"/api/v1/tokens/{strong.id}/rotate", json={}).status_code == 403
    assert accounts.resolve_token(secret=strong_secret).token_id == strong.id


def test_a_token_may_still_rotate_and_revoke_itself_and_weaker_ones(client, user_factory):
    manager = user_factory("manager")
    weak, _ = accounts.create_token(name="weak", user_id=manager.id, scopes=["projects:read"])
    own, own_secret = accounts.create_token(name="own", user_id=manager.id, scopes=["results:read"])
    full, full_secret = accounts.create_token(name="full", user_id=manager.id)
    org_key, _ = _org_key(manager.organization, ["projects:read", "tasks:work"])

    rotated = _bearer(client, own_secret).post(f"/api/v1/tokens/{own.id}/rotate", json={"grace_seconds": 0})
    assert rotated.status_code == 200 and rotated.json["secret"]
    as_full = _bearer(client, full_secret)
    assert as_full.delete(f"/api/v1/tokens/{weak.id}").status_code == 204
    # A manager's full token holds what an organization key needs (tasks:work is routing, as at creation).
    assert as_full.post(f"/api/v1/tokens/{org_key.id}/rotate", json={"grace_seconds": 0}).status_code == 200


def test_a_foreign_token_is_not_found_rather_than_forbidden(user_factory, api_key):
    other = user_factory("manager")
    foreign, _ = accounts.create_token(name="theirs", user_id=other.id, scopes=["projects:read"])
    mine = api_key(user=user_factory("manager"), scopes=["projects:read"])
    assert mine.delete(f"/api/v1/tokens/{foreign.id}").status_code == 404


def test_rotation_grace_cannot_keep_a_leaked_secret_alive_for_weeks(user_factory, api_key):
    manager = user_factory("manager")
    token, _ = accounts.create_token(name="ci", user_id=manager.id)
    caller = api_key(user=manager)
    response = caller.post(f"/api/v1/tokens/{token.id}/rotate", json={"grace_seconds": 8 * 86_400})
    assert response.status_code == 422
    assert "grace_seconds" in response.json["error"]["details"]["fields"]
    assert caller.post(f"/api/v1/tokens/{token.id}/rotate", json={"grace_seconds": 7 * 86_400}).status_code == 200


def test_token_cannot_be_created_already_expired(user_factory, api_key):
    caller = api_key(user=user_factory("manager"))
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = caller.post("/api/v1/tokens", json={"name": "stale", "expires_at": past})
    assert response.status_code == 422
    assert "expires_at" in response.json["error"]["details"]["fields"]
    assert len(caller.get("/api/v1/tokens").json["items"]) == 1  # only the caller's own


# --- 2. money settings need payments:write ----------------------------------------------------


MONEY_CHANGES = [
    {"reward": {"amount": 500, "currency": "USD"}},
    {"gold_reward_amount": 100},
    {"budget_amount": 10_000},
    {"auto_approve_hours": 1},
    {"min_hourly_rate": 2_000},
    {"fair_pay_auto_apply": True},
    {"auto_approve_consensus": True},
    {"rejection_window_hours": 1},
]


@pytest.mark.parametrize("change", MONEY_CHANGES, ids=lambda c: next(iter(c)))
def test_projects_write_key_cannot_change_what_is_paid(user_factory, api_key, project_factory, change):
    manager = user_factory("manager")
    project = project_factory(owner=manager)
    key = api_key(user=manager, scopes=["projects:read", "projects:write"])

    response = key.patch(f"/api/v1/projects/{project.id}", json=change)
    assert response.status_code == 403, response.json
    assert response.json["error"]["details"]["required_scope"] == "payments:write"
    before = api_key(user=manager).get(f"/api/v1/projects/{project.id}").json
    created = key.post("/api/v1/projects", json={"name": "x", "task_type": "single_choice",
                                                   "labels": ["a", "b"], **change})
    assert created.status_code == 403
    # Nothing changed, nothing was created.
    after = api_key(user=manager).get(f"/api/v1/projects/{project.id}").json
    assert after == before
    assert [p["id"] for p in api_key(user=manager).get("/api/v1/projects").json["items"]] == [project.id]


def test_projects_write_key_still_changes_settings_that_move_no_money(user_factory, api_key, project_factory):
    manager = user_factory("manager")
    project = project_factory(owner=manager)
    key = api_key(user=manager, scopes=["projects:read", "projects:write"])
    assert key.patch(f"/api/v1/projects/{project.id}", json={"instructions": "Be careful"}).status_code == 200
    payer = api_key(user=manager, scopes=["projects:write", "payments:write"])
    assert payer.patch(f"/api/v1/projects/{project.id}",
                       json={"reward": {"amount": 5, "currency": "USD"}}).status_code == 200


def test_projects_write_key_cannot_set_a_rush_batch_rate(user_factory, api_key, project_factory, data_dir):
    manager = user_factory("manager")
    project = project_factory(owner=manager)
    full = api_key(user=manager)
    upload = full.post(f"/api/v1/projects/{project.id}/datasets",
                       json={"items": [{"text": "a"}, {"text": "b"}]})
    assert upload.status_code in (201, 202), upload.json
    batch = full.get(f"/api/v1/projects/{project.id}/batches").json["items"][0]
    key = api_key(user=manager, scopes=["projects:read", "projects:write"])
    response = key.patch(f"/api/v1/batches/{batch['id']}", json={"reward_amount": 10**9})
    assert response.status_code == 403
    assert full.get(f"/api/v1/projects/{project.id}/batches").json["items"][0]["reward_amount"] is None


@pytest.mark.parametrize("field,value", [("reward", {"amount": 2**62, "currency": "USD"}),
                                         ("gold_reward_amount", 2**62), ("budget_amount", 2**62),
                                         ("min_hourly_rate", 2**62)])
def test_reward_of_two_to_the_62_is_refused(user_factory, api_key, project_factory, field, value):
    manager = user_factory("manager")
    project = project_factory(owner=manager)
    response = api_key(user=manager).patch(f"/api/v1/projects/{project.id}", json={field: value})
    assert response.status_code == 422
    assert field in response.json["error"]["details"]["fields"]


# --- 7. login limits ---------------------------------------------------------------------------


def test_random_bearer_header_does_not_reset_the_login_limit_per_address(client, user_factory):
    # The suite's limit is 5 per minute. Each attempt names a different account and sends a fresh
    # bearer header, so only the per-address limit can stop the sixth.
    codes = []
    for i in range(7):
        codes.append(client.post("/api/v1/auth/login", json={"email": f"nobody{i}@example.test", "password": "x"},
                                 headers={"Authorization": f"Bearer cnc_random{i}"}).status_code)
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429, 429]


def test_login_limit_per_account_holds_across_addresses(client, user_factory):
    victim = user_factory("manager")
    codes = [client.post("/api/v1/auth/login", json={"email": victim.email, "password": "wrong"},
                         environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]


def test_forged_forwarded_for_is_ignored_without_a_trusted_proxy(client):
    codes = [client.post("/api/v1/auth/login", json={"email": f"n{i}@example.test", "password": "x"},
                         headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(6)]
    assert codes[-1] == 429


def test_behind_one_trusted_proxy_the_client_address_is_the_one_the_proxy_saw(app, monkeypatch):
    from backend import trust_proxies

    monkeypatch.setattr(app, "wsgi_app", trust_proxies(app.wsgi_app, 1))
    client = app.test_client()
    attempts = iter(range(100))

    def attempt(forwarded: str) -> int:
        return client.post("/api/v1/auth/login", json={"email": f"n{next(attempts)}@example.test", "password": "x"},
                           headers={"X-Forwarded-For": forwarded}).status_code

    assert [attempt("198.51.100.7") for _ in range(5)] == [401] * 5
    assert attempt("198.51.100.7") == 429
    # A client prepending its own X-Forwarded-For gains nothing: the proxy appends what it saw.
    assert attempt("1.2.3.4, 198.51.100.7") == 429
    # Another client behind the same proxy has its own budget.
    assert attempt("198.51.100.8") == 401


def test_settings_read_the_proxy_depth(tmp_path):
    from backend.config import Settings

    env = {"CONCORD_VAR_DIR": str(tmp_path), "SECRET_KEY": "k"}
    assert Settings.from_env({**env, "CONCORD_PROXY_COUNT": "2"}).proxy_count == 2
    assert Settings.from_env(env).proxy_count == 0


# --- 10. sessions end server-side ------------------------------------------------------------


def _login(app, user, password=None):
    c = app.test_client()
    r = c.post("/api/v1/auth/login", json={"email": user.email, "password": password or user.password})
    assert r.status_code == 200, r.json
    return c, r.json["csrf_token"]


def _saved_cookie(c) -> str:
    return c.get_cookie("session").value


def _replay(app, cookie: str, csrf: str, project_id: int):
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.patch(f"/api/v1/projects/{project_id}", json={"instructions": "owned"},
                       headers={"X-CSRF-Token": csrf})


def test_saved_cookie_cannot_write_after_logout(app, user_factory, project_factory):
    manager = user_factory("manager")
    project = project_factory(owner=manager)
    c, csrf = _login(app, manager)
    saved = _saved_cookie(c)
    assert _replay(app, saved, csrf, project.id).status_code == 200  # the copy works while logged in
    assert c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204

    assert _replay(app, saved, csrf, project.id).status_code == 401
    thief = app.test_client()
    thief.set_cookie("session", saved)
    assert thief.get("/api/v1/me").status_code == 401


def test_password_change_ends_every_other_session(app, user_factory, project_factory):
    manager = user_factory("manager")
    project = project_factory(owner=manager)
    laptop, laptop_csrf = _login(app, manager)
    phone, phone_csrf = _login(app, manager)
    stolen = _saved_cookie(phone)

    wrong = laptop.post("/api/v1/me/password", json={"current_password": "guess", "new_password": "n3w password"},
                        headers={"X-CSRF-Token": laptop_csrf})
    assert wrong.status_code == 401
    assert phone.get("/api/v1/me").status_code == 200  # a wrong guess ends nothing
    changed = laptop.post("/api/v1/me/password",
                          json={"current_password": manager.password, "new_password": "n3w password"},
                          headers={"X-CSRF-Token": laptop_csrf})
    assert changed.status_code == 204, changed.json

    assert laptop.get("/api/v1/me").status_code == 200
    assert phone.get("/api/v1/me").status_code == 401
    assert _replay(app, stolen, phone_csrf, project.id).status_code == 401
    assert app.test_client().post("/api/v1/auth/login", json={"email": manager.email, "password": manager.password}
                                  ).status_code == 401
    _login(app, manager, "n3w password")


def test_a_token_cannot_change_the_password(user_factory, api_key):
    manager = user_factory("manager")
    response = api_key(user=manager).post("/api/v1/me/password", json={"current_password": manager.password,
                                                                       "new_password": "n3w password"})
    assert response.status_code == 403


def test_deactivating_a_user_ends_its_sessions_at_once(app, user_factory, cli):
    annotator = user_factory("annotator")
    c, _csrf = _login(app, annotator)
    assert c.get("/api/v1/me").status_code == 200
    result = cli("user", "deactivate", annotator.email)
    assert result.exit_code == 0, result.output
    assert c.get("/api/v1/me").status_code == 401
    assert accounts.set_active(email=annotator.email, active=True).is_active
    # Reactivation lets the user log in again, but the old session stays ended.
    assert c.get("/api/v1/me").status_code == 401
    _login(app, annotator)


# --- security headers ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/web/js/app.js", "/api/docs", "/api/v1/openapi.json", "/api/v1/me",
                                  "/api/v1/nowhere", "/healthz"])
def test_every_response_forbids_framing_sniffing_and_inline_script(client, path):
    response = client.get(path)
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "no-referrer"
    assert "Strict-Transport-Security" not in response.headers  # only in production


def test_production_adds_hsts(app, monkeypatch):
    from dataclasses import replace

    settings = app.config["CONCORD_SETTINGS"]
    monkeypatch.setitem(app.config, "CONCORD_SETTINGS", replace(settings, env="production"))
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_short_lived_token_cannot_rotate_a_long_lived_one_to_outlive_itself(client, user_factory):
    manager = user_factory("manager")
    lasting, _ = accounts.create_token(name="lasting", user_id=manager.id)
    _brief, brief_secret = accounts.create_token(name="brief", user_id=manager.id,
                                                 expires_at=datetime.now(UTC) + timedelta(hours=1))
    response = _bearer(client, brief_secret).post(f"/api/v1/tokens/{lasting.id}/rotate", json={"grace_seconds": 0})
    assert response.status_code == 403
    assert "secret" not in response.json


def test_ended_sessions_are_purged_and_live_ones_kept(app, user_factory):
    from backend.db import read_session, unit_of_work
    from backend.models import UserSession
    from worker.jobs import purge_ended_sessions

    manager = user_factory("manager")
    c, csrf = _login(app, manager)
    _login(app, manager)
    assert c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    with unit_of_work() as session:
        for row in session.query(UserSession).filter(UserSession.revoked_at.is_not(None)):
            row.revoked_at -= timedelta(days=2)
    assert purge_ended_sessions() == 1
    with read_session() as session:
        assert session.query(UserSession).count() == 1  # the live one
