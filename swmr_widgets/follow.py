"""Follow one dataset across polls, reading only what the writer added since the last poll.

Two ways of writing are understood:

* **append**: the dataset grows along axis 0 (``maxshape[0] is None``), as a
  logger or a PyMoDAQ ``EnlData`` array does. Every row is delivered exactly
  once, in order.
* **fill**: the dataset is pre-allocated to its final shape, filled with NaN
  (or a user-defined fill value), and written in place one acquisition point
  after the other, as PyMoDAQ scan arrays are. The leading ``nav_ndim``
  dimensions index the points (a 5 x 4 scan has 20), the others hold one
  point's value, trace or frame. A point is delivered once, when it stops
  being empty; each poll reads from the first empty point on, so the cost per
  poll stays near the frontier of the scan, and points filled out of order
  (snake scans) are found too.

A bounded :class:`History` of the latest points is kept for plotting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import h5py
import numpy as np

from swmr_widgets.filters import explain_read_error
from swmr_widgets.swmr import is_swmr_read

__all__ = ["DatasetFollower", "History", "Update"]

Mode = Literal["auto", "append", "fill"]

#: Default cap on the bytes kept in a follower's history.
DEFAULT_HISTORY_BYTES = 128 * 2**20
#: Default size of the first block probed past the cursor of a filled array.
_PROBE_BYTES = 256 * 2**10
#: Largest block read at once past the cursor of a filled array.
_PROBE_MAX_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Update:
    """What one :meth:`DatasetFollower.poll` found.

    Attributes
    ----------
    start : int
        Index of the first point in `rows` (along axis 0 in append mode, a
        flat point index in fill mode).
    rows : numpy.ndarray
        The new points, shape ``(n, *point_shape)``, in the dataset's dtype;
        empty when nothing changed.
    total : int
        Points available so far: the length of a growing dataset, or the
        number of points filled in a pre-allocated one.
    capacity : int or None
        Points of a pre-allocated dataset, ``None`` for a growing one.
    reset : bool
        The dataset shrank or changed shape: history was cleared and `rows`
        starts again from the beginning (or from the tail, see ``start``).
    indices : numpy.ndarray or None
        Flat index of each row when they are not consecutive (points filled
        out of order); ``None`` means ``start, start + 1, ...``.
    """

    start: int
    rows: np.ndarray
    total: int
    capacity: int | None
    reset: bool = False
    indices: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def stop(self) -> int:
        """Index one past the last point delivered."""
        if self.indices is not None and len(self.indices):
            return int(self.indices[-1]) + 1
        return self.start + len(self.rows)

    @property
    def index(self) -> np.ndarray:
        """Flat index of each row, as an int64 array."""
        if self.indices is not None:
            return self.indices
        return np.arange(self.start, self.start + len(self.rows), dtype=np.int64)


class History:
    """The latest points of a dataset and their indices, in a bounded buffer.

    Appending in order is amortised O(points appended): the buffer holds twice
    the capacity and is compacted when full. :attr:`values` and
    :attr:`indices` are views, valid until the next change.

    Parameters
    ----------
    capacity : int
        Most points kept.
    row_shape : tuple of int
        Shape of one point.
    dtype : numpy.dtype
        Dtype of the points.
    """

    def __init__(self, capacity: int, row_shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.capacity = max(int(capacity), 1)
        self._values = np.empty((2 * self.capacity, *row_shape), dtype=dtype)
        self._indices = np.empty(2 * self.capacity, dtype=np.int64)
        self._lo = self._hi = 0

    def __len__(self) -> int:
        return self._hi - self._lo

    @property
    def values(self) -> np.ndarray:
        """Points kept, in index order."""
        return self._values[self._lo : self._hi]

    @property
    def indices(self) -> np.ndarray:
        """Index of each kept point."""
        return self._indices[self._lo : self._hi]

    @property
    def nbytes(self) -> int:
        """Bytes allocated by the buffer."""
        return self._values.nbytes + self._indices.nbytes

    def clear(self) -> None:
        """Forget every point."""
        self._lo = self._hi = 0

    def extend(self, start: int, rows: np.ndarray, indices: np.ndarray | None = None) -> None:
        """Add `rows` at `indices` (default ``start, start + 1, ...``), replacing equal ones."""
        if indices is not None and len(indices):
            self._merge(np.asarray(indices, dtype=np.int64), rows)
            return
        if len(self) and start <= self._indices[self._hi - 1]:
            keep = int(np.searchsorted(self.indices, start))
            self._hi = self._lo + keep
        n = len(rows)
        if n >= self.capacity:
            rows = rows[n - self.capacity :]
            start += n - self.capacity
            n = self.capacity
            self._lo = self._hi = 0
        if self._hi + n > len(self._indices):
            keep = min(len(self), self.capacity - n)
            src = slice(self._hi - keep, self._hi)
            self._values[:keep] = self._values[src]
            self._indices[:keep] = self._indices[src]
            self._lo, self._hi = 0, keep
        self._values[self._hi : self._hi + n] = rows
        self._indices[self._hi : self._hi + n] = np.arange(start, start + n)
        self._hi += n
        if len(self) > self.capacity:
            self._lo = self._hi - self.capacity

    def _merge(self, indices: np.ndarray, rows: np.ndarray) -> None:
        """Out-of-order points: merge by index, newest value winning, keep the highest."""
        all_idx = np.concatenate((self.indices, indices))
        all_val = np.concatenate((self.values, rows))
        # the last occurrence of an index wins: unique on the reversed order
        rev_idx, rev_pos = np.unique(all_idx[::-1], return_index=True)
        pos = len(all_idx) - 1 - rev_pos
        keep = slice(max(0, len(rev_idx) - self.capacity), None)
        idx, val = rev_idx[keep], all_val[pos][keep]
        self._values[: len(idx)] = val
        self._indices[: len(idx)] = idx
        self._lo, self._hi = 0, len(idx)


class DatasetFollower:
    """Read what is new in a dataset at each poll, and keep a bounded history.

    Parameters
    ----------
    dataset : h5py.Dataset
        A dataset with at least one dimension, from a file opened in SWMR mode
        (other files work too; they just never change).
    mode : {"auto", "append", "fill"}, default "auto"
        ``"append"`` for datasets growing along axis 0, ``"fill"`` for
        pre-allocated ones written in place. ``"auto"`` picks ``"append"`` when
        ``maxshape[0]`` is unlimited and ``"fill"`` otherwise.
    nav_ndim : int, default 1
        Leading dimensions that index acquisition points in fill mode (2 for
        a 2-D scan). Append mode always grows along axis 0 alone.
    history : int, default 100_000
        Most points kept in :attr:`history`. It is further capped so that the
        history holds at most `history_bytes`.
    history_bytes : int, default 128 MiB
        Memory bound of the history.
    start : int or None, default 0
        First point to deliver. ``None`` starts at the tail so that the first
        poll reads only the points that fit in the history (a viewer attaching
        to a long acquisition does not need its beginning).
    max_rows : int or None, default None
        Most points read by one poll; the rest waits for the next polls (see
        :attr:`pending`). ``None`` reads everything new.
    refresh : bool, default True
        Refresh the dataset at each poll (when its file is read in SWMR mode).
        Turn off when the caller refreshes it, e.g. with
        :func:`~swmr_widgets.swmr.refresh_cached`.
    """

    def __init__(
        self,
        dataset: h5py.Dataset,
        *,
        mode: Mode = "auto",
        nav_ndim: int = 1,
        history: int = 100_000,
        history_bytes: int = DEFAULT_HISTORY_BYTES,
        start: int | None = 0,
        max_rows: int | None = None,
        refresh: bool = True,
    ) -> None:
        if dataset.ndim == 0:
            raise ValueError(
                f"Cannot follow scalar dataset {dataset.name!r}: it has no axis to grow along."
            )
        if mode == "auto":
            mode = "append" if dataset.maxshape[0] is None else "fill"
        if mode not in ("append", "fill"):
            raise ValueError(f"mode must be 'auto', 'append' or 'fill', not {mode!r}")
        self.dataset = dataset
        self.mode: Literal["append", "fill"] = mode
        self.nav_ndim = 1 if mode == "append" else min(max(int(nav_ndim), 1), dataset.ndim)
        self.max_rows = max_rows
        self._refresh = refresh and is_swmr_read(dataset)
        self._start = start
        self._history_rows = history
        self._history_bytes = history_bytes
        self._fill_value = _fill_value(dataset)
        self._reset_state()

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._shape = self.dataset.shape
        self._cursor = 0  # append: next row to read; fill: first point not known filled
        self._rows_total = 0  # appended rows seen
        self._known = np.zeros(0, dtype=bool)  # fill: filled points from the cursor on
        self._started = False
        self._pending = 0
        row_shape = self.point_shape
        row_bytes = max(math.prod(row_shape) * self.dataset.dtype.itemsize, 1)
        cap = max(1, min(self._history_rows, self._history_bytes // row_bytes))
        self.history = History(cap, row_shape, self.dataset.dtype)
        self._probe_rows = max(1, min(_PROBE_BYTES // row_bytes, 64))
        self._probe_max = max(1, _PROBE_MAX_BYTES // row_bytes)
        self._latest: int | None = None

    @property
    def nav_shape(self) -> tuple[int, ...]:
        """Shape of the grid of points (``(length,)`` in append mode)."""
        return tuple(self._shape[: self.nav_ndim])

    @property
    def point_shape(self) -> tuple[int, ...]:
        """Shape of one point: ``()`` for numbers, ``(n,)`` for traces, ..."""
        return tuple(self._shape[self.nav_ndim :])

    @property
    def cursor(self) -> int:
        """Index of the next point the follower will read from."""
        return self._cursor

    @property
    def progress(self) -> tuple[int, int | None]:
        """``(points available, capacity)``; capacity is ``None`` for growing datasets."""
        if self.mode == "append":
            return self._rows_total, None
        return self._cursor + int(self._known.sum()), self._capacity()

    @property
    def pending(self) -> int:
        """Points known to be waiting, when `max_rows` limited the last poll."""
        return self._pending

    @property
    def latest(self) -> np.ndarray | None:
        """The newest point kept, or ``None`` before any arrived."""
        if not len(self.history):
            return None
        if self._latest is not None:
            pos = np.searchsorted(self.history.indices, self._latest)
            if pos < len(self.history) and self.history.indices[pos] == self._latest:
                return self.history.values[pos]
        return self.history.values[-1]

    @property
    def latest_index(self) -> tuple[int, ...] | None:
        """Grid index of :attr:`latest` (the point filled last), or ``None``."""
        if not len(self.history):
            return None
        flat = self._latest if self._latest is not None else int(self.history.indices[-1])
        if self.mode == "append":
            return (flat,)
        return tuple(int(i) for i in np.unravel_index(flat, self.nav_shape))

    def _capacity(self) -> int | None:
        return None if self.mode == "append" else math.prod(self.nav_shape)

    # ------------------------------------------------------------------ polling

    def poll(self) -> Update:
        """Refresh the dataset and return the points new since the last poll.

        Raises
        ------
        ValueError
            If the dataset's file was closed.
        MissingFilterError
            If the dataset is compressed with a filter that is not installed
            (the message says which, and how to get it).
        """
        ds = self.dataset
        if not ds.id.valid:
            raise ValueError(f"Cannot poll {ds.name!r}: its file has been closed.")
        if self._refresh:
            ds.refresh()
        shape = ds.shape
        reset = False
        if (
            shape[1:] != self._shape[1:]
            or (self.mode == "append" and shape[0] < self._cursor)
            or (self.mode == "fill" and shape[0] != self._shape[0])
        ):
            reset = True
            self._shape = shape
            self._reset_state()
        self._shape = shape
        update = self._poll_append(shape[0]) if self.mode == "append" else self._poll_fill()
        if reset:
            update = Update(
                update.start, update.rows, update.total, update.capacity, True, update.indices
            )
        if len(update.rows):
            self.history.extend(update.start, update.rows, update.indices)
        return update

    def _first_row(self, length: int) -> int:
        if self._start is None:
            return max(0, length - self.history.capacity)
        return min(self._start, length)

    def _poll_append(self, length: int) -> Update:
        if not self._started:
            self._cursor = self._first_row(length)
            self._started = True
        stop = length
        if self.max_rows is not None:
            stop = min(length, self._cursor + self.max_rows)
        start = self._cursor
        rows = _read(self.dataset, start, stop)
        self._cursor = stop
        self._rows_total = length
        self._pending = length - stop
        self._latest = stop - 1 if stop > start else self._latest
        return Update(start, rows, length, None)

    def _poll_fill(self) -> Update:
        n_points = math.prod(self.nav_shape)
        if not self._started:
            self._started = True
            first = self._first_fill_point(n_points)
            self._cursor = first
        start = self._cursor
        limit = n_points if self.max_rows is None else min(n_points, start + self.max_rows)
        blocks: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        pos, size = start, self._probe_rows
        known_end = start + len(self._known)
        while pos < limit:
            stop = min(pos + size, limit)
            block = self._read_points(pos, stop)
            filled = ~self._empty_rows(block)
            blocks.append(block)
            masks.append(filled)
            # go on while the block is filled to its end (the frontier may lie
            # further), or while known points lie beyond it (a snake scan's holes)
            if stop >= known_end and not filled[-1]:
                break
            pos, size = stop, min(size * 2, self._probe_max)
        if not blocks:
            return Update(start, self._read_points(start, start), self.progress[0], n_points)
        filled = np.concatenate(masks)
        values = np.concatenate(blocks)
        known = np.zeros(len(filled), dtype=bool)
        known[: min(len(self._known), len(filled))] = self._known[: len(filled)]
        new = filled & ~known
        new_idx = np.flatnonzero(new)
        rows = values[new_idx]
        indices = start + new_idx.astype(np.int64)
        # move the cursor past the filled prefix; remember filled points beyond it
        all_filled = filled | known
        empty = np.flatnonzero(~all_filled)
        low = int(empty[0]) if len(empty) else len(all_filled)
        last = int(np.flatnonzero(all_filled)[-1]) + 1 if all_filled.any() else 0
        self._cursor = start + low
        self._known = all_filled[low : max(last, low)].copy()
        self._pending = 0
        if len(indices):
            self._latest = self._newest(indices)
            self._probe_rows = max(self._probe_rows, min(2 * len(indices), self._probe_max))
        consecutive = len(indices) == 0 or indices[-1] - indices[0] + 1 == len(indices)
        first = int(indices[0]) if len(indices) else start
        return Update(
            first, rows, self.progress[0], n_points, indices=None if consecutive else indices
        )

    def _newest(self, indices: np.ndarray) -> int:
        """The point most likely filled last among new `indices`.

        Raster scans fill in increasing order; a snake scan's reversed rows fill
        towards lower indices, which shows as new points below the previous one.
        """
        prev = self._latest
        if prev is not None and len(indices) and indices[-1] < prev:
            return int(indices[0])
        return int(indices[-1])

    def _first_fill_point(self, n_points: int) -> int:
        """First point to read at the first poll: 0, `start`, or the tail's start."""
        if self._start is not None:
            return min(self._start, n_points)
        # the tail: find the frontier by bisection (filled points come first)
        lo, hi = 0, n_points
        while lo < hi:
            mid = (lo + hi) // 2
            if self._empty_rows(self._read_points(mid, mid + 1))[0]:
                hi = mid
            else:
                lo = mid + 1
        self._known = np.zeros(0, dtype=bool)
        return max(0, lo - self.history.capacity)

    def _read_points(self, start: int, stop: int) -> np.ndarray:
        """Points ``[start, stop)`` in flat order, shape ``(n, *point_shape)``."""
        if self.nav_ndim == 1 or stop <= start:
            if self.nav_ndim == 1:
                return _read(self.dataset, start, stop)
            return np.empty((0, *self.point_shape), dtype=self.dataset.dtype)
        inner = math.prod(self.nav_shape[1:])
        if inner == 0:
            return np.empty((0, *self.point_shape), dtype=self.dataset.dtype)
        r0, r1 = start // inner, -(-stop // inner)
        block = _read(self.dataset, r0, r1).reshape(-1, *self.point_shape)
        return block[start - r0 * inner : stop - r0 * inner]

    def _empty_rows(self, block: np.ndarray) -> np.ndarray:
        """Boolean mask of points that hold only the fill value (or only NaN)."""
        flat = block.reshape(len(block), -1)
        if flat.shape[1] == 0:
            return np.zeros(len(block), dtype=bool)
        return self._unfilled(flat).all(axis=1)

    def _unfilled(self, values: np.ndarray) -> np.ndarray:
        fill = self._fill_value
        if values.dtype.kind in "fc":
            mask = np.isnan(values)
            if fill is not None and not np.isnan(fill):
                mask |= values == fill
            return mask
        if fill is None:
            return np.zeros(values.shape, dtype=bool)
        return values == fill


def _read(ds: h5py.Dataset, start: int, stop: int) -> np.ndarray:
    """Read rows ``[start, stop)`` of `ds` (an empty range gives an empty array)."""
    if stop <= start:
        return np.empty((0, *ds.shape[1:]), dtype=ds.dtype)
    try:
        return ds[start:stop]
    except OSError as exc:  # a compression filter that is not installed: say which
        error = explain_read_error(exc, ds)
        if error is exc:
            raise
        raise error from exc


def _fill_value(ds: h5py.Dataset) -> float | int | None:
    """The value a pre-allocated point holds before it is written, or ``None`` if unknown.

    NaN always marks an unwritten float element. Other values count only when
    the writer set a fill value explicitly, since 0 is also a valid measurement.
    """
    if ds.dtype.kind not in "biuf":
        return None
    try:
        defined = ds.id.get_create_plist().fill_value_defined()
        user_defined = defined == h5py.h5d.FILL_VALUE_USER_DEFINED
    except (AttributeError, RuntimeError, ValueError):
        user_defined = False
    if not user_defined:
        return None
    value = ds.fillvalue
    return value.item() if hasattr(value, "item") else value
