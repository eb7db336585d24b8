"""P5: how long after the writer flushes a row a reader delivers it.

A writer process appends one float64 row every 5 ms, each holding the
``CLOCK_MONOTONIC`` time (``time.monotonic()``, shared by all processes of the
machine) at which it was written, and flushes after each. Two reader processes
poll the same file at the same time, every 10 ms:

* ``ours``: :meth:`DatasetFollower.poll`;
* ``bare``: ``ds.refresh()``, then ``ds[old:new]``, in plain h5py.

For every row, latency = monotonic time when the poll returned it − its
stamp. Both readers run concurrently for the same rows, so machine noise hits
them alike; several trials are pooled.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks.common import Agent, Context, Probe, Row, WriterProcess, ratio, stats

NAME = "latency"
TITLE = "P5 visibility latency"

DATASET = "/stamps"
WRITE_PERIOD = 0.005
POLL_INTERVAL = 0.010


def reader(
    path: str, dataset: str, mode: str, count: int, interval: float = POLL_INTERVAL
) -> Probe:
    """Agent factory: a polling reader; a call polls until `count` new rows arrived.

    Parameters
    ----------
    path : str
        The file, held by a SWMR writer.
    dataset : str
        The growing 0-D dataset of time stamps.
    mode : {"ours", "bare"}
        Poll with a :class:`~swmr_widgets.follow.DatasetFollower`, or with bare h5py.
    count : int
        Rows to receive per call (the call also ends 5 s after the last row seen).
    interval : float
        Seconds between two polls.

    Returns
    -------
    Probe
        A call returns ``{"latencies": [...], "polls": n}``.
    """
    from swmr_widgets import open_h5_file_for_reading
    from swmr_widgets.follow import DatasetFollower

    f, _ = open_h5_file_for_reading(path, swmr=True)
    ds = f[dataset]
    ds.refresh()
    state = {"old": int(ds.shape[0])}
    follower = DatasetFollower(ds, start=state["old"], history=1)

    def poll_ours() -> np.ndarray:
        return follower.poll().rows

    def poll_bare() -> np.ndarray:
        ds.refresh()
        new = ds.shape[0]
        rows = ds[state["old"] : new]
        state["old"] = new
        return rows

    poll = poll_ours if mode == "ours" else poll_bare

    def call() -> dict[str, Any]:
        latencies: list[float] = []
        polls = 0
        last_seen = time.monotonic()
        next_poll = time.monotonic()
        while len(latencies) < count and time.monotonic() - last_seen < 5.0:
            next_poll += interval
            delay = next_poll - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_poll = time.monotonic()
            rows = poll()
            now = time.monotonic()
            polls += 1
            if len(rows):
                last_seen = now
                latencies.extend((now - np.asarray(rows, dtype=np.float64)).tolist())
        return {"latencies": latencies, "polls": polls}

    return Probe(call, close=f.close)


def run(ctx: Context) -> list[Row]:
    """Run P5.

    Parameters
    ----------
    ctx : Context
        The run's context.

    Returns
    -------
    list of Row
        Median and p99 rows; the ratio is ours/bare.
    """
    trials, count = (1, 100) if ctx.quick else (3, 1000)
    path = ctx.workdir / "latency.h5"
    lat: dict[str, list[float]] = {"ours": [], "bare": []}
    polls: dict[str, int] = {"ours": 0, "bare": 0}
    with WriterProcess(path) as writer:
        writer.send(f"create {DATASET} f8 - 1024 0")
        writer.send("swmr")
        for trial in range(trials):
            ctx.log(f"{TITLE}: trial {trial + 1}/{trials}, {count} rows every 5 ms")
            order = ["ours", "bare"] if trial % 2 == 0 else ["bare", "ours"]
            agents = {
                m: Agent(f"{__name__}:reader", path=str(path), dataset=DATASET, mode=m, count=count)
                for m in order
            }
            try:
                for m in order:
                    agents[m].send({"op": "call", "repeat": 1})
                time.sleep(0.1)  # both readers are polling
                writer.send(f"stream {DATASET} {count} {WRITE_PERIOD}")
                for m in order:
                    extra = agents[m].receive()["extra"][0]
                    lat[m] += extra["latencies"]
                    polls[m] += extra["polls"]
            finally:
                for agent in agents.values():
                    agent.close()
    ours, bare = stats(lat["ours"], 1e3), stats(lat["bare"], 1e3)
    params = {
        "rows": trials * count,
        "write_period_s": WRITE_PERIOD,
        "poll_interval_s": POLL_INTERVAL,
        "polls": polls,
        "rows_received": {k: len(v) for k, v in lat.items()},
    }
    note = (
        f"{trials} trials × {count} rows; both readers poll concurrently in their own "
        f"processes; rows received ours {len(lat['ours'])}, bare {len(lat['bare'])}"
    )
    rows = []
    for q in ("median", "p99"):
        r = ratio(ours.get(q), bare.get(q))
        rows.append(
            Row(
                family=NAME,
                benchmark=TITLE + f" ({'p50' if q == 'median' else q})",
                size="5 ms writes, 10 ms polls",
                unit="ms",
                variants={
                    "ours": {**ours, "median": ours.get(q)},
                    "bare": {**bare, "median": bare.get(q)},
                },
                ratio=r,
                ratio_label="ours/bare",
                target="ours/bare ≤ 1.2",
                met=r is not None and r <= 1.2 and len(lat["ours"]) == trials * count,
                params=params,
                note=note,
            )
        )
    return rows
