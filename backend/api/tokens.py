"""API tokens: personal tokens and organization (vendor) keys."""

from __future__ import annotations

from flask import Response, current_app

from ..extensions import limiter
from ..schemas.accounts import (
    AuditArgsSchema,
    AuditRecordSchema,
    TokenCreatedSchema,
    TokenCreateSchema,
    TokenRotateSchema,
    TokenSchema,
)
from ..schemas.common import PageArgsSchema, page_of
from ..services import accounts, audit
from .common import IDEMPOTENCY_PARAM, api_blueprint, errors, idempotent, security
from .security import auth_required, current_principal

bp = api_blueprint("tokens", __name__, "Bearer tokens: shown once, stored hashed, scoped, revocable.")


def _token_limit() -> str:
    return current_app.config["CONCORD_SETTINGS"].token_rate_limit


@bp.post("/tokens")
@limiter.limit(_token_limit)
@idempotent(withhold=("secret",))
@auth_required()
@bp.arguments(TokenCreateSchema)
@bp.response(201, TokenCreatedSchema)
@bp.doc(security=security(None), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 422)
def create_token(body):
    """Create a personal token, or (managers) an organization key. The secret is in this response only: a
    replay of the request (same Idempotency-Key) answers without it, since secrets are stored hashed only;
    rotate the token to get a new one."""
    token, secret = accounts.issue_token(principal=current_principal(), name=body["name"],
                                         organization=body["organization"], scopes=body["scopes"],
                                         expires_at=body["expires_at"])
    token.secret = secret
    return token


@bp.get("/tokens")
@auth_required()
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, page_of(TokenSchema))
@bp.doc(security=security(None))
@errors(bp, 401, 422)
def list_tokens(args):
    """The caller's tokens and, for managers, the organization's keys. Secrets are never listed."""
    return accounts.list_tokens(principal=current_principal(), limit=args["limit"], cursor=args["cursor"])


@bp.delete("/tokens/<int:token_id>")
@auth_required()
@bp.response(204)
@bp.doc(security=security(None))
@errors(bp, 401, 403, 404)
def revoke_token(token_id: int):
    """Revoke a token at once."""
    accounts.revoke_token(principal=current_principal(), token_id=token_id)
    return Response(status=204)


@bp.post("/tokens/<int:token_id>/rotate")
@limiter.limit(_token_limit)
@auth_required()
@bp.arguments(TokenRotateSchema)
@bp.response(200, TokenCreatedSchema)
@bp.doc(security=security(None))
@errors(bp, 401, 403, 404, 409, 422, 429)
def rotate_token(body, token_id: int):
    """A new secret for a token (in this response only); the old one works for grace_seconds more."""
    token, secret = accounts.rotate_token(principal=current_principal(), token_id=token_id,
                                          grace_seconds=body["grace_seconds"])
    token.secret = secret
    return token


@bp.get("/audit")
@auth_required("projects:read")
@bp.arguments(AuditArgsSchema, location="query")
@bp.response(200, page_of(AuditRecordSchema))
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 422)
def list_audit(args):
    """The organization's audit log: every write made through the API (actor token:<id> or user:<id>) and
    decisions taken by rules (system:...)."""
    return audit.list_records(principal=current_principal(), **args)
