"""Files written by PyMoDAQ's own savers (pymodaq-data) in another process, followed live.

The writer (``tests/pymodaq_writer.py``) uses ``H5SaverLowLevel.init_file(...,
swmr_mode=True)`` with ``DataToExportExtendedSaver`` (scans: arrays
pre-allocated to the full navigation grid and filled in place) or
``DataToExportEnlargeableSaver`` (loggers: arrays growing by one row per
point). Its values are random; it dumps what it wrote to a side file, which is
what the reader's values are checked against.

The engine's updates and the drawn marks must both equal the written float64
values exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from marks import assert_image
from pymodaq_writer import (
    AXIS1D,
    DATA0D,
    DATA1D,
    DATA2D,
    ENL0D,
    ENL0D_OTHER,
    ENL1D,
    ENL2D,
    NAV1D,
    NAV2D,
    NAV_AXIS,
    PymodaqWriter,
)
from waits import wait_for
from writers import stopped_at_exit

pytest.importorskip("pymodaq_data")

from swmr_widgets import open_h5_file_for_reading
from swmr_widgets.live import Latest, LiveFile, Rows, ScanMap, State

TIMEOUT = 30.0


@pytest.fixture
def pymodaq(tmp_path: Path) -> Iterator:
    """Start PyMoDAQ writers (``kind``: scan1d, scan2d, logger); all are stopped at teardown."""

    def make(kind: str, seed: int = 0) -> PymodaqWriter:
        return PymodaqWriter(tmp_path / f"{kind}.h5", kind, seed)

    with stopped_at_exit(make) as start:
        yield start


@pytest.fixture
def lives() -> Iterator:
    """Make :class:`LiveFile` objects, closed at teardown."""
    made: list[LiveFile] = []

    def make(*args, **kwargs) -> LiveFile:
        live = LiveFile(*args, **kwargs)
        made.append(live)
        return live

    yield make
    for live in made:
        live.close()


def poll_until(live: LiveFile, done, what: str) -> dict:
    """Poll `live` until ``done(updates by path)`` holds; return the updates seen last per path."""
    seen: dict = {}

    def check() -> bool:
        poll = live.poll()
        seen.update({u.path: u for u in poll.updates.values()})
        return done(seen)

    wait_for(check, TIMEOUT, what)
    return seen


def test_scan2d_waits_for_the_first_point_then_shows_every_point_exactly(pymodaq, lives):
    w = pymodaq("scan2d", seed=1)
    # PyMoDAQ holds the file without SWMR until its first point: the engine waits
    live = lives(w.path)
    assert not live.attached
    assert live.health.state is State.WAITING
    w.step(1)
    wait_for(lambda: live.poll() and live.attached, TIMEOUT, "attach after the first point")
    assert live.is_swmr
    base = w.base
    paths = {k: f"{base}/{p}" for k, p in (("d0", DATA0D), ("d1", DATA1D), ("d2", DATA2D))}
    assert set(paths.values()) <= set(live.paths)

    # labels and axes from the PyMoDAQ attributes
    meta0, meta1, meta2 = (live.meta(paths[k]) for k in ("d0", "d1", "d2"))
    assert (meta0.label, meta1.label, meta2.label) == ("counter", "spectrum", "frame")
    assert all(m.prefilled and m.nav_ndim == 2 for m in (meta0, meta1, meta2))
    assert (meta0.signal_ndim, meta1.signal_ndim, meta2.signal_ndim) == (0, 1, 2)
    truth = w.written()
    assert [a.title for a in meta1.nav_axes] == ["y (mm)", "x (um)"]
    np.testing.assert_array_equal(meta1.nav_axes[0].values, truth["nav0"])
    np.testing.assert_array_equal(meta1.nav_axes[1].values, truth["nav1"])
    assert meta1.axes[0].title == "wavelength (nm)"
    assert meta1.axes[0].path == f"{base}/{AXIS1D}"
    np.testing.assert_array_equal(meta1.axes[0].coordinates(16), truth["wavelength"])

    feeds = {k: live.follow(p) for k, p in paths.items()}
    assert {k: f.kind for k, f in feeds.items()} == {"d0": "map", "d1": "trace", "d2": "frame"}
    total = int(np.prod(NAV2D))
    n = 1
    for k in (0, 2, 4, 6):
        n = w.step(k) if k else n
        truth = w.written()
        index = tuple(int(i) for i in np.unravel_index(n - 1, NAV2D))
        seen = poll_until(
            live,
            lambda s, index=index: (
                all(
                    isinstance(s.get(p), Latest) and s[p].index == index
                    for p in (paths["d1"], paths["d2"])
                )
                and isinstance(s.get(paths["d0"]), ScanMap)
            ),
            f"point {index}",
        )
        trace, frame, scan = seen[paths["d1"]], seen[paths["d2"]], seen[paths["d0"]]
        assert trace.values.dtype == np.float64
        np.testing.assert_array_equal(trace.values, truth["d1"][index])
        np.testing.assert_array_equal(frame.values, truth["d2"][index])
        np.testing.assert_array_equal(scan.values, truth["d0"])  # NaN where not filled yet
        assert live.health.progress == (n, total)
        assert live.health.state is State.LIVE
        assert f"scan {n}/{total}" in live.health.describe()

    n = w.step(total)
    assert n == total
    seen = poll_until(live, lambda s: live.health.progress == (total, total), "the end of the scan")
    np.testing.assert_array_equal(seen[paths["d0"]].values, w.written()["d0"])
    assert live.health.state is State.FINISHED
    assert "scan complete" in live.health.describe()


def test_partly_filled_2d_scan_is_reported_stalled(pymodaq, lives):
    w = pymodaq("scan2d", seed=2)
    n = w.step(7)  # the second row of 4 is partly filled
    live = lives(w.path, stall_after=0.5)
    feed = live.follow(f"{w.base}/{DATA1D}")
    poll_until(live, lambda s: feed.path in s, "the first trace")
    assert live.health.progress == (n, 20)
    wait_for(lambda: live.poll().health.state is State.STALLED, TIMEOUT, "a stalled state")
    text = live.health.describe()
    assert "no change for" in text and "stalled" in text
    assert "scan 7/20" in text
    # the writer resumes: live again, one point more
    w.step(1)
    wait_for(lambda: live.poll().health.state is State.LIVE, TIMEOUT, "live again")
    assert live.health.progress == (8, 20)


def test_scan1d_series_trace_and_frame_on_one_navigation_axis(pymodaq, lives):
    w = pymodaq("scan1d", seed=3)
    n = w.step(2)
    live = lives(w.path)
    base = w.base
    kinds = (("d0", DATA0D), ("d1", DATA1D), ("d2", DATA2D))
    feeds = {k: live.follow(f"{base}/{p}") for k, p in kinds}
    assert {k: f.kind for k, f in feeds.items()} == {"d0": "series", "d1": "trace", "d2": "frame"}
    meta = live.meta(feeds["d0"].path)
    assert (meta.nav_ndim, meta.signal_ndim, meta.prefilled) == (1, 0, True)
    assert meta.nav_axes[0].title == "y (mm)"
    for k in (0, 1, 2):
        n = w.step(k) if k else n
        truth = w.written()
        seen = poll_until(
            live,
            lambda s, n=n: (
                isinstance(s.get(feeds["d1"].path), Latest)
                and s[feeds["d1"].path].index == (n - 1,)
            ),
            f"point {n - 1}",
        )
        np.testing.assert_array_equal(seen[feeds["d1"].path].values, truth["d1"][n - 1])
        np.testing.assert_array_equal(seen[feeds["d2"].path].values, truth["d2"][n - 1])
        hist = feeds["d0"].history  # every filled point, at its scan position
        np.testing.assert_array_equal(hist.indices, np.arange(n))
        np.testing.assert_array_equal(hist.values.reshape(-1), truth["d0"][:n])
        x, known = feeds["d0"].axis.at(hist.indices)
        assert known.all()
        np.testing.assert_array_equal(x, truth["nav0"][:n])
        assert live.health.progress == (n, NAV1D[0])


def test_logger_rows_and_time_axis_exact(pymodaq, lives):
    w = pymodaq("logger", seed=4)
    w.step(3)
    live = lives(w.path)
    base = w.base
    paths = {
        "counter": f"{base}/{ENL0D}",
        "other": f"{base}/{ENL0D_OTHER}",
        "d1": f"{base}/{ENL1D}",
        "d2": f"{base}/{ENL2D}",
    }
    assert live.default_selection() == (paths["counter"],)
    metas = {k: live.meta(p) for k, p in paths.items()}
    assert [metas[k].label for k in ("counter", "other")] == ["counter", "other"]
    assert all(m.growing and not m.prefilled and m.nav_ndim == 1 for m in metas.values())
    assert metas["counter"].nav_axes[0].title == "time (s)"
    assert metas["counter"].nav_axes[0].path == f"{base}/{NAV_AXIS}"
    assert metas["d1"].axes[0].title == "wavelength (nm)"
    feeds = {k: live.follow(p) for k, p in paths.items()}
    values: dict[str, list] = {"counter": [], "other": []}
    indices: dict[str, list] = {"counter": [], "other": []}
    n = 3
    for k in (0, 1, 5, 20):
        n = w.step(k) if k else n
        truth = w.written()

        def done(s, n=n):
            return all(
                isinstance(s.get(paths[c]), Rows)
                and len(s[paths[c]].indices)
                and s[paths[c]].indices[-1] == n - 1
                for c in ("counter", "other")
            ) and all(
                isinstance(s.get(paths[d]), Latest) and s[paths[d]].index == (n - 1,)
                for d in ("d1", "d2")
            )

        seen: dict = {}

        def check(done=done, seen=seen) -> bool:
            for u in live.poll().updates.values():
                seen[u.path] = u
                if isinstance(u, Rows) and u.path in (paths["counter"], paths["other"]):
                    name = "counter" if u.path == paths["counter"] else "other"
                    indices[name].append(u.indices)
                    values[name].append(u.values)
            return done(seen)

        wait_for(check, TIMEOUT, f"row {n - 1}")
        for c in ("counter", "other"):
            # every row delivered once, in order, exactly as written
            np.testing.assert_array_equal(np.concatenate(indices[c]), np.arange(n))
            np.testing.assert_array_equal(np.concatenate(values[c]), truth[c])
        np.testing.assert_array_equal(seen[paths["d1"]].values, truth["d1"][-1])
        np.testing.assert_array_equal(seen[paths["d2"]].values, truth["d2"][-1])
        t, known = feeds["counter"].axis.at(np.arange(n))
        assert known.all()
        np.testing.assert_array_equal(t, truth["time"])  # epoch seconds, float64
        assert live.health.progress is None
        assert live.health.state is State.LIVE


def test_writer_can_end_swmr_with_finalize_while_followed(pymodaq, lives):
    """``locking=False``: pymodaq-data's reopen in "a" mode succeeds while followed."""
    w = pymodaq("scan2d", seed=11)
    w.step(20)
    live = lives(w.path, locking=False)
    feed = live.follow(f"{w.base}/{DATA1D}")
    poll_until(live, lambda s: feed.path in s, "the last trace")
    assert live.health.state is State.FINISHED
    # pymodaq-data ends SWMR by closing, reopening the file in "a" mode and fixing attributes
    w.close("finalize")
    poll = live.poll()
    assert not poll.health.errors
    np.testing.assert_array_equal(feed.follower.latest, w.written()["d1"][-1, -1])


