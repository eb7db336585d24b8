"""Derived trends: a number computed from every new trace, frame or value of a dataset.

A :class:`TrendFeed` follows its source dataset on its own cursor, so that it
sees *every* point the writer adds (all the rows that arrive in one poll, not
just the latest), calls a function on each, and keeps the numbers it returns.
Its updates are :class:`TrendRows` (a :class:`~swmr_widgets.live.updates.Rows`
named after the trend), so they come out of :meth:`LiveFile.poll` like any
other feed's.

A :class:`RoiFeed` is a trend whose function is the sum (or mean) of a
rectangle of each frame, or of a band of each trace; the rectangle can be
moved while the trend runs. Its bounds are in the image's axis units when the
dataset has axes (PyMoDAQ ``AxisNN``, NeXus ``@axes``, dimension scales), in
pixel indices otherwise, and are inclusive. On a 2-D scan of single values
(a map that fills in), the ROI is taken over the filled part of the map, once
per poll that filled new points, against the number of points filled.

Framework-free: no ipywidgets, no bqplot.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import h5py
import numpy as np

from swmr_widgets.follow import DatasetFollower, History
from swmr_widgets.live.axes import AxisReader, Resolve
from swmr_widgets.live.feeds import _FollowingFeed, first_column
from swmr_widgets.live.updates import Rows
from swmr_widgets.metadata import DatasetMeta

__all__ = ["Roi", "RoiFeed", "TrendFeed", "TrendRows"]

#: Numbers kept per trend (older ones are dropped from the front).
TREND_POINTS = 1_000_000
#: Bytes of source points read at most by one poll while catching up.
CATCH_UP_BYTES = 64 * 2**20
#: Calls of the trend's function at most per poll (the rest waits for the next polls).
CATCH_UP_CALLS = 10_000

Reduce = Literal["sum", "mean"]
Bounds = tuple[float, float] | None


@dataclass(frozen=True)
class TrendRows(Rows):
    """New numbers of a derived trend (a :class:`Rows` that names its trend).

    Attributes
    ----------
    name : str
        The trend's name.
    errors : int
        Points of this update on which the function raised (their value is NaN).
    """

    name: str = ""
    errors: int = 0


class TrendFeed(_FollowingFeed):
    """Calls `fn` on each new point of a dataset and keeps the numbers it returns.

    Parameters
    ----------
    name : str
        Name of the trend (legend, export, status).
    fn : callable
        Called with each new point: a number (0-D series), a trace (1-D array)
        or a frame (2-D array), in the dataset's dtype; on a 2-D scan of single
        values, with the float64 map filled so far (NaN where not yet filled).
        It returns a number. When it raises, the point's value is NaN and the
        message is kept in :attr:`message` (and reported in the engine's health)
        until a poll where it succeeds on every new point.
    path, meta, dataset, resolve
        As for :class:`~swmr_widgets.live.feeds.Feed`.
    on_remove : callable, optional
        Called by :meth:`remove` (the engine unfollows the feed).
    """

    kind = "trend"

    def __init__(
        self,
        name: str,
        fn: Callable[[Any], Any],
        path: str,
        meta: DatasetMeta,
        dataset: h5py.Dataset,
        resolve: Resolve,
        on_remove: Callable[[TrendFeed], None] | None = None,
    ) -> None:
        self.name = name
        self.fn = fn
        self.message = ""
        self._on_remove = on_remove
        self.values = History(TREND_POINTS, (), np.dtype(np.float64))
        super().__init__(path, meta, dataset, resolve)

    # ------------------------------------------------------------------ set-up

    @property
    def is_map(self) -> bool:
        """Whether the source is a 2-D scan of single values (a map filling in)."""
        meta = self.meta
        return meta.signal_ndim == 0 and meta.nav_ndim >= 2 and not meta.growing

    def _setup(self, resolve: Resolve) -> None:
        meta, ds = self.meta, self.dataset
        nav = max(meta.nav_ndim, 2) if self.is_map else max(meta.nav_ndim, 1)
        if meta.growing:
            nav = 1
        point = ds.shape[nav:]
        row_bytes = max(math.prod(point) * ds.dtype.itemsize, 1)
        self.follower = DatasetFollower(
            ds,
            refresh=False,
            start=0,
            history=1,  # the numbers are kept here, not the points
            mode="append" if meta.growing else "fill",
            nav_ndim=nav,
            max_rows=max(1, min(CATCH_UP_BYTES // row_bytes, CATCH_UP_CALLS)),
        )
        self.values.clear()
        self.map = np.full(ds.shape[:nav], np.nan) if self.is_map else None
        one_nav = meta.nav_ndim == 1 and meta.nav_axes and not self.is_map
        self.axis = AxisReader(meta.nav_axes[0] if one_nav else None, resolve)
        if self.is_map:
            axes = meta.nav_axes[:2]
        elif meta.signal_ndim >= 1:
            axes = meta.axes[-2:] if meta.signal_ndim == 2 else (None, *meta.axes[-1:])
        else:
            axes = ()
        y_axis, x_axis = (*axes, None, None)[:2]
        self.y_axis, self.x_axis = AxisReader(y_axis, resolve), AxisReader(x_axis, resolve)

    @property
    def datasets(self) -> list[h5py.Dataset]:
        extra = [self.axis.dataset] if self.axis.dataset is not None else []
        return [self.dataset, *extra]

    @property
    def index_title(self) -> str:
        """What the trend is plotted against."""
        if self.is_map:
            return "points filled"
        if self.axis.axis is not None and self.axis.title:
            return self.axis.title
        return "frame" if self.meta.signal_ndim == 2 else "index"

    # ------------------------------------------------------------------ polling

    def poll(self) -> TrendRows | None:
        update, grew = self._poll_follower()
        if update.reset:
            self.values.clear()
            if self.map is not None:
                self.map = np.full(self.follower.nav_shape, np.nan)
        if not len(update) and not update.reset and not self._reset:
            return None
        if self.map is not None:
            indices, values, errors = self._map_values(update.index, update.rows)
        else:
            indices = update.index.copy()
            values, errors = self._apply(update.rows)
        if len(values) and not errors:
            self.message = ""  # kept for one poll at least after a failure
        if len(values):
            self.values.extend(int(indices[0]), values, None if _consecutive(indices) else indices)
        new, reset = self._flags(grew)
        return TrendRows(
            self.path, new, reset or update.reset, indices, values, name=self.name, errors=errors
        )

    def _apply(self, rows: np.ndarray) -> tuple[np.ndarray, int]:
        if self.meta.signal_ndim == 0:
            rows = first_column(rows)
        out = np.empty(len(rows), dtype=np.float64)
        errors = 0
        for k, row in enumerate(rows):
            out[k], failed = self._call(row)
            errors += failed
        return out, errors

    def _map_values(
        self, index: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, int]:
        if not len(rows):
            return np.empty(0, np.int64), np.empty(0), 0
        flat = first_column(rows)
        if flat.dtype.kind == "c":
            flat = np.abs(flat)
        self.map.reshape(-1)[index] = flat.astype(np.float64)
        value, failed = self._call(self.map.copy())
        filled = int(np.count_nonzero(~np.isnan(self.map)))
        return np.array([filled], dtype=np.int64), np.array([value]), int(failed)

    def _call(self, point: Any) -> tuple[float, bool]:
        try:
            value = float(np.asarray(self.fn(point), dtype=np.float64).reshape(()))
        except Exception as exc:  # the user's function: report, never stop the loop
            self.message = f"trend {self.name!r}: {type(exc).__name__}: {exc}"
            return math.nan, True
        return value, False

    # ------------------------------------------------------------------ the handle

    def trend(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, values)`` of the numbers kept: x on the source's axis, or the index."""
        idx, values = self.values.indices.copy(), self.values.values.copy()
        if self.axis.axis is None or self.map is not None:
            return idx.astype(np.float64), values
        x, known = self.axis.at(idx)
        return x, values[known]

    def remove(self) -> None:
        """Stop this trend (the engine no longer polls it)."""
        if self._on_remove is not None:
            self._on_remove(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} of {self.path!r}: {len(self.values)} points>"


class Roi:
    """A rectangle (or a band of a trace) and how to reduce what lies in it.

    Parameters
    ----------
    x, y : (float, float) or None
        Inclusive bounds along the image's columns and rows, in the axis's
        units when it has coordinates, in pixel indices otherwise; ``None``
        takes the whole extent. A trace only has `x`.
    reduce : {"sum", "mean"}
        Sum or mean of the values inside; NaN (an unfilled point) is left out.
    """

    def __init__(self, x: Bounds = None, y: Bounds = None, reduce: Reduce = "sum") -> None:
        if reduce not in ("sum", "mean"):
            raise ValueError(f"reduce must be 'sum' or 'mean', not {reduce!r}")
        self.reduce = reduce
        self.x, self.y = _bounds(x, "x"), _bounds(y, "y")

    def move(self, x: Bounds = None, y: Bounds = None) -> None:
        """Set new bounds (a bound left ``None`` is kept)."""
        if x is not None:
            self.x = _bounds(x, "x")
        if y is not None:
            self.y = _bounds(y, "y")

    def __call__(self, values: np.ndarray, y: np.ndarray, x: np.ndarray) -> float:
        """The reduction of `values` (2-D, or 1-D) inside the ROI; `y`, `x` its coordinates."""
        values = np.asarray(values)
        cols = _inside(x, self.x)
        if values.ndim == 1:
            part = values[cols]
        else:
            rows = _inside(y, self.y)
            image = values.reshape(values.shape[-2:])
            if isinstance(rows, slice) and isinstance(cols, slice):
                part = image[rows, cols]  # a view: no copy of the region
            else:
                part = image[np.ix_(_indices(rows, image.shape[0]), _indices(cols, image.shape[1]))]
        if part.size == 0:
            return math.nan
        kind = part.dtype.kind
        if kind in "iub":  # integers: summed exactly, then one rounding to float64
            total = part.sum(dtype=np.uint64 if kind == "u" else np.int64)
            return float(total) if self.reduce == "sum" else float(total) / part.size
        if kind == "c":
            part = np.abs(part)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an unfilled ROI: NaN
            if self.reduce == "sum":
                if np.isnan(part).all():
                    return math.nan
                return float(np.nansum(part, dtype=np.float64))
            return float(np.nanmean(part, dtype=np.float64))

    def __repr__(self) -> str:
        return f"Roi(x={self.x}, y={self.y}, reduce={self.reduce!r})"


class RoiFeed(TrendFeed):
    """A trend of the sum (or mean) of a region of interest of each frame or trace.

    Parameters
    ----------
    name : str
        Name of the trend.
    roi : Roi
        The region; :meth:`move` changes it for the points that follow.
    path, meta, dataset, resolve, on_remove
        As for :class:`TrendFeed`.
    """

    kind = "roi"

    def __init__(
        self,
        name: str,
        roi: Roi,
        path: str,
        meta: DatasetMeta,
        dataset: h5py.Dataset,
        resolve: Resolve,
        on_remove: Callable[[TrendFeed], None] | None = None,
    ) -> None:
        self.roi = roi
        self._coords: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        super().__init__(name, self._reduce, path, meta, dataset, resolve, on_remove)

    def _setup(self, resolve: Resolve) -> None:
        super()._setup(resolve)
        self._coords = {}

    def _reduce(self, values: np.ndarray) -> float:
        shape = np.shape(values)
        ny, nx = (1, *shape)[-2:] if len(shape) < 2 else shape[-2:]
        coords = self._coords.get((ny, nx))
        if coords is None:
            coords = self._coords[(ny, nx)] = (self.y_axis.first(ny), self.x_axis.first(nx))
        return self.roi(values, *coords)

    def move(self, x: Bounds = None, y: Bounds = None) -> None:
        """Move the ROI; the trend goes on with the new region from the next point on."""
        self.roi.move(x, y)

    def __repr__(self) -> str:
        return f"<RoiFeed {self.name!r} of {self.path!r} {self.roi}: {len(self.values)} points>"


def check_source(meta: DatasetMeta, roi: bool = False) -> None:
    """Raise :class:`TypeError` unless a trend (or an ROI, when `roi`) can follow `meta`."""
    if not meta.plottable or (not meta.growing and meta.nav_ndim == 0):
        raise TypeError(
            f"{meta.path!r} is not a series of acquisition points (shape {meta.shape}); "
            "a trend needs a growing dataset or a scan array"
        )
    if (
        roi
        and meta.signal_ndim not in (1, 2)
        and not (meta.signal_ndim == 0 and meta.nav_ndim >= 2)
    ):
        raise TypeError(
            f"an ROI needs traces, frames or a 2-D scan map; {meta.path!r} holds "
            f"{meta.signal_ndim}-D points on {meta.nav_ndim} scan dimension(s)"
        )


def _bounds(value: Bounds, name: str) -> Bounds:
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of numbers (start, stop), not {value!r}") from None
    return (min(lo, hi), max(lo, hi))


def _inside(coords: np.ndarray, bounds: Bounds) -> slice | np.ndarray:
    """Positions of `coords` within `bounds`: a slice when they are consecutive."""
    if bounds is None:
        return slice(None)
    idx = np.flatnonzero((coords >= bounds[0]) & (coords <= bounds[1]))
    if not len(idx):
        return slice(0, 0)
    if int(idx[-1]) - int(idx[0]) + 1 == len(idx):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def _indices(where: slice | np.ndarray, n: int) -> np.ndarray:
    return np.arange(n)[where] if isinstance(where, slice) else where


def _consecutive(indices: np.ndarray) -> bool:
    return len(indices) == 0 or int(indices[-1]) - int(indices[0]) + 1 == len(indices)
