"""Feeds: one per followed dataset, each turning what is new into a typed update.

A feed reads only what the writer added since its last poll (see
:class:`~swmr_widgets.follow.DatasetFollower`) and returns one update whose
type says what it holds:

==========================  ==============================================
dataset                     feed → update
==========================  ==============================================
0-D values per point        :class:`SeriesFeed` → :class:`Rows`
static 1-D array            :class:`SeriesFeed` → :class:`Rows`
1-D trace per point         :class:`TraceFeed` → :class:`Latest`
2-D frame per point, image  :class:`FrameFeed` → :class:`Latest`
0-D values on a 2-D scan    :class:`MapFeed` → :class:`ScanMap`
more dimensions             :class:`SliceFeed` → :class:`Slice`
scalar                      :class:`ValueFeed` → :class:`Value`
not plottable               :class:`DetailsFeed` → :class:`Details`
==========================  ==============================================

Values are exact: they keep the dataset's dtype (maps are float64). Feeds are
polled by the engine, which refreshes their datasets first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import h5py
import numpy as np

from swmr_widgets.attrs import read_attrs
from swmr_widgets.follow import DatasetFollower, History
from swmr_widgets.live.axes import AxisReader, Resolve
from swmr_widgets.live.updates import Details, Latest, Rows, ScanMap, Slice, Update, Value
from swmr_widgets.metadata import DatasetMeta

__all__ = [
    "DetailsFeed",
    "Feed",
    "FrameFeed",
    "MapFeed",
    "SeriesFeed",
    "SliceFeed",
    "TraceFeed",
    "ValueFeed",
    "feed_class",
    "first_column",
]

#: Rows read at most per poll while catching up with a long growing dataset.
CATCH_UP_ROWS = 1_000_000
#: Traces kept for the waterfall of a trace feed.
WATERFALL_ROWS = 256

# --------------------------------------------------------------------------- feeds


class Feed:
    """Base class: follows one dataset and returns typed updates.

    Parameters
    ----------
    path : str
        Absolute path of the dataset.
    meta : DatasetMeta
        Its description.
    dataset : h5py.Dataset
        Its shared handle.
    resolve : callable
        Gives the shared handle of another dataset (axes) from its path.
    """

    kind: ClassVar[str] = ""

    def __init__(
        self, path: str, meta: DatasetMeta, dataset: h5py.Dataset, resolve: Resolve
    ) -> None:
        self.path = path
        self.error = ""
        self.bind(meta, dataset, resolve)

    def bind(self, meta: DatasetMeta, dataset: h5py.Dataset, resolve: Resolve) -> None:
        """Follow `dataset` from scratch (a new feed, or the file was reopened)."""
        self.meta = meta
        self.dataset = dataset
        self._reset = True  # the next update tells front ends to forget what they drew
        self._primed = False  # the first poll reads what was there: no rate
        self._setup(resolve)

    def _setup(self, resolve: Resolve) -> None:
        """Build the feed's readers (subclasses)."""

    @property
    def datasets(self) -> list[h5py.Dataset]:
        """The datasets the engine refreshes before each poll."""
        return [self.dataset]

    @property
    def progress(self) -> tuple[int, int] | None:
        """``(points filled, total)`` of a pre-allocated scan array, else ``None``."""
        return None

    @property
    def catching_up(self) -> bool:
        """Whether rows written before the feed started are still being read."""
        return False

    def poll(self) -> Update | None:
        """Read what is new; ``None`` when nothing changed."""
        raise NotImplementedError

    def _flags(self, grew: int) -> tuple[int, bool]:
        """``(new, reset)`` for the update being made, and clear both flags."""
        new = grew if self._primed else 0
        reset, self._reset, self._primed = self._reset, False, True
        return new, reset


