"""Login, the caller, and API tokens."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..models import ROLES, SCOPES


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class OrganizationRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class MeSchema(Schema):
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
    expires_at = fields.AwareDateTime(load_default=None)


class TokenSchema(Schema):
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


class TokenCreatedSchema(TokenSchema):
    secret = fields.String(metadata={"description": "Shown once; only a digest is stored."})
