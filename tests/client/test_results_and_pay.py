"""Exports, review and pay through the client, over HTTP."""

from __future__ import annotations

import csv
import io
import json

import pytest
from concord_client import Conflict, NotFound

from .conftest import label_all
from .test_vendor_flow import sentiment_project


def labelled_project(requester, vendor, *, rows=3, overlap=2, **fields):
    project = sentiment_project(requester, overlap=overlap, **fields)
    requester.datasets.push(project["id"], [{"external_id": f"e{i}", "text": f"t{i}"} for i in range(rows)])
    for worker in ("ann", "bob", "cat")[:overlap]:
        label_all(vendor, project["id"], worker, lambda lease: {"choice": "neu"})
    return project


def test_an_export_is_created_waited_for_and_downloaded(requester, vendor, tmp_path):
    project = labelled_project(requester, vendor)
    requester.consensus.run(project["id"], timeout=60, poll_interval=0.1)

    created = requester.exports.create(project["id"], "jsonl")
    assert created["status"] in ("queued", "running", "ready") and created["format"] == "jsonl"
    ready = requester.exports.wait(created, timeout=60, poll_interval=0.1)
    assert ready["status"] == "ready" and ready["tasks"] == 3
    target = requester.exports.download(ready, tmp_path / "results.jsonl")
    assert target == tmp_path / "results.jsonl" and not list(tmp_path.glob("*.part"))
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["external_id"] for line in lines] == ["e0", "e1", "e2"]
    assert all(line["consensus"]["answer"] == {"choice": "neu"} and len(line["answers"]) == 2 for line in lines)
    assert target.stat().st_size == ready["size_bytes"]

    # Into a directory: the server's file name; into a file object: the same bytes.
    named = requester.exports.download(ready["id"], tmp_path)
    assert named.parent == tmp_path and named.suffix == ".jsonl" and named.read_bytes() == target.read_bytes()
    buffer = io.BytesIO()
    requester.exports.download(ready, buffer)
    assert buffer.getvalue() == target.read_bytes()
    # Listed with the project's others, newest first.
    later = requester.exports.wait(requester.exports.create(project["id"], "csv"), timeout=60, poll_interval=0.1)
    assert [(e["id"], e["status"]) for e in requester.exports.iter(project["id"], page_size=1)] == [
        (later["id"], "ready"), (ready["id"], "ready")]

    csv_path = requester.exports.export(project["id"], "csv", tmp_path / "results.csv", timeout=60,
                                        poll_interval=0.1)
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert [r["external_id"] for r in rows] == ["e0", "e1", "e2"] and {r["gold"] for r in rows} == {"false"}
    # The export options pass through; the resource says which were used.
    without_gold = requester.exports.create(project["id"], "jsonl", include_gold=False)
    assert without_gold["include_gold"] is False and without_gold["include_empty"] is False

    with pytest.raises(NotFound):
        requester.exports.download(999_999, tmp_path / "missing.jsonl")
    assert not (tmp_path / "missing.jsonl").exists()


