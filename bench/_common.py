"""Helpers shared by the benchmarks: a fresh PostgreSQL database, migrated."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/concord_bench"


def bench_database_url() -> str:
    return os.environ.get("CONCORD_BENCH_DATABASE_URL", DEFAULT_URL)


def fresh_database(url: str) -> None:
    """Create the database if needed, empty it, and migrate it to head."""
    import psycopg
    from alembic import command
    from sqlalchemy.engine import make_url

    from backend.cli import alembic_config

    parsed = make_url(url)
    admin = parsed.set(database="postgres").render_as_string(hide_password=False).replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{parsed.database}"')
    plain = url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    command.upgrade(alembic_config(url), "head")


def peak_rss_mb(who: str = "self") -> float:
    """Peak resident memory of this process. Reads VmHWM, which exec resets; ru_maxrss keeps the
    peak of the parent that forked the process, so a child measured with it reports at least that."""
    if who == "self":
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF if who == "self" else resource.RUSAGE_CHILDREN)
    return usage.ru_maxrss / 1024
