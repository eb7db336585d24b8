"""Watch HDF5 files live while another program writes them in SWMR mode.

The core functions need only h5py and numpy::

    from swmr_widgets import open_h5_file_for_reading, collect_datasets, refresh_cached

:class:`SwmrView`, the Jupyter widget, is imported on first use and needs the
``jupyter`` extra (ipywidgets, bqplot, anywidget).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swmr_widgets.swmr import (
    DamagedFileError,
    FileLockedError,
    MissingFilterError,
    NotHDF5Error,
    SwmrOpenError,
    UncleanFileError,
    collect_datasets,
    open_h5_file_for_reading,
    refresh_cached,
    refresh_datasets,
)

if TYPE_CHECKING:
    from swmr_widgets.view import SwmrView

__version__ = "0.1.0"

__all__ = [
    "DamagedFileError",
    "FileLockedError",
    "MissingFilterError",
    "NotHDF5Error",
    "SwmrOpenError",
    "SwmrView",
    "UncleanFileError",
    "__version__",
    "collect_datasets",
    "open_h5_file_for_reading",
    "refresh_cached",
    "refresh_datasets",
]


def __getattr__(name: str) -> Any:
    if name == "SwmrView":
        from swmr_widgets.view import SwmrView

        return SwmrView
    raise AttributeError(f"module 'swmr_widgets' has no attribute {name!r}")
