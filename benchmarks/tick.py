"""P1: the cost of one view tick against the number of datasets in the file.

A writer in another process holds the file in SWMR mode and, before every
timed call, appends to the three shown datasets (100 rows of a 0-D trend, one
256-point spectrum, one 64 x 64 camera frame) and flushes. The other datasets
are small growing datasets that do not change. Variants, interleaved:

* ``ours``: ``SwmrView(...).refresh()``, the real widgets with a comm that
  JSON-encodes every message as a kernel would (no frontend). Its ticks are
  spaced by the view's default interval (0.5 s), as a user's are: the view
  refreshes the tree's shapes on a schedule in time, a slice per tick, so the
  spacing decides how many ticks carry a slice;
* ``naive``: ``refresh_cached`` over every dataset of the file, then reading
  the three shown datasets in full;
* ``reopen``: open the file, ``collect_datasets``, read the three shown
  datasets in full, close;
* ``floor``: a bare ``Dataset.refresh()`` of the three shown datasets.
"""

from __future__ import annotations

import inspect
import time

from benchmarks.common import (
    Agent,
    Context,
    Probe,
    Row,
    WriterProcess,
    agent_call,
    column,
    interleaved,
    ratio,
    stats,
)

NAME = "tick"
TITLE = "P1 tick vs file size"

TREND = "/Live/trend"
SPECTRUM = "/Live/spectrum"
CAMERA = "/Live/camera"
SHOWN = (TREND, SPECTRUM, CAMERA)
#: Rows appended to each shown dataset before each timed call.
APPEND = {TREND: 100, SPECTRUM: 1, CAMERA: 1}
VARIANTS = ("ours", "naive", "reopen", "floor")


def build(writer: WriterProcess, n_datasets: int) -> None:
    """Create the file: `n_datasets` datasets, three of them shown and growing.

    Parameters
    ----------
    writer : WriterProcess
        A writer on a new file.
    n_datasets : int
        Datasets in the file, the three shown ones included.
    """
    writer.send(f"many /Extra {max(n_datasets - len(SHOWN), 0)}")
    writer.send(f"create {TREND} f8 - 4096 10000")
    writer.send(f"create {SPECTRUM} f8 256 64 1000")
    writer.send(f"create {CAMERA} f4 64x64 1 20")
    writer.send("swmr")


def ours(path: str, shown: list[str]) -> Probe:
    """Agent factory: a :class:`SwmrView` on `path` showing `shown`; a call is one tick.

    Each call also says whether the tick refreshed a slice of the tree's shapes
    (``tree_slice``), read from the view's private cursor when it has one.
    """
    from swmr_widgets.view import SwmrView

    view = SwmrView(path, autostart=False, selected=list(shown))

    def cursor() -> tuple[object, object]:
        return getattr(view, "_tree_pos", None), getattr(view, "_tree_next", None)

    def call() -> dict[str, object]:
        before = cursor()
        view.refresh()
        after = cursor()
        return {"tree_slice": None if before == (None, None) else before != after}

    return Probe(call, lambda: {"status": view.status}, view.close)


def naive(path: str, shown: list[str]) -> Probe:
    """Agent factory: ``refresh_cached`` over the whole file, then read `shown` in full."""
    from swmr_widgets import collect_datasets, open_h5_file_for_reading, refresh_cached

    f, _ = open_h5_file_for_reading(path)
    cache = collect_datasets(f)

    def call() -> None:
        refresh_cached(cache)
        for p in shown:
            cache[p][()]

    return Probe(call, lambda: {"datasets": len(cache)}, f.close)


def reopen(path: str, shown: list[str]) -> Probe:
    """Agent factory: open, ``collect_datasets``, read `shown` in full, close."""
    from swmr_widgets import collect_datasets, open_h5_file_for_reading

    def call() -> None:
        f, _ = open_h5_file_for_reading(path)
        cache = collect_datasets(f)
        for p in shown:
            cache[p][()]
        f.close()

    return Probe(call)


