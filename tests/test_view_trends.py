"""Derived trends and ROIs on SwmrView, with its asyncio loop and a camera in another process."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
import stream_writer as stw
import swmr_writer as sw

pytest.importorskip("bqplot")

from swmr_widgets.trendpanel import TrendPanel


async def until(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"not reached in {timeout} s: {what}")
        await asyncio.sleep(0.02)


def test_roi_and_trend_on_a_running_view(stream_factory, views):
    size = 24
    w = stream_factory("cam.h5", "--frame-hz", "25", "--frame-size", str(size), "--step", "0.01")
    w.expect("created")
    w.expect("swmr")
    w.expect("ready")
    view = views(w.path, selected=[stw.FRAMES], interval=0.1)
    roi = view.add_roi(stw.FRAMES, x=(4, 10), y=(0, 5))
    wide = view.add_roi(stw.FRAMES, x=(0, 23), y=(20, 23), reduce="mean")
    seen = []

    def brittle(frame: np.ndarray) -> float:
        seen.append(1)
        if len(seen) % 7 == 3:
            raise RuntimeError("fit did not converge")
        return float(frame[0, 0])

    fit = view.add_trend("corner", brittle, stw.FRAMES)
    errors: list[dict] = []
    statuses: set[str] = set()

    async def main() -> tuple[bool, int]:
        asyncio.get_running_loop().set_exception_handler(lambda _l, c: errors.append(c))
        view.start()
        await until(lambda: len(roi.trend()[1]) >= 10, 30, "10 ROI values")
        roi.move(x=(0, 0), y=(0, 0))
        moved_at = len(roi.trend()[1])
        await until(lambda: len(roi.trend()[1]) >= moved_at + 5, 30, "5 more after the move")
        for _ in range(100):
            statuses.add(view.status)
            if any("fit did not converge" in s for s in statuses):
                break
            await asyncio.sleep(0.02)
        totals = await asyncio.to_thread(w.finish)
        n = totals["frames"]
        await until(lambda: len(fit.trend()[1]) == n == len(roi.trend()[1]), 30, "all frames")
        alive = view._ticker._task is not None and not view._ticker._task.done()
        view.stop()
        return alive, n, moved_at

    alive, n, moved_at = asyncio.run(main())
    assert alive and errors == []
    assert any("fit did not converge" in s for s in statuses)
    frames = [stw.frame(k, size).astype(np.int64) for k in range(n)]
    x, sums = roi.trend()
    np.testing.assert_array_equal(x, np.arange(n))
    # the move happened between two ticks: before it the first region, after it the pixel
    first = np.array([f[0:6, 4:11].sum() for f in frames], dtype=np.float64)
    pixel = np.array([f[0, 0] for f in frames], dtype=np.float64)
    switch = int(np.flatnonzero(sums != first)[0])
    assert switch <= moved_at
    np.testing.assert_array_equal(sums[:switch], first[:switch])
    np.testing.assert_array_equal(sums[switch:], pixel[switch:])
    np.testing.assert_array_equal(wide.trend()[1], [f[20:24, :].mean() for f in frames])
    _, corner = fit.trend()
    failed = np.isnan(corner)
    assert failed.sum() == sum(1 for k in range(1, n + 1) if k % 7 == 3)
    np.testing.assert_array_equal(corner[~failed], pixel[~failed])
    # one figure per scale: ROIs of one dataset and reduction together, others alone
    roi2 = view.add_roi(stw.FRAMES, x=(0, 1), y=(0, 1))
    panels = view._trends.panels
    assert all(isinstance(p, TrendPanel) and p.widget in view._panel_box.children for p in panels)
    labels = [[line.labels[0] for line in p.plot.lines] for p in panels]
    assert labels == [["ROI 1 sum", "ROI 3 sum"], ["ROI 2 mean"], ["corner"]]
    lines = panels[0].plot.lines
    assert all(line.display_legend for line in lines)
    assert len({line.colors[0] for line in lines}) == 2
    np.testing.assert_array_equal(np.asarray(lines[0].y, dtype=np.float64), sums)
    # removing takes the line away; the others go on
    wide.remove()
    roi2.remove()
    labels = [[line.labels[0] for line in p.plot.lines] for p in view._trends.panels]
    assert labels == [["ROI 1 sum"], ["corner"]]
    assert wide not in view.trends


def test_trend_of_spectra_and_selection_change(writer, views):
    view = views(writer.path, selected=[sw.TRACE])
    total = view.add_trend("total", lambda t: t.sum(), sw.TRACE)
    writer.append(4)
    view.refresh()
    view.selected = (sw.TREND,)  # the trend is not tied to what is selected
    writer.append(3)
    view.refresh()
    np.testing.assert_array_equal(total.trend()[1], sw.trace_rows(0, 7).sum(axis=1))
    with pytest.raises(TypeError, match="not an ROI"):
        total.move(x=(0, 1))
    with pytest.raises(KeyError):
        view.add_trend("bad", float, "/nope")
    assert len(view.trends) == 1
