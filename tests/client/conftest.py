"""The client against a live server: the test app served over real HTTP on a free port."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from concord_client import Client, NoTask

from backend.services import accounts
from tests.live_server import keep_exports_in_test_dir, serving

REQUESTER_SCOPES = ["projects:read", "projects:write", "results:read", "payments:read", "payments:write"]
VENDOR_SCOPES = ["tasks:work", "projects:read"]
_names = itertools.count(1)


@pytest.fixture(scope="package")
def live_server(app) -> Iterator[str]:
    """Package-scoped, so that the RQ worker thread stops before other packages' tests, which run
    their jobs themselves."""
    with serving(app) as url:
        yield url


def _org_key(name: str, scopes: list[str]) -> tuple[int, str]:
    organization = accounts.create_organization(name=f"{name} {next(_names)}")
    _token, secret = accounts.create_token(name="client-tests", organization_id=organization.id, scopes=scopes)
    return organization.id, secret


@pytest.fixture(autouse=True)
def _exports_in_test_dir(settings, monkeypatch):
    keep_exports_in_test_dir(settings, monkeypatch)


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
