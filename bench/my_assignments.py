"""GET /me/assignments on PostgreSQL: one page of a busy worker's answers among many workers' answers.

    python bench/my_assignments.py [--tasks 200000] [--busy 50000] [--workers 300]

Fills a project with --tasks tasks and, for each of them, answers of other workers (--workers of them,
overlap 3) plus one answer of a busy worker on the first --busy tasks, then times the service call
behind the endpoint (the first page, a page deep in the list, a rare review status, a worker with few
answers) and prints the plan of the first page: a backward scan of ix_assignments_worker_history (partial
on every status, so that the claim query's probe never takes it for the (worker_id, task_id) key).
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import bench_database_url, fresh_database


def fill(url: str, tasks: int, busy: int, workers: int) -> tuple[int, int]:
    from sqlalchemy import text

    from backend import db
    from backend.services import accounts, projects

    accounts.configure_password_hashing(time_cost=1, memory_cost=1024)
    db.configure(url)
    org = accounts.create_organization(name=f"Bench {time.time_ns()}")
    manager = accounts.create_user(email=f"m{time.time_ns()}@bench.test", password="benchmark-pw", role="manager",
                                   organization_name=org.name)
    project = projects.create_project(principal=accounts.principal_for_user(manager), fields={
        "name": "History bench", "task_type": "single_choice", "labels": ["pos", "neg"], "overlap": 3,
        "status": "active"})
    with db.unit_of_work() as session:
        p = {"p": project.id, "o": org.id, "n": tasks, "w": workers, "busy": busy}
        session.execute(text("INSERT INTO datasets (project_id, format, status, batch_size, items_total, "
                             "tasks_created, duplicates_skipped, created_at) VALUES (:p, 'jsonl', 'ready', 1000, "
                             ":n, :n, 0, now())"), p)
        session.execute(text("INSERT INTO batches (project_id, dataset_id, number, priority, status, task_count, "
                             "completed_count, gold_count, created_at) SELECT :p, (SELECT max(id) FROM datasets), "
                             "1, 0, 'active', :n, 0, 0, now()"), p)
        session.execute(text("INSERT INTO tasks (project_id, batch_id, ordinal, external_id, data, required_overlap, "
                             "answer_count, leased_count, status, flagged, created_at) SELECT :p, "
                             "(SELECT max(id) FROM batches), g, 't' || g, jsonb_build_object('text', 'review ' || g), "
                             "3, 3, 0, 'complete', false, now() FROM generate_series(1, :n) g"), p)
        session.execute(text("INSERT INTO workers (organization_id, external_id, created_at) SELECT :o, 'w' || g, "
                             "now() FROM generate_series(0, :w) g"), p)
        first = session.execute(text("SELECT min(id) FROM workers WHERE organization_id = :o"), p).scalar_one()
        p["first"] = first
        # Three answers per task from the crowd (the busy worker, id first, takes one of them on its tasks).
        session.execute(text(
            "INSERT INTO assignments (project_id, batch_id, task_id, worker_id, status, leased_at, expires_at, "
            "submitted_at, ended_at, answer, is_gold, flagged, reward_amount, reward_currency, review_status, "
            "reviewed_at, review_reason) "
            "SELECT :p, t.batch_id, t.id, CASE WHEN k = 0 AND t.ordinal <= :busy THEN :first "
            "ELSE :first + 1 + (t.ordinal * 3 + k) % :w END, 'submitted', now() - interval '1 day' + t.ordinal * "
            "interval '1 ms', now(), now(), now(), '{\"choice\": \"pos\"}', false, false, 5, 'USD', "
            "CASE WHEN t.ordinal % 97 = 0 THEN 'rejected' ELSE 'approved' END, now(), "
            "CASE WHEN t.ordinal % 97 = 0 THEN 'Too fast' END "
            "FROM tasks t CROSS JOIN generate_series(0, 2) k WHERE t.project_id = :p"), p)
        session.execute(text("ANALYZE"))
    return first, first + 1


def timed(fn, repeat: int = 20) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--busy", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=300)
    args = parser.parse_args()
    url = bench_database_url()
    fresh_database(url)
    started = time.perf_counter()
    busy, other = fill(url, args.tasks, args.busy, args.workers)
    print(f"filled {args.tasks * 3} answers ({args.busy} of the busy worker) in {time.perf_counter() - started:.1f} s")

    from sqlalchemy import text

    from backend import db
    from backend.models.assignments import WORKER_HISTORY_SQL
    from backend.services.worker_assignments import list_worker_assignments

    deep = list_worker_assignments(worker_id=busy, limit=500, cursor=None)
    for _ in range(40):  # 20,000 answers down the list
        deep = list_worker_assignments(worker_id=busy, limit=500, cursor=deep.next_cursor)
    cases = {
        "busy worker, first page of 50": lambda: list_worker_assignments(worker_id=busy, limit=50, cursor=None),
        "busy worker, page 20,000 answers down": lambda: list_worker_assignments(worker_id=busy, limit=50,
                                                                                 cursor=deep.next_cursor),
        "busy worker, review_status=rejected": lambda: list_worker_assignments(
            worker_id=busy, limit=50, cursor=None, review_status="rejected"),
        "busy worker, first page of 500": lambda: list_worker_assignments(worker_id=busy, limit=500, cursor=None),
        f"a crowd worker (~{args.tasks * 3 // args.workers} answers), first page": lambda: list_worker_assignments(
            worker_id=other, limit=50, cursor=None),
    }
    for label, call in cases.items():
        median, worst = timed(call)
        print(f"{label:48s} median {median:7.2f} ms   max {worst:7.2f} ms")
    with db.read_session() as session:
        plan = session.execute(text(
            f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM assignments WHERE worker_id = :w "
            f"AND {WORKER_HISTORY_SQL} ORDER BY leased_at DESC, id DESC LIMIT 51"), {"w": busy}).scalars().all()
        sizes = session.execute(text(
            "SELECT pg_size_pretty(pg_relation_size('assignments')), "
            "pg_size_pretty(pg_relation_size('ix_assignments_worker_history')), "
            "pg_size_pretty(pg_indexes_size('assignments'))")).one()
    print("\n".join(plan))
    print(f"assignments: table {sizes[0]}, ix_assignments_worker_history {sizes[1]}, all its indexes {sizes[2]}")


if __name__ == "__main__":
    main()
