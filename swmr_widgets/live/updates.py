"""Typed updates: what a feed found new at one poll.

Every update names its dataset, counts the points the writer added since the
previous poll, and says whether front ends must forget what they drew. Values
are exact: they keep the dataset's dtype (scan maps are float64).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Details", "Latest", "Rows", "ScanMap", "Slice", "Update", "Value"]


@dataclass(frozen=True)
class Update:
    """Base of all updates: which dataset, and how many points are new.

    Attributes
    ----------
    path : str
        Absolute path of the dataset.
    new : int
        Points the writer added since the previous poll (0 for what was
        already there when the feed started).
    reset : bool
        The dataset was replaced, shrank or changed shape: forget what it showed.
    """

    path: str
    new: int
    reset: bool


@dataclass(frozen=True)
class Rows(Update):
    """New values of a series, at their positions.

    Attributes
    ----------
    indices : numpy.ndarray
        int64 position of each value along the series.
    values : numpy.ndarray
        The values, 1-D, in the dataset's dtype.
    """

    indices: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Latest(Update):
    """The newest trace or frame (or a static array).

    Attributes
    ----------
    index : tuple of int
        Where it sits on the acquisition grid (``()`` for a static array).
    values : numpy.ndarray
        The trace (1-D) or frame (2-D), in the dataset's dtype.
    """

    index: tuple[int, ...]
    values: np.ndarray


@dataclass(frozen=True)
class ScanMap(Update):
    """The filled part of a 2-D scan of single values.

    Attributes
    ----------
    values : numpy.ndarray
        float64 map over the scan grid, NaN where no point was filled yet.
    indices : numpy.ndarray
        Flat indices (row-major over the grid) of the points new in this update.
    """

    values: np.ndarray
    indices: np.ndarray


@dataclass(frozen=True)
class Slice(Update):
    """A 2-D slice of an N-D dataset.

    Attributes
    ----------
    index : tuple of int
        Index along each leading dimension.
    values : numpy.ndarray
        The slice, in the dataset's dtype.
    shape : tuple of int
        Shape of the whole dataset.
    """

    index: tuple[int, ...]
    values: np.ndarray
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Value(Update):
    """The value of a scalar dataset."""

    value: Any


@dataclass(frozen=True)
class Details(Update):
    """What can be told about a dataset that cannot be plotted.

    Attributes
    ----------
    rows : tuple of (str, str)
        ``(name, text)`` pairs: path, shape, dtype, reason, attributes, preview.
    """

    rows: tuple[tuple[str, str], ...]
