"""Authentication for the API: browser sessions (flask-login) and bearer tokens.

``current_principal()`` resolves the caller once per request. Cookie-authenticated
requests that change state must carry the session's CSRF token in
``X-CSRF-Token``; bearer requests are not exposed to CSRF and need none.
"""

from __future__ import annotations

import hmac
import secrets
from functools import wraps

from flask import g, request, session
from flask_login import LoginManager, UserMixin, current_user

from ..errors import Forbidden, Unauthorized
from ..services import accounts
from ..services.access import Principal

login_manager = LoginManager()
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


class SessionUser(UserMixin):
    """A logged-in user. The cookie names the server-side session (its secret), not the user, so
    ending that session (logout, a new password, deactivation) ends every copy of the cookie."""

    def __init__(self, user, session_secret: str):
        self.user = user
        self.id = user.id
        self.session_secret = session_secret

    def get_id(self) -> str:
        return self.session_secret


@login_manager.user_loader
def _load_user(session_secret: str):
    user = accounts.session_user(secret=session_secret)
    return SessionUser(user, session_secret) if user is not None else None


@login_manager.unauthorized_handler
def _unauthorized():
    raise Unauthorized("Log in or send a bearer token.")


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if header:
        raise Unauthorized("Authorization must be 'Bearer <token>'.", code="invalid_token")
    return None


def current_principal(optional: bool = False) -> Principal | None:
    """The caller of this request. Raises Unauthorized when there is none (unless optional)."""
    if "principal" in g:
        return g.principal
    secret = _bearer()
    principal = None
    if secret is not None:
        principal = accounts.resolve_token(secret=secret)
    elif current_user.is_authenticated:
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
                raise Forbidden(f"Missing or wrong {CSRF_HEADER} header for a cookie-authenticated request.",
                                code="csrf_failed")
        principal = accounts.principal_for_user(current_user.user)
    if principal is None and not optional:
        raise Unauthorized("Log in or send a bearer token.")
    g.principal = principal
    return principal


def auth_required(scope: str | None = None):
    """Require a caller (and, if given, a scope) before the view runs."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            principal = current_principal()
            if scope is not None:
                principal.require_scope(scope)
            return view(*args, **kwargs)

        wrapper._concord_scope = scope  # read by the OpenAPI security annotations
        return wrapper

    return decorator
