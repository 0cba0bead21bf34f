"""Attacks on webhooks: poison URLs, floods and slow endpoints, DNS rebinding, IPv6 forms of private
addresses, reading internal answers through the delivery log, and a worker that ignores the API's settings.

Every target is a local HTTP server on loopback (127.0.0.2 is the network the test settings allow,
127.0.0.1 stands for an internal service that must stay unreachable); nothing leaves the machine.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend import db
from backend.cli import main as concord
from backend.models import Webhook, WebhookDelivery, utcnow
from backend.services import webhook_targets, webhooks

EVENTS = ["payout.created"]


class Endpoint:
    """A local HTTP endpoint recording what it receives, in a log it may share with other endpoints."""

    def __init__(self, host: str = "127.0.0.2", port: int = 0, *, arrivals: list | None = None,
                 body: bytes = b"ok", hold: threading.Event | None = None, drip: bool = False):
        self.received: list[dict] = []
        self.arrivals = arrivals if arrivals is not None else []
        self.arrived = threading.Event()
        self.hold, self.entered = hold, threading.Event()
        self.stop = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                payload = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.entered.set()
                if drip:  # a header a byte at a time, each well within any per-read timeout
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    while not endpoint.stop.wait(0.2):
                        try:
                            self.wfile.write(b"x")
                            self.wfile.flush()
                        except OSError:
                            return
                    return
                if endpoint.hold is not None:
                    endpoint.hold.wait(60)
                endpoint.received.append({"headers": dict(self.headers), "body": payload})
                endpoint.arrivals.append(endpoint)
                endpoint.arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoints():
    made: list[Endpoint] = []

    def make(*args, **kwargs) -> Endpoint:
        made.append(Endpoint(*args, **kwargs))
        return made[-1]

    yield make
    for endpoint in made:
        endpoint.close()


def _store_webhook(organization_id: int, url: str) -> int:
    """A webhook row as it may sit in the database already (saved before validation was tightened)."""
    with db.unit_of_work() as session:
        hook = Webhook(organization_id=organization_id, url=url, events=EVENTS, secret="s" * 32, active=True,
                       actor="test", created_at=utcnow())
        session.add(hook)
        session.flush()
        return hook.id


def _queue_deliveries(webhook_id: int, count: int = 1) -> list[int]:
    now = utcnow()
    with db.unit_of_work() as session:
        rows = [WebhookDelivery(webhook_id=webhook_id, event="payout.created", payload={"event": "payout.created"},
                                status="pending", attempts=0, next_attempt_at=now, created_at=now)
                for _ in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _delivery(delivery_id: int) -> WebhookDelivery:
    with db.read_session() as session:
        return session.get(WebhookDelivery, delivery_id)


@pytest.fixture
def tenants(user_factory, login_as):
    """Two managers of different organizations, logged in."""
    first, second = user_factory("manager"), user_factory("manager")
    return (first, login_as(first)), (second, login_as(second))


@pytest.mark.parametrize("character", ["\x01", "\x1b", "\x7f", "\x00"])
def test_control_character_url_is_refused_at_creation_and_update(tenants, endpoints, character):
    (_user, mgr), _ = tenants
    url = endpoints().url + character + "x"
    created = mgr.post("/api/v1/webhooks", json={"url": url, "events": EVENTS})
    assert created.status_code == 422, created.json
    assert set(created.json) == {"error"} and "url" in created.json["error"]["details"]["fields"]
    hook = mgr.post("/api/v1/webhooks", json={"url": endpoints().url, "events": EVENTS}).json
    updated = mgr.patch(f"/api/v1/webhooks/{hook['id']}", json={"url": url})
    assert updated.status_code == 422 and "url" in updated.json["error"]["details"]["fields"]


def test_control_character_url_cannot_stop_other_tenants_deliveries(tenants, endpoints):
    (attacker, _), (victim, _) = tenants
    poison = _store_webhook(attacker.organization_id, endpoints().url + "\x01")
    (poisoned,) = _queue_deliveries(poison)  # due first
    receiver = endpoints()
    (wanted,) = _queue_deliveries(_store_webhook(victim.organization_id, receiver.url))

    webhooks.deliver_due()

    assert len(receiver.received) == 1 and _delivery(wanted).status == "delivered"
    failed = _delivery(poisoned)
    assert failed.status == "pending" and failed.attempts == 1 and failed.next_attempt_at > utcnow()
    assert failed.last_error


def test_one_tenants_backlog_cannot_delay_another_tenants_delivery(tenants, endpoints):
    (attacker, _), (victim, _) = tenants
    arrivals: list[Endpoint] = []
    flood, receiver = endpoints(arrivals=arrivals), endpoints(arrivals=arrivals)
    _queue_deliveries(_store_webhook(attacker.organization_id, flood.url), 40)  # due before the victim's
    _queue_deliveries(_store_webhook(victim.organization_id, receiver.url))

    webhooks.deliver_due()

    assert len(flood.received) == 40 and len(receiver.received) == 1
    # The victim's delivery is in the first round, with at most one round's share of the flood before it.
    assert arrivals.index(receiver) <= webhooks.PER_WEBHOOK_PER_BATCH


def test_slow_endpoint_cannot_hold_up_other_tenants_deliveries(tenants, endpoints):
    (attacker, _), (victim, _) = tenants
    slow = endpoints(hold=threading.Event())
    (stuck,) = _queue_deliveries(_store_webhook(attacker.organization_id, slow.url))  # due first
    receiver = endpoints()
    (wanted,) = _queue_deliveries(_store_webhook(victim.organization_id, receiver.url))

    sender = threading.Thread(target=webhooks.deliver_due)
    sender.start()
    try:
        assert slow.entered.wait(60) and receiver.arrived.wait(60)
        # The victim was served while the attacker's endpoint still held its request open.
        assert not slow.received
        assert _delivery(stuck).attempts == 0
    finally:
        slow.hold.set()
        sender.join()
    assert _delivery(wanted).status == "delivered" and _delivery(stuck).status == "delivered"


def test_endpoint_answering_a_byte_at_a_time_cannot_hold_the_sender(tenants, endpoints, monkeypatch):
    (attacker, _), (victim, _) = tenants
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 1)  # the whole attempt's allowance, kept short for the test
    drip = endpoints(drip=True)
    (dripped,) = _queue_deliveries(_store_webhook(attacker.organization_id, drip.url))
    receiver = endpoints()
    (wanted,) = _queue_deliveries(_store_webhook(victim.organization_id, receiver.url))

    sender = threading.Thread(target=webhooks.deliver_due, daemon=True)
    sender.start()
    sender.join(60)
    try:
        assert not sender.is_alive(), "the sender is still reading the dripping answer"
    finally:
        drip.stop.set()
        sender.join()
    assert _delivery(wanted).status == "delivered"
    attempt = _delivery(dripped)
    assert attempt.status == "pending" and attempt.attempts == 1 and attempt.last_status_code is None


@pytest.fixture
def rebinding_dns(monkeypatch):
    """An attacker's name server for ``rebind.test``: the scripted answers, then the last one forever."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_dns_rebinding_connects_to_checked_address(tenants, endpoints, rebinding_dns):
    (_user, mgr), _ = tenants
    internal = endpoints("127.0.0.1")  # an internal service, never allowed
    receiver = endpoints("127.0.0.2", internal.port)
    rebinding_dns[:] = ["127.0.0.2"]
    hook = mgr.post("/api/v1/webhooks", json={"url": f"http://rebind.test:{internal.port}/hook", "events": EVENTS})
    assert hook.status_code == 201, hook.json
    (delivery_id,) = _queue_deliveries(hook.json["id"])
    rebinding_dns[:] = ["127.0.0.2", "127.0.0.1"]  # passes the check, then points inside

    webhooks.deliver_due()

    assert internal.received == []
    (request,) = receiver.received
    assert request["headers"]["Host"] == f"rebind.test:{internal.port}"
    assert _delivery(delivery_id).status == "delivered"


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:5", "64:ff9b:1::a00:1"])
def test_nat64_address_refused(tenants, address):
    (_user, mgr), _ = tenants
    response = mgr.post("/api/v1/webhooks", json={"url": f"http://[{address}]/hook", "events": EVENTS})
    assert response.status_code == 422, response.json
    assert "url" in response.json["error"]["details"]["fields"]


