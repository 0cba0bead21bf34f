"""Fixtures in the Flask tutorial's spirit: app, client, factories, login_as, api_key.

The suite runs on the embedded default (SQLite file, in-process queue) unless
``CONCORD_TEST_DATABASE_URL`` / ``CONCORD_TEST_REDIS_URL`` point it at
PostgreSQL and Redis. The schema is built once by Alembic; each test ends by
emptying every table, which is cheap and keeps tests independent.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from backend import create_app, db, jobs
from backend.config import Settings, normalise_database_url
from backend.models import Base
from backend.services import accounts, projects
from backend.services.access import Principal

accounts.configure_password_hashing(time_cost=1, memory_cost=1024)

TEST_DATABASE_URL = os.environ.get("CONCORD_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("CONCORD_TEST_REDIS_URL")
ON_POSTGRES = bool(TEST_DATABASE_URL)

_counter = itertools.count(1)


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def settings_env(tmp_path_factory) -> dict[str, str]:
    """The environment the suite's settings are read from (a CLI run in the suite reads the same)."""
    var_dir = tmp_path_factory.mktemp("var")
    if TEST_DATABASE_URL:
        url = normalise_database_url(TEST_DATABASE_URL)
        _reset_postgres(url)
    else:
        url = f"sqlite:///{var_dir / 'test.db'}"
    if TEST_REDIS_URL:
        from redis import Redis

        Redis.from_url(TEST_REDIS_URL).flushdb()
    env = {"CONCORD_VAR_DIR": str(var_dir), "DATABASE_URL": url, "SECRET_KEY": "test-secret",
           "CONCORD_IMPORT_INLINE_MAX_BYTES": "4096", "CONCORD_LOGIN_RATE_LIMIT": "5 per minute",
           # Tests run periodic jobs themselves, at the moment they choose.
           "CONCORD_PERIODIC_JOBS": "0",
           # Test receivers listen on 127.0.0.2; every other private address stays refused.
           "CONCORD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.2/32"}
    if TEST_REDIS_URL:
        env["REDIS_URL"] = TEST_REDIS_URL
    return env


@pytest.fixture(scope="session")
def settings(settings_env) -> Settings:
    return Settings.from_env(settings_env)


@pytest.fixture(scope="session")
def migrated(settings):
    from alembic import command

    from backend.cli import alembic_config

    command.upgrade(alembic_config(settings.database_url), "head")
    return settings


@pytest.fixture(scope="session")
def app(migrated):
    application = create_app(migrated)
    application.config.update(TESTING=True)
    yield application
    jobs.backend().shutdown()
    db.dispose()


@pytest.fixture(autouse=True)
def _clean(request):
    yield
    if "app" not in request.fixturenames:
        return
    jobs.backend().drain()
    from backend.extensions import limiter

    limiter.reset()
    engine = db.get_engine()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    for attempt in itertools.count(1):
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
                else:
                    for table in tables:
                        conn.execute(text(f"DELETE FROM {table}"))
            break
        except OperationalError as exc:
            # A live server's last request or its worker's job may still hold row locks that TRUNCATE's
            # table locks cross; PostgreSQL ends one side of that deadlock, and the other finishes.
            if attempt == 5 or not isinstance(exc.orig, psycopg.errors.DeadlockDetected):
                raise
            time.sleep(0.2 * attempt)
    if TEST_REDIS_URL:
        jobs.backend().redis.flushdb()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app, settings_env, monkeypatch):
    """Run a ``concord`` command in this process, with the suite's settings."""
    from click.testing import CliRunner

    from backend.cli import main

    # The commands configure this process's queue; give the suite its own back afterwards.
    monkeypatch.setattr(jobs, "_backend", jobs.backend())
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


@pytest.fixture
def run_jobs(app):
    """Run every queued job to the end: a real RQ worker in burst mode, or the in-process pool."""

    def run() -> None:
        backend = jobs.backend()
        if isinstance(backend, jobs.RQQueues):
            from rq import SimpleWorker

            SimpleWorker(list(jobs.QUEUES), connection=backend.redis).work(burst=True)
        else:
            backend.drain()

    return run


# --- factories ------------------------------------------------------------------


@pytest.fixture
def org_factory(app):
    def make(name: str | None = None):
        return accounts.create_organization(name=name or f"Org {next(_counter)}")

    return make


@pytest.fixture
def user_factory(app, org_factory):
    def make(role: str = "annotator", organization=None, email: str | None = None,
             password: str = "correct horse battery"):
        if role == "manager" and organization is None:
            organization = org_factory()
        user = accounts.create_user(email=email or f"{role}{next(_counter)}@example.test", password=password,
                                    role=role, organization_name=organization.name if organization else None)
        user.password = password
        return user

    return make


class AuthedClient:
    """A test client that sends the same credentials (and CSRF header) on every call."""

    def __init__(self, client, headers: dict[str, str]):
        self.client, self.headers = client, headers

    def __getattr__(self, method):
        def call(path, **kwargs):
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return getattr(self.client, method)(path, headers=headers, **kwargs)

        return call


@pytest.fixture
def login_as(app):
    """A client logged in as ``user`` with a browser session."""

    def login(user) -> AuthedClient:
        c = app.test_client()
        response = c.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
        assert response.status_code == 200, response.json
        return AuthedClient(c, {"X-CSRF-Token": response.json["csrf_token"]})

    return login


@pytest.fixture
def api_key(app):
    """A client authenticated by a bearer token of ``user`` or of ``organization``."""

    def make(*, user=None, organization=None, scopes=None) -> AuthedClient:
        if user is not None:
            _token, secret = accounts.create_token(name="test", user_id=user.id, scopes=scopes)
        else:
            _token, secret = accounts.create_token(name="test", organization_id=organization.id, scopes=scopes)
        return AuthedClient(app.test_client(), {"Authorization": f"Bearer {secret}"})

    return make


def principal_of(user) -> Principal:
    return accounts.principal_for_user(accounts.get_user(user_id=user.id))


@pytest.fixture
def manager(user_factory):
    return user_factory("manager")


@pytest.fixture
def project_factory(app, manager):
    """Create a project (active by default) owned by ``owner`` (default: the ``manager`` fixture)."""

    def make(owner=None, **fields):
        body = {"name": "Sentiment", "task_type": "single_choice", "labels": ["pos", "neg", "neu"],
                "overlap": 3, "status": "active", "batch_size": 10}
        body.update(fields)
        return projects.create_project(principal=principal_of(owner or manager), fields=body)

    return make


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).parent / "data"
