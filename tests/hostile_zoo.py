"""Datasets a viewer may meet in the wild, and what it should do with each.

:func:`make_zoo` writes them under ``/zoo`` of an open, writable file (before a
SWMR writer switches SWMR on, or into an ordinary file), and returns the
expectations. Used by ``test_hostile.py`` and by ``stream_writer.py --hostile``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

ZOO = "/zoo"
LONG_NAME = "a_very_long_dataset_name_" + "x" * 1000
UNICODE_NAME = "température_µm_数据_☃"
EXTERNAL_FILE = "zoo_external.h5"


@dataclass(frozen=True)
class Expect:
    """What the view should show for one dataset of the zoo.

    Attributes
    ----------
    panel : str
        Name of the panel class shown, or ``"link"`` for a link (not selectable).
    data : numpy.ndarray or None
        The values the marks must hold exactly, when there are marks to check.
    reason : str
        A fragment of the tree node's ``reason`` for what cannot be plotted.
    """

    panel: str
    data: np.ndarray | None = None
    reason: str = ""


def make_zoo(f: h5py.File) -> dict[str, Expect]:
    """Create the hostile datasets in `f` and return ``{path: Expect}``.

    Parameters
    ----------
    f : h5py.File
        A file opened for writing (not yet in SWMR mode).

    Returns
    -------
    dict of str to Expect
    """
    z = f.require_group(ZOO)
    out: dict[str, Expect] = {}

    def add(name: str, expect: Expect, data=None, **kwargs) -> None:
        z.create_dataset(name, data=data, **kwargs)
        out[f"{ZOO}/{name}"] = expect

    def series(name: str, data: np.ndarray, **kwargs) -> None:
        add(name, Expect("SeriesPanel", np.asarray(data).astype(np.float64)), data, **kwargs)

    add("scalar", Expect("ValuePanel", np.float32(3.25)), np.float64(3.25))
    add("empty_rows", Expect("SeriesPanel", np.zeros(0, np.float32)), None, shape=(0,),
        maxshape=(None,), dtype="f8", chunks=(16,))  # fmt: skip
    add(
        "empty_static", Expect("SeriesPanel", np.zeros(0, np.float32)), None, shape=(0,), dtype="f4"
    )
    add("zero_columns", Expect("ImagePanel"), None, shape=(5, 0), dtype="f8")
    add("zero_frames", Expect("ImagePanel"), None, shape=(0, 4, 6), maxshape=(None, 4, 6),
        dtype="u2", chunks=(1, 4, 6))  # fmt: skip
    add("zero_inner_5d", Expect("SlicePanel"), None, shape=(2, 0, 3, 4, 5), dtype="f4")
    add("fixed_str", Expect("DetailsPanel", reason="strings"), np.array([b"ab", b"cde"]))
    add("vlen_str", Expect("DetailsPanel", reason="variable-length strings"), ["x", "yy"],
        dtype=h5py.string_dtype())  # fmt: skip
    add("compound", Expect("DetailsPanel", reason="compound"),
        np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "i4"), ("b", "f8")]))  # fmt: skip
    enum = h5py.enum_dtype({"off": 0, "on": 1, "error": 7}, basetype="u1")
    series("enum", np.array([0, 1, 7, 1], dtype="u1"), dtype=enum)
    series("bool", np.array([True, False, True]))
    add("complex", Expect("DetailsPanel", reason="complex"), np.array([1 + 2j, -3j]))
    series("int64_big", np.array([2**40, 2**40 + 1, -(2**35), 2**31 + 5], dtype="i8"))
    series("uint64", np.array([0, 2**63, 2**64 - 1], dtype="u8"))
    series("float16", np.array([0.5, -1.5, 65504.0], dtype="f2"))
    when = np.array(["2024-01-01T00:00:00", "2024-06-01T12:30:00"], dtype="M8[s]")
    add("datetime_opaque", Expect("DetailsPanel", reason="date/time"),
        when.astype(h5py.opaque_dtype(when.dtype)))  # fmt: skip
    epoch = np.array([1_700_000_000, 1_700_000_001, 1_700_000_003], dtype="i8")
    series("epoch_seconds", epoch)
    z[f"{ZOO}/epoch_seconds"].attrs["units"] = "s since 1970-01-01T00:00:00Z"
    five = np.arange(2 * 3 * 4 * 5 * 6, dtype="f4").reshape(2, 3, 4, 5, 6)
    add("five_d", Expect("SlicePanel", five[0, 0, 0]), five)
    one_by_n = np.arange(7.0)[None, :] * 1.5
    add("one_by_n", Expect("ImagePanel", one_by_n), one_by_n)
    n_by_one = np.arange(6.0)[:, None] - 2.0
    add("n_by_one", Expect("ImagePanel", n_by_one), n_by_one)
    series(LONG_NAME, np.array([1.0, 2.0, 4.0]))
    series(UNICODE_NAME, np.array([-1.0, 0.25]))
    series("chunked", np.arange(40.0) ** 2, chunks=(7,))
    series("contiguous", np.arange(40.0) ** 2)
    add("null", Expect("DetailsPanel", reason="null dataspace"), h5py.Empty("f8"))
    z["soft_link"] = h5py.SoftLink(f"{ZOO}/chunked")
    out[f"{ZOO}/soft_link"] = Expect("link", reason="soft link")
    external = Path(f.filename).with_name(EXTERNAL_FILE)
    with h5py.File(external, "w") as g:
        g["target"] = np.arange(5.0)
    # an external link to data is shown as that dataset; a dangling one stays a link
    z["external_link"] = h5py.ExternalLink(EXTERNAL_FILE, "/target")
    out[f"{ZOO}/external_link"] = Expect("SeriesPanel", np.arange(5.0).astype(np.float32))
    z["external_dangling"] = h5py.ExternalLink("zoo_missing.h5", "/target")
    out[f"{ZOO}/external_dangling"] = Expect("link", reason="external link to zoo_missing.h5")
    return out
