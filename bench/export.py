"""Export benchmark: a project with 1,000,000 answers on PostgreSQL, exported through the export job.

    python bench/export.py [--tasks 333334] [--per-task 3] [--repeat 1]

Fills a project with answers straight in SQL, runs consensus, vacuums and checkpoints
(not timed), then, in a child process per format so that each peak memory figure is its own,
runs the export job's body (``run_export``: rows stream from the database in
chunks into the format writer) for JSON Lines and for Parquet. Prints tasks/s,
file size and peak resident memory; with ``--repeat N`` each format runs N
times and the run with the median time is printed (the machine may be busy).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import bench_database_url, fresh_database, peak_rss_mb


def child(url: str, export_id: int, directory: str) -> None:
    from backend import db
    from backend.services import exports

    db.configure(url)
    started = time.perf_counter()
    result = exports.run_export(export_id=export_id, directory=Path(directory), salt="bench", ttl_hours=1)
    elapsed = time.perf_counter() - started
    print(json.dumps({"elapsed": elapsed, **result, "peak_mb": peak_rss_mb()}))


def fill(url: str, tasks: int, per_task: int) -> tuple[int, list[int]]:
    from sqlalchemy import text

    from backend import db
    from backend.jobs import new_job_id
    from backend.services import accounts, consensus, datasets, projects

    accounts.configure_password_hashing(time_cost=1, memory_cost=1024)
    db.configure(url)
    org = accounts.create_organization(name="Export bench")
    manager = accounts.create_user(email="m@bench.test", password="benchmark-pw", role="manager",
                                   organization_name=org.name)
    principal = accounts.principal_for_user(manager)
    project = projects.create_project(principal=principal, fields={
        "name": "Export", "task_type": "single_choice", "labels": ["positive", "negative", "neutral"],
        "overlap": per_task, "batch_size": 1000, "status": "active", "consensus_method": "majority"})
    datasets.import_items(principal=principal, project_id=project.id,
                          items=[{"external_id": f"t{i}", "text": f"review number {i}, fine"} for i in range(tasks)])
    with db.get_engine().begin() as conn:
        conn.execute(text("INSERT INTO workers (created_at) SELECT now() FROM generate_series(1, 500)"))
        w0 = conn.execute(text("SELECT min(id) FROM workers")).scalar_one()
        conn.execute(text(
            "INSERT INTO assignments (project_id, batch_id, task_id, worker_id, status, leased_at, expires_at,"
            " submitted_at, answer, active_seconds, reward_amount, reward_currency, is_gold, flagged)"
            " SELECT t.project_id, t.batch_id, t.id, :w0 + ((t.id * 7 + k * 13) % 500), 'submitted', now(), now(),"
            "  now(), jsonb_build_object('choice', (ARRAY['positive','negative','neutral'])[1 + (t.id + k) % 3]),"
            "  5, 0, 'USD', false, false"
            " FROM tasks t CROSS JOIN generate_series(0, :k - 1) k WHERE t.project_id = :p"),
            {"w0": w0, "k": per_task, "p": project.id})
        conn.execute(text("ANALYZE"))
    consensus.run_consensus(project_id=project.id, job_id=new_job_id())
    # Measure a settled database, as a project's data is by export time: rows vacuumed (hint bits set, pages
    # all-visible) and the fill's writes flushed, not a checkpoint writing them out during the runs.
    with db.get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) tasks, assignments, consensus_results"))
        conn.execute(text("CHECKPOINT"))
    ids = []
    for fmt in ("jsonl", "parquet"):
        export = exports_create(principal, project.id, fmt)
        ids.append(export)
    return project.id, ids


def exports_create(principal, project_id: int, fmt: str) -> int:
    from backend.jobs import new_job_id
    from backend.services import exports

    return exports.create_export(principal=principal, project_id=project_id, fmt=fmt, batch_ids=None, include=None,
                                 job_id=new_job_id()).id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=333_334)
    parser.add_argument("--per-task", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="runs per format; the median run is printed")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = bench_database_url()
    if args.child:
        child(url, int(args.child[0]), args.child[1])
        return
    fresh_database(url)
    t0 = time.perf_counter()
    _project, ids = fill(url, args.tasks, args.per_task)
    print(f"filled {args.tasks:,} tasks x {args.per_task} = {args.tasks * args.per_task:,} answers "
          f"and ran consensus in {time.perf_counter() - t0:.1f} s (not timed below)")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, export_id in zip(("jsonl", "parquet"), ids, strict=True):
            runs = []
            for _ in range(args.repeat):
                out = subprocess.run([sys.executable, __file__, "--child", str(export_id), tmp], check=True,
                                     capture_output=True, text=True).stdout
                runs.append(json.loads(out.strip().splitlines()[-1]))
            figures = sorted(runs, key=lambda r: r["elapsed"])[len(runs) // 2]
            rates = [r["tasks"] / r["elapsed"] for r in runs]
            spread = (f" (runs: {', '.join(f'{rate:,.0f}' for rate in rates)} tasks/s; "
                      f"median {statistics.median(rates):,.0f})" if len(runs) > 1 else "")
            print(f"{fmt:8} {figures['tasks']:,} tasks in {figures['elapsed']:.1f} s = "
                  f"{figures['tasks'] / figures['elapsed']:,.0f} tasks/s, file {figures['size_bytes'] / 1e6:.0f} MB, "
                  f"peak memory {figures['peak_mb']:.0f} MB{spread}")


if __name__ == "__main__":
    main()
