"""The engine's invariants under real concurrency.

On PostgreSQL (the suite's second leg) 40 workers run at once, on SQLite 12:
every task ends with exactly its required answers from distinct workers, no
accepted answer is lost, expired leases are reclaimed, late answers never push
a task over its overlap, and a fractional overlap gives the expected mix.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import text

from backend import db
from backend.models import utcnow
from backend.services import accounts, assignments, datasets
from backend.services.assignments import Actor, NoTask
from tests.conftest import ON_POSTGRES, principal_of

CROWD = 40 if ON_POSTGRES else 12


class Clock:
    def __init__(self):
        self.offset = timedelta(0)

    def now(self):
        return utcnow() + self.offset


def annotators(user_factory, n):
    return [accounts.principal_for_user(accounts.get_user(user_id=user_factory("annotator").id)) for _ in range(n)]


def run_threads(targets):
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def wrap(fn):
        def run():
            barrier.wait()
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]


def state(project_id):
    with db.read_session() as session:
        tasks = session.execute(text(
            "SELECT id, required_overlap, answer_count, leased_count, status FROM tasks WHERE project_id = :p"),
            {"p": project_id}).all()
        answers = session.execute(text(
            "SELECT task_id, worker_id FROM assignments WHERE project_id = :p AND status = 'submitted'"),
            {"p": project_id}).all()
        leased = session.execute(text(
            "SELECT task_id, count(*) FROM assignments WHERE project_id = :p AND status = 'leased' GROUP BY task_id"),
            {"p": project_id}).all()
    return tasks, answers, dict(leased)


def test_crowd_with_abandoned_leases_and_late_answers_keeps_every_invariant(
        project_factory, manager, user_factory, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(assignments, "utcnow", clock.now)
    project = project_factory(overlap=2.5, max_overlap=3, lease_seconds=30, batch_size=20)
    n_tasks = 60
    datasets.import_items(principal=principal_of(manager), project_id=project.id,
                          items=[{"text": f"t{i}"} for i in range(n_tasks)])
    rng = random.Random(42)
    abandoned: list[tuple[int, int]] = []
    accepted: list[int] = []
    lock = threading.Lock()

    def worker(principal, abandon_rate):
        def work():
            while True:
                lease = assignments.claim_next_task(principal=principal, project_id=project.id,
                                                    worker_id=principal.worker_id)
                if isinstance(lease, NoTask):
                    return
                with lock:
                    leave = rng.random() < abandon_rate
                if leave:
                    with lock:
                        abandoned.append((principal.worker_id, lease.assignment.id))
                    return
                done = assignments.submit_answer(assignment_id=lease.assignment.id,
                                                 actor=Actor(worker_id=principal.worker_id),
                                                 answer={"choice": rng.choice(["pos", "neg"])})
                with lock:
                    accepted.append(done.assignment.id)

        return work

    # Phase 1: a crowd where some workers walk away holding a lease.
    run_threads([worker(p, 0.15) for p in annotators(user_factory, CROWD)])
    assert abandoned, "the scenario needs abandoned leases"

    # Phase 2: the leases expire; fresh workers finish while the walkers come back with late answers.
    clock.offset = timedelta(seconds=31)
    late_results: Counter = Counter()

    def late(worker_id, assignment_id):
        def run():
            try:
                assignments.submit_answer(assignment_id=assignment_id, actor=Actor(worker_id=worker_id),
                                          answer={"choice": "pos"})
                with lock:
                    accepted.append(assignment_id)
                    late_results["accepted"] += 1
            except Exception as exc:
                assert getattr(exc, "code", None) == "lease_expired", exc
                with lock:
                    late_results["refused"] += 1

        return run

    fresh = [worker(p, 0.0) for p in annotators(user_factory, CROWD)]
    run_threads(fresh + [late(w, a) for w, a in abandoned])
    assert sum(late_results.values()) == len(abandoned)

    tasks, answers, leased = state(project.id)
    per_task = Counter(task_id for task_id, _ in answers)
    assert len(answers) == len(accepted)  # no accepted answer lost
    assert len(set(answers)) == len(answers)  # no worker answered a task twice
    for task_id, required, answer_count, leased_count, status in tasks:
        assert per_task[task_id] == required == answer_count, (task_id, per_task[task_id], required)
        assert status == "complete"
        assert leased_count == leased.get(task_id, 0)
    assert Counter(required for _, required, *_ in tasks) == {2: n_tasks // 2, 3: n_tasks // 2}


def test_concurrent_requests_over_http_never_fail_or_over_fill(app, project_factory, manager, user_factory,
                                                                api_key):
    project = project_factory(overlap=3, batch_size=10)
    datasets.import_items(principal=principal_of(manager), project_id=project.id,
                          items=[{"text": f"t{i}"} for i in range(15)])
    clients = [api_key(user=user_factory("annotator")) for _ in range(min(CROWD, 16))]
    statuses: Counter = Counter()
    lock = threading.Lock()

    def work(client):
        def run():
            while True:
                response = client.post(f"/api/v1/projects/{project.id}/assignments")
                with lock:
                    statuses[response.status_code] += 1
                if response.status_code == 204:
                    return
                done = client.post(f"/api/v1/assignments/{response.json['id']}/submit",
                                   json={"answer": {"choice": "neu"}})
                with lock:
                    statuses[done.status_code] += 1

        return run

    run_threads([work(c) for c in clients])
    assert set(statuses) <= {200, 201, 204}, statuses
    tasks, answers, _ = state(project.id)
    assert len(answers) == 45 and all(t.answer_count == 3 for t in tasks)


@pytest.mark.parametrize("same_worker_requests", [8])
def test_a_worker_retrying_claims_in_parallel_gets_one_lease(project_factory, manager, user_factory,
                                                             same_worker_requests):
    project = project_factory(overlap=1)
    datasets.import_items(principal=principal_of(manager), project_id=project.id,
                          items=[{"text": f"t{i}"} for i in range(20)])
    (principal,) = annotators(user_factory, 1)
    ids: list[int] = []
    lock = threading.Lock()

    def claim():
        lease = assignments.claim_next_task(principal=principal, project_id=project.id,
                                            worker_id=principal.worker_id)
        with lock:
            ids.append(lease.assignment.id)

    run_threads([claim] * same_worker_requests)
    assert len(set(ids)) == 1