def floor(path: str, shown: list[str]) -> Probe:
    """Agent factory: a bare ``Dataset.refresh()`` of the `shown` datasets."""
    from swmr_widgets import open_h5_file_for_reading

    f, _ = open_h5_file_for_reading(path)
    datasets = [f[p] for p in shown]

    def call() -> None:
        for ds in datasets:
            ds.refresh()

    return Probe(call, close=f.close)


def default_interval() -> float:
    """``SwmrView``'s default refresh interval, in seconds."""
    from swmr_widgets.view import SwmrView

    return float(inspect.signature(SwmrView).parameters["interval"].default)


def measure(ctx: Context, n_datasets: int, rounds: int) -> Row:
    """Time the four variants on a file of `n_datasets` datasets.

    Parameters
    ----------
    ctx : Context
        The run's context.
    n_datasets : int
        Datasets in the file.
    rounds : int
        Interleaved rounds (``ours`` and ``floor`` run twice per round).

    Returns
    -------
    Row
        Medians in ms; the ratio is naive/ours.
    """
    path = ctx.workdir / f"tick_{n_datasets}.h5"
    args = {"path": str(path), "shown": list(SHOWN)}
    pace = default_interval()
    last_tick = [0.0]

    def before(name: str) -> None:
        writer.append(APPEND)
        if name == "ours":  # the view's own cadence: its tree refresh is scheduled in time
            time.sleep(max(0.0, last_tick[0] + pace - time.monotonic()))
            last_tick[0] = time.monotonic()

    with WriterProcess(path) as writer:
        build(writer, n_datasets)
        agents = {name: Agent(f"{__name__}:{name}", **args) for name in VARIANTS}
        try:
            samples = interleaved(
                {name: agent_call(agent) for name, agent in agents.items()},
                rounds,
                repeats={"ours": 2, "floor": 2},
                before=before,
            )
            status = agents["ours"].info()["status"]
        finally:
            for agent in agents.values():
                agent.close()
    variants = {k: stats(column(v), 1e3) for k, v in samples.items()}
    ours_ms, naive_ms = variants["ours"]["median"], variants["naive"]["median"]
    sliced = [s for s in samples["ours"] if s.get("tree_slice")]
    plain = [s for s in samples["ours"] if s.get("tree_slice") is False]
    row = Row(
        family=NAME,
        benchmark=TITLE,
        size=f"{n_datasets:,} datasets",
        unit="ms",
        variants=variants,
        ratio=ratio(naive_ms, ours_ms),
        ratio_label="naive/ours",
        params={
            "datasets": n_datasets,
            "shown": list(SHOWN),
            "append_per_call": APPEND,
            "ours_tick_interval_s": pace,
            "ours_ticks_with_tree_slice": len(sliced),
            "ours_median_ms_with_tree_slice": stats(column(sliced), 1e3).get("median"),
            "ours_median_ms_without_tree_slice": stats(column(plain), 1e3).get("median"),
        },
        note=(
            "writer in another process appends before every timed call; one process per "
            f"variant; view ticks {pace:g} s apart"
        ),
    )
    if sliced:
        with_ms = row.params["ours_median_ms_with_tree_slice"]
        without_ms = row.params["ours_median_ms_without_tree_slice"]
        row.note += (
            f"; {len(sliced)}/{len(samples['ours'])} ticks also refreshed a tree slice "
            f"(median {with_ms:.2f} ms"
            + (f" vs {without_ms:.2f} ms without)" if without_ms is not None else ")")
        )
    if "error" in status:
        row.note += f"; view status: {status}"
    if n_datasets >= 5000:
        row.target = "ours ≤ 2 ms, naive/ours ≥ 30"
        row.met = ours_ms <= 2.0 and (row.ratio or 0) >= 30
    return row


def run(ctx: Context) -> list[Row]:
    """Run P1 at every size.

    Parameters
    ----------
    ctx : Context
        The run's context.

    Returns
    -------
    list of Row
        One row per file size.
    """
    sizes = [(10, 3), (100, 3)] if ctx.quick else [(10, 40), (100, 40), (1000, 40), (5000, 40)]
    rows = []
    for n, rounds in sizes:
        ctx.log(f"{TITLE}: {n:,} datasets")
        rows.append(measure(ctx, n, rounds))
    return rows
