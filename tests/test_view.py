"""SwmrView on the real widget objects, with a live writer in another process."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import h5py
import numpy as np
import pytest
import swmr_writer
import traitlets

pytest.importorskip("bqplot")
pytest.importorskip("anywidget")

from swmr_widgets import SwmrView
from swmr_widgets.panels import DetailsPanel, ImagePanel, SeriesPanel, TracePanel


def pm(value) -> str:
    """A PyMoDAQ-style JSON attribute."""
    return json.dumps({"module": "builtins", "type": type(value).__name__, "data": repr(value)})


def line_xy(view: SwmrView, i: int = 0) -> tuple[np.ndarray, np.ndarray]:
    mark = view.figures[0].marks[i]
    return np.asarray(mark.x), np.asarray(mark.y)


def test_trend_shows_exact_values(writer, views, values):
    view = views(writer.path, selected=[swmr_writer.TREND])
    assert view.selected == (swmr_writer.TREND,)
    assert view.is_swmr
    assert swmr_writer.TREND in view.paths
    assert isinstance(view.panels[0], SeriesPanel)
    for k in (3, 10, 250):
        n = writer.append(k)
        view.refresh()
        x, y = line_xy(view)
        np.testing.assert_array_equal(x, np.arange(n))
        np.testing.assert_array_equal(y, values(np.arange(n)).astype(np.float32))
        assert y.dtype == np.float32
    assert "error" not in view.status
    assert view.figures[0].axes[1].label.endswith("(V)")


@pytest.mark.parametrize("path", sorted(swmr_writer.PRECISE))
def test_values_float32_cannot_hold_are_drawn_exactly(writer, views, path):
    """A counter at 2**24 + i, 1e12 + i, epoch seconds, int64 near 2**40: drawn as stored."""
    view = views(writer.path, selected=[path])
    expected = swmr_writer.PRECISE[path][1]
    for k in (5, 40, 3000):
        n = int(writer.send(f"precise {k}").split()[1])
        view.refresh()
        x, y = line_xy(view)
        assert x[-1] == n - 1
        assert y.dtype == np.float64
        np.testing.assert_array_equal(y, expected(x.astype(np.int64)).astype(np.float64))
        # neighbouring rows stay distinct: no steps, no flat line
        assert len(np.unique(y)) == len(y)
    assert "error" not in view.status


def test_long_dataset_is_decimated_keeping_extremes(writer, views):
    for seed in range(5):
        writer.send(f"noise 200000 {seed}")
    view = views(writer.path, selected=[swmr_writer.NOISE])
    view.refresh()
    with h5py.File(writer.path, "r", swmr=True) as f:
        truth = f[swmr_writer.NOISE][:]
    assert len(truth) == 1_000_000
    x, y = line_xy(view)
    assert len(x) == len(y) <= 10_000
    assert y.max() == np.float32(truth.max())
    assert y.min() == np.float32(truth.min())
    assert x[np.argmax(y)] == np.argmax(truth)
    # new rows keep arriving, still decimated and still exact at the extremes
    writer.send("noise 1000 99")
    view.refresh()
    x, y = line_xy(view)
    assert len(y) <= 10_000
    assert x[-1] == 1_000_999


def test_overlay_of_several_channels(writer, views, values):
    writer.append(20)
    writer.send("noise 30 1")
    view = views(writer.path, selected=[swmr_writer.TREND, swmr_writer.NOISE])
    assert len(view.figures) == 1
    marks = view.figures[0].marks
    assert len(marks) == 2
    assert all(m.display_legend for m in marks)
    assert len(marks[0].y) == 20
    assert len(marks[1].y) == 30


def test_loop_updates_marks_without_refresh_calls(writer, views, values):
    view = views(writer.path, selected=[swmr_writer.TREND], interval=0.05)

    def write() -> None:
        for _ in range(10):
            writer.append(5)
            time.sleep(0.05)

    async def main() -> tuple[int, bool]:
        view.start()
        assert view.running
        thread = threading.Thread(target=write)
        thread.start()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(thread.join, 10)
        await asyncio.sleep(0.3)
        seen = len(view.figures[0].marks[0].y)
        task = view._ticker._task
        view.stop()
        await asyncio.sleep(0.05)
        return seen, task.cancelled() or task.done()

    seen, stopped = asyncio.run(main())
    assert seen == 50
    assert stopped
    assert not view.running
    np.testing.assert_array_equal(line_xy(view)[1], values(np.arange(50)).astype(np.float32))
    # after stop nothing changes any more
    writer.append(5)
    time.sleep(0.2)
    assert len(view.figures[0].marks[0].y) == 50


def test_close_cancels_task_and_closes_owned_file(writer, views):
    view = views(writer.path)

    async def main() -> asyncio.Task:
        view.start()
        await asyncio.sleep(0.1)
        task = view._ticker._task
        file = view.live.file
        view.close()
        await asyncio.sleep(0.05)
        assert not file.id.valid
        return task

    task = asyncio.run(main())
    assert task.cancelled()
    assert not view.running


def test_error_in_tick_is_shown_and_loop_survives(writer, views):
    f = h5py.File(writer.path, "r", swmr=True)
    view = views(f, selected=[swmr_writer.TREND], interval=0.05)

    async def main() -> tuple[bool, str]:
        view.start()
        await asyncio.sleep(0.2)
        f.close()  # every dataset of the view vanishes
        await asyncio.sleep(0.3)
        alive = view._ticker._task is not None and not view._ticker._task.done()
        status = view.status
        view.stop()
        return alive, status

    alive, status = asyncio.run(main())
    assert alive
    assert "error" in status
    assert "closed" in status
    assert view.running is False


def test_start_twice_keeps_one_task(writer, views):
    view = views(writer.path)

    async def main() -> None:
        view.start()
        first = view._ticker._task
        view.start()
        assert view._ticker._task is first
        view.stop()

    asyncio.run(main())


def test_unknown_selection_is_refused(writer, views):
    view = views(writer.path)
    with pytest.raises(traitlets.TraitError, match="unknown dataset"):
        view.selected = ("/nope",)


def test_axis_labels_from_nexus_and_pymodaq(tmp_path, views):
    path = tmp_path / "labels.h5"
    with h5py.File(path, "w", libver="latest") as f:
        g = f.create_group("RawData/nexus")
        g.attrs.update(NX_class="NXdata", signal="data", axes=[".", "wavelength"])
        d = g.create_dataset("data", data=np.ones((3, 16)), maxshape=(None, 16))
        d.attrs.update(long_name="intensity", units="counts")
        w = g.create_dataset("wavelength", data=np.linspace(400, 700, 16))
        w.attrs.update(long_name="wavelength", units="nm")
        ch = f.create_group("RawData/Scan000/Detector000/Data1D/CH00")
        s = ch.create_dataset("Data00", data=np.full((5, 32), np.nan))
        s[:2] = 1.0
        s.attrs.update(label=pm("spectrum"), units=pm("a.u."), data_dimension=pm("1D"))
        ax = ch.create_dataset("Axis00", data=np.linspace(500, 600, 32))
        ax.attrs.update(label=pm("wavelength"), units=pm("nm"), index=pm(0))
    view = views(path, selected=["/RawData/nexus/data"])
    panel = view.panels[0]
    assert isinstance(panel, TracePanel)
    assert view.figures[0].axes[0].label == "wavelength (nm)"
    assert view.figures[0].axes[1].label == "intensity (counts)"
    np.testing.assert_allclose(view.figures[0].marks[0].x, np.linspace(400, 700, 16))
    view.selected = ("/RawData/Scan000/Detector000/Data1D/CH00/Data00",)
    assert view.figures[0].axes[0].label == "wavelength (nm)"
    assert view.figures[0].axes[1].label == "spectrum (a.u.)"
    assert view.panels[0].progress == (2, 5)
    assert "scan 2/5" in view.status


def test_other_kinds(tmp_path, views):
    path = tmp_path / "kinds.h5"
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset(
            "frames",
            data=np.arange(2 * 600 * 700).reshape(2, 600, 700) % 251,
            maxshape=(None, 600, 700),
            dtype="u2",
        )
        f["big_ints"] = np.array([2**40, 2**40 + 1, 3], dtype=np.int64)
        f["names"] = np.array([b"a", b"bc"])
        f["cube"] = np.arange(4 * 5 * 6 * 7 * 8, dtype="f4").reshape(4, 5, 6, 7, 8)
        f["scalar"] = 3.5
    view = views(path, selected=["/frames"])
    assert isinstance(view.panels[0], ImagePanel)
    color = np.asarray(view.figures[0].marks[0].image)
    assert color.shape[0] <= 512
    assert color.shape[1] <= 512
    assert color.dtype == np.float32
    view.selected = ("/big_ints",)
    y = view.figures[0].marks[0].y
    assert y.dtype == np.float64  # float32 would merge 2**40 and 2**40 + 1
    np.testing.assert_array_equal(y, [2**40, 2**40 + 1, 3])
    view.selected = ("/names",)
    assert isinstance(view.panels[0], DetailsPanel)
    assert "bc" in view.panels[0].html.value
    view.selected = ("/cube",)
    assert len(view.panels[0].sliders) == 3
    assert np.asarray(view.figures[0].marks[0].image).shape == (7, 8)
    view.selected = ("/scalar",)
    assert "3.5" in view.panels[0].html.value
    assert "error" not in view.status


def test_missing_file_raises_or_waits(tmp_path, writer_factory, views):
    with pytest.raises(FileNotFoundError):
        SwmrView(tmp_path / "later.h5", autostart=False)
    view = views(tmp_path / "later.h5", wait=True, selected=[swmr_writer.TREND])
    assert "waiting" in view.status
    assert view.paths == ()
    w = writer_factory("later.h5")
    w.append(4)
    view.refresh()
    assert view.selected == (swmr_writer.TREND,)
    assert len(view.figures[0].marks[0].y) == 4
    assert "waiting" not in view.status


def test_waits_for_writer_without_swmr(writer_factory, views):
    w = writer_factory("late.h5", "--no-swmr")
    view = views(w.path)
    assert "switch SWMR mode on" in view.status
    w.send("swmr")
    w.append(3)
    view.refresh()
    assert view.is_swmr
    assert view.selected == (swmr_writer.TREND,)


def test_rerunning_a_cell_leaves_one_loop(writer, views, monkeypatch):
    """A second view made by the same notebook cell stops the first one's loop."""
    import swmr_widgets.cells as view_module

    monkeypatch.setattr(view_module, "cell_id", lambda: "cell-1")

    async def main() -> tuple[bool, bool, bool]:
        first = views(writer.path, autostart=True)
        assert first.running
        second = views(writer.path, autostart=True)
        await asyncio.sleep(0.05)
        monkeypatch.setattr(view_module, "cell_id", lambda: "cell-2")
        other_cell = views(writer.path, autostart=True)
        await asyncio.sleep(0.05)
        states = first.running, second.running, other_cell.running
        second.stop()
        other_cell.stop()
        return states

    assert asyncio.run(main()) == (False, True, True)


