"""Small helpers shared by the blueprints."""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from ..schemas.common import ErrorSchema
from ..services import idempotency
from ..services.access import Principal

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_PARAM = {
    "in": "header", "name": IDEMPOTENCY_HEADER, "required": False, "schema": {"type": "string", "maxLength": 255},
    "description": "Send the same key again (within 24 hours) to get the first outcome back; nothing moves twice."}

ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Authenticated but not allowed (role, scope or CSRF)",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Validation failed; details.fields names each field",
    429: "Rate limited",
}


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    return Blueprint(name, import_name, url_prefix="/api/v1", description=description)


def errors(blp: Blueprint, *codes: int):
    """Document the error responses an endpoint can give, all in the one error format."""

    def decorator(view):
        for code in codes:
            view = blp.alt_response(code, schema=ErrorSchema, description=ERROR_DESCRIPTIONS[code])(view)
        return view

    return decorator


def security(scope: str | None):
    """OpenAPI security requirement: a session cookie or a bearer token carrying ``scope``."""
    scopes = [scope] if scope else []
    return [{"bearerAuth": scopes}, {"sessionCookie": []}]


def request_key(principal: Principal) -> idempotency.RequestKey | None:
    """The request's Idempotency-Key, bound to the caller and to what the request asks."""
    return idempotency.request_key(scope=principal.actor, key=request.headers.get(IDEMPOTENCY_HEADER),
                                   method=request.method, path=request.path, body=request.get_json(silent=True))


def replay_headers(replayed: bool) -> dict[str, str]:
    return {REPLAYED_HEADER: "true"} if replayed else {}