@pytest.mark.parametrize("address", ["2002:7f00:1::1", "2002:a9fe:a9fe::1", "2002:c0a8:1::1"])
def test_6to4_forms_of_private_addresses_refused(tenants, address):
    (_user, mgr), _ = tenants
    response = mgr.post("/api/v1/webhooks", json={"url": f"http://[{address}]/hook", "events": EVENTS})
    assert response.status_code == 422, response.json
    assert "url" in response.json["error"]["details"]["fields"]


def test_delivery_log_does_not_reveal_what_the_target_answered(tenants, endpoints):
    (user, mgr), _ = tenants
    # An internal service the operator allowed for receivers answers with something secret.
    secret = b'{"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}'
    service = endpoints(body=secret)
    hook = mgr.post("/api/v1/webhooks", json={"url": service.url, "events": EVENTS}).json
    _queue_deliveries(hook["id"])

    webhooks.deliver_due()

    log = mgr.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json["items"]
    assert log[0]["status"] == "delivered" and log[0]["last_status_code"] == 200
    assert "wJalrXUtnFEMI" not in str(log) and "aws_secret" not in str(log)


def test_worker_process_reads_the_webhook_networks_the_api_reads(app, settings, monkeypatch, endpoints):
    from backend import jobs

    receiver = endpoints()
    monkeypatch.setattr(jobs, "_backend", jobs.backend())  # the command configures the queue; keep the suite's
    monkeypatch.setattr(webhook_targets, "_allowed_networks", ())  # a fresh process: nothing configured yet
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CONCORD_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    monkeypatch.setenv("CONCORD_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.2/32")
    if settings.redis_url:
        monkeypatch.setenv("REDIS_URL", settings.redis_url)
    else:
        monkeypatch.delenv("REDIS_URL", raising=False)

    CliRunner().invoke(concord, ["worker", "--burst"], catch_exceptions=False)

    # The worker process honours the operator's allowed networks exactly as the API does.
    assert webhook_targets.check_target(receiver.url) == receiver.url
    with db.read_session() as session:
        assert session.scalars(select(Webhook)).all() == []