def test_growing_axis_dataset_gives_x(tmp_path, views):
    """A PyMoDAQ logger channel is drawn against its growing time axis, not its index."""
    path = tmp_path / "logger.h5"
    with h5py.File(path, "w", libver="latest") as f:
        ch = f.create_group("RawData/Detector000/Data0D/CH00")
        d = ch.create_dataset("EnlData00", data=np.arange(6.0)[:, None], maxshape=(None, 1))
        d.attrs.update(label=pm("pressure"), units=pm("mbar"), data_dimension=pm("Data0D"))
        nav = f.create_group("RawData/Detector000/NavAxes")
        t = nav.create_dataset("Axis00", data=np.arange(6.0) * 0.25 + 100, maxshape=(None,))
        t.attrs.update(label=pm("time"), units=pm("s"), index=pm(0))
    view = views(path, selected=["/RawData/Detector000/Data0D/CH00/EnlData00"])
    x, y = line_xy(view)
    assert view.figures[0].axes[0].label == "time (s)"
    np.testing.assert_array_equal(x, np.arange(6.0) * 0.25 + 100)
    np.testing.assert_array_equal(y, np.arange(6.0, dtype=np.float32))


def test_each_new_frame_reaches_the_marks(tmp_path, views):
    """Frames small enough to be sent as they are still reach the frontend each time."""
    path = tmp_path / "frames.h5"
    f = h5py.File(path, "w", libver="latest")
    ds = f.create_dataset("cam", (1, 8, 8), maxshape=(None, 8, 8), dtype="f4", chunks=(1, 8, 8))
    trace = f.create_dataset("tr", (1, 8), maxshape=(None, 8), dtype="f4", chunks=(1, 8))
    view = views(f, selected=["/cam", "/tr"])
    sent: list[str] = []
    for mark in (view.figures[0].marks[0], view.figures[1].marks[0]):
        mark.comm.send = lambda *a, _m=mark, **k: sent.append(_m.model_id)
    for n in range(2, 6):
        ds.resize((n, 8, 8))
        ds[n - 1] = n
        trace.resize((n, 8))
        trace[n - 1] = n
        view.refresh()
        np.testing.assert_array_equal(view.figures[0].marks[0].image, np.full((8, 8), n, "f4"))
        np.testing.assert_array_equal(view.figures[1].marks[0].y, np.full(8, n, "f4"))
    assert len(sent) >= 8  # every frame and every trace went out
    f.close()


