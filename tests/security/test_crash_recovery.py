"""Crashed jobs do not stay "running" forever (issue 14, item 9).

The RQ tests start a real ``concord worker`` process, let its work horse get mid-way through an
import or an export, SIGKILL both, and check that the reaper (RQ's StartedJobRegistry cleanup and
the jobs' on_failure callback) fails the job, the dataset or export, and removes their files. The
reaper judges "abandoned" by RQ's heartbeat deadline; the tests ask it to judge as if an hour had
passed instead of waiting for it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from backend import jobs
from backend.db import read_session, unit_of_work
from backend.models import Export, JobRecord
from backend.services import datasets, exports
from tests.conftest import ON_POSTGRES, TEST_REDIS_URL, principal_of

ROOT = Path(__file__).resolve().parents[2]

# Run `concord worker` with the work stopped mid-way: the horse writes a marker (its pid) and waits.
WORKER_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path

    marker = Path(sys.argv[1])

    def stall(fh=None):
        if fh is not None:
            fh.write(b'{"half": "written"}\\n')
            fh.flush()
        marker.write_text(str(os.getpid()))
        while True:
            time.sleep(1)

    from backend.services import datasets, exports

    datasets.import_rows = lambda *args, **kwargs: stall()
    exports._jsonl_from_postgres = lambda *args, fh, **kwargs: stall(fh)
    from backend.cli import main

    main(["worker", "--queues", "imports,exports"])
""")


def _wait_for(predicate, what: str, deadline: float = 120.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def killed_worker(settings, tmp_path, monkeypatch):
    """Start `concord worker`; the returned function waits until its horse is mid-job and SIGKILLs both."""
    assert TEST_REDIS_URL and ON_POSTGRES, "needs PostgreSQL + Redis (the PostgreSQL + Redis leg)"
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "CONCORD_VAR_DIR": str(settings.var_dir), "SECRET_KEY": settings.secret_key,
           "CONCORD_PERIODIC_JOBS": "0", "PYTHONPATH": str(ROOT)}
    # The reaper in this process finds export files where the worker writes them.
    monkeypatch.setenv("CONCORD_VAR_DIR", str(settings.var_dir))
    marker = tmp_path / "horse.pid"
    proc = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, str(marker)], env=env, cwd=ROOT,
                            start_new_session=True)
    horse: list[int] = []

    def kill_mid_job() -> None:
        horse.append(int(_wait_for(lambda: marker.exists() and marker.read_text(), "the work horse to start")))
        os.kill(horse[0], signal.SIGKILL)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)

    yield kill_mid_job
    for pid in horse:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def _rq_status(job_id: str) -> str:
    from rq.job import Job

    return Job.fetch(job_id, connection=jobs.backend().redis).get_status()


@pytest.mark.redis
@pytest.mark.postgres
def test_sigkilled_worker_mid_import_marks_dataset_failed_and_cleans_files(manager, project_factory, login_as,
                                                                           killed_worker):
    project = project_factory()
    client = login_as(manager)
    content = "".join(json.dumps({"text": f"item {i} " + "x" * 40}) + "\n" for i in range(200))
    response = client.post(f"/api/v1/projects/{project.id}/datasets", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(content.encode()), "big.jsonl")})
    assert response.status_code == 202, response.json
    job_id, dataset_id = response.json["job"]["id"], response.json["dataset"]["id"]
    with read_session() as session:
        upload = Path(session.get(JobRecord, job_id).args["path"])
    assert upload.exists()

    killed_worker()
    assert _rq_status(job_id) == "started"  # what RQ believes before the reaper runs

    jobs.recover(at=time.time() + 3600)

    job = client.get(f"/api/v1/jobs/{job_id}").json
    assert job["status"] == "failed" and job["error"]["code"] == "job_abandoned"
    dataset = client.get(f"/api/v1/datasets/{dataset_id}").json
    assert dataset["status"] == "failed" and dataset["error"]["code"] == "job_abandoned"
    assert not upload.exists()
    assert _rq_status(job_id) == "failed"


@pytest.mark.redis
@pytest.mark.postgres
def test_sigkilled_worker_mid_export_marks_export_failed_and_removes_partial_file(manager, project_factory,
                                                                                  login_as, settings,
                                                                                  killed_worker):
    project = project_factory()
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "a"}])
    client = login_as(manager)
    response = client.post(f"/api/v1/projects/{project.id}/exports", json={"format": "jsonl"})
    assert response.status_code == 202, response.json
    job_id, export_id = response.json["job"]["id"], response.json["export"]["id"]
    partial = settings.export_dir / f"export-{export_id}.jsonl.partial"

    killed_worker()
    assert partial.exists()
    assert client.get(f"/api/v1/exports/{export_id}").json["status"] == "running"

    jobs.recover(at=time.time() + 3600)

    export = client.get(f"/api/v1/exports/{export_id}").json
    assert export["status"] == "failed"
    job = client.get(f"/api/v1/jobs/{job_id}").json
    assert job["status"] == "failed" and job["error"]["code"] == "job_abandoned"
    assert not partial.exists()
    assert _rq_status(job_id) == "failed"


