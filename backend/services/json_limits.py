"""Nesting limits for JSON that comes from outside: refused before a parser builds anything.

A 200 KB ``[[[[...]]]]`` is cheap to send and costly to parse (ijson keeps a
prefix per level, the standard library recurses), so depth is counted on the
raw bytes while they stream, outside strings, and the input is refused as soon
as it passes the limit.
"""

from __future__ import annotations

import numpy as np

MAX_JSON_DEPTH = 64
# Scanned in slices so the scan's own arrays stay small whatever the input's size.
_SLICE = 1 << 20
_STEP = np.zeros(256, np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


class TooDeep(ValueError):
    """JSON nested deeper than the limit; ``item`` is the 1-based top-level array item, if counted."""

    def __init__(self, depth: int, item: int):
        super().__init__(f"nests deeper than {depth} levels")
        self.item = item


class DepthScanner:
    """Feed JSON bytes in pieces; raises TooDeep once nesting passes ``limit``.

    ``base`` levels are not counted (1 for the array around a JSON-array upload's items), and commas
    at that level count the items, so the error can name the item that is too deep. Vectorised: a
    quote preceded by an even run of backslashes opens or closes a string; brackets count outside.
    """

    __slots__ = ("limit", "base", "depth", "in_string", "backslashes", "item")

    def __init__(self, limit: int = MAX_JSON_DEPTH, base: int = 0):
        self.limit, self.base = limit + base, base
        self.depth, self.in_string, self.backslashes, self.item = 0, 0, 0, 1

    def feed(self, chunk: bytes) -> None:
        for start in range(0, len(chunk), _SLICE):
            self._feed(chunk[start:start + _SLICE])

    def _feed(self, chunk: bytes) -> None:
        a = np.frombuffer(chunk, np.uint8)
        n = len(a)
        if n == 0:
            return
        if self.backslashes == 0 and b"\\" not in chunk:
            quotes, last_plain = a == 0x22, None  # the common case: no escapes, every quote counts
        else:
            index = np.arange(n, dtype=np.int64)
            last_plain = np.maximum.accumulate(np.where(a != 0x5C, index, -1))
            before = np.empty(n, np.int64)
            before[0], before[1:] = -1, last_plain[:-1]
            run = index - 1 - before + np.where(before == -1, self.backslashes, 0)
            quotes = (a == 0x22) & (run % 2 == 0)
        outside = (np.cumsum(quotes, dtype=np.int64) + self.in_string) % 2 == 0
        depth = np.cumsum(_STEP[a] * outside, dtype=np.int32)
        depth += self.depth
        commas = (a == 0x2C) & outside & (depth == self.base)
        over = depth > self.limit
        if over.any():
            first = int(over.argmax())
            raise TooDeep(self.limit - self.base, self.item + int(commas[:first].sum()))
        self.item += int(commas.sum())
        self.depth = int(depth[-1])
        self.in_string = 0 if outside[-1] else 1
        if last_plain is not None:
            self.backslashes = self.backslashes + n if last_plain[-1] == -1 else n - 1 - int(last_plain[-1])


def check_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise TooDeep when the JSON text ``raw`` nests deeper than ``limit``."""
    # Fewer brackets than the limit cannot nest past it: skip the scan for nearly every document.
    if raw.count(b"[") + raw.count(b"{") > limit:
        DepthScanner(limit).feed(raw)
