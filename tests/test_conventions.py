"""Axes and plot kinds from the conventions of other programs' files, written by those programs."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from swmr_widgets.live import LiveFile
from swmr_widgets.metadata import describe_dataset
from swmr_widgets.nodes import tree_nodes


def test_netcdf_dimension_scales_label_and_place_axes(tmp_path):
    xr = pytest.importorskip("xarray")
    path = tmp_path / "t.nc"
    time = 1.7e9 + np.arange(6.0)
    xr.Dataset(
        {
            "temperature": (("time", "x"), np.arange(24.0).reshape(6, 4), {"units": "K"}),
            "flags": (("time", "sample"), np.zeros((6, 3), dtype=np.int32)),
        },
        coords={
            "time": ("time", time, {"units": "s", "long_name": "epoch time"}),
            "x": ("x", np.array([0.5, 1.5, 2.5, 3.5]), {"units": "mm"}),
        },
    ).to_netcdf(path, engine="h5netcdf")
    with h5py.File(path, "r") as f:
        meta = describe_dataset(f["temperature"])
        assert meta.units == "K"
        assert meta.axes[0].title == "epoch time (s)"
        np.testing.assert_array_equal(meta.axes[0].values, time)
        assert meta.axes[1].title == "x (mm)"
        np.testing.assert_array_equal(meta.axes[1].values, [0.5, 1.5, 2.5, 3.5])
        # "sample" is a dimension without a variable: a placeholder, never a plot
        placeholder = describe_dataset(f["sample"])
        assert not placeholder.plottable and "netCDF dimension" in placeholder.reason
        nodes = {n["path"]: n for n in tree_nodes(f)}
        assert nodes["/sample"]["plottable"] is False
        assert nodes["/temperature"]["plottable"] is True
    with LiveFile(path) as live:
        assert live.default_selection()[0] != "/sample"


def test_nexus_auxiliary_signals_and_errors_use_the_signal_axes(tmp_path):
    nx = pytest.importorskip("nexusformat.nexus")
    path = tmp_path / "aux.nxs"
    x = nx.NXfield(np.linspace(0.0, 9.0, 10), name="x", units="mm", long_name="x position")
    y = nx.NXfield(np.linspace(-1.0, 1.0, 5), name="y", units="mm")
    data = nx.NXdata(nx.NXfield(np.arange(50.0).reshape(5, 10), name="counts"), (y, x))
    data["counts_errors"] = nx.NXfield(np.sqrt(np.arange(50.0)).reshape(5, 10))
    data["monitor"] = nx.NXfield(np.full((5, 10), 1000.0), units="counts")
    data.attrs["auxiliary_signals"] = ["monitor"]
    data["monitor_errors"] = nx.NXfield(np.ones((5, 10)))
    nx.NXroot(nx.NXentry(data, name="entry")).save(str(path), "w")
    with h5py.File(path, "r") as f:
        for name in ("counts", "counts_errors", "monitor", "monitor_errors"):
            meta = describe_dataset(f[f"/entry/data/{name}"])
            assert [a.title for a in meta.axes] == ["y (mm)", "x position (mm)"], name


def test_old_style_nexus_signal_and_axes_on_the_dataset(tmp_path):
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("entry/data")
        g.attrs["NX_class"] = "NXdata"
        d = g.create_dataset("counts", data=np.arange(12.0).reshape(3, 4))
        d.attrs.update(signal=1, axes="energy:angle")
        g.create_dataset("energy", data=np.arange(3.0) + 8000).attrs["units"] = "eV"
        g.create_dataset("angle", data=np.linspace(0, 3, 4)).attrs["units"] = "deg"
    with h5py.File(path, "r") as f:
        meta = describe_dataset(f["/entry/data/counts"])
    assert [a.title for a in meta.axes] == ["energy (eV)", "angle (deg)"]
    np.testing.assert_array_equal(meta.axes[0].values, [8000, 8001, 8002])


def test_track_order_files_keep_their_creation_order(tmp_path):
    path = tmp_path / "ordered.h5"
    with h5py.File(path, "w", track_order=True) as f:
        for name in ("zeta", "alpha", "mid"):
            f[name] = np.arange(3.0)
        g = f.create_group("g", track_order=True)
        g["b"], g["a"] = 1.0, 2.0
        plain = f.create_group("plain", track_order=False)
        plain["b"], plain["a"] = 1.0, 2.0
    with h5py.File(path, "r") as f:
        order = [n["path"] for n in tree_nodes(f)]
    assert order == [
        "/",
        "/zeta",
        "/alpha",
        "/mid",
        "/g",
        "/g/b",
        "/g/a",
        "/plain",
        "/plain/a",
        "/plain/b",
    ]
