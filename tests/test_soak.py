"""Soak: a fast writer for a long time; every row delivered once, bounded memory and ticks.

A ``stream_writer.py`` process appends about 5,000 rows/s to two 0-D channels
and 10 frames/s of 256 x 256 uint16 to an image stack, in SWMR mode. In this
process, a :class:`SwmrView` refreshes every 0.1 s on the asyncio loop (its
tick times and this process's RSS are measured); a ``follow_reader.py``
process runs a :class:`~swmr_widgets.follow.DatasetFollower` per dataset and
checks every row and frame against the values the writer wrote and against
the sums it reports when stopped.

``test_soak_60s`` runs by default (about a minute); ``test_soak_10min`` is
opt-in (``--run-slow``). Both print their figures (see ``-rP`` or ``-s``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import stream_writer as sw

pytest.importorskip("bqplot")
pytest.importorskip("anywidget")
pytest.importorskip("psutil")

import psutil

from swmr_widgets.processes import kill, spawn

ROWS_PER_S = 5000
FRAME_HZ = 10
FRAME_SIZE = 256
INTERVAL = 0.1
HERE = Path(__file__).parent


def run_soak(stream_factory, views, duration: float, warmup: float) -> dict:
    """Run the soak for `duration` seconds; return the figures (asserted by the caller)."""
    w = stream_factory(
        "soak.h5",
        "--rows-per-s", str(ROWS_PER_S), "--step", "0.01",
        "--frame-hz", str(FRAME_HZ), "--frame-size", str(FRAME_SIZE),
    )  # fmt: skip
    w.expect("created")
    w.expect("swmr")
    w.expect("ready")
    # the followers run in a reader process of their own: HDF5 cannot refresh a dataset
    # that is open twice in one process (see swmr_widgets.view._SharedFile)
    reader = spawn(
        [sys.executable, str(HERE / "follow_reader.py"), str(w.path), str(INTERVAL)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    view = views(w.path, selected=[sw.VALUE, sw.COUNTER, sw.FRAMES], interval=INTERVAL)
    tick_times: list[float] = []
    tick = view._ticker._tick

    def timed_tick() -> None:
        t = time.perf_counter()
        tick()
        tick_times.append(time.perf_counter() - t)

    view._ticker._tick = timed_tick  # what the periodic task calls
    proc = psutil.Process()
    figures: dict = {"loop_errors": [], "error_statuses": set()}

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda _l, c: figures["loop_errors"].append(c)
        )
        assert (await asyncio.to_thread(reader.stdout.readline)).startswith("ready")
        view.start()
        t0 = time.monotonic()
        rss: list[tuple[float, int]] = []
        while (now := time.monotonic()) - t0 < duration:
            if "error" in view.status:
                figures["error_statuses"].add(view.status)
            if not rss or now - rss[-1][0] >= 1.0:
                rss.append((now, proc.memory_info().rss))
            await asyncio.sleep(INTERVAL)
        figures["alive"] = view._ticker._task is not None and not view._ticker._task.done()
        totals = figures["totals"] = await asyncio.to_thread(w.finish)
        reader.stdin.write(f"stop {totals['rows']} {totals['frames']}\n")
        reader.stdin.flush()
        line = await asyncio.to_thread(reader.stdout.readline)
        figures["reader"] = json.loads(line) if line else {"error": reader.stderr.read()}
        await asyncio.sleep(3 * INTERVAL)  # a few more ticks of the view
        view.stop()
        gc.collect()
        rss.append((time.monotonic(), proc.memory_info().rss))
        after_warmup = [r for t, r in rss if t - t0 >= warmup]
        figures["rss_start"] = after_warmup[0]
        figures["rss_end"] = rss[-1][1]
        figures["rss_max"] = max(after_warmup)

    try:
        asyncio.run(main())
        view.refresh()
    finally:
        kill(reader, timeout=10)
        for stream in (reader.stdin, reader.stdout, reader.stderr):
            stream.close()
    ticks = np.asarray(tick_times[5:])  # the first ticks build the panels
    figures.update(
        ticks=len(tick_times),
        tick_p50=float(np.percentile(ticks, 50)),
        tick_p99=float(np.percentile(ticks, 99)),
        tick_max=float(ticks.max()),
        view_x=np.asarray(view.figures[0].marks[0].x),
        view_y=np.asarray(view.figures[0].marks[0].y),
        view_image=np.asarray(view.figures[1].marks[0].image),
        status=view.status,
    )
    t, r = figures["totals"], figures["reader"]
    n_warm = max(1, int(warmup))  # one RSS sample a second
    print(
        f"\nsoak {duration:.0f} s: writer rows={t['rows']} frames={t['frames']} steps={t['steps']}"
        f" | reader delivered counter={r.get('counter', {}).get('rows')}"
        f" value={r.get('value', {}).get('rows')} frames={r.get('frames', {}).get('rows')}"
        f" | view RSS after {warmup:.0f} s warm-up {figures['rss_start'] / 2**20:.1f} MiB,"
        f" end {figures['rss_end'] / 2**20:.1f} MiB, max {figures['rss_max'] / 2**20:.1f} MiB"
        f" ({100 * (figures['rss_end'] / figures['rss_start'] - 1):+.1f} %)"
        f" | reader RSS {r['rss'][min(n_warm, len(r['rss']) - 1)] / 2**20:.1f}"
        f" -> {r['rss'][-1] / 2**20:.1f} MiB"
        f" | view ticks={figures['ticks']} p50={1e3 * figures['tick_p50']:.2f} ms"
        f" p99={1e3 * figures['tick_p99']:.2f} ms max={1e3 * figures['tick_max']:.1f} ms"
        f" | reader polls p50={1e3 * r['poll_p50']:.2f} ms p99={1e3 * r['poll_p99']:.2f} ms"
    )
    figures["reader_rss_start"] = r["rss"][min(n_warm, len(r["rss"]) - 1)]
    return figures


def check_soak(figures: dict) -> None:
    t, r = figures["totals"], figures["reader"]
    assert figures["alive"], "the refresh task died"
    assert figures["loop_errors"] == []
    assert not figures["error_statuses"], figures["error_statuses"]
    # every row and frame exactly once, in order, with the writer's values and sums
    assert r["is_swmr"] is True, r
    for name in ("counter", "value", "frames"):
        assert r[name]["bad"] == [], r[name]["bad"]
    assert r["counter"]["rows"] == r["value"]["rows"] == t["rows"]
    assert r["frames"]["rows"] == t["frames"]
    assert r["counter"]["sum"] == t["counter_sum"]
    assert r["value"]["sum"] == t["value_sum"]  # i * 0.5 + 1: every partial sum is exact
    assert r["frames"]["sum"] == t["frame_sum"]
    # the writer kept its pace (so the test measured what it claims)
    assert t["frames"] >= 0.8 * FRAME_HZ * (t["rows"] / ROWS_PER_S)
    # the view shows the whole acquisition, up to the last row and the last frame
    x, y = figures["view_x"], figures["view_y"]
    assert x[0] == 0 and x[-1] == t["rows"] - 1
    np.testing.assert_array_equal(y, sw.value(x.astype(np.int64)).astype(np.float32))
    assert len(y) <= 4000
    np.testing.assert_array_equal(
        figures["view_image"], sw.frame(t["frames"] - 1, FRAME_SIZE).astype(np.float32)
    )
    assert "error" not in figures["status"]
    # bounded memory (view and reader) and ticks
    assert figures["rss_end"] < 1.10 * figures["rss_start"]
    assert r["rss"][-1] < 1.10 * figures["reader_rss_start"]
    assert figures["tick_p99"] < INTERVAL, "a tick must fit in the refresh interval"


@pytest.mark.timeout(180)
def test_soak_60s(stream_factory, views):
    figures = run_soak(stream_factory, views, duration=55.0, warmup=15.0)
    assert figures["totals"]["rows"] > 0.8 * ROWS_PER_S * 55
    check_soak(figures)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_soak_10min(stream_factory, views):
    figures = run_soak(stream_factory, views, duration=600.0, warmup=60.0)
    assert figures["totals"]["rows"] > 0.8 * ROWS_PER_S * 600
    check_soak(figures)
