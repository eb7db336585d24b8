"""Labels, units, axes and plot kinds read from real HDF5 files written here or by PyMoDAQ."""

from __future__ import annotations

import queue
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest
from metadata_zoo import pmd, write_zoo

from swmr_widgets.attrs import read_attrs
from swmr_widgets.metadata import Axis, DatasetMeta, describe_dataset
from swmr_widgets.nodes import tree_nodes
from swmr_widgets.processes import kill, spawn

# --------------------------------------------------------------------------- Axis / DatasetMeta


def test_axis_title_and_coordinates():
    assert Axis("wavelength", "nm").title == "wavelength (nm)"
    assert Axis("wavelength").title == "wavelength"
    assert Axis(units="nm").title == "nm"
    assert Axis().title == ""
    np.testing.assert_array_equal(Axis(offset=2.0, scaling=0.5).coordinates(3), [2.0, 2.5, 3.0])
    ax = Axis(values=np.array([10.0, 20.0, 30.0]), offset=1.0, scaling=1.0)
    np.testing.assert_array_equal(ax.coordinates(2), [10.0, 20.0])
    np.testing.assert_array_equal(ax.coordinates(4), [1.0, 2.0, 3.0, 4.0])  # too few values
    assert ax.coordinates(0).shape == (0,)
    assert ax.coordinates(3).dtype == np.float64
    assert hash(ax) == hash(Axis(offset=1.0))  # values do not take part in equality


# --------------------------------------------------------------------------- describe_dataset


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    """A small file with one dataset per case."""
    return write_zoo(tmp_path / "zoo.h5")


def describe(path: Path, name: str) -> DatasetMeta:
    with h5py.File(path, "r") as f:
        return describe_dataset(f[name])


def test_nexus(zoo):
    m = describe(zoo, "nexus/spectra")
    assert (m.label, m.units, m.value_title) == ("intensity", "counts", "intensity (counts)")
    assert (m.growing, m.prefilled, m.nav_ndim, m.signal_ndim, m.kind) == (True, False, 1, 1, "1d")
    assert m.axes[0].title == "wavelength (nm)"
    assert m.axes[0].path == "/nexus/wavelength"
    np.testing.assert_allclose(m.axes[0].coordinates(8), np.linspace(400, 470, 8))
    assert m.nav_axes[0].label == "index"
    img = describe(zoo, "nexus_image/data")
    assert [a.title for a in img.axes] == ["y (µm)", "x (mm)"]
    assert img.kind == "2d"


def test_plain(zoo):
    assert describe(zoo, "plain/a").value_title == "a (V)"
    b = describe(zoo, "plain/b")
    assert (b.label, b.units) == ("bee", "K")
    c = describe(zoo, "plain/c")
    assert (c.label, c.units) == ("c", "s")
    assert (c.nav_ndim, c.signal_ndim, c.kind, c.axes[0].label) == (0, 1, "1d", "index")
    trend = describe(zoo, "plain/trend")
    assert (trend.growing, trend.nav_ndim, trend.signal_ndim, trend.kind) == (True, 1, 0, "0d")
    assert trend.plottable and trend.shape == (0,)
    frames = describe(zoo, "plain/frames")
    assert (frames.nav_ndim, frames.signal_ndim, frames.kind) == (1, 2, "2d")
    assert [a.label for a in frames.axes] == ["row", "column"]


def test_pymodaq_scan(zoo):
    m = describe(zoo, "RawData/Scan000/Detector000/Data1D/CH00/Data00")
    assert (m.label, m.prefilled, m.growing, m.nav_ndim, m.signal_ndim) == (
        "spec",
        True,
        False,
        1,
        1,
    )
    assert m.axes[0].title == "wavelength (nm)"  # @index 1 counts the scan dimension
    assert m.nav_axes[0].title == "x_position (mm)"
    assert m.nav_axes[0].scaling == 0.25
    np.testing.assert_allclose(m.nav_axes[0].coordinates(5), np.linspace(0, 1, 5))
    m0 = describe(zoo, "RawData/Scan000/Detector000/Data0D/CH00/Data00")
    assert (m0.label, m0.units, m0.kind, m0.prefilled) == ("photodiode", "V", "0d", True)
    assert m0.axes == ()
    m2 = describe(zoo, "RawData/Scan000/Detector000/Data2D/CH00/Data00")
    assert (m2.kind, [a.label for a in m2.axes]) == ("2d", ["y", "x"])
    assert m2.nav_axes[0].label == "x_position"


