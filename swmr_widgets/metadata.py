"""Labels, units, axes and plot kind of HDF5 datasets, read from their attributes.

Three attribute conventions are understood, in this order of precedence:

* **PyMoDAQ**: attributes are JSON strings, decoded safely by
  :mod:`swmr_widgets.attrs`. ``data_dimension`` and ``nav_indexes`` split the
  dimensions into navigation (scan steps, time) and signal dimensions; axes are
  the sibling ``AxisNN`` datasets and the ``NavAxes`` group of the scan.
* **NeXus**: the parent group's ``@signal`` names the dataset and its ``@axes``
  (or ``@<name>_indices``) name the sibling axis datasets, each with
  ``@long_name`` and ``@units``.
* **Plain**: ``@units`` / ``@unit`` and ``@long_name`` / ``@label`` / ``@name``.

Nothing here raises on odd files: garbage attributes give default labels, and a
dataset that cannot be plotted says why in :attr:`DatasetMeta.reason`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from swmr_widgets.attrs import (
    _dim_count,
    _is_pymodaq,
    _LazyAttrs,
    _nav_indexes,
    _pick_label,
    _pick_units,
)
from swmr_widgets.conventions import (
    _AXIS_NAME,
    MAX_AXIS_VALUES,
    Axis,
    _nexus_axes,
    _pymodaq_axes,
    _scale_axes,
    netcdf_placeholder,
)
from swmr_widgets.swmr import explain_hdf5_error

__all__ = ["MAX_AXIS_VALUES", "Axis", "DatasetMeta", "broken_meta", "describe_dataset"]


# --------------------------------------------------------------------------- metadata classes


@dataclass(frozen=True)
class DatasetMeta:
    """What a viewer needs to know to plot a dataset.

    Attributes
    ----------
    path, name : str
        Absolute path and last path component.
    shape : tuple of int
        Shape when described (``()`` for scalars and null dataspaces).
    dtype : str
        Human-readable element type: ``"float64"``, ``"str"``, ``"compound"``, ...
    label, units : str
        What the values are and their units.
    plottable : bool
        Whether the values can be plotted; `reason` says why not.
    reason : str
        Why the dataset is not plottable ("" if it is).
    growing : bool
        Rows are appended along axis 0 (``maxshape[0] is None``).
    prefilled : bool
        A pre-allocated PyMoDAQ scan array filled in place (not growing).
    nav_ndim : int
        Leading dimensions indexing acquisition points (time / scan steps).
    signal_ndim : int
        Dimensions of one acquisition point: 0 (a number), 1 (a trace), 2 (an
        image) or more. PyMoDAQ stores 0-D points of growing arrays as ``(N, 1)``;
        then ``nav_ndim + signal_ndim < len(shape)`` and the extra dimensions have
        length 1.
    axes : tuple of Axis
        One per signal dimension, in order (``(y, x)`` for images).
    nav_axes : tuple of Axis
        One per navigation dimension.
    """

    path: str
    name: str
    shape: tuple[int, ...]
    dtype: str
    label: str
    units: str
    plottable: bool
    reason: str
    growing: bool
    prefilled: bool
    nav_ndim: int
    signal_ndim: int
    axes: tuple[Axis, ...]
    nav_axes: tuple[Axis, ...]

    @property
    def kind(self) -> str:
        """``"0d"``, ``"1d"``, ``"2d"``, ``"nd"``, or ``"none"`` if not plottable."""
        if not self.plottable:
            return "none"
        return {0: "0d", 1: "1d", 2: "2d"}.get(self.signal_ndim, "nd")

    @property
    def value_title(self) -> str:
        """``"label (units)"`` of the values."""
        return Axis(self.label, self.units).title


# --------------------------------------------------------------------------- element types


def _classify(dtype: np.dtype) -> tuple[str, bool, str]:
    """Human-readable dtype, whether it is plottable, and why not (cached)."""
    key = (dtype, str(dtype.metadata))
    found = _CLASSIFIED.get(key)
    if found is None:
        found = _CLASSIFIED[key] = _classify_uncached(dtype)
        if len(_CLASSIFIED) > 1024:
            _CLASSIFIED.clear()
    return found


_CLASSIFIED: dict[tuple[np.dtype, str], tuple[str, bool, str]] = {}


def _classify_uncached(dtype: np.dtype) -> tuple[str, bool, str]:
    if h5py.check_string_dtype(dtype) is not None:
        info = h5py.check_string_dtype(dtype)
        if info.length is None:
            return "str", False, "variable-length strings cannot be plotted"
        return "str", False, "strings cannot be plotted"
    if h5py.check_ref_dtype(dtype) is not None:
        return "reference", False, "object references cannot be plotted"
    vlen = h5py.check_vlen_dtype(dtype)
    if vlen is not None:
        return f"vlen {vlen}", False, "variable-length arrays cannot be plotted"
    enum = h5py.check_enum_dtype(dtype)
    if enum is not None:
        return f"enum ({dtype.name})", True, ""
    if dtype.subdtype is not None:
        return f"array {dtype}", False, "array-typed elements cannot be plotted"
    kind = dtype.kind
    if kind in "biuf":
        return dtype.name, True, ""
    if kind == "c":
        return dtype.name, False, "complex values: shown in the details pane only"
    if kind == "V":
        if dtype.names:
            return "compound", False, "compound (table) values cannot be plotted"
        return "opaque", False, "opaque values cannot be plotted"
    if kind in "Mm":
        return dtype.name, False, "date/time values cannot be plotted"
    if kind in "SU":
        return "str", False, "strings cannot be plotted"
    return str(dtype), False, f"{dtype} values cannot be plotted"


# --------------------------------------------------------------------------- dimensions and axes


def _split(
    shape: tuple[int, ...], growing: bool, attrs: Mapping[str, Any]
) -> tuple[int, int, bool]:
    """``(nav_ndim, signal_ndim, pymodaq)`` from the shape and attributes."""
    ndim = len(shape)
    dims = _dim_count(attrs.get("data_dimension"))
    nav_idx = _nav_indexes(attrs.get("nav_indexes"))
    if nav_idx is not None and (dims is not None or "data_dimension" in attrs):
        nav = min(len(nav_idx), ndim)
        signal = ndim - nav
        if dims is not None and signal > dims and all(s == 1 for s in shape[nav : ndim - dims]):
            signal = dims  # PyMoDAQ stores 0-D points of growing arrays as (N, 1)
        return nav, signal, True
    if dims is not None:
        signal = min(dims, ndim)
        nav = ndim - signal
        if growing and nav > 1 and all(s == 1 for s in shape[1:nav]):
            nav = 1  # growing 0-D points stored as (N, 1), without nav_indexes
        return nav, signal, True
    if growing and ndim >= 1:
        return 1, ndim - 1, False
    return 0, ndim, False


def _default_axes(nav: int, signal: int, growing: bool, prefilled: bool) -> tuple[list, list]:
    nav_label = "scan step" if prefilled and not growing else "index"
    nav_axes = [Axis(label=nav_label if nav == 1 else f"{nav_label} {k}") for k in range(nav)]
    if signal == 1:
        axes = [Axis(label="index")]
    elif signal == 2:
        axes = [Axis(label="row"), Axis(label="column")]
    else:
        axes = [Axis(label=f"dim {nav + k}") for k in range(signal)]
    return nav_axes, axes


# --------------------------------------------------------------------------- describe


#: Why a netCDF dimension placeholder is not offered as a plot.
NETCDF_PLACEHOLDER = "a netCDF dimension without values (a placeholder, not a variable)"


def broken_meta(path: str, reason: str) -> DatasetMeta:
    """The description of a dataset that cannot be read: not plottable, with `reason`."""
    name = path.rsplit("/", 1)[-1]
    return DatasetMeta(
        path, name, (), "unknown", name, "", False, reason, False, False, 0, 0, (), ()
    )


def describe_dataset(ds: h5py.Dataset, path: str | None = None) -> DatasetMeta:
    """Describe `ds`: label, units, plot kind, axes and how it is being written.

    Parameters
    ----------
    ds : h5py.Dataset
        An open dataset.
    path : str, optional
        The absolute path it is described at. A dataset with several hard
        links (NeXus links) is one object with one handle, whose ``name`` is
        whichever link opened it first; its axes and attributes of the parent
        group depend on the link it is seen through. Default: ``ds.name``.

    Returns
    -------
    DatasetMeta
        Never raises: a dataset that cannot be read gets ``plottable=False``
        and the reason.
    """
    if path is None:
        try:
            path = ds.name or ""
        except Exception:
            path = ""
    try:
        return _describe(ds, path)
    except Exception as exc:  # odd files must never break a viewer
        return broken_meta(path, f"could not describe the dataset: {explain_hdf5_error(exc)}")


def _parent(ds: h5py.Dataset, path: str) -> h5py.Group:
    """The group holding the link `path` to `ds` (``ds.parent`` names another link)."""
    if path and path != ds.name:
        parent = ds.file[path.rsplit("/", 1)[0] or "/"]
        if isinstance(parent, h5py.Group):
            return parent
    return ds.parent


def _describe(ds: h5py.Dataset, path: str) -> DatasetMeta:
    name = path.rsplit("/", 1)[-1]
    raw_shape = ds.shape
    shape = tuple(int(s) for s in raw_shape) if raw_shape is not None else ()
    dtype_str, plottable, reason = _classify(ds.dtype)
    if raw_shape is None:
        plottable, reason = False, "null dataspace: the dataset holds no values"
    attrs = _LazyAttrs(ds.id)
    if netcdf_placeholder(attrs):
        plottable, reason = False, NETCDF_PLACEHOLDER
    maxshape = ds.maxshape or ()
    growing = bool(maxshape) and maxshape[0] is None
    try:
        parent = _parent(ds, path)
        parent_attrs: Any = _LazyAttrs(parent.id)
        parent_name = (parent.name or "").rsplit("/", 1)[-1]
    except Exception:
        parent, parent_attrs, parent_name = None, {}, ""

    nav, signal, pymodaq = _split(shape, growing, attrs)
    pymodaq = pymodaq or _is_pymodaq(attrs, parent_name)
    prefilled = bool(_dim_count(attrs.get("data_dimension")) is not None or "nav_indexes" in attrs)
    prefilled = prefilled and not growing and nav >= 1
    nav_axes, axes = _default_axes(nav, signal, growing, prefilled)

    if parent is not None:
        try:
            nexus = _nexus_axes(ds, parent, parent_attrs, len(shape), name)
        except Exception:
            nexus = None
        if nexus is not None:
            for k in range(nav):
                nav_axes[k] = nexus[k] or nav_axes[k]
            for k in range(signal):
                if nav + k < len(nexus):
                    axes[k] = nexus[nav + k] or axes[k]
        elif pymodaq and not _AXIS_NAME.match(name) and attrs.get("data_type") != "axis":
            try:
                nav_found, sig_found = _pymodaq_axes(ds, parent, nav, signal, path)
            except Exception:
                nav_found, sig_found = [None] * nav, [None] * signal
            nav_axes = [a or d for a, d in zip(nav_found, nav_axes, strict=True)]
            axes = [a or d for a, d in zip(sig_found, axes, strict=True)]
        else:  # HDF5 dimension scales, as netCDF4 and xarray write them
            scales = _scale_axes(ds, len(shape))
            for k, axis in enumerate(scales or ()):
                if axis is None:
                    continue
                if k < nav:
                    nav_axes[k] = axis
                elif k - nav < signal:
                    axes[k - nav] = axis

    return DatasetMeta(
        path=path,
        name=name,
        shape=shape,
        dtype=dtype_str,
        label=_pick_label(attrs, parent_attrs, name, pymodaq),
        units=_pick_units(attrs, parent_attrs, pymodaq),
        plottable=plottable,
        reason=reason,
        growing=growing,
        prefilled=prefilled,
        nav_ndim=nav,
        signal_ndim=signal,
        axes=tuple(axes),
        nav_axes=tuple(nav_axes),
    )
