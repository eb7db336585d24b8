"""Faults around a live acquisition: crashed writers, files that appear, vanish or are
replaced, files that are not HDF5, and the read-only guarantee.

Every test runs real writer processes (``swmr_writer.py`` driven by commands, or
the free-running ``stream_writer.py``), the real widget objects, and the real
asyncio refresh loop where the loop matters. Nothing of h5py is mocked.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import stream_writer as sw
import swmr_writer

pytest.importorskip("bqplot")
pytest.importorskip("anywidget")

from swmr_widgets import SwmrView
from swmr_widgets.follow import DatasetFollower
from swmr_widgets.processes import kill, spawn
from swmr_widgets.swmr import (
    NotHDF5Error,
    UncleanFileError,
    open_h5_file_for_reading,
    refresh_cached,
)

pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------- helpers


class LoopWatch:
    """Records what a running view shows, and every exception the loop reports.

    Parameters
    ----------
    views : sequence of SwmrView
        The views to watch.
    """

    def __init__(self, *views: SwmrView) -> None:
        self.views = views
        self.loop_errors: list[dict] = []
        self.statuses: list[list[str]] = [[] for _ in views]
        self.refreshes: list[set[float]] = [set() for _ in views]  # distinct refresh times

    def install(self) -> None:
        """Catch exceptions reported to the running loop (e.g. a task that died)."""
        asyncio.get_running_loop().set_exception_handler(
            lambda _loop, context: self.loop_errors.append(context)
        )

    def sample(self) -> None:
        for seen, refreshed, view in zip(self.statuses, self.refreshes, self.views, strict=True):
            if not seen or seen[-1] != view.status:
                seen.append(view.status)
            if view.live.health.refreshed is not None:
                refreshed.add(view.live.health.refreshed)

    async def run_for(self, seconds: float, step: float = 0.02) -> None:
        """Let the loop run for `seconds`, sampling the statuses."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sample()
            await asyncio.sleep(step)
        self.sample()

    async def until(self, predicate: Callable[[], bool], timeout: float, step=0.005) -> float:
        """Wait until `predicate()` holds; return the monotonic time it was seen."""
        end = time.monotonic() + timeout
        while not predicate():
            self.sample()
            if time.monotonic() > end:
                raise AssertionError(f"not reached in {timeout} s; statuses: {self.statuses}")
            await asyncio.sleep(step)
        self.sample()
        return time.monotonic()

    async def during(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run the blocking ``fn(*args, **kwargs)`` in a thread, sampling the statuses."""
        task = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
        while not task.done():
            self.sample()
            await asyncio.sleep(0.005)
        self.sample()
        return task.result()

    def alive(self) -> bool:
        return all(v._ticker._task is not None and not v._ticker._task.done() for v in self.views)


def line_xy(view: SwmrView, fig: int = 0, line: int = 0) -> tuple[np.ndarray, np.ndarray]:
    mark = view.figures[fig].marks[line]
    return np.asarray(mark.x), np.asarray(mark.y)


def image_of(view: SwmrView, fig: int) -> np.ndarray:
    return np.asarray(view.figures[fig].marks[0].image)


def fingerprint(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size


def no_error(statuses: list[str]) -> bool:
    return not any("error" in s for s in statuses)


# --------------------------------------------------------------------------- 1. crashed writers


def test_writer_killed_mid_acquisition(stream_factory, views):
    """SIGKILL while appending: nothing read is lost, the view says the file stopped changing,
    the loop survives, and the SWMR leftover still opens."""
    w = stream_factory(
        "crash.h5", "--rows-per-s", "3000", "--step", "0.005", "--frame-hz", "20",
        "--frame-size", "32",
    )  # fmt: skip
    w.expect("created")
    w.expect("swmr")
    w.expect("ready")
    f, is_swmr = open_h5_file_for_reading(w.path)
    follower = DatasetFollower(f[sw.VALUE])
    view = views(w.path, selected=[sw.VALUE, sw.COUNTER, sw.FRAMES], interval=0.1, stall_after=0.6)
    watch = LoopWatch(view)
    delivered: list[tuple[int, np.ndarray]] = []

    async def main() -> tuple[bool, int]:
        watch.install()
        view.start()
        for _ in range(12):  # about 1 s of acquisition
            update = follower.poll()
            delivered.append((update.start, update.rows))
            await watch.run_for(0.08)
        w.kill()  # mid-acquisition: the writer appends every 5 ms
        before = sum(len(r) for _, r in delivered)
        for _ in range(20):  # 2 s after the crash
            update = follower.poll()
            delivered.append((update.start, update.rows))
            await watch.run_for(0.1)
        alive = watch.alive()
        view.stop()
        return alive, before

    try:
        alive, before_kill = asyncio.run(main())
    finally:
        f.close()
    assert is_swmr
    assert alive, "the refresh task died"
    assert watch.loop_errors == []
    # the follower delivered every row exactly once, in order, and kept them
    pos = 0
    for start, rows in delivered:
        assert start == pos
        pos += len(rows)
    rows = np.concatenate([r for _, r in delivered])
    np.testing.assert_array_equal(rows, sw.value(np.arange(len(rows))))
    # ... up to the last row the crashed writer flushed
    g, leftover_swmr = open_h5_file_for_reading(w.path)  # SWMR leftover: opens
    with g:
        n = g[sw.VALUE].shape[0]
        n_frames = g[sw.FRAMES].shape[0]
        np.testing.assert_array_equal(g[sw.VALUE][:], sw.value(np.arange(n)))
    assert leftover_swmr is True
    assert before_kill > 1000
    assert len(rows) == n
    # the view still shows the last data: both channels up to the last row, the last frame
    x, y = line_xy(view, 0, 0)
    assert x[-1] == n - 1
    np.testing.assert_array_equal(y, sw.value(x.astype(np.int64)))
    x1, y1 = line_xy(view, 0, 1)
    np.testing.assert_array_equal(y1, sw.counter(x1.astype(np.int64)))
    np.testing.assert_array_equal(image_of(view, 1), sw.frame(n_frames - 1, 32).astype("f4"))
    # and says that the file stopped changing, without any error
    statuses = watch.statuses[0]
    assert no_error(statuses), statuses
    assert any("last change" in s for s in statuses)
    assert "no change for" in statuses[-1] and "stalled" in statuses[-1]
    # a new view on the leftover works too
    again = views(w.path, selected=[sw.VALUE])
    assert again.is_swmr
    assert len(line_xy(again)[1]) > 0
    assert "error" not in again.status


def test_crashed_non_swmr_writer_leftover_needs_h5clear(stream_factory, views):
    """A writer without SWMR killed mid-acquisition: a clear ``h5clear -s`` error, then data."""
    w = stream_factory("plain.h5", "--no-swmr", "--rows-per-s", "2000", "--step", "0.005")
    w.expect("created")
    w.expect("ready")
    time.sleep(0.3)
    w.kill()
    with pytest.raises(UncleanFileError, match=r"h5clear -s") as info:
        open_h5_file_for_reading(w.path)
    assert "plain.h5" in str(info.value)
    for wait in (None, True):
        with pytest.raises(UncleanFileError, match=r"h5clear -s"):
            SwmrView(w.path, autostart=False, wait=wait)
    h5clear = shutil.which("h5clear")
    if h5clear is None:
        pytest.skip("h5clear (Debian package hdf5-tools) is not installed")
    subprocess.run([h5clear, "-s", str(w.path)], check=True, timeout=30, capture_output=True)
    f, is_swmr = open_h5_file_for_reading(w.path)
    with f:
        n = f[sw.VALUE].shape[0]
        np.testing.assert_array_equal(f[sw.VALUE][:], sw.value(np.arange(n)))
    assert not is_swmr
    assert n > 100
    view = views(w.path, selected=[sw.VALUE])
    assert line_xy(view)[0][-1] == n - 1
    assert "not SWMR" in view.status
    assert "error" not in view.status


def test_writer_killed_before_switching_swmr_on(stream_factory, views):
    """The view waits for a writer that holds the file without SWMR; the writer crashes:
    the status says, on one line, that ``h5clear -s`` is needed, and the loop goes on."""
    w = stream_factory("never.h5", "--swmr-delay", "30")
    w.expect("created")
    view = views(w.path, interval=0.05)
    watch = LoopWatch(view)

    async def main() -> bool:
        watch.install()
        view.start()
        await watch.until(lambda: "switch SWMR mode on" in view.status, timeout=5)
        w.kill()
        await watch.until(lambda: "h5clear -s" in view.status, timeout=5)
        await watch.run_for(0.3)
        alive = watch.alive()
        view.stop()
        return alive

    assert asyncio.run(main())
    assert watch.loop_errors == []
    assert view.paths == ()
    last = watch.statuses[0][-1]
    assert "never.h5" in last and "\n" not in last and "Traceback" not in last


# --------------------------------------------------------------------------- 2. waiting


def test_core_open_waits_and_returns_soon_after_swmr_starts(stream_factory, tmp_path):
    """``timeout=`` waits through "missing" and "locked without SWMR", then returns quickly."""
    path = tmp_path / "late.h5"
    result: dict[str, object] = {}

    def open_it() -> None:
        try:
            f, is_swmr = open_h5_file_for_reading(path, timeout=30)
            result["t"] = time.monotonic()
            with f:
                result["swmr"] = is_swmr
                result["paths"] = sw.VALUE in f
        except Exception as exc:  # reported below
            result["error"] = exc

    thread = threading.Thread(target=open_it)
    thread.start()
    try:
        time.sleep(0.4)  # missing for a while
        w = stream_factory(path, "--swmr-delay", "1.0")
        w.expect("created")
        t_swmr = float(w.expect("swmr").split()[1])
    finally:
        thread.join(timeout=40)
    assert "error" not in result, result
    assert result["swmr"] is True
    assert result["paths"] is True
    latency = result["t"] - t_swmr
    print(f"\nopen_h5_file_for_reading(timeout=30) returned {latency:.3f} s after SWMR started")
    assert latency < 0.5, f"opened {latency:.3f} s after SWMR started"


@pytest.mark.parametrize("interval", [0.1, 0.2])
def test_view_waits_for_missing_then_locked_file_and_attaches_within_an_interval(
    stream_factory, views, tmp_path, interval
):
    """``wait=True``: missing, then held without SWMR, then SWMR: attached within ~1 interval."""
    path = tmp_path / "later.h5"
    view = views(path, wait=True, interval=interval, selected=[sw.VALUE])
    assert "waiting" in view.status
    assert "created" in view.status
    watch = LoopWatch(view)
    found: dict[str, float] = {}
    ticks: list[tuple[float, bool]] = []  # each tick's start (monotonic) and if it attached
    tick = view._ticker._tick

    def timed_tick() -> None:
        started = time.monotonic()
        tick()
        ticks.append((started, bool(view.paths)))

    view._ticker._tick = timed_tick

    async def main() -> None:
        watch.install()
        view.start()
        await watch.run_for(0.5)
        w = stream_factory(path, "--swmr-delay", "1.0", "--rows-per-s", "500")
        await watch.during(w.expect, "created")
        t_swmr = float((await watch.during(w.expect, "swmr")).split()[1])
        found["swmr"] = t_swmr
        found["attached"] = await watch.until(lambda: bool(view.paths), timeout=10)
        await watch.until(lambda: len(view.figures) and len(line_xy(view)[1]) > 10, timeout=5)
        found["alive"] = watch.alive()
        view.stop()

    asyncio.run(main())
    statuses = watch.statuses[0]
    assert found["alive"]
    assert watch.loop_errors == []
    latency = found["attached"] - found["swmr"]
    # Attaching takes no back-off: the first tick that starts after SWMR is on attaches (or
    # the second, if the first was already opening the file). Counted in ticks, not seconds,
    # so that a loaded machine, where one tick can take a second, does not change the answer.
    after = [attached for started, attached in ticks if started >= found["swmr"]]
    n = after.index(True) + 1 if True in after else None
    print(f"\nSwmrView(interval={interval}) attached {latency:.3f} s, tick {n} after SWMR started")
    assert n is not None and n <= 2, f"attached {latency:.3f} s, tick {n} after SWMR started"
    assert any("to be created" in s for s in statuses)
    assert any("switch SWMR mode on" in s for s in statuses), statuses
    assert view.selected == (sw.VALUE,)
    assert view.is_swmr
    assert "waiting" not in statuses[-1]
    assert no_error(statuses), statuses
    x, y = line_xy(view)
    np.testing.assert_array_equal(y, sw.value(x.astype(np.int64)))


def test_view_on_locked_file_waits_by_default(stream_factory, views):
    """The start of a PyMoDAQ scan: the file is held without SWMR; the view waits by itself."""
    w = stream_factory("pymodaq_like.h5", "--swmr-delay", "0.8", "--rows-per-s", "200")
    w.expect("created")
    view = views(w.path, interval=0.1)  # wait=None: waits for the lock, not for a missing file
    assert "switch SWMR mode on" in view.status
    watch = LoopWatch(view)

    async def main() -> None:
        watch.install()
        view.start()
        await watch.until(lambda: view.is_swmr and bool(view.paths), timeout=10)
        await watch.run_for(0.3)
        view.stop()

    asyncio.run(main())
    assert watch.loop_errors == []
    assert view.selected  # a default selection was made once attached
    assert no_error(watch.statuses[0])


# --------------------------------------------------------------------------- 3. deleted, replaced


def test_deleted_file_keeps_last_data(writer, views, values):
    """Deleting the file being viewed keeps what is shown (the open file is still read)."""
    writer.append(30)
    view = views(writer.path, selected=[swmr_writer.TREND], interval=0.05)
    watch = LoopWatch(view)

    async def main() -> bool:
        watch.install()
        view.start()
        await watch.run_for(0.2)
        writer.path.unlink()
        await watch.until(lambda: "deleted" in view.status, timeout=5)
        shown = len(line_xy(view)[1])
        await asyncio.to_thread(writer.append, 5)  # the writer goes on in the unlinked file
        await watch.until(lambda: len(line_xy(view)[1]) == 35, timeout=5)
        alive = watch.alive()
        view.stop()
        return alive and shown == 30

    assert asyncio.run(main())
    assert watch.loop_errors == []
    assert "was deleted; showing the last data read" in view.status
    np.testing.assert_array_equal(line_xy(view)[1], values(np.arange(35)))
    assert no_error(watch.statuses[0]), watch.statuses[0]


def test_restarted_scan_replaces_file_view_reopens_keeping_selection(writer_factory, views, values):
    """A scan restarted under the same name: the first writer stops, the file is renamed
    away, a new writer creates it (locked without SWMR first); the view follows."""
    a = writer_factory("scan.h5")
    a.append(40)
    selected = (swmr_writer.TREND, swmr_writer.TRACE)
    view = views(a.path, selected=selected, interval=0.05)
    old_inode = a.path.stat().st_ino
    watch = LoopWatch(view)

    async def main() -> bool:
        watch.install()
        view.start()
        await watch.run_for(0.2)
        assert line_xy(view, 1)[1].tolist() == swmr_writer.trace_rows(39, 40)[0].tolist()
        await asyncio.to_thread(a.close)
        a.path.rename(a.path.with_name("scan_old.h5"))
        await watch.until(lambda: "deleted" in view.status, timeout=5)
        b = await asyncio.to_thread(writer_factory, "scan.h5", "--no-swmr")
        await watch.until(lambda: "switch SWMR mode on" in view.status, timeout=5)
        await asyncio.to_thread(b.send, "swmr")
        await asyncio.to_thread(b.append, 7)
        await watch.until(lambda: view.paths and len(line_xy(view)[1]) == 7, timeout=5)
        alive = watch.alive()
        view.stop()
        return alive

    assert asyncio.run(main())
    assert a.path.stat().st_ino != old_inode
    assert watch.loop_errors == []
    assert view.selected == selected
    x, y = line_xy(view)
    np.testing.assert_array_equal(x, np.arange(7))
    np.testing.assert_array_equal(y, values(np.arange(7)))
    np.testing.assert_array_equal(line_xy(view, 1)[1], swmr_writer.trace_rows(6, 7)[0])
    assert "replaced by a new file; reopened it" in view.status
    assert view.is_swmr
    assert no_error(watch.statuses[0]), watch.statuses[0]


def test_file_atomically_replaced_keeps_the_paths_that_still_exist(tmp_path, views):
    """``os.replace`` by a file with another layout: surviving paths stay selected."""
    path = tmp_path / "run.h5"
    with h5py.File(path, "w", libver="latest") as f:
        f["a"] = np.arange(5.0)
        f["b"] = np.arange(6.0)
    view = views(path, selected=["/a", "/b"], interval=0.05)
    new = tmp_path / "run.h5.tmp"
    with h5py.File(new, "w", libver="latest") as f:
        f["b"] = np.arange(9.0) * 2
        f["c"] = np.arange(3.0)
    watch = LoopWatch(view)

    async def main() -> None:
        watch.install()
        view.start()
        await watch.run_for(0.15)
        os.replace(new, path)
        await watch.until(lambda: "replaced" in view.status, timeout=5)
        await watch.run_for(0.15)
        view.stop()

    asyncio.run(main())
    assert view.selected == ("/b",)
    assert "/c" in view.paths and "/a" not in view.paths
    np.testing.assert_array_equal(line_xy(view)[1], np.arange(9.0, dtype=np.float32) * 2)
    assert no_error(watch.statuses[0])
    assert watch.loop_errors == []


def test_scan_restarted_in_place_view_lets_the_new_writer_in(stream_factory, views, tmp_path):
    """A writer recreating the file under the same name with mode "w" (same inode).

    HDF5 truncates the file before it locks it: while a reader holds the file, such a
    writer fails ("unable to lock file") but leaves it empty. The view notices the
    truncation, closes the file, so that the next attempt succeeds, and follows it.
    """
    path = tmp_path / "inplace.h5"
    a = stream_factory(path, "--rows-per-s", "1000")
    a.expect("created")
    a.expect("swmr")
    a.expect("ready")
    view = views(path, selected=[sw.VALUE], interval=0.05)
    inode = path.stat().st_ino
    watch = LoopWatch(view)
    outcome: dict[str, object] = {}

    async def main() -> bool:
        watch.install()
        view.start()
        await watch.run_for(0.3)
        await watch.during(a.finish)
        first_try = await watch.during(
            subprocess.run,
            [sys.executable, str(Path(sw.__file__)), str(path), "--duration", "0.2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        outcome["first_try"] = first_try
        await watch.until(lambda: "inplace.h5" in view.status and not view.paths, timeout=5)
        c = await watch.during(stream_factory, path, "--rows-per-s", "200")
        await watch.during(c.expect, "created")
        await watch.during(c.expect, "swmr")
        await watch.until(lambda: bool(view.paths) and len(line_xy(view)[1]) > 20, timeout=10)
        outcome["c"] = c
        alive = watch.alive()
        view.stop()
        return alive

    assert asyncio.run(main())
    assert path.stat().st_ino == inode  # rewritten in place, not replaced
    first_try = outcome["first_try"]
    if first_try.returncode != 0:  # what HDF5 does while a reader holds the file
        assert "unable to lock file" in first_try.stderr
    assert watch.loop_errors == []
    assert any("truncated or rewritten in place" in s for s in watch.statuses[0])
    assert "truncated or rewritten in place; reopened it" in view.status
    assert view.selected == (sw.VALUE,)
    x, y = line_xy(view)
    np.testing.assert_array_equal(y, sw.value(x.astype(np.int64)))
    assert "error" not in view.status
    # no error stuck in the status: at most the tick that met the truncated file
    assert sum("error" in s for s in watch.statuses[0]) <= 1, watch.statuses[0]


# --------------------------------------------------------------------------- 4. not HDF5


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00\x01garbage, not HDF5\n" * 500)


def _truncated(path: Path) -> None:
    full = path.with_name("full.h5")
    with h5py.File(full, "w") as f:
        f["big"] = np.arange(100_000.0)
    path.write_bytes(full.read_bytes()[:4000])


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (_garbage, NotHDF5Error, "not an HDF5 file"),
        (_truncated, NotHDF5Error, "truncated"),
        (lambda p: p.mkdir(), IsADirectoryError, "is a directory"),
        (lambda p: p.write_bytes(b""), NotHDF5Error, "empty"),
    ],
    ids=["garbage", "truncated", "directory", "empty"],
)
def test_not_an_hdf5_file_clear_error_no_traceback(tmp_path, capfd, make, error, words):
    path = tmp_path / "bad.h5"
    make(path)
    with pytest.raises(error, match=words) as info:
        open_h5_file_for_reading(path)
    assert "bad.h5" in str(info.value)
    # wait=True waits for an empty file (being created), see the next test
    for wait in (None, False) if words == "empty" else (None, False, True):
        with pytest.raises(error, match=words):
            SwmrView(path, autostart=False, wait=wait)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert "HDF5-DIAG" not in out + err


def test_empty_file_with_wait_is_waited_for(tmp_path, views, values):
    """An empty file is one still being created: ``wait=True`` waits for it."""
    path = tmp_path / "being_created.h5"
    path.write_bytes(b"")
    view = views(path, wait=True, interval=0.05)
    assert "waiting" in view.status and "\n" not in view.status
    with h5py.File(path.with_name("done.h5"), "w", libver="latest") as f:
        f.create_dataset(swmr_writer.TREND, data=values(np.arange(4)))
    os.replace(path.with_name("done.h5"), path)
    view.refresh()
    assert view.selected == (swmr_writer.TREND,)
    assert len(line_xy(view)[1]) == 4


def test_file_replaced_by_garbage_then_by_hdf5_one_status_line(tmp_path, views, capfd):
    path = tmp_path / "flaky.h5"
    with h5py.File(path, "w", libver="latest") as f:
        f["x"] = np.arange(3.0)
    view = views(path, selected=["/x"], interval=0.05)
    watch = LoopWatch(view)

    async def main() -> bool:
        watch.install()
        view.start()
        await watch.run_for(0.1)
        tmp = tmp_path / "tmp"
        _garbage(tmp)
        os.replace(tmp, path)
        await watch.until(lambda: "not an HDF5 file" in view.status, timeout=5)
        await watch.run_for(0.3)  # several ticks on a garbage file
        with h5py.File(tmp, "w", libver="latest") as f:
            f["x"] = np.arange(8.0)
        os.replace(tmp, path)
        await watch.until(lambda: bool(view.paths) and len(line_xy(view)[1]) == 8, timeout=5)
        alive = watch.alive()
        view.stop()
        return alive

    assert asyncio.run(main())
    assert watch.loop_errors == []
    garbage = [s for s in watch.statuses[0] if "not an HDF5 file" in s]
    assert garbage and all("\n" not in s and "Traceback" not in s for s in garbage)
    assert "cannot open flaky.h5 yet" in garbage[0]
    assert view.selected == ("/x",)
    assert "replaced" in view.status
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


def _unprivileged() -> list[str] | None:
    """A command prefix that runs a program as ``nobody``, when we are root and can."""
    if os.geteuid() != 0:
        return None
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "nobody", "--"]
    return None


def test_permission_denied_is_clear(tmp_path):
    """A file the user may not read: PermissionError naming the file, from the core and the view.

    Root reads every file, so as root the check runs as ``nobody`` in a subprocess.
    """
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["d"] = np.arange(3.0)
    code = textwrap.dedent(
        """
        import sys
        from swmr_widgets import SwmrView, open_h5_file_for_reading
        for opener in (open_h5_file_for_reading, lambda p: SwmrView(p, autostart=False)):
            try:
                opener(sys.argv[1])
            except PermissionError as exc:
                print(type(exc).__name__, "|", exc)
            else:
                print("opened")
        """
    )
    if os.geteuid() != 0:
        prefix: list[str] = []
        where = tmp_path
    else:
        prefix = _unprivileged() or []
        if not prefix:
            pytest.skip("running as root without setpriv or runuser")
        where = Path(tempfile.mkdtemp(prefix="swmr_perm_"))  # tmp_path is private to root
        where.chmod(0o755)
    try:
        secret = where / "secret.h5"
        shutil.copy(tmp_path / "x.h5", secret)
        secret.chmod(0)  # not even its owner may read it (nor nobody, when we are root)
        env = dict(os.environ, HOME=str(where), IPYTHONDIR=str(where / "ipython"))
        out = subprocess.run(
            [*prefix, sys.executable, "-c", code, str(secret)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=where,
            env=env,
        )
    finally:
        if where != tmp_path:
            shutil.rmtree(where, ignore_errors=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stdout + out.stderr
    for line in lines:
        assert line.startswith("PermissionError | ") and "Permission denied reading" in line
        assert "secret.h5" in line and "read access" in line
    assert "Traceback" not in out.stderr


# --------------------------------------------------------------------------- 8. read-only


def test_viewing_a_closed_file_leaves_it_untouched(writer_factory, views):
    """A second of live viewing (every panel kind, tree refresh) changes no byte, no mtime."""
    w = writer_factory("done.h5")
    w.append(300)
    w.fill(20)
    w.close()
    os.utime(w.path, ns=(1_000_000_000, 1_000_000_000))  # an mtime a rewrite could not keep
    before = fingerprint(w.path)
    selections = [
        (swmr_writer.TREND, swmr_writer.NOISE),
        (swmr_writer.TRACE,),
        (swmr_writer.SCAN0D, swmr_writer.SCAN1D),
    ]
    view = views(w.path, interval=0.05, tree_interval=0.1)
    watch = LoopWatch(view)

    async def main() -> None:
        watch.install()
        view.start()
        for selection in selections:
            view.selected = selection
            await watch.run_for(0.35)
        view.stop()

    asyncio.run(main())
    view.close()
    assert fingerprint(w.path) == before
    assert len(watch.refreshes[0]) >= 10  # the loop kept refreshing (interval 0.05 s, ~1 s)
    assert no_error(watch.statuses[0])
    assert watch.loop_errors == []


READER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[3])
    import stream_writer as sw
    from swmr_widgets import open_h5_file_for_reading
    from swmr_widgets.follow import DatasetFollower
    f, is_swmr = open_h5_file_for_reading(sys.argv[1])
    follower = DatasetFollower(f[sw.VALUE])
    total, ok, end = 0, True, time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        u = follower.poll()
        ok &= u.start == total and np.array_equal(u.rows, sw.value(np.arange(u.start, u.stop)))
        total = u.stop
        time.sleep(0.02)
    print(is_swmr, ok, total, flush=True)
    """
)


