"""Retries, backoff and idempotency keys, against a tiny scripted HTTP server."""

from __future__ import annotations

import io
import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from concord_client import Client, Conflict, RateLimited, ServerError, ServiceUnavailable, TransportError


class Scripted:
    """Answers each request with the next scripted response and records what it received."""

    def __init__(self, responses):
        self.responses = list(responses)
        self.requests: list[dict] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                scripted.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                          "body": self.rfile.read(length) if length else b""})
                status, headers, body = scripted.responses.pop(0)
                payload = json.dumps(body).encode() if isinstance(body, dict) else body
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *_args):
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def error(code, message="nope"):
    return {"error": {"code": code, "message": message, "details": {}}}


ENTRY = {"id": 7, "worker_id": 3, "kind": "bonus", "amount": 250, "currency": "USD"}


@pytest.fixture
def scripted():
    servers = []

    def make(*responses, **options):
        server = Scripted(responses)
        servers.append(server)
        options.setdefault("backoff_base", 0.001)
        client = Client(server.url, "cnc_test", **options)
        sleeps: list[float] = []
        real_sleep = client._http.sleep
        client._http.sleep = lambda seconds: (sleeps.append(seconds), real_sleep(min(seconds, 0.01)))
        return server, client, sleeps

    yield make
    for server in servers:
        server.close()


def test_429_then_503_then_success_sends_one_idempotency_key(scripted):
    server, client, sleeps = scripted((429, {"Retry-After": "0"}, error("rate_limited")),
                                      (503, {}, error("service_unavailable")), (201, {}, ENTRY))
    entry = client.payments.bonus(3, 250, "USD", "Great work")
    assert entry == ENTRY
    assert len(server.requests) == 3
    keys = {r["headers"]["Idempotency-Key"] for r in server.requests}
    assert len(keys) == 1 and uuid.UUID(keys.pop()).version == 4
    assert all(r["path"] == "/api/v1/workers/3/bonuses" and r["headers"]["Authorization"] == "Bearer cnc_test"
               for r in server.requests)
    assert all(json.loads(r["body"]) == {"amount": 250, "currency": "USD", "reason": "Great work"}
               for r in server.requests)
    assert sleeps[0] == 0  # Retry-After honoured; the 503 had none, so a short backoff
    assert 0 < sleeps[1] <= 0.002


def test_callers_key_is_sent_on_every_attempt_and_each_call_gets_its_own(scripted):
    server, client, _sleeps = scripted((502, {}, b"<html>bad gateway</html>"), (201, {}, ENTRY),
                                       (201, {}, ENTRY), (201, {}, ENTRY))
    client.payments.bonus(3, 250, "USD", "x", idempotency_key="bonus-42")
    client.payments.bonus(3, 250, "USD", "x")
    client.payments.bonus(3, 250, "USD", "x")
    keys = [r["headers"]["Idempotency-Key"] for r in server.requests]
    assert keys[:2] == ["bonus-42", "bonus-42"]
    assert len({keys[2], keys[3], "bonus-42"}) == 3


def test_reads_are_retried_without_an_idempotency_key(scripted):
    server, client, _sleeps = scripted((500, {}, error("internal_error")),
                                       (200, {}, {"id": 1, "name": "P"}))
    assert client.projects.get(1) == {"id": 1, "name": "P"}
    assert [r["method"] for r in server.requests] == ["GET", "GET"]
    assert all("Idempotency-Key" not in r["headers"] for r in server.requests)


def test_retries_run_out_and_the_last_error_is_raised(scripted):
    server, client, sleeps = scripted(*[(503, {}, error("service_unavailable", "queue down"))] * 3, max_retries=2)
    with pytest.raises(ServiceUnavailable) as failed:
        client.jobs.get("abc")
    assert failed.value.code == "service_unavailable" and failed.value.message == "queue down"
    assert len(server.requests) == 3 and len(sleeps) == 2
    assert sleeps[1] >= sleeps[0] * 0.5 * 2 * 0.5  # exponential growth, within jitter bounds


def test_a_gateway_error_without_concords_body_still_raises_a_server_error(scripted):
    _server, client, _sleeps = scripted((502, {"Content-Type": "text/html"}, b"<h1>Bad Gateway</h1>"),
                                        max_retries=0)
    with pytest.raises(ServerError) as failed:
        client.projects.get(1)
    assert failed.value.status == 502 and failed.value.code == "http_502" and "Bad Gateway" in failed.value.message


def test_retry_after_is_honoured_and_too_long_advice_goes_to_the_caller(scripted):
    server, client, sleeps = scripted((429, {"Retry-After": "3"}, error("rate_limited")),
                                      (200, {}, {"items": [], "next_cursor": None}),
                                      (429, {"Retry-After": "3600"}, error("rate_limited")))
    assert client.projects.list() == {"items": [], "next_cursor": None}
    assert sleeps == [3.0]
    with pytest.raises(RateLimited) as limited:
        client.projects.list()
    assert limited.value.retry_after == 3600 and len(server.requests) == 3


def test_client_errors_are_not_retried(scripted):
    server, client, sleeps = scripted((409, {}, {"error": {"code": "already_submitted", "message": "no",
                                                           "details": {"assignment_id": 5}}}))
    with pytest.raises(Conflict) as conflict:
        client.assignments.submit(5, {"choice": "neg"}, worker="w-1")
    assert conflict.value.code == "already_submitted" and conflict.value.details == {"assignment_id": 5}
    assert len(server.requests) == 1 and sleeps == []


def test_connection_failures_are_retried_then_raised():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", "cnc_test", max_retries=3, backoff_base=0.001)
    sleeps: list[float] = []
    client._http.sleep = sleeps.append
    with pytest.raises(TransportError) as failed:
        client.projects.get(1)
    assert failed.value.status is None and failed.value.code == "connection_error"
    assert len(sleeps) == 3


def test_vendor_worker_header_from_the_client_or_the_call(scripted):
    lease = {"id": 1, "task": {"id": 2}}
    server, client, _sleeps = scripted((201, {}, lease), (200, {}, lease),
                                       (204, {"X-Concord-Reason": "suspended"}, b""), worker="ext-1")
    assert client.assignments.claim(9) == lease
    assert client.assignments.claim(9, worker="ext-2") == lease
    assert client.acting_as("ext-3").assignments.claim(9).reason == "suspended"
    assert [r["headers"]["X-Concord-Worker"] for r in server.requests] == ["ext-1", "ext-2", "ext-3"]


def test_a_retried_upload_sends_the_whole_file_again(scripted):
    server, client, _sleeps = scripted((503, {}, error("service_unavailable")),
                                       (201, {}, {"id": 4, "status": "ready"}))
    upload = io.BytesIO(b"text\nhello\n")
    assert client.datasets.upload(1, upload, filename="items.csv", batch_size=5)["id"] == 4
    first, second = server.requests
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]
    for request in (first, second):
        assert request["headers"]["Content-Type"].startswith("multipart/form-data")
        assert b'filename="items.csv"' in request["body"] and b"text\nhello\n" in request["body"]
        assert b'name="batch_size"\r\n\r\n5' in request["body"]
