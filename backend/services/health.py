"""Readiness checks."""

from __future__ import annotations

from sqlalchemy import text

from ..db import read_session


def database_ready() -> bool:
    try:
        with read_session() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
