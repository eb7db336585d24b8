"""Follow one dataset across polls, reading only what the writer added since the last poll.

Two ways of writing are understood:

* **append**: the dataset grows along axis 0 (``maxshape[0] is None``), as a
  logger or a PyMoDAQ ``EnlData`` array does. Every row is delivered exactly
  once, in order.
* **fill**: the dataset is pre-allocated to its final shape, filled with NaN
  (or a user-defined fill value), and written in place one step after the other,
  as PyMoDAQ scan arrays are. Rows are delivered when they stop being empty,
  reading from a cursor on, so each poll reads only around the frontier.

A bounded :class:`History` of the latest rows is kept for plotting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import h5py
import numpy as np

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
        Index along axis 0 of the first row in `rows`.
    rows : numpy.ndarray
        The new rows, shape ``(n, *row_shape)``; empty when nothing changed. In
        fill mode the last row of a previous update is sent again while it is
        only partly filled, so consumers should write rows into place.
    total : int
        Rows available so far: the length of a growing dataset, or the number
        of leading rows filled in a pre-allocated one.
    capacity : int or None
        Rows of a pre-allocated dataset, ``None`` for a growing one.
    reset : bool
        The dataset shrank or changed shape: history was cleared and `rows`
        starts again from the beginning (or from the tail, see ``start``).
    """

    start: int
    rows: np.ndarray
    total: int
    capacity: int | None
    reset: bool = False

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def stop(self) -> int:
        """Index one past the last row delivered."""
        return self.start + len(self.rows)


