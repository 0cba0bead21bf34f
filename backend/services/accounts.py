"""Organizations, users, workers and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import read_connection, read_session, unit_of_work
from ..errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationError
from ..models import ROLE_SCOPES, ROLES, SCOPES, ApiToken, Organization, User, UserSession, Worker, utcnow
from .access import Principal
from .pagination import Page, paginate

TOKEN_PREFIX = "cnc_"
_hasher = PasswordHasher()
_dummy_hash: str | None = None
# Writing last_used_at on every request would put a write on every hot path.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def configure_password_hashing(*, time_cost: int, memory_cost: int) -> None:
    """Tune Argon2id cost (the test suite lowers it; production keeps the defaults)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)
    _dummy_hash = None


def _normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 320 or email.startswith("@") or email.endswith("@"):
        raise ValidationError("email: not an email address", details={"fields": {"email": ["invalid"]}})
    return email


def _check_password(password: str, field: str = "password") -> None:
    if not password or len(password) < 8:
        raise ValidationError(f"{field}: at least 8 characters", details={"fields": {field: ["too short"]}})
    if len(password) > 1024:
        raise ValidationError(f"{field}: at most 1024 characters", details={"fields": {field: ["too long"]}})


def create_organization(*, name: str) -> Organization:
    """Create an organization. Raises Conflict when the name is taken."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("name: must not be empty", details={"fields": {"name": ["required"]}})
    try:
        with unit_of_work() as session:
            org = Organization(name=name)
            session.add(org)
        return org
    except IntegrityError as exc:
        raise Conflict(f"An organization named {name!r} exists.", code="organization_exists") from exc


def get_organization_by_name(session: Session, name: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        raise NotFound(f"No organization named {name!r}.")
    return org


def create_user(
    *, email: str, password: str, role: str, organization_name: str | None = None
) -> User:
    """Create an account; annotators also get their worker. Raises Conflict on a taken email."""
    email = _normalise_email(email)
    if role not in ROLES:
        raise ValidationError(f"role: must be one of {', '.join(ROLES)}",
                              details={"fields": {"role": ["invalid"]}})
    _check_password(password)
    if role == "manager" and not organization_name:
        raise ValidationError("organization: a manager belongs to an organization",
                              details={"fields": {"organization": ["required for managers"]}})
    password_hash = _hasher.hash(password)
    try:
        with unit_of_work() as session:
            org = get_organization_by_name(session, organization_name) if organization_name else None
            user = User(email=email, password_hash=password_hash, role=role,
                        organization_id=org.id if org else None)
            session.add(user)
            session.flush()
            if role == "annotator":
                session.add(Worker(user_id=user.id, organization_id=user.organization_id))
        return get_user(user_id=user.id)
    except IntegrityError as exc:
        raise Conflict(f"An account with email {email} exists.", code="email_taken") from exc


def get_user(*, user_id: int) -> User | None:
    with read_session() as session:
        return session.get(User, user_id)


def authenticate(*, email: str, password: str) -> User:
    """The active user with these credentials. Raises Unauthorized, the same way for any failure."""
    global _dummy_hash
    with read_session() as session:
        user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    try:
        if user is None or not user.is_active:
            # Spend the same time as a real check so that timing reveals no accounts.
            _dummy_hash = _dummy_hash or _hasher.hash("not a password")
            _hasher.verify(_dummy_hash, password or "")
            raise VerifyMismatchError
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, InvalidHashError) as exc:
        raise Unauthorized("Wrong email or password.", code="invalid_credentials") from exc
    if _hasher.check_needs_rehash(user.password_hash):
        with unit_of_work() as session:
            session.get(User, user.id).password_hash = _hasher.hash(password)
    return user


def start_session(*, user_id: int, lifetime: timedelta) -> str:
    """Open a browser session for a user; returns the secret its cookie carries."""
    secret = secrets.token_urlsafe(32)
    with unit_of_work() as session:
        session.add(UserSession(user_id=user_id, token_hash=_digest(secret), expires_at=utcnow() + lifetime))
    return secret


def session_user(*, secret: str) -> User | None:
    """The active user of a live (not revoked, not expired) session, else None."""
    with read_session() as session:
        return session.scalar(
            select(User).join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.token_hash == _digest(secret), UserSession.revoked_at.is_(None),
                   UserSession.expires_at > utcnow(), User.is_active.is_(True)))


def end_session(*, secret: str) -> None:
    """Revoke one browser session (logging out). Unknown or ended sessions are left as they are."""
    with unit_of_work() as session:
        session.execute(update(UserSession).where(UserSession.token_hash == _digest(secret),
                                                  UserSession.revoked_at.is_(None)).values(revoked_at=utcnow()))


def purge_ended_sessions(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete session rows that ended (revoked or expired) before ``older_than`` ago; returns how many."""
    cutoff = utcnow() - older_than
    with unit_of_work() as session:
        result = session.execute(delete(UserSession).where(
            or_(UserSession.revoked_at < cutoff, UserSession.expires_at < cutoff)))
    return result.rowcount or 0