@pytest.fixture
def tls_identity(tmp_path):
    """A self-signed certificate for ``rebind.test`` (made with the openssl command) and its key."""
    openssl = shutil.which("openssl")
    assert openssl, "this test makes its certificate with the openssl command (.ci/run installs it)"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=rebind.test", "-addext", "subjectAltName=DNS:rebind.test"],
                   check=True, capture_output=True)
    return cert, key


def test_dns_rebinding_over_https_connects_to_checked_address_under_the_tls_name(app, endpoints, rebinding_dns,
                                                                                    tls_identity):
    cert, key = tls_identity
    internal = endpoints("127.0.0.1")
    receiver = endpoints("127.0.0.2", internal.port)
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    rebinding_dns[:] = ["127.0.0.2", "127.0.0.1"]

    trusted = ssl.create_default_context(cafile=str(cert))  # the sender's own client, trusting the test CA
    with httpx.Client(transport=webhook_targets.CheckedTransport(verify=trusted), trust_env=False) as client:
        response = client.post(f"https://rebind.test:{internal.port}/hook", content=b"{}")

    assert response.status_code == 200 and internal.received == []
    assert server_names == ["rebind.test"]  # SNI, and the certificate was verified for that name
    assert receiver.received[0]["headers"]["Host"] == f"rebind.test:{internal.port}"


def test_a_second_sender_cannot_resend_deliveries_the_first_still_works_through(tenants):
    # One endpoint's share of a run goes in order, each attempt up to TIMEOUT_SECONDS; a claim shorter
    # than that let a periodic run re-claim the tail and send it twice, out of order.
    (owner, _), _ = tenants
    ids = _queue_deliveries(_store_webhook(owner.organization_id, "http://127.0.0.2:9/hook"),
                            webhooks.PER_WEBHOOK_PER_BATCH)
    before = utcnow()
    claimed = webhooks._claim_due(100)
    assert sorted(d for d, _w in claimed) == sorted(ids)
    worst_case_run = timedelta(seconds=webhooks.PER_WEBHOOK_PER_BATCH * webhooks.TIMEOUT_SECONDS)
    for delivery_id in ids:
        assert _delivery(delivery_id).next_attempt_at > before + worst_case_run
