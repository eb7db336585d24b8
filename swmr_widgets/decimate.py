"""Reduce traces and images to what a plot of a few hundred pixels can show.

A browser draws an SVG line of 1e5 points in about a quarter of a second, so
traces are cut down to a few thousand points before they are sent, keeping the
minimum and maximum of every bucket: spikes and the global extremes survive.
Images are block-averaged to at most 512 x 512.

Values leave as float32 only where float32 holds them exactly (uint16 frames,
small counters, float32 data); anything float32 would round (a counter at
2**24 + i, epoch seconds, int64 near 2**40) leaves as float64, so what is drawn
equals what is stored. Coordinates always leave as float64.

The min/max selection uses :mod:`tsdownsample` when it is installed (a SIMD
implementation, several times faster than numpy on long traces, see
``benchmarks``), and a numpy implementation otherwise.
"""

from __future__ import annotations

import numpy as np

try:  # optional accelerator
    from tsdownsample import MinMaxDownsampler as _TsMinMax
except ImportError:  # pragma: no cover - exercised when tsdownsample is absent
    _TsMinMax = None

__all__ = [
    "DEFAULT_IMAGE_SHAPE",
    "DEFAULT_TRACE_POINTS",
    "MinMaxSummary",
    "decimate_image",
    "decimate_trace",
    "exact_float",
    "minmax_indices",
    "reduction_factors",
    "to_float",
]

#: Default number of points a trace is reduced to (about 2-4x a plot's width).
DEFAULT_TRACE_POINTS = 2000
#: Default largest image sent to the frontend.
DEFAULT_IMAGE_SHAPE = (512, 512)

#: Below this many points numpy beats tsdownsample's call overhead.
_TSDOWNSAMPLE_MIN = 20_000
_TS_DTYPES = frozenset(["f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"])


