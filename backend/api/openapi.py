"""What the OpenAPI document says of every operation beyond what its route declares.

An apispec plugin sees each route as it enters the document and adds, from one rule each:

- ``operationId``: the view's name (``list_projects``), or a clearer one from ``OPERATION_IDS``;
  unique across the API, so generated clients get one stable method per operation;
- ``security``: the scope ``auth_required`` checks, as a bearer token requirement (OpenAPI 3.1
  lets a requirement list scopes for any scheme), or the session cookie, which on writes must come
  with the ``X-CSRF-Token`` header;
- ``requestBody.required``: a JSON body may be left out exactly when no field of its schema is
  required (the server loads a missing body as ``{}``);
- the errors any operation can give: 422 (a NUL in the URL), 429 (every call counts against its
  caller's rate limit), and on POST, PUT and PATCH 400, 413 and 415 (a body that is not JSON, too
  large, or of another type; checked before the route runs);
- response headers: the rate-limit headers on every answer, ``Retry-After`` on 429 and 503, and
  ``Idempotent-Replayed`` on the successes of operations that take an ``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec, BasePlugin
from flask import Flask

from .common import ERROR_DESCRIPTIONS, IDEMPOTENCY_HEADER, REPLAYED_HEADER
from .security import CSRF_HEADER

WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
BODY_METHODS = frozenset({"post", "put", "patch"})
# Views whose own name is too terse to stand alone in a generated client.
OPERATION_IDS = {
    "assignments.claim": "claim_task",
    "assignments.submit": "submit_answer",
    "assignments.release": "release_task",
    "auth.me": "get_me",
    "review.approve": "approve_answer",
    "review.reject": "reject_answer",
    "results.list_runs": "list_consensus_runs",
    "webhooks.redeliver": "redeliver_delivery",
}

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": (
        "A personal token or an organization key: `Authorization: Bearer <secret>`. An operation's "
        "requirement names the scope the token must carry.")},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session", "description": (
        "The browser session set by POST /api/v1/auth/login; it acts with the user's role. Writes made "
        f"with it must also send {CSRF_HEADER} (see csrfToken).")},
    "csrfToken": {"type": "apiKey", "in": "header", "name": CSRF_HEADER, "description": (
        "The csrf_token returned by POST /api/v1/auth/login and GET /api/v1/me. Required with the session "
        "cookie on POST, PUT, PATCH and DELETE (403 csrf_failed without it); bearer tokens need none.")},
}

HEADERS = {
    "X-RateLimit-Limit": {"description": "Requests the caller's key (or session, or address) may make in the "
                                         "current window.", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left in the current window.", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "When the current window ends (Unix time, seconds).",
                          "schema": {"type": "integer"}},
    "Retry-After": {"description": "Seconds to wait before trying again: until the rate-limit window ends, or "
                                   "(503) until the job queue may be back.", "schema": {"type": "integer"}},
    REPLAYED_HEADER: {"description": f"`true` when this is the stored answer to an earlier request with the same "
                                     f"{IDEMPOTENCY_HEADER}.", "schema": {"type": "string", "enum": ["true"]}},
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}  # ErrorSchema, registered by the errors every route declares
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After")


def header_ref(name: str, *, required: bool = False) -> dict[str, Any]:
    ref = {"$ref": f"#/components/headers/{name}"}
    # A reference cannot say "required" itself (3.1 lets it carry only a summary and description).
    return {**HEADERS[name], "required": True} if required else ref


def rate_limit_headers(status: str) -> dict[str, Any]:
    """The headers the limiter adds to every API answer (when its store answers); Retry-After is sure on 429
    and 503."""
    return {name: header_ref(name, required=name == "Retry-After" and status in ("429", "503"))
            for name in RATE_LIMIT_HEADERS}


class DocumentPlugin(BasePlugin):
    """Completes each operation of the document as its route is registered (see the module docstring)."""

    def __init__(self, app: Flask):
        self.app = app
        self.spec: APISpec | None = None
        self.operation_ids: dict[str, str] = {}

    def init_spec(self, spec: APISpec) -> None:
        self.spec = spec
        for name, scheme in SECURITY_SCHEMES.items():
            spec.components.security_scheme(name, scheme)
        for name, header in HEADERS.items():
            spec.components.header(name, header)

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        view = self.app.view_functions.get(rule.endpoint)
        for method, operation in operations.items():
            self._operation_id(rule.endpoint, method, operation, several=len(operations) > 1)
            if view is not None and hasattr(view, "_concord_scope"):
                self._security(rule.endpoint, method, operation, view._concord_scope)
            self._body_required(operation)
            self._errors(method, operation)
            self._headers(operation)

    def _operation_id(self, endpoint: str, method: str, operation: dict, *, several: bool) -> None:
        name = operation.get("operationId") or OPERATION_IDS.get(endpoint) or endpoint.rsplit(".", 1)[-1]
        if several:
            name = f"{name}_{method}"
        other = self.operation_ids.get(name)
        if other is not None and other != f"{endpoint} {method}":
            raise ValueError(f"operationId {name!r} is taken by {other}; name {endpoint} in OPERATION_IDS")
        self.operation_ids[name] = f"{endpoint} {method}"
        operation["operationId"] = name

    @staticmethod
    def _security(endpoint: str, method: str, operation: dict, scope: str | None) -> None:
        """The requirement comes from the check itself; a route that declares another scope is a mistake."""
        required = security_requirement(scope, method)
        declared = operation.get("security")
        if declared is not None and _scopes(declared) != _scopes(required):
            raise ValueError(f"{endpoint} {method}: documented scopes {_scopes(declared)} but checks {scope!r}")
        operation["security"] = required

    @staticmethod
    def _errors(method: str, operation: dict) -> None:
        responses = operation.setdefault("responses", {})
        codes = (400, 413, 415, 422, 429) if method.lower() in BODY_METHODS else (422, 429)
        for code in codes:
            if code not in responses and str(code) not in responses:
                responses[code] = {"description": ERROR_DESCRIPTIONS[code],
                                   "content": {"application/json": {"schema": ERROR_REF}}}

    def _body_required(self, operation: dict) -> None:
        body = operation.get("requestBody")
        content = (body or {}).get("content", {})
        if set(content) != {"application/json"}:
            return  # uploads declare their own body
        schema = self._component(content["application/json"].get("schema"))
        if schema is not None:
            body["required"] = bool(schema.get("required"))

    def _component(self, schema: Any) -> dict | None:
        ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
        prefix = "#/components/schemas/"
        return self.spec.components.schemas.get(ref[len(prefix):]) if ref.startswith(prefix) else None

    def _headers(self, operation: dict) -> None:
        idempotent = any(isinstance(p, dict) and p.get("name") == IDEMPOTENCY_HEADER
                         for p in operation.get("parameters", []))
        for status, response in operation.get("responses", {}).items():
            if not isinstance(response, dict):  # a reference to a shared response (the default error)
                continue
            headers = response.setdefault("headers", {})
            for name, header in rate_limit_headers(str(status)).items():
                headers.setdefault(name, header)
            if idempotent and str(status).startswith("2"):
                headers.setdefault(REPLAYED_HEADER, header_ref(REPLAYED_HEADER))


def security_requirement(scope: str | None, method: str) -> list[dict[str, list[str]]]:
    """A bearer token carrying ``scope``, or the session cookie (with the CSRF header on writes)."""
    cookie = {"sessionCookie": [], "csrfToken": []} if method.lower() in WRITE_METHODS else {"sessionCookie": []}
    return [{"bearerAuth": [scope] if scope else []}, cookie]


def _scopes(requirements: list[dict[str, list[str]]]) -> set[str]:
    return {scope for requirement in requirements for scopes in requirement.values() for scope in scopes}
