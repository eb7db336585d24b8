"""Export of what a view shows: contents equal what a writer in another process wrote."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import scan_writer as scw
import swmr_writer as sw

pytest.importorskip("bqplot")

from swmr_widgets.export import ExportError

SUFFIXES = (".csv", ".npy", ".npz", ".h5", ".nxs")


def read_back(path: Path) -> tuple[np.ndarray, list[tuple[str, np.ndarray, str]]]:
    """``(values, [(axis label, axis values, units), ...])`` of a single-curve export."""
    suffix = path.suffix
    if suffix == ".npy":
        return np.load(path), []
    if suffix == ".npz":
        with np.load(path) as z:
            meta = json.loads(str(z["metadata"]))[0]
            axes = [(a["label"], z[a["key"]], a["units"]) for a in meta["axes"]]
            return z[meta["key"]], axes
    if suffix in (".h5", ".nxs"):
        with h5py.File(path, "r") as f:
            entry = f[f.attrs["default"]]
            assert entry.attrs["NX_class"] == "NXentry"
            group = entry[entry.attrs["default"]]
            assert group.attrs["NX_class"] == "NXdata"
            data = group[group.attrs["signal"]]
            names = list(group.attrs.get("axes", []))
            for dim, name in enumerate(names):
                assert group.attrs[f"{name}_indices"] == dim
            axes = [
                (group[n].attrs["long_name"], group[n][()], group[n].attrs.get("units", ""))
                for n in names
            ]
            return data[()], axes
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(line for line in fh if not line.startswith("#"))]
    header, body = rows[0], rows[1:]
    if "\\" in header[0]:  # a grid: x in the first row, y in the first column
        x = np.array([float(v) for v in header[1:]])
        y = np.array([float(r[0]) for r in body])
        values = np.array([[float(v) for v in r[1:]] for r in body])
        return values, [(header[0].split(" \\ ")[0], y, ""), ("x", x, "")]
    cols = np.array([[float(v) for v in r] for r in body]).T
    return cols[-1], [(header[0], cols[0], "")]


@pytest.mark.parametrize("suffix", list(SUFFIXES))
def test_series_and_trace_export(writer, views, tmp_path, suffix):
    n = writer.append(37)
    view = views(writer.path, selected=[sw.TREND, sw.TRACE])
    view.refresh()
    n = writer.append(12000)  # long enough to be decimated on screen
    view.refresh()
    series_panel, trace_panel = view.panels
    assert len(series_panel.figures[0].marks[0].y) < n  # the marks are decimated
    (path,) = series_panel.export(tmp_path / f"series{suffix}")
    values, axes = read_back(path)
    np.testing.assert_array_equal(values, sw.value(np.arange(n)))
    assert values.dtype == np.float64
    if axes:
        np.testing.assert_array_equal(axes[0][1], np.arange(n))
    (path,) = trace_panel.export(tmp_path / f"trace{suffix}")
    values, axes = read_back(path)
    np.testing.assert_array_equal(values, sw.trace_rows(n - 1, n)[0])
    if axes:
        np.testing.assert_array_equal(axes[0][1], np.arange(sw.WIDTH))
    if suffix in (".h5", ".nxs"):
        with h5py.File(path, "r") as f:
            data = f["entry/data/data"]
            assert data.attrs["source"] == sw.TRACE


@pytest.mark.parametrize("suffix", list(SUFFIXES))
def test_frame_and_map_export(tmp_path, views, suffix):
    w = scw.ScanWriter(tmp_path / "scan.h5")
    try:
        view = views(w.path, selected=[scw.SCAN2D, scw.SCAN0D])
        filled = w.fill(7)
        view.refresh()
        frame_panel, map_panel = view.panels
        (path,) = frame_panel.export(tmp_path / f"frame{suffix}")
        values, axes = read_back(path)
        np.testing.assert_array_equal(values, scw.frame(filled - 1))
        if axes:
            np.testing.assert_array_equal(axes[0][1], np.arange(scw.FRAME[0]))
            np.testing.assert_array_equal(axes[1][1], np.arange(scw.FRAME[1]))
        (path,) = map_panel.export(tmp_path / f"map{suffix}")
        values, axes = read_back(path)
        expected = np.full(scw.NAV, np.nan)
        expected.reshape(-1)[:filled] = scw.point_value(np.arange(filled))
        np.testing.assert_array_equal(values, expected)
        if axes:
            np.testing.assert_array_equal(axes[0][1], np.linspace(0.0, 1.0, scw.NAV[0]))
            np.testing.assert_array_equal(axes[1][1], np.linspace(0.0, 1.0, scw.NAV[1]))
            if suffix != ".csv":
                assert [(a[0], a[2]) for a in axes] == [("y", "mm"), ("x", "mm")]
    finally:
        w.stop()


@pytest.mark.parametrize("suffix", [".csv", ".npz", ".h5"])
def test_trend_export_and_the_whole_view(writer, views, tmp_path, suffix):
    view = views(writer.path, selected=[sw.TREND])
    roi = view.add_roi(sw.TRACE, x=(2, 4))
    n = writer.append(25)
    view.refresh()
    written = view.export(tmp_path / f"all{suffix}")
    sums = sw.trace_rows(0, n)[:, 2:5].sum(axis=1)
    np.testing.assert_array_equal(roi.trend()[1], sums)
    if suffix == ".npz":
        (path,) = written
        with np.load(path) as z:
            meta = json.loads(str(z["metadata"]))
            assert [m["source"] for m in meta] == [sw.TREND, sw.TRACE]
            np.testing.assert_array_equal(z[meta[0]["key"]], sw.value(np.arange(n)))
            np.testing.assert_array_equal(z[meta[1]["key"]], sums)
    elif suffix == ".h5":
        (path,) = written
        with h5py.File(path, "r") as f:
            groups = list(f["entry"])
            assert len(groups) == 2
            np.testing.assert_array_equal(f["entry"][groups[1]]["data"][()], sums)
    else:  # two 1-D curves side by side in one table
        (path,) = written
        with open(path, newline="") as fh:
            rows = list(csv.reader(line for line in fh if not line.startswith("#")))
        cols = np.array([[float(v) for v in r] for r in rows[1:]]).T
        np.testing.assert_array_equal(cols[1], sw.value(np.arange(n)))
        np.testing.assert_array_equal(cols[3], sums)


def test_zoomed_series_exports_the_range_shown(writer, views, tmp_path):
    view = views(writer.path, selected=[sw.TREND])
    n = writer.append(500)
    view.refresh()
    plot = view.panels[0].plot
    plot.x_scale.min, plot.x_scale.max = 100.0, 199.5  # as a pan/zoom in the browser sets
    (path,) = view.panels[0].export(tmp_path / "zoom.npz")
    with np.load(path) as z:
        meta = json.loads(str(z["metadata"]))[0]
        np.testing.assert_array_equal(z[meta["axes"][0]["key"]], np.arange(100, 200))
        np.testing.assert_array_equal(z[meta["key"]], sw.value(np.arange(100, 200)))
    assert n == 500


def test_export_refuses_the_followed_file_and_unknown_suffixes(writer, views, tmp_path):
    writer.append(5)
    view = views(writer.path, selected=[sw.TREND])
    before = writer.path.stat().st_size, writer.path.stat().st_mtime_ns
    with pytest.raises(ExportError, match="being followed"):
        view.export(writer.path)
    with pytest.raises(ExportError, match="suffixes"):
        view.export(tmp_path / "out.xlsx")
    assert (writer.path.stat().st_size, writer.path.stat().st_mtime_ns) == before


def test_toolbar_export_button(writer, views, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writer.append(9)
    view = views(writer.path, selected=[sw.TREND])
    menu, button = view._toolbar.children[-2:]
    menu.value = ".npz"
    button.click()
    assert "exported swmr_export_" in view.status
    (path,) = tmp_path.glob("swmr_export_*.npz")
    with np.load(path) as z:
        key = json.loads(str(z["metadata"]))[0]["key"]
        np.testing.assert_array_equal(z[key], sw.value(np.arange(9)))


def test_nothing_to_export_says_so(tmp_path, views):
    import h5py as h5

    path = tmp_path / "strings.h5"
    with h5.File(path, "w", libver="latest") as f:
        f["names"] = np.array([b"a", b"b"])  # not plottable: a details panel
        f["gain"] = 2.5  # a scalar: a value panel
    view = views(path, selected=["/names", "/gain"])
    with pytest.raises(ExportError, match="nothing to export"):
        view.panels[0].export(tmp_path / "names.csv")
    (written,) = view.panels[1].export(tmp_path / "gain.npy")
    assert np.load(written) == 2.5