def test_rows_per_second_ignores_the_first_read(writer, views):
    """Loading a long history when a dataset is shown is not reported as a rate."""
    writer.append(100_000)
    view = views(writer.path, selected=[swmr_writer.TREND])
    assert " 0 rows/s" in view.status
    time.sleep(0.2)
    writer.append(20)
    view.refresh()
    rate = float(view.status.split(" rows/s")[0].rsplit("· ", 1)[1].replace(",", ""))
    assert 0 < rate < 1_000


def test_zoom_survives_refresh_and_reset_zoom_clears_it(writer, views):
    writer.append(10)
    view = views(writer.path, selected=[swmr_writer.TREND, swmr_writer.TRACE])
    scales = [s for f in view.figures for s in (f.marks[0].scales["x"], f.marks[0].scales["y"])]
    for scale in scales:
        scale.min, scale.max = 1.0, 2.0  # what PanZoom does when the user zooms
    writer.append(5)
    view.refresh()
    assert all((s.min, s.max) == (1.0, 2.0) for s in scales)
    reset = next(w for w in view.children[0].children if "swmr-reset-zoom" in w._dom_classes)
    reset.click()
    assert all(s.min is None and s.max is None for s in scales)


def _count_panels(monkeypatch) -> list[str]:
    """Record the class of every panel built."""
    import swmr_widgets.panels as panels

    built: list[str] = []
    original = panels.Panel.__init__

    def init(self, *args, **kwargs):
        built.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(panels.Panel, "__init__", init)
    return built


