"""Camera frames made ready for display: decimated without their invalid pixels.

Detector sentinels and masked pixels (see :mod:`swmr_widgets.contrast`) must
not leak into the block averages of a large frame, nor into its colour range.
"""

from __future__ import annotations

import numpy as np

from swmr_widgets.contrast import invalid_pixels
from swmr_widgets.decimate import decimate_image, reduction_factors

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

    A frame that needs no reduction is returned with its own values (see
    :func:`~swmr_widgets.decimate.decimate_image`), so that what is sent holds
    the frame as stored.
    """
    if reduction_factors(frame.shape) == (1, 1):
        return decimate_image(frame)
    return decimate_image(frame, invalid=invalid_pixels(frame, mask))


def range_sample(
    frame: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """A regular grid of at most about RANGE_PIXELS pixels of `frame` (and `mask`)."""
    step = int(np.ceil(np.sqrt(frame.size / RANGE_PIXELS)))
    if step <= 1:
        return frame, mask
    return frame[::step, ::step], (mask[::step, ::step] if mask is not None else None)
