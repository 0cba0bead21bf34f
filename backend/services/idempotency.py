"""Idempotency keys: a request repeated with the same key gets the first outcome and moves nothing.

The key is reserved inside the very transaction that does the work, and the
outcome is stored in it too, so the work and the record of it commit together
or not at all. A concurrent request with the same key waits on the unique key
(PostgreSQL blocks the second insert until the first transaction ends; SQLite
has one writer at a time), then finds the stored outcome.

Work that spans several transactions (an import, a queued job) uses ``begin``
and ``finish`` instead: the key is held without an outcome while the work runs,
a concurrent duplicate gets a 409 telling it to retry, and a failure frees the key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..db import unit_of_work
from ..errors import Conflict, ValidationError
from ..models import IdempotencyKey, utcnow

KEEP_HOURS = 24
ABANDONED_AFTER_SECONDS = 600
MAX_KEY_LENGTH = 255
# The documented pattern (api/common.py's IDEMPOTENCY_PARAM): visible ASCII, 1 to 255 characters.
KEY_PATTERN = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")


@dataclass(frozen=True)
class RequestKey:
    """A caller's key and what it was sent with."""

    scope: str
    key: str
    fingerprint: str


def request_key(*, scope: str, key: str | None, method: str, path: str, body: Any) -> RequestKey | None:
    """The key of a request, or None when it carries none. Raises ValidationError for a bad key."""
    if key is None:
        return None
    if not KEY_PATTERN.fullmatch(key):
        reason = f"1 to {MAX_KEY_LENGTH} printable ASCII characters (no spaces)"
        raise ValidationError(f"Idempotency-Key: {reason}.", code="invalid_idempotency_key",
                              details={"fields": {"Idempotency-Key": [reason]}})
    # The standard library, not orjson: a body may carry integers beyond 64 bits (then refused later).
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode() \
        if body is not None else b""
    digest = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()
    return RequestKey(scope, key, digest)


def reserve(session: Session, request: RequestKey | None) -> dict[str, Any] | None:
    """Reserve the key in the caller's transaction.

    Returns None when the work is to be done (then call ``remember``), or the
    stored result of the first request with this key. Raises ValidationError when
    the key was used for a different request.
    """
    if request is None:
        return None
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = IdempotencyKey.__table__
    reserved = session.execute(
        insert(table).values(scope=request.scope, key=request.key, fingerprint=request.fingerprint,
                             created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["scope", "key"]).returning(table.c.id)).first()
    if reserved is not None:
        return None
    row = session.execute(select(table.c.fingerprint, table.c.result, table.c.created_at)
                          .where(table.c.scope == request.scope, table.c.key == request.key)).one()
    if row.fingerprint != request.fingerprint:
        raise ValidationError("This Idempotency-Key was used for a different request.",
                              code="idempotency_key_reused")
    if row.result is None:
        # Only requests handled by begin/finish leave a key without a result: the first is still running.
        if row.created_at < utcnow() - timedelta(seconds=ABANDONED_AFTER_SECONDS):
            session.execute(table.update().where(table.c.scope == request.scope, table.c.key == request.key)
                            .values(created_at=utcnow()))
            return None  # its request died; this one takes the key over
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.",
                       code="idempotency_key_in_use", details={"retry_after": 1})
    return row.result


def remember(session: Session, request: RequestKey | None, result: dict[str, Any]) -> None:
    """Store the outcome of the work done under a reserved key (same transaction)."""
    if request is None:
        return
    table = IdempotencyKey.__table__
    session.execute(table.update().where(table.c.scope == request.scope, table.c.key == request.key)
                    .values(result=result))


def begin(request: RequestKey) -> dict[str, Any] | None:
    """Reserve a key in a transaction of its own, for work that spans several (imports, jobs).

    Returns None to go ahead (then ``finish`` or ``abandon``), or the stored outcome of the
    first request. Raises Conflict while the first is still running, ValidationError for a
    key reused with another request.
    """
    with unit_of_work() as session:
        return reserve(session, request)


def finish(request: RequestKey, result: dict[str, Any]) -> None:
    with unit_of_work() as session:
        remember(session, request, result)


def abandon(request: RequestKey) -> None:
    """Free a key whose request failed, so that a retry does the work."""
    table = IdempotencyKey.__table__
    with unit_of_work() as session:
        session.execute(delete(table).where(table.c.scope == request.scope, table.c.key == request.key,
                                            table.c.result.is_(None)))


def purge_expired() -> int:
    """Forget keys older than the replay window. Returns how many."""
    cutoff = utcnow() - timedelta(hours=KEEP_HOURS)
    with unit_of_work() as session:
        return session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)).rowcount