def test_building_a_view_builds_each_panel_once_in_one_tick(writer, views, monkeypatch):
    writer.append(5)
    built = _count_panels(monkeypatch)
    view = views(writer.path, selected=[swmr_writer.TREND, swmr_writer.TRACE])
    assert sorted(built) == ["SeriesPanel", "TracePanel"]
    assert view.ticks == 1
    assert len(view.figures[0].marks[0].y) == 5


def test_a_waiting_view_attaches_building_panels_once_with_a_sane_rate(
    tmp_path, writer_factory, views, monkeypatch
):
    built = _count_panels(monkeypatch)
    view = views(tmp_path / "late.h5", wait=True, selected=[swmr_writer.TREND], interval=0.1)
    assert "waiting for late.h5" in view.status and not built
    w = writer_factory("late.h5")
    w.append(500)
    end = time.monotonic() + 30
    while not view.panels and time.monotonic() < end:
        view.refresh()
        time.sleep(0.02)
    assert built == ["SeriesPanel"]
    assert view.selected == (swmr_writer.TREND,)
    assert len(line_xy(view)[1]) == 500
    assert " 0 rows/s" in view.status  # the rows found at attaching are no rate
    w.append(10)
    view.refresh()
    rate = float(view.status.split(" rows/s")[0].rsplit("· ", 1)[1].replace(",", ""))
    assert 0 < rate <= 50  # 10 rows over at least 0.2 s, never "1,000,000 rows/s"


