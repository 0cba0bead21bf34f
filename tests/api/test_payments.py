"""Rates, review, the ledger, payouts, fair pay, caps, budget and workload, through the API."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from backend.db import unit_of_work
from backend.models import utcnow
from backend.services import assignments as assignment_service
from backend.services import datasets, fair_pay, ledger, payouts, review
from tests.conftest import principal_of


@pytest.fixture
def fill(manager):
    def run(project, n, gold=None):
        items = [{"text": f"item {i}"} for i in range(n)]
        if gold:
            items += [{"text": f"control {i}", "gold": {"choice": "pos"}} for i in range(gold)]
        return datasets.import_items(principal=principal_of(manager), project_id=project.id, items=items)

    return run


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


@pytest.fixture
def annotator(user_factory, login_as):
    def make():
        user = user_factory("annotator")
        client = login_as(user)
        client.worker_id = client.get("/api/v1/me").json["worker_id"]
        return client

    return make


def work(client, project_id, n=1, choice="pos", active_seconds=None):
    """Claim and answer n tasks; returns the assignment ids."""
    ids = []
    for _ in range(n):
        lease = client.post(f"/api/v1/projects/{project_id}/assignments")
        assert lease.status_code == 201, (lease.status_code, lease.headers.get("X-Concord-Reason"))
        done = client.post(f"/api/v1/assignments/{lease.json['id']}/submit",
                           json={"answer": {"choice": choice}, "active_seconds": active_seconds})
        assert done.status_code == 200, done.json
        ids.append(lease.json["id"])
    return ids


def balance(client, currency="USD", path="/api/v1/me/earnings"):
    rows = {b["currency"]: b for b in client.get(path).json["balances"]}
    return rows.get(currency, {"balance": 0, "pending": 0, "paid_out": 0})


def test_the_rate_is_fixed_at_claim_time_batch_and_gold_rates_override(project_factory, fill, mgr, annotator):
    project = project_factory(overlap=1, reward={"amount": 5, "currency": "EUR"}, gold_reward_amount=2,
                              gold_ratio=0.5)
    fill(project, 4, gold=2)
    ann = annotator()
    first = ann.post(f"/api/v1/projects/{project.id}/assignments").json
    assert first["reward"] == {"amount": 2, "currency": "EUR"}  # the first claim is a control task
    ann.post(f"/api/v1/assignments/{first['id']}/submit", json={"answer": {"choice": "pos"}})
    regular = ann.post(f"/api/v1/projects/{project.id}/assignments").json
    assert regular["reward"] == {"amount": 5, "currency": "EUR"}
    # A rate change after the claim leaves the claimed work alone; a rush batch pays its own rate.
    assert mgr.patch(f"/api/v1/projects/{project.id}", json={"reward": {"amount": 9, "currency": "EUR"}}).status_code \
        == 200
    batch_id = mgr.get(f"/api/v1/projects/{project.id}/batches").json["items"][0]["id"]
    assert mgr.patch(f"/api/v1/batches/{batch_id}", json={"reward_amount": 12}).json["reward_amount"] == 12
    ann.post(f"/api/v1/assignments/{regular['id']}/submit", json={"answer": {"choice": "pos"}})
    assert mgr.post(f"/api/v1/assignments/{regular['id']}/approve", json={}).json["reward"]["amount"] == 5
    assert balance(ann, "EUR")["balance"] == 5
    rush = ann.post(f"/api/v1/projects/{project.id}/assignments").json
    assert rush["reward"]["amount"] in (12, 2)  # a rush-batch task, or the next control task at its own rate


def test_review_approve_reject_reverse_and_what_the_worker_sees(project_factory, fill, mgr, annotator):
    project = project_factory(overlap=1, reward={"amount": 30, "currency": "USD"})
    fill(project, 3)
    ann = annotator()
    a1, a2, a3 = work(ann, project.id, 3)
    assert balance(ann) == {**balance(ann), "balance": 0, "pending": 90}

    approved = mgr.post(f"/api/v1/assignments/{a1}/approve", json={})
    assert approved.status_code == 200 and approved.json["review_status"] == "approved"
    # Approving again changes nothing and pays nothing more.
    assert mgr.post(f"/api/v1/assignments/{a1}/approve", json={}).status_code == 200
    no_reason = mgr.post(f"/api/v1/assignments/{a2}/reject", json={})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["error"]["details"]["fields"]
    rejected = mgr.post(f"/api/v1/assignments/{a2}/reject", json={"reason": "Ignored the instructions"})
    assert rejected.json["review_status"] == "rejected"
    stands = mgr.post(f"/api/v1/assignments/{a1}/reject", json={"reason": "changed my mind"})
    assert stands.status_code == 409 and stands.json["error"]["code"] == "approval_stands"

    # The worker reads the reason on its assignment, and its balance counts approved work only.
    mine = ann.get(f"/api/v1/assignments/{a2}").json
    assert mine["review_status"] == "rejected" and mine["review_reason"] == "Ignored the instructions"
    assert balance(ann)["balance"] == 30 and balance(ann)["pending"] == 30

    # A rejection can be reversed within the window ...
    assert mgr.post(f"/api/v1/assignments/{a2}/approve", json={}).json["review_status"] == "approved"
    assert balance(ann)["balance"] == 60
    # ... and not after it.
    mgr.patch(f"/api/v1/projects/{project.id}", json={"rejection_window_hours": 0})
    mgr.post(f"/api/v1/assignments/{a3}/reject", json={"reason": "Wrong"})
    final = mgr.post(f"/api/v1/assignments/{a3}/approve", json={})
    assert final.status_code == 409 and final.json["error"]["code"] == "rejection_final"
    entries = ann.get("/api/v1/me/earnings").json["entries"]
    assert sorted((e["kind"], e["amount"], e["assignment_id"]) for e in entries) == [
        ("earning", 30, a1), ("earning", 30, a2)]


def test_only_the_projects_managers_review_and_unsubmitted_work_cannot_be(project_factory, fill, mgr, annotator,
                                                                           user_factory, login_as):
    project = project_factory(overlap=1, reward={"amount": 1, "currency": "USD"})
    fill(project, 2)
    ann = annotator()
    (done,) = work(ann, project.id)
    leased = ann.post(f"/api/v1/projects/{project.id}/assignments").json["id"]
    other = login_as(user_factory("manager"))
    assert other.post(f"/api/v1/assignments/{done}/approve", json={}).status_code == 404
    assert ann.post(f"/api/v1/assignments/{done}/approve", json={}).status_code == 403
    not_yet = mgr.post(f"/api/v1/assignments/{leased}/approve", json={})
    assert not_yet.status_code == 409 and not_yet.json["error"]["code"] == "not_submitted"


def test_bulk_review_by_worker_and_by_batch_and_the_queue(project_factory, fill, mgr, annotator):
    project = project_factory(overlap=2, reward={"amount": 10, "currency": "USD"})
    fill(project, 4)
    good, bad = annotator(), annotator()
    work(good, project.id, 4)
    work(bad, project.id, 4, choice="neg")
    queue = mgr.get(f"/api/v1/projects/{project.id}/reviews?limit=5").json
    assert len(queue["items"]) == 5 and queue["next_cursor"]
    assert {"task", "worker_id", "answer", "reward"} <= set(queue["items"][0])
    rejected = mgr.post(f"/api/v1/projects/{project.id}/reviews",
                        json={"action": "reject", "worker_id": bad.worker_id, "reason": "Spam"})
    assert rejected.json == {"rejected": 4, "replayed": False}
    approved = mgr.post(f"/api/v1/projects/{project.id}/reviews", json={"action": "approve"})
    assert approved.json == {"approved": 4, "replayed": False}
    assert mgr.get(f"/api/v1/projects/{project.id}/reviews").json["items"] == []
    assert balance(good)["balance"] == 40 and balance(bad)["balance"] == 0
    assert bad.get("/api/v1/me/stats").json["rows"][0]["rejected"] == 4
    assert bad.get("/api/v1/me/earnings").json["entries"] == []


def test_bonus_adjustment_and_idempotency_keys(project_factory, fill, mgr, annotator):
    project = project_factory(overlap=1, reward={"amount": 10, "currency": "USD"})
    fill(project, 1)
    ann = annotator()
    work(ann, project.id)
    url = f"/api/v1/workers/{ann.worker_id}/bonuses"
    body = {"amount": 250, "currency": "USD", "reason": "Great work"}
    first = mgr.post(url, json=body, headers={"Idempotency-Key": "bonus-1"})
    again = mgr.post(url, json=body, headers={"Idempotency-Key": "bonus-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    reused = mgr.post(url, json={**body, "amount": 999}, headers={"Idempotency-Key": "bonus-1"})
    assert reused.status_code == 422 and reused.json["error"]["code"] == "idempotency_key_reused"
    assert mgr.post(url, json={**body, "currency": "usd"}).status_code == 422
    assert mgr.post(url, json={**body, "amount": 1.5}).status_code == 422
    adjustment = mgr.post(f"/api/v1/workers/{ann.worker_id}/adjustments",
                          json={"amount": -50, "currency": "USD", "reason": "Double-counted task"})
    assert adjustment.status_code == 201
    assert balance(ann)["balance"] == 200
    # Managers see the same balance; another organization does not even see the worker.
    seen = mgr.get(f"/api/v1/workers/{ann.worker_id}/earnings").json
    assert seen["balances"][0]["balance"] == 200 and len(seen["entries"]) == 2


def test_bonuses_for_unknown_or_foreign_workers_are_404(mgr, annotator, user_factory, login_as):
    stranger = annotator()
    body = {"amount": 5, "currency": "USD", "reason": "x"}
    assert mgr.post(f"/api/v1/workers/{stranger.worker_id}/bonuses", json=body).status_code == 404
    assert mgr.post("/api/v1/workers/999999/bonuses", json=body).status_code == 404
    assert stranger.post(f"/api/v1/workers/{stranger.worker_id}/bonuses", json=body).status_code == 403


def test_payouts_pay_balances_above_the_minimum_and_a_failed_one_gives_money_back(
        project_factory, fill, mgr, annotator):
    project = project_factory(overlap=1, reward={"amount": 100, "currency": "USD"})
    fill(project, 3)
    rich, poor = annotator(), annotator()
    work(rich, project.id, 2)
    work(poor, project.id, 1)
    mgr.post(f"/api/v1/projects/{project.id}/reviews", json={"action": "approve"})
    payout = mgr.post("/api/v1/payouts", json={"currency": "USD", "minimum": 150},
                      headers={"Idempotency-Key": "p1"})
    assert payout.status_code == 201
    assert payout.json["total_amount"] == 200 and payout.json["worker_count"] == 1
    assert mgr.post("/api/v1/payouts", json={"currency": "USD", "minimum": 150},
                    headers={"Idempotency-Key": "p1"}).json["id"] == payout.json["id"]
    assert balance(rich) == {**balance(rich), "balance": 0, "paid_out": 200}
    assert balance(poor)["balance"] == 100
    file = mgr.get(f"/api/v1/payouts/{payout.json['id']}/file?format=csv")
    assert file.mimetype == "text/csv"
    (line,) = list(csv.DictReader(io.StringIO(file.get_data(as_text=True))))
    assert line["worker_id"] == str(rich.worker_id) and line["amount"] == "200" and line["amount_decimal"] == "2.00"
    as_json = json.loads(mgr.get(f"/api/v1/payouts/{payout.json['id']}/file?format=json").data)
    assert as_json["lines"][0]["amount"] == 200 and as_json["currency"] == "USD"
    # Nothing left to pay at that minimum: an empty batch.
    assert mgr.post("/api/v1/payouts", json={"currency": "USD", "minimum": 150}).json["worker_count"] == 0

    failed = mgr.post(f"/api/v1/payouts/{payout.json['id']}/failed", json={"note": "bank refused"})
    assert failed.json["status"] == "failed"
    assert balance(rich) == {**balance(rich), "balance": 200, "paid_out": 0}
    # Failing twice moves nothing; paying a failed batch is a conflict.
    assert mgr.post(f"/api/v1/payouts/{payout.json['id']}/failed", json={}).status_code == 200
    assert balance(rich)["balance"] == 200
    assert mgr.post(f"/api/v1/payouts/{payout.json['id']}/paid", json={}).status_code == 409
    again = mgr.post("/api/v1/payouts", json={"currency": "USD"}).json
    assert again["total_amount"] == 300 and again["worker_count"] == 2
    assert mgr.post(f"/api/v1/payouts/{again['id']}/paid", json={}).json["status"] == "paid"
    listed = mgr.get("/api/v1/payouts?status=paid").json["items"]
    assert [p["id"] for p in listed] == [again["id"]]


def test_the_newest_ledger_entries_come_first_when_asked(project_factory, fill, mgr, manager, annotator):
    """A payout history reads the newest entries: after 120 earnings, the payout is on the first page."""
    project = project_factory(overlap=1, reward={"amount": 3, "currency": "USD"})
    fill(project, 1)
    ann = annotator()
    work(ann, project.id)
    mgr.post(f"/api/v1/projects/{project.id}/reviews", json={"action": "approve"})
    with unit_of_work() as session:
        for i in range(120):
            ledger.post(session, organization_id=project.organization_id, worker_id=ann.worker_id, currency="USD",
                        amount=5, kind="bonus", actor="test", reference=f"test-bonus:{i}", project_id=project.id)
    payout = payouts.create_payout(principal=principal_of(manager), currency="USD")[0]
    oldest = ann.get("/api/v1/me/earnings?limit=100").json["entries"]
    assert "payout" not in {e["kind"] for e in oldest}  # the oldest hundred: earnings and bonuses only
    newest = ann.get("/api/v1/me/earnings?order=newest&limit=2").json
    assert [(e["kind"], e["amount"], e["payout_id"]) for e in newest["entries"]][0] == ("payout", -603, payout.id)
    following = ann.get(f"/api/v1/me/earnings?order=newest&limit=2&cursor={newest['next_cursor']}").json["entries"]
    assert following[0]["id"] < newest["entries"][-1]["id"]
    history = ann.get("/api/v1/me/earnings?kind=payout&order=newest").json["entries"]
    assert [e["payout_id"] for e in history] == [payout.id]
    assert [e["id"] for e in mgr.get(f"/api/v1/workers/{ann.worker_id}/earnings?order=newest&limit=1").json[
        "entries"]] == [history[0]["id"]]
    bad = ann.get("/api/v1/me/earnings?order=latest")
    assert bad.status_code == 422 and "order" in bad.json["error"]["details"]["fields"]


def test_auto_approve_after_hours_and_suspension_rejects(project_factory, fill, mgr, annotator):
    project = project_factory(overlap=1, reward={"amount": 7, "currency": "USD"}, auto_approve_hours=2)
    fill(project, 2)
    ann = annotator()
    work(ann, project.id, 2)
    assert review.auto_approve_due() == 0
    assert review.auto_approve_due(now=utcnow() + timedelta(hours=2, seconds=1)) == 2
    assert balance(ann)["balance"] == 14
    assert {r["reviewed_by"] for r in mgr.get(f"/api/v1/projects/{project.id}/reviews?review_status=approved")
            .json["items"]} == {"system:auto-approve-2h"}


def test_suspended_workers_answers_are_rejected_when_the_project_says_so(project_factory, fill, mgr, annotator):
    project = project_factory(overlap=1, reward={"amount": 3, "currency": "USD"}, gold_ratio=0.5,
                              min_gold_accuracy=0.9, min_gold_answers=2, auto_reject_suspended=True)
    fill(project, 6, gold=3)
    ann = annotator()
    for _ in range(4):
        lease = ann.post(f"/api/v1/projects/{project.id}/assignments")
        if lease.status_code != 201:
            break
        ann.post(f"/api/v1/assignments/{lease.json['id']}/submit", json={"answer": {"choice": "neg"}})
    items = mgr.get(f"/api/v1/projects/{project.id}/reviews?review_status=rejected").json["items"]
    assert items and all(i["reviewed_by"] == "system:gold-rule" for i in items)
    assert "Gold accuracy" in items[0]["review_reason"]
    assert mgr.get(f"/api/v1/projects/{project.id}/reviews").json["items"] == []


def test_consensus_approves_agreeing_answers(project_factory, fill, mgr, annotator, run_jobs):
    project = project_factory(overlap=3, reward={"amount": 4, "currency": "USD"}, auto_approve_consensus=True)
    fill(project, 2)
    a, b, c = annotator(), annotator(), annotator()
    work(a, project.id, 2, "pos")
    work(b, project.id, 2, "pos")
    work(c, project.id, 2, "neg")
    run_jobs()  # the batch completed: its consensus job runs and approves the majority
    assert balance(a)["balance"] == 8 and balance(b)["balance"] == 8
    assert balance(c) == {**balance(c), "balance": 0, "pending": 8}


def test_daily_cap_stops_claims_with_a_reason(project_factory, fill, annotator):
    project = project_factory(overlap=1, max_answers_per_worker_per_day=2)
    fill(project, 5)
    ann = annotator()
    work(ann, project.id, 2)
    capped = ann.post(f"/api/v1/projects/{project.id}/assignments")
    assert capped.status_code == 204 and capped.headers["X-Concord-Reason"] == "daily_cap_reached"
    assert "limit of 2 answers" in capped.headers["X-Concord-Message"]
    # Another worker is not capped by it.
    assert annotator().post(f"/api/v1/projects/{project.id}/assignments").status_code == 201


def test_budget_stops_claims_and_cost_reports_it(project_factory, fill, mgr, annotator):
    project = project_factory(overlap=1, reward={"amount": 40, "currency": "USD"}, budget_amount=100)
    fill(project, 5)
    a, b, c = annotator(), annotator(), annotator()
    work(a, project.id)
    lease = b.post(f"/api/v1/projects/{project.id}/assignments")
    assert lease.status_code == 201
    stopped = c.post(f"/api/v1/projects/{project.id}/assignments")
    assert stopped.status_code == 204 and stopped.headers["X-Concord-Reason"] == "budget_exhausted"
    cost = mgr.get(f"/api/v1/projects/{project.id}/cost").json
    assert cost["committed"] == 80 and cost["remaining_budget"] == 20 and cost["pending"] == 40
    assert cost["in_flight"] == 40 and cost["answers_remaining"] == 4
    # A released lease and a rejected answer give their share back.
    b.post(f"/api/v1/assignments/{lease.json['id']}/release", json={})
    (first,) = [i["id"] for i in mgr.get(f"/api/v1/projects/{project.id}/reviews").json["items"]]
    mgr.post(f"/api/v1/assignments/{first}/reject", json={"reason": "no"})
    assert mgr.get(f"/api/v1/projects/{project.id}/cost").json["committed"] == 0
    work(c, project.id, 2)
    assert mgr.get(f"/api/v1/projects/{project.id}/cost").json["committed"] == 80
    # Turning the rejection into an approval must fit the budget too.
    over = mgr.post(f"/api/v1/assignments/{first}/approve", json={})
    assert over.status_code == 409 and over.json["error"]["code"] == "budget_exhausted"


def test_setting_a_budget_counts_work_already_committed(project_factory, fill, mgr, annotator):
    project = project_factory(overlap=1, reward={"amount": 25, "currency": "USD"})
    fill(project, 4)
    ann = annotator()
    work(ann, project.id, 2)
    assert mgr.patch(f"/api/v1/projects/{project.id}", json={"budget_amount": 60}).json["budget_amount"] == 60
    assert mgr.get(f"/api/v1/projects/{project.id}/cost").json["committed"] == 50
    assert ann.post(f"/api/v1/projects/{project.id}/assignments").status_code == 204


def test_fair_pay_proposes_top_ups_and_a_manager_confirms_them(project_factory, fill, mgr, annotator, run_jobs,
                                                               monkeypatch):
    project = project_factory(overlap=1, reward={"amount": 10, "currency": "USD"}, min_hourly_rate=1200)
    fill(project, 2)
    slow = annotator()
    real = utcnow
    lease = slow.post(f"/api/v1/projects/{project.id}/assignments").json
    # Submitted 600 s after the claim, 300 of them active: 300 s count, owed 1200 * 300 / 3600 = 100.
    monkeypatch.setattr(assignment_service, "utcnow", lambda: real() + timedelta(seconds=600))
    slow.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"choice": "pos"}, "active_seconds": 300})
    monkeypatch.setattr(assignment_service, "utcnow", real)
    mgr.post(f"/api/v1/projects/{project.id}/reviews", json={"action": "approve"})
    started = mgr.post(f"/api/v1/projects/{project.id}/fair-pay")
    assert started.status_code == 202
    run_jobs()
    assert mgr.get(f"/api/v1/jobs/{started.json['job']['id']}").json["status"] == "finished"
    (proposal,) = mgr.get(f"/api/v1/projects/{project.id}/fair-pay").json["items"]
    assert proposal["worker_id"] == slow.worker_id and proposal["amount"] == 90 and proposal["seconds"] == 300
    assert balance(slow)["balance"] == 10  # nothing paid before a manager confirms
    confirmed = mgr.post(f"/api/v1/projects/{project.id}/fair-pay/confirm", json={}, headers={"Idempotency-Key": "f"})
    assert confirmed.json == {"applied": 1, "replayed": False}
    assert mgr.post(f"/api/v1/projects/{project.id}/fair-pay/confirm", json={},
                    headers={"Idempotency-Key": "f"}).json == {"applied": 1, "replayed": True}
    assert balance(slow)["balance"] == 100
    # Rerunning finds nothing more to top up; the worker's effective rate is now the minimum.
    mgr.post(f"/api/v1/projects/{project.id}/fair-pay")
    run_jobs()
    assert mgr.get(f"/api/v1/projects/{project.id}/fair-pay").json == {"items": [], "next_cursor": None}
    applied = mgr.get(f"/api/v1/projects/{project.id}/fair-pay?status=applied&limit=1").json
    assert [t["id"] for t in applied["items"]] == [proposal["id"]] and applied["next_cursor"] is None
    rows = mgr.get(f"/api/v1/projects/{project.id}/workload").json["items"]
    assert rows[0]["effective_hourly_rate"] == 1200 and rows[0]["active_seconds"] == 300


def test_fair_pay_needs_a_minimum_rate(project_factory, mgr):
    project = project_factory()
    response = mgr.post(f"/api/v1/projects/{project.id}/fair-pay")
    assert response.status_code == 422 and response.json["error"]["code"] == "no_min_hourly_rate"


def test_workload_stats_and_csv(project_factory, fill, mgr, annotator, user_factory, login_as):
    project = project_factory(overlap=2, reward={"amount": 6, "currency": "USD"})
    fill(project, 3)
    a, b = annotator(), annotator()
    work(a, project.id, 3)
    work(b, project.id, 1)
    lease = b.post(f"/api/v1/projects/{project.id}/assignments").json
    b.post(f"/api/v1/assignments/{lease['id']}/release", json={"reason": "skip"})
    mgr.post(f"/api/v1/projects/{project.id}/reviews", json={"action": "approve", "worker_id": a.worker_id})
    rows = {r["worker_id"]: r for r in mgr.get(f"/api/v1/projects/{project.id}/workload").json["items"]}
    assert rows[a.worker_id]["submitted"] == 3 and rows[a.worker_id]["approved"] == 3
    assert rows[a.worker_id]["earnings"] == [{"currency": "USD", "amount": 18}]
    assert rows[b.worker_id]["claimed"] == 2 and rows[b.worker_id]["released"] == 1
    assert rows[b.worker_id]["pending"] == 1 and rows[b.worker_id]["earnings"] == []
    by_day = mgr.get(f"/api/v1/projects/{project.id}/workload?by=worker_day").json["items"]
    assert {r["day"] for r in by_day} == {utcnow().strftime("%Y-%m-%d")}
    page = mgr.get(f"/api/v1/projects/{project.id}/workload?limit=1").json
    assert len(page["items"]) == 1 and page["next_cursor"]
    text = mgr.get(f"/api/v1/projects/{project.id}/workload?format=csv").get_data(as_text=True)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert {r["worker_id"] for r in parsed} == {str(a.worker_id), str(b.worker_id)}
    assert next(r for r in parsed if r["worker_id"] == str(a.worker_id))["earnings"] == "USD 18"
    # Workers see their own figures only; managers see a worker's; another organization sees nothing.
    mine = a.get("/api/v1/me/stats").json
    assert mine["rows"][0]["approved"] == 3 and mine["balances"][0]["balance"] == 18
    assert mgr.get(f"/api/v1/workers/{a.worker_id}/stats?by=day").json["rows"][0]["submitted"] == 3
    assert a.get(f"/api/v1/workers/{b.worker_id}/stats").status_code == 404
    assert login_as(user_factory("manager")).get(f"/api/v1/workers/{a.worker_id}/stats").status_code == 404
    bad = mgr.get(f"/api/v1/projects/{project.id}/workload?from=2026-02-02&to=2026-01-01")
    assert bad.status_code == 422


def test_projects_that_say_so_get_top_ups_applied_by_the_periodic_job(project_factory, fill, mgr, annotator,
                                                                        monkeypatch):
    project = project_factory(overlap=1, reward={"amount": 1, "currency": "USD"}, min_hourly_rate=360_000,
                              fair_pay_auto_apply=True)
    fill(project, 1)
    ann = annotator()
    lease = ann.post(f"/api/v1/projects/{project.id}/assignments").json
    real = utcnow
    monkeypatch.setattr(assignment_service, "utcnow", lambda: real() + timedelta(seconds=10))
    ann.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"choice": "pos"}, "active_seconds": 1})
    mgr.post(f"/api/v1/projects/{project.id}/reviews", json={"action": "approve"})
    assert fair_pay.refresh_all() == 1
    # 1 s at 360,000 per hour is owed 100; the answer earned 1; the top-up pays the other 99.
    assert balance(ann)["balance"] == 100
    assert fair_pay.refresh_all() == 0