@pytest.fixture
def embedded(app):
    if not isinstance(jobs.backend(), jobs.InProcessQueue):
        pytest.skip("the embedded server's in-process queue")
    return jobs.backend()


@pytest.mark.parametrize("dead_process", [
    f"{2**22 + 1}.1",  # a pid that is never alive
    f"{os.getpid()}.1",  # a restarted container's server has the dead one's pid, not its start time
])
def test_embedded_restart_fails_the_job_a_dead_server_left_started_and_requeues_the_one_left_queued(
        embedded, manager, project_factory, login_as, settings, monkeypatch, dead_process):
    """A server process died with one export running and one queued."""
    monkeypatch.setenv("CONCORD_VAR_DIR", str(settings.var_dir))
    project = project_factory()
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "a"}])
    dead = embedded.runner.rpartition(":")[0] + f":{dead_process}"
    made = []
    for _ in range(2):
        job_id = jobs.new_job_id()
        export = exports.create_export(
            principal=principal_of(manager), project_id=project.id, fmt="jsonl", batch_ids=None, include=None,
            job_id=job_id)
        jobs.job_records.record_job(job_id=job_id, kind="export", organization_id=project.organization_id,
                                    project_id=project.id, func="worker.jobs.run_export", queue="exports",
                                    args={"export_id": export.id}, runner=dead)
        made.append((job_id, export.id))
    (running_job, running_export), (queued_job, queued_export) = made
    with unit_of_work() as session:
        session.get(JobRecord, running_job).status = "started"
        session.get(Export, running_export).status = "running"
    settings.export_dir.mkdir(parents=True, exist_ok=True)
    partial = settings.export_dir / f"export-{running_export}.jsonl.partial"
    partial.write_bytes(b"half")

    from backend import _recover_jobs

    _recover_jobs(embedded)  # what create_app does when the server starts
    embedded.drain()

    client = login_as(manager)
    assert client.get(f"/api/v1/jobs/{running_job}").json["status"] == "failed"
    assert client.get(f"/api/v1/exports/{running_export}").json["status"] == "failed"
    assert not partial.exists()
    assert client.get(f"/api/v1/jobs/{queued_job}").json["status"] == "finished"
    assert client.get(f"/api/v1/exports/{queued_export}").json["status"] == "ready"


def test_job_records_shown_to_managers_carry_no_traceback(manager, project_factory, login_as, run_jobs,
                                                          monkeypatch):
    project = project_factory()

    def explode(**_kwargs):
        raise RuntimeError("disk /srv/secret/path is full")

    from backend.services import fair_pay

    monkeypatch.setattr(fair_pay, "propose_topups", explode)
    record = jobs.start_job("worker.jobs.propose_fair_pay", kind="fair_pay", organization_id=project.organization_id,
                            project_id=project.id, args={"project_id": project.id})
    run_jobs()
    client = login_as(manager)
    shown = json.dumps([client.get(f"/api/v1/jobs/{record.id}").json, client.get("/api/v1/jobs").json])
    assert "failed" in shown
    assert "Traceback" not in shown and "traceback" not in shown and "/srv/secret" not in shown
    with read_session() as session:
        stored = session.scalar(select(JobRecord.error).where(JobRecord.id == record.id))
    assert "traceback" not in json.dumps(stored)


def test_import_job_that_crashes_on_an_unexpected_error_marks_dataset_failed_and_removes_upload(
        manager, project_factory, login_as, run_jobs, monkeypatch):
    def crash(*_args, **_kwargs):
        raise OSError("device lost")

    monkeypatch.setattr(datasets, "import_rows", crash)
    project = project_factory()
    client = login_as(manager)
    content = "".join(json.dumps({"text": f"item {i} " + "x" * 40}) + "\n" for i in range(200))
    response = client.post(f"/api/v1/projects/{project.id}/datasets", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(content.encode()), "big.jsonl")})
    assert response.status_code == 202, response.json
    with read_session() as session:
        upload = Path(session.get(JobRecord, response.json["job"]["id"]).args["path"])
    run_jobs()
    assert client.get(f"/api/v1/jobs/{response.json['job']['id']}").json["status"] == "failed"
    dataset = client.get(f"/api/v1/datasets/{response.json['dataset']['id']}").json
    assert dataset["status"] == "failed" and dataset["error"]["code"] == "job_failed"
    assert not upload.exists()

