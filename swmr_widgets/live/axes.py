"""Coordinates along a dataset's axes: static values, a linear scale, or a growing dataset."""

from __future__ import annotations

from collections.abc import Callable

import h5py
import numpy as np

from swmr_widgets.live.problems import read_error
from swmr_widgets.metadata import Axis

__all__ = ["AxisReader"]

Resolve = Callable[[str], h5py.Dataset]


class AxisReader:
    """Coordinates along one axis: static values, a linear scale, or a growing dataset.

    Parameters
    ----------
    axis : Axis or None
        The axis (``None``: positions are the coordinates).
    resolve : callable
        Gives the shared handle of a dataset from its path.
    """

    def __init__(self, axis: Axis | None, resolve: Resolve) -> None:
        self.axis = axis
        self.dataset: h5py.Dataset | None = None
        if axis is not None and axis.values is None and axis.path:
            try:
                ds = resolve(axis.path)
            except (KeyError, TypeError):
                ds = None
            if ds is not None and ds.ndim >= 1:
                self.dataset = ds  # a growing axis (time stamps): read where drawn

    @property
    def explicit(self) -> bool:
        """Whether the file gives coordinates (not just positions under a default label)."""
        axis = self.axis
        return axis is not None and bool(
            axis.path or axis.values is not None or axis.offset != 0.0 or axis.scaling != 1.0
        )

    @property
    def title(self) -> str:
        """``"label (units)"`` of the axis, or ``""``."""
        return self.axis.title if self.axis is not None else ""

    def at(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float64 coordinates of positions `idx` (sorted), and which were known.

        A growing axis may lag behind its data: positions past its end are
        left out, and the mask says which of `idx` were kept.
        """
        idx = np.asarray(idx, dtype=np.int64)
        keep = np.ones(len(idx), dtype=bool)
        axis = self.axis
        if self.dataset is not None:
            keep = idx < self.dataset.shape[0]
            known = idx[keep]
            if not len(known):  # (an empty array has no "-1" to reshape to)
                return np.empty(0), keep
            try:
                x = self.dataset[known]
            except Exception as exc:  # damaged, or compressed with a missing filter
                ds = self.dataset
                raise read_error(exc, ds.file.filename, self.axis.path, ds) from exc
            return np.asarray(x, dtype=np.float64).reshape(len(known), -1)[:, 0], keep
        if axis is None:
            return idx.astype(np.float64), keep
        if axis.values is not None and len(idx) and idx.max() < len(axis.values):
            return np.asarray(axis.values, dtype=np.float64)[idx], keep
        return axis.offset + axis.scaling * idx.astype(np.float64), keep

    def first(self, n: int) -> np.ndarray:
        """float64 coordinates of positions ``0 .. n-1`` (static axes)."""
        return self.at(np.arange(n))[0] if self.dataset is None else np.arange(n, dtype=float)