class _FollowingFeed(Feed):
    """A feed reading points through a :class:`DatasetFollower`."""

    follower: DatasetFollower

    @property
    def progress(self) -> tuple[int, int] | None:
        filled, total = self.follower.progress
        return (filled, total) if total is not None and self.meta.prefilled else None

    @property
    def catching_up(self) -> bool:
        return self.follower.pending > 0

    @property
    def history(self) -> History:
        """The latest points read, bounded."""
        return self.follower.history

    def _poll_follower(self):
        before = self.follower.progress[0]
        update = self.follower.poll()
        grew = max(self.follower.progress[0] - before, 0) if not update.reset else 0
        return update, grew


class SeriesFeed(_FollowingFeed):
    """Single values per acquisition point (a trend, a 0-D scan), or a static 1-D array."""

    kind = "series"

    def _setup(self, resolve: Resolve) -> None:
        meta, ds = self.meta, self.dataset
        self.follower = DatasetFollower(
            ds,
            refresh=False,
            max_rows=CATCH_UP_ROWS,
            # growing series are summarised by the front end: keep the last row only
            history=1 if meta.growing else max(int(ds.shape[0]), 1),
            mode="append" if meta.growing else "fill",
        )
        if meta.nav_ndim >= 1 and meta.nav_axes:
            axis = meta.nav_axes[0]
        elif meta.nav_ndim == 0 and meta.axes:
            axis = meta.axes[0]
        else:
            axis = None
        self.axis = AxisReader(axis, resolve)

    @property
    def datasets(self) -> list[h5py.Dataset]:
        extra = [self.axis.dataset] if self.axis.dataset is not None else []
        return [self.dataset, *extra]

    def poll(self) -> Rows | None:
        update, grew = self._poll_follower()
        if not len(update) and not update.reset and not self._reset:
            return None
        new, reset = self._flags(grew)
        values = first_column(update.rows)
        return Rows(self.path, new, reset or update.reset, update.index.copy(), values)


class TraceFeed(_FollowingFeed):
    """A 1-D trace per acquisition point (spectra), on any number of scan dimensions."""

    kind = "trace"

    def _setup(self, resolve: Resolve) -> None:
        meta = self.meta
        self.follower = DatasetFollower(
            self.dataset,
            refresh=False,
            start=None,
            history=WATERFALL_ROWS,
            mode="append" if meta.growing else "fill",
            nav_ndim=max(meta.nav_ndim, 1),
        )
        self.x_axis = AxisReader(meta.axes[-1] if meta.axes else None, resolve)
        self.nav_axis = AxisReader(meta.nav_axes[0] if meta.nav_ndim == 1 else None, resolve)

    @property
    def datasets(self) -> list[h5py.Dataset]:
        extra = [self.nav_axis.dataset] if self.nav_axis.dataset is not None else []
        return [self.dataset, *extra]

    def poll(self) -> Latest | None:
        update, grew = self._poll_follower()
        if not len(update) and not update.reset and not self._reset:
            return None
        latest = self.follower.latest
        if latest is None and not update.reset and not self._reset:
            return None
        new, reset = self._flags(grew)
        values = np.array(latest).reshape(-1) if latest is not None else np.empty(0)
        index = self.follower.latest_index or ()
        return Latest(self.path, new, reset or update.reset, index, values)


class FrameFeed(_FollowingFeed):
    """A 2-D frame per acquisition point (a camera), or a static image."""

    kind = "frame"

    def _setup(self, resolve: Resolve) -> None:
        meta = self.meta
        self.static = meta.nav_ndim == 0 and not meta.growing
        self._shown_shape: tuple[int, ...] | None = None
        axes = meta.axes[-2:] if meta.signal_ndim == 2 else ()
        y_axis, x_axis = (*axes, None, None)[:2]
        self.y_axis, self.x_axis = AxisReader(y_axis, resolve), AxisReader(x_axis, resolve)
        #: The detector's NeXus ``pixel_mask`` (non-zero: masked), if it has one.
        self.pixel_mask = find_pixel_mask(self.dataset)
        if not self.static:
            self.follower = DatasetFollower(
                self.dataset,
                refresh=False,
                start=None,
                history=1,
                mode="append" if meta.growing else "fill",
                nav_ndim=max(meta.nav_ndim, 1),
            )

    @property
    def progress(self) -> tuple[int, int] | None:
        return None if self.static else super().progress

    @property
    def catching_up(self) -> bool:
        return False

    def poll(self) -> Latest | None:
        shape = self.dataset.shape
        if self.static:
            if shape == self._shown_shape and not self._reset:
                return None
            frame = self.dataset[()]
            self._shown_shape = shape
            new, reset = self._flags(0)
            return Latest(self.path, new, reset, (), np.asarray(frame).reshape(shape[-2:]))
        update, grew = self._poll_follower()
        latest = self.follower.latest
        if (not len(update) and not update.reset and not self._reset) or latest is None:
            return None
        new, reset = self._flags(grew)
        frame = np.array(latest).reshape(shape[-2:])
        return Latest(self.path, new, reset or update.reset, self.follower.latest_index, frame)


