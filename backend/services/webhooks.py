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
import logging
import random
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..db import is_postgres, read_session, unit_of_work
from ..errors import NotFound, ValidationError
from ..models import WEBHOOK_EVENTS, Event, Webhook, WebhookDelivery, utcnow
from . import idempotency, webhook_targets
from .access import Principal
from .pagination import Page, paginate

MAX_ATTEMPTS = 8
BASE_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 6 * 3600
TIMEOUT_SECONDS = 10  # for a whole attempt: connecting, sending, and the answer's status line and headers
USER_AGENT = "Concord-Webhooks/1"

# Per run of the sender, at most this many deliveries of one webhook are claimed, organizations take
# turns, and this many endpoints are sent to at once: one tenant's flood or slow endpoint delays only itself.
PER_WEBHOOK_PER_BATCH = 10
PARALLEL_ENDPOINTS = 8
# A claimed delivery is someone else's to retry only after this: longer than one endpoint's share of a
# run can take (its deliveries go in order, each up to TIMEOUT_SECONDS), so no delivery is sent twice
# or out of order by a second sender while the first still works through that endpoint.
CLAIM_SECONDS = PER_WEBHOOK_PER_BATCH * TIMEOUT_SECONDS + 30
RESPONSE_EXCERPT_CHARS = 100

log = logging.getLogger(__name__)

configure = webhook_targets.configure
check_target = webhook_targets.check_target


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


def _claim_due(limit: int) -> list[tuple[int, int]]:
    """Claim up to ``limit`` due deliveries as (delivery id, webhook id), fairly.

    At most PER_WEBHOOK_PER_BATCH per webhook, and organizations take turns: every organization's first
    delivery comes before anyone's second, so a backlog of one tenant never sits ahead of another's.
    """
    now = utcnow()
    with unit_of_work() as session:
        due = (select(WebhookDelivery.id, WebhookDelivery.webhook_id, WebhookDelivery.next_attempt_at,
                      Webhook.organization_id,
                      func.row_number().over(partition_by=WebhookDelivery.webhook_id,
                                             order_by=(WebhookDelivery.next_attempt_at, WebhookDelivery.id))
                      .label("hook_rank"))
               .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
               .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)).subquery()
        capped = select(due).where(due.c.hook_rank <= PER_WEBHOOK_PER_BATCH).subquery()
        turns = select(capped.c.id, capped.c.webhook_id, capped.c.next_attempt_at, func.row_number().over(
            partition_by=capped.c.organization_id,
            order_by=(capped.c.hook_rank, capped.c.next_attempt_at, capped.c.id)).label("turn")).subquery()
        candidates = session.execute(select(turns.c.id, turns.c.webhook_id).order_by(
            turns.c.turn, turns.c.next_attempt_at, turns.c.id).limit(limit)).all()
        if not candidates:
            return []
        # Window functions cannot be locked: lock the chosen rows, skipping those another sender took meanwhile.
        lock = select(WebhookDelivery.id).where(WebhookDelivery.id.in_([c.id for c in candidates]),
                                                WebhookDelivery.status == "pending",
                                                WebhookDelivery.next_attempt_at <= now)
        if is_postgres(session):
            lock = lock.with_for_update(skip_locked=True)
        locked = set(session.scalars(lock))
        claimed = [(c.id, c.webhook_id) for c in candidates if c.id in locked]
        if claimed:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(locked))
                            .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS)))
        return claimed


def _excerpt(response: httpx.Response) -> str:
    """What the delivery log keeps of a response: its status line, never the body (it may hold secrets)."""
    reason = "".join(c for c in (response.reason_phrase or "") if c.isprintable())
    return f"{response.status_code} {reason}".strip()[:RESPONSE_EXCERPT_CHARS]


def _record_attempt(delivery_id: int, *, ok: bool, status_code: int | None, error: str | None,
                    response_text: str | None) -> str:
    now = utcnow()
    with unit_of_work() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = status_code, (error or None) and error[:500]
        delivery.last_response = response_text
        if ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delivery.status, delivery.next_attempt_at = "pending", now + backoff(delivery.attempts)
        return delivery.status


def send(delivery_id: int, *, client: httpx.Client | None = None) -> str:
    """Attempt one delivery and record the outcome. Returns the delivery's status afterwards.

    Any error while sending (an address the client refuses, a refused target, a network error) is this
    delivery's failed attempt, retried with backoff.
    """
    with read_session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        webhook = session.get(Webhook, delivery.webhook_id)
    if not webhook.active:
        with unit_of_work() as session:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
                status="failed", next_attempt_at=None, last_error="webhook paused or deleted"))
        return "failed"
    status_code, error, response_text, ok = None, None, None, False
    try:
        body = orjson.dumps({**delivery.payload, "delivery_id": delivery.id})
        timestamp = int(time.time())
        owned = client is None
        # The transport checks the target at send time (a name may have been re-pointed since it was
        # saved) and connects to the very address it checked.
        client = client or webhook_targets.client(timeout=TIMEOUT_SECONDS)
        try:
            # Streamed and closed unread: the body is not kept, so a huge or endless one costs nothing.
            with client.stream("POST", webhook.url, content=body, headers={
                    "Content-Type": "application/json", "User-Agent": USER_AGENT, "Concord-Event": delivery.event,
                    "Concord-Delivery": str(delivery.id),
                    "Concord-Signature": signature(webhook.secret, body, timestamp)}) as response:
                status_code, response_text = response.status_code, _excerpt(response)
        finally:
            if owned:
                client.close()
        ok = 200 <= response.status_code < 300
        if not ok:
            error = f"HTTP {response.status_code}"
    except Exception as exc:  # noqa: BLE001 - whatever went wrong is this attempt's failure, not the sender's
        error = str(getattr(exc, "message", exc)) or type(exc).__name__
    return _record_attempt(delivery_id, ok=ok, status_code=status_code, error=error, response_text=response_text)


def _send_to_endpoint(delivery_ids: list[int]) -> None:
    """Send one webhook's claimed deliveries in order; after a failed one, leave the rest for a later run."""
    with webhook_targets.client(timeout=TIMEOUT_SECONDS) as client:
        for delivery_id in delivery_ids:
            try:
                status = send(delivery_id, client=client)
            except Exception:  # the database, most likely: log it and let the claim expire into a retry
                log.exception("webhook delivery %s could not be attempted", delivery_id)
                return
            if status != "delivered":
                return  # the rest stay claimed and are due again after CLAIM_SECONDS, not attempted


def deliver_due(*, limit: int = 100) -> int:
    """Send the deliveries that are due (periodic). Returns how many were claimed.

    Endpoints are sent to in parallel, each one's deliveries in order, so a slow or failing endpoint
    holds up only its own deliveries.
    """
    claimed_total = 0
    with ThreadPoolExecutor(max_workers=PARALLEL_ENDPOINTS, thread_name_prefix="webhooks") as pool:
        while True:
            claimed = _claim_due(limit)
            if not claimed:
                return claimed_total
            by_webhook: dict[int, list[int]] = {}
            for delivery_id, webhook_id in claimed:  # in claim order: organizations take turns
                by_webhook.setdefault(webhook_id, []).append(delivery_id)
            for future in [pool.submit(_send_to_endpoint, ids) for ids in by_webhook.values()]:
                future.result()
            claimed_total += len(claimed)