def test_a_reader_without_a_lock_lets_the_writer_finalize(pymodaq):
    """``locking=False`` is the way to keep reading while the writer ends SWMR in place."""
    w = pymodaq("scan2d", seed=12)
    w.step(20)
    f, is_swmr = open_h5_file_for_reading(w.path, locking=False)
    try:
        assert is_swmr
        # a second open in this process, with the default locking, shares that handle
        g, _ = open_h5_file_for_reading(w.path)
        assert g.id == f.id
        w.close("finalize")  # raises if the writer could not reopen the file
        ds = f[f"{w.base}/{DATA1D}"]
        ds.refresh()
        np.testing.assert_array_equal(ds[-1, -1], w.written()["d1"][-1, -1])
    finally:
        f.close()


# --------------------------------------------------------------------------- the widget


def _panel(view, cls, path: str):
    return next(p for p in view.panels if isinstance(p, cls) and path in p.paths)


def test_view_draws_the_latest_scan_point_with_pymodaq_axes(pymodaq, views):
    pytest.importorskip("bqplot")
    from swmr_widgets.panels import ImagePanel, TracePanel

    w = pymodaq("scan2d", seed=5)
    n = w.step(3)
    base = w.base
    paths = [f"{base}/{p}" for p in (DATA0D, DATA1D, DATA2D)]
    view = views(w.path, selected=paths, stall_after=0.5)
    trace = _panel(view, TracePanel, paths[1])
    frame = _panel(view, ImagePanel, paths[2])
    scan = _panel(view, ImagePanel, paths[0])
    # labels and units from the PyMoDAQ attributes
    assert trace.plot.x_axis.label == "wavelength (nm)"
    assert trace.plot.y_axis.label == "spectrum"
    assert (scan.plot.x_axis.label, scan.plot.y_axis.label) == ("x (um)", "y (mm)")
    for k in (0, 4, 5):
        n = w.step(k) if k else n
        wait_for(lambda n=n: view.refresh() or f"scan {n}/20" in view.status, TIMEOUT, f"{n}/20")
        truth = w.written()
        index = np.unravel_index(n - 1, NAV2D)
        line = trace.plot.lines[0]
        # the 1-D detector's own axis, in nm, exactly
        np.testing.assert_array_equal(np.asarray(line.x), truth["wavelength"])
        np.testing.assert_array_equal(np.asarray(line.y), truth["d1"][index])
        assert_image(frame.plot, truth["d2"][index])
        # the map of the 0-D detector on the navigation axes, NaN where not filled yet
        assert_image(scan.plot, truth["d0"], truth["nav1"], truth["nav0"])
        assert "error" not in view.status
    # the writer stops halfway: the status says so
    wait_for(lambda: view.refresh() or view.live.health.state is State.STALLED, TIMEOUT, "stalled")
    assert "stalled" in view.status and f"scan {n}/20" in view.status


