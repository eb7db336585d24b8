"""HDF5 attributes as PyMoDAQ writes them, and a small file with one dataset per case.

Used by ``test_attrs.py``, ``test_metadata.py`` and ``test_nodes.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np


def pmd(value, module: str | None = None, type_name: str | None = None, data=None) -> str:
    """An attribute encoded the way PyMoDAQ does (``JsonConverter.object2json``)."""
    return json.dumps(
        {
            "module": module or type(value).__module__,
            "type": type_name or type(value).__name__,
            "data": repr(value) if data is None else data,
        }
    )


def write_zoo(path: Path) -> Path:
    """Write a small file with one dataset per case (NeXus, plain, PyMoDAQ, odd) to `path`."""
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
