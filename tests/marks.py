"""What an image mark holds, for tests that compare it with what a writer wrote."""

from __future__ import annotations

import numpy as np


def pixel_edges(coords: np.ndarray) -> np.ndarray:
    """Outer edges ``[first, last]`` of pixels centred on evenly spaced `coords`.

    The image mark draws a regular grid between two edges, half a step outside
    the first and last coordinates.
    """
    c = np.asarray(coords, dtype=np.float64)
    step = (c[-1] - c[0]) / (len(c) - 1) if len(c) > 1 else 1.0
    return np.array([c[0] - step / 2, c[-1] + step / 2])


def assert_image(plot, values: np.ndarray, x: np.ndarray | None = None, y=None) -> None:
    """The figure's image holds `values` exactly, drawn over the pixels of `x` and `y`."""
    mark = plot.image
    np.testing.assert_array_equal(np.asarray(mark.image), values)
    if x is not None:
        np.testing.assert_allclose(np.asarray(mark.x), pixel_edges(x), rtol=1e-12)
    if y is not None:
        np.testing.assert_allclose(np.asarray(mark.y), pixel_edges(y), rtol=1e-12)
