"""Datasets that may share their HDF5 object with another handle, opened only while read.

A virtual dataset (VDS) keeps its source datasets open inside HDF5, and a
detector master's external links open the same data-file datasets again. In
HDF5 (up to 2.0 at least), two handles of one dataset in one process go wrong
when a SWMR writer extends it: measured with the writer in another process,
frames read through an external link repeated old ones while the virtual
dataset was open, and the virtual dataset showed the extent and frames of
the external link's last refresh. Opening each of them afresh for a read and
closing it afterwards made every frame read through either exact, at about
0.2 ms (external link) to 0.7 ms (virtual dataset over two files) per read.

So the engine hands out a :class:`ReopenedDataset` for the virtual datasets
and the external-link datasets of a file read in SWMR mode: an
:class:`h5py.Dataset` whose HDF5 handle is opened on first use and closed by
:meth:`ReopenedDataset.park`, which the engine calls once a read is done.
"""

from __future__ import annotations

from collections.abc import Iterable

import h5py

__all__ = ["ReopenedDataset", "needs_reopening", "park", "usable"]


def needs_reopening(ds: h5py.Dataset, root: h5py.File) -> bool:
    """Whether `ds` may share its HDF5 object with another handle in this process.

    True for a virtual dataset (its sources) and for a dataset in another file
    than `root` (reached through an external link; perhaps a virtual source).
    """
    try:
        if ds.id.fileno != root.id.fileno:
            return True
        return ds.id.get_create_plist().get_layout() == h5py.h5d.VIRTUAL
    except Exception:
        return False


class ReopenedDataset(h5py.Dataset):
    """A dataset whose HDF5 handle is open only between use and :meth:`park`.

    Everything :class:`h5py.Dataset` offers works; the handle (and with it the
    source datasets HDF5 opens) is reopened on first use after :meth:`park`
    or :meth:`refresh`, so it always shows what the writer has flushed.

    Parameters
    ----------
    ds : h5py.Dataset
        The dataset, as opened from the file followed (through its links).
    root : h5py.File
        The file followed.
    path : str
        The dataset's absolute path in `root`.
    """

    def __init__(self, ds: h5py.Dataset, root: h5py.File, path: str) -> None:
        self._handle: h5py.h5d.DatasetID | None = None
        # reopened by its path in the file followed: through the external link, if any
        self._where = (root.id, path.encode("utf-8"))
        super().__init__(ds.id)

    @property
    def _id(self) -> h5py.h5d.DatasetID:  # type: ignore[override]
        handle = self._handle
        if handle is None or not handle.valid:
            fid, name = self._where
            handle = self._handle = h5py.h5d.open(fid, name)
            self._cache_props.clear()
        return handle

    @_id.setter
    def _id(self, value: h5py.h5d.DatasetID) -> None:
        self._handle = value

    @property
    def name(self) -> str:  # type: ignore[override]
        """The path in the file followed (h5py gives a linked dataset's path in its own file)."""
        return self._where[1].decode("utf-8")

    @property
    def parked(self) -> bool:
        """Whether the handle is closed now (the next use reopens it)."""
        return self._handle is None

    @property
    def usable(self) -> bool:
        """Whether the dataset can be reopened: its file is still open."""
        return self._where[0].valid

    def park(self) -> None:
        """Close the HDF5 handle (and the source datasets or linked file HDF5 holds for it)."""
        handle, self._handle = self._handle, None
        self._cache_props.clear()
        if handle is not None and handle.valid:
            handle.close()

    def refresh(self) -> None:
        """Show what the writer has flushed: the next use opens the dataset afresh."""
        self.park()


def park(datasets: Iterable[h5py.Dataset]) -> None:
    """Close the handles of the :class:`ReopenedDataset` among `datasets`."""
    for ds in datasets:
        if isinstance(ds, ReopenedDataset):
            ds.park()


def usable(ds: h5py.Dataset) -> bool:
    """Whether a dataset's handle still works (a parked :class:`ReopenedDataset` reopens)."""
    return ds.usable if isinstance(ds, ReopenedDataset) else ds.id.valid
