"""Redis down (issue 14, low): stored work is not answered with a 500, queue-backed requests answer
503 with Retry-After, lists answer from the database, queued work runs once Redis is back, and the
login limits keep holding.

The jobs backend is swapped, for one test, for RQ queues on a Redis server the test starts and stops
itself (port 6390, never the shared one), or on a closed port.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from redis import Redis

from backend import create_app, jobs
from backend.models import Event
from backend.services import datasets
from tests.conftest import principal_of
from worker import jobs as worker_jobs

CLOSED = "redis://127.0.0.1:1/0"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A redis-server of the test's own that it can stop and start again."""

    def __init__(self, tmp_path):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if Redis.from_url(self.url).ping():
                    return
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.1)
        raise AssertionError("own redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


@pytest.fixture
def queue_on(app, monkeypatch):
    """Point the jobs backend at ``url`` for this test (the session's backend is put back after)."""

    def swap(url: str) -> jobs.RQQueues:
        rq = jobs.RQQueues(url)
        monkeypatch.setattr(jobs, "_backend", rq)
        return rq

    return swap


@pytest.fixture
def own_redis(tmp_path):
    # .ci/run installs redis-server; a machine without it fails here rather than skipping.
    assert shutil.which("redis-server"), "these tests start a redis-server of their own: install it"
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


def test_submit_that_completes_a_batch_answers_200_when_redis_is_down_and_consensus_follows_later(
        project_factory, manager, api_key, user_factory, queue_on, mgr):
    project = project_factory(overlap=1, batch_size=1)
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "only"}])
    worker = api_key(user=user_factory("annotator"))
    lease = worker.post(f"/api/v1/projects/{project.id}/assignments")
    assert lease.status_code == 201, lease.json
    queue_on(CLOSED)
    done = worker.post(f"/api/v1/assignments/{lease.json['id']}/submit", json={"answer": {"choice": "pos"}})
    assert done.status_code == 200, done.json
    # The same submit again is the idempotent replay, not a second answer.
    again = worker.post(f"/api/v1/assignments/{lease.json['id']}/submit", json={"answer": {"choice": "pos"}})
    assert again.status_code == 200
    # The completion event waits in the database for the dispatcher.
    from backend.db import read_session

    with read_session() as session:
        (event,) = session.query(Event).filter(Event.kind == "batch.completed").all()
        assert event.project_id == project.id


def test_export_and_consensus_requests_answer_503_with_retry_after_when_redis_is_down(project_factory, manager,
                                                                                      queue_on, mgr):
    project = project_factory()
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "a"}])
    queue_on(CLOSED)
    for path, body in ((f"/api/v1/projects/{project.id}/exports", {"format": "jsonl"}),
                       (f"/api/v1/projects/{project.id}/consensus", {})):
        response = mgr.post(path, json=body)
        assert response.status_code == 503, (path, response.status_code, response.json)
        assert response.headers["Retry-After"].isdigit()
        assert response.json["error"]["code"] == "queue_unavailable"


def test_lists_of_exports_and_jobs_answer_from_the_database_when_redis_is_down(project_factory, manager, queue_on,
                                                                               mgr, own_redis):
    project = project_factory()
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "a"}])
    queue_on(own_redis.url)
    made = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "jsonl"})
    assert made.status_code == 202, made.json
    own_redis.stop()
    exports = mgr.get(f"/api/v1/projects/{project.id}/exports")
    assert exports.status_code == 200, exports.json
    assert [e["status"] for e in exports.json["items"]] == ["queued"]
    listed = mgr.get("/api/v1/jobs")
    assert listed.status_code == 200 and [j["status"] for j in listed.json["items"]] == ["queued"]
    assert mgr.get(f"/api/v1/jobs/{made.json['job']['id']}").status_code == 200


def test_export_requested_while_redis_was_down_runs_once_it_is_back(project_factory, manager, queue_on, mgr,
                                                                    own_redis, settings, monkeypatch):
    monkeypatch.setenv("CONCORD_VAR_DIR", str(settings.var_dir))
    project = project_factory()
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"text": "a"}])
    rq = queue_on(own_redis.url)
    own_redis.stop()
    refused = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "jsonl"})
    assert refused.status_code == 503
    job_id = refused.json["error"]["details"]["job_id"]
    (export,) = mgr.get(f"/api/v1/projects/{project.id}/exports").json["items"]
    assert export["status"] == "queued"

    own_redis.start()
    # The periodic reaper (worker.jobs.recover_jobs), judged a minute after the request's grace.
    assert jobs.recover(at=time.time() + 3600) == 1
    from rq import SimpleWorker

    SimpleWorker(list(jobs.QUEUES), connection=rq.redis).work(burst=True)
    assert mgr.get(f"/api/v1/exports/{export['id']}").json["status"] == "ready"
    assert mgr.get(f"/api/v1/jobs/{job_id}").json["status"] == "finished"
    assert jobs.recover(at=time.time() + 3600) == 0  # queued once, not again


def test_webhook_redelivery_answers_503_with_retry_after_when_redis_is_down(mgr, queue_on):
    from tests.api.test_webhooks import Receiver

    receiver = Receiver()
    try:
        hook = mgr.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["payout.created"]}).json
        mgr.post("/api/v1/payouts", json={"currency": "EUR"})
        queue_on(CLOSED)
        worker_jobs.dispatch_events()
        worker_jobs.deliver_webhooks()
    finally:
        receiver.close()
    (delivery,) = mgr.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json["items"]
    response = mgr.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
    assert response.status_code == 503, response.json
    assert response.headers["Retry-After"].isdigit()


@pytest.fixture
def app_with_redis_down(app, settings, monkeypatch):
    """A second app whose limit store and queue are an unreachable Redis; the session app's limiter
    state is put back after."""
    from backend.extensions import limiter

    monkeypatch.setattr(jobs, "_backend", jobs.RQQueues(CLOSED))
    saved = dict(vars(limiter))  # init_app rebinds the one limiter's storage: put the session's back after
    down = create_app(settings.with_overrides(redis_url=CLOSED))
    down.config.update(TESTING=True)
    yield down
    vars(limiter).clear()
    vars(limiter).update(saved)


def test_login_attempts_are_still_limited_when_redis_is_down(app_with_redis_down, user_factory):
    user = user_factory("manager")
    client = app_with_redis_down.test_client()
    codes = [client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong"}).status_code
             for _ in range(8)]
    assert codes[:5] == [401] * 5  # the test settings allow 5 per minute
    assert 429 in codes[5:], codes
