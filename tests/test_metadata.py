"""Labels, units, axes and plot kinds read from real HDF5 files written here or by PyMoDAQ."""

from __future__ import annotations

import json
import math
import queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swmr_widgets.metadata import (
    MAX_PARSED_CHARS,
    Axis,
    DatasetMeta,
    decode_attr,
    describe_dataset,
    read_attrs,
    tree_nodes,
)


def pmd(value, module: str | None = None, type_name: str | None = None, data=None) -> str:
    """An attribute encoded the way PyMoDAQ does (``JsonConverter.object2json``)."""
    return json.dumps(
        {
            "module": module or type(value).__module__,
            "type": type_name or type(value).__name__,
            "data": repr(value) if data is None else data,
        }
    )


# --------------------------------------------------------------------------- decode_attr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nm", "nm"),
        (0, 0),
        (2.5, 2.5),
        (True, True),
        (None, None),
        ((0,), (0,)),
        ((0, 1), (0, 1)),
        ([1, "a"], [1, "a"]),
        ("Data1D", "Data1D"),
        ('it\'s "quoted" \\ and ü', 'it\'s "quoted" \\ and ü'),
        (b"raw", "raw"),
    ],
)
def test_decode_pymodaq_json(value, expected):
    decoded = decode_attr(pmd(value))
    assert decoded == expected
    assert type(decoded) is type(expected)


def test_decode_pymodaq_numpy_scalars_as_written_by_numpy2():
    # PyMoDAQ writes Axis offset/scaling as repr(np.float64(...)) == "np.float64(400.0)"
    assert decode_attr(pmd(np.float64(400.0))) == 400.0
    assert type(decode_attr(pmd(np.float64(400.0)))) is float
    assert decode_attr(pmd(np.int64(-3))) == -3
    assert decode_attr(pmd(np.float32(0.5))) == 0.5
    assert decode_attr(pmd(np.bool_(True))) is True
    assert math.isnan(decode_attr(pmd(np.float64("nan"))))
    assert decode_attr(pmd(float("inf"))) == math.inf
    assert decode_attr(pmd(np.str_("nm"))) == "nm"


def test_decode_pymodaq_ndarray_and_datetime():
    arr = decode_attr(pmd(np.array([1.0, 2.5, np.nan])))
    assert isinstance(arr, np.ndarray)
    np.testing.assert_array_equal(arr, [1.0, 2.5, np.nan])
    ints = decode_attr(pmd(np.array([1, 2], dtype=np.int16)))
    assert ints.dtype == np.int16
    assert ints.tolist() == [1, 2]
    # numpy abbreviates long arrays: the values are gone, the text is returned
    long = pmd(np.arange(5000.0))
    assert "..." in long
    assert isinstance(decode_attr(long), str)
    import datetime

    when = datetime.datetime(2024, 5, 6, 7, 8, 9)
    assert decode_attr(pmd(when)) == when
    assert decode_attr(pmd(datetime.date(2024, 5, 6))) == datetime.date(2024, 5, 6)


def test_decode_plain_values():
    assert decode_attr(b"V") == "V"
    assert decode_attr(np.bytes_(b"mm")) == "mm"
    assert decode_attr(b"\xff\xfeok") == "\ufffd\ufffdok"
    assert decode_attr(np.float64(1.5)) == 1.5
    assert type(decode_attr(np.float64(1.5))) is float
    assert type(decode_attr(np.int64(2**40))) is int
    assert decode_attr(np.bool_(False)) is False
    assert decode_attr(np.array(3.0)) == 3.0
    assert decode_attr(np.array([b"a", b"b"])) == ["a", "b"]
    assert decode_attr(np.array(["x", "y"], dtype=object)) == ["x", "y"]
    assert decode_attr(h5py.Empty("f8")) is None
    arr = np.array([1, 2, 3])
    assert decode_attr(arr) is arr
    assert decode_attr("a plain string") == "a plain string"
    assert decode_attr("{not json") == "{not json"


