"""Webhooks through the client: subscribe, receive a signed delivery, read the log, redeliver, delete."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from concord_client import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, NotFound, ValidationError, verify_webhook

from backend.services import webhooks as webhook_service

from .conftest import label_all
from .test_vendor_flow import sentiment_project

SECRET = "whsec_client_tests_0123456789"


class Receiver:
    """A webhook receiver on loopback that records every delivery."""

    def __init__(self):
        self.deliveries: list[dict] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.arrived:
                    receiver.deliveries.append({"headers": dict(self.headers), "body": body})
                    receiver.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args):
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/concord"

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout), \
                f"{len(self.deliveries)} deliveries arrived, expected {count}"
            return list(self.deliveries)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(app):
    # The server refuses loopback targets unless the operator allows them: allow them for this test.
    webhook_service.configure(allowed_networks="127.0.0.0/8")
    hook = Receiver()
    yield hook
    hook.close()
    webhook_service.configure(allowed_networks=app.config["CONCORD_SETTINGS"].webhook_allowed_networks)


def wait_until(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def test_subscribe_list_get_update_and_delete(requester, receiver):
    created = requester.webhooks.create(receiver.url, ["batch.completed", "export.ready"], secret=SECRET,
                                        description="results pipeline", idempotency_key="hook-1")
    assert created["url"] == receiver.url and created["secret"] == SECRET and created["active"] is True
    assert sorted(created["events"]) == ["batch.completed", "export.ready"] and created["created_at"]
    assert requester.webhooks.create(receiver.url, ["batch.completed", "export.ready"], secret=SECRET,
                                     description="results pipeline", idempotency_key="hook-1")["id"] == created["id"]
    generated = requester.webhooks.create(receiver.url, ["payout.created"])
    assert len(generated["secret"]) >= 16 and generated["secret"] != SECRET

    assert [h["id"] for h in requester.webhooks.iter(page_size=1)] == [created["id"], generated["id"]]
    fetched = requester.webhooks.get(created["id"])
    assert fetched["url"] == receiver.url and "secret" not in fetched
    paused = requester.webhooks.update(created["id"], active=False, events=["export.ready"])
    assert paused["active"] is False and paused["events"] == ["export.ready"]

    requester.webhooks.delete(generated["id"])
    with pytest.raises(NotFound):
        requester.webhooks.get(generated["id"])
    assert [h["id"] for h in requester.webhooks.iter()] == [created["id"]]

    with pytest.raises(ValidationError) as bad_event:
        requester.webhooks.create(receiver.url, ["task.eaten"])
    assert "events" in bad_event.value.fields
    with pytest.raises(ValidationError):
        requester.webhooks.create("http://169.254.169.254/latest", ["batch.completed"])


def test_a_completed_batch_is_delivered_signed_and_can_be_redelivered(requester, vendor, receiver):
    hook = requester.webhooks.create(receiver.url, ["batch.completed"], secret=SECRET)
    project = sentiment_project(requester, overlap=1, batch_size=2)
    requester.datasets.push(project["id"], [{"text": "a"}, {"text": "b"}])
    (batch,) = requester.batches.iter(project["id"])
    label_all(vendor, project["id"], "w-1", lambda lease: {"choice": "pos"})

    (first,) = receiver.wait_for(1)
    headers = {k.lower(): v for k, v in first["headers"].items()}
    assert verify_webhook(SECRET, first["body"], headers[SIGNATURE_HEADER.lower()])
    assert not verify_webhook("whsec_some_other_secret_00", first["body"], headers[SIGNATURE_HEADER.lower()])
    assert headers[EVENT_HEADER.lower()] == "batch.completed"

    delivered = wait_until(lambda: [d for d in requester.webhooks.iter_deliveries(hook["id"])
                                    if d["status"] == "delivered"])
    (delivery,) = delivered
    assert str(delivery["id"]) == headers[DELIVERY_HEADER.lower()]
    assert delivery["event"] == "batch.completed" and delivery["payload"]["batch_id"] == batch["id"]
    assert delivery["attempts"] == 1 and delivery["last_status_code"] == 204

    again = requester.webhooks.redeliver(hook["id"], delivery["id"])
    assert again["id"] == delivery["id"] and again["status"] == "pending"
    _first, second = receiver.wait_for(2)
    second_headers = {k.lower(): v for k, v in second["headers"].items()}
    assert second_headers[DELIVERY_HEADER.lower()] == str(delivery["id"]) and second["body"] == first["body"]
    assert verify_webhook(SECRET, second["body"], second_headers[SIGNATURE_HEADER.lower()])
    (logged,) = wait_until(lambda: [d for d in requester.webhooks.list_deliveries(hook["id"], status="delivered")
                                    ["items"] if d["attempts"] == 2])
    assert logged["id"] == delivery["id"]
