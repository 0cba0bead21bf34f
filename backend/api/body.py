"""What a JSON request body may hold, checked before any parser builds it.

The standard library's parser (used by webargs) recurses once per level and
accepts ``NaN``, ``Infinity`` and lone surrogates, none of which a client can
mean: a deep body would end in RecursionError (a 500), NaN would be stored as
null, a lone surrogate fails on its way to the database, and NUL is refused by
PostgreSQL but not by SQLite. Each is a 422 here, the same on both backends.
"""

from __future__ import annotations

import json
import math

from ..errors import ValidationError
from ..services.json_limits import MAX_JSON_DEPTH, TooDeep, check_depth

# No amount, id or count Concord stores comes near this; Python's own limit is 4300 digits.
MAX_INT_DIGITS = 100


def _refuse(reason: str, path: str = "") -> ValidationError:
    # The field is named by its path in the body (``url``, ``items.3.text``), as schema errors are.
    where = f" at {path}" if path else ""
    return ValidationError(f"The JSON body {reason}{where}.", details={"fields": {path or "body": [reason]}})


def _no_constants(name: str):
    raise _refuse(f"holds {name}, which is not JSON; send a number or null")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: a float too large becomes infinity, then null once stored
        raise _refuse(f"holds {text[:40]}, a number too large to store")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:  # Python refuses longer ones with a bare ValueError
        raise _refuse(f"holds an integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _check_text(value: str, path: str) -> None:
    if "\x00" in value:
        raise _refuse("holds a NUL character (\\u0000)", path)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse("holds a lone surrogate (an unpaired \\ud800-\\udfff escape)", path) from None


def check_json_body(raw: bytes) -> None:
    """Raise ValidationError (422) for a body nested deeper than MAX_JSON_DEPTH or holding NaN,
    Infinity, NUL or a lone surrogate. A body that is not JSON at all is left to the parser's 400."""
    try:
        check_depth(raw)
    except TooDeep as exc:
        raise _refuse(f"{exc} (at most {MAX_JSON_DEPTH})") from None
    try:
        value = json.loads(raw, parse_constant=_no_constants, parse_float=_finite, parse_int=_bounded_int)
    except (ValueError, UnicodeDecodeError):
        return
    stack = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                _check_text(key, path)
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), child) for i, child in enumerate(item))
