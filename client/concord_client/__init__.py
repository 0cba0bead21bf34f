"""Typed Python client for Concord's HTTP API.

    from concord_client import Client, NoTask, verify_webhook

    with Client("http://127.0.0.1:8080", "cnc_...") as concord:
        for project in concord.projects.iter():
            print(project["id"], project["name"])
"""

from .client import Client
from .errors import (
    BadRequest,
    ConcordError,
    Conflict,
    ExportFailed,
    Forbidden,
    Gone,
    JobFailed,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationError,
    WaitTimeout,
)
from .types import NoTask
from .webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign_webhook, verify_webhook

__version__ = "0.1.0"

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "BadRequest",
    "Client",
    "ConcordError",
    "Conflict",
    "ExportFailed",
    "Forbidden",
    "Gone",
    "JobFailed",
    "MethodNotAllowed",
    "NoTask",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationError",
    "WaitTimeout",
    "sign_webhook",
    "verify_webhook",
]