class MapFeed(_FollowingFeed):
    """Single values on a 2-D scan grid, drawn as a map that fills in."""

    kind = "map"

    def _setup(self, resolve: Resolve) -> None:
        meta, ds = self.meta, self.dataset
        nav = max(meta.nav_ndim, 2)
        self.follower = DatasetFollower(
            ds,
            refresh=False,
            start=0,
            history=1,
            mode="fill",
            nav_ndim=nav,
        )
        self.map = np.full(ds.shape[:nav], np.nan, dtype=np.float64)
        axes = meta.nav_axes[:2]
        y_axis, x_axis = (*axes, None, None)[:2]
        self.y_axis, self.x_axis = AxisReader(y_axis, resolve), AxisReader(x_axis, resolve)

    def poll(self) -> ScanMap | None:
        update, grew = self._poll_follower()
        if update.reset:
            self.map = np.full(self.follower.nav_shape, np.nan, dtype=np.float64)
        if not len(update) and not update.reset and not self._reset:
            return None
        if len(update):
            flat = first_column(update.rows)
            self.map.reshape(-1)[update.index] = _as_float64(flat)
        new, reset = self._flags(grew)
        return ScanMap(self.path, new, reset or update.reset, self.map.copy(), update.index.copy())


class SliceFeed(Feed):
    """A 2-D slice of an N-D dataset, at an index set by the front end.

    The index along a growing first dimension follows the newest position
    while it sits at the end.
    """

    kind = "slice"

    def _setup(self, resolve: Resolve) -> None:
        shape = self.dataset.shape
        lead = shape[:-2]
        follow = self.meta.growing and len(lead) > 0
        self._index = tuple((max(n - 1, 0) if d == 0 and follow else 0) for d, n in enumerate(lead))
        self._drawn: tuple | None = None
        self._shape = shape

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the dataset at the last poll."""
        return self._shape

    @property
    def index(self) -> tuple[int, ...]:
        """Index along each leading dimension of the slice shown."""
        return self._index

    @index.setter
    def index(self, value: Sequence[int]) -> None:
        # read at the next poll: the front end never reads the file itself
        self._index = tuple(int(v) for v in value)

    def poll(self) -> Slice | None:
        shape = self.dataset.shape
        lead = shape[:-2]
        index = list(self._index) + [0] * (len(lead) - len(self._index))
        grew = 0
        if shape != self._shape:
            grew = max(shape[0] - self._shape[0], 0) if len(lead) else 0
            at_end = len(lead) and self._shape[0] and index[0] == self._shape[0] - 1
            if at_end and self.meta.growing:
                index[0] = max(shape[0] - 1, 0)
        index = [min(max(i, 0), max(n - 1, 0)) for i, n in zip(index, lead, strict=False)]
        self._index, self._shape = tuple(index), shape
        key = (shape, self._index)
        if key == self._drawn and not self._reset:
            return None
        values = (
            np.empty((0, 0), dtype=self.dataset.dtype)
            if 0 in shape
            else np.asarray(self.dataset[self._index])
        )
        self._drawn = key
        new, reset = self._flags(grew)
        return Slice(self.path, new, reset, self._index, values, shape)


class ValueFeed(Feed):
    """The value of a scalar dataset."""

    kind = "value"

    def _setup(self, resolve: Resolve) -> None:
        self._shown: str | None = None

    def poll(self) -> Value | None:
        value = self.dataset[()]
        text = repr(value)
        if text == self._shown and not self._reset:
            return None
        changed = self._shown is not None
        self._shown = text
        new, reset = self._flags(int(changed))
        return Value(self.path, new, reset, value)


class DetailsFeed(Feed):
    """Shape, dtype, attributes and a preview of a dataset that cannot be plotted."""

    kind = "details"
    PREVIEW_ITEMS = 20

    def _setup(self, resolve: Resolve) -> None:
        self._shape: tuple[int, ...] | None = None

    def poll(self) -> Details | None:
        ds, meta = self.dataset, self.meta
        if ds.shape == self._shape and not self._reset:
            return None
        rows = [
            ("path", self.path),
            ("shape", str(ds.shape)),
            ("dtype", meta.dtype),
            ("not plotted", meta.reason),
        ]
        rows += [(f"@{k}", str(v)) for k, v in read_attrs(ds).items()]
        rows.append(("preview", _preview(ds, self.PREVIEW_ITEMS)))
        self._shape = ds.shape
        new, reset = self._flags(0)
        return Details(self.path, new, reset, tuple((k, v) for k, v in rows if v not in ("", None)))


def _preview(ds: h5py.Dataset, n: int) -> str:
    try:
        if ds.shape == ():
            return repr(ds[()])
        if ds.size == 0:
            return "(empty)"
        return repr(ds[: min(n, ds.shape[0])].tolist() if ds.ndim else ds[()])
    except (OSError, TypeError, ValueError) as exc:  # unreadable types (opaque, references, ...)
        return f"cannot be read: {exc}"


def find_pixel_mask(ds: h5py.Dataset) -> np.ndarray | None:
    """The NeXus ``pixel_mask`` of the detector that writes frame dataset `ds`, if any.

    It is looked for next to `ds`, and next to the dataset that the NeXus
    ``@target`` attribute names (data linked into an ``NXdata`` group). It
    must have the shape of one frame (or hold one such mask per frame, of
    which the last is used). Anything unreadable counts as no mask.
    """
    frame_shape = ds.shape[-2:]
    groups = [ds.parent]
    try:
        target = ds.attrs.get("target")
        if isinstance(target, bytes):
            target = target.decode("utf-8", "replace")
        if isinstance(target, str) and target.startswith("/") and target in ds.file:
            groups.append(ds.file[target].parent)
    except (OSError, KeyError, ValueError, TypeError):
        pass
    for group in groups:
        try:
            mask = group.get("pixel_mask")
            if not isinstance(mask, h5py.Dataset) or mask.shape[-2:] != frame_shape:
                continue
            values = mask[()] if mask.ndim == 2 else mask[(-1,) * (mask.ndim - 2)]
            return np.asarray(values)
        except (OSError, KeyError, ValueError, TypeError, IndexError):
            continue
    return None


def first_column(rows: np.ndarray) -> np.ndarray:
    """The single value of each point (PyMoDAQ stores 0-D points as ``(N, 1)``)."""
    if rows.size == 0:
        return np.empty(len(rows) if rows.ndim == 1 else 0, dtype=rows.dtype)
    return rows.reshape(len(rows), -1)[:, 0].copy()


def _as_float64(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind == "c":
        values = np.abs(values)
    return values.astype(np.float64, copy=False)


def feed_class(meta: DatasetMeta, ndim: int) -> type[Feed]:
    """The feed that follows a dataset described by `meta`, of `ndim` dimensions."""
    if not meta.plottable:
        return DetailsFeed
    if ndim == 0:
        return ValueFeed
    signal, nav = meta.signal_ndim, meta.nav_ndim
    if (signal == 0 and nav == 1) or (signal == 1 and nav == 0):
        return SeriesFeed
    if signal == 1:
        return TraceFeed
    if signal == 2:
        return FrameFeed
    if signal == 0 and nav == 2 and math.prod(meta.shape[:2]) > 0 and not meta.growing:
        return MapFeed
    return SliceFeed