def _end_sessions(session: Session, user_id: int, *, keep: str | None = None) -> None:
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.token_hash != _digest(keep))
    session.execute(stmt.values(revoked_at=utcnow()))


def change_password(*, user_id: int, current_password: str, new_password: str, keep_session: str | None) -> None:
    """Set a new password after checking the current one; every other session of the user ends.

    Raises Unauthorized (wrong current password) or ValidationError (too short).
    """
    _check_password(new_password)
    with unit_of_work() as session:
        user = session.get(User, user_id, with_for_update={"of": User})
        if user is None:
            raise NotFound(f"User {user_id} not found.")
        try:
            _hasher.verify(user.password_hash, current_password or "")
        except (VerifyMismatchError, InvalidHashError) as exc:
            raise Unauthorized("The current password is wrong.", code="invalid_credentials") from exc
        user.password_hash = _hasher.hash(new_password)
        _end_sessions(session, user_id, keep=keep_session)


def set_password(*, email: str, password: str) -> None:
    """An operator's reset (the CLI): a new password, and every session of the user ends."""
    _check_password(password)
    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.email == _normalise_email(email)).with_for_update(of=User))
        if user is None:
            raise NotFound(f"No user {email}.")
        user.password_hash = _hasher.hash(password)
        _end_sessions(session, user.id)


def set_active(*, email: str, active: bool) -> User:
    """Deactivate (or reactivate) a user. Deactivation ends every session; its tokens stop too."""
    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.email == _normalise_email(email)).with_for_update(of=User))
        if user is None:
            raise NotFound(f"No user {email}.")
        user.is_active = active
        if not active:
            _end_sessions(session, user.id)
    return user


def principal_for_user(user: User, *, scopes: frozenset[str] | None = None, token_id: int | None = None) -> Principal:
    allowed = ROLE_SCOPES[user.role]
    return Principal(
        role=user.role,
        scopes=allowed if scopes is None else frozenset(scopes) & allowed,
        user_id=user.id,
        organization_id=user.organization_id,
        worker_id=user.worker.id if user.worker else None,
        token_id=token_id,
        via="token" if token_id else "session",
    )


# --- tokens -----------------------------------------------------------------


def _digest(secret: str) -> str:
    # Tokens carry 256 bits of entropy, so a fast digest is safe; a slow KDF would tax every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_scopes(scopes: list[str] | None, allowed: frozenset[str]) -> list[str]:
    if scopes is None:
        return sorted(allowed)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationError(f"scopes: unknown scope {unknown[0]!r}",
                              details={"fields": {"scopes": [f"unknown: {', '.join(unknown)}"]}})
    beyond = sorted(set(scopes) - allowed)
    if beyond:
        raise Forbidden(f"scopes: this account may not grant {', '.join(beyond)}",
                        code="scope_not_allowed", details={"fields": {"scopes": beyond}})
    if not scopes:
        raise ValidationError("scopes: at least one scope", details={"fields": {"scopes": ["empty"]}})
    return sorted(set(scopes))


