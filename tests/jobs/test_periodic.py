"""Periodic jobs: lease expiry on RQ (through a real worker) and on the in-process timer."""

import time
from datetime import timedelta

import pytest

from backend import jobs
from backend.models import utcnow
from backend.services import assignments, datasets
from tests.conftest import TEST_REDIS_URL, principal_of


@pytest.fixture
def leased_then_late(project_factory, manager, user_factory, monkeypatch):
    project = project_factory(overlap=1, lease_seconds=5)
    datasets.import_items(principal=principal_of(manager), project_id=project.id, items=[{"t": 1}, {"t": 2}])
    for _ in range(2):
        worker = principal_of(user_factory("annotator"))
        assignments.claim_next_task(principal=worker, project_id=project.id, worker_id=worker.worker_id)
    real = utcnow
    monkeypatch.setattr(assignments, "utcnow", lambda: real() + timedelta(seconds=6))
    return project


def live_leases(project_id):
    from sqlalchemy import text

    from backend import db

    with db.read_session() as session:
        return session.execute(text("SELECT count(*) FROM assignments WHERE project_id = :p AND status = 'leased'"),
                               {"p": project_id}).scalar_one()


@pytest.mark.redis
def test_rq_cron_schedules_lease_expiry_and_a_worker_runs_it(leased_then_late, run_jobs):
    from rq.cron import CronScheduler

    assert TEST_REDIS_URL, "needs Redis: run it in the PostgreSQL + Redis leg (scripts/test.sh postgres)"

    scheduler = CronScheduler(connection=jobs.backend().redis)
    jobs.register_periodic(scheduler)
    assert [(j.func_name, j.interval, j.queue_name) for j in scheduler.get_jobs()] == [
        (func, every, queue) for func, queue, every in jobs.PERIODIC_JOBS]
    scheduler.enqueue_jobs()
    run_jobs()
    assert live_leases(leased_then_late.id) == 0


def test_in_process_timer_runs_lease_expiry(leased_then_late):
    queue = jobs.InProcessQueue()
    try:
        queue.start_periodic(jobs=(("worker.jobs.expire_leases", "default", 0),), tick=0.05)
        deadline = time.monotonic() + 10
        while live_leases(leased_then_late.id) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        queue.shutdown()
    assert live_leases(leased_then_late.id) == 0


def test_a_timer_tick_that_races_the_shutdown_submits_nothing_and_raises_nothing():
    queue = jobs.InProcessQueue(workers=1)
    ran = []
    queue.shutdown()
    queue._submit(lambda: ran.append(1))  # what the timer thread does when its tick lands after shutdown
    assert ran == []
