"""Webhooks: subscribe to events, read the delivery log, redeliver."""

from __future__ import annotations

import contextlib

from flask import Response

from .. import jobs
from ..schemas.common import PageArgsSchema, page_of
from ..schemas.webhooks import (
    DeliveryListArgsSchema,
    DeliverySchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)
from ..services import webhooks
from .common import IDEMPOTENCY_PARAM, api_blueprint, errors, replay_headers, request_key, security
from .security import auth_required, current_principal

bp = api_blueprint("webhooks", __name__, "Signed event notifications, retried with backoff, with a delivery log. "
                                         "Signature: Concord-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "
                                         "'<t>.' + body)>.")


@bp.post("/webhooks")
@auth_required("projects:write")
@bp.arguments(WebhookCreateSchema)
@bp.response(201, WebhookCreatedSchema)
@bp.alt_response(200, schema=WebhookCreatedSchema, description="A replay of an earlier request with the same key")
@bp.doc(security=security("projects:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 422)
def create_webhook(body):
    """Subscribe an address to events. Private, loopback and link-local addresses are refused."""
    principal = current_principal()
    webhook, replayed = webhooks.create_webhook(principal=principal, request=request_key(principal), **body)
    return webhook, 200 if replayed else 201, replay_headers(replayed)


@bp.get("/webhooks")
@auth_required("projects:read")
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, page_of(WebhookSchema))
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 422)
def list_webhooks(args):
    """The organization's webhooks."""
    return webhooks.list_webhooks(principal=current_principal(), **args)


@bp.get("/webhooks/<int:webhook_id>")
@auth_required("projects:read")
@bp.response(200, WebhookSchema)
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404)
def get_webhook(webhook_id: int):
    """One webhook (its secret is never shown again)."""
    return webhooks.get_webhook(principal=current_principal(), webhook_id=webhook_id)


@bp.patch("/webhooks/<int:webhook_id>")
@auth_required("projects:write")
@bp.arguments(WebhookUpdateSchema)
@bp.response(200, WebhookSchema)
@bp.doc(security=security("projects:write"))
@errors(bp, 401, 403, 404, 422)
def update_webhook(body, webhook_id: int):
    """Change the address or events, or pause and resume deliveries."""
    return webhooks.update_webhook(principal=current_principal(), webhook_id=webhook_id, fields=body)


@bp.delete("/webhooks/<int:webhook_id>")
@auth_required("projects:write")
@bp.response(204)
@bp.doc(security=security("projects:write"))
@errors(bp, 401, 403, 404)
def delete_webhook(webhook_id: int):
    """Stop a webhook; its delivery log stays readable to the organization's records."""
    webhooks.delete_webhook(principal=current_principal(), webhook_id=webhook_id)
    return Response(status=204)


@bp.get("/webhooks/<int:webhook_id>/deliveries")
@auth_required("projects:read")
@bp.arguments(DeliveryListArgsSchema, location="query")
@bp.response(200, page_of(DeliverySchema))
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404, 422)
def list_deliveries(args, webhook_id: int):
    """The delivery log: each event sent, its attempts and the receiver's last answer."""
    return webhooks.list_deliveries(principal=current_principal(), webhook_id=webhook_id, **args)


@bp.post("/webhooks/<int:webhook_id>/deliveries/<bigint:delivery_id>/redeliver")
@auth_required("projects:write")
@bp.response(200, DeliverySchema)
@bp.doc(security=security("projects:write"))
@errors(bp, 401, 403, 404, 503)
def redeliver(webhook_id: int, delivery_id: int):
    """Send a delivery again now, whatever happened to it before. 503 (with Retry-After) while the job
    queue is unreachable, before anything changes."""
    jobs.require_queue()
    delivery = webhooks.redeliver(principal=current_principal(), webhook_id=webhook_id, delivery_id=delivery_id)
    with contextlib.suppress(jobs.QueueUnavailable):  # due now: the periodic deliverer sends it anyway
        jobs.run_soon("worker.jobs.deliver_webhooks")
    return delivery
