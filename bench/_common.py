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


def load_quality_module(name: str):
    """backend/quality/<name>.py loaded from its file: importing it through `backend` would also import
    Flask and SQLAlchemy (backend/__init__.py), which has nothing to do with a computation's memory.
    The module is loaded into a stand-in package for backend/quality, so that its relative imports
    (``from . import em``) find their siblings the same way."""
    import importlib.util
    import types

    package = sys.modules.get("bench_quality")
    if package is None:
        package = types.ModuleType("bench_quality")
        package.__path__ = [str(ROOT / "backend" / "quality")]
        sys.modules["bench_quality"] = package
    spec = importlib.util.spec_from_file_location(f"bench_quality.{name}", ROOT / "backend" / "quality" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def synthetic_crowd(tasks: int, per_task: int, labels: int, workers: int, seed: int = 7):
    """Long-format answers and the true labels: 60% good workers, 25% mediocre, 15% answering at random.

    Distinct workers on each task; errors uniform over the wrong labels; answers arrive interleaved,
    not task by task. Returns (task, worker, value, truth per task).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=workers, p=[0.6, 0.25, 0.15])
    accuracy = np.select(
        [kind == 0, kind == 1], [rng.uniform(0.75, 0.95, workers), rng.uniform(0.45, 0.75, workers)], 1 / labels
    )
    chosen = rng.integers(0, workers, size=(tasks, per_task))
    while True:  # distinct workers on a task: redraw the few tasks with a repeat
        ordered = np.sort(chosen, axis=1)
        repeat = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not repeat.any():
            break
        chosen[repeat] = rng.integers(0, workers, size=(int(repeat.sum()), per_task))
    truth = rng.integers(0, labels, tasks)
    task = np.repeat(np.arange(tasks), per_task)
    worker = chosen.ravel()
    wrong = (truth[task] + rng.integers(1, labels, task.size)) % labels
    value = np.where(rng.random(task.size) < accuracy[worker], truth[task], wrong)
    order = rng.permutation(task.size)
    return task[order], worker[order], value[order], truth
