"""The per-poll cost of ``refresh_cached`` beside a bare ``Dataset.refresh()`` loop.

A writer process holds a file of 1,000 datasets in SWMR mode and appends to
three of them before each timed call. Both variants refresh the same
``h5py.Dataset`` objects (from one ``collect_datasets``), interleaved, in the
harness process:

* ``refresh_cached``: ``refresh_cached(cache)``, the documented API;
* ``bare``: ``for ds in cache.values(): ds.refresh()``.
"""

from __future__ import annotations

from benchmarks.common import Context, Row, WriterProcess, column, interleaved, ratio, stats, timed
from benchmarks.tick import APPEND, build

NAME = "refresh"
TITLE = "refresh_cached vs bare refresh"


def run(ctx: Context) -> list[Row]:
    """Time both variants on a 1,000-dataset file (100 with ``--quick``).

    Parameters
    ----------
    ctx : Context
        The run's context.

    Returns
    -------
    list of Row
        One row; the ratio is refresh_cached/bare.
    """
    from swmr_widgets import collect_datasets, open_h5_file_for_reading, refresh_cached

    n = 100 if ctx.quick else 1000
    rounds = 5 if ctx.quick else 40
    path = ctx.workdir / f"refresh_{n}.h5"
    ctx.log(f"{TITLE}: {n:,} datasets")
    with WriterProcess(path) as writer:
        build(writer, n)
        f, is_swmr = open_h5_file_for_reading(path)
        try:
            cache = collect_datasets(f)
            datasets = list(cache.values())

            def bare() -> None:
                for ds in datasets:
                    ds.refresh()

            samples = interleaved(
                {"refresh_cached": timed(lambda: refresh_cached(cache)), "bare": timed(bare)},
                rounds,
                before=lambda _name: writer.append(APPEND),
            )
        finally:
            f.close()
    variants = {k: stats(column(v), 1e3) for k, v in samples.items()}
    per_ds = variants["refresh_cached"]["median"] * 1e3 / len(cache)
    return [
        Row(
            family=NAME,
            benchmark=TITLE,
            size=f"{len(cache):,} datasets",
            unit="ms",
            variants=variants,
            ratio=ratio(variants["refresh_cached"]["median"], variants["bare"]["median"]),
            ratio_label="refresh_cached/bare",
            params={"datasets": len(cache), "swmr": is_swmr, "us_per_dataset": per_ds},
            note=f"{per_ds:.1f} µs per dataset; no target (the core issue asks for the number)",
        )
    ]
