"""Small helpers shared by the blueprints."""

from __future__ import annotations

import functools

from flask import jsonify, make_response, request
from flask_smorest import Blueprint

from ..errors import ConcordError
from ..schemas.common import ErrorSchema
from ..services import idempotency
from ..services.access import Principal

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_PARAM = {
    "in": "header", "name": IDEMPOTENCY_HEADER, "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
    "description": "Send the same key again (within 24 hours) to get the first outcome back; nothing moves twice."}

ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Authenticated but not allowed (role, scope or CSRF)",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    410: "Gone: it has expired",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Validation failed; details.fields names each field",
    429: "Rate limited",
    503: "The job queue is unreachable; try again after Retry-After seconds",
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
    """OpenAPI security requirement: a session cookie or a bearer token carrying ``scope``. The document's
    requirement is built from the route's ``auth_required`` check (api/openapi.py, which adds the CSRF
    header to cookie writes); a route declaring another scope than it checks fails at start."""
    scopes = [scope] if scope else []
    return [{"bearerAuth": scopes}, {"sessionCookie": []}]


def request_key(principal: Principal) -> idempotency.RequestKey | None:
    """The request's Idempotency-Key, bound to the caller and to what the request asks (path, query,
    JSON body; for uploads the form fields and the files' names and size)."""
    body = request.get_json(silent=True)
    if body is None and request.files:
        body = {"form": request.form.to_dict(), "files": {name: [f.filename, request.content_length]
                                                          for name, f in request.files.items()}}
    return idempotency.request_key(scope=principal.actor, key=request.headers.get(IDEMPOTENCY_HEADER),
                                   method=request.method, path=request.full_path.rstrip("?"), body=body)


def replay_headers(replayed: bool) -> dict[str, str]:
    return {REPLAYED_HEADER: "true"} if replayed else {}


def idempotent(view=None, *, withhold: tuple[str, ...] = ()):
    """Replay the first response to a request repeated with the same Idempotency-Key.

    For endpoints whose work spans several transactions (imports, queued jobs, tokens): the key
    is held while the request runs, the response (status and JSON body) is stored when it ends
    below 500, and a failed request frees the key. Money endpoints do better, inside their own
    transaction (see services/idempotency.py). ``withhold`` names fields of the response that are
    never stored (secrets shown once): a replay leaves them out.
    """
    if view is None:
        return functools.partial(idempotent, withhold=withhold)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.headers.get(IDEMPOTENCY_HEADER) is None:
            return view(*args, **kwargs)
        from .security import current_principal

        key = request_key(current_principal())
        prior = idempotency.begin(key)
        if prior is not None:
            response = make_response(jsonify(prior["body"]), prior["status"])
            response.headers[REPLAYED_HEADER] = "true"
            return response
        try:
            response = make_response(view(*args, **kwargs))
        except ConcordError as exc:
            if exc.status >= 500:
                idempotency.abandon(key)
            else:
                idempotency.finish(key, {"status": exc.status, "body": {
                    "error": {"code": exc.code, "message": exc.message, "details": exc.details}}})
            raise
        except BaseException:
            idempotency.abandon(key)
            raise
        if response.status_code >= 500 or not response.is_json:
            idempotency.abandon(key)
        else:
            body = response.get_json()
            if withhold and isinstance(body, dict):
                body = {name: value for name, value in body.items() if name not in withhold}
            idempotency.finish(key, {"status": response.status_code, "body": body})
        return response

    return wrapper
