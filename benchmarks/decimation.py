"""Decimation: numpy against tsdownsample, and the incremental min/max summary.

In the harness process, on a 1e7-point float64 random walk:

* ``minmax_indices(y, 2000, use_tsdownsample=False)`` (numpy) against
  ``use_tsdownsample=True``, interleaved;
* ``MinMaxSummary.extend`` of 1,000 new points on a summary of 1e7 points,
  against recomputing ``minmax_indices`` over the whole, grown series (what a
  viewer without the summary would do each tick), interleaved.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import Context, Row, column, interleaved, ratio, stats, timed

NAME = "decimation"
TITLE = "Decimation"

N_OUT = 2000
NEW = 1000


def run(ctx: Context) -> list[Row]:
    """Run both comparisons on 1e7 points (1e5 with ``--quick``).

    Parameters
    ----------
    ctx : Context
        The run's context.

    Returns
    -------
    list of Row
        Two rows: numpy/tsdownsample, and recompute/extend.
    """
    from swmr_widgets import decimate
    from swmr_widgets.decimate import MinMaxSummary, minmax_indices

    n = 100_000 if ctx.quick else 10_000_000
    rounds, ticks = (3, 20) if ctx.quick else (15, 200)
    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=n + (ticks + 10) * NEW))
    y = series[:n]
    has_ts = getattr(decimate, "_TsMinMax", None) is not None
    ctx.log(f"{TITLE}: min/max of {n:,} points to {N_OUT}")
    variants = {"numpy": timed(lambda: minmax_indices(y, N_OUT, use_tsdownsample=False))}
    if has_ts:
        variants["tsdownsample"] = timed(lambda: minmax_indices(y, N_OUT, use_tsdownsample=True))
    samples = interleaved(variants, rounds)
    first = {k: stats(column(v), 1e3) for k, v in samples.items()}
    rows = [
        Row(
            family=NAME,
            benchmark=TITLE + ": min/max",
            size=f"{n:.0e} → {N_OUT} points",
            unit="ms",
            variants=first,
            ratio=ratio(first["numpy"]["median"], first.get("tsdownsample", {}).get("median")),
            ratio_label="numpy/tsdownsample",
            params={"points": n, "n_out": N_OUT, "tsdownsample": has_ts},
            note="" if has_ts else "tsdownsample is not installed",
        )
    ]

    ctx.log(f"{TITLE}: MinMaxSummary.extend of {NEW} points on {n:,}")
    summary = MinMaxSummary(N_OUT // 2)
    for start in range(0, n, 1_000_000):
        summary.extend(y[start : start + 1_000_000])
    state = {"extend": n, "recompute": n}

    def extend() -> None:
        pos = state["extend"]
        summary.extend(series[pos : pos + NEW])
        state["extend"] = pos + NEW

    def recompute() -> None:
        state["recompute"] += NEW
        minmax_indices(series[: state["recompute"]], N_OUT)

    samples = interleaved(
        {"extend": timed(extend), "recompute": timed(recompute)},
        ticks,
        repeats={"extend": 1},
        warmup=2,
    )
    second = {k: stats(column(v), 1e3) for k, v in samples.items()}
    summary.points()
    rows.append(
        Row(
            family=NAME,
            benchmark=TITLE + ": incremental summary",
            size=f"+{NEW:,} on {n:.0e} points",
            unit="ms",
            variants=second,
            ratio=ratio(second["recompute"]["median"], second["extend"]["median"]),
            ratio_label="recompute/extend",
            params={"points": n, "new_per_call": NEW, "n_buckets": N_OUT // 2},
            note="recompute = minmax_indices over the whole grown series (tsdownsample when "
            "installed)",
        )
    )
    return rows
