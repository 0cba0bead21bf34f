"""The client against a live server: the test app served over real HTTP on a free port.

On the embedded default the app's in-process queue runs the jobs; on PostgreSQL and
Redis a thread runs an RQ worker (no signals, timer-based job timeouts) that keeps
working the queues in bursts, as ``concord worker`` would.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator

import pytest
from concord_client import Client, NoTask
from werkzeug.serving import make_server

from backend import jobs
from backend.services import accounts
from tests.conftest import TEST_REDIS_URL

REQUESTER_SCOPES = ["projects:read", "projects:write", "results:read", "payments:read", "payments:write"]
VENDOR_SCOPES = ["tasks:work", "projects:read"]
_names = itertools.count(1)
log = logging.getLogger(__name__)


def _rq_worker_thread() -> tuple[threading.Thread, threading.Event]:
    from rq import SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    class ThreadWorker(SimpleWorker):
        death_penalty_class = TimerDeathPenalty

        def _install_signal_handlers(self) -> None:  # signals belong to the main thread
            return None

    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                ThreadWorker(list(jobs.QUEUES), connection=jobs.backend().redis).work(burst=True,
                                                                                     logging_level="WARNING")
            except Exception:  # a test's cleanup flushing Redis mid-burst: try again
                log.exception("RQ worker burst failed")
            stop.wait(0.05)

    thread = threading.Thread(target=loop, name="rq-test-worker", daemon=True)
    thread.start()
    return thread, stop


@pytest.fixture(scope="package")
def live_server(app) -> Iterator[str]:
    """The base URL of the test app served by werkzeug in a thread. Package-scoped, so that the RQ
    worker thread stops before other packages' tests, which run their jobs themselves."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    worker = _rq_worker_thread() if TEST_REDIS_URL else None
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    if worker is not None:
        worker[1].set()
        worker[0].join(timeout=30)


def _org_key(name: str, scopes: list[str]) -> tuple[int, str]:
    organization = accounts.create_organization(name=f"{name} {next(_names)}")
    _token, secret = accounts.create_token(name="client-tests", organization_id=organization.id, scopes=scopes)
    return organization.id, secret


@pytest.fixture(autouse=True)
def _exports_in_test_dir(settings, monkeypatch):
    """Export jobs read their directory from the environment (as a worker process would): keep them
    in the test's var dir rather than the project's."""
    monkeypatch.setenv("CONCORD_EXPORT_DIR", str(settings.export_dir))
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)


@pytest.fixture
def connect(live_server):
    """Make a Client for a token, with short backoffs so that retries in tests stay fast."""
    opened: list[Client] = []

    def make(token: str, **options) -> Client:
        options.setdefault("backoff_base", 0.01)
        client = Client(live_server, token, **options)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


@pytest.fixture
def requester(connect) -> Client:
    """An organization key that runs projects: sets them up, reads results, reviews and pays."""
    _org_id, secret = _org_key("Requester", REQUESTER_SCOPES)
    return connect(secret)


@pytest.fixture
def vendor(connect) -> Client:
    """A vendor's organization key: it works on tasks for its own workers (X-Concord-Worker)."""
    _org_id, secret = _org_key("Vendor", VENDOR_SCOPES)
    return connect(secret)


def label_all(client: Client, project_id: int, worker: str, answer_for) -> list[dict]:
    """Claim and submit as ``worker`` until the project has nothing more for it; the submitted leases."""
    done = []
    while lease := client.assignments.claim(project_id, worker=worker):
        done.append(client.assignments.submit(lease["id"], answer_for(lease), active_seconds=7, worker=worker))
    assert isinstance(lease, NoTask)
    return done
