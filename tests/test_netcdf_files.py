"""netCDF-4 files from xarray (closed) and from h5netcdf (grown in SWMR mode), in another process.

HDF5 dimension scales become axes with the labels and units of the
coordinate variables; netCDF's placeholder datasets for dimensions without a
variable are neither offered as plots nor used as coordinates. Values are
checked against what the writer dumped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from marks import assert_image
from netcdf_writer import NetcdfWriter
from waits import wait_for
from writers import stopped_at_exit

pytest.importorskip("h5netcdf")

from swmr_widgets.live import Latest, LiveFile, Rows, State
from swmr_widgets.metadata import NETCDF_PLACEHOLDER

TIMEOUT = 30.0
TIME_TITLE = "time (milliseconds since 2026-01-01)"


@pytest.fixture
def netcdf(tmp_path: Path) -> Iterator:
    """Run netCDF writers on files in ``tmp_path``; all are stopped at teardown."""

    def make(kind: str, *args: str, name: str = "data.nc") -> NetcdfWriter:
        return NetcdfWriter(tmp_path / name, kind, *args)

    with stopped_at_exit(make) as start:
        yield start


@pytest.fixture
def xarray_file(netcdf) -> NetcdfWriter:
    pytest.importorskip("xarray")
    return netcdf("xarray", "--seed", "8")


def test_xarray_dimension_scales_become_axes(xarray_file):
    truth = xarray_file.written()
    with LiveFile(xarray_file.path) as live:
        assert not live.is_swmr
        assert live.poll().health.state is State.FINISHED
        assert live.default_selection() == ("/temperature",)
        temperature, profile = live.meta("/temperature"), live.meta("/profile")
        assert (temperature.label, temperature.units) == ("Sample temperature", "K")
        assert temperature.axes[0].title == TIME_TITLE
        assert temperature.axes[0].path == "/time"
        np.testing.assert_array_equal(temperature.axes[0].values, truth["time"])
        assert [a.title for a in profile.axes] == [TIME_TITLE, "Position (mm)"]
        np.testing.assert_array_equal(profile.axes[1].values, truth["x"])
        # the coordinate variables themselves are plain 1-D arrays with their own label
        assert (live.meta("/x").label, live.meta("/x").units) == ("Position", "mm")

        # a dimension without a variable: a placeholder, not a plot, not a coordinate
        sample = live.meta("/sample")
        assert not sample.plottable
        assert sample.reason == NETCDF_PLACEHOLDER
        weights = live.meta("/weights")
        assert weights.plottable
        assert weights.axes[0].title == "sample"
        assert weights.axes[0].values is None and weights.axes[0].path == ""

        feeds = {p: live.follow(p) for p in ("/temperature", "/weights", "/sample")}
        assert [f.kind for f in feeds.values()] == ["series", "series", "details"]
        updates = {u.path: u for u in live.poll().updates.values()}
        rows = updates["/temperature"]
        assert isinstance(rows, Rows)
        np.testing.assert_array_equal(rows.values, truth["temperature"])
        x, known = feeds["/temperature"].axis.at(rows.indices)
        assert known.all()
        np.testing.assert_array_equal(x, truth["time"])
        # the placeholder's fill values are not coordinates: positions are
        x, _ = feeds["/weights"].axis.at(updates["/weights"].indices)
        np.testing.assert_array_equal(x, np.arange(3.0))
        np.testing.assert_array_equal(updates["/weights"].values, truth["weights"])


def test_view_of_an_xarray_file(xarray_file, views):
    pytest.importorskip("bqplot")
    from swmr_widgets.panels import DetailsPanel, ImagePanel, SeriesPanel

    truth = xarray_file.written()
    view = views(xarray_file.path)
    assert view.selected == ("/temperature",)
    panel = view.panels[0]
    assert isinstance(panel, SeriesPanel)
    assert panel.plot.x_axis.label == TIME_TITLE
    assert panel.plot.y_axis.label == "Sample temperature (K)"
    line = panel.plot.lines[0]
    np.testing.assert_array_equal(np.asarray(line.x), truth["time"])
    np.testing.assert_array_equal(np.asarray(line.y), truth["temperature"])
    view.selected = ("/profile", "/sample")
    view.refresh()
    image, details = view.panels
    assert isinstance(image, ImagePanel) and isinstance(details, DetailsPanel)
    assert (image.plot.x_axis.label, image.plot.y_axis.label) == ("Position (mm)", TIME_TITLE)
    assert_image(image.plot, truth["profile"], truth["x"], truth["time"])
    assert "error" not in view.status


def test_invalid_netcdf_features_are_shown_not_plotted(netcdf, views):
    pytest.importorskip("xarray")
    pytest.importorskip("bqplot")
    from swmr_widgets.panels import DetailsPanel

    w = netcdf("xarray", "--invalid", "--seed", "9")
    view = views(w.path, selected=["/wave", "/temperature"])
    # complex values (stored with a committed complex type) are described, not drawn
    details, series = view.panels
    assert isinstance(details, DetailsPanel) and details.paths == ("/wave",)
    meta = view.live.meta("/wave")
    assert not meta.plottable and "complex" in meta.reason
    assert meta.axes[0].title == "Position (mm)"
    np.testing.assert_array_equal(np.asarray(series.plot.lines[0].y), w.written()["temperature"])
    assert "error" not in view.status


def test_h5netcdf_unlimited_dimension_followed_in_swmr(netcdf):
    w = netcdf("h5netcdf", "--seed", "10")
    n = w.step(3)
    with LiveFile(w.path) as live:
        assert live.is_swmr
        temperature, profile = live.meta("/temperature"), live.meta("/profile")
        assert temperature.growing and (temperature.nav_ndim, temperature.signal_ndim) == (1, 0)
        assert temperature.nav_axes[0].title == "Time (s)"
        assert temperature.nav_axes[0].path == "/time"
        assert (profile.nav_ndim, profile.signal_ndim) == (1, 1)
        assert profile.axes[0].title == "Position (mm)"
        np.testing.assert_array_equal(profile.axes[0].values, w.written()["x"])
        series, trace = live.follow("/temperature"), live.follow("/profile")
        got: list[Rows] = []
        latest: dict[str, Latest] = {}
        for k in (0, 1, 5, 40):
            n = w.step(k) if k else n
            truth = w.written()

            def check(n=n) -> bool:
                for u in live.poll().updates.values():
                    if isinstance(u, Rows):
                        got.append(u)
                    elif isinstance(u, Latest):
                        latest[u.path] = u
                done = sum(len(u.values) for u in got) == n
                return done and "/profile" in latest and latest["/profile"].index == (n - 1,)

            wait_for(check, TIMEOUT, f"{n} points")
            values = np.concatenate([u.values for u in got])
            np.testing.assert_array_equal(values, truth["temperature"])
            t, known = series.axis.at(np.arange(n))
            assert known.all()
            np.testing.assert_array_equal(t, truth["time"])
            np.testing.assert_array_equal(latest["/profile"].values, truth["profile"][-1])
            assert trace.x_axis.title == "Position (mm)"
            assert live.health.state is State.LIVE