def test_a_tick_never_runs_inside_a_tick(writer, views):
    writer.append(3)
    view = views(writer.path, selected=[swmr_writer.TREND])
    depth, seen = [0], []
    poll = view.live.poll

    def nested_poll():
        depth[0] += 1
        seen.append(depth[0])
        try:
            view.refresh()  # as a callback fired inside the tick would
            view.selected = (swmr_writer.TRACE,)  # taken into account by this very tick
            return poll()
        finally:
            depth[0] -= 1

    view.live.poll = nested_poll
    ticks = view.ticks
    view.refresh()
    assert max(seen) == 1
    assert view.ticks == ticks + 1
    assert [p.paths for p in view.panels] == [(swmr_writer.TRACE,)]
    assert isinstance(view.panels[0], TracePanel)
    assert "error" not in view.status, view.status


def test_slider_asks_the_engine_for_the_slice(tmp_path, views):
    path = tmp_path / "cube.h5"
    with h5py.File(path, "w") as f:
        f["cube"] = np.arange(3 * 4 * 5 * 6, dtype="f8").reshape(3, 4, 5, 6)
    view = views(path, selected=["/cube"])
    panel = view.panels[0]
    ticks = view.ticks
    panel.sliders[0].value = 2
    panel.sliders[1].value = 3
    assert view.ticks == ticks + 2  # each change is read by one tick
    with h5py.File(path, "r") as f:
        truth = f["cube"][2, 3]
    np.testing.assert_array_equal(view.figures[0].marks[0].image, truth)
    assert panel.feeds[0].index == (2, 3)


def test_scan_on_2d_navigation_follows_the_latest_point(tmp_path, views):
    """A PyMoDAQ 2-D scan (5 x 4) with a 1-D detector: the latest spectrum and points."""
    import scan_writer as sw

    w = sw.ScanWriter(tmp_path / "scan2d.h5")
    try:
        view = views(w.path, selected=[sw.SCAN1D, sw.SCAN0D])
        for k, filled in ((1, 1), (5, 6), (3, 9)):
            assert w.fill(k) == filled
            view.refresh()
            assert [type(p) for p in view.panels] == [TracePanel, ImagePanel]
            np.testing.assert_array_equal(line_xy(view, 0)[1], sw.trace(filled - 1))
            assert f"scan {filled}/20" in view.status
            color = np.asarray(view.figures[-1].marks[0].image)
            assert np.isfinite(color).sum() == filled
    finally:
        w.stop()


def test_a_dataset_with_several_hard_links_is_shown_under_each_path(tmp_path, views):
    path = tmp_path / "links.h5"
    with h5py.File(path, "w", libver="latest") as f:
        d = f.create_dataset("/entry/data/counts", data=np.arange(6.0))
        d.attrs["units"] = "counts"
        f["/entry/instrument/detector/counts"] = d  # NeXus practice: one object, two paths
    view = views(path, selected=["/entry/instrument/detector/counts"])
    assert "/entry/data/counts" in view.paths
    assert view.selected == ("/entry/instrument/detector/counts",)
    np.testing.assert_array_equal(line_xy(view)[1], np.arange(6.0))
    view.selected = ("/entry/data/counts", "/entry/instrument/detector/counts")
    assert len(view.figures) == 2
    for fig in view.figures:
        np.testing.assert_array_equal(fig.marks[0].y, np.arange(6.0))
    feeds = [p.feeds[0] for p in view.panels]
    assert feeds[0].dataset is feeds[1].dataset  # one HDF5 handle for both paths
    assert "error" not in view.status, view.status


def test_epoch_time_axis_is_drawn_as_elapsed_seconds(tmp_path, views):
    import scan_writer as sw

    w = sw.ScanWriter(tmp_path / "scan2d.h5")
    try:
        w.fill(4)
        view = views(w.path, selected=[sw.LOGGER])
        x, y = line_xy(view)
        np.testing.assert_array_equal(x, np.arange(4.0))  # T0 + i, less T0: exact
        np.testing.assert_array_equal(y, sw.point_value(np.arange(4)))
        label = view.figures[0].axes[0].label
        assert label == "time (s since 2023-11-14 22:13:20 UTC)", label
        w.fill(2)
        view.refresh()
        np.testing.assert_array_equal(line_xy(view)[0], np.arange(6.0))
    finally:
        w.stop()
