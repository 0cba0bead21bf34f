"""The one place that creates the engine and sessions.

Services open a ``unit_of_work()`` to write; it commits on success and rolls
back on error. On SQLite it starts with ``BEGIN IMMEDIATE``, taking the write
lock at once: every read-then-write section (claiming a task, say) is then
serialized across threads and processes, and no transaction fails half-way
when it would upgrade from reading to writing. On PostgreSQL row locks do that
work. ``read_session()`` is for reads and never blocks writers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

_engine: Engine | None = None
_immediate_engine: Engine | None = None
_read_engine: Engine | None = None
_session_factory: sessionmaker[Session] | None = None
_immediate_factory: sessionmaker[Session] | None = None


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see do_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = "BEGIN IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate") else "BEGIN"
        conn.exec_driver_sql(mode)


def _fast_json_for_psycopg() -> None:
    # psycopg decodes json/jsonb with the standard library by default; orjson is several times faster
    # on the paths that read many answers (exports, consensus, agreement).
    import orjson
    from psycopg.types.json import set_json_loads

    set_json_loads(orjson.loads)


def make_engine(url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 10) -> Engine:
    """Create an engine with the settings Concord relies on for each backend."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            pool_size=pool_size,
            max_overflow=20,
        )
        _install_sqlite_hooks(engine, busy_timeout_ms)
        return engine
    _fast_json_for_psycopg()
    # No pre-ping: it costs a round trip per checkout on every request. A connection that the
    # server dropped fails one statement, and SQLAlchemy then invalidates the whole pool.
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_recycle=1800)


def configure(url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 10) -> Engine:
    """Point the process at a database. Called by create_app and by the worker."""
    global _engine, _immediate_engine, _read_engine, _session_factory, _immediate_factory
    if _engine is not None and _engine.url.render_as_string(hide_password=False) == url:
        return _engine
    dispose()
    _engine = make_engine(url, busy_timeout_ms=busy_timeout_ms, pool_size=pool_size)
    _immediate_engine = _engine.execution_options(sqlite_immediate=True)
    # Reads run in autocommit on PostgreSQL: no BEGIN/ROLLBACK round trips around a SELECT.
    _read_engine = _engine if _engine.dialect.name == "sqlite" else _engine.execution_options(
        isolation_level="AUTOCOMMIT")
    _session_factory = sessionmaker(_read_engine, expire_on_commit=False)
    _immediate_factory = sessionmaker(_immediate_engine, expire_on_commit=False)
    return _engine


def dispose() -> None:
    global _engine, _immediate_engine, _read_engine, _session_factory, _immediate_factory
    if _engine is not None:
        _engine.dispose()
    _engine = _immediate_engine = _read_engine = None
    _session_factory = _immediate_factory = None


def get_engine() -> Engine:
    if _engine is None:
        raise RuntimeError("database not configured: call backend.db.configure() first")
    return _engine


def is_sqlite() -> bool:
    return get_engine().dialect.name == "sqlite"


def is_postgres(session: Session | None = None) -> bool:
    """Whether the session's database (by default, the configured one) is PostgreSQL."""
    return (session.get_bind() if session is not None else get_engine()).dialect.name == "postgresql"


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """A session whose transaction commits when the block ends without error."""
    factory = _immediate_factory
    if factory is None:
        raise RuntimeError("database not configured: call backend.db.configure() first")
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for reads; it never commits."""
    if _session_factory is None:
        raise RuntimeError("database not configured: call backend.db.configure() first")
    session = _session_factory()
    try:
        yield session
    finally:
        # close() ends the transaction without expiring what was loaded.
        session.close()


@contextmanager
def read_connection() -> Iterator[Connection]:
    """A Core connection for reads, like ``read_session()`` without the ORM: for per-request lookups."""
    if _read_engine is None:
        raise RuntimeError("database not configured: call backend.db.configure() first")
    with _read_engine.connect() as connection:
        yield connection


def _after_fork_in_child() -> None:
    # Pooled connections must never be shared with a forked RQ work horse.
    if _engine is not None:
        _engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)
