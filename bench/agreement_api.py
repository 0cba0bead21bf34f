"""Agreement endpoint at scale: a project with 1,000,000 answers on PostgreSQL.

    python bench/agreement_api.py [--tasks 200000] [--per-task 5] [--workers 2000]

Fills a project with answers straight in SQL (not timed), runs the report job
(timed: it reads every answer), then times `GET /api/v1/projects/{id}/agreement`
and `GET /api/v1/projects/{id}/workers/agreement`, which serve the stored report.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import bench_database_url, fresh_database, peak_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--per-task", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2_000)
    args = parser.parse_args()
    url = bench_database_url()
    fresh_database(url)

    from sqlalchemy import text

    from backend import create_app, db
    from backend.config import Settings
    from backend.jobs import new_job_id
    from backend.services import accounts, agreement, datasets, projects

    accounts.configure_password_hashing(time_cost=1, memory_cost=1024)
    app = create_app(Settings.from_env({"DATABASE_URL": url, "SECRET_KEY": "bench", "CONCORD_PERIODIC_JOBS": "0"}))
    org = accounts.create_organization(name="Agreement bench")
    manager = accounts.create_user(email="m@bench.test", password="benchmark-pw", role="manager",
                                   organization_name=org.name)
    principal = accounts.principal_for_user(manager)
    project = projects.create_project(principal=principal, fields={
        "name": "Agreement", "task_type": "single_choice", "labels": ["a", "b", "c", "d"],
        "overlap": args.per_task, "batch_size": 1000, "status": "active"})
    datasets.import_items(principal=principal, project_id=project.id, items=[{"n": i} for i in range(args.tasks)])
    t0 = time.perf_counter()
    with db.get_engine().begin() as conn:
        conn.execute(text("INSERT INTO workers (created_at) SELECT now() FROM generate_series(1, :w)"),
                     {"w": args.workers})
        first_worker = conn.execute(text("SELECT min(id) FROM workers WHERE user_id IS NULL")).scalar_one()
        # Each task gets per_task answers from distinct workers; a task's true label wins 70% of the time.
        conn.execute(text(
            "INSERT INTO assignments (project_id, batch_id, task_id, worker_id, status, leased_at, expires_at,"
            " submitted_at, answer, reward_amount, reward_currency, is_gold, flagged)"
            " SELECT t.project_id, t.batch_id, t.id, :w0 + ((t.id * 7 + k * 13) % :workers), 'submitted', now(),"
            "  now(), now(), jsonb_build_object('choice', (ARRAY['a','b','c','d'])["
            "   CASE WHEN random() < 0.7 THEN 1 + t.id % 4 ELSE 1 + floor(random() * 4)::int END]), 0, 'USD',"
            "  false, false"
            " FROM tasks t CROSS JOIN generate_series(0, :k - 1) k WHERE t.project_id = :p"),
            {"w0": first_worker, "workers": args.workers, "k": args.per_task, "p": project.id})
        conn.execute(text("ANALYZE assignments"))
    answers = args.tasks * args.per_task
    print(f"filled {answers:,} answers in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    agreement.compute_report(project_id=project.id, job_id=new_job_id())
    print(f"report job: {time.perf_counter() - t0:.1f} s for {answers:,} answers, "
          f"peak memory of this process {peak_rss_mb():.0f} MB")

    _token, secret = accounts.create_token(name="bench", user_id=manager.id)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    for path in ("agreement", "workers/agreement"):
        timings = []
        for _ in range(20):
            t0 = time.perf_counter()
            response = client.get(f"/api/v1/projects/{project.id}/{path}", headers=headers)
            timings.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.json
        body = response.json
        print(f"GET /projects/{{id}}/{path}: median {statistics.median(timings) * 1000:.0f} ms, "
              f"max {max(timings) * 1000:.0f} ms (status {body['status']}, target < 1 s)")
    report = client.get(f"/api/v1/projects/{project.id}/agreement", headers=headers).json
    print(f"alpha (nominal): {report['project']['alpha']}")


if __name__ == "__main__":
    main()
