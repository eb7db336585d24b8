"""Compression filters: make hdf5plugin's available, and say which one is missing.

Detectors (Eiger, Jungfrau, many cameras) write chunks compressed with
Bitshuffle/LZ4, Blosc or Zstandard. HDF5 decompresses them only when the filter
is registered; ``hdf5plugin`` registers all of them when it is imported. This
module imports it (when it is installed) before the first file is opened, and
turns HDF5's unhelpful "can't open directory (/usr/local/lib/plugin)" into a
:class:`MissingFilterError` that names the filter and how to get it.

``hdf5plugin`` is never required: without it, gzip, LZF, shuffle and the other
filters built into h5py work as usual. Set the environment variable
``SWMR_WIDGETS_NO_HDF5PLUGIN=1`` to keep swmr_widgets from importing it.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import h5py

__all__ = [
    "KNOWN_FILTERS",
    "NO_PLUGIN_ENV",
    "Filter",
    "MissingFilterError",
    "dataset_filters",
    "explain_read_error",
    "missing_filters",
    "plugins_loaded",
    "register_plugins",
]

#: Environment variable that keeps swmr_widgets from importing ``hdf5plugin``.
NO_PLUGIN_ENV = "SWMR_WIDGETS_NO_HDF5PLUGIN"

#: Names of the filters readers meet most, by their registered HDF5 filter id.
KNOWN_FILTERS: dict[int, str] = {
    1: "Deflate/gzip",
    2: "Shuffle",
    3: "Fletcher32",
    4: "SZIP",
    5: "N-Bit",
    6: "Scale-Offset",
    307: "BZip2",
    32000: "LZF",
    32001: "Blosc",
    32004: "LZ4",
    32008: "Bitshuffle",
    32013: "ZFP",
    32015: "Zstd",
    32017: "SZ",
    32018: "FCIDECOMP",
    32024: "SZ3",
    32026: "Blosc2",
    32028: "SPERR",
    32033: "HTJ2K",
}

#: Filters that ``hdf5plugin`` provides.
_HDF5PLUGIN_FILTERS = frozenset({307, 32001, 32004, 32008, 32013, 32015, 32017, 32018, 32024})
_HDF5PLUGIN_FILTERS |= {32026, 32028, 32033}
#: Filters built into HDF5 itself (SZIP only when HDF5 was built with libaec).
_BUILTIN_FILTERS = frozenset({1, 2, 3, 4, 5, 6})

#: Seconds between two attempts to import a missing ``hdf5plugin``.
RETRY_AFTER = 5.0

_state: dict[str, Any] = {"tried": None, "loaded": False}


def register_plugins(retry: bool = False) -> bool:
    """Import ``hdf5plugin`` (once) so its compression filters are registered with HDF5.

    Parameters
    ----------
    retry : bool, default False
        Try again if an earlier import failed (at most every few seconds), so
        that a ``pip install hdf5plugin`` made while a view runs is picked up.

    Returns
    -------
    bool
        Whether ``hdf5plugin`` is imported (by this call, earlier, or by the
        user). Never raises: a missing or broken ``hdf5plugin`` gives False,
        and so does the environment variable :data:`NO_PLUGIN_ENV`.
    """
    if _state["loaded"] or sys.modules.get("hdf5plugin") is not None:
        _state["loaded"] = True
        return True
    if os.environ.get(NO_PLUGIN_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return False
    tried = _state["tried"]
    if tried is not None and (not retry or time.monotonic() - tried < RETRY_AFTER):
        return False
    _state["tried"] = time.monotonic()
    if tried is not None:
        importlib.invalidate_caches()  # a package installed since the last try
    try:
        importlib.import_module("hdf5plugin")
    except Exception:  # not installed, or broken: the filters built into h5py still work
        return False
    _state["loaded"] = True
    return True


def plugins_loaded() -> bool:
    """Whether ``hdf5plugin`` is imported (then the filters detectors use are all there)."""
    return bool(_state["loaded"]) or sys.modules.get("hdf5plugin") is not None


@dataclass(frozen=True)
class Filter:
    """One filter of a dataset's pipeline.

    Attributes
    ----------
    id : int
        Its registered HDF5 filter id (32008 for Bitshuffle...).
    name : str
        Its name: a well-known one, else the one the writer stored in the file.
    available : bool
        Whether this HDF5 library can apply it now.
    """

    id: int
    name: str
    available: bool

    @property
    def title(self) -> str:
        """``"Bitshuffle (HDF5 filter 32008)"``."""
        return f"{self.name} (HDF5 filter {self.id})"


def dataset_filters(dataset: h5py.Dataset | h5py.h5d.DatasetID) -> tuple[Filter, ...]:
    """The filter pipeline of `dataset`, in order; never raises (``()`` if unreadable)."""
    dsid = dataset.id if isinstance(dataset, h5py.Dataset) else dataset
    try:
        plist = dsid.get_create_plist()
        count = plist.get_nfilters()
    except Exception:
        return ()
    found = []
    for i in range(count):
        try:
            code, _flags, _values, stored = plist.get_filter(i)
        except Exception:
            continue
        code = int(code)
        name = KNOWN_FILTERS.get(code) or _stored_name(stored) or "an unregistered filter"
        try:
            available = bool(h5py.h5z.filter_avail(code))
        except Exception:
            available = False
        found.append(Filter(code, name, available))
    return tuple(found)


def _stored_name(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text.split(";")[0].strip()[:60]


def missing_filters(dataset: h5py.Dataset | h5py.h5d.DatasetID) -> tuple[Filter, ...]:
    """The filters of `dataset` that this HDF5 library cannot apply now."""
    return tuple(f for f in dataset_filters(dataset) if not f.available)


def how_to_get(filters: tuple[Filter, ...]) -> str:
    """What to do so that `filters` become available (one sentence or two)."""
    ids = {f.id for f in filters}
    if ids <= _HDF5PLUGIN_FILTERS:
        if os.environ.get(NO_PLUGIN_ENV, "").strip().lower() not in ("", "0", "false", "no"):
            return (
                f"{NO_PLUGIN_ENV} is set, so swmr_widgets does not import hdf5plugin: "
                "run `import hdf5plugin` (or unset the variable); the next refresh reads it."
            )
        if sys.modules.get("hdf5plugin") is not None:
            return (
                "hdf5plugin is imported but does not provide it here: upgrade it "
                "(pip install -U hdf5plugin, or conda install -c conda-forge hdf5plugin)."
            )
        return (
            "Install hdf5plugin (pip install hdf5plugin, or conda install -c conda-forge "
            "hdf5plugin); swmr_widgets then imports it by itself, or run `import hdf5plugin`: "
            "the next refresh reads it."
        )
    if ids <= _BUILTIN_FILTERS:
        return (
            "This HDF5 library was built without it: install an h5py built with it "
            "(conda install -c conda-forge h5py)."
        )
    return (
        "Install the HDF5 plugin for it (hdf5plugin provides the common ones: pip install "
        "hdf5plugin) and set HDF5_PLUGIN_PATH to the folder of its shared library."
    )


class MissingFilterError(OSError):
    """A dataset is compressed with a filter that this HDF5 library does not have.

    Parameters
    ----------
    filename : str
        The file.
    dataset : str
        The dataset's path in the file.
    filters : tuple of Filter
        The missing filters.

    Attributes
    ----------
    path, dataset : str
        The file and the dataset's path in it.
    filters : tuple of Filter
        The missing filters (name and id).
    """

    def __init__(self, filename: str, dataset: str, filters: tuple[Filter, ...]) -> None:
        what = " and ".join(f.title for f in filters) or "a filter"
        message = (
            f"Cannot read {dataset} in {filename!r}: it is compressed with {what}, which "
            f"this HDF5 library does not have. {how_to_get(filters)}"
        )
        super().__init__(errno.ENOSYS, message, filename)
        self.path = filename
        self.dataset = dataset
        self.filters = filters

    def __str__(self) -> str:
        return self.strerror or ""


def explain_read_error(exc: BaseException, dataset: h5py.Dataset) -> BaseException:
    """`exc` raised reading `dataset`, as a :class:`MissingFilterError` if a filter is missing.

    Parameters
    ----------
    exc : BaseException
        What reading raised.
    dataset : h5py.Dataset
        What was read.

    Returns
    -------
    BaseException
        A :class:`MissingFilterError` when `exc` is an HDF5 read error and
        one of the dataset's filters is not available; `exc` otherwise.
    """
    if isinstance(exc, MissingFilterError) or not isinstance(exc, OSError | RuntimeError):
        return exc
    missing = missing_filters(dataset)
    if not missing:
        return exc
    try:
        filename, name = dataset.file.filename, dataset.name or "a dataset"
    except Exception:
        filename, name = "", "a dataset"
    error = MissingFilterError(filename, name, missing)
    error.__cause__ = exc
    return error
