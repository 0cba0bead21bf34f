"""Flask extensions, created unbound and wired in create_app."""

from __future__ import annotations

import hashlib
import threading

from flask import current_app, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage

MEMORY_LIMITS_URI = "concord-memory://"


class ThreadSafeMemoryStorage(MemoryStorage):
    """limits' memory storage, made safe for the threads that serve requests.

    The stock one (limits 5.8) restarts its expiry timer without a lock, so two request threads can
    race and the loser fails with "threads can only be started once" (a 500, seen under load in the
    embedded default); and two first hits on a key can take different per-key locks, miss the moment
    the counter equals the amount, never set its expiry, and from then on lose counts. Here one
    re-entrant lock guards the counters, the expiry and the timer (the fixed-window strategy Concord
    uses touches nothing else). Registered as concord-memory://.
    """

    STORAGE_SCHEME = ["concord-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        self._guard = threading.RLock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - overrides the parent's private method
        with self._guard:
            if not self.timer.is_alive():
                self.timer = threading.Timer(0.01, self._expire)
                self.timer.daemon = True
                self.timer.start()

    def _expire(self) -> None:
        with self._guard:
            self._MemoryStorage__expire_events()

    def get(self, key: str) -> int:
        with self._guard:
            return super().get(key)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        with self._guard:
            return super().incr(key, expiry, amount)

    def clear(self, key: str) -> None:
        with self._guard:
            super().clear(key)


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
