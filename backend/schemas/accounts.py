"""Login, the caller, and API tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, validate, validates

from ..models import ROLES, SCOPES
from .common import ResponseSchema, UtcDateTime

MAX_ROTATION_GRACE_SECONDS = 7 * 86_400


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(min=8, max=1024))


class OrganizationRefSchema(ResponseSchema):
    id = fields.Integer()
    name = fields.String(allow_none=True, metadata={"description": "null for an organization key"})


class MeSchema(ResponseSchema):
    id = fields.Integer(allow_none=True)
    email = fields.String(allow_none=True)
    role = fields.String(validate=validate.OneOf([*ROLES, "organization"]))
    organization = fields.Nested(OrganizationRefSchema, allow_none=True)
    worker_id = fields.Integer(allow_none=True)
    scopes = fields.List(fields.String())
    csrf_token = fields.String(allow_none=True, metadata={
        "description": "Send as X-CSRF-Token on state-changing requests made with the session cookie."})


class TokenCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), load_default=None)
    organization = fields.Boolean(load_default=False, metadata={
        "description": "true: an organization key (a vendor's service key); false: a personal token."})
    expires_at = UtcDateTime(load_default=None, metadata={
        "description": "When the token stops working; must be in the future."})

    @validates("expires_at")
    def _in_future(self, value, **_kwargs):
        if value is not None and value <= datetime.now(UTC):
            raise ValidationError("must be in the future")


class TokenSchema(ResponseSchema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(validate=validate.OneOf(["personal", "organization"]))
    prefix = fields.String(metadata={"description": "First characters of the secret, to recognise it."})
    scopes = fields.List(fields.String())
    user_id = fields.Integer(allow_none=True)
    organization_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    rotated_at = fields.DateTime(allow_none=True)
    previous_valid_until = fields.DateTime(allow_none=True, metadata={
        "description": "Until then the secret replaced by the last rotation still works"})


class TokenRotateSchema(Schema):
    grace_seconds = fields.Integer(
        strict=True, load_default=86_400, validate=validate.Range(min=0, max=MAX_ROTATION_GRACE_SECONDS),
        metadata={"description": "How long the old secret keeps working, in seconds (0: not at all; at most 7 days)"})


class AuditArgsSchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None)
    actor = fields.String(load_default=None, metadata={"description": "token:<id>, user:<id> or system:<rule>"})
    kind = fields.String(load_default=None)


class AuditRecordSchema(ResponseSchema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "api.write for writes through the API; others are domain events"})
    organization_id = fields.Integer(allow_none=True)
    project_id = fields.Integer(allow_none=True)
    worker_id = fields.Integer(allow_none=True)
    actor = fields.String()
    details = fields.Dict()
    created_at = fields.DateTime()


class TokenCreatedSchema(TokenSchema):
    optional = ("secret",)  # a replayed creation answers without it: secrets are stored hashed only
    secret = fields.String(metadata={"description": "Shown once; only a digest is stored."})
