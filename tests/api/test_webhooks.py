"""Webhooks: subscriptions, SSRF refusals, signed deliveries, retries with backoff, the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from backend import db
from backend.models import WebhookDelivery, utcnow
from backend.services import datasets, webhooks
from tests.conftest import principal_of
from worker import jobs as worker_jobs


class Receiver:
    """An HTTP endpoint on 127.0.0.2 that records what it receives and answers with scripted codes."""

    def __init__(self):
        self.received: list[dict] = []
        self.codes: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code == 200 else b"try later")

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        self.url = f"http://127.0.0.2:{self.server.server_port}/hooks/concord"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


def verify(secret: str, received: dict) -> bool:
    """What a receiver does, written from the documented scheme (not from the server's code)."""
    parts = dict(p.split("=", 1) for p in received["headers"]["Concord-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + received["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://192.168.0.5/hook",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/hook", "http://0.0.0.0/hook",
    "http://[::ffff:127.0.0.1]/hook", "ftp://example.com/hook", "http://user:pw@127.0.0.2/hook",
    # IPv4-compatible and Teredo (client 10.0.0.1) forms of private addresses
    "http://[::127.0.0.1]/hook", "http://[::169.254.169.254]/hook", "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook",
    "http://127.0.0.2:99999/hook", "http://127.0.0.2/a b", "http://127.0.0.2/\thook",
])
def test_unsafe_targets_are_refused(mgr, url):
    response = mgr.post("/api/v1/webhooks", json={"url": url, "events": ["batch.completed"]})
    assert response.status_code == 422, (url, response.json)
    assert "url" in response.json["error"]["details"]["fields"]


def test_unknown_events_are_refused(mgr, receiver):
    response = mgr.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["task.exploded"]})
    assert response.status_code == 422


def test_events_are_delivered_signed_and_logged(project_factory, manager, mgr, user_factory, login_as, receiver,
                                                run_jobs):
    project = project_factory(overlap=1, batch_size=2, reward={"amount": 5, "currency": "USD"})
    datasets.import_items(principal=principal_of(manager), project_id=project.id,
                          items=[{"text": "a"}, {"text": "b"}])
    created = mgr.post("/api/v1/webhooks", json={
        "url": receiver.url, "events": ["batch.completed", "consensus.ready", "payout.created"],
        "secret": "s" * 32}, headers={"Idempotency-Key": "hook-1"})
    assert created.status_code == 201 and created.json["secret"] == "s" * 32
    assert mgr.post("/api/v1/webhooks", json={
        "url": receiver.url, "events": ["batch.completed", "consensus.ready", "payout.created"],
        "secret": "s" * 32}, headers={"Idempotency-Key": "hook-1"}).json["id"] == created.json["id"]
    assert "secret" not in mgr.get(f"/api/v1/webhooks/{created.json['id']}").json

    annotator = login_as(user_factory("annotator"))
    for _ in range(2):
        lease = annotator.post(f"/api/v1/projects/{project.id}/assignments").json
        annotator.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"choice": "pos"}})
    run_jobs()  # consensus of the completed batch
    worker_jobs.dispatch_events()
    run_jobs()  # the sender the dispatcher queued
    mgr.post(f"/api/v1/projects/{project.id}/reviews", json={"action": "approve"})
    mgr.post("/api/v1/payouts", json={"currency": "USD"})
    worker_jobs.dispatch_events()
    run_jobs()  # the sender the dispatcher queued

    kinds = [r["headers"]["Concord-Event"] for r in receiver.received]
    assert sorted(kinds) == ["batch.completed", "consensus.ready", "payout.created"]
    for r in receiver.received:
        assert verify("s" * 32, r)
        body = json.loads(r["body"])
        assert body["event"] == r["headers"]["Concord-Event"]
        assert str(body["delivery_id"]) == r["headers"]["Concord-Delivery"]
    payout = next(json.loads(r["body"]) for r in receiver.received if r["headers"]["Concord-Event"] == "payout.created")
    assert payout["data"]["total_amount"] == 10 and payout["data"]["currency"] == "USD"
    log = mgr.get(f"/api/v1/webhooks/{created.json['id']}/deliveries").json["items"]
    assert {d["status"] for d in log} == {"delivered"} and {d["last_status_code"] for d in log} == {200}
    # Dispatching again sends nothing twice.
    worker_jobs.dispatch_events()
    run_jobs()  # the sender the dispatcher queued
    assert len(receiver.received) == 3


