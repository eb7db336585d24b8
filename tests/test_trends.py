"""Derived trends and ROIs on the live engine, with real writers in other processes."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import scan_writer as scw
import stream_writer as stw
import swmr_writer as sw
from waits import wait_for

from swmr_widgets.live import LiveFile, RoiFeed, TrendRows


def poll_until(live: LiveFile, predicate, timeout: float = 30.0, what: str = "") -> None:
    def step() -> bool:
        live.poll()
        return predicate()

    wait_for(step, timeout, what or "the trend to catch up")


def test_trend_sees_every_frame_of_a_fast_camera(stream_factory):
    """Several frames arrive per poll: fn is called on each, in order, exactly."""
    size = 16
    w = stream_factory("cam.h5", "--frame-hz", "40", "--frame-size", str(size), "--step", "0.005")
    w.expect("created")
    w.expect("swmr")
    w.expect("ready")
    calls: list[int] = []

    def peak(frame: np.ndarray) -> float:
        calls.append(1)
        return float(np.argmax(frame)) + float(frame.max())

    with LiveFile(w.path) as live:
        trend = live.add_trend("peak", peak, stw.FRAMES)
        roi = live.add_roi(stw.FRAMES, x=(2, 5), y=(3, 9), reduce="sum")
        batch = []
        deadline = time.monotonic() + 30
        while len(trend.values) < 12 and time.monotonic() < deadline:
            poll = live.poll()
            if trend in poll.updates:
                update = poll.updates[trend]
                assert isinstance(update, TrendRows)
                assert update.name == "peak"
                batch.append(len(update.values))
            time.sleep(0.2)  # 8 frames per poll
        totals = w.finish()
        n = totals["frames"]
        poll_until(live, lambda: len(trend.values) == n and len(roi.values) == n)
        assert max(batch) > 1, "every poll brought one frame: the test proves nothing"
        frames = [stw.frame(k, size) for k in range(n)]
        x, y = trend.trend()
        np.testing.assert_array_equal(x, np.arange(n))
        np.testing.assert_array_equal(y, [float(np.argmax(f)) + float(f.max()) for f in frames])
        assert len(calls) == n  # once per frame, never twice
        _, sums = roi.trend()
        expected = [int(f[3:10, 2:6].astype(np.int64).sum()) for f in frames]
        np.testing.assert_array_equal(sums, np.array(expected, dtype=np.float64))
        assert live.health.errors == ()


def test_roi_on_scan_frames_uses_axis_units_and_follows_a_move(tmp_path):
    """Scan frames (no signal axes: pixel indices), a moved ROI, a mean, and the map ROI."""
    w = scw.ScanWriter(tmp_path / "scan.h5")
    try:
        with LiveFile(w.path) as live:
            roi = live.add_roi(scw.SCAN2D, x=(1, 3), y=(0, 2))
            mean = live.add_roi(scw.SCAN2D, x=(7, 7), y=(5, 5), reduce="mean", name="corner")
            # the map: nav axes run 0..1 mm over 5 rows and 4 columns
            on_map = live.add_roi(scw.SCAN0D, x=(0.3, 1.0), y=(0.0, 0.5))
            assert isinstance(roi, RoiFeed) and mean.name == "corner"
            w.fill(3)
            live.poll()
            roi.move(x=(0, 0))
            w.fill(4)
            live.poll()
            w.fill(2)
            live.poll()
            frames = [scw.frame(p) for p in range(9)]
            want = [f[0:3, 1:4].sum() for f in frames[:3]] + [f[0:3, 0:1].sum() for f in frames[3:]]
            np.testing.assert_array_equal(roi.trend()[1], want)
            np.testing.assert_array_equal(mean.trend()[1], [f[5, 7] for f in frames])
            # map ROI: rows at y 0, .25, .5 and columns at x 1/3, 2/3, 1 of the filled part
            grid = np.full(scw.NAV, np.nan)
            sums = []
            for filled in (3, 7, 9):
                grid.reshape(-1)[:filled] = scw.point_value(np.arange(filled))
                sums.append(np.nansum(grid[0:3, 1:4]))
            x, y = on_map.trend()
            np.testing.assert_array_equal(x, [3, 7, 9])
            np.testing.assert_array_equal(y, sums)
            on_map.remove()
            assert on_map not in live.feeds
    finally:
        w.stop()


def test_raising_fn_is_reported_and_the_trend_goes_on(writer_factory):
    w = writer_factory("s.h5")
    with LiveFile(w.path) as live:

        def fussy(trace: np.ndarray) -> float:
            if trace[0] == sw.value(2):
                raise ValueError("no peak here")
            return float(trace.sum())

        trend = live.add_trend("total", fussy, sw.TRACE)
        w.append(2)
        live.poll()
        w.append(1)
        live.poll()
        assert "no peak here" in live.health.errors[0]
        assert trend.message and "total" in trend.message
        w.append(3)
        live.poll()
        assert live.health.errors == ()
        _, y = trend.trend()
        rows = sw.trace_rows(0, 6).sum(axis=1)
        assert math.isnan(y[2])
        np.testing.assert_array_equal(np.delete(y, 2), np.delete(rows, 2))


def test_trend_refuses_what_it_cannot_follow(writer_factory):
    w = writer_factory("r.h5")
    with LiveFile(w.path) as live:
        with pytest.raises(KeyError, match="not a dataset"):
            live.add_trend("x", float, "/nope")
        with pytest.raises(TypeError, match="ROI needs"):
            live.add_roi(sw.TREND, x=(0, 1))
        with pytest.raises(ValueError, match="reduce"):
            live.add_roi(sw.TRACE, x=(0, 1), reduce="max")


def test_trend_catches_up_with_a_long_series_in_bounded_polls(writer_factory):
    from swmr_widgets.live.trends import CATCH_UP_CALLS

    w = writer_factory("long.h5")
    n = w.append(25_000)
    with LiveFile(w.path) as live:
        doubled = live.add_trend("doubled", lambda v: 2 * v, sw.TREND)
        first = live.poll().updates[doubled]
        assert len(first.values) == CATCH_UP_CALLS and live.health.catching_up
        poll_until(live, lambda: len(doubled.values) == n)
        x, y = doubled.trend()
        np.testing.assert_array_equal(x, np.arange(n))
        np.testing.assert_array_equal(y, 2 * sw.value(np.arange(n)))


def test_roi_in_axis_units_of_a_nexus_frame(tmp_path):
    """Bounds in µm on NeXus axes: a descending axis and a shuffled one select the same pixels."""
    import h5py

    path = tmp_path / "nexus.h5"
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 60000, (5, 6, 7)).astype(np.uint16)
    with h5py.File(path, "w", libver="latest") as f:
        g = f.create_group("entry/data")
        g.attrs.update(NX_class="NXdata", signal="frames", axes=[".", "y", "x"])
        g.create_dataset("frames", data=frames, maxshape=(None, 6, 7), chunks=(1, 6, 7))
        g.create_dataset("y", data=np.array([0.0, 2, 1, 5, 4, 3]) * 10).attrs["units"] = "um"
        g.create_dataset("x", data=np.arange(7.0)[::-1] * 5.5).attrs["units"] = "um"
    with LiveFile(path) as live:
        roi = live.add_roi("/entry/data/frames", x=(10, 25), y=(15, 40))
        mean = live.add_roi("/entry/data/frames", x=(0, 5.5), y=(0, 0), reduce="mean")
        live.poll()
        # x = 33, 27.5, 22, 16.5, 11, 5.5, 0: 10..25 are columns 2..4; y 15..40: rows 1, 4, 5
        want = [int(fr[np.ix_([1, 4, 5], [2, 3, 4])].astype(np.int64).sum()) for fr in frames]
        np.testing.assert_array_equal(roi.trend()[1], want)
        np.testing.assert_array_equal(mean.trend()[1], [fr[0, 5:7].mean() for fr in frames])
