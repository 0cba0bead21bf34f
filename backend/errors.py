"""Domain errors. Each carries a machine-readable code and an HTTP status.

Services raise them; the API turns every one into the single error body
``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations


class ConcordError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class ValidationError(ConcordError):
    status = 422
    code = "validation_error"


class NotFound(ConcordError):
    status = 404
    code = "not_found"


class Unauthorized(ConcordError):
    status = 401
    code = "unauthorized"


class Forbidden(ConcordError):
    status = 403
    code = "forbidden"


class Conflict(ConcordError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ConcordError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ConcordError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(ConcordError):
    status = 429
    code = "rate_limited"


class ServiceUnavailable(ConcordError):
    status = 503
    code = "service_unavailable"
    retry_after = 30  # seconds, sent as Retry-After
