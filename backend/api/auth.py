"""Logging in and out, and who the caller is."""

from __future__ import annotations

from flask import current_app, request, session
from flask_login import current_user, login_user, logout_user

from ..errors import Forbidden
from ..extensions import limiter
from ..schemas.accounts import LoginSchema, MeSchema, PasswordChangeSchema
from ..services import accounts
from .common import api_blueprint, errors, security
from .security import SessionUser, auth_required, csrf_token, current_principal

bp = api_blueprint("auth", __name__, "Browser sessions and the caller's identity.")


def _login_limit() -> str:
    return current_app.config["CONCORD_SETTINGS"].login_rate_limit


def _login_address_key() -> str:
    # The caller's address alone (behind CONCORD_PROXY_COUNT trusted proxies, the client's):
    # headers such as Authorization must not give an attacker a fresh budget per attempt.
    return f"login-address:{request.remote_addr or 'unknown'}"


def _login_account_key() -> str:
    body = request.get_json(silent=True) or {}
    email = body.get("email") if isinstance(body, dict) else None
    return f"login-account:{str(email or '').strip().lower()}"


def _me_body(principal, user=None) -> dict:
    body = {"id": principal.user_id, "email": None, "role": principal.role, "organization": None,
            "worker_id": principal.worker_id, "scopes": sorted(principal.scopes), "csrf_token": None}
    if user is None and principal.user_id is not None:
        user = accounts.get_user(user_id=principal.user_id)
    if user is not None:
        body["email"] = user.email
        if user.organization is not None:
            body["organization"] = {"id": user.organization.id, "name": user.organization.name}
    elif principal.organization_id is not None:
        body["organization"] = {"id": principal.organization_id, "name": None}
    if principal.via == "session":
        body["csrf_token"] = csrf_token()
    return body


@bp.post("/auth/login")
@limiter.limit(_login_limit, key_func=_login_address_key)
@limiter.limit(_login_limit, key_func=_login_account_key)
@bp.arguments(LoginSchema)
@bp.response(200, MeSchema)
@errors(bp, 401, 422, 429)
def login(credentials):
    """Start a browser session. Rate limited per address and per account."""
    user = accounts.authenticate(email=credentials["email"], password=credentials["password"])
    session.clear()
    secret = accounts.start_session(user_id=user.id, lifetime=current_app.permanent_session_lifetime)
    login_user(SessionUser(user, secret))
    return _me_body(accounts.principal_for_user(user), user)


@bp.post("/auth/logout")
@auth_required()
@bp.response(204)
@bp.doc(security=security(None))
@errors(bp, 401, 403)
def logout():
    """End the browser session, server-side: a saved copy of the cookie stops working too."""
    if current_user.is_authenticated:
        accounts.end_session(secret=current_user.session_secret)
    logout_user()
    session.clear()


@bp.post("/me/password")
@limiter.limit(_login_limit)  # per session: a stolen cookie cannot guess the current password quickly
@auth_required()
@bp.arguments(PasswordChangeSchema)
@bp.response(204)
@bp.doc(security=security(None))
@errors(bp, 401, 403, 422, 429)
def change_password(body):
    """Change the caller's password. Every other browser session of the user ends; this one stays."""
    principal = current_principal()
    if principal.via != "session":
        raise Forbidden("Change a password from a browser session, not with a token.", code="session_required")
    accounts.change_password(user_id=principal.user_id, current_password=body["current_password"],
                             new_password=body["new_password"], keep_session=current_user.session_secret)


@bp.get("/me")
@auth_required()
@bp.response(200, MeSchema)
@bp.doc(security=security(None))
@errors(bp, 401)
def me():
    """The caller: id, email, role, organization, worker id, scopes and (sessions) the CSRF token."""
    return _me_body(current_principal())