def test_two_views_and_a_reader_process_share_one_live_file(stream_factory, views):
    """Two views in this process and a reader in another process follow one live file;
    closing one view leaves the other working."""
    w = stream_factory("shared.h5", "--rows-per-s", "1000", "--frame-hz", "10")
    w.expect("created")
    w.expect("swmr")
    w.expect("ready")
    reader = spawn(
        [sys.executable, "-c", READER, str(w.path), "1.5", str(Path(__file__).parent)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    one = views(w.path, selected=[sw.VALUE, sw.COUNTER], interval=0.05)
    two = views(w.path, selected=[sw.VALUE, sw.FRAMES], interval=0.08)
    watch = LoopWatch(one, two)
    seen: dict[str, float] = {}

    async def main() -> None:
        watch.install()
        one.start()
        two.start()
        await watch.run_for(1.0)
        seen["one"] = line_xy(one)[0][-1]
        one.close()
        n = line_xy(two)[0][-1]
        await watch.until(lambda: line_xy(two)[0][-1] > n + 100, timeout=5)
        seen["alive"] = not two._ticker._task.done()
        two.stop()

    try:
        asyncio.run(main())
        out, err = reader.communicate(timeout=60)
    finally:
        kill(reader)
    totals = w.finish()
    assert seen["alive"]
    assert watch.loop_errors == []
    assert one.is_swmr and two.is_swmr  # the second open shares the first one's SWMR file
    assert all(no_error(s) for s in watch.statuses), watch.statuses
    assert seen["one"] > 500
    # the reader process delivered every row it saw, in order, with the right values
    assert len(out.split()) == 3, f"reader printed {out!r}; stderr: {err}"
    is_swmr, ok, total = out.split()
    assert (is_swmr, ok) == ("True", "True"), err
    assert 500 < int(total) <= totals["rows"]
    # after the writer stopped, the surviving view catches up with every row
    two.refresh()
    x, y = line_xy(two)
    assert x[-1] == totals["rows"] - 1
    np.testing.assert_array_equal(y, sw.value(x.astype(np.int64)))
    np.testing.assert_array_equal(
        image_of(two, 1), sw.frame(totals["frames"] - 1, 64).astype(np.float32)
    )


def test_second_open_in_one_process_reports_swmr(stream_factory):
    """HDF5 shares a file already open in this process: the SWMR mode must be reported."""
    w = stream_factory("twice.h5", "--rows-per-s", "500")
    w.expect("created")
    w.expect("swmr")
    w.expect("ready")
    first, s1 = open_h5_file_for_reading(w.path)
    second, s2 = open_h5_file_for_reading(w.path)
    try:
        ds = second[sw.VALUE]
        n = ds.shape[0]
        time.sleep(0.2)
        refresh_cached({sw.VALUE: ds})
        grown = ds.shape[0]
    finally:
        second.close()
        first.close()
    assert (s1, s2) == (True, True)
    assert grown > n


def test_view_left_by_a_rerun_cell_does_not_break_the_new_one(stream_factory, views):
    """Re-running a notebook cell leaves the old view (stopped, not closed) holding the file.

    HDF5 cannot refresh a dataset that is open twice in one process: reads across several
    chunks of a 3-D stack then fail with "can't insert duplicate key". Views of one file
    therefore share its handles; here every read of the new view spans several frames.
    """
    w = stream_factory("rerun.h5", "--rows-per-s", "500", "--frame-hz", "40", "--frame-size", "32")
    w.expect("created")
    w.expect("swmr")
    w.expect("ready")
    old = views(w.path, selected=[sw.VALUE, sw.FRAMES])
    old.refresh()
    new = views(w.path, selected=[sw.FRAMES], interval=0.25)  # ~10 frames (chunks) per read
    watch = LoopWatch(new)

    async def main() -> bool:
        watch.install()
        new.start()
        await watch.run_for(1.5)
        alive = watch.alive()
        new.stop()
        return alive

    assert asyncio.run(main())
    assert watch.loop_errors == []
    assert no_error(watch.statuses[0]), watch.statuses[0]
    assert new.live._dataset(sw.FRAMES) is old.live._dataset(sw.FRAMES)  # one handle per dataset
    totals = w.finish()
    new.refresh()
    old.refresh()
    last = sw.frame(totals["frames"] - 1, 32).astype(np.float32)
    np.testing.assert_array_equal(image_of(new, 0), last)
    np.testing.assert_array_equal(image_of(old, 1), last)
    assert "error" not in new.status + old.status