def test_review_bonus_payout_and_cost(requester, vendor):
    project = sentiment_project(requester, overlap=1, batch_size=10)
    requester.datasets.push(project["id"], [{"external_id": f"e{i}", "text": f"t{i}"} for i in range(4)])
    ann = vendor.workers.register("ann")
    bob = vendor.workers.register("bob")
    for worker in ("ann", "bob"):
        for _ in range(2):
            lease = vendor.assignments.claim(project["id"], worker=worker)
            vendor.assignments.submit(lease["id"], {"choice": "pos"}, worker=worker, active_seconds=30)

    queue = list(requester.reviews.iter_queue(project["id"], page_size=1))
    assert len(queue) == 4 and {q["review_status"] for q in queue} == {"pending"}
    assert {q["worker_external_id"] for q in queue} == {"ann", "bob"}
    anns = [q for q in queue if q["worker_id"] == ann["id"]]
    bobs = [q for q in queue if q["worker_id"] == bob["id"]]
    assert requester.reviews.approve(anns[0]["id"])["review_status"] == "approved"
    rejected = requester.reviews.reject(bobs[0]["id"], "Off topic")
    assert rejected["review_status"] == "rejected"
    assert vendor.assignments.get(bobs[0]["id"], worker="bob")["review_reason"] == "Off topic"
    # Bob's own list, newest first: the rejection with its reason; Ann's answers are not in it.
    mine = list(vendor.assignments.iter_mine(worker="bob", page_size=1))
    assert [a["id"] for a in mine] == sorted((q["id"] for q in bobs), reverse=True)
    assert [(a["review_status"], a["review_reason"]) for a in vendor.assignments.mine(
        worker="bob", review_status="rejected")["items"]] == [("rejected", "Off topic")]
    bulk = requester.reviews.bulk(project["id"], "approve")
    assert bulk["approved"] == 2 and bulk["replayed"] is False
    with pytest.raises(Conflict) as stands:
        requester.reviews.reject(anns[0]["id"], "changed my mind")
    assert stands.value.code == "approval_stands"

    balance = requester.payments.earnings(ann["id"])["balances"][0]
    assert balance["currency"] == "USD" and balance["balance"] == 20 and balance["earned"] == 20
    assert requester.payments.earnings(bob["id"])["balances"][0]["balance"] == 10

    first = requester.payments.bonus(ann["id"], 250, "USD", "Great work", project_id=project["id"],
                                     idempotency_key="bonus-ann-1")
    again = requester.payments.bonus(ann["id"], 250, "USD", "Great work", project_id=project["id"],
                                     idempotency_key="bonus-ann-1")
    assert again == first and first["kind"] == "bonus" and first["amount"] == 250
    assert [e["kind"] for e in requester.payments.iter_entries(ann["id"], kind="bonus", page_size=1)] == ["bonus"]
    assert requester.payments.earnings(ann["id"])["balances"][0]["balance"] == 270
    fix = requester.payments.adjustment(bob["id"], -4, "USD", "Double-counted")
    assert fix["amount"] == -4 and requester.payments.earnings(bob["id"])["balances"][0]["balance"] == 6

    payout = requester.payouts.create("USD", minimum=100, note="weekly", idempotency_key="payout-week-1")
    assert payout["worker_count"] == 1 and payout["total_amount"] == 270 and payout["status"] == "created"
    assert requester.payouts.create("USD", minimum=100, note="weekly", idempotency_key="payout-week-1") == payout
    (line,) = csv.DictReader(io.StringIO(requester.payouts.file(payout["id"]).decode()))
    assert line["external_id"] == "ann" and line["amount"] == "270" and line["amount_decimal"] == "2.70"
    as_json = json.loads(requester.payouts.file(payout["id"], format="json"))
    assert as_json["lines"][0]["worker_id"] == ann["id"]
    assert requester.payouts.mark_paid(payout["id"], note="wired")["status"] == "paid"
    assert requester.payouts.get(payout["id"])["status"] == "paid"
    assert [p["id"] for p in requester.payouts.iter(status="paid")] == [payout["id"]]
    assert requester.payments.earnings(ann["id"])["balances"][0]["paid_out"] == 270
    latest = requester.payments.earnings(ann["id"], order="newest", limit=1)["entries"]
    assert [(e["kind"], e["amount"]) for e in latest] == [("payout", -270)]

    cost = requester.projects.cost(project["id"])
    assert cost["currency"] == "USD" and cost["approved"] == 30 and cost["bonuses"] == 250
    rows = {row["worker_id"]: row for row in requester.projects.iter_workload(project["id"], page_size=1)}
    assert rows[ann["id"]]["approved"] == 2 and rows[bob["id"]]["rejected"] == 1
    table = list(csv.DictReader(io.StringIO(requester.projects.workload_csv(project["id"], page_size=1))))
    assert sorted(int(r["worker_id"]) for r in table) == sorted([ann["id"], bob["id"]])
