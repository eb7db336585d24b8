"""P4: peak memory while following a long growing series.

Each variant runs in a fresh process, and its peak resident set size (VmHWM
from ``/proc/self/status``) is read at the end, so it covers everything the
process did. A writer process holds the file in SWMR mode and appends 1,000
rows before each tick.

* ``ours``: a ``SwmrView`` on the 1e8-row float64 series (800 MB, the file of
  P2), which catches up with the existing rows (a million rows per tick) and
  then follows it for 100 ticks;
* ``baseline``: the same on a 1,000-row series: the cost of Python, h5py,
  ipywidgets and bqplot themselves;
* ``naive``: one poll that reads the whole series and decimates it.
"""

from __future__ import annotations

from benchmarks.common import Agent, Context, Row, WriterProcess
from benchmarks.length import DATASET

NAME = "memory"
TITLE = "P4 peak RSS following a series"

MB = 1e-6
LIMIT_MB = 300.0


def _peak(ctx: Context, factory: str, rows: int, ticks: int, **args: object) -> dict:
    path = ctx.series_file(rows)
    with WriterProcess(path, existing=True) as writer:
        writer.send("swmr")
        with Agent(factory, path=str(path), **args) as agent:
            for _ in range(ticks):
                writer.append({DATASET: 1000})
                agent.call(1)
            return agent.info()


def run(ctx: Context) -> list[Row]:
    """Run P4.

    Parameters
    ----------
    ctx : Context
        The run's context.

    Returns
    -------
    list of Row
        One row; the ratio is ours/naive.
    """
    rows = 10_000 if ctx.quick else 100_000_000
    ticks = 10 if ctx.quick else 100
    note = ""
    if not ctx.quick:
        ok, why = ctx.big_file_ok(8 * rows)
        if not ok:
            rows, note = 10_000_000, f"1e8 rows {why}; measured at 1e7 rows instead"
    ctx.log(f"{TITLE}: following {rows:,} rows for {ticks} ticks")
    ours = _peak(ctx, "benchmarks.probes:view", rows, ticks, selected=[DATASET])
    ctx.log(f"{TITLE}: baseline on 1,000 rows")
    base = _peak(ctx, "benchmarks.probes:view", 1_000, ticks, selected=[DATASET])
    ctx.log(f"{TITLE}: one full read of {rows:,} rows")
    naive = _peak(ctx, "benchmarks.probes:full_reread", rows, 1, dataset=DATASET)
    ours_mb, base_mb, naive_mb = (x["peak_rss"] * MB for x in (ours, base, naive))
    row = Row(
        family=NAME,
        benchmark=TITLE,
        size=f"{rows:.0e} rows, {ticks} ticks",
        unit="MB",
        variants={
            "ours": {"median": ours_mb, "n": 1},
            "baseline": {"median": base_mb, "n": 1},
            "naive": {"median": naive_mb, "n": 1},
        },
        ratio=ours_mb / naive_mb,
        ratio_label="ours/naive",
        params={
            "rows": rows,
            "ticks_after_catch_up": ticks,
            "catch_up_ticks": ours.get("catch_up_ticks"),
            "ours_minus_baseline_mb": ours_mb - base_mb,
        },
        note=(
            f"peak RSS (VmHWM) of fresh processes; following costs {ours_mb - base_mb:.0f} MB "
            f"over the baseline; catch-up {ours.get('catch_up_ticks')} ticks"
        ),
    )
    if note:
        row.note += "; " + note
    if "error" in ours.get("status", ""):
        row.note += f"; view status: {ours['status']}"
    if rows >= 100_000_000:
        row.target = f"ours ≤ {LIMIT_MB:.0f} MB"
        row.met = ours_mb <= LIMIT_MB
    else:
        row.note += "; not judged: P4 is defined at 1e8 rows"
    return [row]
