"""The HTTP API: one blueprint per resource, all under /api/v1."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_smorest import Api
from marshmallow import ValidationError as SchemaError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from ..errors import ConcordError, PayloadTooLarge, UnsupportedMediaType, ValidationError
from ..schemas.common import MAX_BIG_ID, MAX_ID, ErrorSchema
from ..services import audit
from . import (
    assignments,
    auth,
    batches,
    datasets,
    docs,
    health,
    jobs,
    openapi,
    payments,
    projects,
    quality,
    results,
    review,
    tokens,
    web,
    webhooks,
    workload,
)
from .body import check_json_body
from .errors import error_response, handle_concord_error, handle_http_exception, handle_unexpected

BLUEPRINTS = (auth.bp, tokens.bp, projects.bp, datasets.bp, batches.bp, assignments.bp, quality.bp, results.bp,
              review.bp, payments.bp, workload.bp, webhooks.bp, jobs.bp)
# Endpoints that also take multipart uploads.
MULTIPART_ENDPOINTS = {"datasets.upload_dataset"}


class ConcordApi(Api):
    """flask-smorest's Api with Concord's single error body."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return handle_http_exception(error)

    def _register_responses(self):
        super()._register_responses()
        # The catch-all error answer carries the rate-limit headers too.
        self.spec.components.responses_lazy["DEFAULT_ERROR"]["headers"] = openapi.rate_limit_headers("default")


def _check_url():
    """NUL in the path or the query is a 422 on both backends (PostgreSQL refuses it in text; SQLite
    would quietly find nothing)."""
    if request.path.startswith("/api/") and ("\x00" in request.path or
                                             any("\x00" in v for v in request.args.values())):
        raise ValidationError("The URL must not contain NUL characters (%00).",
                              details={"fields": {"url": ["contains NUL"]}})


def _check_body():
    """415 for bodies that are neither JSON nor (where allowed) multipart; 413 for huge JSON."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.path.startswith("/api/"):
        return None
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding")
    if not has_body:
        return None
    if request.is_json:
        limit = current_app.config["CONCORD_SETTINGS"].max_json_bytes
        if request.content_length and request.content_length > limit:
            raise PayloadTooLarge(f"JSON bodies are limited to {limit} bytes; upload a file instead.")
        # Also bounds chunked bodies, which carry no Content-Length.
        request.max_content_length = limit
        check_json_body(request.get_data(cache=True))
        return None
    if request.mimetype.startswith("multipart/form-data") and request.endpoint in MULTIPART_ENDPOINTS:
        return None
    raise UnsupportedMediaType(
        f"Content-Type {request.mimetype or 'none'} is not accepted here; send application/json.")


class BoundedIntConverter(IntegerConverter):
    """Ids that cannot exist are 404s, not database errors: most tables count with 32-bit integers."""

    limit = MAX_ID

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", self.limit)
        super().__init__(url_map, *args, **kwargs)


class BigIdConverter(BoundedIntConverter):
    """Ids of the tables that count with 64-bit integers (tasks, assignments, deliveries)."""

    limit = MAX_BIG_ID


def _unstorable_input(exc: DataError):
    """Values the database cannot hold (a number beyond its column, a NUL character in text) came
    from the request: a 422, not a 500."""
    if exc.orig is not None and type(exc.orig).__name__ == "NumericValueOutOfRange":
        return error_response(422, "validation_error", "A number in the request is out of range.", {})
    if "NUL" in str(exc.orig):
        return error_response(422, "validation_error", "Text in the request must not contain NUL characters.", {})
    return handle_unexpected(exc)


# High-volume work calls are their own record (the assignments table); every other write is audited.
UNAUDITED_ENDPOINTS = {"assignments.claim", "assignments.submit", "assignments.release", "auth.login",
                       "auth.logout"}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _audit_write(response):
    principal = g.get("principal")
    if (principal is not None and request.method in WRITE_METHODS and response.status_code < 400
            and request.endpoint not in UNAUDITED_ENDPOINTS):
        audit.record_write(principal=principal, method=request.method, path=request.path,
                           status=response.status_code, endpoint=request.endpoint,
                           request_id=request.headers.get("X-Request-Id"))
    return response


def _out_of_range(_exc: OverflowError):
    return error_response(422, "validation_error", "A number in the request is out of range.", {})


# The web UI loads its scripts and styles from /web and talks only to this origin; nothing inline
# runs, no page may frame it (clickjacking), and no plugin content loads. Task images, audio and video
# may live where the project's data points (a bucket, a CDN): they load from any http(s) address, but
# they cannot run code, and no frame may load at all.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data: https: http:; media-src 'self' data: https: http:; frame-src 'none'; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config["CONCORD_SETTINGS"].production:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register_api(app: Flask) -> Api:
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.converters["bigint"] = BigIdConverter
    api = ConcordApi(app, spec_kwargs={
        "info": {"description": "Concord: distribute labeling tasks with overlap, measure agreement, pay fairly."},
        "extra_plugins": [openapi.DocumentPlugin(app)],
    })
    for converter in (BoundedIntConverter, BigIdConverter):
        api.register_converter(converter, lambda c: {"type": "integer", "minimum": 0, "maximum": c.limit})
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(web.bp)
    app.before_request(_check_url)
    app.before_request(_check_body)
    app.after_request(_audit_write)
    app.after_request(_security_headers)
    app.register_error_handler(ConcordError, handle_concord_error)
    app.register_error_handler(
        SchemaError, lambda exc: error_response(422, "validation_error", "Validation failed.",
                                                {"fields": exc.messages_dict}))
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OverflowError, _out_of_range)
    app.register_error_handler(DataError, _unstorable_input)
    app.register_error_handler(Exception, handle_unexpected)
    return api
