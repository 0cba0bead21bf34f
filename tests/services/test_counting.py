import pytest

from backend.services.counting import required_overlap


@pytest.mark.parametrize(("overlap", "expected"), [(300, {3: 100}), (250, {2: 50, 3: 50}),
                                                   (233, {2: 67, 3: 33}), (110, {1: 90, 2: 10})])
def test_fractional_overlap_is_exact_over_any_run(overlap, expected):
    counts: dict[int, int] = {}
    for ordinal in range(1000, 1100):
        value = required_overlap(overlap, ordinal)
        counts[value] = counts.get(value, 0) + 1
    assert counts == expected