@pytest.mark.parametrize(
    "raw",
    [
        '{"module": "builtins", "type": "str", "data": ',  # truncated
        '{"module": "builtins", "type": "str"}',  # no data
        '{"data": "1", "type": "int"',  # unbalanced
        '{"a": 1, "data": 2}',  # not PyMoDAQ (no type)
        '[1, 2, "data"]',
        '{"module": "builtins", "type": "str", "data": "\'unterminated"}',
        "{" + '"data": ' * 50 + "}",
    ],
)
def test_decode_malformed_json_returns_string(raw):
    out = decode_attr(raw)
    assert isinstance(out, str)


def test_decode_untrusted_type_returns_text():
    raw = pmd(None, module="pymodaq.enums", type_name="SomeEnum", data="<SomeEnum.a: 1>")
    assert decode_attr(raw) == "<SomeEnum.a: 1>"
    # data that is not a string comes back as the raw JSON text, or as a plain number
    assert decode_attr('{"module": "m", "type": "t", "data": {"x": 1}}').startswith("{")
    assert decode_attr('{"module": "m", "type": "int", "data": 5}') == 5


def _exploits(marker: Path) -> list[str]:
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    return [
        touch,
        f"np.float64({touch})",
        f"numpy.float64({touch})",
        f"array({touch})",
        f"array([1, 2], dtype={touch})",
        f"datetime.datetime({touch})",
        f"(lambda: {touch})()",
        f"[x for x in [{touch}]]",
        f"eval({touch!r})",
        f"exec({touch!r})",
        f"open({str(marker)!r}, 'w')",
        "__builtins__",
    ]


@pytest.mark.parametrize("type_name", ["str", "float", "tuple", "ndarray", "datetime", "Weird"])
def test_exploit_payloads_are_never_executed(tmp_path, type_name):
    marker = tmp_path / "pwned"
    for payload in _exploits(marker):
        raw = json.dumps({"module": "builtins", "type": type_name, "data": payload})
        out = decode_attr(raw)
        assert isinstance(out, str)
        assert not marker.exists(), payload
        # as bytes, as a numpy string and inside an array, too
        assert isinstance(decode_attr(raw.encode()), str)
        decode_attr(np.array([raw.encode()]))
        assert not marker.exists(), payload


def test_exploit_payloads_in_a_file_are_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.h5"
    payloads = _exploits(marker)
    with h5py.File(path, "w") as f:
        g = f.create_group("RawData/Scan000/Detector000/Data1D/CH00")
        ds = g.create_dataset("Data00", data=np.zeros((3, 4)))
        for k, payload in enumerate(payloads):
            ds.attrs[f"x{k}"] = json.dumps({"module": "builtins", "type": "str", "data": payload})
        for key in ("label", "units", "data_dimension", "nav_indexes"):
            ds.attrs[key] = json.dumps({"module": "builtins", "type": "str", "data": payloads[0]})
        ax = g.create_dataset("Axis00", data=np.arange(4.0))
        for key in ("label", "units", "index", "offset", "scaling"):
            ax.attrs[key] = json.dumps({"module": "numpy", "type": "float64", "data": payloads[1]})
    with h5py.File(path, "r") as f:
        meta = describe_dataset(f["RawData/Scan000/Detector000/Data1D/CH00/Data00"])
        attrs = read_attrs(f["RawData/Scan000/Detector000/Data1D/CH00/Data00"])
        nodes = tree_nodes(f)
    assert not marker.exists()
    assert meta.plottable
    assert attrs["x0"] == payloads[0]  # shown as text
    assert json.dumps(nodes)


