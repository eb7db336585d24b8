"""Agent factories shared by several benchmark families (see :mod:`benchmarks.agent`).

Each function runs inside an agent process and returns a
:class:`~benchmarks.common.Probe` whose ``call`` is the operation timed.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import Probe

#: Ticks allowed to catch up with a long dataset before measuring.
MAX_CATCH_UP_TICKS = 100_000


def view(path: str, selected: list[str], catch_up: bool = True) -> Probe:
    """A :class:`~swmr_widgets.view.SwmrView` showing `selected`; a call is one tick.

    Parameters
    ----------
    path : str
        The file, held by a writer in SWMR mode.
    selected : list of str
        Dataset paths to show.
    catch_up : bool, default True
        Tick until no panel is still loading earlier rows (a long series is
        read a million rows per tick), so that calls measure the steady state.

    Returns
    -------
    Probe
        ``info()`` gives the view's status and the catch-up ticks and seconds.
    """
    from swmr_widgets.view import SwmrView

    v = SwmrView(path, autostart=False, selected=list(selected))
    ticks = 0
    t0 = time.perf_counter()
    while catch_up and ticks < MAX_CATCH_UP_TICKS and any(p.catching_up for p in v.panels):
        v.refresh()
        ticks += 1
    seconds = time.perf_counter() - t0

    def info() -> dict[str, Any]:
        return {"status": v.status, "catch_up_ticks": ticks, "catch_up_seconds": seconds}

    return Probe(v.refresh, info, v.close)


def full_reread(path: str, dataset: str, decimate: bool = True) -> Probe:
    """Refresh a dataset, read it in full and (by default) decimate it for a plot.

    Parameters
    ----------
    path : str
        The file.
    dataset : str
        The dataset's path; a 0-D series.
    decimate : bool, default True
        Reduce the values to 2,000 points as a plot would need.

    Returns
    -------
    Probe
        A call is one poll of a viewer that does not read incrementally.
    """
    from swmr_widgets import open_h5_file_for_reading
    from swmr_widgets.decimate import decimate_trace

    f, is_swmr = open_h5_file_for_reading(path)
    ds = f[dataset]

    def call() -> None:
        if is_swmr:
            ds.refresh()
        y = ds[()]
        if decimate:
            decimate_trace(y)

    return Probe(call, lambda: {"rows": int(ds.shape[0])}, f.close)
