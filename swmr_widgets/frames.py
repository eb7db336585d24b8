"""Camera frames made ready for display: decimated without their invalid pixels.

Detector sentinels and masked pixels (see :mod:`swmr_widgets.contrast`) must
not leak into the block averages of a large frame, nor into its colour range.
"""

from __future__ import annotations

import numpy as np

from swmr_widgets.contrast import invalid_pixels
from swmr_widgets.decimate import DEFAULT_IMAGE_SHAPE, decimate_image, to_float

__all__ = ["RANGE_PIXELS", "range_sample", "reduce_frame", "stored_sentinels"]


def stored_sentinels(values: np.ndarray, dtype: np.dtype) -> np.ndarray | None:
    """Pixels of `values` (floats, NaN where unfilled) that were sentinels as `dtype`."""
    if dtype.kind not in "iu":
        return None
    filled = np.isfinite(values)
    mask = np.zeros(values.shape, dtype=bool)
    mask[filled] = invalid_pixels(values[filled].astype(dtype))
    return mask


#: Pixels above which the colour range is taken from a regular grid of the frame.
RANGE_PIXELS = 1 << 20


def reduce_frame(frame: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, tuple[int, int]]:
    """`frame` block-averaged to fit the display, sentinels and masked pixels left out.

    A frame that needs no reduction is returned as it is (as float32), so that
    what is sent holds the frame's own values.
    """
    fy, fx = (max(1, -(-n // m)) for n, m in zip(frame.shape, DEFAULT_IMAGE_SHAPE, strict=True))
    if fy == fx == 1:
        return decimate_image(frame)
    bad = invalid_pixels(frame, mask)
    ny, nx = frame.shape[0] // fy, frame.shape[1] // fx
    if (ny * fy, nx * fx) != frame.shape:  # ragged edge blocks: the general path
        values = to_float(frame, np.float32)
        if bad.any():
            values = np.where(bad, np.float32(np.nan), values)
        return decimate_image(values)
    values = np.array(to_float(frame, np.float32), dtype=np.float32, copy=True)
    rows, cols = np.nonzero(bad | np.isnan(values))
    values[rows, cols] = 0.0
    sums = values.reshape(ny, fy, -1).sum(axis=1).reshape(ny, nx, fx).sum(axis=2)
    counts = np.full((ny, nx), fy * fx, dtype=np.int32)
    np.subtract.at(counts, (rows // fy, cols // fx), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts).astype(np.float32), (fy, fx)


def range_sample(
    frame: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """A regular grid of at most about RANGE_PIXELS pixels of `frame` (and `mask`)."""
    step = int(np.ceil(np.sqrt(frame.size / RANGE_PIXELS)))
    if step <= 1:
        return frame, mask
    return frame[::step, ::step], (mask[::step, ::step] if mask is not None else None)
