"""Mirror one HDF5 dataset into one Tiled array, sending only what changed.

A growing dataset (``maxshape[0] is None``) is created with its first rows
(Tiled 0.2.20 cannot extend an array created empty) and extended with batched
``patch(..., extend=True)``. Any other array keeps its full shape and has the
rows of its first dimension where points filled re-sent (PyMoDAQ scan arrays
pre-filled with NaN); its progress goes into the array's metadata. A scalar is
written whole when it changes.

Every read from the file is bounded by :data:`BATCH_BYTES`, so memory stays
bounded however far behind the server is.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import h5py
import numpy as np

from swmr_widgets.attrs import read_attrs
from swmr_widgets.follow import DatasetFollower
from swmr_widgets.metadata import DatasetMeta
from swmr_widgets.remote.schema import KEY, jsonable, meta_to_json

__all__ = ["BATCH_BYTES", "ArrayMirror"]

#: Bytes read from the file and sent in one patch at most.
BATCH_BYTES = 8 * 1024 * 1024
#: Seconds between two progress updates in an array's metadata.
PROGRESS_EVERY = 1.0


class ArrayMirror:
    """One dataset of a followed file and its Tiled array.

    Parameters
    ----------
    path : str
        Absolute HDF5 path.
    dataset : h5py.Dataset
        The shared handle (refreshed by the caller before :meth:`sync`).
    meta : DatasetMeta
        Its description (published with it).
    """

    def __init__(self, path: str, dataset: h5py.Dataset, meta: DatasetMeta) -> None:
        self.path = path
        self.dataset = dataset
        self.meta = meta
        self.key = path.rsplit("/", 1)[-1]
        self.client: Any = None  # the Tiled ArrayClient, once created
        self.sent = 0  # rows sent (growing datasets)
        self.rows_sent = 0  # rows sent over the mirror's life (for the CPU per row figure)
        self.growing = bool(dataset.maxshape) and dataset.maxshape[0] is None
        self.scalar = dataset.ndim == 0
        self._follower: DatasetFollower | None = None
        self._shape: tuple[int, ...] = ()
        self._scalar_sent: bytes | None = None
        self._progress_sent: tuple[int, int] | None = None
        self._progress_at = 0.0
        self._resending = False

    # ------------------------------------------------------------------ metadata

    def metadata(self) -> dict[str, Any]:
        """The array's Tiled metadata: its HDF5 path, attributes and description."""
        section: dict[str, Any] = {"hdf5_path": self.path, "meta": meta_to_json(self.meta)}
        fill = _user_fill_value(self.dataset)
        if fill is not None:
            section["fillvalue"] = jsonable(fill)
        if self._follower is not None:
            section["progress"] = list(self.progress)
        return {KEY: section, "attrs": jsonable(read_attrs(self.dataset))}

    @property
    def progress(self) -> tuple[int, int]:
        """``(points filled, total)`` of an array filled in place."""
        if self._follower is None:
            return (0, 0)
        filled, total = self._follower.progress
        return (int(filled), int(total or 0))

    # ------------------------------------------------------------------ sending

    def create(self, parent: Any) -> None:
        """Create the array under `parent` (a Tiled container), with what the file holds."""
        ds = self.dataset
        self.sent = 0
        self._follower = None
        self._scalar_sent = None
        self._shape = tuple(ds.shape)
        if self.scalar:
            value = np.asarray(ds[()])
            self.client = _write_array(parent, value, self.key, self.metadata())
            self._scalar_sent = value.tobytes()
            return
        if not self.growing:
            # polled before the data is sent: whatever fills later is sent again
            self._restart_follower()
        # the first block creates the array; the others extend it
        stop = min(ds.shape[0], self._batch_rows())
        self.client = _write_array(parent, ds[0:stop], self.key, self.metadata())
        self.sent = stop
        self.rows_sent += stop
        self._progress_sent = None
        self._resending = stop < ds.shape[0]

    def adopt(self, client: Any) -> bool:
        """Continue with an array found on the server (after a reconnection).

        Returns ``False`` when that array cannot be continued (another shape):
        the caller deletes it and creates it again.
        """
        shape = tuple(client.shape)
        if self.scalar:
            self.client, self._scalar_sent = client, None  # written again at the next sync
            return True
        if shape[1:] != tuple(self.dataset.shape[1:]):
            return False
        self.client = client
        if self.growing:
            self.sent = min(self.sent, shape[0])  # resend what the server lacks
        else:  # an array filled in place is bounded: send it whole again
            self._restart_follower()
            self.sent, self._resending = 0, True
        return True

    def sync(self, parent: Any) -> int:
        """Send what changed since the last call; the number of rows sent.

        The caller refreshed the dataset. Raises what the Tiled client raises.
        """
        ds = self.dataset
        shape = tuple(ds.shape)
        if self.client is None:
            if not self.scalar and 0 in shape:
                return 0  # Tiled 0.2.20 cannot extend an array made empty: wait for rows
            self.create(parent)
            return self.sent
        if self.scalar:
            value = np.asarray(ds[()])
            if value.tobytes() != self._scalar_sent:
                self.client.write(value)
                self._scalar_sent = value.tobytes()
                return 1
            return 0
        if shape[1:] != self._shape[1:] or (self.growing and shape[0] < self.sent):
            self._recreate(parent)  # replaced, shrunk or reshaped: start again
            return self.sent
        self._shape = shape
        if self.growing:
            return self._send_rows(shape[0])
        if self._resending:  # a long array is sent in batches, before its fills
            sent = self._send_rows(shape[0])
            self._resending = self.sent < shape[0]
            return sent
        return self._send_fills()

    def _send_rows(self, length: int, extend: bool = True) -> int:
        if self.sent >= length:
            return 0
        stop = min(length, self.sent + self._batch_rows())
        rows = self.dataset[self.sent : stop]
        self.client.patch(_as_dtype(rows, self.client.dtype), offset=self.sent, extend=extend)
        n = stop - self.sent
        self.sent = stop
        self.rows_sent += n
        return n

    def _send_fills(self) -> int:
        follower = self._follower
        assert follower is not None
        update = follower.poll()
        if update.reset:
            self._restart_follower()
            return 0
        sent = 0
        if len(update):
            points = update.index  # flat indices of the new points
            inner = math.prod(follower.nav_shape[1:]) or 1
            r0, r1 = int(points.min()) // inner, int(points.max()) // inner + 1
            step = self._batch_rows()
            for start in range(r0, r1, step):
                stop = min(start + step, r1)
                block = self.dataset[start:stop]
                self.client.patch(_as_dtype(block, self.client.dtype), offset=start)
                sent += stop - start
            self.rows_sent += sent
        self._publish_progress()
        return sent

    def _publish_progress(self, force: bool = False) -> None:
        progress = self.progress
        now = time.monotonic()
        if progress == self._progress_sent:
            return
        done = progress[1] and progress[0] >= progress[1]
        if not (force or done or now - self._progress_at >= PROGRESS_EVERY):
            return
        self.client.update_metadata(metadata=self.metadata())
        self._progress_sent, self._progress_at = progress, now

    def _restart_follower(self) -> None:
        ds = self.dataset
        self._follower = DatasetFollower(
            ds,
            refresh=False,
            mode="fill",
            nav_ndim=max(min(self.meta.nav_ndim, ds.ndim), 1),
            start=0,
            history=1,
            max_rows=self._batch_rows(),
        )
        self._follower.poll()

    def _recreate(self, parent: Any) -> None:
        with contextlib.suppress(Exception):  # gone already
            parent.delete_contents([self.key], recursive=True)
        self.client = None
        self.create(parent)

    def _batch_rows(self) -> int:
        ds = self.dataset
        row = math.prod(ds.shape[1:]) * ds.dtype.itemsize if ds.ndim else ds.dtype.itemsize
        return max(BATCH_BYTES // max(row, 1), 1)


def conflict(exc: Exception) -> bool:
    """Whether a Tiled client error says the node exists already (HTTP 409)."""
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) == 409 or "409" in str(exc)[:8]


def _write_array(parent: Any, values: np.ndarray, key: str, metadata: dict[str, Any]) -> Any:
    """``parent.write_array``; a node left by a retried request is replaced."""
    try:
        return parent.write_array(values, key=key, metadata=metadata)
    except Exception as exc:
        if not conflict(exc):
            raise
    parent.delete_contents([key], recursive=True)
    return parent.write_array(values, key=key, metadata=metadata)


def _as_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    values = np.asarray(values)
    return values if values.dtype == dtype else values.astype(dtype)


def _user_fill_value(ds: h5py.Dataset) -> Any:
    """The fill value the writer set, else ``None`` (NaN marks unfilled floats anyway)."""
    if ds.dtype.kind not in "biuf":
        return None
    try:
        defined = ds.id.get_create_plist().fill_value_defined()
    except Exception:
        return None
    if defined != h5py.h5d.FILL_VALUE_USER_DEFINED:
        return None
    value = ds.fillvalue
    return value.item() if hasattr(value, "item") else value