class History:
    """The latest rows of a dataset and their indices, in a bounded buffer.

    Appending is amortised O(rows appended): the buffer holds twice the capacity
    and is compacted when full. :attr:`values` and :attr:`indices` are views,
    valid until the next change.

    Parameters
    ----------
    capacity : int
        Most rows kept.
    row_shape : tuple of int
        Shape of one row.
    dtype : numpy.dtype
        Dtype of the rows.
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
        """Rows kept, oldest first."""
        return self._values[self._lo : self._hi]

    @property
    def indices(self) -> np.ndarray:
        """Index along axis 0 of each kept row."""
        return self._indices[self._lo : self._hi]

    @property
    def nbytes(self) -> int:
        """Bytes allocated by the buffer."""
        return self._values.nbytes + self._indices.nbytes

    def clear(self) -> None:
        """Forget every row."""
        self._lo = self._hi = 0

    def extend(self, start: int, rows: np.ndarray) -> None:
        """Add `rows` starting at index `start`, replacing rows kept at those indices."""
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
    history : int, default 100_000
        Most rows kept in :attr:`history`. It is further capped so that the
        history holds at most `history_bytes`.
    history_bytes : int, default 128 MiB
        Memory bound of the history.
    start : int or None, default 0
        First row to deliver. ``None`` starts at the tail so that the first poll
        reads only the rows that fit in the history (a viewer attaching to a
        long acquisition does not need its beginning).
    max_rows : int or None, default None
        Most rows read by one poll; the rest waits for the next polls (see
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
        self.max_rows = max_rows
        self._refresh = refresh and is_swmr_read(dataset)
        self._start = start
        self._history_rows = history
        self._history_bytes = history_bytes
        self._fill_value = _fill_value(dataset)
        self._probe_rows = 1
        self._reset_state()

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._shape = self.dataset.shape
        self._cursor = 0  # next row to read
        self._rows_total = 0  # appended rows seen, or leading filled rows
        self._partial = False  # fill mode: row cursor-1 is only partly filled
        self._pending = 0
        row_shape = self._shape[1:]
        row_bytes = max(int(np.prod(row_shape, dtype=np.int64)) * self.dataset.dtype.itemsize, 1)
        cap = max(1, min(self._history_rows, self._history_bytes // row_bytes))
        self.history = History(cap, row_shape, self.dataset.dtype)
        self._probe_rows = max(1, min(_PROBE_BYTES // row_bytes, 64))
        self._probe_max = max(1, _PROBE_MAX_BYTES // row_bytes)

    @property
    def cursor(self) -> int:
        """Index of the next row the follower will read."""
        return self._cursor

    @property
    def progress(self) -> tuple[int, int | None]:
        """``(rows available, capacity)``; capacity is ``None`` for growing datasets."""
        return self._rows_total, self._capacity()

    @property
    def pending(self) -> int:
        """Rows known to be waiting, when `max_rows` limited the last poll."""
        return self._pending

    @property
    def latest(self) -> np.ndarray | None:
        """The newest row kept, or ``None`` before any row arrived."""
        return self.history.values[-1] if len(self.history) else None

    def _capacity(self) -> int | None:
        return None if self.mode == "append" else int(self._shape[0])

    # ------------------------------------------------------------------ polling

    def poll(self) -> Update:
        """Refresh the dataset and return the rows new since the last poll.

        Raises
        ------
        ValueError
            If the dataset's file was closed.
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
            or shape[0] < self._cursor
            or (self.mode == "fill" and shape[0] != self._shape[0])
        ):
            reset = True
            self._reset_state()
        self._shape = shape
        poll = self._poll_append if self.mode == "append" else self._poll_fill
        update = poll(shape[0])
        if reset:
            update = Update(update.start, update.rows, update.total, update.capacity, True)
        if len(update.rows):
            self.history.extend(update.start, update.rows)
        return update

    def _first_row(self, length: int) -> int:
        if self._start is None:
            return max(0, length - self.history.capacity)
        return min(self._start, length)

    def _poll_append(self, length: int) -> Update:
        if self._cursor == 0 and self._rows_total == 0:
            self._cursor = self._first_row(length)
        stop = length
        if self.max_rows is not None:
            stop = min(length, self._cursor + self.max_rows)
        start = self._cursor
        rows = _read(self.dataset, start, stop)
        self._cursor = stop
        self._rows_total = length
        self._pending = length - stop
        return Update(start, rows, length, None)

    def _poll_fill(self, length: int) -> Update:
        start = self._cursor - 1 if self._partial else self._cursor
        if self._rows_total == 0 and self._cursor == 0 and self._start:
            start = self._cursor = min(self._start, length)
        frontier = start  # one past the last non-empty row found
        blocks: list[np.ndarray] = []
        pos, size = start, self._probe_rows
        limit = length if self.max_rows is None else min(length, start + self.max_rows)
        while pos < limit:
            stop = min(pos + size, limit)
            block = _read(self.dataset, pos, stop)
            empty = self._empty_rows(block)
            filled = np.flatnonzero(~empty)
            if len(filled) == 0:
                break
            frontier = pos + int(filled[-1]) + 1
            blocks.append(block[: frontier - pos])
            if frontier < stop:
                break
            pos, size = stop, min(size * 2, self._probe_max)
        rows = np.concatenate(blocks) if blocks else _read(self.dataset, start, start)
        if len(rows):
            self._partial = bool(self._partly_empty(rows[-1]))
            self._cursor = frontier
            self._rows_total = frontier
            self._probe_rows = max(self._probe_rows, min(2 * len(rows), self._probe_max))
        self._pending = 0
        return Update(start, rows, self._rows_total, length)

    def _empty_rows(self, block: np.ndarray) -> np.ndarray:
        """Boolean mask of rows that hold only the fill value (or only NaN)."""
        flat = block.reshape(len(block), -1)
        if flat.shape[1] == 0:
            return np.zeros(len(block), dtype=bool)
        return self._unfilled(flat).all(axis=1)

    def _partly_empty(self, row: np.ndarray) -> bool:
        return bool(np.size(row) > 1 and self._unfilled(np.asarray(row)).any())

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
    return ds[start:stop]


def _fill_value(ds: h5py.Dataset) -> float | int | None:
    """The value a pre-allocated row holds before it is written, or ``None`` if unknown.

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
