"""One open file and one handle per dataset, shared by every user in this process.

HDF5 (up to 2.0 at least) mishandles ``H5Drefresh`` of a dataset that is open
more than once in a process: afterwards, reading a multi-dimensional chunked
dataset across several chunks fails with "can't insert duplicate key". So all
engines following one file (two views, the one a re-run notebook cell left
behind, a terminal follower) share one :class:`SharedFile`, and it hands out a
single handle per HDF5 object, whatever path (hard link) it is asked by.
Virtual datasets and external-link datasets of a file read in SWMR mode are
handed out as :class:`~swmr_widgets.live.reopened.ReopenedDataset`, open only
while read (see :mod:`swmr_widgets.live.reopened`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import ClassVar

import h5py

from swmr_widgets.live.reopened import ReopenedDataset, needs_reopening
from swmr_widgets.swmr import Locking, SwmrMode, is_swmr_read, open_h5_file_for_reading

__all__ = ["SharedFile", "file_identity"]

FileKey = tuple[int, int]


class SharedFile:
    """An open HDF5 file and the dataset handles opened from it.

    Use :meth:`acquire` (open a path, or share the file another user opened)
    or :meth:`adopt` (wrap a file or group the caller opened), and
    :meth:`release` when done.

    Parameters
    ----------
    root : h5py.Group
        The group followed: a file's root group, or any group in it.
    is_swmr : bool
        Whether the file is read in SWMR mode.
    key : tuple of int or None
        ``(device, inode)`` of the file.
    owned : bool
        Whether the file was opened here (and is closed by the last release).
    """

    _open: ClassVar[dict[FileKey, SharedFile]] = {}

    def __init__(self, root: h5py.Group, is_swmr: bool, key: FileKey | None, owned: bool) -> None:
        self.root = root
        self.is_swmr = is_swmr
        self.key = key
        self.owned = owned
        self.users = 0
        self._by_path: dict[str, h5py.Dataset] = {}
        self._by_object: dict[tuple, h5py.Dataset] = {}

    @property
    def file(self) -> h5py.File:
        """The open file."""
        return self.root.file

    @classmethod
    def acquire(cls, path: Path, swmr: SwmrMode = "auto", locking: Locking = None) -> SharedFile:
        """Open `path` (see :func:`open_h5_file_for_reading`), or share it if already open."""
        f, is_swmr = open_h5_file_for_reading(path, swmr=swmr, locking=locking)
        key, _ = file_identity(f, path)
        shared = cls._open.get(key) if key is not None else None
        if shared is not None and shared.file.id.valid and shared.owned:
            f.close()  # HDF5 shares the open file anyway: keep one handle per dataset
        else:
            shared = cls(f, is_swmr, key, owned=True)
            if key is not None:
                cls._open[key] = shared
        shared.users += 1
        return shared

    @classmethod
    def adopt(cls, group: h5py.Group) -> SharedFile:
        """Wrap a file or group the caller opened; it is never closed here."""
        shared = cls(group, is_swmr_read(group), file_identity(group.file, None)[0], owned=False)
        shared.users += 1
        return shared

    def dataset(self, path: str) -> h5py.Dataset:
        """The one handle of the dataset at `path` (an absolute path in the file).

        Raises
        ------
        KeyError
            If nothing is at `path`.
        TypeError
            If the object at `path` is not a dataset.
        """
        ds = self._by_path.get(path)
        if ds is not None:
            return ds
        obj = self.file[path]
        if not isinstance(obj, h5py.Dataset):
            raise TypeError(f"{path!r} is a {type(obj).__name__}, not a dataset")
        try:
            key = (obj.id.fileno, h5py.h5o.get_info(obj.id).addr)
        except Exception:  # no address (an odd driver): identify by path alone
            key = (path,)
        if key not in self._by_object and self.is_swmr and needs_reopening(obj, self.file):
            obj = ReopenedDataset(obj, self.file, path)
            obj.park()
        ds = self._by_object.setdefault(key, obj)
        # a second hard link to a dataset already open: drop the new handle, so that
        # HDF5 never refreshes one object through two handles
        self._by_path[path] = ds
        return ds

    def park(self) -> None:
        """Close the handles that are open only while read (reopened when next used)."""
        for ds in self._by_object.values():
            if isinstance(ds, ReopenedDataset):
                ds.park()

    def forget(self) -> None:
        """Share this file with no further user (its contents changed on disk)."""
        if self.key is not None and self._open.get(self.key) is self:
            del self._open[self.key]

    def release(self) -> None:
        """One user less; the last one closes the file (if it was opened here)."""
        self.users -= 1
        if self.users > 0:
            return
        self.forget()
        self.park()
        self._by_path.clear()
        self._by_object.clear()
        if self.owned:
            with contextlib.suppress(Exception):
                self.file.close()


def file_identity(
    file: h5py.File, path: Path | None
) -> tuple[FileKey | None, tuple[int, int] | None]:
    """``((device, inode), (mtime_ns, size))`` of the open `file`, else of `path`.

    The descriptor the file was opened with names the very file being read,
    even when `path` was replaced between opening and this call.
    """
    try:
        st = os.fstat(file.id.get_vfd_handle())
    except Exception:  # another driver, or a closed file: fall back to the path
        try:
            st = os.stat(path if path is not None else file.filename)
        except (OSError, TypeError, ValueError):
            return None, None
    return (st.st_dev, st.st_ino), (st.st_mtime_ns, st.st_size)
