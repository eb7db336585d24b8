"""A Tiled array that reads like a refreshed h5py dataset, for the live engine's feeds.

:class:`RemoteArray` offers what the feeds and followers use of an
``h5py.Dataset`` (``shape``, ``dtype``, ``maxshape``, ``fillvalue``,
``refresh()``, slicing), so a Tiled source produces the very same typed
updates as a local file.

Updates come from Tiled's websocket subscription: each patch the publisher
sends arrives with its rows and their offset, is kept in a bounded cache of
recent blocks, and moves the known shape. Rows the cache does not hold are read
over HTTP. When the subscription is not available (a server that cannot stream
this node) or says nothing for a while, :meth:`RemoteArray.refresh` asks the
server for the array's shape (polling).
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

__all__ = ["CACHE_BYTES", "RemoteArray"]

#: Bytes of recent blocks kept per array.
CACHE_BYTES = 32 * 1024 * 1024
#: Blocks kept per array at most.
CACHE_BLOCKS = 1024
#: Largest websocket message accepted (the publisher sends at most 8 MiB per patch).
MAX_MESSAGE = 64 * 1024 * 1024
#: Seconds to wait for the websocket to connect before polling instead.
CONNECT_TIMEOUT = 5.0


class _Plist:
    def __init__(self, defined: bool) -> None:
        self._defined = defined

    def fill_value_defined(self) -> int:
        return h5py.h5d.FILL_VALUE_USER_DEFINED if self._defined else h5py.h5d.FILL_VALUE_DEFAULT


class _Id:
    """What the followers ask of ``Dataset.id``."""

    def __init__(self, fill_defined: bool) -> None:
        self.valid = True
        self._plist = _Plist(fill_defined)

    def get_create_plist(self) -> _Plist:
        return self._plist


class RemoteArray:
    """One Tiled array, read like a refreshed h5py dataset.

    Parameters
    ----------
    name : str
        Absolute HDF5 path of the dataset it mirrors.
    client : tiled.client.array.ArrayClient
        The array on the server.
    growing : bool
        Whether rows are appended (``maxshape[0] is None``).
    poll_every : float, default 1.0
        Seconds between two HTTP shape checks while the subscription is quiet
        (every :meth:`refresh` when there is no subscription).
    subscribe : bool, default True
        Whether to follow the websocket stream.
    """

    def __init__(
        self,
        name: str,
        client: Any,
        *,
        growing: bool,
        find: Callable[[], Any] | None = None,
        dtype: str = "float64",
        shape: tuple[int, ...] = (0,),
        poll_every: float = 1.0,
        subscribe: bool = True,
        fillvalue: Any = None,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.client = client
        self._find = find
        self.dtype = np.dtype(client.dtype if client is not None else dtype)
        self.growing = growing
        self.poll_every = poll_every
        self.attrs = dict(attrs or {})
        self.fillvalue = fillvalue if fillvalue is not None else np.zeros((), self.dtype)[()]
        self.id = _Id(fillvalue is not None)
        self._shape = tuple(int(n) for n in (client.shape if client is not None else shape))
        self._blocks: collections.deque[tuple[int, np.ndarray]] = collections.deque()
        self._bytes = 0
        self._events: collections.deque[tuple[tuple[int, ...] | None, np.ndarray]] = (
            collections.deque()
        )
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._heard = 0.0
        self.events = 0  # websocket updates applied
        self.http_reads = 0
        self.subscription: Any = None
        self.streaming = False
        self._wants_stream = subscribe
        if subscribe and client is not None:
            self._subscribe()

    # ------------------------------------------------------------------ h5py-like

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def size(self) -> int:
        return int(np.prod(self._shape)) if self._shape else 1

    @property
    def maxshape(self) -> tuple[int | None, ...]:
        if self.growing and self._shape:
            return (None, *self._shape[1:])
        return self._shape

    def __len__(self) -> int:
        return self._shape[0]

    def refresh(self) -> None:
        """Take in what the stream brought; ask the server when it was quiet too long."""
        while self._events:
            offset, data = self._events.popleft()
            self._apply(offset, data)
        now = time.monotonic()
        if self.client is None:  # not on the server yet (no rows written yet)
            if now - self._checked >= self.poll_every and self._find is not None:
                self._checked = now
                with contextlib.suppress(Exception):
                    self.client = self._find()
                    if self._wants_stream:
                        self._subscribe()
            if self.client is None:
                return
        quiet = now - max(self._heard, self._checked)
        if not self.streaming or quiet >= self.poll_every:
            self._checked = now
            try:
                self.client.refresh()
            except Exception:  # the server is away: keep what is known
                return
            shape = tuple(int(n) for n in self.client.shape)
            if shape[1:] != self._shape[1:] or (not self.growing and shape != self._shape):
                self._clear()
                self._shape = shape
            elif shape[0] > self._shape[0]:
                self._shape = shape

    def __getitem__(self, key: Any) -> Any:
        if (isinstance(key, tuple) and key == ()) or key is Ellipsis:
            if not self._shape:
                return self._read_http(())
            return self._rows(0, self._shape[0])
        rest: tuple = ()
        first = key
        if isinstance(key, tuple):
            first, rest = key[0], key[1:]
        if not self._shape:
            return self._read_http(key)
        n = self._shape[0]
        if isinstance(first, slice):
            start, stop, step = first.indices(n)
            block = self._rows(start, max(stop, start))
            out = block[::step] if step != 1 else block
        elif isinstance(first, int | np.integer):
            i = int(first) + (n if first < 0 else 0)
            out = self._rows(i, i + 1)[0]
        else:
            idx = np.asarray(first, dtype=np.int64)
            if idx.size == 0:
                return np.empty((0, *self._shape[1:]), self.dtype)[(slice(None), *rest)]
            lo, hi = int(idx.min()), int(idx.max()) + 1
            out = self._rows(lo, hi)[idx - lo]
            return out[(slice(None), *rest)] if rest else out
        return out[rest] if rest else out

    # ------------------------------------------------------------------ the cache

    def _rows(self, start: int, stop: int) -> np.ndarray:
        if self.client is None:
            return np.empty((0, *self._shape[1:]), dtype=self.dtype)[: max(stop - start, 0)]
        return self._read_rows(start, stop)

    def _read_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)``: the newest cached block wins, HTTP fills the gaps."""
        n = max(stop - start, 0)
        out = np.empty((n, *self._shape[1:]), dtype=self.dtype)
        if n == 0:
            return out
        covered = np.zeros(n, dtype=bool)
        for offset, data in reversed(self._blocks):
            lo, hi = max(offset, start), min(offset + len(data), stop)
            if lo >= hi:
                continue
            span = ~covered[lo - start : hi - start]
            if span.any():
                out[lo - start : hi - start][span] = data[lo - offset : hi - offset][span]
                covered[lo - start : hi - start] = True
                if covered.all():
                    return out
        gaps = np.flatnonzero(~covered)
        lo, hi = start + int(gaps[0]), start + int(gaps[-1]) + 1
        fetched = self._read_http(np.s_[lo:hi])
        got = np.empty((hi - lo, *self._shape[1:]), dtype=self.dtype)
        got[...] = self._blank()
        got[: len(fetched)] = fetched[: hi - lo]
        missing = ~covered[lo - start : hi - start]
        out[lo - start : hi - start][missing] = got[missing]
        if len(fetched):  # older than anything streamed: kept under the streamed blocks
            self._store(lo, np.asarray(fetched), oldest=True)
        return out

    def _blank(self) -> Any:
        return np.nan if self.dtype.kind in "fc" else self.fillvalue

    def _read_http(self, key: Any) -> np.ndarray:
        self.http_reads += 1
        return np.asarray(self.client.read(slice=key))

    def _apply(self, offset: tuple[int, ...] | None, data: np.ndarray) -> None:
        if offset is None:  # the whole array was written
            self._clear()
            self._shape = tuple(data.shape)
            if data.ndim:
                self._store(0, data)
            return
        if data.ndim == 0 or any(offset[1:]) or data.shape[1:] != self._shape[1:]:
            self._clear()  # not whole rows: read over HTTP from now on
            return
        first = int(offset[0])
        self._store(first, data)
        if first + len(data) > self._shape[0]:
            self._shape = (first + len(data), *self._shape[1:])

    def _store(self, offset: int, data: np.ndarray, oldest: bool = False) -> None:
        if oldest:
            self._blocks.appendleft((offset, data))
        else:
            self._blocks.append((offset, data))
        self._bytes += data.nbytes
        while len(self._blocks) > 1 and (
            self._bytes > CACHE_BYTES or len(self._blocks) > CACHE_BLOCKS
        ):
            _, dropped = self._blocks.popleft()
            self._bytes -= dropped.nbytes

    def _clear(self) -> None:
        self._blocks.clear()
        self._bytes = 0

    # ------------------------------------------------------------------ the stream

    def _subscribe(self) -> None:
        try:
            sub = self.client.subscribe()
        except Exception:  # no streaming for this node: poll
            return
        sub.new_data.add_callback(self._on_data)
        # not start_in_thread(): it waits forever when the server refuses the stream
        thread = threading.Thread(
            target=self._listen, args=(sub,), daemon=True, name=f"tiled-{self.name}"
        )
        thread.start()
        connected = getattr(sub, "_connected_event", None)
        if connected is not None and not connected.wait(CONNECT_TIMEOUT):
            return  # refused or too slow: poll (the thread keeps trying)
        self.subscription = sub
        self.streaming = thread.is_alive()

    def _listen(self, sub: Any) -> None:
        with contextlib.suppress(Exception):  # the stream was refused or ended: poll
            sub.start(max_size=MAX_MESSAGE)
        self.streaming = False

    def _on_data(self, update: Any) -> None:
        try:
            data = np.asarray(update.data())
        except Exception:
            return
        offset = getattr(update, "offset", None)
        patch = getattr(update, "patch", None)
        if patch is not None:
            offset = tuple(patch.offset)
        self._events.append((tuple(offset) if offset is not None else None, data))
        self._heard = time.monotonic()
        self.events += 1

    def close(self) -> None:
        """Stop following the stream."""
        sub, self.subscription = self.subscription, None
        self.streaming = False
        if sub is not None:
            with contextlib.suppress(Exception):
                sub.disconnect()