def test_decode_huge_strings_are_not_parsed():
    big = '{"module": "builtins", "type": "str", "data": "\'' + "x" * MAX_PARSED_CHARS + "'\"}"
    t = time.perf_counter()
    assert decode_attr(big) == big
    nested = '{"module": "builtins", "type": "tuple", "data": "' + "(" * 90_000 + '"}'
    assert isinstance(decode_attr(nested), str)
    deep = pmd(None, type_name="tuple", data="(" * 5000 + "1" + ")" * 5000)
    assert decode_attr(deep) in (1, "(" * 5000 + "1" + ")" * 5000)
    digits = pmd(None, type_name="int", data="9" * 50_000)
    assert isinstance(decode_attr(digits), str | int)
    assert time.perf_counter() - t < 2.0


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary(), st.text().map(lambda t: pmd(None, data=t))))
def test_decode_never_raises(value):
    decode_attr(value)
    decode_attr(np.array([value]))


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
    path = tmp_path / "zoo.h5"
    with h5py.File(path, "w", libver="latest") as f:
        # NeXus
        nx = f.create_group("nexus")
        nx.attrs.update({"NX_class": "NXdata", "signal": "spectra", "axes": [".", "wavelength"]})
        d = nx.create_dataset("spectra", shape=(0, 8), maxshape=(None, 8), dtype="f8")
        d.attrs.update({"long_name": "intensity", "units": "counts"})
        wl = nx.create_dataset("wavelength", data=np.linspace(400, 470, 8))
        wl.attrs.update({"long_name": "wavelength", "units": "nm"})
        img = f.create_group("nexus_image")
        img.attrs.update({"signal": "data", "x_indices": 1, "y_indices": np.int32(0)})
        img.create_dataset("data", data=np.zeros((3, 4)))
        img.create_dataset("x", data=np.arange(4.0)).attrs["units"] = "mm"
        img.create_dataset("y", data=np.arange(3.0)).attrs["units"] = "µm"
        # plain
        plain = f.create_group("plain")
        plain.create_dataset("a", data=np.arange(5.0)).attrs.update({"units": "V", "label": "a"})
        plain.create_dataset("b", data=np.arange(5.0)).attrs.update({"unit": "K", "name": "bee"})
        plain.create_dataset("c", data=np.arange(5.0)).attrs["units"] = np.bytes_(b"s")
        plain.create_dataset("trend", shape=(0,), maxshape=(None,), dtype="f8")
        plain.create_dataset("frames", shape=(0, 4, 6), maxshape=(None, 4, 6), dtype="u2")
        # PyMoDAQ
        scan = f.create_group("RawData/Scan000")
        nav = scan.create_dataset("NavAxes/Axis00", data=np.linspace(0, 1, 5))
        for k, v in dict(label="x_position", units="mm", index=0).items():
            nav.attrs[k] = pmd(v)
        nav.attrs["offset"] = pmd(np.float64(0.0))
        nav.attrs["scaling"] = pmd(np.float64(0.25))
        ch = scan.create_group("Detector000/Data1D/CH00")
        ch.attrs["TITLE"] = "spectro"
        data = ch.create_dataset("Data00", data=np.full((5, 16), np.nan))
        for k, v in dict(label="spec", data_dimension="Data1D", nav_indexes=(0,)).items():
            data.attrs[k] = pmd(v)
        ax = ch.create_dataset("Axis00", data=np.linspace(500, 650, 16))
        for k, v in dict(label="wavelength", units="nm", index=1).items():
            ax.attrs[k] = pmd(v)
        ch0 = scan.create_group("Detector000/Data0D/CH00")
        ch0.attrs["TITLE"] = "photodiode"
        d0 = ch0.create_dataset("Data00", data=np.full(5, np.nan))
        d0.attrs["data_dimension"] = pmd("Data0D")
        d0.attrs["nav_indexes"] = pmd((0,))
        ch0.attrs["units"] = pmd("V")
        ch2 = scan.create_group("Detector000/Data2D/CH00")
        d2 = ch2.create_dataset("Data00", data=np.full((5, 3, 4), np.nan))
        d2.attrs["data_dimension"] = pmd("Data2D")
        d2.attrs["nav_indexes"] = pmd((0,))
        for k, (label, idx) in enumerate((("y", 1), ("x", 2))):
            a = ch2.create_dataset(f"Axis{k:02d}", data=np.arange(4.0 - k))
            a.attrs["label"] = pmd(label)
            a.attrs["index"] = pmd(idx)
        # PyMoDAQ enlargeable (logger): 0-D points stored as (N, 1)
        det = f.create_group("RawData/Detector001")
        t = det.create_dataset("NavAxes/Axis00", shape=(0,), maxshape=(None,), dtype="f8")
        t.attrs["label"] = pmd("time")
        t.attrs["units"] = pmd("s")
        t.attrs["index"] = pmd(0)
        enl = det.create_dataset(
            "Data0D/CH00/EnlData00", shape=(0, 1), maxshape=(None, 1), dtype="f8"
        )
        enl.attrs["data_dimension"] = pmd("Data0D")
        enl.attrs["nav_indexes"] = pmd((0,))
        enl.attrs["label"] = pmd("pd")
        # odd dtypes
        odd = f.create_group("odd")
        odd.create_dataset("fixed_str", data=np.array([b"ab", b"cd"]))
        odd.create_dataset("vlen_str", data=["ab", "cde"], dtype=h5py.string_dtype())
        odd.create_dataset("compound", data=np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]))
        odd.create_dataset(
            "enum", data=np.arange(3, dtype="u1"), dtype=h5py.enum_dtype({"a": 0, "b": 1, "c": 2})
        )
        odd.create_dataset("bool", data=np.array([True, False]))
        odd.create_dataset("complex", data=np.ones(3, dtype="c16"))
        odd.create_dataset("int64", data=np.array([2**33, 2**40 + 1], dtype="i8"))
        odd.create_dataset("uint64", data=np.array([2**64 - 1], dtype="u8"))
        odd.create_dataset("float16", data=np.ones(4, dtype="f2"))
        odd.create_dataset("five_d", data=np.zeros((2, 1, 2, 1, 2)))
        odd.create_dataset("empty", shape=(0,), dtype="f8")
        odd.create_dataset("empty_2d", shape=(0, 5), maxshape=(None, 5), dtype="f4")
        odd.create_dataset("null", data=h5py.Empty("f8"))
        odd.create_dataset("scalar", data=3.5)
        vlen = odd.create_dataset("vlen_int", shape=(2,), dtype=h5py.vlen_dtype("i4"))
        vlen[0] = np.array([1], dtype="i4")
        odd.create_dataset("ref", data=[f.ref], dtype=h5py.ref_dtype)
        odd.create_dataset("opaque", data=np.void(b"\x00\x01"))
        odd.create_dataset("datetime", data=np.array([0], dtype=h5py.opaque_dtype("M8[s]")))
        odd.create_dataset("array_type", shape=(2,), dtype=np.dtype(("f8", (3,))))
        # garbage attributes
        junk = f.create_group("junk")
        g = junk.create_dataset("data", data=np.arange(6.0).reshape(2, 3))
        g.attrs["label"] = np.arange(10)
        g.attrs["units"] = np.zeros(2, dtype=[("a", "i4")])
        g.attrs["data_dimension"] = "garbage"
        g.attrs["nav_indexes"] = pmd("x")
        g.attrs["long_name"] = "L" * 1_000_000
        junk.attrs.update({"signal": "data", "axes": ["only_one"]})
        h = junk.create_dataset("data2", data=np.arange(6.0).reshape(2, 3))
        h.attrs["data_dimension"] = pmd("Data9D")
        h.attrs["nav_indexes"] = pmd((7, -1))
        junk.create_dataset("Axis00", data=np.arange(3.0)).attrs["index"] = pmd("abc")
        bad_units = junk.create_dataset("unreadable_units", data=np.arange(3.0))
        space = h5py.h5s.create(h5py.h5s.SCALAR)
        h5py.h5a.create(bad_units.id, b"units", h5py.h5t.UNIX_D32LE, space)  # no numpy type
        bad_units.attrs["label"] = "ok"
    return path


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