def test_pymodaq_axis_datasets_are_not_given_their_siblings_as_axes(tmp_path):
    path = tmp_path / "scan2d.h5"
    with h5py.File(path, "w") as f:
        for k, (label, n) in enumerate((("x", 3), ("y", 4))):
            ax = f.create_dataset(f"Scan000/NavAxes/Axis{k:02d}", data=np.arange(float(n)))
            for key, v in dict(label=label, units="mm", index=k, data_type="axis").items():
                ax.attrs[key] = pmd(v)
            ax.attrs["data_dimension"] = pmd("Data1D")
        d = f.create_dataset("Scan000/Detector000/Data0D/CH00/Data00", data=np.full((3, 4), np.nan))
        d.attrs["data_dimension"] = pmd("Data0D")
        d.attrs["nav_indexes"] = pmd((0, 1))
    with h5py.File(path, "r") as f:
        x = describe_dataset(f["Scan000/NavAxes/Axis00"])
        m = describe_dataset(f["Scan000/Detector000/Data0D/CH00/Data00"])
    assert (x.label, x.units, x.kind, x.axes[0].label) == ("x", "mm", "1d", "index")
    assert (m.nav_ndim, m.signal_ndim, m.prefilled) == (2, 0, True)
    assert [a.title for a in m.nav_axes] == ["x (mm)", "y (mm)"]


def test_pymodaq_enlargeable(zoo):
    m = describe(zoo, "RawData/Detector001/Data0D/CH00/EnlData00")
    assert (m.growing, m.prefilled, m.nav_ndim, m.signal_ndim, m.kind) == (True, False, 1, 0, "0d")
    assert m.shape == (0, 1)
    assert m.nav_axes[0].title == "time (s)"
    assert m.nav_axes[0].values is None  # a growing axis is followed, not snapshotted
    assert m.nav_axes[0].path == "/RawData/Detector001/NavAxes/Axis00"


@pytest.mark.parametrize(
    ("name", "dtype", "plottable", "reason_part", "kind"),
    [
        ("fixed_str", "str", False, "strings", "none"),
        ("vlen_str", "str", False, "variable-length strings", "none"),
        ("compound", "compound", False, "compound", "none"),
        ("enum", "enum (uint8)", True, "", "1d"),
        ("bool", "bool", True, "", "1d"),
        ("complex", "complex128", False, "complex values: shown in the details pane only", "none"),
        ("int64", "int64", True, "", "1d"),
        ("uint64", "uint64", True, "", "1d"),
        ("float16", "float16", True, "", "1d"),
        ("five_d", "float64", True, "", "nd"),
        ("empty", "float64", True, "", "1d"),
        ("empty_2d", "float32", True, "", "1d"),
        ("null", "float64", False, "null dataspace", "none"),
        ("scalar", "float64", True, "", "0d"),
        ("vlen_int", "vlen int32", False, "variable-length arrays", "none"),
        ("ref", "reference", False, "references", "none"),
        ("opaque", "opaque", False, "opaque", "none"),
        ("datetime", "datetime64[s]", False, "date/time", "none"),
        ("array_type", "array", False, "array-typed", "none"),
    ],
)
def test_odd_dtypes(zoo, name, dtype, plottable, reason_part, kind):
    m = describe(zoo, f"odd/{name}")
    assert m.dtype.startswith(dtype)
    assert m.plottable is plottable
    assert reason_part in m.reason
    assert bool(m.reason) is not plottable
    assert m.kind == kind
    assert m.label == name


def test_odd_shapes(zoo):
    five = describe(zoo, "odd/five_d")
    assert (five.nav_ndim, five.signal_ndim, len(five.axes)) == (0, 5, 5)
    scalar = describe(zoo, "odd/scalar")
    assert (scalar.shape, scalar.nav_ndim, scalar.signal_ndim, scalar.axes) == ((), 0, 0, ())
    empty = describe(zoo, "odd/empty_2d")
    assert (empty.growing, empty.nav_ndim, empty.signal_ndim) == (True, 1, 1)


def test_garbage_attributes_never_raise(zoo):
    m = describe(zoo, "junk/data")
    assert m.plottable
    assert m.label == "L" * 200  # truncated long_name
    assert m.units == ""
    assert m.nav_ndim + m.signal_ndim == 2
    m2 = describe(zoo, "junk/data2")
    assert m2.plottable and m2.nav_ndim + m2.signal_ndim == 2
    m3 = describe(zoo, "junk/unreadable_units")
    assert (m3.label, m3.units) == ("ok", "")
    with h5py.File(zoo, "r") as f:
        attrs = read_attrs(f["junk/unreadable_units"])
    assert attrs == {"label": "ok"}  # the unreadable attribute is skipped


def test_describe_closed_dataset_does_not_raise(zoo):
    with h5py.File(zoo, "r") as f:
        ds = f["plain/a"]
    m = describe_dataset(ds)
    assert not m.plottable
    assert m.reason


def test_every_dataset_is_described(zoo):
    with h5py.File(zoo, "r") as f:
        names: list[str] = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        metas = [describe_dataset(f[n]) for n in names]
    assert len(metas) > 40
    for m in metas:
        assert len(m.axes) == m.signal_ndim or not m.plottable
        assert len(m.nav_axes) == m.nav_ndim
        assert m.kind in ("0d", "1d", "2d", "nd", "none")


# --------------------------------------------------------------------------- a genuine PyMoDAQ file

