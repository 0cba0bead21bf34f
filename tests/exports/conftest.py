"""Exports made the way a user makes them: tasks imported, answered by workers through the API, consensus
run by its job, the export requested through the API, written by its job and downloaded."""

from __future__ import annotations

import os

import pytest

from backend.services import datasets
from tests.conftest import principal_of


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """The consumers (datasets, Label Studio's converter) must never reach the network."""
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_HOST", raising=False)


@pytest.fixture
def fill(manager):
    """Import items into a project (the dataset path a manager uses)."""

    def run(project, items, batch_size=None):
        return datasets.import_items(principal=principal_of(manager), project_id=project.id, items=items,
                                     batch_size=batch_size)

    return run


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


@pytest.fixture
def crowd(user_factory, api_key):
    return lambda n: [api_key(user=user_factory("annotator")) for _ in range(n)]


@pytest.fixture
def answer_all(crowd, run_jobs):
    """Each worker answers every task it is given, through the API: ``answers[i](external_id)`` is worker i's
    answer; then the consensus jobs of the batches this completed run. Returns the answers as the API
    stored them, by external id."""

    def run(project, answers):
        stored: dict[str, list[dict]] = {}
        for worker, answer_for in zip(crowd(len(answers)), answers, strict=True):
            while (lease := worker.post(f"/api/v1/projects/{project.id}/assignments")).status_code == 201:
                external_id = lease.json["task"]["external_id"]
                done = worker.post(f"/api/v1/assignments/{lease.json['id']}/submit",
                                   json={"answer": answer_for(external_id)})
                assert done.status_code == 200, done.json
                stored.setdefault(external_id, []).append(done.json["answer"])
            assert lease.status_code == 204, lease.json
        run_jobs()
        return stored

    return run


@pytest.fixture
def make_export(mgr, run_jobs):
    """Request an export through the API, run its job, return (export resource, file bytes)."""

    def run(project, fmt, **options):
        created = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": fmt, **options})
        assert created.status_code == 202, created.json
        run_jobs()
        resource = mgr.get(f"/api/v1/exports/{created.json['export']['id']}").json
        assert resource["status"] == "ready", resource
        download = mgr.get(f"/api/v1/exports/{resource['id']}/download")
        assert download.status_code == 200, download.json
        return resource, download.data

    return run


@pytest.fixture
def image_dir(tmp_path, monkeypatch):
    """A directory of images the export job may read (CONCORD_EXPORT_IMAGE_DIR), with a helper to draw one."""
    from PIL import Image  # Pillow makes real image files here; the export reads their headers itself

    root = tmp_path / "images"
    root.mkdir()
    monkeypatch.setenv("CONCORD_EXPORT_IMAGE_DIR", str(root))

    def draw(name: str, width: int, height: int, **save) -> str:
        path = root / name
        Image.new("RGB", (width, height), (200, 30, 30)).save(path, **save)
        return str(path)

    draw.root = root
    return draw


def write(tmp_path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return os.fspath(path)
