"""A client generated from the served OpenAPI document works as it comes: openapi-python-client, with
docs/openapi-python-client.yaml and no hand fixes, against the app over real HTTP. A manager's key sets a
project up, an annotator claims and answers every task, and the manager reads the results and downloads
exports (JSON Lines and Parquet)."""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from backend.services import accounts
from tests.live_server import keep_exports_in_test_dir, serving

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "docs" / "openapi-python-client.yaml"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "concord_api"
# What the generated client is used for here, by operationId.
USED = ("create_project", "upload_dataset", "claim_task", "submit_answer", "list_results", "create_export",
        "get_export", "download_export")


@pytest.fixture(scope="module")
def live_server(app) -> Iterator[str]:
    with serving(app, "generated-client-server") as url:
        yield url


@pytest.fixture(autouse=True)
def _exports_in_test_dir(settings, monkeypatch):
    keep_exports_in_test_dir(settings, monkeypatch)


@pytest.fixture(scope="module")
def generated(live_server, tmp_path_factory):
    """The package generated from the document the live server serves, imported as ``concord_api``."""
    where = tmp_path_factory.mktemp("generated")
    document = httpx.get(f"{live_server}/api/v1/openapi.json", timeout=10).json()
    (where / "openapi.json").write_text(json.dumps(document))
    # The generator's post hooks run ruff, from this environment.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run([str(GENERATOR), "generate", "--path", str(where / "openapi.json"), "--output-path",
                          str(where / PACKAGE), "--meta", "none", "--config", str(CONFIG)],
                         capture_output=True, text=True, timeout=300, env=env, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    # Any warning means something was left out of the client (an "Unable to parse" operation, a property,
    # a response): the document must need none.
    assert "Warning" not in output and "Unable to" not in output, output
    sys.path.insert(0, str(where))
    try:
        package = importlib.import_module(PACKAGE)
        yield package, document
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _operation(package, tag: str, operation_id: str):
    """The generated module of one operation: api/<tag>/<operationId>.py, with sync() and sync_detailed()."""
    return importlib.import_module(f"{package.__name__}.api.{tag}.{operation_id}")


def test_every_operation_is_in_the_generated_client(generated):
    package, document = generated
    operations = [(op["tags"][0], op["operationId"]) for item in document["paths"].values()
                  for method, op in item.items() if method in ("get", "post", "put", "patch", "delete")]
    assert {operation_id for _tag, operation_id in operations} >= set(USED)
    for tag, operation_id in operations:
        assert hasattr(_operation(package, tag, operation_id), "sync_detailed"), operation_id
    import concord_client

    assert package.__name__ != concord_client.__name__  # beside the hand-written client, not over it


def _wait(what, fetch, done, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s: {value}"
        time.sleep(0.1)


def test_the_generated_client_labels_reads_results_and_downloads_exports(generated, live_server, manager,
                                                                         user_factory):
    package, document = generated
    models = importlib.import_module(f"{PACKAGE}.models")
    download_types = document["paths"]["/api/v1/exports/{export_id}/download"]["get"]["responses"]["200"]["content"]
    _token, manager_secret = accounts.create_token(name="generated", user_id=manager.id)
    _token, worker_secret = accounts.create_token(name="generated", user_id=user_factory("annotator").id)
    # Answers the document does not list raise: the test sees them instead of a None.
    mgr = package.AuthenticatedClient(base_url=live_server, token=manager_secret, raise_on_unexpected_status=True)
    ann = package.AuthenticatedClient(base_url=live_server, token=worker_secret, raise_on_unexpected_status=True)

    def op(tag: str, operation_id: str):
        return _operation(package, tag, operation_id)

    project = op("projects", "create_project").sync(client=mgr, body=models.ProjectCreate.from_dict({
        "name": "Generated", "task_type": "single_choice", "labels": ["pos", "neg"], "overlap": 1,
        "status": "active", "consensus_method": "majority"}))
    assert isinstance(project, models.Project) and project.task_type == "single_choice"
    dataset = op("datasets", "upload_dataset").sync(project.id, client=mgr, body=models.DatasetItems.from_dict({
        "items": [{"external_id": f"e{i}", "data": {"text": f"text {i}"}} for i in range(3)]}))
    assert isinstance(dataset, models.Dataset) and dataset.tasks_created == 3

    # The annotator loop: claim until nothing is left (204), answer each lease.
    claim, submit = op("assignments", "claim_task"), op("assignments", "submit_answer")
    answered = []
    while True:
        lease = claim.sync_detailed(project.id, client=ann)
        if lease.status_code == 204:
            assert lease.headers["X-Concord-Reason"] == "no_task_available"
            break
        assert lease.status_code == 201 and isinstance(lease.parsed, models.Assignment), lease.content
        assert lease.parsed.task.data["text"].startswith("text ")
        done = submit.sync(lease.parsed.id, client=ann, body=models.Submit(
            answer=models.SubmitAnswer.from_dict({"choice": "pos"}), active_seconds=3))
        assert isinstance(done, models.Assignment) and done.status == "submitted"
        answered.append(done.task.external_id)
    assert sorted(answered) == ["e0", "e1", "e2"]

    # The completed batch's consensus runs in the background.
    results = _wait("consensus", lambda: op("results", "list_results").sync(project.id, client=mgr),
                    lambda page: len(page.items) == 3)
    assert isinstance(results, models.ResultPage) and results.next_cursor is None
    assert sorted(r.external_id for r in results.items) == ["e0", "e1", "e2"]
    assert all(r.consensus.answer.to_dict() == {"choice": "pos"} and r.consensus.answers_used == 1
               for r in results.items)

    get_export, download = op("results", "get_export"), op("results", "download_export")
    for fmt in ("jsonl", "parquet"):
        accepted = op("results", "create_export").sync(project.id, client=mgr, body=models.ExportRequest.from_dict(
            {"format": fmt}))
        assert isinstance(accepted, models.ExportAccepted) and accepted.export.format_ == fmt
        ready = _wait(f"the {fmt} export", lambda e=accepted.export: get_export.sync(e.id, client=mgr),
                      lambda e: e.status in ("ready", "failed"))
        assert ready.status == "ready" and ready.tasks == 3
        file = download.sync_detailed(ready.id, client=mgr)
        assert file.status_code == 200 and isinstance(file.parsed, package.types.File)
        assert file.headers["Content-Type"].split(";")[0] in download_types
        content = file.parsed.payload.read()
        assert len(content) == ready.size_bytes
        if fmt == "jsonl":
            rows = [json.loads(line) for line in content.decode().splitlines()]
        else:
            rows = pq.read_table(io.BytesIO(content)).to_pylist()
        assert sorted(row["external_id"] for row in rows) == ["e0", "e1", "e2"]
