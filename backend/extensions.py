"""Flask extensions, created unbound and wired in create_app."""

from __future__ import annotations

import hashlib

from flask import current_app, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def rate_limit_key() -> str:
    """Whom a request counts against: its bearer key, else its browser session, else its address."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return "key:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    if session.get("_user_id") and session.get("csrf"):
        # The session's own random CSRF secret names it: one login, one budget.
        return "session:" + hashlib.sha256(session["csrf"].encode()).hexdigest()[:32]
    return "addr:" + (get_remote_address() or "unknown")


def _api_limit() -> str:
    return current_app.config["CONCORD_SETTINGS"].api_rate_limit


def _not_api() -> bool:
    return not request.path.startswith("/api/")


# Every API request counts against its key (or session, or address); login and token creation
# have their own, much tighter limits on top.
limiter = Limiter(key_func=rate_limit_key, default_limits=[_api_limit], default_limits_exempt_when=_not_api,
                  headers_enabled=True)
