"""Child processes of the remote benchmark: a timestamping writer and a Tiled viewer.

``python -m benchmarks.remote_agents writer FILE STEPS RATE``
    Creates ``/stamp`` (float64, growing) in SWMR mode with one warm-up row,
    prints ``ready``, waits for ``go`` on stdin, then appends STEPS rows at RATE Hz, each
    holding ``time.time()`` just before its flush, and prints one JSON line
    ``{"step_s": [...]}`` with the cost of each step (resize, write, flush).

``python -m benchmarks.remote_agents viewer URL API_KEY LAST TIMEOUT``
    Follows ``/stamp`` with :class:`~swmr_widgets.remote.engine.TiledLive`,
    prints ``ready`` once it has the warm-up row, and prints one JSON line
    ``{"latency_s": [...]}`` (receive time minus the stamp of each new row)
    once it has seen row LAST or after TIMEOUT seconds.
"""

from __future__ import annotations

import json
import sys
import time

DATASET = "/stamp"
#: Seconds between two polls of a viewer (adds at most this to each latency).
POLL = 0.02


def writer(path: str, steps: int, rate: float) -> None:
    import h5py

    with h5py.File(path, "w", libver="latest") as f:
        ds = f.create_dataset(DATASET, shape=(0,), maxshape=(None,), dtype="f8", chunks=(4096,))
        ds.attrs["units"] = "s"
        f.swmr_mode = True
        ds.resize((1,))  # a warm-up row: the publisher creates the array with it
        ds[0] = time.time()
        ds.flush()
        print("ready", flush=True)
        sys.stdin.readline()
        costs = []
        period = 1.0 / rate
        start = time.monotonic()
        for i in range(1, steps + 1):
            t0 = time.perf_counter()
            ds.resize((i + 1,))
            ds[i] = time.time()
            ds.flush()
            costs.append(time.perf_counter() - t0)
            delay = start + i * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        print(json.dumps({"step_s": costs}), flush=True)


def viewer(url: str, api_key: str, last: int, timeout: float) -> None:
    from swmr_widgets.live import Rows
    from swmr_widgets.remote.engine import TiledLive

    live = TiledLive(url, api_key=api_key)
    feed = live.follow(DATASET)
    latencies: list[float] = []
    ready = False
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline and seen < last:
        poll = live.poll()
        update = poll.updates.get(feed)
        now = time.time()
        if isinstance(update, Rows) and len(update.values):
            if ready and update.new:
                latencies += [now - float(v) for v in update.values]
            seen = max(seen, int(update.indices[-1]))
        if not ready and seen >= 0:  # the warm-up row arrived: measure from now on
            ready = True
            print("ready", flush=True)
        time.sleep(POLL)
    live.close()
    print(json.dumps({"latency_s": latencies, "seen": seen}), flush=True)


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    if role == "writer":
        writer(args[0], int(args[1]), float(args[2]))
    else:
        viewer(args[0], args[1], int(args[2]), float(args[3]))
