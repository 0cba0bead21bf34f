"""Crafted input: every one is a clear 4xx in the one error shape, and nothing of it is stored."""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest

from backend.services import readers
from backend.services.pagination import encode_cursor
from backend.services.readers import RowError, read_csv, read_json_array, read_jsonl

ON_POSTGRES = bool(os.environ.get("CONCORD_TEST_DATABASE_URL"))


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


def assert_refused(response, status=422):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"} and error["message"]
    return error


def task_count(mgr, project_id):
    return sum(b["task_count"] for b in mgr.get(f"/api/v1/projects/{project_id}/batches").json["items"])


def upload(mgr, project_id, name, content: bytes):
    return mgr.post(f"/api/v1/projects/{project_id}/datasets", content_type="multipart/form-data",
                    data={"file": (io.BytesIO(content), name)})


def test_a_deeply_nested_json_array_upload_is_refused_before_its_structure_is_built():
    depth = 5_000  # ijson keeps a path per level: this cost ~60 MB before the fix; 100,000 levels 20+ GB
    content = b'[{"text": "fine"}, {"text": ' + b"[" * depth + b"]" * depth + b"}]"
    tracemalloc.start()
    try:
        with pytest.raises(RowError) as refused:
            list(read_json_array(io.BytesIO(content)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.details["row"] == 2 and "deeper than 64" in refused.value.details["reason"]
    assert peak < 4 * 1024 * 1024, peak


def test_a_deeply_nested_json_array_upload_is_a_422_naming_the_item(mgr, project_factory):
    project = project_factory()
    deep = b'{"text": ' + b"[" * 1_500 + b"]" * 1_500 + b"}"
    error = assert_refused(upload(mgr, project.id, "deep.json", b'[{"text": "ok"}, 7, ' + deep + b"]"))
    assert error["details"]["row"] == 3 and "deeper than 64" in error["details"]["reason"]
    assert task_count(mgr, project.id) == 0


def test_a_jsonl_item_nested_a_hundred_deep_is_refused_naming_its_line(mgr, project_factory):
    project = project_factory()
    deep = '{"text": ' + "[" * 100 + "]" * 100 + "}"
    error = assert_refused(upload(mgr, project.id, "deep.jsonl", f'{{"text": "ok"}}\n{deep}\n'.encode()))
    assert error["details"]["row"] == 2 and "deeper than 64" in error["details"]["reason"]
    assert task_count(mgr, project.id) == 0


@pytest.mark.parametrize("escape", ["\\ud800", "\\udc00"])
def test_a_lone_surrogate_in_a_json_array_upload_is_refused_not_stored_as_a_question_mark(
        mgr, project_factory, escape):
    project = project_factory()
    content = ('[{"text": "\\ud83d\\ude00 is fine"}, {"text": "a' + escape + 'b"}]').encode()
    error = assert_refused(upload(mgr, project.id, "lone.json", content))
    assert error["details"]["row"] == 2
    assert task_count(mgr, project.id) == 0


@pytest.mark.parametrize(("reader", "content", "row"), [
    (read_csv, b"text\nfine\n" + b"x," * 600_000 + b"\n", 3),
    (read_jsonl, b'{"text": "fine"}\n{"text": [' + b"1," * 600_000 + b'1]}\n', 2),
])
def test_one_huge_row_is_refused_without_reading_it_whole(monkeypatch, reader, content, row):
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 64 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(RowError) as refused:
            list(reader(io.BytesIO(content)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.details["row"] == row and "longer than 65536" in refused.value.details["reason"]
    assert peak < 2 * 1024 * 1024, peak


def test_a_nul_in_an_uploaded_gold_answer_is_refused_on_every_backend(mgr, project_factory):
    project = project_factory(task_type="free_text", labels=None)
    content = b'{"text": "fine"}\n{"text": "t", "gold": {"text": "a\\u0000b"}}\n'
    error = assert_refused(upload(mgr, project.id, "gold.jsonl", content))
    assert error["details"]["row"] == 2 and "NUL" in error["details"]["reason"]
    assert task_count(mgr, project.id) == 0


def test_a_deeply_nested_json_body_is_a_422_not_a_recursion_error(mgr):
    body = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    error = assert_refused(mgr.post("/api/v1/projects", data=body, content_type="application/json"))
    assert "deeper than 64" in error["message"]
    assert mgr.get("/api/v1/projects").json["items"] == []


def test_nan_and_infinity_in_a_json_body_are_refused_not_stored_as_null(mgr, project_factory):
    project = project_factory()
    for constant in ("NaN", "Infinity", "-Infinity"):
        body = f'{{"items": [{{"text": "x", "score": {constant}}}]}}'
        response = mgr.post(f"/api/v1/projects/{project.id}/datasets", data=body, content_type="application/json")
        assert constant in assert_refused(response)["message"]
    assert task_count(mgr, project.id) == 0


@pytest.mark.parametrize("text", ["\\ud800", "a\\udc00b", "\\u0000"])
def test_a_lone_surrogate_or_nul_in_a_json_body_is_a_422_on_every_backend(mgr, text):
    body = '{"name": "p' + text + '", "task_type": "single_choice", "labels": ["a", "b"]}'
    assert_refused(mgr.post("/api/v1/projects", data=body, content_type="application/json"))
    assert mgr.get("/api/v1/projects").json["items"] == []


@pytest.mark.parametrize("url", ["/api/v1/audit?actor=a%00b", "/api/v1/worker-groups/a%00b"])
def test_a_nul_in_the_url_is_a_422_on_every_backend(mgr, url):
    assert assert_refused(mgr.get(url))["details"]["fields"] == {"url": ["contains NUL"]}


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite compares a string with an integer id without complaint")
def test_a_string_cursor_on_a_list_is_a_422_on_postgresql(mgr, project_factory):
    project_factory()
    for path in ("/api/v1/projects", "/api/v1/tokens", "/api/v1/payouts"):
        error = assert_refused(mgr.get(f"{path}?cursor={encode_cursor('abc')}"))
        assert error["details"]["fields"] == {"cursor": ["invalid cursor"]}


def test_a_string_cursor_on_a_list_is_refused_on_sqlite_too(mgr, project_factory):
    project_factory()
    error = assert_refused(mgr.get(f"/api/v1/projects?cursor={encode_cursor('abc')}"))
    assert error["details"]["fields"] == {"cursor": ["invalid cursor"]}


def test_a_worker_group_name_over_100_characters_is_refused(mgr):
    name = "g" * 101
    assert_refused(mgr.put(f"/api/v1/worker-groups/{name}", json={"worker_ids": []}))
    assert mgr.put(f"/api/v1/worker-groups/{'g' * 100}", json={"worker_ids": []}).status_code == 200


def test_a_dataset_filename_over_255_characters_is_refused(mgr, project_factory):
    project = project_factory()
    long_name = "f" * 252 + ".csv"
    assert_refused(mgr.post(f"/api/v1/projects/{project.id}/datasets",
                            json={"items": [{"text": "x"}], "filename": long_name}))
    assert_refused(upload(mgr, project.id, long_name, b"text\nx\n"))
    assert task_count(mgr, project.id) == 0


def test_a_year_9999_date_with_an_offset_is_a_422_not_an_overflow(mgr):
    response = mgr.post("/api/v1/tokens", json={"name": "t", "expires_at": "9999-12-31T23:59:59-14:00"})
    assert_refused(response)
    assert [t["name"] for t in mgr.get("/api/v1/tokens").json["items"]] == []


@pytest.mark.parametrize("key", ["has space", "tab\tkey", "clé"])
def test_an_idempotency_key_outside_its_documented_pattern_is_refused(mgr, project_factory, key):
    project = project_factory()
    response = mgr.post(f"/api/v1/projects/{project.id}/datasets", json={"items": [{"text": "x"}]},
                        headers={"Idempotency-Key": key})
    assert assert_refused(response)["code"] == "invalid_idempotency_key"
    assert task_count(mgr, project.id) == 0


@pytest.mark.parametrize("external_id", ["w\x00", "w\x1b[2J", "w\x7f"])
def test_a_vendor_worker_id_with_control_characters_is_refused_and_registers_nobody(
        manager, api_key, project_factory, external_id):
    from backend.db import read_session
    from backend.models import Worker

    project = project_factory(owner=manager)
    key = api_key(organization=manager.organization, scopes=["projects:read", "tasks:work"])
    claimed = key.post(f"/api/v1/projects/{project.id}/assignments", headers={"X-Concord-Worker": external_id})
    assert_refused(claimed)
    assert_refused(key.post("/api/v1/workers", json={"external_id": external_id}))
    with read_session() as session:
        assert session.query(Worker).filter(Worker.organization_id == manager.organization_id).count() == 0


def test_an_integer_of_five_thousand_digits_in_a_body_is_a_422_not_a_500(mgr):
    response = mgr.post("/api/v1/projects", data='{"name": ' + "1" * 5000 + "}",
                        headers={"Content-Type": "application/json"})
    assert_refused(response)


def test_a_float_too_large_for_a_double_is_refused_not_stored_as_null(mgr, project_factory, manager):
    project = project_factory(owner=manager)
    response = mgr.post(f"/api/v1/projects/{project.id}/datasets", data='{"items": [{"text": "a", "score": 1e999}]}',
                        headers={"Content-Type": "application/json"})
    assert_refused(response)
    assert task_count(mgr, project.id) == 0


@pytest.mark.parametrize("after", ["x", "\u0000", "\ud800"])
@pytest.mark.parametrize("path", ["/projects/{p}/reviews", "/projects/{p}/results", "/projects/{p}/workload",
                                  "/jobs", "/projects"])
def test_a_forged_cursor_is_a_422_on_every_list(mgr, project_factory, manager, path, after):
    import base64
    import json

    project = project_factory(owner=manager)
    raw = json.dumps({"after": after}).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = mgr.get(f"/api/v1{path.format(p=project.id)}?cursor={cursor}")
    if path == "/jobs" and after == "x":
        assert response.status_code == 200  # job ids are strings: a harmless position
    else:
        assert_refused(response)