def test_view_without_lock_stays_right_through_finalize(pymodaq, views):
    """``SwmrView(path, locking=False)``: the scan's end, with its reopen, leaves the view right."""
    pytest.importorskip("bqplot")
    from swmr_widgets.panels import TracePanel

    w = pymodaq("scan2d", seed=13)
    n = w.step(20)
    path = f"{w.base}/{DATA1D}"
    view = views(w.path, selected=[path], locking=False)
    trace = _panel(view, TracePanel, path)
    wait_for(lambda: view.refresh() or f"scan {n}/20" in view.status, TIMEOUT, f"{n}/20")
    w.close("finalize")  # raises if the writer could not reopen the file
    for _ in range(3):
        view.refresh()
    assert "error" not in view.status, view.status
    np.testing.assert_array_equal(np.asarray(trace.plot.lines[0].y), w.written()["d1"][-1, -1])


def test_view_of_a_pymodaq_logger_overlays_channels_on_elapsed_time(pymodaq, views):
    pytest.importorskip("bqplot")
    from swmr_widgets.panels import SeriesPanel, TracePanel

    w = pymodaq("logger", seed=6)
    w.step(2)
    base = w.base
    channels = [f"{base}/{ENL0D}", f"{base}/{ENL0D_OTHER}"]
    view = views(w.path, selected=[*channels, f"{base}/{ENL1D}"])
    series = _panel(view, SeriesPanel, channels[0])
    assert series.paths == tuple(channels)
    trace = _panel(view, TracePanel, f"{base}/{ENL1D}")
    for k in (3, 10):
        n = w.step(k)
        wait_for(
            lambda n=n: view.refresh() or len(series.plot.lines[0].y) == n, TIMEOUT, f"{n} rows"
        )
        truth = w.written()
        t0 = np.floor(truth["time"][0])
        for line, name in zip(series.plot.lines, ("counter", "other"), strict=True):
            # epoch seconds drawn as seconds since the first one, exactly in float64
            np.testing.assert_array_equal(np.asarray(line.x), truth["time"] - t0)
            np.testing.assert_array_equal(np.asarray(line.y), truth[name])
        assert series.plot.x_axis.label.startswith("time (s since ")
        np.testing.assert_array_equal(np.asarray(trace.plot.lines[0].x), truth["wavelength"])
        np.testing.assert_array_equal(np.asarray(trace.plot.lines[0].y), truth["d1"][-1])
    assert view.live.health.state is State.LIVE
    assert "error" not in view.status


