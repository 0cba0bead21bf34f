"""Webhooks: subscriptions, signed deliveries with retries, and the delivery log.

Events come from the outbox (``events``): the dispatcher fans each one out to
the organization's subscriptions in the transaction that marks it dispatched,
so every subscriber gets exactly one delivery row per event. Deliveries are sent
by a periodic job (and at once after a fan-out); several workers share them by
claiming rows with ``SKIP LOCKED``. A failed attempt is retried with exponential
backoff; after the last one the delivery is ``failed`` and can be redelivered.

Signature: ``Concord-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import secrets
import socket
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db import is_postgres, read_session, unit_of_work
from ..errors import NotFound, ValidationError
from ..models import WEBHOOK_EVENTS, Event, Webhook, WebhookDelivery, utcnow
from . import idempotency
from .access import Principal
from .pagination import Page, paginate

MAX_ATTEMPTS = 8
BASE_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 6 * 3600
TIMEOUT_SECONDS = 10
CLAIM_SECONDS = 60  # a claimed delivery is someone else's to retry only after this
USER_AGENT = "Concord-Webhooks/1"

_allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


def configure(*, allowed_networks: str | None) -> None:
    """Networks the operator allows as targets despite being private (comma-separated CIDRs)."""
    global _allowed_networks
    _allowed_networks = tuple(ipaddress.ip_network(n.strip(), strict=False)
                              for n in (allowed_networks or "").split(",") if n.strip())


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _allowed_networks):
        return False
    return not ip.is_global or ip.is_multicast


def check_target(url: str) -> str:
    """The URL if it is an http(s) address that resolves only to public addresses (or allowed networks).

    Refuses loopback, private, link-local (cloud metadata), multicast and reserved
    addresses, whatever name points at them. Raises ValidationError.
    """
    def bad(message: str) -> ValidationError:
        return ValidationError(f"url: {message}", code="invalid_webhook_url", details={"fields": {"url": [message]}})

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad("an http or https address")
    if parts.username or parts.password:
        raise bad("no credentials in the address; use the signing secret")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, ValueError) as exc:
        raise bad(f"cannot resolve {parts.hostname}") from exc
    blocked = sorted(a for a in addresses if _blocked(a))
    if blocked:
        raise bad(f"{parts.hostname} resolves to a private, loopback or link-local address ({blocked[0]})")
    return url


def create_webhook(*, principal: Principal, url: str, events: list[str], secret: str | None = None,
                   description: str | None = None,
                   request: idempotency.RequestKey | None = None) -> tuple[Webhook, bool]:
    """Subscribe an address to events of the caller's organization. Returns it and whether it is a replay.

    Raises ValidationError (unknown event, unsafe address, weak secret).
    """
    principal.require_scope("projects:write")
    organization_id = principal.require_organization("Webhooks")
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if not events or unknown:
        raise ValidationError(f"events: choose among {', '.join(WEBHOOK_EVENTS)}",
                              details={"fields": {"events": [f"unknown: {', '.join(unknown)}" if unknown
                                                             else "at least one"]}})
    if secret is not None and len(secret) < 16:
        raise ValidationError("secret: at least 16 characters", details={"fields": {"secret": ["too short"]}})
    check_target(url)
    with unit_of_work() as session:
        prior = idempotency.reserve(session, request)
        if prior is not None:
            return session.get(Webhook, prior["webhook_id"]), True
        webhook = Webhook(organization_id=organization_id, url=url, events=sorted(set(events)),
                          secret=secret or secrets.token_urlsafe(32), description=description, active=True,
                          actor=principal.actor, created_at=utcnow())
        session.add(webhook)
        session.flush()
        idempotency.remember(session, request, {"webhook_id": webhook.id})
        return webhook, False


def _own(session: Session, principal: Principal, webhook_id: int) -> Webhook:
    webhook = session.get(Webhook, webhook_id)
    if webhook is None or webhook.deleted_at is not None or not (
            principal.is_admin or webhook.organization_id == principal.organization_id):
        raise NotFound(f"Webhook {webhook_id} not found.")
    return webhook


def get_webhook(*, principal: Principal, webhook_id: int) -> Webhook:
    """One of the organization's webhooks. Raises NotFound."""
    principal.require_scope("projects:read")
    with read_session() as session:
        return _own(session, principal, webhook_id)


def list_webhooks(*, principal: Principal, limit: int, cursor: str | None) -> Page:
    principal.require_scope("projects:read")
    with read_session() as session:
        stmt = select(Webhook).where(Webhook.deleted_at.is_(None))
        if not principal.is_admin:
            stmt = stmt.where(Webhook.organization_id == principal.organization_id)
        return paginate(session, stmt, Webhook.id, limit=limit, cursor=cursor)


def update_webhook(*, principal: Principal, webhook_id: int, fields: dict[str, Any]) -> Webhook:
    """Change the address, events or description, or pause (active=false). Raises NotFound, ValidationError."""
    principal.require_scope("projects:write")
    if "url" in fields:
        check_target(fields["url"])
    if "events" in fields and (not fields["events"] or set(fields["events"]) - set(WEBHOOK_EVENTS)):
        raise ValidationError(f"events: choose among {', '.join(WEBHOOK_EVENTS)}",
                              details={"fields": {"events": ["unknown or empty"]}})
    with unit_of_work() as session:
        webhook = _own(session, principal, webhook_id)
        for key in ("url", "description", "active"):
            if key in fields:
                setattr(webhook, key, fields[key])
        if "events" in fields:
            webhook.events = sorted(set(fields["events"]))
        return webhook


