"""Errors the client raises. Every one is a ``ConcordError``; API errors carry the server's code and details.

The server answers every error with ``{"error": {"code", "message", "details"}}``; the
subclass follows the HTTP status so callers can catch ``NotFound`` or ``Conflict``
and still read ``code`` (``already_submitted``, ``lease_expired``, ...) for the detail.
"""

from __future__ import annotations

from typing import Any

import httpx


class ConcordError(Exception):
    """An error from the Concord API (``status`` set) or from talking to it (``status`` None)."""

    def __init__(self, status: int | None, code: str, message: str, details: dict[str, Any] | None = None,
                 *, headers: httpx.Headers | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.headers = headers if headers is not None else httpx.Headers()

    @property
    def request_id(self) -> str | None:
        """The server's request id of a 500, to quote when reporting it."""
        return self.details.get("request_id")

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status is not None else ""
        return f"{prefix}{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class BadRequest(ConcordError):
    """400: the request could not be read (e.g. malformed JSON)."""


class Unauthorized(ConcordError):
    """401: no credentials, or an invalid, revoked or expired token."""


class Forbidden(ConcordError):
    """403: authenticated but not allowed (role, scope)."""


class NotFound(ConcordError):
    """404: no such resource, or not visible to this credential."""


class MethodNotAllowed(ConcordError):
    """405."""


class Conflict(ConcordError):
    """409: conflicts with the current state (``already_submitted``, ``approval_stands``, export not ready...)."""


class Gone(ConcordError):
    """410: the resource existed but is gone (an expired export)."""


class PayloadTooLarge(ConcordError):
    """413."""


class UnsupportedMediaType(ConcordError):
    """415."""


class ValidationError(ConcordError):
    """422: the request was understood but is invalid; ``fields`` names each offending field."""

    @property
    def fields(self) -> dict[str, Any]:
        return self.details.get("fields", {})


class RateLimited(ConcordError):
    """429 after every retry was spent; ``retry_after`` is the server's advice in seconds (or None)."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


class ServerError(ConcordError):
    """5xx after every retry was spent."""


class ServiceUnavailable(ServerError):
    """503: a dependency (database, queue) is down."""


class TransportError(ConcordError):
    """The server could not be reached, or the connection broke, after every retry was spent."""


class JobFailed(ConcordError):
    """A background job (import, consensus, export) ended in failure; ``job`` is its last state."""

    def __init__(self, job: dict[str, Any]):
        error = job.get("error") or {}
        super().__init__(None, error.get("code", "job_failed"),
                         error.get("message", f"Job {job.get('id')} failed."), error.get("details") or {})
        self.job = job


class ExportFailed(ConcordError):
    """An export ended as ``failed`` or ``expired``; ``export`` is its last state."""

    def __init__(self, export: dict[str, Any]):
        error = export.get("error") or {}
        status = export.get("status")
        super().__init__(None, error.get("code", f"export_{status}"),
                         error.get("message", f"Export {export.get('id')} is {status}."), error.get("details") or {})
        self.export = export


class WaitTimeout(ConcordError, TimeoutError):
    """Waiting for a job or an export took longer than the caller allowed. The work may still finish."""

    def __init__(self, message: str, *, last: dict[str, Any] | None = None):
        super().__init__(None, "timeout", message)
        self.last = last


_BY_STATUS: dict[int, type[ConcordError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed, 409: Conflict,
    410: Gone, 413: PayloadTooLarge, 415: UnsupportedMediaType, 422: ValidationError, 429: RateLimited,
    503: ServiceUnavailable,
}


def error_from_response(response: httpx.Response) -> ConcordError:
    """The error a non-2xx response stands for. Tolerates bodies that are not Concord's (a proxy's 502)."""
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ConcordError)
    code, message, details = f"http_{status}", response.reason_phrase or f"HTTP {status}", {}
    try:
        body = response.json()
    except ValueError:
        body = None
        text = response.text.strip()
        if text:
            message = text[:500]
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
    return cls(status, code, message, details, headers=response.headers)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date. None when absent or garbled."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
