"""The per-request paths (token lookup, claim, submit) keep their answers on every backend.

On PostgreSQL these run as a few combined statements; the checks here hold on both legs.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from backend import db
from backend.errors import Conflict, NotFound, Unauthorized
from backend.models import Event, utcnow
from backend.services import accounts, assignments, batches, datasets, picking
from backend.services.assignments import Actor, NoTask
from tests.conftest import principal_of


def _set(sql: str, **params) -> None:
    with db.get_engine().begin() as conn:
        conn.execute(text(sql), params)


def test_a_revoked_or_rotated_token_stops_working_at_once(app, manager, user_factory):
    annotator = user_factory("annotator")
    token, secret = accounts.create_token(name="t", user_id=annotator.id)
    principal = accounts.resolve_token(secret=secret)
    assert principal.user_id == annotator.id and principal.worker_id is not None and principal.token_id == token.id

    owner = principal_of(annotator)
    _token, new = accounts.rotate_token(principal=owner, token_id=token.id, grace_seconds=3600)
    assert accounts.resolve_token(secret=new).token_id == token.id
    assert accounts.resolve_token(secret=secret).token_id == token.id  # within the grace period
    _set("UPDATE api_tokens SET previous_valid_until = :t WHERE id = :id", t=utcnow() - timedelta(seconds=1),
         id=token.id)
    with pytest.raises(Unauthorized):
        accounts.resolve_token(secret=secret)

    _token, newest = accounts.rotate_token(principal=owner, token_id=token.id, grace_seconds=0)
    with pytest.raises(Unauthorized):
        accounts.resolve_token(secret=new)
    assert accounts.resolve_token(secret=newest).token_id == token.id
    accounts.revoke_token(principal=owner, token_id=token.id)
    with pytest.raises(Unauthorized):
        accounts.resolve_token(secret=newest)
    with pytest.raises(Unauthorized):
        accounts.resolve_token(secret="cnc_not-a-token")


def test_an_organization_key_and_an_inactive_user(app, manager, user_factory):
    _token, key = accounts.create_token(name="vendor", organization_id=manager.organization_id,
                                        scopes=["tasks:work"])
    vendor = accounts.resolve_token(secret=key)
    assert vendor.role == "organization" and vendor.organization_id == manager.organization_id
    assert vendor.scopes == frozenset({"tasks:work"})
    annotator = user_factory("annotator")
    _token, secret = accounts.create_token(name="t", user_id=annotator.id)
    _set("UPDATE users SET is_active = :f WHERE id = :id", f=False, id=annotator.id)
    with pytest.raises(Unauthorized):
        accounts.resolve_token(secret=secret)


def _project_with_tasks(project_factory, manager, n=2, **fields):
    project = project_factory(**fields)
    datasets.import_items(principal=principal_of(manager), project_id=project.id,
                          items=[{"text": f"t{i}"} for i in range(n)])
    return project


def test_claim_of_a_missing_or_inactive_project(project_factory, manager, user_factory):
    worker = principal_of(user_factory("annotator"))
    with pytest.raises(NotFound):
        assignments.claim_next_task(principal=worker, project_id=987654, worker_id=worker.worker_id)
    draft = _project_with_tasks(project_factory, manager, status="draft")
    with pytest.raises(NotFound):  # a draft is not visible to workers
        assignments.claim_next_task(principal=worker, project_id=draft.id, worker_id=worker.worker_id)
    mgr = principal_of(manager)
    result = assignments.claim_next_task(principal=mgr, project_id=draft.id, worker_id=worker.worker_id)
    assert isinstance(result, NoTask) and result.reason == "project_not_active"


def test_claim_uses_batch_order_and_rate_and_returns_the_live_lease_again(project_factory, manager, user_factory):
    project = _project_with_tasks(project_factory, manager, n=4, batch_size=2, reward={"amount": 5, "currency": "EUR"})
    mgr = principal_of(manager)
    with db.get_engine().connect() as conn:
        first, second = conn.execute(text("SELECT id FROM batches WHERE project_id = :p ORDER BY id"),
                                     {"p": project.id}).scalars().all()
    batches.update_batch(principal=mgr, batch_id=second, fields={"priority": 10, "reward_amount": 9})
    worker = principal_of(user_factory("annotator"))
    lease = assignments.claim_next_task(principal=worker, project_id=project.id, worker_id=worker.worker_id)
    assert lease.created and lease.task.batch_id == second and lease.assignment.batch_id == second
    assert (lease.assignment.reward_amount, lease.assignment.reward_currency) == (9, "EUR")
    assert lease.project.id == project.id and lease.project.task_type == "single_choice"
    again = assignments.claim_next_task(principal=worker, project_id=project.id, worker_id=worker.worker_id)
    assert not again.created and again.assignment.id == lease.assignment.id
    batches.update_batch(principal=mgr, batch_id=second, fields={"status": "paused"})
    assignments.submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=worker.worker_id),
                              answer={"choice": "pos"})
    other = assignments.claim_next_task(principal=worker, project_id=project.id, worker_id=worker.worker_id)
    assert other.task.batch_id == first and other.assignment.reward_amount == 5
    with db.get_engine().connect() as conn:
        leased, deadline = conn.execute(text("SELECT leased_count, lease_deadline FROM tasks WHERE id = :t"),
                                        {"t": other.task.id}).one()
    assert leased == 1 and deadline is not None


def test_submit_answers_retries_conflicts_and_strangers(project_factory, manager, user_factory):
    project = _project_with_tasks(project_factory, manager, n=1, overlap=2)
    alice, bob = (principal_of(user_factory("annotator")) for _ in range(2))
    lease = assignments.claim_next_task(principal=alice, project_id=project.id, worker_id=alice.worker_id)
    with pytest.raises(NotFound):
        assignments.submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=bob.worker_id),
                                  answer={"choice": "pos"})
    with pytest.raises(NotFound):
        assignments.submit_answer(assignment_id=987654, actor=Actor(worker_id=alice.worker_id),
                                  answer={"choice": "pos"})
    done = assignments.submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=alice.worker_id),
                                     answer={"choice": "pos"}, active_seconds=4)
    assert done.assignment.status == "submitted" and done.assignment.review_status == "pending"
    assert done.assignment.active_seconds == 4 and done.task.id == lease.task.id and not done.batch_completed
    same = assignments.submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=alice.worker_id),
                                     answer={"choice": "pos"})
    assert same.assignment.answer == {"choice": "pos"} and not same.created
    with pytest.raises(Conflict):
        assignments.submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=alice.worker_id),
                                  answer={"choice": "neg"})

    # The second answer completes the task, its batch and the project, with their events.
    second = assignments.claim_next_task(principal=bob, project_id=project.id, worker_id=bob.worker_id)
    last = assignments.submit_answer(assignment_id=second.assignment.id, actor=Actor(worker_id=bob.worker_id),
                                     answer={"choice": "neg"})
    assert last.batch_completed
    with db.get_engine().connect() as conn:
        task = conn.execute(text("SELECT status, answer_count, leased_count, completed_at FROM tasks WHERE id = :t"),
                            {"t": lease.task.id}).one()
        events = conn.execute(text("SELECT kind, task_id, payload FROM events WHERE project_id = :p ORDER BY id")
                              .columns(payload=Event.__table__.c.payload.type), {"p": project.id}).all()
        completed = conn.execute(text("SELECT completed_count, completed_at FROM batches WHERE project_id = :p"),
                                 {"p": project.id}).one()
    assert (task.status, task.answer_count, task.leased_count) == ("complete", 2, 0) and task.completed_at
    assert [e.kind for e in events] == ["task.completed", "batch.completed", "project.completed"]
    assert events[0].task_id == lease.task.id and events[0].payload == {"answers": 2}
    assert completed.completed_count == 1 and completed.completed_at is not None


def test_a_late_answer_after_the_sweep_is_kept_when_still_needed(project_factory, manager, user_factory):
    project = _project_with_tasks(project_factory, manager, n=1, overlap=1)
    worker = principal_of(user_factory("annotator"))
    lease = assignments.claim_next_task(principal=worker, project_id=project.id, worker_id=worker.worker_id)
    _set("UPDATE assignments SET expires_at = :t WHERE id = :a", t=utcnow() - timedelta(seconds=5),
         a=lease.assignment.id)
    assert assignments.expire_leases() == 1
    late = assignments.submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=worker.worker_id),
                                     answer={"choice": "pos"})
    assert late.assignment.status == "submitted" and late.batch_completed
    with db.get_engine().connect() as conn:
        counts = conn.execute(text("SELECT answer_count, leased_count, status FROM tasks WHERE id = :t"),
                              {"t": lease.task.id}).one()
    assert tuple(counts) == (1, 0, "complete")


def test_a_busy_new_worker_is_checked_per_candidate_whatever_the_statistics(project_factory, manager, user_factory):
    # Statistics are taken while the worker has answered nothing (on PostgreSQL, after another worker's
    # 3,000 answers elsewhere: they say every answer is that worker's); it then answers 150 tasks of one
    # batch, each left open (overlap 2) at the front of the claim order, so later claims skip them all.
    project = _project_with_tasks(project_factory, manager, n=200, overlap=2, batch_size=200)
    worker = principal_of(user_factory("annotator"))
    engine = db.get_engine()
    pg = engine.dialect.name == "postgresql"
    if pg:
        elsewhere = _project_with_tasks(project_factory, manager, n=3000)
        with engine.begin() as conn:
            first = conn.execute(text("INSERT INTO workers (created_at) VALUES (now()) RETURNING id")).scalars().all()
            conn.execute(text(
                "INSERT INTO assignments (project_id, batch_id, task_id, worker_id, status, leased_at, expires_at,"
                " submitted_at, answer, active_seconds, reward_amount, reward_currency, is_gold, flagged)"
                " SELECT t.project_id, t.batch_id, t.id, w, 'submitted', now(), now(), now(), '{}', 1, 0, 'USD',"
                " false, false FROM tasks t CROSS JOIN unnest(CAST(:w AS bigint[])) w WHERE t.project_id = :p"),
                {"w": first, "p": elsewhere.id})
            conn.execute(text("ANALYZE assignments"))
    seen = set()
    for _ in range(151):
        lease = assignments.claim_next_task(principal=worker, project_id=project.id, worker_id=worker.worker_id)
        assert lease.created and lease.task.id not in seen
        seen.add(lease.task.id)
        assignments.submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=worker.worker_id),
                                  answer={"choice": "pos"})
    if pg:
        # "Not seen by this worker" stays one probe of the (worker, task) key per candidate, never a pass
        # over the worker's whole history for every candidate (a cost that grows with both).
        with engine.connect() as conn:
            plan = "\n".join(conn.execute(text("EXPLAIN " + picking.CANDIDATES[True, False].element.text), {
                "batch_id": lease.task.batch_id, "now": utcnow(), "worker_id": worker.worker_id}).scalars())
        probes = [line for line in plan.splitlines() if "Index Cond" in line and "task_id = t.id" in line]
        assert probes and "worker_id" in probes[0] and "Join Filter" not in plan, plan
