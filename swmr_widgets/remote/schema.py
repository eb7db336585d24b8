"""What the publisher writes into Tiled's metadata, and how a viewer reads it back.

One Tiled container mirrors one HDF5 file, named after the file's stem. Its
children follow the HDF5 paths (``<stem>/RawData/CH000/Data0D/Data00``); groups
become containers, numeric datasets become arrays. The file container's
metadata holds, under :data:`KEY`:

``version``
    Layout version (:data:`VERSION`).
``source``
    The file's name on the acquisition host.
``nodes``
    The file's tree (:func:`swmr_widgets.nodes.tree_nodes`), so that a viewer
    lists datasets before their first row arrives.
``metas``
    Each dataset's :class:`~swmr_widgets.metadata.DatasetMeta` as JSON
    (labels, units, axes, plot kind), so the remote view labels its plots
    like the local one.
``state``
    ``"live"`` while the publisher follows the file, ``"finished"`` after.

Each array's metadata holds ``hdf5_path``, the decoded HDF5 attributes under
``attrs``, the meta again, ``fillvalue`` (if the writer set one) and, for
arrays filled in place, ``progress`` ``[filled, total]``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from swmr_widgets.conventions import Axis
from swmr_widgets.metadata import DatasetMeta

__all__ = [
    "KEY",
    "VERSION",
    "axis_from_json",
    "axis_to_json",
    "jsonable",
    "key_parts",
    "meta_from_json",
    "meta_to_json",
    "tiled_dtype_ok",
]

#: Key of the publisher's section in a Tiled node's metadata.
KEY = "swmr_widgets"
#: Layout version written by the publisher.
VERSION = 1
#: Axis coordinates sent inline at most (longer axes stay arrays of their own).
MAX_INLINE_VALUES = 4096


def key_parts(hdf5_path: str) -> list[str]:
    """The Tiled keys of an absolute HDF5 path (``"/a/b"`` → ``["a", "b"]``)."""
    return [p for p in hdf5_path.split("/") if p]


def tiled_dtype_ok(dtype: np.dtype) -> bool:
    """Whether a dataset of `dtype` is mirrored as a Tiled array (numbers and booleans)."""
    return dtype.kind in "biufc" and dtype.fields is None and dtype.subdtype is None


def axis_to_json(axis: Axis) -> dict[str, Any]:
    """An :class:`Axis` as JSON-ready data (short coordinate arrays inline)."""
    values = None
    if axis.values is not None and len(axis.values) <= MAX_INLINE_VALUES:
        values = [float(v) for v in np.asarray(axis.values, dtype=np.float64)]
    return {
        "label": axis.label,
        "units": axis.units,
        "values": values,
        "offset": _finite(axis.offset, 0.0),
        "scaling": _finite(axis.scaling, 1.0),
        "path": axis.path,
    }


def axis_from_json(data: dict[str, Any]) -> Axis:
    """The :class:`Axis` written by :func:`axis_to_json`."""
    values = data.get("values")
    array = None
    if values is not None:
        array = np.asarray(values, dtype=np.float64)
        array.setflags(write=False)
    return Axis(
        label=str(data.get("label") or ""),
        units=str(data.get("units") or ""),
        values=array,
        offset=float(data.get("offset", 0.0)),
        scaling=float(data.get("scaling", 1.0)),
        path=str(data.get("path") or ""),
    )


def meta_to_json(meta: DatasetMeta) -> dict[str, Any]:
    """A :class:`DatasetMeta` as JSON-ready data."""
    return {
        "path": meta.path,
        "name": meta.name,
        "shape": [int(n) for n in meta.shape],
        "dtype": meta.dtype,
        "label": meta.label,
        "units": meta.units,
        "plottable": meta.plottable,
        "reason": meta.reason,
        "growing": meta.growing,
        "prefilled": meta.prefilled,
        "nav_ndim": meta.nav_ndim,
        "signal_ndim": meta.signal_ndim,
        "axes": [axis_to_json(a) for a in meta.axes],
        "nav_axes": [axis_to_json(a) for a in meta.nav_axes],
    }


def meta_from_json(data: dict[str, Any], shape: tuple[int, ...] | None = None) -> DatasetMeta:
    """The :class:`DatasetMeta` written by :func:`meta_to_json` (`shape`: the current one)."""
    return DatasetMeta(
        path=str(data["path"]),
        name=str(data.get("name") or data["path"].rsplit("/", 1)[-1]),
        shape=tuple(int(n) for n in (shape if shape is not None else data.get("shape", ()))),
        dtype=str(data.get("dtype", "")),
        label=str(data.get("label") or ""),
        units=str(data.get("units") or ""),
        plottable=bool(data.get("plottable")),
        reason=str(data.get("reason") or ""),
        growing=bool(data.get("growing")),
        prefilled=bool(data.get("prefilled")),
        nav_ndim=int(data.get("nav_ndim", 0)),
        signal_ndim=int(data.get("signal_ndim", 0)),
        axes=tuple(axis_from_json(a) for a in data.get("axes", ())),
        nav_axes=tuple(axis_from_json(a) for a in data.get("nav_axes", ())),
    )


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-ready copy of a decoded HDF5 attribute (small arrays as lists, else text)."""
    if depth > 8:
        return repr(value)[:200]
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _finite(float(value), None)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.size <= 256 and value.dtype.kind in "biufUSO":
            return [jsonable(v, depth + 1) for v in value.reshape(-1).tolist()]
        return f"<array {value.shape} {value.dtype}>"
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in list(value.items())[:256]}
    if isinstance(value, list | tuple):
        return [jsonable(v, depth + 1) for v in value[:256]]
    if isinstance(value, np.generic):
        return jsonable(value.item(), depth + 1)
    return repr(value)[:200]


def _finite(value: float, default: float | None) -> float | None:
    return float(value) if math.isfinite(value) else default
