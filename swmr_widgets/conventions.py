"""Where a dataset's axes come from: PyMoDAQ, NeXus and HDF5 dimension scales.

* **PyMoDAQ**: sibling ``AxisNN`` datasets (with ``@index``, ``@offset``,
  ``@scaling``) for the signal, the scan's ``NavAxes`` group for navigation.
* **NeXus**: the parent group's ``@signal`` and ``@axes`` (or
  ``@<name>_indices``); ``@auxiliary_signals`` and ``<signal>_errors`` share
  the signal's axes; old-style datasets carry ``@signal=1`` and ``@axes``.
* **HDF5 dimension scales** (``ds.dims``), as netCDF4 and xarray write them.

Every finder returns ``None`` (or ``None`` slots) where the convention says
nothing, and never raises on odd files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from swmr_widgets.attrs import _index, _LazyAttrs, _names, _number, _text

__all__ = ["MAX_AXIS_VALUES", "Axis", "netcdf_placeholder"]

#: Largest axis dataset whose values are read into :attr:`Axis.values`.
MAX_AXIS_VALUES = 1_000_000
#: How many ancestor groups are searched for a PyMoDAQ ``NavAxes`` group.
_NAV_SEARCH_DEPTH = 6
#: What netCDF4 writes in ``@NAME`` of a dimension that is not a variable.
_NETCDF_DIM_ONLY = "This is a netCDF dimension but not a netCDF variable"

_AXIS_NAME = re.compile(r"^Axis\d+$")


@dataclass(frozen=True)
class Axis:
    """One axis of a dataset: what it is called, its units and its coordinates.

    Attributes
    ----------
    label, units : str
        Name and units of the axis ("" if unknown).
    values : numpy.ndarray or None
        Explicit coordinates read from an axis dataset (read-only), if known.
    offset, scaling : float
        Linear coordinates ``offset + scaling * index`` used without `values`.
    path : str
        Absolute path of the axis dataset it was read from ("" if none). Its
        `values` are not read when that dataset grows; follow it instead.
    """

    label: str = ""
    units: str = ""
    values: np.ndarray | None = field(default=None, compare=False, repr=False)
    offset: float = 0.0
    scaling: float = 1.0
    path: str = ""

    @property
    def title(self) -> str:
        """``"label (units)"``, or whichever of the two is known, or ``""``."""
        if self.label and self.units:
            return f"{self.label} ({self.units})"
        return self.label or self.units

    def coordinates(self, n: int) -> np.ndarray:
        """Float64 coordinates of the first `n` positions along the axis.

        Parameters
        ----------
        n : int
            Number of positions.

        Returns
        -------
        numpy.ndarray
            ``values[:n]`` when `values` has at least `n` entries, else
            ``offset + scaling * arange(n)``.
        """
        n = max(int(n), 0)
        if self.values is not None and len(self.values) >= n:
            return np.asarray(self.values[:n], dtype=np.float64)
        return self.offset + self.scaling * np.arange(n, dtype=np.float64)


def _axis_from(ds: h5py.Dataset, pymodaq: bool) -> tuple[Axis, int | None]:
    """An :class:`Axis` read from an axis dataset, and its ``@index`` if any."""
    attrs = _LazyAttrs(ds.id)
    label = _text(attrs.get("long_name")) or _text(attrs.get("label"))
    if not label and pymodaq:
        label = _text(attrs.get("TITLE"))
    label = label or ds.name.rsplit("/", 1)[-1]
    units = _text(attrs.get("units")) or _text(attrs.get("unit"))
    values = None
    try:
        growing = bool(ds.maxshape) and ds.maxshape[0] is None
        if (
            not growing
            and ds.ndim == 1
            and 0 < ds.size <= MAX_AXIS_VALUES
            and ds.dtype.kind in "biuf"
        ):
            values = np.asarray(ds[()], dtype=np.float64)
            values.setflags(write=False)
    except Exception:
        values = None
    axis = Axis(
        label=label,
        units=units,
        values=values,
        offset=_number(attrs.get("offset"), 0.0),
        scaling=_number(attrs.get("scaling"), 1.0) or 1.0,
        path=ds.name or "",
    )
    return axis, _index(attrs.get("index"))


def _child_datasets(group: h5py.Group, pattern: re.Pattern[str]) -> list[h5py.Dataset]:
    out = []
    for key in sorted(group):
        if not pattern.match(key):
            continue
        try:
            obj = group.get(key)
        except Exception:
            continue
        if isinstance(obj, h5py.Dataset):
            out.append(obj)
    return out


def _place(slots: list[Axis | None], axis: Axis, candidates: Iterable[int | None]) -> None:
    """Put `axis` in the first free slot among `candidates`, else the first free slot."""
    for c in candidates:
        if c is not None and 0 <= c < len(slots) and slots[c] is None:
            slots[c] = axis
            return
    for k, s in enumerate(slots):
        if s is None:
            slots[k] = axis
            return


def _pymodaq_axes(
    ds: h5py.Dataset, parent: h5py.Group, nav: int, signal: int, path: str | None = None
) -> tuple[list[Axis | None], list[Axis | None]]:
    """Signal axes from sibling ``AxisNN`` datasets, navigation axes from ``NavAxes``.

    `path` is where `ds` is seen (default ``ds.name``; hard links differ).
    """
    sig: list[Axis | None] = [None] * signal
    nav_slots: list[Axis | None] = [None] * nav
    path = path or ds.name
    if signal:
        for axis_ds in _child_datasets(parent, _AXIS_NAME):
            if axis_ds.name in (ds.name, path):
                continue
            axis, idx = _axis_from(axis_ds, True)
            # PyMoDAQ counts @index over the full array (nav dims first)
            _place(sig, axis, (None if idx is None else idx - nav, idx))
    if nav:
        group = parent
        for _ in range(_NAV_SEARCH_DEPTH):
            try:
                found = group.get("NavAxes")
            except Exception:
                found = None
            if isinstance(found, h5py.Group):
                for axis_ds in _child_datasets(found, _AXIS_NAME):
                    axis, idx = _axis_from(axis_ds, True)
                    _place(nav_slots, axis, (idx,))
                break
            if group.name in ("/", None):
                break
            group = group.parent
    return nav_slots, sig


def _nexus_axes(
    ds: h5py.Dataset,
    parent: h5py.Group,
    parent_attrs: _LazyAttrs,
    ndim: int,
    name: str | None = None,
) -> list[Axis | None] | None:
    """Axes of all dimensions from NeXus attributes, or ``None`` if not NeXus.

    The parent's ``@signal`` dataset, its ``@auxiliary_signals`` and their
    ``*_errors`` use the parent's ``@axes`` and ``@<axis>_indices``; an
    old-style dataset with ``@signal=1`` names its own ``@axes``. `name` is
    the link name `ds` is seen by in `parent` (default: from ``ds.name``,
    which names another link of a hard-linked dataset).
    """
    name = name or ds.name.rsplit("/", 1)[-1]
    signal = _text(parent_attrs.get("signal"))
    signals = {signal, *_names(parent_attrs.get("auxiliary_signals"))} - {"", "."}
    signals |= {f"{s}_errors" for s in signals}
    names: list[str] = []
    own = _LazyAttrs(ds.id)
    shares = name in signals
    if shares:
        names = _names(parent_attrs.get("axes"))
    elif _text(own.get("signal")) in ("1", "1.0") or own.get("signal") is True:
        names = _names(own.get("axes"))  # NeXus before 2014: attributes on the dataset
    slots: list[Axis | None] = [None] * ndim
    if len(names) == ndim:
        for k, axis_name in enumerate(names):
            slots[k] = _nexus_axis(parent, axis_name)
    if shares:
        for key in parent_attrs.names():
            if not key.endswith("_indices"):
                continue
            idx = _index(parent_attrs.get(key))
            if idx is not None and 0 <= idx < ndim and slots[idx] is None:
                slots[idx] = _nexus_axis(parent, key[: -len("_indices")])
    if all(s is None for s in slots):
        return None
    return slots


def _nexus_axis(parent: h5py.Group, axis_name: str) -> Axis | None:
    if not axis_name or axis_name == "." or "/" in axis_name:
        return None
    try:
        obj = parent.get(axis_name)
    except Exception:
        return None
    if not isinstance(obj, h5py.Dataset):
        return None
    return _axis_from(obj, False)[0]


def _scale_axes(ds: h5py.Dataset, ndim: int) -> list[Axis | None] | None:
    """Axes from the HDF5 dimension scales attached to `ds`, or ``None`` if none are."""
    slots: list[Axis | None] = [None] * ndim
    try:
        for k in range(ndim):
            if h5py.h5ds.get_num_scales(ds.id, k) == 0:
                continue
            scale = ds.dims[k][0]
            if scale.id == ds.id:  # a dimension scale is its own coordinate
                continue
            if netcdf_placeholder(_LazyAttrs(scale.id)):
                # a netCDF dimension with no variable: its "values" are fill, not coordinates
                slots[k] = Axis(label=ds.dims[k].label or scale.name.rsplit("/", 1)[-1])
                continue
            axis, _ = _axis_from(scale, False)
            label = axis.label if axis.label != scale.name.rsplit("/", 1)[-1] else ""
            slots[k] = Axis(
                label or ds.dims[k].label or axis.label,
                axis.units,
                axis.values,
                axis.offset,
                axis.scaling,
                axis.path,
            )
    except Exception:  # broken references: no axes from scales
        return None
    return slots if any(s is not None for s in slots) else None


def netcdf_placeholder(attrs: Mapping[str, Any]) -> bool:
    """Whether a dataset is a netCDF dimension that holds no variable (only its size)."""
    name = attrs.get("NAME")
    return isinstance(name, str) and name.startswith(_NETCDF_DIM_ONLY)
