"""The in-memory rate-limit store is safe under the threads that serve requests."""

from __future__ import annotations

import sys
import threading
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from backend.extensions import MEMORY_LIMITS_URI, ThreadSafeMemoryStorage


def test_concurrent_hits_neither_fail_nor_lose_counts():
    # Switch threads as often as possible, so that two of them meet between "is the timer alive?"
    # and "start it" as they do under real load.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _hammer()
    finally:
        sys.setswitchinterval(previous)


def _hammer():
    storage = storage_from_string(MEMORY_LIMITS_URI)
    assert isinstance(storage, ThreadSafeMemoryStorage)
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("1000000 per minute")
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)
    hits = [0] * 16

    def hammer(n: int) -> None:
        barrier.wait()
        stop = time.monotonic() + 1.5
        try:
            while time.monotonic() < stop:
                # The expiry timer ends every 10 ms and the next hit restarts it: that is where the
                # stock store races.
                limiter.hit(limit, "shared")
                hits[n] += 1
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert limiter.get_window_stats(limit, "shared").remaining == 1_000_000 - sum(hits)