def test_failed_deliveries_are_retried_with_backoff_then_redelivered(manager, mgr, receiver, run_jobs):
    principal = principal_of(manager)
    hook = mgr.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["payout.created"]}).json
    receiver.codes = [500, 503]
    mgr.post("/api/v1/payouts", json={"currency": "EUR"})
    worker_jobs.dispatch_events()
    run_jobs()  # the sender the dispatcher queued
    (delivery,) = mgr.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json["items"]
    assert delivery["status"] == "pending" and delivery["attempts"] == 1 and delivery["last_status_code"] == 500
    # Not due yet: the next run leaves it alone.
    worker_jobs.deliver_webhooks()
    assert len(receiver.received) == 1
    # 30 s doubling after each failure, capped at 6 h, each with up to 10% jitter either way.
    assert timedelta(seconds=27) <= webhooks.backoff(1) <= timedelta(seconds=33)
    assert timedelta(seconds=216) <= webhooks.backoff(4) <= timedelta(seconds=264)
    assert timedelta(hours=5.4) <= webhooks.backoff(20) <= timedelta(hours=6.6)

    def make_due():
        with db.unit_of_work() as session:
            session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))

    make_due()
    worker_jobs.deliver_webhooks()
    make_due()
    worker_jobs.deliver_webhooks()
    (delivery,) = mgr.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json["items"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert all(r["headers"]["Concord-Delivery"] == str(delivery["id"]) for r in receiver.received)
    again = mgr.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 200
    run_jobs()  # the redelivery is sent at once by a queued run of the sender
    assert len(receiver.received) == 4
    assert principal.organization_id == hook["organization_id"]


def test_a_delivery_gives_up_after_the_last_attempt(mgr, receiver, run_jobs):
    hook = mgr.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["payout.created"]}).json
    receiver.codes = [500] * webhooks.MAX_ATTEMPTS
    mgr.post("/api/v1/payouts", json={"currency": "EUR"})
    worker_jobs.dispatch_events()
    run_jobs()
    for _ in range(webhooks.MAX_ATTEMPTS - 1):
        with db.unit_of_work() as session:
            session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
        worker_jobs.deliver_webhooks()
    (delivery,) = mgr.get(f"/api/v1/webhooks/{hook['id']}/deliveries?status=failed").json["items"]
    assert delivery["attempts"] == webhooks.MAX_ATTEMPTS and delivery["next_attempt_at"] is None


def test_webhooks_are_private_to_their_organization(mgr, receiver, user_factory, login_as):
    hook = mgr.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["export.ready"]}).json
    other = login_as(user_factory("manager"))
    assert other.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404
    assert other.get(f"/api/v1/webhooks/{hook['id']}/deliveries").status_code == 404
    assert other.get("/api/v1/webhooks").json["items"] == []
    assert other.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 404
    paused = mgr.patch(f"/api/v1/webhooks/{hook['id']}", json={"active": False}).json
    assert paused["active"] is False
    assert mgr.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert mgr.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404


def test_a_name_re_pointed_to_a_private_address_is_a_failed_attempt(mgr, monkeypatch, run_jobs):
    """Checked again at every attempt: a name that later resolves inside is refused, and retried later."""
    real = socket.getaddrinfo
    answer = ["127.0.0.2"]

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "moved.test":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answer[0], port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    hook = mgr.post("/api/v1/webhooks", json={"url": "http://moved.test:9/hook", "events": ["payout.created"]}).json
    answer[0] = "127.0.0.1"
    mgr.post("/api/v1/payouts", json={"currency": "EUR"})
    worker_jobs.dispatch_events()
    run_jobs()  # the sender the dispatcher queued
    (delivery,) = mgr.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json["items"]
    assert delivery["status"] == "pending" and delivery["attempts"] == 1 and "127.0.0.1" in delivery["last_error"]