def to_float(values: np.ndarray, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """Convert numeric data to floats for plotting.

    bqplot silently truncates int64 to int32, and float16, bool and unsigned
    types do not all survive JSON or binary transfer, so every plot receives
    floats. Complex values give their magnitude.
    """
    values = np.asarray(values)
    if values.dtype.kind == "c":
        values = np.abs(values)
    return values.astype(dtype, copy=False)


#: Integer and float kinds whose every value float32 holds exactly.
_FLOAT32_EXACT = frozenset(["b1", "i1", "u1", "i2", "u2", "f2", "f4"])


def exact_float(values: np.ndarray) -> np.ndarray:
    """Floats for plotting: float32 where that is exact, float64 otherwise.

    Half the bytes of float64 are worth saving only when nothing is lost: small
    integer types and float32 data always fit, and other arrays are checked
    value by value (NaN counts as equal to itself). Complex values give their
    magnitude. The result may share memory with `values`.
    """
    values = np.asarray(values)
    if values.dtype.kind == "c":
        values = np.abs(values)
    if f"{values.dtype.kind}{values.dtype.itemsize}" in _FLOAT32_EXACT:
        return values.astype(np.float32, copy=False)
    wide = values.astype(np.float64, copy=False)
    narrow = wide.astype(np.float32)
    return narrow if _holds_exactly(narrow, wide) else wide


def _holds_exactly(narrow: np.ndarray, wide: np.ndarray) -> bool:
    """Whether the float32 `narrow` equals the float64 `wide` everywhere (NaN equal to NaN)."""
    with np.errstate(invalid="ignore"):
        same = (narrow == wide) | (np.isnan(narrow) & np.isnan(wide))
    return bool(np.all(same))


def minmax_indices(
    y: np.ndarray, n_out: int, *, use_tsdownsample: bool | None = None
) -> np.ndarray:
    """Indices of the minimum and maximum of each of ``n_out // 2`` equal buckets of `y`.

    Parameters
    ----------
    y : numpy.ndarray
        One-dimensional numeric data. NaNs are skipped.
    n_out : int
        Number of indices wanted (at least 2). When ``len(y) <= n_out`` all
        indices are returned.
    use_tsdownsample : bool or None
        Force (True) or forbid (False) the tsdownsample implementation; ``None``
        picks it for long inputs when it is installed.

    Returns
    -------
    numpy.ndarray
        Sorted, unique int64 indices, the first and last index included.
    """
    y = np.asarray(y)
    n = len(y)
    if n <= max(n_out, 2):
        return np.arange(n, dtype=np.int64)
    n_out = max(int(n_out) // 2 * 2, 2)
    if use_tsdownsample is None:
        use_tsdownsample = _TsMinMax is not None and n >= _TSDOWNSAMPLE_MIN
    if use_tsdownsample and _TsMinMax is not None and y.dtype.str[1:] in _TS_DTYPES:
        idx = _tsdownsample_indices(y, n_out)
    else:
        idx = _numpy_minmax_indices(y, n_out)
    return np.unique(np.concatenate(([0], idx, [n - 1]))).astype(np.int64, copy=False)


def _tsdownsample_indices(y: np.ndarray, n_out: int) -> np.ndarray:
    y = np.ascontiguousarray(y)
    if y.dtype.kind == "f" and np.isnan(y).any():
        from tsdownsample import NaNMinMaxDownsampler

        return NaNMinMaxDownsampler().downsample(y, n_out=n_out).astype(np.int64)
    return _TsMinMax().downsample(y, n_out=n_out).astype(np.int64)


def _numpy_minmax_indices(y: np.ndarray, n_out: int) -> np.ndarray:
    n = len(y)
    n_buckets = n_out // 2
    size = -(-n // n_buckets)  # ceil
    full = n // size
    body = y[: full * size].reshape(full, size)
    if body.dtype.kind == "f":
        lo_src = np.where(np.isnan(body), np.inf, body)
        hi_src = np.where(np.isnan(body), -np.inf, body)
    elif body.dtype.kind == "b":
        lo_src = hi_src = body.view(np.uint8)
    else:
        lo_src = hi_src = body
    offsets = np.arange(full, dtype=np.int64) * size
    parts = [offsets + lo_src.argmin(axis=1), offsets + hi_src.argmax(axis=1)]
    if full * size < n:
        tail = y[full * size :]
        if tail.dtype.kind == "f" and np.isnan(tail).all():
            tail_idx = [0]
        elif tail.dtype.kind == "f":
            tail_idx = [np.nanargmin(tail), np.nanargmax(tail)]
        else:
            tail_idx = [tail.argmin(), tail.argmax()]
        parts.append(full * size + np.asarray(tail_idx, dtype=np.int64))
    return np.concatenate(parts)


def decimate_trace(
    y: np.ndarray,
    n_out: int = DEFAULT_TRACE_POINTS,
    x: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a trace to about `n_out` points, keeping each bucket's extremes.

    Parameters
    ----------
    y : numpy.ndarray
        One-dimensional numeric values.
    n_out : int
        Target number of points.
    x : numpy.ndarray, optional
        Coordinates of `y`; the row index when omitted.

    Returns
    -------
    x, y : numpy.ndarray
        float64 coordinates (precise enough for time stamps and large indices)
        and the values as :func:`exact_float` gives them, at most ``n_out + 2``
        points.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"decimate_trace needs 1-D values, got shape {y.shape}")
    if x is not None and len(x) != len(y):
        raise ValueError(f"x has {len(x)} points but y has {len(y)}")
    idx = minmax_indices(y, n_out)
    if len(idx) == len(y):
        xs = np.arange(len(y), dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)
        return xs, exact_float(y)
    xs = idx.astype(np.float64) if x is None else np.asarray(x)[idx].astype(np.float64)
    return xs, exact_float(y[idx])


def decimate_image(
    image: np.ndarray,
    max_shape: tuple[int, int] = DEFAULT_IMAGE_SHAPE,
    invalid: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Block-average a 2-D image so that it fits in `max_shape`.

    NaNs (unfilled pixels), and the pixels flagged in `invalid` (detector
    gaps, masked pixels), are left out of their block's mean; a block of
    nothing else stays NaN. An image that needs no reduction is returned with
    its own values, `invalid` pixels included. The result is float32 when that
    holds it exactly, or when it is larger than float32's byte budget
    (``max_shape`` pixels of 4 bytes) and float32's rounding is below 2**-16 of
    the image's range (invisible in any colour map). Otherwise it is float64,
    reduced further if needed to stay within that byte budget.

    Returns
    -------
    image : numpy.ndarray
        float32 or float64 image of at most `max_shape`.
    factors : tuple of int
        Block size along each axis (``(1, 1)`` when nothing was reduced).
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"decimate_image needs a 2-D image, got shape {image.shape}")
    if image.dtype.kind == "c":
        image = np.abs(image)
    if f"{image.dtype.kind}{image.dtype.itemsize}" in _FLOAT32_EXACT:
        return _block_mean(image.astype(np.float32, copy=False), max_shape, invalid)
    wide = image.astype(np.float64, copy=False)
    reduced, factors = _block_mean(wide, max_shape, invalid)
    narrow = reduced.astype(np.float32)
    if _holds_exactly(narrow, reduced):
        return narrow, factors
    if reduced.nbytes <= max_shape[0] * max_shape[1] * 4:
        return reduced, factors
    if _rounding_invisible(reduced, narrow):
        return narrow, factors
    side = max(1, int(max_shape[0] / np.sqrt(2))), max(1, int(max_shape[1] / np.sqrt(2)))
    return _block_mean(wide, side, invalid)


def reduction_factors(
    shape: tuple[int, ...], max_shape: tuple[int, int] = DEFAULT_IMAGE_SHAPE
) -> tuple[int, int]:
    """Block size along each axis that makes an image of `shape` fit in `max_shape`."""
    return max(1, -(-shape[0] // max_shape[0])), max(1, -(-shape[1] // max_shape[1]))


def _block_mean(
    image: np.ndarray, max_shape: tuple[int, int], invalid: np.ndarray | None = None
) -> tuple[np.ndarray, tuple[int, int]]:
    """Block means of a float image, in its own dtype, leaving out NaN and `invalid`."""
    fy, fx = reduction_factors(image.shape, max_shape)
    if fy == fx == 1:
        return image, (1, 1)
    ny, nx = -(-image.shape[0] // fy), -(-image.shape[1] // fx)
    if (ny * fy, nx * fx) == image.shape:  # blocks tile the image: no padded copy
        values = np.array(image, copy=True)
        bad = np.isnan(values) if invalid is None else (np.isnan(values) | invalid)
        rows, cols = np.nonzero(bad)
        values[rows, cols] = 0.0
        sums = values.reshape(ny, fy, -1).sum(axis=1).reshape(ny, nx, fx).sum(axis=2)
        counts = np.full((ny, nx), fy * fx, dtype=np.int64)
        np.subtract.at(counts, (rows // fy, cols // fx), 1)
    else:  # ragged edge blocks: pad with NaN
        padded = np.full((ny * fy, nx * fx), np.nan, dtype=image.dtype)
        padded[: image.shape[0], : image.shape[1]] = image
        if invalid is not None:
            padded[: image.shape[0], : image.shape[1]][invalid] = np.nan
        blocks = padded.reshape(ny, fy, nx, fx)
        counts = np.sum(~np.isnan(blocks), axis=(1, 3))
        sums = np.nansum(blocks, axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        reduced = (sums / counts).astype(image.dtype, copy=False)
    return reduced, (fy, fx)


def _rounding_invisible(wide: np.ndarray, narrow: np.ndarray) -> bool:
    """Whether float32's rounding of `wide` stays below 2**-16 of its finite range."""
    finite = np.isfinite(wide)
    if not finite.any():
        return True
    values = wide[finite]
    spread = float(values.max() - values.min())
    error = float(np.max(np.abs(narrow[finite].astype(np.float64) - values)))
    return error <= spread * 2.0**-16


class MinMaxSummary:
    """Min/max decimation of a growing series, updated with only the new values.

    The series is cut into consecutive buckets holding the minimum and maximum
    (and their positions) of their values; when there are more than
    ``2 * n_buckets`` buckets, neighbours are merged in pairs. Memory stays
    O(`n_buckets`) however long the series grows, each :meth:`extend` costs
    O(new values), and the global minimum and maximum are always among the
    :meth:`points`.

    Parameters
    ----------
    n_buckets : int, default 1000
        Buckets kept at least once the series is long; :meth:`points` returns at
        most ``4 * n_buckets + 4`` points.
    """

    def __init__(self, n_buckets: int = DEFAULT_TRACE_POINTS // 2) -> None:
        self.n_buckets = max(int(n_buckets), 1)
        self.bucket_size = 1
        self.count = 0  # values seen
        self._first = 0  # index of the first value seen
        # per bucket: index of min, index of max, min, max (NaN when all NaN)
        self._imin = np.empty(0, dtype=np.int64)
        self._imax = np.empty(0, dtype=np.int64)
        self._vmin = np.empty(0, dtype=np.float64)
        self._vmax = np.empty(0, dtype=np.float64)
        self._tail = np.empty(0, dtype=np.float64)  # values not yet in a bucket
        self._ends: dict[int, float] = {}  # first and newest finite values, always drawn

    def __len__(self) -> int:
        return self.count

    def clear(self) -> None:
        """Forget everything."""
        self.__init__(self.n_buckets)

    def extend(self, values: np.ndarray, start: int | None = None) -> None:
        """Add the next values of the series.

        Parameters
        ----------
        values : numpy.ndarray
            One-dimensional numeric values.
        start : int, optional
            Index of ``values[0]`` in the series; by default the values follow
            the ones already added. Only the first call may start past 0.
        """
        values = to_float(np.ravel(values), np.float64)
        if start is not None and self.count == 0:
            self._first = int(start)
        elif start is not None and start != self._first + self.count:
            raise ValueError(f"values start at {start}, expected {self._first + self.count}")
        if not len(values):
            return
        offset = self._first + self.count - len(self._tail)
        finite = np.flatnonzero(~np.isnan(values))
        if len(finite):
            base = self._first + self.count
            if not self._ends:
                self._ends[base + int(finite[0])] = float(values[finite[0]])
            newest = base + int(finite[-1])
            self._ends = {min(self._ends): self._ends[min(self._ends)]}
            self._ends[newest] = float(values[finite[-1]])
        self.count += len(values)
        data = np.concatenate((self._tail, values)) if len(self._tail) else values
        size = self.bucket_size
        full = len(data) // size
        if full:
            body = data[: full * size].reshape(full, size)
            nan = np.isnan(body)
            lo = np.where(nan, np.inf, body).argmin(axis=1)
            hi = np.where(nan, -np.inf, body).argmax(axis=1)
            rows = np.arange(full)
            empty = nan.all(axis=1)
            vmin = np.where(empty, np.nan, body[rows, lo])
            vmax = np.where(empty, np.nan, body[rows, hi])
            base = offset + rows * size
            self._append(base + lo, base + hi, vmin, vmax)
        self._tail = data[full * size :].copy()
        while len(self._vmin) > 2 * self.n_buckets:
            self._merge_pairs()

    def _append(self, imin, imax, vmin, vmax) -> None:
        self._imin = np.concatenate((self._imin, imin))
        self._imax = np.concatenate((self._imax, imax))
        self._vmin = np.concatenate((self._vmin, vmin))
        self._vmax = np.concatenate((self._vmax, vmax))

    def _merge_pairs(self) -> None:
        even = len(self._vmin) // 2 * 2
        a, b = slice(0, even, 2), slice(1, even, 2)
        # fmin/fmax ignore NaN; pick the side that holds the kept value
        take_b_min = np.isnan(self._vmin[a]) | (self._vmin[b] < self._vmin[a])
        take_b_max = np.isnan(self._vmax[a]) | (self._vmax[b] > self._vmax[a])
        imin = np.where(take_b_min, self._imin[b], self._imin[a])
        imax = np.where(take_b_max, self._imax[b], self._imax[a])
        vmin = np.fmin(self._vmin[a], self._vmin[b])
        vmax = np.fmax(self._vmax[a], self._vmax[b])
        rest = slice(even, None)
        self._imin = np.concatenate((imin, self._imin[rest]))
        self._imax = np.concatenate((imax, self._imax[rest]))
        self._vmin = np.concatenate((vmin, self._vmin[rest]))
        self._vmax = np.concatenate((vmax, self._vmax[rest]))
        self.bucket_size *= 2

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions (float64) and values (:func:`exact_float`) to draw, in order.

        Buckets that hold only NaN are left out; the values not yet in a full
        bucket contribute their own minimum and maximum; the first and the
        newest values are always included.
        """
        keep = ~np.isnan(self._vmin)
        idx = [self._imin[keep], self._imax[keep], np.fromiter(self._ends, np.int64)]
        vals = [self._vmin[keep], self._vmax[keep], np.fromiter(self._ends.values(), np.float64)]
        if len(self._tail):
            t_idx = np.flatnonzero(~np.isnan(self._tail))
            if len(t_idx):
                t_vals = self._tail[t_idx]
                t_idx = t_idx[[t_vals.argmin(), t_vals.argmax()]]
            idx.append(self._first + self.count - len(self._tail) + t_idx)
            vals.append(self._tail[t_idx])
        all_idx = np.concatenate(idx)
        order = np.argsort(all_idx, kind="stable")
        all_idx, pos = np.unique(all_idx[order], return_index=True)
        return all_idx.astype(np.float64), exact_float(np.concatenate(vals)[order][pos])
