"""Hostile datasets and attributes: every one is plotted right or explained, none stops the loop.

The zoo of ``hostile_zoo.py`` is checked one dataset at a time in a closed file,
then all together in a file a SWMR writer is appending to, with the refresh
loop running. Hypothesis generates numeric datasets, arbitrary dtypes with
arbitrary attributes, and code-execution payloads for the attribute decoder.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import tempfile
import time
from pathlib import Path

import h5py
import hostile_zoo
import numpy as np
import pytest
import stream_writer as sw
import traitlets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("bqplot")
pytest.importorskip("anywidget")

from swmr_widgets import SwmrView
from swmr_widgets.attrs import MAX_PARSED_CHARS, decode_attr, read_attrs
from swmr_widgets.metadata import describe_dataset
from swmr_widgets.nodes import tree_nodes
from swmr_widgets.panels import DetailsPanel

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> tuple[Path, dict[str, hostile_zoo.Expect]]:
    path = tmp_path_factory.mktemp("zoo") / "zoo.h5"
    with h5py.File(path, "w", libver="latest") as f:
        expect = hostile_zoo.make_zoo(f)
    return path, expect


def marks_of(view: SwmrView) -> list:
    return [m for fig in view.figures for m in fig.marks]


def check_shown(view: SwmrView, path: str, expect: hostile_zoo.Expect) -> None:
    """Assert that `view` shows `path` (selected alone) as `expect` says."""
    assert [type(p).__name__ for p in view.panels] == [expect.panel], path
    assert "error" not in view.status, view.status
    panel = view.panels[0]
    if expect.panel == "SeriesPanel":
        mark = marks_of(view)[0]
        np.testing.assert_array_equal(np.asarray(mark.y), expect.data)
        np.testing.assert_array_equal(np.asarray(mark.x), np.arange(len(expect.data)))
    elif expect.panel == "ValuePanel":
        assert str(float(expect.data)) in panel.html.value
    elif expect.panel in ("ImagePanel", "SlicePanel") and expect.data is not None:
        color = np.asarray(marks_of(view)[0].image)
        np.testing.assert_array_equal(color, np.broadcast_to(expect.data, color.shape))
        # float32 only where that is exact (these small values), float64 otherwise
        assert color.dtype == (
            np.float32 if np.all(color == color.astype(np.float32)) else np.float64
        )
    elif expect.panel == "DetailsPanel":
        assert isinstance(panel, DetailsPanel)
        assert "not plotted" in panel.html.value
        assert html.escape(expect.reason) in panel.html.value


# --------------------------------------------------------------------------- the zoo, one by one


def test_every_zoo_dataset_is_plotted_right_or_explained(zoo, views):
    path, expect = zoo
    view = views(path)
    nodes = {n["path"]: n for n in view._tree.nodes}
    assert len(expect) == 28
    for p, e in expect.items():
        node = nodes[p]
        if e.panel == "link":
            assert node["kind"] == "link"
            assert not node.get("plottable")
            assert e.reason in node["reason"]
            assert p not in view.paths
            with pytest.raises(traitlets.TraitError, match="unknown dataset"):
                view.selected = (p,)
            continue
        plottable = e.panel != "DetailsPanel"
        assert node["plottable"] is plottable, p
        assert bool(node["reason"]) is not plottable, node
        assert e.reason in node["reason"]
        view.selected = (p,)
        check_shown(view, p, e)
        view.refresh()  # a second tick changes nothing and breaks nothing
        check_shown(view, p, e)
    assert hostile_zoo.LONG_NAME in nodes[f"{hostile_zoo.ZOO}/{hostile_zoo.LONG_NAME}"]["name"]
    assert f"{hostile_zoo.ZOO}/{hostile_zoo.UNICODE_NAME}" in view.paths
    assert json.dumps(view._tree.nodes)  # the tree travels as JSON


def test_zoo_in_a_live_file_never_stops_the_loop(stream_factory, views, tmp_path):
    """Cycle through every zoo dataset, alone and next to a growing channel, while a SWMR
    writer appends and the refresh loop runs every 30 ms."""
    w = stream_factory("live_zoo.h5", "--hostile", "--rows-per-s", "2000", "--frame-hz", "10")
    w.expect("created")
    w.expect("swmr")
    w.expect("ready")
    with h5py.File(tmp_path / "expected.h5", "w") as f:
        expect = {p: e for p, e in hostile_zoo.make_zoo(f).items() if e.panel != "link"}
    view = views(w.path, interval=0.03)
    errors: list[dict] = []
    statuses: list[str] = []

    async def tick_a_few(n: int = 2) -> None:
        for _ in range(n):
            await asyncio.sleep(0.035)
            statuses.append(view.status)

    async def main() -> bool:
        asyncio.get_running_loop().set_exception_handler(lambda _l, c: errors.append(c))
        view.start()
        for p, e in expect.items():
            view.selected = (p,)
            await tick_a_few()
            check_shown(view, p, e)
            view.selected = (sw.VALUE, p)
            await tick_a_few()
        view.selected = (*expect, sw.VALUE, sw.COUNTER, sw.FRAMES)
        await tick_a_few(5)
        view.selected = (sw.VALUE,)
        await tick_a_few(3)
        alive = view._ticker._task is not None and not view._ticker._task.done()
        view.stop()
        return alive

    t0 = time.monotonic()
    assert asyncio.run(main())
    assert errors == []
    assert not [s for s in statuses if "error" in s]
    totals = w.finish()
    view.refresh()
    x = np.asarray(view.figures[0].marks[0].x)
    assert x[-1] == totals["rows"] - 1
    assert time.monotonic() - t0 < 30


# --------------------------------------------------------------------------- hypothesis: numeric

NUMERIC = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "?"]


def _values(dtype: str, shape: tuple[int, ...], seed: int, nans: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "?":
        return rng.random(shape) > 0.5
    info = np.iinfo(dtype) if dtype[0] in "iu" else None
    if info is not None:  # the whole range, extremes included
        data = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
        return data
    data = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
    if nans and data.size:
        data.flat[rng.integers(data.size)] = np.nan
    return data


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    dtype=st.sampled_from(NUMERIC),
    shape=st.lists(st.integers(0, 6), min_size=0, max_size=5).map(tuple),
    growing=st.booleans(),
    chunked=st.booleans(),
    nans=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_numeric_datasets_never_leave_an_error(views, dtype, shape, growing, chunked, nans, seed):
    data = _values(dtype, shape, seed, nans)
    kwargs: dict = {}
    if shape and growing and 0 not in shape[1:]:
        kwargs = {"maxshape": (None, *shape[1:]), "chunks": tuple(max(s, 1) for s in shape)}
    elif shape and chunked and 0 not in shape:
        kwargs = {"chunks": tuple(max(s // 2, 1) for s in shape)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "n.h5"
        with h5py.File(path, "w", libver="latest") as f:
            f.create_dataset("d", data=data, **kwargs)
        view = views(path, selected=["/d"])
        first = view.status
        view.refresh()
        assert "error" not in first, first
        assert "error" not in view.status, view.status
        meta = view.live.meta("/d")
        assert meta.plottable
        if len(shape) == 1:  # a series: every finite value on the line, exactly
            y_all = data.astype(np.float64)
            keep = ~np.isnan(y_all)
            mark = view.figures[0].marks[0]
            np.testing.assert_array_equal(np.asarray(mark.y), y_all[keep])
            np.testing.assert_array_equal(np.asarray(mark.x), np.flatnonzero(keep))
        elif len(shape) == 2 and not kwargs.get("maxshape") and min(shape) >= 2:
            color = np.asarray(view.figures[0].marks[0].image)
            np.testing.assert_array_equal(color, data.astype(np.float64))
        view.close()


# --------------------------------------------------------------------------- hypothesis: any dtype

_SCALAR_DTYPES = st.sampled_from(
    [
        np.dtype("f8"),
        np.dtype("i2"),
        np.dtype("u8"),
        np.dtype("c8"),
        np.dtype("S5"),
        h5py.string_dtype(),
        h5py.string_dtype("ascii", 7),
        np.dtype([("a", "i4"), ("b", "f8"), ("c", "S3")]),
        np.dtype([("nested", [("x", "f4"), ("y", "f4")])]),
        np.dtype(("f4", (2, 3))),
        h5py.enum_dtype({"a": 1, "b": -5}, basetype="i1"),
        h5py.vlen_dtype(np.dtype("i4")),
        h5py.opaque_dtype(np.dtype("M8[ns]")),
        np.dtype("V12"),
        h5py.ref_dtype,
        np.dtype("?"),
        np.dtype("f2"),
    ]
)

# h5py cannot store NUL in attributes, nor lone surrogates (not encodable as UTF-8)
_TEXT = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))

_ATTR_VALUES = st.one_of(
    st.text(_TEXT, max_size=300),
    st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\xff")),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(-1000, 1000), max_size=20).map(lambda v: np.array(v, dtype="i8")),
    st.lists(st.text(_TEXT, max_size=10), min_size=1, max_size=5).map(
        lambda v: np.array(v, dtype=h5py.string_dtype())
    ),
    st.text(max_size=200).map(
        lambda t: json.dumps({"module": "builtins", "type": "str", "data": t})
    ),
    st.sampled_from(["Data0D", "Data1D", "Data2D", "DataND", "(0,)", "(0, 1, 7)", "nan"]).map(
        lambda t: json.dumps({"module": "builtins", "type": "str", "data": t})
    ),
)

_ATTR_NAMES = st.sampled_from(
    ["units", "unit", "label", "long_name", "name", "TITLE", "data_dimension", "nav_indexes",
     "signal", "axes", "index", "offset", "scaling", "x_indices", "ütf-8 ☃", "z" * 300]
)  # fmt: skip


def _fill(dtype: np.dtype, shape: tuple[int, ...], f: h5py.File) -> np.ndarray | None:
    """Some data of `dtype` (or None: let HDF5 fill it)."""
    if h5py.check_ref_dtype(dtype) is not None:
        data = np.empty(shape, dtype=dtype)
        data[...] = f.ref
        return data
    if h5py.check_vlen_dtype(dtype) not in (None, str, bytes):
        data = np.empty(shape, dtype=dtype)
        for i in np.ndindex(shape):
            data[i] = np.arange(sum(i) % 4, dtype="i4")
        return data
    return None


@settings(max_examples=60, deadline=None)
@given(
    dtype=_SCALAR_DTYPES,
    shape=st.lists(st.integers(0, 3), max_size=3).map(tuple),
    growing=st.booleans(),
    attrs=st.dictionaries(_ATTR_NAMES, _ATTR_VALUES, max_size=6),
    parent_attrs=st.dictionaries(_ATTR_NAMES, _ATTR_VALUES, max_size=4),
)
def test_describe_tree_and_attrs_never_raise(dtype, shape, growing, attrs, parent_attrs):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.h5"
        with h5py.File(path, "w", libver="latest") as f:
            g = f.create_group("CH00")
            kwargs: dict = {}
            if growing and shape and 0 not in shape[1:]:
                kwargs = {"maxshape": (None, *shape[1:]), "chunks": tuple(max(s, 1) for s in shape)}
            ds = g.create_dataset("Data00", shape=shape, dtype=dtype, data=_fill(dtype, shape, f),
                                  **kwargs)  # fmt: skip
            ds.attrs.update(attrs)
            g.attrs.update(parent_attrs)
        with h5py.File(path, "r") as f:
            meta = describe_dataset(f["CH00/Data00"])
            nodes = tree_nodes(f)
            decoded = read_attrs(f["CH00/Data00"])
    assert bool(meta.reason) is not meta.plottable
    assert len(meta.label) <= 200 and len(meta.units) <= 200
    node = next(n for n in nodes if n["path"] == "/CH00/Data00")
    assert node["plottable"] is meta.plottable
    assert bool(node["reason"]) is not node["plottable"]
    json.dumps(nodes)
    assert set(decoded) == set(attrs)


# --------------------------------------------------------------------------- attribute payloads


MARKER = Path(tempfile.gettempdir()) / f"swmr_widgets_pwned_{id(object())}"


def _side_effects() -> list[str]:
    m = repr(str(MARKER))
    return [
        f"__import__('pathlib').Path({m}).touch()",
        f"__import__('os').system('touch ' + {m})",
        f"open({m}, 'w').close()",
        f"exec(\"open({m}, 'w').close()\")",
        f"eval(\"open({m}, 'w').close()\")",
        f"(lambda: open({m}, 'w'))()",
        f"[open({m}, 'w') for _ in (1,)]",
        f"getattr(__builtins__, 'open')({m}, 'w')",
        f"().__class__.__base__.__subclasses__()[0]({m})",
    ]


_WRAPPERS = st.sampled_from(
    [
        "{}",
        "({},)",
        "[1, {}]",
        "np.float64({})",
        "numpy.int64({})",
        "np.str_({})",
        "np.bool_({})",
        "array({})",
        "array([1, 2], dtype={})",
        "np.array([{}])",
        "datetime.datetime({})",
        "datetime.date(2024, {}, 1)",
        "{{'a': {}}}",
        "b'x' + {}",
        "1 if {} else 2",
        "f'{{{}}}'",
    ]
)


@settings(max_examples=250, deadline=None)
@given(
    wrappers=st.lists(_WRAPPERS, min_size=1, max_size=3),
    effect=st.sampled_from(_side_effects()),
    type_name=st.sampled_from(["str", "float", "int", "tuple", "ndarray", "datetime", "X"]),
    module=st.sampled_from(["builtins", "numpy", "os", "subprocess", "pymodaq.utils"]),
    as_bytes=st.booleans(),
)
def test_decode_attr_never_executes_code(wrappers, effect, type_name, module, as_bytes):
    payload = effect
    for wrapper in wrappers:
        payload = wrapper.format(payload)
    raw = json.dumps({"module": module, "type": type_name, "data": payload})
    for value in (raw, payload, np.array([raw.encode() if as_bytes else raw])):
        out = decode_attr(value.encode() if as_bytes and isinstance(value, str) else value)
        assert not MARKER.exists(), payload
        assert not callable(out)
    assert isinstance(decode_attr(raw), str | list | tuple | dict | int | float)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # data of unexpected JSON types: plain JSON values are kept, containers are not parsed
        ('{"module": "builtins", "type": "list", "data": [1, 2]}', str),
        ('{"module": "builtins", "type": "dict", "data": {"a": 1}}', str),
        ('{"module": "builtins", "type": "NoneType", "data": null}', type(None)),
        ('{"module": "builtins", "type": 5, "data": "2"}', int),
        ('{"module": "builtins", "type": "float", "data": NaN}', float),
        ('{"module": "builtins", "type": "float", "data": "1e999"}', float),
        ('{"module": "builtins", "type": "int", "data": "' + "9" * 5000 + '"}', str),
        # text around the JSON, a BOM, a second "data" key
        ('  {"module": "builtins", "type": "str", "data": "\'nm\'"}', str),
        ('\ufeff{"module": "builtins", "type": "str", "data": "\'nm\'"}', str),
        ('{"type": "str", "data": "\'nm\'", "data": "__import__(\'os\')"}', str),
        # a JSON attribute nested in another one is a dict literal, not code
        (json.dumps({"type": "str", "data": json.dumps({"type": "str", "data": "1"})}), dict),
    ],
)
def test_decode_unexpected_pymodaq_json(raw, expected):
    assert isinstance(decode_attr(raw), expected)
    assert isinstance(decode_attr(raw.encode("utf-8", "surrogatepass")), expected)


def test_hostile_attributes_in_a_file_are_shown_safely(tmp_path, views):
    """Huge, markup-laden, unreadable and exploit attributes on a live-viewed dataset."""
    marker = tmp_path / "pwned"
    path = tmp_path / "attrs.h5"
    huge = "u" * (10 * MAX_PARSED_CHARS)  # 1 MB of units
    script = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    exploit = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    with h5py.File(path, "w", libver="latest") as f:
        g = f.create_group("RawData/Detector000/Data1D/CH00")
        d = g.create_dataset("Data00", data=np.arange(12.0).reshape(3, 4), maxshape=(None, 4))
        d.attrs["units"] = huge
        d.attrs["label"] = json.dumps({"module": "builtins", "type": "str", "data": script})
        d.attrs["data_dimension"] = json.dumps({"module": "x", "type": "str", "data": exploit})
        d.attrs["nav_indexes"] = json.dumps({"module": "x", "type": "tuple", "data": exploit})
        d.attrs["huge_json"] = json.dumps({"module": "b", "type": "str", "data": "'" + huge + "'"})
        d.attrs.create("compound", np.array((1, 2.0), dtype=[("a", "i4"), ("b", "f8")]))
        d.attrs["ref"] = f.ref
        d.attrs["empty"] = h5py.Empty("f4")
        d.attrs["bad_utf8"] = np.bytes_(b"\xff\xfe\x00bad")
        a = g.create_dataset("Axis00", data=np.arange(4.0))
        a.attrs["index"] = json.dumps({"module": "builtins", "type": "int", "data": exploit})
        a.attrs["offset"] = json.dumps({"module": "numpy", "type": "float64", "data": exploit})
        s = g.create_dataset("names", data=np.array([script.encode()]))
        s.attrs["label"] = script
    t0 = time.perf_counter()
    view = views(path, selected=["/RawData/Detector000/Data1D/CH00/Data00"])
    view.refresh()
    elapsed = time.perf_counter() - t0
    assert not marker.exists()
    assert "error" not in view.status, view.status
    assert elapsed < 3
    meta = view.live.meta("/RawData/Detector000/Data1D/CH00/Data00")
    assert meta.label == script  # shown as text, never run
    assert len(meta.units) == 200
    view.selected = ("/RawData/Detector000/Data1D/CH00/names",)
    details = view.panels[0].html.value
    assert "<script>" not in details and "<img" not in details
    assert html.escape(script)[:40] in details
    assert "error" not in view.status
    # every attribute of the first dataset is decoded or skipped, none raises
    with h5py.File(path, "r") as f:
        attrs = read_attrs(f["RawData/Detector000/Data1D/CH00/Data00"])
    assert attrs["units"] == huge
    assert attrs["huge_json"].startswith("{")  # too long to parse: kept as text
    assert attrs["bad_utf8"].endswith("bad")
    assert not marker.exists()


@pytest.mark.parametrize("n", [1, 2, 3])
def test_several_hostile_series_at_once_keep_their_own_values(zoo, views, n):
    """Several plottable 1-D zoo datasets selected together: each line is its own data."""
    path, expect = zoo
    series = [p for p, e in expect.items() if e.panel == "SeriesPanel" and len(e.data)]
    for group in itertools.islice(itertools.combinations(series, n), 0, None, 7):
        view = views(path, selected=group)
        assert "error" not in view.status
        # 1-D static arrays are each drawn against their own index, one panel each
        ys = [np.asarray(m.y) for m in marks_of(view)]
        assert len(ys) == n
        for y, p in zip(ys, group, strict=True):
            np.testing.assert_array_equal(y, expect[p].data)
        view.close()
