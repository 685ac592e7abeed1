"""Pure helpers of the benchmark report: percentiles, medians with their range, table cells, and the
latency part's offered load."""

from __future__ import annotations

import math
from statistics import median
from typing import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation between closest ranks (numpy's default);
    NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Iterable[float | None]) -> dict:
    """Median, min and max of the repetitions' values (missing ones skipped); NaN when none."""
    kept = [v for v in values if v is not None and not math.isnan(v)]
    if not kept:
        return {"median": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    return {"median": median(kept), "min": min(kept), "max": max(kept), "n": len(kept)}


def cell(values: Iterable[float | None], fmt: str = ",.0f", unit: str = "") -> str:
    """``"1,234 (1,100–1,300)"``: the median and, for several runs, the min–max; ``n/a`` when none."""
    s = spread(values)
    if s["n"] == 0:
        return "n/a"
    text = f"{s['median']:{fmt}}{unit}"
    if s["n"] > 1:
        text += f" ({s['min']:{fmt}}–{s['max']:{fmt}})"
    return text


def ratio(numerators: Sequence[float | None], denominators: Sequence[float | None]) -> list[float | None]:
    """Per-repetition ratios (the ratio of medians would mix runs measured under different load)."""
    return [None if n is None or not d else n / d for n, d in zip(numerators, denominators, strict=True)]


def offered_load(maxima: Sequence[float], fixed: float | None = None) -> float:
    """The one load every latency repetition is offered: ``fixed`` when given, else half the median of
    the repetitions' measured maxima (one burst's drain rate is a noisy estimate of the maximum)."""
    return fixed if fixed else spread(maxima)["median"] / 2