PYMODAQ_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from pymodaq_data.h5modules.saving import H5SaverLowLevel
    from pymodaq_data.h5modules.data_saving import (
        DataToExportEnlargeableSaver, DataToExportExtendedSaver)
    from pymodaq_data.data import DataToExport, DataRaw, Axis

    path, kind = Path(sys.argv[1]), sys.argv[2]
    h5 = H5SaverLowLevel(save_type="scan" if kind == "scan" else "logger", backend="h5py")
    h5.init_file(path, new_file=True, swmr_mode=True)
    wl = np.linspace(400, 800, 16)

    def dte(i):
        return DataToExport("dte", data=[
            DataRaw("photodiode", data=[np.array([float(i)])], labels=["pd"], units="V"),
            DataRaw("spectro", data=[np.arange(16.0) * i], labels=["spec"], units="counts",
                    axes=[Axis("wavelength", "nm", data=wl, index=0)]),
            DataRaw("camera", data=[np.ones((4, 6)) * i], labels=["cam"]),
        ])

    if kind == "scan":
        scan = h5.add_scan_group()
        det = h5.add_det_group(scan, "Detector000")
        saver = DataToExportExtendedSaver(h5, extended_shape=(10,))
        saver.add_nav_axes(scan, [Axis("x_position", "mm", data=np.linspace(0, 9, 10), index=0)])
        for i in range(3):
            saver.add_data(det, dte(i), indexes=(i,))  # switches SWMR on after the first
    else:
        det = h5.add_det_group(h5.raw_group, "Detector000")
        saver = DataToExportEnlargeableSaver(h5, enl_axis_names=("time",), enl_axis_units=("s",))
        for i in range(3):
            saver.add_data(det, dte(i), axis_values=[0.5 * i])
            h5.enable_swmr()
    h5.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    h5.close_file()
    print("closed", flush=True)
    """
)


@pytest.fixture
def pymodaq_file(tmp_path):
    """Run the PyMoDAQ writer in another process; yields a function (kind) -> path."""
    pytest.importorskip("pymodaq_data")
    script = tmp_path / "pymodaq_writer.py"
    script.write_text(PYMODAQ_WRITER)
    procs: list[subprocess.Popen] = []

    def start(kind: str) -> Path:
        path = tmp_path / f"{kind}.h5"
        proc = spawn(
            [sys.executable, str(script), str(path), kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            line = ""
        if not line.startswith("ready"):
            kill(proc)
            pytest.fail(f"the PyMoDAQ writer failed: {proc.communicate(timeout=10)[1][-3000:]}")
        return path

    yield start
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.communicate("close\n", timeout=20)
            except subprocess.TimeoutExpired:
                kill(proc, timeout=10)


def test_genuine_pymodaq_scan_file(pymodaq_file):
    path = pymodaq_file("scan")
    with h5py.File(path, "r", swmr=True) as f:  # the writer still holds it in SWMR mode
        assert f.attrs["swmr_active"]
        assert read_attrs(f)["TITLE"] == "PyMoDAQ file"
        base = "/RawData/Scan000/Detector000"
        d0 = describe_dataset(f[f"{base}/Data0D/CH00/Data00"])
        d1 = describe_dataset(f[f"{base}/Data1D/CH00/Data00"])
        d2 = describe_dataset(f[f"{base}/Data2D/CH00/Data00"])
        values = f[f"{base}/Data0D/CH00/Data00"][:]
        nodes = {n["path"]: n for n in tree_nodes(f)}
    np.testing.assert_array_equal(values[:3], [0.0, 1.0, 2.0])
    assert np.isnan(values[3:]).all()  # pre-allocated with NaN, filled in place
    assert (d0.label, d0.kind, d0.prefilled, d0.growing, d0.nav_ndim) == (
        "pd",
        "0d",
        True,
        False,
        1,
    )
    assert d0.nav_axes[0].title == "x_position (mm)"
    np.testing.assert_allclose(d0.nav_axes[0].coordinates(10), np.linspace(0, 9, 10))
    assert (d1.label, d1.kind, d1.prefilled) == ("spec", "1d", True)
    assert d1.axes[0].title == "wavelength (nm)"
    np.testing.assert_allclose(d1.axes[0].coordinates(16), np.linspace(400, 800, 16))
    assert (d2.kind, d2.shape, d2.nav_ndim, d2.signal_ndim) == ("2d", (10, 4, 6), 1, 2)
    assert nodes[f"{base}/Data1D/CH00/Data00"]["label"] == "spec"
    assert nodes[f"{base}/Data1D/CH00/Axis00"]["units"] == "nm"


def test_genuine_pymodaq_logger_file(pymodaq_file):
    path = pymodaq_file("logger")
    with h5py.File(path, "r", swmr=True) as f:
        base = "/RawData/Detector000"
        d0 = describe_dataset(f[f"{base}/Data0D/CH00/EnlData00"])
        d1 = describe_dataset(f[f"{base}/Data1D/CH00/EnlData00"])
        log = describe_dataset(f["/RawData/Logger"])
    assert (d0.kind, d0.growing, d0.prefilled, d0.shape) == ("0d", True, False, (3, 1))
    assert d0.nav_axes[0].title == "time (s)"
    assert (d1.kind, d1.axes[0].title) == ("1d", "wavelength (nm)")
    assert not log.plottable  # the log messages
