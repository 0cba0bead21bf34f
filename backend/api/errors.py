"""One JSON error body for every error the API returns."""

from __future__ import annotations

import logging
import uuid

from flask import current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import ConcordError

log = logging.getLogger("concord.api")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


def error_response(status: int, code: str, message: str, details: dict | None = None, headers=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    if headers:
        for key, value in headers:
            if key.lower() not in ("content-type", "content-length"):
                response.headers[key] = value
    return response


def _validation_details(messages) -> dict:
    """Webargs nests messages by location ({"json": {...}}); clients want fields."""
    fields: dict = {}
    for location, by_field in (messages or {}).items():
        if isinstance(by_field, dict):
            for name, errors in by_field.items():
                fields[name] = errors
        else:
            fields[location] = by_field
    return {"fields": fields}


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    headers = list(error.get_response().headers.items()) if error.code else None
    data = getattr(error, "data", None) or {}
    if status == 422 and "messages" in data:
        details = _validation_details(data["messages"])
        first = next(iter(details["fields"].items()), ("body", ["invalid"]))
        message = f"{first[0]}: {first[1][0] if isinstance(first[1], list) and first[1] else first[1]}"
        return error_response(422, "validation_error", message, details, headers)
    if status == 400 and "messages" in data:
        return error_response(400, "bad_request", "The request body is not valid JSON.",
                              _validation_details(data["messages"]), headers)
    if status == 405:
        return error_response(405, "method_not_allowed",
                              f"{request.method} is not allowed on {request.path}.",
                              {"allowed": sorted(error.valid_methods or [])}, headers)
    if status == 404:
        return error_response(404, "not_found", f"No resource at {request.path}.", {}, headers)
    message = getattr(error, "description", None) or error.name
    return error_response(status, HTTP_CODES.get(status, "error"), str(message), {}, headers)


def handle_concord_error(error: ConcordError):
    retry_after = getattr(error, "retry_after", None)
    headers = [("Retry-After", str(retry_after))] if retry_after else None
    return error_response(error.status, error.code, error.message, error.details, headers)


def handle_unexpected(error: Exception):
    request_id = g.get("request_id") or uuid.uuid4().hex
    log.exception("unhandled error, request %s %s %s", request_id, request.method, request.path)
    if current_app.config.get("PROPAGATE_EXCEPTIONS_IN_TESTS"):
        raise error
    return error_response(500, "internal_error", "Something went wrong on our side.",
                          {"request_id": request_id})
