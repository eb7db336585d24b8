"""Attribute decoding: plain values, PyMoDAQ JSON, exploits and garbage."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metadata_zoo import pmd

from swmr_widgets.attrs import MAX_PARSED_CHARS, decode_attr, read_attrs
from swmr_widgets.metadata import describe_dataset
from swmr_widgets.nodes import tree_nodes

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
