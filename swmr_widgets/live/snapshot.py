"""What a feed shows, at full resolution, with its axes: the data an export writes.

:func:`snapshot` turns a feed into :class:`Curve` objects: the values as
stored (never the decimated marks) and their axes (values, label, units):

=============  ==========================================================
feed           curve
=============  ==========================================================
series         every row read so far (read again from the file, read-only),
               against its index or navigation axis; a scan array: its
               filled points
trace          the latest trace, against its axis
frame          the latest frame (or the static image), against its y and x axes
map            the scan map filled so far (NaN where not filled), against the
               navigation axes
slice          the slice shown, against its dimension indices
value          the scalar value
trend / ROI    every number kept, against the source's index or axis
=============  ==========================================================

An optional range (in axis units) keeps only what lies inside it, as a
zoomed plot shows. Nothing here writes: the file followed is only read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from swmr_widgets.live.axes import AxisReader
from swmr_widgets.live.feeds import (
    Feed,
    FrameFeed,
    MapFeed,
    SeriesFeed,
    SliceFeed,
    TraceFeed,
    ValueFeed,
    first_column,
)
from swmr_widgets.live.trends import TrendFeed

__all__ = ["AxisData", "Curve", "snapshot"]

Range = tuple[float, float] | None


@dataclass(frozen=True)
class AxisData:
    """One axis of a curve: its name, coordinates, label and units."""

    name: str
    values: np.ndarray
    label: str = ""
    units: str = ""


@dataclass(frozen=True)
class Curve:
    """One array shown, with one axis per dimension (in order: rows, then columns).

    Attributes
    ----------
    name : str
        Short name (the dataset's name, or the trend's).
    values : numpy.ndarray
        The values, in their stored dtype (maps and trends are float64).
    label, units : str
        What the values are.
    axes : tuple of AxisData
        One per dimension of `values`.
    source : str
        Path of the dataset in the file followed.
    """

    name: str
    values: np.ndarray
    label: str = ""
    units: str = ""
    axes: tuple[AxisData, ...] = field(default_factory=tuple)
    source: str = ""


class NothingToExport(ValueError):
    """A feed that shows nothing that can be written as an array."""


def snapshot(feed: Feed, x_range: Range = None, y_range: Range = None) -> Curve:
    """The data `feed` shows, at full resolution, within the optional ranges.

    Parameters
    ----------
    feed : Feed
        A feed of :class:`~swmr_widgets.live.LiveFile` (its last poll is used).
    x_range, y_range : (float, float), optional
        Keep only coordinates inside these inclusive ranges (x: the last axis;
        y: the rows of an image).

    Raises
    ------
    NothingToExport
        For datasets that cannot be plotted, and feeds that read nothing yet.
    """
    meta = feed.meta
    label, units = meta.label or meta.name, meta.units
    if isinstance(feed, TrendFeed):
        x, y = feed.trend()
        axis = AxisData(_name(feed.index_title), x, feed.index_title, "")
        if feed.axis.axis is not None and not feed.is_map:
            axis = _axis_data(feed.axis, x, "index")
        curve = Curve(_name(feed.name), y, feed.name, "", (axis,), feed.path)
    elif isinstance(feed, SeriesFeed):
        curve = _series(feed, label, units)
    elif isinstance(feed, TraceFeed):
        latest = feed.follower.latest
        if latest is None:
            raise NothingToExport(f"{feed.path}: no trace read yet")
        values = np.array(latest).reshape(-1)
        x = _axis_data(feed.x_axis, feed.x_axis.first(values.size), "x")
        curve = Curve(meta.name, values, label, units, (x,), feed.path)
    elif isinstance(feed, FrameFeed | MapFeed):
        if isinstance(feed, MapFeed):
            image = feed.map.copy()
        elif feed.static:
            image = np.asarray(feed.dataset[()])
        else:
            latest = feed.follower.latest
            if latest is None:
                raise NothingToExport(f"{feed.path}: no frame read yet")
            image = np.array(latest)
        image = image.reshape(image.shape[-2:])
        ny, nx = image.shape
        axes = (
            _axis_data(feed.y_axis, feed.y_axis.first(ny), "y"),
            _axis_data(feed.x_axis, feed.x_axis.first(nx), "x"),
        )
        curve = Curve(meta.name, image, label, units, axes, feed.path)
    elif isinstance(feed, SliceFeed):
        if 0 in feed.shape:
            raise NothingToExport(f"{feed.path}: empty")
        values = np.asarray(feed.dataset[feed.index])
        nd = len(feed.shape)
        axes = tuple(
            AxisData(f"dim{d}", np.arange(n, dtype=np.float64), f"dim {d}")
            for d, n in zip(range(nd - 2, nd), values.shape, strict=True)
        )
        curve = Curve(meta.name, values, label, units, axes, feed.path)
    elif isinstance(feed, ValueFeed):
        curve = Curve(meta.name, np.asarray(feed.dataset[()]), label, units, (), feed.path)
    else:
        raise NothingToExport(f"{feed.path} cannot be plotted, so it is not exported")
    return _crop(curve, x_range, y_range)


def _series(feed: SeriesFeed, label: str, units: str) -> Curve:
    follower = feed.follower
    if follower.mode == "append":
        # every row read so far: the panel's summary holds only its extremes
        stop = follower.cursor
        values = (
            first_column(feed.dataset[:stop]) if stop else first_column(follower.history.values[:0])
        )
        idx = np.arange(stop, dtype=np.int64)
    else:
        hist = follower.history
        values, idx = first_column(hist.values), hist.indices.copy()
        if values.dtype.kind in "fc":
            keep = ~np.isnan(values)
            values, idx = values[keep], idx[keep]
    x, known = feed.axis.at(idx)
    axis = _axis_data(feed.axis, x, "index")
    return Curve(feed.meta.name, values[known], label, units, (axis,), feed.path)


def _axis_data(reader: AxisReader, values: np.ndarray, default: str) -> AxisData:
    axis = reader.axis
    if axis is None:
        return AxisData(default, np.asarray(values, dtype=np.float64), default)
    name = _name(axis.label or (axis.path.rsplit("/", 1)[-1] if axis.path else default))
    return AxisData(name, np.asarray(values, dtype=np.float64), axis.label, axis.units)


def _name(text: str) -> str:
    """A name usable as an HDF5 dataset, NumPy key or CSV column."""
    keep = "".join(c if c.isalnum() or c in "_-." else "_" for c in text.strip())
    return keep.strip("_") or "axis"


def _crop(curve: Curve, x_range: Range, y_range: Range) -> Curve:
    if not curve.axes or (x_range is None and y_range is None):
        return curve
    values = curve.values
    axes = list(curve.axes)
    slices: list[np.ndarray | slice] = [slice(None)] * values.ndim
    for dim, bounds in ((values.ndim - 1, x_range), (values.ndim - 2, y_range)):
        if bounds is None or dim < 0:
            continue
        lo, hi = sorted(float(b) for b in bounds)
        coords = axes[dim].values
        keep = np.flatnonzero((coords >= lo) & (coords <= hi))
        slices[dim] = keep
        axes[dim] = AxisData(axes[dim].name, coords[keep], axes[dim].label, axes[dim].units)
    if values.ndim == 2:
        rows = slices[0] if not isinstance(slices[0], slice) else np.arange(values.shape[0])
        cols = slices[1] if not isinstance(slices[1], slice) else np.arange(values.shape[1])
        values = values[np.ix_(rows, cols)]
    else:
        values = values[tuple(slices)]
    return Curve(curve.name, values, curve.label, curve.units, tuple(axes), curve.source)


def snapshots(feeds: Sequence[Feed], x_range: Range = None, y_range: Range = None) -> list[Curve]:
    """:func:`snapshot` of each feed that shows something (others are left out)."""
    out = []
    for feed in feeds:
        try:
            out.append(snapshot(feed, x_range, y_range))
        except NothingToExport:
            continue
    return out
