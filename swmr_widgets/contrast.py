"""Colour ranges of images that ignore what is not a measurement.

Detectors mark gaps, dead and hot pixels with sentinel values (an Eiger's
``2**32 - 1`` in 32-bit mode, ``2**16 - 1`` in 16-bit mode, ``-1`` in signed
data) or list them in a NeXus ``pixel_mask``. Left in, a single sentinel
stretches the colour range to 4.29e9 and the picture looks blank. The range
here comes from robust percentiles of the other pixels.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_PERCENTILES", "color_range", "invalid_pixels"]

#: Lower and upper percentiles of the automatic colour range.
DEFAULT_PERCENTILES = (1.0, 99.5)
#: Above this many pixels, percentiles are taken from a regular subsample.
_SAMPLE = 262_144


def invalid_pixels(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of pixels that are not measurements.

    Parameters
    ----------
    image : numpy.ndarray
        The image, in its stored dtype.
    mask : numpy.ndarray, optional
        A NeXus ``pixel_mask`` (non-zero: masked) of the same shape.

    Returns
    -------
    numpy.ndarray
        True for NaN or infinite values, the unsigned dtype's maximum, ``-1`` in
        signed integer images that hold no other negative value, and masked pixels.
    """
    image = np.asarray(image)
    kind = image.dtype.kind
    if kind in "fc":
        bad = ~np.isfinite(image)
    elif kind == "u" and image.dtype.itemsize >= 2:
        bad = image == np.iinfo(image.dtype).max
    elif kind == "i":
        bad = image == -1
        if bad.any() and (image < -1).any():  # real negative data: -1 is a value too
            bad = np.zeros(image.shape, dtype=bool)
    else:
        bad = np.zeros(image.shape, dtype=bool)
    if mask is not None and np.shape(mask) == image.shape:
        bad = bad | (np.asarray(mask) != 0)
    return bad


def color_range(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> tuple[float, float] | None:
    """Low and high ends of the colour scale for `image`.

    Parameters
    ----------
    image : numpy.ndarray
        The image (any numeric dtype).
    mask : numpy.ndarray, optional
        Pixels to leave out (non-zero: masked), as a NeXus ``pixel_mask``.
    percentiles : tuple of float
        Percentiles of the valid pixels at the two ends; ``(0, 100)`` gives
        their minimum and maximum.

    Returns
    -------
    tuple of float or None
        ``(low, high)`` with ``high > low``, or ``None`` when no pixel is valid.
    """
    image = np.asarray(image)
    if image.dtype.kind == "c":
        image = np.abs(image)
    elif image.dtype.kind == "b":  # percentiles need numbers
        image = image.astype(np.uint8)
    valid = image[~invalid_pixels(image, mask)]
    if valid.size == 0:
        return None
    if valid.size > _SAMPLE:
        valid = valid[:: valid.size // _SAMPLE]
    lo_p, hi_p = percentiles
    if (lo_p, hi_p) == (0.0, 100.0):
        lo, hi = float(valid.min()), float(valid.max())
    else:
        lo, hi = (float(v) for v in np.percentile(valid, [lo_p, hi_p]))
    if not hi > lo:
        hi = lo + (abs(lo) * 1e-9 or 1.0)
    return lo, hi
