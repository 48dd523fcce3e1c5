"""Percentiles of latency samples, with the method stated.

p50, p95 and p99 are ``statistics.quantiles(samples, n=100, method="inclusive")``: linear
interpolation between the two closest ranks, position ``(n - 1) * p`` in the sorted samples
(Hyndman & Fan 1996 type 7; numpy's default ``linear``, Excel's ``PERCENTILE.INC``). With 50
samples p95 sits at position 46.55: between the 47th and 48th fastest answers, so three slow
answers in fifty move it and two do not.
"""

from __future__ import annotations

import statistics

POINTS = {"p50": 50, "p95": 95, "p99": 99}


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """``{"p50": …, "p95": …, "p99": …}`` in the samples' unit (ms), unrounded; one sample is
    every percentile; no sample gives ``{}``."""
    if not samples_ms:
        return {}
    if len(samples_ms) == 1:
        return dict.fromkeys(POINTS, float(samples_ms[0]))
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {name: cuts[point - 1] for name, point in POINTS.items()}
