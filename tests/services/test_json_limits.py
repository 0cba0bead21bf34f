"""The depth scan that guards uploads and JSON bodies: exact on valid JSON, whatever the pieces."""

from __future__ import annotations

import json

import pytest

from backend.services.json_limits import DepthScanner, TooDeep, check_depth

# Brackets, quotes and backslashes inside strings must not count.
TRICKY = [{"t": 'a\\"[[[\\\\', "x": [[1], {"y": ']]]\\\\\\"{{{'}]}, "\\", "[", {"k[": ["\\\\"]}]


def nest(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, 1 << 20])
def test_depth_is_counted_outside_strings_whatever_the_pieces(piece):
    doc = json.dumps(TRICKY * 50 + [nest(6)]).encode()
    fits, too_deep = DepthScanner(6, base=1), DepthScanner(5, base=1)
    for start in range(0, len(doc), piece):
        fits.feed(doc[start:start + piece])
    assert fits.depth == 0 and fits.item == len(TRICKY) * 50 + 1
    with pytest.raises(TooDeep) as refused:
        for start in range(0, len(doc), piece):
            too_deep.feed(doc[start:start + piece])
    assert refused.value.item == len(TRICKY) * 50 + 1


def test_a_document_at_the_limit_passes_and_one_level_more_does_not():
    check_depth(json.dumps({"a": nest(63)}).encode())
    with pytest.raises(TooDeep):
        check_depth(json.dumps({"a": nest(64)}).encode())
