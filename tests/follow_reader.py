"""A reader process for the soak test: follows ``stream_writer.py``'s datasets and checks them.

::

    python follow_reader.py FILE INTERVAL

polls a :class:`~swmr_widgets.follow.DatasetFollower` on each of the writer's
datasets every INTERVAL seconds, and checks every update: it must start where
the previous one stopped and hold exactly the values the writer wrote. It
prints ``ready`` once following. When a line ``stop ROWS FRAMES`` arrives on
stdin (the writer's totals), it polls until it has read that much (or 20 s
passed) and prints one JSON line with what it delivered: rows, exact sums,
wrong updates, its RSS and its poll times.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import numpy as np
import stream_writer as sw

from swmr_widgets.follow import DatasetFollower
from swmr_widgets.swmr import open_h5_file_for_reading


def _rss() -> int:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with the test extra
        return 0
    return psutil.Process().memory_info().rss


class Checked:
    """Rows delivered by one follower, checked update by update."""

    def __init__(self, name: str, expected, exact: type) -> None:
        self.name, self.expected, self.exact = name, expected, exact
        self.rows = 0
        self.total = exact(0).item()
        self.bad: list[str] = []

    def add(self, update) -> None:
        if update.start != self.rows:
            self.bad.append(f"{self.name}: rows from {update.start} after {self.rows}")
        if len(update):
            want = self.expected(np.arange(update.start, update.stop))
            if not np.array_equal(update.rows, want):
                self.bad.append(f"{self.name}: wrong values in {update.start}..{update.stop}")
            self.total += update.rows.sum(dtype=self.exact).item()
        self.rows = update.stop


def main() -> None:
    """Follow until told to stop, then report."""
    path, interval = sys.argv[1], float(sys.argv[2])
    f, is_swmr = open_h5_file_for_reading(path, timeout=30)
    size = f[sw.FRAMES].shape[1]

    def frames(idx: np.ndarray) -> np.ndarray:
        return np.stack([sw.frame(int(k), size) for k in idx]).reshape(-1, size, size)

    followers = [
        (DatasetFollower(f[sw.COUNTER], history=1), Checked("counter", sw.counter, np.int64)),
        (DatasetFollower(f[sw.VALUE], history=1), Checked("value", sw.value, np.float64)),
        (DatasetFollower(f[sw.FRAMES], history=1), Checked("frames", frames, np.int64)),
    ]
    stop: list[tuple[int, int]] = []

    def wait_stop() -> None:
        for line in sys.stdin:
            if line.startswith("stop"):
                _, rows, n_frames = line.split()
                stop.append((int(rows), int(n_frames)))
                return
        stop.append((-1, -1))

    threading.Thread(target=wait_stop, daemon=True).start()
    rss = [(time.monotonic(), _rss())]
    poll_times: list[float] = []
    print("ready", flush=True)
    deadline = None
    while True:
        t = time.perf_counter()
        for follower, checked in followers:
            checked.add(follower.poll())
        poll_times.append(time.perf_counter() - t)
        if time.monotonic() - rss[-1][0] >= 1.0:
            rss.append((time.monotonic(), _rss()))
        if stop:
            rows, n_frames = stop[0]
            deadline = deadline or time.monotonic() + 20
            done = followers[0][1].rows >= rows and followers[2][1].rows >= n_frames
            if done or time.monotonic() > deadline:
                break
        time.sleep(interval)
    f.close()
    ticks = np.asarray(poll_times)
    report = {c.name: {"rows": c.rows, "sum": c.total, "bad": c.bad[:5]} for _, c in followers}
    report.update(
        is_swmr=is_swmr,
        rss=[r for _, r in rss],
        poll_p50=float(np.percentile(ticks, 50)),
        poll_p99=float(np.percentile(ticks, 99)),
    )
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
