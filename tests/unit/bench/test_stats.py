"""The report helpers of `make bench`: percentiles and median (min–max) cells."""

import math

import pytest

from bench.stats import cell, offered_load, percentile, ratio, spread


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 99, 5.0),
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4, 5], 0, 1),
        ([1, 2, 3, 4, 5], 100, 5),
        (list(range(1, 101)), 99, 99.01),  # numpy.percentile(range(1, 101), 99)
        ([3, 1, 2], 50, 2),  # order of the input does not matter
    ],
)
def test_percentile_interpolates_between_closest_ranks(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan():
    assert math.isnan(percentile([], 50))


def test_spread_skips_missing_runs():
    assert spread([3.0, None, 1.0, float("nan"), 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}


@pytest.mark.parametrize(
    ("values", "fmt", "unit", "expected"),
    [
        ([1200.4, 1000.0, 1300.0], ",.0f", "", "1,200 (1,000–1,300)"),
        ([0.5], ".2f", "", "0.50"),
        ([10, 20], ".0f", " %", "15 % (10–20)"),
        ([None], ",.0f", "", "n/a"),
    ],
)
def test_cell_shows_the_median_and_the_range(values, fmt, unit, expected):
    assert cell(values, fmt, unit) == expected


def test_ratio_is_per_run_and_tolerates_gaps():
    assert ratio([6.0, None, 4.0], [2.0, 1.0, 0.0]) == [3.0, None, None]


def test_offered_load_is_half_the_median_maximum_for_every_repetition():
    assert offered_load([1295.0, 1107.0, 1053.0]) == pytest.approx(553.5)  # not 647.5 for the first burst


def test_offered_load_given_a_fixed_rate_ignores_the_maxima():
    assert offered_load([1295.0, 1107.0, 1053.0], 300.0) == 300.0
