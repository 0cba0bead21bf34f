"""Review decisions benchmark: what it costs that a rejection takes its answers out of the counts.

    python bench/review.py [--tasks 20000] [--workers 10]

A PostgreSQL project of complete tasks (overlap 3, answers inserted in bulk, not timed) whose
answers are pending review. Then, in one run, the same number of answers is
- rejected in bulk (one worker's answers: each task is locked, recounted and reopened, its batch
  opened again, the stale results recorded), and
- approved in bulk (another worker's answers: earnings posted, nothing recounted), the peer;
and 50 single rejections against 50 single approvals. Prints the times and their ratio.
"""

from __future__ import annotations

import argparse
import os
import time

from _common import DEFAULT_URL, fresh_database

URL = os.environ.get("CONCORD_BENCH_DATABASE_URL", DEFAULT_URL.replace("concord_bench", "concord_bench_review"))


def setup(tasks: int, workers: int):
    import psycopg

    from backend import db
    from backend.services import accounts, datasets, projects

    db.configure(URL)
    org = accounts.create_organization(name="Bench")
    manager = accounts.create_user(email="bench@example.test", password="benchmark-pw", role="manager",
                                   organization_name=org.name)
    principal = accounts.principal_for_user(manager)
    project = projects.create_project(principal=principal, fields={
        "name": "Review bench", "task_type": "single_choice", "labels": ["a", "b"], "overlap": 3,
        "batch_size": 1000, "status": "active"})
    datasets.import_items(principal=principal, project_id=project.id,
                          items=[{"text": f"item {i}"} for i in range(tasks)])
    ids = [accounts.create_user(email=f"w{i}@example.test", password="benchmark-pw", role="annotator").id
           for i in range(workers)]
    plain = URL.replace("+psycopg", "")
    with psycopg.connect(plain) as conn:
        worker_ids = [r[0] for r in conn.execute("SELECT id FROM workers WHERE user_id = ANY(%s) ORDER BY id",
                                                 (ids,))]
        rows = conn.execute("SELECT id, batch_id FROM tasks WHERE project_id = %s ORDER BY id",
                            (project.id,)).fetchall()
        with conn.cursor().copy(
                "COPY assignments (project_id, batch_id, task_id, worker_id, status, leased_at, expires_at, "
                "submitted_at, ended_at, answer, is_gold, flagged, reward_amount, reward_currency, review_status) "
                "FROM STDIN") as copy:
            for n, (task_id, batch_id) in enumerate(rows):
                for k in range(3):
                    worker = worker_ids[(n + k) % len(worker_ids)]
                    copy.write_row((project.id, batch_id, task_id, worker, "submitted", "2026-01-01T00:00:00Z",
                                    "2026-01-01T00:10:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:00Z",
                                    '{"choice": "a"}', False, False, 5, "USD", "pending"))
        conn.execute("UPDATE tasks SET answer_count = 3, status = 'complete', completed_at = now() "
                     "WHERE project_id = %s", (project.id,))
        conn.execute("UPDATE batches SET completed_count = task_count, completed_at = now() WHERE project_id = %s",
                     (project.id,))
        conn.execute("ANALYZE")
    return principal, project, worker_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=10)
    args = parser.parse_args()
    fresh_database(URL)
    principal, project, worker_ids = setup(args.tasks, args.workers)

    from backend.db import read_session
    from backend.models import Assignment, Task
    from backend.services import review

    timed = {}
    started = time.perf_counter()
    rejected = review.review_in_bulk(principal=principal, project_id=project.id, action="reject",
                                     reason="bench", worker_id=worker_ids[0])["rejected"]
    timed["bulk reject"] = time.perf_counter() - started
    started = time.perf_counter()
    approved = review.review_in_bulk(principal=principal, project_id=project.id, action="approve",
                                     worker_id=worker_ids[1])["approved"]
    timed["bulk approve"] = time.perf_counter() - started
    with read_session() as session:
        reopened = session.query(Task).filter_by(project_id=project.id, status="open").count()
        pending = [a.id for a in session.query(Assignment).filter_by(
            project_id=project.id, review_status="pending").order_by(Assignment.id).limit(100)]
    started = time.perf_counter()
    for assignment_id in pending[:50]:
        review.decide(principal=principal, assignment_id=assignment_id, approve=False, reason="bench")
    timed["50 single rejects"] = time.perf_counter() - started
    started = time.perf_counter()
    for assignment_id in pending[50:]:
        review.decide(principal=principal, assignment_id=assignment_id, approve=True)
    timed["50 single approvals"] = time.perf_counter() - started

    print(f"tasks {args.tasks}, answers {3 * args.tasks}, workers {args.workers}")
    print(f"bulk reject   {rejected:>6} answers  {timed['bulk reject']:.2f} s  ({reopened} tasks reopened)")
    print(f"bulk approve  {approved:>6} answers  {timed['bulk approve']:.2f} s")
    print(f"ratio reject / approve (bulk): {timed['bulk reject'] / timed['bulk approve']:.2f}")
    print(f"single reject {1000 * timed['50 single rejects'] / 50:.1f} ms, single approve "
          f"{1000 * timed['50 single approvals'] / 50:.1f} ms, ratio "
          f"{timed['50 single rejects'] / timed['50 single approvals']:.2f}")


if __name__ == "__main__":
    main()
