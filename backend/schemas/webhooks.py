"""Webhooks and their deliveries."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..models import DELIVERY_STATUSES, WEBHOOK_EVENTS
from .common import PageArgsSchema, ResponseSchema

_EVENTS = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)), validate=validate.Length(min=1),
                      metadata={"description": f"Any of {', '.join(WEBHOOK_EVENTS)}"})


class WebhookCreateSchema(Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=2000))
    events = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)), required=True,
                         validate=validate.Length(min=1))
    secret = fields.String(load_default=None, validate=validate.Length(min=16, max=200), metadata={
        "description": "HMAC key for signatures; generated when omitted"})
    description = fields.String(load_default=None, validate=validate.Length(max=500))


class WebhookUpdateSchema(Schema):
    url = fields.Url(schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=2000))
    events = _EVENTS
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    active = fields.Boolean(metadata={"description": "false pauses deliveries"})


class WebhookSchema(ResponseSchema):
    id = fields.Integer()
    organization_id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    description = fields.String(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(metadata={"description": "Shown in this response only"})


class DeliverySchema(ResponseSchema):
    id = fields.Integer()
    webhook_id = fields.Integer()
    event_id = fields.Integer(allow_none=True)
    event = fields.String()
    payload = fields.Dict()
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_response = fields.String(allow_none=True, metadata={
        "description": "Status line of the last response (e.g. \"503 Service Unavailable\"); bodies are not kept"})
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)


class DeliveryListArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(DELIVERY_STATUSES))
