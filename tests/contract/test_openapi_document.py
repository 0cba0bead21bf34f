"""The served OpenAPI document is valid OpenAPI 3.1 and says what a generated client needs: one
operationId per operation, the scopes the server checks, required response fields, the media types
of files, the headers that come back, and the bounds the server enforces."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from backend.exports import FORMATS
from backend.schemas.common import MAX_BIG_ID, MAX_ID

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document(app):
    return app.test_client().get("/api/v1/openapi.json").json


def _operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _schema(document, name: str) -> dict:
    return document["components"]["schemas"][name]


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in OpenAPIV31SpecValidator(document).iter_errors()]
    assert not errors, "\n".join(errors[:20])


def test_every_operation_has_a_unique_snake_case_operation_id(document):
    ids = [op.get("operationId") for _path, _method, op in _operations(document)]
    assert all(isinstance(i, str) and re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert len(ids) == len(set(ids))
    by_route = {(path, method): op["operationId"] for path, method, op in _operations(document)}
    # The names generated clients call; they do not change.
    assert by_route[("/api/v1/projects/{project_id}/assignments", "post")] == "claim_task"
    assert by_route[("/api/v1/assignments/{assignment_id}/submit", "post")] == "submit_answer"
    assert by_route[("/api/v1/projects/{project_id}/results", "get")] == "list_results"
    assert by_route[("/api/v1/exports/{export_id}/download", "get")] == "download_export"


def test_security_names_the_scope_the_server_checks_and_the_csrf_header_for_cookie_writes(app, document):
    adapter = app.url_map.bind("localhost")
    schemes = document["components"]["securitySchemes"]
    assert schemes["csrfToken"] == {**schemes["csrfToken"], "type": "apiKey", "in": "header", "name": "X-CSRF-Token"}
    for path, method, op in _operations(document):
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        endpoint, _args = adapter.match(concrete, method=method.upper())
        view = app.view_functions[endpoint]
        if not hasattr(view, "_concord_scope"):
            assert "security" not in op, (method, path)  # public: login
            continue
        scope = view._concord_scope
        cookie = {"sessionCookie": [], "csrfToken": []} if method != "get" else {"sessionCookie": []}
        assert op["security"] == [{"bearerAuth": [scope] if scope else []}, cookie], (method, path)


def test_response_fields_that_are_always_there_are_required(document):
    required = {name: set(_schema(document, name).get("required", [])) for name in ("Assignment", "Result",
                                                                                   "Export", "Project", "Job")}
    assert {"id", "status", "task", "project", "expires_at", "reward", "answer"} <= required["Assignment"]
    assert {"task_id", "consensus", "flagged", "run_id", "computed_at"} <= required["Result"]
    assert {"id", "format", "status", "size_bytes", "expires_at"} <= required["Export"]
    assert "progress" not in required["Export"]  # not yet in the answer that creates it
    # A worker's view of a project leaves out the owner's settings; the label fields depend on the type.
    assert {"id", "name", "task_type", "reward", "status"} <= required["Project"]
    assert not {"budget_amount", "labels", "overlap"} & required["Project"]
    assert {"id", "kind", "status", "progress", "created_at"} <= required["Job"]
    # A required field that may be null says so.
    assert _schema(document, "Assignment")["properties"]["submitted_at"]["type"] == ["string", "null"]


def test_files_csv_and_their_headers_are_declared(document):
    paths = document["paths"]
    workload = paths["/api/v1/projects/{project_id}/workload"]["get"]["responses"]["200"]
    assert set(workload["content"]) == {"application/json", "text/csv"}
    assert "X-Next-Cursor" in workload["headers"]
    download = paths["/api/v1/exports/{export_id}/download"]["get"]["responses"]
    media_types = {fmt.media_type.split(";")[0] for fmt in FORMATS.values()}
    assert set(download["200"]["content"]) == media_types
    assert download["200"]["content"]["application/vnd.apache.parquet"]["schema"] == {"type": "string",
                                                                                      "format": "binary"}
    assert next(iter(download["200"]["content"])) == "application/vnd.apache.parquet"  # read as bytes
    assert "Content-Disposition" in download["200"]["headers"] and "410" in download
    payout_file = paths["/api/v1/payouts/{payout_id}/file"]["get"]["responses"]["200"]
    assert set(payout_file["content"]) == {"text/csv", "application/json"}

    claim = paths["/api/v1/projects/{project_id}/assignments"]["post"]["responses"]
    assert claim["204"]["headers"]["X-Concord-Reason"]["required"] is True
    for path, method, op in _operations(document):
        for status, response in op["responses"].items():
            headers = response.get("headers", {})
            if status != "default":
                assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(headers), path
            if status in ("429", "503"):
                assert headers["Retry-After"]["required"] is True, (method, path, status)
        takes_key = any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
        successes = [r for s, r in op["responses"].items() if s.startswith("2")]
        assert all(("Idempotent-Replayed" in r["headers"]) == takes_key for r in successes), (method, path)
        assert "429" in op["responses"] and "422" in op["responses"], (method, path)
    assert "503" in paths["/api/v1/projects/{project_id}/exports"]["post"]["responses"]


def test_request_bodies_are_required_unless_every_field_is_optional(document):
    bodies = {(path, method): op["requestBody"] for path, method, op in _operations(document) if "requestBody" in op}
    assert bodies[("/api/v1/assignments/{assignment_id}/submit", "post")]["required"] is True
    assert bodies[("/api/v1/projects", "post")]["required"] is True
    assert bodies[("/api/v1/projects/{project_id}/datasets", "post")]["required"] is True
    assert bodies[("/api/v1/assignments/{assignment_id}/release", "post")]["required"] is False
    for (path, method), body in bodies.items():
        schema = body["content"].get("application/json", {}).get("schema", {})
        if "$ref" in schema and set(body["content"]) == {"application/json"}:
            name = schema["$ref"].rsplit("/", 1)[1]
            assert body["required"] is bool(_schema(document, name).get("required")), (method, path)


def test_ids_in_arrays_have_the_bounds_of_path_ids_and_currencies_are_iso_codes(document):
    path_id = document["paths"]["/api/v1/batches/{batch_id}"]["parameters"][0]["schema"]
    assert (path_id["minimum"], path_id["maximum"]) == (0, MAX_ID)
    for name, field in (("ExportRequest", "batch_ids"), ("ConsensusRequest", "batch_ids"),
                        ("WorkerGroupUpdate", "worker_ids"), ("FairPayConfirm", "ids"),
                        ("Qualification", "gold_projects"), ("Qualification", "vendor_organizations")):
        items = _schema(document, name)["properties"][field]["items"]
        assert (items["minimum"], items["maximum"]) == (0, MAX_ID), (name, field)
    assert _schema(document, "BulkReview")["properties"]["assignment_ids"]["items"]["maximum"] == MAX_BIG_ID
    for name in ("Money", "Bonus", "Adjustment", "PayoutCreate", "LedgerEntry", "Payout", "Balance"):
        assert _schema(document, name)["properties"]["currency"]["pattern"] == "^[A-Z]{3}$", name
    currency = next(p for p in document["paths"]["/api/v1/me/earnings"]["get"]["parameters"] if p["name"] == "currency")
    assert currency["schema"]["pattern"] == "^[A-Z]{3}$"


def test_a_project_update_does_not_offer_the_task_type(document):
    assert "task_type" not in _schema(document, "ProjectUpdate")["properties"]
    create = _schema(document, "ProjectCreate")
    # A project asks one question (task_type and its fields) or a form (questions): neither is required alone.
    assert {"task_type", "questions", "display"} <= create["properties"].keys() and create["required"] == ["name"]