def test_view_waits_for_the_first_point_then_draws_a_1d_scan_on_its_axis(pymodaq, views):
    pytest.importorskip("bqplot")
    from swmr_widgets.panels import SeriesPanel

    w = pymodaq("scan1d", seed=12)
    view = views(w.path)  # the writer holds the file without SWMR until the first point
    assert "switch SWMR mode on" in view.status
    assert view.panels == []
    n = w.step(1)
    wait_for(lambda: view.refresh() or view.panels, TIMEOUT, "the view to attach")
    path = f"{w.base}/{DATA0D}"
    view.selected = (path,)
    view.refresh()
    panel = view.panels[0]
    assert isinstance(panel, SeriesPanel)
    assert (panel.plot.x_axis.label, panel.plot.y_axis.label) == ("y (mm)", "counter")
    for k in (0, 2, 2):
        n = w.step(k) if k else n
        wait_for(lambda n=n: view.refresh() or f"scan {n}/5" in view.status, TIMEOUT, f"{n}/5")
        truth = w.written()
        line = panel.plot.lines[0]
        # filled points only, at their navigation axis values
        np.testing.assert_array_equal(np.asarray(line.x), truth["nav0"][:n])
        np.testing.assert_array_equal(np.asarray(line.y), truth["d0"][:n])
    assert view.live.health.state is State.FINISHED
    assert "scan complete" in view.status
