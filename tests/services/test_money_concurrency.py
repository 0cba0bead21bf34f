"""The ledger's invariants under real concurrency (threads on PostgreSQL in the second leg, SQLite here).

While workers claim and submit, managers approve and reject one by one and in
bulk, pay bonuses and make payouts, many requests sent several times at once
with the same Idempotency-Key. Afterwards, for every worker:
balance = approved answers at their claimed rates + bonuses + adjustments - payouts,
to the minor unit; no answer is paid twice; a failed payout restores balances; a
budget is never overrun.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter, defaultdict
from functools import partial

from sqlalchemy import text

from backend import db
from backend.errors import Conflict
from backend.services import accounts, assignments, datasets, idempotency, ledger, payouts, review
from backend.services.assignments import Actor, NoTask
from tests.conftest import ON_POSTGRES, principal_of
from tests.services.test_concurrency import run_threads

CROWD = 24 if ON_POSTGRES else 8
TASKS = 240 if ON_POSTGRES else 60
RATE = 7


def _annotators(user_factory, n, organization=None):
    return [accounts.principal_for_user(accounts.get_user(user_id=user_factory("annotator", organization).id))
            for _ in range(n)]


def _keyed(principal, key, path, body):
    return idempotency.request_key(scope=principal.actor, key=key, method="POST", path=path, body=body)


def _labeler(project_id, worker, stop_after=None):
    def run():
        done = 0
        while stop_after is None or done < stop_after:
            lease = assignments.claim_next_task(principal=worker, project_id=project_id, worker_id=worker.worker_id)
            if isinstance(lease, NoTask):
                return
            assignments.submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=worker.worker_id),
                                      answer={"choice": random.choice(["pos", "neg"])})
            done += 1

    return run


def _ledger_rows():
    with db.get_engine().connect() as conn:
        return conn.execute(text("SELECT worker_id, kind, amount, assignment_id, reference, payout_id "
                                 "FROM ledger_entries")).all()


def test_balances_stay_exact_under_concurrent_work_review_bonuses_and_payouts(project_factory, manager,
                                                                              user_factory):
    mgr = principal_of(manager)
    project = project_factory(overlap=1, reward={"amount": RATE, "currency": "USD"}, batch_size=1000)
    datasets.import_items(principal=mgr, project_id=project.id, items=[{"text": f"t{i}"} for i in range(TASKS)])
    # The organization's own annotators: bonuses may reach them before their first answer.
    crowd = _annotators(user_factory, CROWD, manager.organization)
    bonuses_sent: dict[str, tuple[int, int]] = {}  # key -> (worker, amount): each must be paid exactly once
    payout_results: list[int] = []
    lock = threading.Lock()

    def reviewer(seed):
        rng = random.Random(seed)

        def run():
            for round_ in range(12):
                with db.get_engine().connect() as conn:
                    ids = conn.execute(text("SELECT id FROM assignments WHERE project_id = :p AND "
                                            "review_status = 'pending' ORDER BY random() LIMIT 5"),
                                       {"p": project.id}).scalars().all()
                for assignment_id in ids:
                    # Conflict: a concurrent decision came first, which is the point.
                    with contextlib.suppress(Conflict):
                        review.decide(principal=mgr, assignment_id=assignment_id, approve=rng.random() < 0.7,
                                      reason="not good enough")
                if round_ % 4 == 3:
                    key = f"bulk-{seed}-{round_}"
                    body = {"action": "approve"}
                    request = _keyed(mgr, key, f"/projects/{project.id}/reviews", body)
                    for _ in range(2):  # a retried bulk approval
                        review.review_in_bulk(principal=mgr, project_id=project.id, action="approve",
                                              request=request)

        return run

    def bonus_sender(seed):
        rng = random.Random(seed)

        def run():
            for i in range(6):
                worker = rng.choice(crowd)
                key, amount = f"bonus-{seed}-{i}", rng.randint(1, 500)
                body = {"amount": amount, "currency": "USD", "reason": "thanks"}
                with lock:
                    bonuses_sent[key] = (worker.worker_id, amount)
                request = _keyed(mgr, key, f"/workers/{worker.worker_id}/bonuses", body)
                send = partial(ledger.add_entry, principal=mgr, worker_id=worker.worker_id, kind="bonus",
                               amount=amount, currency="USD", reason="thanks", request=request)
                run_threads([send] * 3)  # the same request, sent three times at once

        return run

    def payer(seed):
        def run():
            for i in range(3):
                request = _keyed(mgr, f"payout-{seed}-{i}", "/payouts", {"currency": "USD"})
                for _ in range(2):
                    payout, _replayed = payouts.create_payout(principal=mgr, currency="USD", request=request)
                with lock:
                    payout_results.append(payout.id)

        return run

    targets = [_labeler(project.id, w) for w in crowd]
    targets += [reviewer(s) for s in range(3)] + [bonus_sender(s) for s in range(3)] + [payer(s) for s in range(2)]
    run_threads(targets)

    # Fail one payout (twice, concurrently): its money goes back.
    failed = next(p for p in payout_results if payouts.get_payout(principal=mgr, payout_id=p).worker_count)
    run_threads([lambda: payouts.settle_payout(principal=mgr, payout_id=failed, status="failed")] * 4)
    # Whatever is still pending gets approved, and everything is paid out once more.
    review.review_in_bulk(principal=mgr, project_id=project.id, action="approve")

    rows = _ledger_rows()
    with db.get_engine().connect() as conn:
        approved = conn.execute(text("SELECT id, worker_id, reward_amount FROM assignments "
                                     "WHERE project_id = :p AND review_status = 'approved'"), {"p": project.id}).all()
        statuses = dict(conn.execute(text("SELECT id, status FROM payouts")).all())
    # No answer paid twice; every approved answer paid exactly once; bonuses once per key.
    earnings = Counter(r.assignment_id for r in rows if r.kind == "earning")
    assert set(earnings.values()) == {1}
    assert set(earnings) == {a.id for a in approved}
    bonus_rows = [r for r in rows if r.kind == "bonus"]
    assert len(bonus_rows) == len(bonuses_sent)
    # The balance formula, worker by worker.
    expected: dict[int, int] = defaultdict(int)
    for a in approved:
        expected[a.worker_id] += a.reward_amount
    for worker_id, amount in bonuses_sent.values():
        expected[worker_id] += amount
    paid: dict[int, int] = defaultdict(int)
    for r in rows:
        if r.kind == "payout" and statuses[r.payout_id] != "failed" and r.amount < 0:
            paid[r.worker_id] += -r.amount
    for worker in crowd:
        with db.read_session() as session:
            balances = ledger.balances(session, worker_id=worker.worker_id)
        balance = balances[0]["balance"] if balances else 0
        assert balance == expected[worker.worker_id] - paid[worker.worker_id]
        assert balance >= 0
    # A payout line per worker and payout, never two; the failed one was reversed exactly once.
    lines = Counter((r.payout_id, r.worker_id) for r in rows if r.kind == "payout" and r.amount < 0)
    assert set(lines.values()) == {1}
    reversals = [r for r in rows if r.kind == "payout" and r.amount > 0]
    assert {r.payout_id for r in reversals} == {failed}
    assert sorted(r.worker_id for r in reversals) == sorted(w for (p, w) in lines if p == failed)


def test_a_failed_payout_restores_every_balance(project_factory, manager, user_factory):
    mgr = principal_of(manager)
    project = project_factory(overlap=1, reward={"amount": 125, "currency": "JPY"})
    datasets.import_items(principal=mgr, project_id=project.id, items=[{"text": f"t{i}"} for i in range(12)])
    crowd = _annotators(user_factory, 4)
    run_threads([_labeler(project.id, w, stop_after=3) for w in crowd])
    review.review_in_bulk(principal=mgr, project_id=project.id, action="approve")
    before = {w.worker_id: ledger.earnings(worker_id=w.worker_id, organization_id=None, limit=1, cursor=None)[0]
              for w in crowd}
    payout, _ = payouts.create_payout(principal=mgr, currency="JPY")
    assert payout.total_amount == 12 * 125 and payout.worker_count == 4
    payouts.settle_payout(principal=mgr, payout_id=payout.id, status="failed")
    after = {w.worker_id: ledger.earnings(worker_id=w.worker_id, organization_id=None, limit=1, cursor=None)[0]
             for w in crowd}
    assert [b[0]["balance"] for b in after.values()] == [b[0]["balance"] for b in before.values()] == [375] * 4


def test_the_budget_is_never_overrun_by_concurrent_claims(project_factory, manager, user_factory):
    mgr = principal_of(manager)
    budget_amount = RATE * (TASKS // 4) + RATE // 2  # not a multiple of the rate: the last claim must not fit
    project = project_factory(overlap=1, reward={"amount": RATE, "currency": "USD"}, budget_amount=budget_amount,
                              batch_size=1000)
    datasets.import_items(principal=mgr, project_id=project.id, items=[{"text": f"t{i}"} for i in range(TASKS)])
    crowd = _annotators(user_factory, CROWD)

    def rejecter():
        for _ in range(10):
            with db.get_engine().connect() as conn:
                ids = conn.execute(text("SELECT id FROM assignments WHERE project_id = :p AND "
                                        "review_status = 'pending' LIMIT 3"), {"p": project.id}).scalars().all()
            for assignment_id in ids:
                with contextlib.suppress(Conflict):
                    review.decide(principal=mgr, assignment_id=assignment_id, approve=False, reason="no")

    run_threads([_labeler(project.id, w) for w in crowd] + [rejecter])
    with db.get_engine().connect() as conn:
        live = conn.execute(text(
            "SELECT coalesce(sum(reward_amount), 0) FROM assignments WHERE project_id = :p AND "
            "(status = 'leased' OR (status = 'submitted' AND review_status <> 'rejected'))"),
            {"p": project.id}).scalar()
        committed = conn.execute(text("SELECT committed_amount FROM projects WHERE id = :p"),
                                 {"p": project.id}).scalar()
        still_open = conn.execute(text("SELECT count(*) FROM tasks WHERE project_id = :p AND answer_count = 0"),
                                  {"p": project.id}).scalar()
    assert committed == live <= budget_amount
    assert still_open > 0  # the budget, not a lack of tasks, stopped the crowd