def create_token(
    *,
    name: str,
    user_id: int | None = None,
    organization_id: int | None = None,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a personal (user_id) or organization (organization_id) token; returns it and its secret.

    A personal token gets at most its user's role scopes; an organization token
    must name its scopes. Raises ValidationError or Forbidden.
    """
    if (user_id is None) == (organization_id is None):
        raise ValidationError("a token belongs to a user or to an organization")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with unit_of_work() as session:
        if user_id is not None:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound(f"User {user_id} not found.")
            granted = _check_scopes(scopes, ROLE_SCOPES[user.role])
        else:
            if session.get(Organization, organization_id) is None:
                raise NotFound(f"Organization {organization_id} not found.")
            if scopes is None:
                raise ValidationError("scopes: an organization token must name its scopes",
                                      details={"fields": {"scopes": ["required"]}})
            granted = _check_scopes(scopes, frozenset(SCOPES))
        token = ApiToken(name=name or "token", token_hash=_digest(secret), prefix=secret[:10],
                         user_id=user_id, organization_id=organization_id, scopes=granted,
                         expires_at=expires_at)
        session.add(token)
    return token, secret


def issue_token(*, principal: Principal, name: str, organization: bool, scopes: list[str] | None,
                expires_at: datetime | None) -> tuple[ApiToken, str]:
    """Create a token on behalf of the caller, never granting more than the caller holds.

    Organization keys are made by managers holding projects:write, with scopes among the
    manager's own plus tasks:work (to route the vendor's workforce). A token made with a
    token expires no later than it. Raises Forbidden.
    """
    if principal.role == "organization":
        raise Forbidden("An organization key cannot create tokens.")
    if principal.token_id is not None:
        with read_session() as session:
            parent_expiry = session.scalar(select(ApiToken.expires_at).where(ApiToken.id == principal.token_id))
        if parent_expiry is not None and (expires_at is None or expires_at > parent_expiry):
            expires_at = parent_expiry
    if organization:
        if principal.role not in ("manager", "admin") or principal.organization_id is None:
            raise Forbidden("Only an organization's managers create organization keys.")
        principal.require_scope("projects:write")
        grantable = principal.scopes | {"tasks:work"}
        if scopes is not None and not set(scopes) <= grantable:
            raise Forbidden("A key cannot carry scopes its creator lacks.", code="scope_not_allowed",
                            details={"fields": {"scopes": sorted(set(scopes) - grantable)}})
        return create_token(name=name, organization_id=principal.organization_id, scopes=scopes,
                            expires_at=expires_at)
    if scopes is not None and not set(scopes) <= principal.scopes:
        raise Forbidden("A token cannot carry scopes its creator lacks.", code="scope_not_allowed",
                        details={"fields": {"scopes": sorted(set(scopes) - principal.scopes)}})
    if scopes is None and principal.via == "token":
        scopes = sorted(principal.scopes)
    return create_token(name=name, user_id=principal.user_id, scopes=scopes, expires_at=expires_at)


def _token_rows(condition):
    # One Core query: this runs on every API call, where ORM loading would cost more than the SQL.
    return (
        select(ApiToken.id, ApiToken.scopes, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.last_used_at,
               ApiToken.user_id, ApiToken.organization_id, User.role, User.is_active,
               User.organization_id.label("user_organization_id"), Worker.id.label("worker_id"))
        .outerjoin(User, User.id == ApiToken.user_id)
        .outerjoin(Worker, Worker.user_id == User.id)
        .where(condition)
    )


# Built once: a reused statement keeps its cache key, so it is neither rebuilt nor re-hashed per request.
_TOKEN_BY_SECRET = _token_rows(ApiToken.token_hash == bindparam("digest"))
_TOKEN_BY_PREVIOUS_SECRET = _token_rows((ApiToken.previous_token_hash == bindparam("digest"))
                                        & (ApiToken.previous_valid_until > bindparam("now")))


def resolve_token(*, secret: str) -> Principal:
    """The principal a bearer token stands for. Raises Unauthorized when unknown, revoked or expired.

    After a rotation the previous secret is accepted until its grace period ends.
    Nothing is cached: a revoked or rotated token stops working at once in every process.
    """
    now = utcnow()
    digest = _digest(secret)
    with read_connection() as connection:
        row = connection.execute(_TOKEN_BY_SECRET, {"digest": digest}).first()
        if row is None:
            row = connection.execute(_TOKEN_BY_PREVIOUS_SECRET, {"digest": digest, "now": now}).first()
    if (row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now)
            or (row.user_id is not None and not row.is_active)):
        raise Unauthorized("Invalid, revoked or expired token.", code="invalid_token")
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        with unit_of_work() as session:
            session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    if row.user_id is not None:
        allowed = ROLE_SCOPES[row.role]
        return Principal(role=row.role, scopes=frozenset(row.scopes) & allowed, user_id=row.user_id,
                         organization_id=row.user_organization_id, worker_id=row.worker_id, token_id=row.id,
                         via="token")
    return Principal(role="organization", scopes=frozenset(row.scopes), organization_id=row.organization_id,
                     token_id=row.id, via="token")


def _visible_tokens(principal: Principal):
    conditions = []
    if principal.user_id is not None:
        conditions.append(ApiToken.user_id == principal.user_id)
    if principal.role in ("manager", "admin") and principal.organization_id is not None:
        conditions.append(ApiToken.organization_id == principal.organization_id)
    if principal.role == "organization":
        conditions.append(ApiToken.id == principal.token_id)
    return or_(*conditions) if conditions else ApiToken.id.is_(None)


def list_tokens(*, principal: Principal, limit: int, cursor: str | None) -> Page:
    """The caller's personal tokens and, for managers, its organization's keys."""
    with read_session() as session:
        stmt = select(ApiToken).where(_visible_tokens(principal))
        return paginate(session, stmt, ApiToken.id, limit=limit, cursor=cursor)


def _require_power_over(principal: Principal, token: ApiToken, action: str) -> None:
    """Rotating or revoking a token needs what creating it needed: every scope it carries.

    The caller's own token is always its to rotate or revoke. Raises Forbidden.
    """
    if token.id == principal.token_id:
        return
    needed, held = set(token.scopes), set(principal.scopes)
    if token.organization_id is not None:
        # The same rule as issuing an organization key (see issue_token): a manager holding
        # projects:write, who may add tasks:work for the vendor's workforce.
        if principal.role not in ("manager", "admin"):
            raise Forbidden(f"Only an organization's managers may {action} its keys.", code="scope_not_allowed")
        needed.add("projects:write")
        if "projects:write" in held:
            held.add("tasks:work")
    missing = sorted(needed - held)
    if missing:
        raise Forbidden(f"A caller may {action} only tokens whose scopes it holds itself.",
                        code="scope_not_allowed", details={"missing_scopes": missing})


def _require_lifetime_over(session: Session, principal: Principal, token: ApiToken) -> None:
    """A rotation hands out a secret that lives as long as the token: a caller token expiring sooner
    would get a longer life than it has (as issue_token caps a child's expiry at its parent's)."""
    if principal.token_id is None or token.id == principal.token_id:
        return
    own_expiry = session.scalar(select(ApiToken.expires_at).where(ApiToken.id == principal.token_id))
    if own_expiry is not None and (token.expires_at is None or token.expires_at > own_expiry):
        raise Forbidden("A token cannot rotate a token that outlives it.", code="scope_not_allowed",
                        details={"expires_at": own_expiry.isoformat()})


def rotate_token(*, principal: Principal, token_id: int, grace_seconds: int) -> tuple[ApiToken, str]:
    """Give a token a new secret; the old one keeps working for ``grace_seconds`` (0: stops at once).

    Scopes, id, audit trail and expiry stay. Raises NotFound (not the caller's), Forbidden (it
    carries scopes the caller lacks), Conflict (revoked).
    """
    secret = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    now = utcnow()
    with unit_of_work() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.id == token_id, _visible_tokens(principal))
                               .with_for_update(of=ApiToken))
        if token is None:
            raise NotFound(f"Token {token_id} not found.")
        _require_power_over(principal, token, "rotate")
        _require_lifetime_over(session, principal, token)
        if token.revoked_at is not None:
            raise Conflict(f"Token {token_id} is revoked.", code="token_revoked")
        token.previous_token_hash = token.token_hash if grace_seconds > 0 else None
        token.previous_valid_until = now + timedelta(seconds=grace_seconds) if grace_seconds > 0 else None
        token.token_hash, token.prefix, token.rotated_at = _digest(secret), secret[:10], now
    return token, secret


def revoke_token(*, principal: Principal, token_id: int) -> None:
    """Revoke a token the caller can see. Raises NotFound otherwise."""
    with unit_of_work() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.id == token_id, _visible_tokens(principal)))
        if token is None:
            raise NotFound(f"Token {token_id} not found.")
        _require_power_over(principal, token, "revoke")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
