import io


def assert_error(response, status, code):
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def test_unknown_route_is_a_json_404(client):
    assert_error(client.get("/api/v1/nope"), 404, "not_found")


def test_wrong_method_is_a_json_405_with_allow(client):
    response = client.put("/api/v1/projects", json={})
    error = assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"] and "POST" in error["details"]["allowed"]


def test_non_json_body_is_415(login_as, manager):
    client = login_as(manager)
    response = client.post("/api/v1/projects", data="name=x", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")


def test_invalid_json_is_400(login_as, manager):
    response = login_as(manager).post("/api/v1/projects", data="{nope", content_type="application/json")
    assert_error(response, 400, "bad_request")


def test_oversized_bodies_are_413(app, login_as, manager, project_factory):
    client = login_as(manager)
    settings = app.config["CONCORD_SETTINGS"]
    big = '{"name": "' + "x" * (settings.max_json_bytes + 1) + '"}'
    assert_error(client.post("/api/v1/projects", data=big, content_type="application/json"), 413,
                 "payload_too_large")
    project = project_factory()
    old = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        response = client.post(f"/api/v1/projects/{project.id}/datasets",
                               data={"file": (io.BytesIO(b"x" * 5000), "a.csv")}, content_type="multipart/form-data")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = old
    assert_error(response, 413, "payload_too_large")


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": True, "queue": True}


def test_readyz_is_503_when_the_database_is_unreachable(client, monkeypatch):
    from backend.services import health

    monkeypatch.setattr(health, "text", lambda _sql: (_ for _ in ()).throw(RuntimeError("db down")))
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["database"] is False


def test_openapi_document_lists_the_api(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/projects", "/api/v1/projects/{project_id}/datasets", "/api/v1/batches/{batch_id}",
                 "/api/v1/tasks/{task_id}", "/api/v1/jobs/{job_id}", "/api/v1/tokens", "/api/v1/auth/login"):
        assert path in spec["paths"], path
    create = spec["paths"]["/api/v1/projects"]["post"]
    assert "requestBody" in create and "201" in create["responses"] and "422" in create["responses"]
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_the_api_reference_page_is_made_from_the_openapi_document(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    spec = client.get("/api/v1/openapi.json").json
    for path in spec["paths"]:
        assert path in html
    assert "scope payments:write" in html and 'id="schema-LedgerEntry"' in html


def test_values_the_database_cannot_hold_are_422_not_500(client, login_as, manager):
    assert client.post("/api/v1/auth/login", json={"email": "a\u0000b@example.test", "password": "x"}).status_code \
        in (401, 422)
    mgr = login_as(manager)
    too_big = mgr.get("/api/v1/projects/1/tasks?batch_id=99999999999")
    assert too_big.status_code in (404, 422) and "error" in too_big.json
    assert mgr.get("/api/v1/projects/99999999999").status_code == 404