# --------------------------------------------------------------------------- tree_nodes


def test_tree_nodes_shape_and_links(zoo, tmp_path):
    with h5py.File(zoo, "a") as f:
        f["zlinks/soft"] = h5py.SoftLink("/plain/a")
        f["zlinks/external"] = h5py.ExternalLink("other.h5", "/x")
        f["zlinks/dangling"] = h5py.SoftLink("/nowhere")
        f["zlinks/loop"] = f["zlinks"]  # a hard link to an ancestor: no endless walk
        f["zlinks/again"] = f["plain"]
    with h5py.File(zoo, "r") as f:
        nodes = tree_nodes(f)
        sub = tree_nodes(f["plain"])
    json.dumps(nodes)
    by_path = {n["path"]: n for n in nodes}
    assert nodes[0] == {"path": "/", "name": "/", "parent": "", "kind": "group"}
    assert by_path["/plain"]["kind"] == "group"
    a = by_path["/plain/a"]
    assert a == {
        "path": "/plain/a",
        "name": "a",
        "parent": "/plain",
        "kind": "dataset",
        "shape": [5],
        "dtype": "float64",
        "plottable": True,
        "reason": "",
        "label": "a",
        "units": "V",
        "growing": False,
    }
    assert by_path["/zlinks/soft"]["kind"] == "link"
    assert by_path["/zlinks/soft"]["reason"] == "soft link to /plain/a"
    assert by_path["/zlinks/external"]["reason"] == "external link to other.h5:/x"
    assert by_path["/zlinks/dangling"]["kind"] == "link"
    assert by_path["/zlinks/loop"] == {
        "path": "/zlinks/loop",
        "name": "loop",
        "parent": "/zlinks",
        "kind": "link",
        "reason": "hard link to /zlinks",
    }
    assert by_path["/zlinks/again"]["reason"] == "hard link to /plain"
    assert by_path["/plain/trend"]["growing"] is True
    assert by_path["/odd/vlen_str"]["plottable"] is False
    assert by_path["/odd/null"]["shape"] == []
    assert by_path["/junk/unreadable_units"]["units"] == ""
    assert by_path["/RawData/Scan000/Detector000/Data0D/CH00/Data00"]["label"] == "photodiode"
    assert by_path["/RawData/Scan000/Detector000/Data0D/CH00/Data00"]["units"] == "V"
    # every node comes after its parent
    seen = {"/"}
    for n in nodes[1:]:
        assert n["parent"] in seen
        if n["kind"] == "group":
            seen.add(n["path"])
    assert sub[0] == {"path": "/plain", "name": "plain", "parent": "/", "kind": "group"}
    assert {n["path"] for n in sub} == {p for p in by_path if p.startswith("/plain")}
    # the tree agrees with describe_dataset
    with h5py.File(zoo, "r") as f:
        for n in nodes:
            if n["kind"] == "dataset":
                m = describe_dataset(f[n["path"]])
                assert (n["label"], n["units"], n["plottable"]) == (m.label, m.units, m.plottable)
                assert (n["dtype"], tuple(n["shape"]), n["growing"]) == (
                    m.dtype,
                    m.shape,
                    m.growing,
                )


