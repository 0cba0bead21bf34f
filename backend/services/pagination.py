"""Keyset pagination shared by every list endpoint: ``?limit=&cursor=``.

The cursor is opaque to clients: the id of the last row served, so pages stay
stable while rows are added.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from ..errors import ValidationError


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None
    # Incremental sync: where to resume later, even after the last page (see consensus.list_results).
    sync_cursor: str | None = None


def encode_cursor(last_id: int | str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, expect: type = object) -> int | str | None:
    """The position a cursor this server issued stands for; ``expect``: the type the list's key has.

    Raises ValidationError for anything else (a string on an integer key would be a 500 on
    PostgreSQL; NUL or a lone surrogate inside the base64 would fail on its way to the database).
    """
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
        if isinstance(value, bool) or not (isinstance(value, str) or
                                           (isinstance(value, int) and 0 <= value < 2**63)):
            raise ValueError(value)
        if isinstance(value, str) and ("\x00" in value or len(value) > 255):
            raise ValueError(value)
        if isinstance(value, str):
            value.encode("utf-8")
        if not isinstance(value, expect):
            raise TypeError(value)
        return value
    except (ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise ValidationError("cursor: not a cursor this server issued",
                              details={"fields": {"cursor": ["invalid cursor"]}}) from exc


def _python_type(column) -> type:
    try:
        return column.type.python_type
    except NotImplementedError:
        return object


def paginate(session: Session, stmt: Select, id_column, *, limit: int, cursor: str | None,
             newest_first: bool = False) -> Page:
    """Run ``stmt`` ordered by ``id_column`` (descending if ``newest_first``) and cut one page from it."""
    after = decode_cursor(cursor, _python_type(id_column))
    if after is not None:
        stmt = stmt.where(id_column < after if newest_first else id_column > after)
    order = id_column.desc() if newest_first else id_column
    rows = list(session.scalars(stmt.order_by(order).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, encode_cursor(getattr(rows[-1], id_column.key)))
    return Page(rows, None)
