"""Webhook subscriptions through the API, and checking the signature of a delivery you receive.

Concord signs each delivery with the subscription's secret::

    Concord-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>
    Concord-Event: batch.completed
    Concord-Delivery: 123

Verify against the raw request body, before parsing it as JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Iterator

from ._http import without_none
from ._projects import Resource
from .types import Page, Webhook, WebhookDelivery

SIGNATURE_HEADER = "Concord-Signature"
EVENT_HEADER = "Concord-Event"
DELIVERY_HEADER = "Concord-Delivery"


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Concord-Signature`` value Concord sends for ``body`` at ``timestamp`` (for tests and tools)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_webhook(secret: str, body: bytes, signature_header: str | None, *, tolerance_seconds: int = 300,
                   now: float | None = None) -> bool:
    """True when ``signature_header`` is Concord's signature of ``body`` with ``secret``, made within
    ``tolerance_seconds`` of ``now`` (either side, to allow for clock skew; replays of old deliveries fail).

    Several ``v1=`` values are accepted (any may match), so a key rotation does not drop deliveries.
    Never raises on a malformed header: it is just not valid.
    """
    if not secret or not signature_header or not isinstance(body, bytes | bytearray):
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in signature_header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value.strip())
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + bytes(body), hashlib.sha256).hexdigest()
    # Compare against every candidate, without stopping early, each in constant time.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    return matched


class Webhooks(Resource):
    """``/webhooks``: subscribe an https address to the organization's events."""

    def create(self, url: str, events: Iterable[str], *, secret: str | None = None, description: str | None = None,
               idempotency_key: str | None = None) -> Webhook:
        """Subscribe ``url`` to ``events`` (``batch.completed``, ``consensus.ready``, ``export.ready``...).

        Without ``secret`` the server makes one; it is in the answer, keep it to verify deliveries.
        """
        body = without_none(url=url, events=list(events), secret=secret, description=description)
        return self._http.json("POST", "/webhooks", json=body, idempotency_key=idempotency_key)

    def list(self, *, limit: int = 50, cursor: str | None = None) -> Page[Webhook]:
        return self._http.json("GET", "/webhooks", params={"limit": limit, "cursor": cursor})

    def iter(self, *, page_size: int = 100) -> Iterator[Webhook]:
        return self._http.iterate("/webhooks", page_size=page_size)

    def get(self, webhook_id: int) -> Webhook:
        return self._http.json("GET", f"/webhooks/{webhook_id}")

    def update(self, webhook_id: int, *, url: str | None = None, events: Iterable[str] | None = None,
               description: str | None = None, active: bool | None = None) -> Webhook:
        """Change the address, events or description; ``active=False`` pauses deliveries, ``True`` resumes."""
        body = without_none(url=url, events=None if events is None else list(events), description=description,
                            active=active)
        return self._http.json("PATCH", f"/webhooks/{webhook_id}", json=body)

    def delete(self, webhook_id: int) -> None:
        """Stop a webhook for good (its delivery log is kept)."""
        self._http.request("DELETE", f"/webhooks/{webhook_id}")

    def list_deliveries(self, webhook_id: int, *, status: str | None = None, limit: int = 50,
                        cursor: str | None = None) -> Page[WebhookDelivery]:
        return self._http.json("GET", f"/webhooks/{webhook_id}/deliveries",
                               params={"status": status, "limit": limit, "cursor": cursor})

    def iter_deliveries(self, webhook_id: int, *, status: str | None = None,
                        page_size: int = 100) -> Iterator[WebhookDelivery]:
        """The webhook's delivery log, oldest first."""
        return self._http.iterate(f"/webhooks/{webhook_id}/deliveries", {"status": status}, page_size=page_size)

    def redeliver(self, webhook_id: int, delivery_id: int, *, idempotency_key: str | None = None) -> WebhookDelivery:
        """Send a delivery again, whatever its state."""
        return self._http.json("POST", f"/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", json={},
                               idempotency_key=idempotency_key)
