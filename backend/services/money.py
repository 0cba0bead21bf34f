"""Money is an integer amount of minor units and an ISO-4217 currency code."""

from __future__ import annotations

from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies

from ..errors import ValidationError


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def check_currency(code: str, path: str = "currency") -> str:
    """An upper-case ISO-4217 code. Raises ValidationError for anything else."""
    if not isinstance(code, str) or code.upper() != code or code not in _currencies():
        raise ValidationError(f"{path}: {code!r} is not an ISO-4217 currency code",
                              details={"fields": {path: ["unknown currency"]}})
    return code


def minor_unit_digits(code: str) -> int:
    """Digits after the decimal point (USD 2, JPY 0, BHD 3)."""
    return get_currency_precision(check_currency(code))
