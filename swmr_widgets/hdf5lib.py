"""A setting of libhdf5 that h5py does not expose: how often a SWMR reader retries bad metadata.

A reader in SWMR mode rereads metadata whose checksum is wrong, since a
writer may be rewriting it at that moment. HDF5 tries 100 times by default and
doubles its sleep between tries from 1 ns on, so a checksum that stays wrong
(a damaged file) makes it sleep for 2**100 ns: reading hangs for good.

:func:`open_swmr_reader` opens a file for SWMR reading with far fewer tries
(:data:`SWMR_READ_ATTEMPTS`, which still retries for about a tenth of a
second), through h5py's own copy of libhdf5, called with :mod:`ctypes`.
Where that copy cannot be found for sure (only Linux is supported, through
``/proc/self/maps``), h5py's default is kept.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
from typing import Any

import h5py
from h5py import h5f, h5p

__all__ = ["SWMR_READ_ATTEMPTS", "hdf5_library", "open_swmr_reader", "read_attempts"]

#: Metadata read attempts of SWMR readers: about 0.1 s of retrying (HDF5's default is 100).
SWMR_READ_ATTEMPTS = 25

_LIBHDF5 = re.compile(r"/libhdf5(?:[-.][^/]*)?\.(?:so|dylib)[^/]*$")


@functools.cache
def hdf5_library() -> ctypes.CDLL | None:
    """The libhdf5 that h5py uses, loaded in this process, or ``None`` if not found for sure."""
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split(None, 5)[-1].strip() for line in fh if "libhdf5" in line}
    except OSError:
        return None
    found = [p for p in paths if _LIBHDF5.search(p) and "libhdf5_hl" not in p]
    if len(found) != 1:
        return None
    try:
        lib = ctypes.CDLL(found[0])
        version = (ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint())
        lib.H5get_libversion(*(ctypes.byref(v) for v in version))
        lib.H5Iis_valid.argtypes = [ctypes.c_int64]
        lib.H5Pset_metadata_read_attempts.argtypes = [ctypes.c_int64, ctypes.c_uint]
        lib.H5Pget_metadata_read_attempts.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_uint)]
    except (OSError, AttributeError):
        return None
    if tuple(v.value for v in version) != h5py.version.hdf5_version_tuple[:3]:
        return None
    return lib


def read_attempts(fapl: h5p.PropFAID) -> int | None:
    """The metadata read attempts set in `fapl` (``None`` if they cannot be read)."""
    lib = hdf5_library()
    if lib is None or lib.H5Iis_valid(fapl.id) <= 0:
        return None
    value = ctypes.c_uint()
    if lib.H5Pget_metadata_read_attempts(fapl.id, ctypes.byref(value)) < 0:
        return None
    return value.value


def _capped_fapl(locking: Any, attempts: int) -> h5p.PropFAID | None:
    lib = hdf5_library()
    if lib is None:
        return None
    fapl = h5p.create(h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5f.LIBVER_EARLIEST, h5f.LIBVER_LATEST)  # h5py's default
    if locking is not None:
        try:  # h5py's own translation of `locking` (h5py >= 3.5)
            from h5py._hl.files import set_fapl_file_locking
        except ImportError:
            return None
        set_fapl_file_locking(fapl, locking)
    # the id must be one of this library's: then it is h5py's copy, not another one
    if lib.H5Iis_valid(fapl.id) <= 0 or lib.H5Pset_metadata_read_attempts(fapl.id, attempts) < 0:
        return None
    return fapl if read_attempts(fapl) == attempts else None


def open_swmr_reader(
    path: str | os.PathLike[str], locking: Any = None, attempts: int = SWMR_READ_ATTEMPTS
) -> h5py.File | None:
    """Open `path` read-only in SWMR mode, retrying bad metadata at most `attempts` times.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    locking : bool, "best-effort" or None
        File locking, as for :class:`h5py.File`.
    attempts : int
        Metadata read attempts.

    Returns
    -------
    h5py.File or None
        The open file, or ``None`` when the setting cannot be made here (then
        open it with :class:`h5py.File`). HDF5's errors are raised as h5py
        raises them.
    """
    fapl = _capped_fapl(locking, attempts)
    if fapl is None:
        return None
    fid = h5f.open(os.fsencode(path), h5f.ACC_RDONLY | h5f.ACC_SWMR_READ, fapl=fapl)
    return h5py.File(fid)