def test_tree_nodes_depth_first_order(tmp_path):
    path = tmp_path / "order.h5"
    with h5py.File(path, "w") as f:
        for name in ("b/y", "a/z/d", "a/x", "c"):
            f.create_dataset(name, data=1.0)
    with h5py.File(path, "r") as f:
        paths = [n["path"] for n in tree_nodes(f)]
    assert paths == ["/", "/a", "/a/x", "/a/z", "/a/z/d", "/b", "/b/y", "/c"]


def test_tree_nodes_5000_datasets_is_fast(tmp_path):
    path = tmp_path / "big.h5"
    with h5py.File(path, "w", libver="latest") as f:
        for k in range(5000):
            ds = f.create_dataset(f"/Extra/G{k // 100:03d}/d{k:05d}", data=np.arange(4.0))
            ds.attrs["units"] = "V"
            ds.attrs["label"] = f"channel {k}"
    with h5py.File(path, "r", swmr=True) as f:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            nodes = tree_nodes(f)
            times.append(time.perf_counter() - t)
    assert sum(n["kind"] == "dataset" for n in nodes) == 5000
    assert nodes[-1]["label"] == "channel 4999"
    print(f"tree_nodes, 5000 datasets: best {min(times):.3f} s")
    assert min(times) < 1.5  # about 0.3 s on a 2-core CI machine; generous for slow runners


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
        proc = subprocess.Popen(
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
            proc.kill()
            pytest.fail(f"the PyMoDAQ writer failed: {proc.communicate(timeout=10)[1][-3000:]}")
        return path

    yield start
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.communicate("close\n", timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


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