def delete_webhook(*, principal: Principal, webhook_id: int) -> None:
    """Stop a webhook for good; its delivery log is kept. Raises NotFound."""
    principal.require_scope("projects:write")
    with unit_of_work() as session:
        webhook = _own(session, principal, webhook_id)
        webhook.deleted_at, webhook.active = utcnow(), False
        session.execute(update(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id,
                                                      WebhookDelivery.status == "pending")
                        .values(status="failed", last_error="webhook deleted"))


def list_deliveries(*, principal: Principal, webhook_id: int, limit: int, cursor: str | None,
                    status: str | None = None) -> Page:
    """A webhook's delivery log, oldest first. Raises NotFound."""
    principal.require_scope("projects:read")
    with read_session() as session:
        _own(session, principal, webhook_id)
        stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
        if status:
            stmt = stmt.where(WebhookDelivery.status == status)
        return paginate(session, stmt, WebhookDelivery.id, limit=limit, cursor=cursor)


def redeliver(*, principal: Principal, webhook_id: int, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (at the next run of the sender), whatever its state. Raises NotFound."""
    principal.require_scope("projects:write")
    with unit_of_work() as session:
        _own(session, principal, webhook_id)
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.webhook_id != webhook_id:
            raise NotFound(f"Delivery {delivery_id} not found.")
        delivery.status, delivery.next_attempt_at = "pending", utcnow()
        return delivery


def payload_of(event: Event) -> dict[str, Any]:
    return {"id": event.id, "event": event.kind, "created_at": event.created_at.isoformat(),
            "project_id": event.project_id, "batch_id": event.batch_id, "data": event.payload or {}}


def fan_out(session: Session, event: Event, organization_id: int) -> int:
    """One delivery per subscribed webhook of the organization, in the caller's transaction."""
    if event.kind not in WEBHOOK_EVENTS:
        return 0
    hooks = [h for h in session.scalars(select(Webhook).where(
        Webhook.organization_id == organization_id, Webhook.active.is_(True), Webhook.deleted_at.is_(None)))
        if event.kind in h.events]
    now = utcnow()
    for hook in hooks:
        session.add(WebhookDelivery(webhook_id=hook.id, event_id=event.id, event=event.kind,
                                    payload=payload_of(event), status="pending", attempts=0, next_attempt_at=now,
                                    created_at=now))
    return len(hooks)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff(attempts: int) -> timedelta:
    """Delay before the next attempt after ``attempts`` failures: 30 s doubling, capped, with jitter."""
    delay = min(BASE_DELAY_SECONDS * 2 ** (attempts - 1), MAX_DELAY_SECONDS)
    return timedelta(seconds=delay * random.uniform(0.9, 1.1))


def _claim_due(limit: int) -> list[int]:
    now = utcnow()
    with unit_of_work() as session:
        due = select(WebhookDelivery.id).where(WebhookDelivery.status == "pending",
                                               WebhookDelivery.next_attempt_at <= now).order_by(
            WebhookDelivery.next_attempt_at).limit(limit)
        if is_postgres(session):
            due = due.with_for_update(skip_locked=True)
        ids = list(session.scalars(due))
        if ids:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                            .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS)))
        return ids


def send(delivery_id: int, *, client: httpx.Client | None = None) -> str:
    """Attempt one delivery and record the outcome. Returns the delivery's status afterwards."""
    with read_session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        webhook = session.get(Webhook, delivery.webhook_id)
    if not webhook.active:
        with unit_of_work() as session:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
                status="failed", next_attempt_at=None, last_error="webhook paused or deleted"))
        return "failed"
    body = orjson.dumps({**delivery.payload, "delivery_id": delivery.id})
    timestamp = int(time.time())
    status_code, error, response_text = None, None, None
    try:
        check_target(webhook.url)  # again at send time: a name may have been re-pointed since
        owned = client is None
        client = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
        try:
            response = client.post(webhook.url, content=body, headers={
                "Content-Type": "application/json", "User-Agent": USER_AGENT, "Concord-Event": delivery.event,
                "Concord-Delivery": str(delivery.id), "Concord-Signature": signature(webhook.secret, body, timestamp)})
        finally:
            if owned:
                client.close()
        status_code, response_text = response.status_code, response.text[:500]
        ok = 200 <= response.status_code < 300
        if not ok:
            error = f"HTTP {response.status_code}"
    except (httpx.HTTPError, ValidationError) as exc:
        ok, error = False, str(getattr(exc, "message", exc))[:500] or type(exc).__name__
    now = utcnow()
    with unit_of_work() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error, delivery.last_response = status_code, error, response_text
        if ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delivery.status, delivery.next_attempt_at = "pending", now + backoff(delivery.attempts)
        return delivery.status


def deliver_due(*, limit: int = 100) -> int:
    """Send the deliveries that are due (periodic). Returns how many were attempted."""
    attempted = 0
    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        while True:
            ids = _claim_due(limit)
            for delivery_id in ids:
                send(delivery_id, client=client)
            attempted += len(ids)
            if len(ids) < limit:
                return attempted
