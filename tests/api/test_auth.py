from backend.services import accounts


def test_login_me_logout(client, user_factory):
    user = user_factory("annotator")
    response = client.post("/api/v1/auth/login", json={"email": user.email.upper(), "password": user.password})
    assert response.status_code == 200
    body = response.json
    assert body["email"] == user.email and body["role"] == "annotator"
    assert body["worker_id"] is not None and body["csrf_token"]
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json["id"] == user.id
    assert "tasks:work" in me.json["scopes"]
    # Logging out changes state, so the session's CSRF token is required.
    assert client.post("/api/v1/auth/logout").status_code == 403
    out = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_manager_me_shows_organization_and_no_worker(login_as, user_factory, org_factory):
    org = org_factory("Acme")
    client = login_as(user_factory("manager", organization=org))
    me = client.get("/api/v1/me").json
    assert me["organization"] == {"id": org.id, "name": "Acme"}
    assert me["worker_id"] is None


def test_wrong_password_and_unknown_email_look_the_same(client, user_factory):
    user = user_factory()
    wrong = client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope nope nope"})
    unknown = client.post("/api/v1/auth/login", json={"email": "ghost@example.test", "password": "x" * 10})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert wrong.json["error"]["code"] == "invalid_credentials"


def test_login_validation_errors_are_field_by_field(client):
    response = client.post("/api/v1/auth/login", json={"email": "a@b.c"})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert "password" in response.json["error"]["details"]["fields"]


def test_login_is_rate_limited_per_account(client, user_factory):
    user = user_factory()
    statuses = [client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong-password"},
                            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code for i in range(7)]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    limited = client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password},
                          environ_base={"REMOTE_ADDR": "10.0.0.99"})
    assert limited.status_code == 429
    assert limited.json["error"]["code"] == "rate_limited"
    assert "Retry-After" in limited.headers


def test_login_is_rate_limited_per_address(client, user_factory):
    users = [user_factory() for _ in range(6)]
    statuses = [client.post("/api/v1/auth/login", json={"email": u.email, "password": "wrong-password"}).status_code
                for u in users]
    assert statuses == [401] * 5 + [429]


def test_cookie_requests_that_change_state_need_the_csrf_token(app, user_factory):
    manager = user_factory("manager")
    client = app.test_client()
    csrf = client.post("/api/v1/auth/login", json={"email": manager.email, "password": manager.password}).json[
        "csrf_token"]
    body = {"name": "P", "task_type": "free_text"}
    missing = client.post("/api/v1/projects", json=body)
    assert missing.status_code == 403 and missing.json["error"]["code"] == "csrf_failed"
    wrong = client.post("/api/v1/projects", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    assert client.post("/api/v1/projects", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_personal_token_is_shown_once_stored_hashed_and_revocable(login_as, user_factory, client):
    manager = user_factory("manager")
    session = login_as(manager)
    created = session.post("/api/v1/tokens", json={"name": "ci", "scopes": ["projects:read"]})
    assert created.status_code == 201
    secret = created.json["secret"]
    assert created.json["kind"] == "personal" and created.json["scopes"] == ["projects:read"]
    listed = session.get("/api/v1/tokens").json["items"]
    assert [t["id"] for t in listed] == [created.json["id"]]
    assert all("secret" not in t for t in listed)
    from backend.db import read_session
    from backend.models import ApiToken

    with read_session() as s:
        stored = s.get(ApiToken, created.json["id"])
    assert secret not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64

    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=bearer).json["email"] == manager.email
    # The token has projects:read only.
    denied = client.post("/api/v1/projects", json={"name": "x", "task_type": "free_text"}, headers=bearer)
    assert denied.status_code == 403 and denied.json["error"]["code"] == "insufficient_scope"
    assert session.delete(f"/api/v1/tokens/{created.json['id']}").status_code == 204
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def test_a_replayed_token_creation_answers_without_the_secret_and_stores_none(login_as, user_factory):
    # The secret exists in the first response only: the idempotency record keeps the rest.
    session = login_as(user_factory("manager"))
    key = {"Idempotency-Key": "token-once"}
    created = session.post("/api/v1/tokens", json={"name": "ci"}, headers=key)
    replayed = session.post("/api/v1/tokens", json={"name": "ci"}, headers=key)
    assert created.status_code == replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json["id"] == created.json["id"] and "secret" not in replayed.json
    assert len(session.get("/api/v1/tokens").json["items"]) == 1
    from backend.db import read_session
    from backend.models import IdempotencyKey

    with read_session() as s:
        (record,) = s.query(IdempotencyKey).all()
    assert record.result["body"]["id"] == created.json["id"] and created.json["secret"] not in str(record.result)


def test_a_token_cannot_grant_more_than_its_role(login_as, user_factory):
    annotator = login_as(user_factory("annotator"))
    response = annotator.post("/api/v1/tokens", json={"name": "x", "scopes": ["projects:write"]})
    assert response.status_code == 403
    response = annotator.post("/api/v1/tokens", json={"name": "x", "scopes": ["no:such"]})
    assert response.status_code == 422


def test_organization_key_acts_for_its_organization(login_as, user_factory, client, org_factory):
    org = org_factory()
    manager = login_as(user_factory("manager", organization=org))
    key = manager.post("/api/v1/tokens", json={"name": "vendor", "organization": True,
                                               "scopes": ["projects:read", "projects:write"]})
    assert key.status_code == 201 and key.json["kind"] == "organization"
    headers = {"Authorization": f"Bearer {key.json['secret']}"}
    project = client.post("/api/v1/projects", json={"name": "Vendor push", "task_type": "free_text"},
                          headers=headers)
    assert project.status_code == 201 and project.json["organization_id"] == org.id
    me = client.get("/api/v1/me", headers=headers).json
    assert me["role"] == "organization" and me["organization"]["id"] == org.id
    # An organization key cannot mint more keys.
    assert client.post("/api/v1/tokens", json={"name": "x"}, headers=headers).status_code == 403


def test_annotators_cannot_create_organization_keys(login_as, user_factory):
    response = login_as(user_factory("annotator")).post("/api/v1/tokens", json={"name": "x", "organization": True,
                                                                              "scopes": ["tasks:work"]})
    assert response.status_code == 403


def test_another_users_token_cannot_be_revoked(login_as, user_factory):
    a, b = user_factory("manager"), user_factory("manager")
    token, _ = accounts.create_token(name="a", user_id=a.id)
    assert login_as(b).delete(f"/api/v1/tokens/{token.id}").status_code == 404


def test_expired_and_malformed_tokens_are_rejected(client, user_factory):
    from datetime import UTC, datetime, timedelta

    user = user_factory()
    _token, secret = accounts.create_token(name="old", user_id=user.id,
                                           expires_at=datetime.now(UTC) - timedelta(minutes=1))
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).json["error"]["code"] == "invalid_token"
