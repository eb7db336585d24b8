"""Open HDF5 files that another process is writing in SWMR mode, and keep them current.

The four public functions follow the documented API of
``pymodaq_data.h5modules.swmr`` and fix what keeps it from working against a
live writer in another process:

* refreshing calls :meth:`h5py.Dataset.refresh`, which also drops h5py's cached
  shape; ``Dataset.id.refresh()`` alone leaves ``ds.shape`` and ``ds[:]`` stale
  on read-only files, so new rows never show up;
* ``swmr="auto"`` recognises a live SWMR writer from HDF5's "already open for
  write" error, which does not mention locking;
* every failure raises an :class:`OSError` subclass whose message names the
  file, says what happened and what to do, also for damaged files
  (:class:`DamagedFileError`) and for data compressed with a filter that is
  not installed (:class:`MissingFilterError`; ``hdf5plugin`` is imported
  before the first file is opened when it is installed, see
  :mod:`swmr_widgets.filters`).

The reader never writes: files are always opened with mode ``"r"``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import h5py

from swmr_widgets.errors import (
    DamagedFileError,
    SwmrOpenError,
    damaged_error,
    filename_of,
    is_damage,
    walk_tolerant,
)
from swmr_widgets.filters import MissingFilterError, register_plugins
from swmr_widgets.hdf5lib import open_swmr_reader
from swmr_widgets.linked import links_to_live_files
from swmr_widgets.superblock import held_by_swmr_writer, superblock_offset

__all__ = [
    "DamagedFileError",
    "FileLockedError",
    "MissingFilterError",
    "NotHDF5Error",
    "SwmrOpenError",
    "UncleanFileError",
    "collect_datasets",
    "explain_hdf5_error",
    "is_swmr_read",
    "open_h5_file_for_reading",
    "refresh_cached",
    "refresh_datasets",
]

PathLike = str | os.PathLike[str]
SwmrMode = bool | Literal["auto"]
Locking = bool | Literal["best-effort"] | None

#: HDF5 error text fragments, as written by libhdf5 1.10 - 2.0.
_OPEN_FOR_WRITE = "already open for write"
_NOT_OPEN_FOR_SWMR = "not already open for swmr writing"
_LOCK_FAILED = "unable to lock file"
_LOCKING_MISMATCH = "file locking flag values don't match"
_LOCKING_UNSUPPORTED = ("function not implemented", "locking disabled", "errno = 38")
_NOT_HDF5 = "file signature not found"
_TRUNCATED = "truncated file"

#: What :func:`explain_hdf5_error` says of data held by a writer (linked from another file).
HELD_BY_WRITER = "data comes from a file that a writer holds"


class NotHDF5Error(SwmrOpenError):
    """The file exists but is not (or not yet, or no longer completely) an HDF5 file."""


class FileLockedError(SwmrOpenError, BlockingIOError):
    """A writer holds the file without SWMR mode, which locks every reader out."""


class UncleanFileError(SwmrOpenError):
    """The file is still marked open-for-write by a writer that is gone."""


# --------------------------------------------------------------------------- collect / refresh


def collect_datasets(
    group: h5py.Group, *, errors: Literal["raise", "skip"] = "raise"
) -> dict[str, h5py.Dataset]:
    """Map the absolute path of every dataset under `group` to its dataset.

    Build this once, then pass it to :func:`refresh_cached` on each poll: walking
    a tree costs far more than refreshing the datasets already found.

    Parameters
    ----------
    group : h5py.Group
        Any group, including an :class:`h5py.File` (its root group).
    errors : {"raise", "skip"}, default "raise"
        What to do when part of the file is damaged: ``"raise"`` raises
        :class:`DamagedFileError` (whose ``datasets`` holds what could be
        read and ``damaged`` what could not); ``"skip"`` returns the datasets
        that could be read.

    Returns
    -------
    dict of str to h5py.Dataset
        Keys are absolute paths such as ``"/RawData/CH000/Data0D/Data00/data"``,
        also when `group` is a subgroup, in the order HDF5 visits them.

    Raises
    ------
    DamagedFileError
        Some groups or datasets cannot be read (with ``errors="raise"``).

    Notes
    -----
    Only hard links are walked. Soft and external links are not followed, so a
    dataset reachable only through such a link is left out, and a dataset with
    several hard links appears once.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', not {errors!r}")
    found: dict[str, h5py.Dataset] = {}
    try:
        prefix = group.name.rstrip("/")

        def visit(name: str, obj: h5py.HLObject) -> None:
            if isinstance(obj, h5py.Dataset):
                found[f"{prefix}/{name}"] = obj

        group.visititems(visit)
        return found
    except Exception as exc:  # a damaged object stops HDF5's walk: walk link by link
        if not is_damage(exc):
            raise
        filename = filename_of(group)
        found, damaged = {}, {}
        walk_tolerant(group, found, damaged, set())
        if errors == "skip" or not damaged:
            return found
        listed = "; ".join(f"{p} ({why})" for p, why in list(damaged.items())[:3])
        more = f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""
        raise DamagedFileError(
            filename,
            f"{filename!r} is damaged: {len(damaged)} object(s) cannot be read: {listed}{more}. "
            f"The other {len(found)} dataset(s) are in this error's .datasets; "
            "collect_datasets(..., errors='skip') returns them.",
            damaged,
            found,
        ) from exc


def refresh_cached(cache: Mapping[str, h5py.Dataset]) -> None:
    """Bring every dataset of a :func:`collect_datasets` mapping up to date.

    Afterwards ``ds.shape``, ``len(ds)``, ``ds[:]`` and ``ds[-1]`` show all that
    the writer has flushed. Datasets of files not opened in SWMR mode cannot
    change while they are open and are left alone.

    Parameters
    ----------
    cache : Mapping of str to h5py.Dataset
        As returned by :func:`collect_datasets`, or any subset of it: refresh
        only what you display.

    Raises
    ------
    ValueError
        If a dataset's file has been closed; the message names the dataset.
    DamagedFileError
        If a dataset's metadata cannot be read any more (the file was damaged,
        or truncated under the reader); the message names file and dataset.
    """
    swmr_by_file: dict[int, bool] = {}
    names: dict[int, str] = {}  # (a dataset whose refresh failed no longer knows its file)
    for path, ds in cache.items():
        if not ds.id.valid:
            raise ValueError(
                f"Cannot refresh dataset {path!r}: its file has been closed. "
                "Reopen the file and call collect_datasets() again."
            )
        fileno = -1
        try:
            fileno = ds.id.fileno
            swmr = swmr_by_file.get(fileno)
            if swmr is None:
                swmr = swmr_by_file[fileno] = is_swmr_read(ds)
                names[fileno] = filename_of(ds)
            if swmr:
                # Dataset.refresh() = H5Drefresh + dropping h5py's cached shape and
                # selector; Dataset.id.refresh() alone leaves them stale.
                ds.refresh()
        except Exception as exc:
            if not is_damage(exc):  # (a file the caller closed meanwhile)
                raise
            raise damaged_error(names.get(fileno) or filename_of(ds), exc, path) from exc


def refresh_datasets(group: h5py.Group) -> None:
    """Bring every dataset under `group` up to date, walking the tree once.

    Convenient for a single refresh. In a polling loop prefer
    :func:`collect_datasets` once and :func:`refresh_cached` on each poll.
    Refreshing reloads metadata only; data is read when elements are indexed.

    Parameters
    ----------
    group : h5py.Group
        Any group, including an :class:`h5py.File`.
    """
    refresh_cached(collect_datasets(group))


def is_swmr_read(obj: h5py.HLObject) -> bool:
    """Whether the file holding `obj` was opened for reading in SWMR mode.

    Only then can refreshing show new data. Refreshing is also skipped
    elsewhere because HDF5 (up to 2.0 at least) fails to close a file in the
    old format after two handles of one chunked dataset were refreshed.
    """
    return bool(h5py.h5i.get_file_id(obj.id).get_intent() & h5py.h5f.ACC_SWMR_READ)


# --------------------------------------------------------------------------- open


def open_h5_file_for_reading(
    filepath: PathLike,
    swmr: SwmrMode = "auto",
    locking: Locking = None,
    *,
    timeout: float = 0.0,
) -> tuple[h5py.File, bool]:
    """Open an HDF5 file read-only, in SWMR mode when a writer may still be at work.

    Parameters
    ----------
    filepath : str or os.PathLike
        The HDF5 file.
    swmr : bool or "auto", default "auto"
        ``"auto"`` opens a closed ordinary file normally and switches to SWMR
        mode when a SWMR writer holds the file, when one crashed while holding
        it, when a PyMoDAQ file says ``swmr_active``, or when the file's
        external links or virtual datasets point at files a SWMR writer holds
        (an Eiger/Odin master whose data files are still being written: HDF5
        opens linked files with the master's mode). A "truncated file" error
        is retried in SWMR mode when the superblock says a SWMR writer holds
        the file, so a live file is never reported damaged. ``True`` or
        ``False`` force the mode.
    locking : bool, "best-effort" or None, default None
        HDF5 file locking, passed to :class:`h5py.File`. ``None`` uses HDF5's
        default (or the setting of a handle this process already holds) and
        falls back to ``"best-effort"`` on file systems that do not support
        locking (some network mounts). A reader's lock stops a writer from
        reopening the file in ``"a"`` mode (pymodaq-data's ``finalize_swmr()``
        does so); ``False`` lets it.
    timeout : float, default 0.0
        Seconds to keep retrying while the file does not exist yet, is still
        empty, or is held by a writer that has not switched SWMR on yet (the
        usual state at the start of a PyMoDAQ scan). ``0`` tries once.

    Returns
    -------
    file : h5py.File
        Opened with mode ``"r"``; the reader never modifies the file.
    is_swmr : bool
        Whether the file was opened in SWMR mode, that is whether refreshing
        its datasets can show data written after opening.

    Raises
    ------
    FileNotFoundError
        The path does not exist (after `timeout`).
    IsADirectoryError
        The path is a directory.
    PermissionError
        The file cannot be read by this user.
    NotHDF5Error
        The file is not HDF5, or is truncated.
    FileLockedError
        A writer holds the file without SWMR mode (after `timeout`).
    UncleanFileError
        A writer without SWMR mode crashed and left the file marked open;
        ``h5clear -s FILE`` clears the mark.
    DamagedFileError
        The file's superblock or root group is damaged.
    SwmrOpenError
        Any other reason HDF5 gives (the message quotes it).
    """
    register_plugins(retry=True)  # the compression filters of hdf5plugin, when installed
    path = Path(filepath)
    deadline = time.monotonic() + max(timeout, 0.0)
    delays = _backoff()
    while True:
        try:
            return _open_once(path, swmr, locking)
        except (FileNotFoundError, FileLockedError, NotHDF5Error) as exc:
            retry = not isinstance(exc, NotHDF5Error) or is_empty_file(path)
            remaining = deadline - time.monotonic()
            if not retry or remaining <= 0:
                raise
            time.sleep(min(next(delays), remaining))


def _backoff(first: float = 0.01, factor: float = 1.5, cap: float = 0.25) -> Iterator[float]:
    delay = first
    while True:
        yield delay
        delay = min(delay * factor, cap)


def is_empty_file(path: Path) -> bool:
    """Whether `path` is an existing, empty file (one a writer is still creating)."""
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def _open_once(path: Path, swmr: SwmrMode, locking: Locking) -> tuple[h5py.File, bool]:
    _check_readable_hdf5(path)
    if swmr not in (True, False, "auto"):
        raise ValueError(f"swmr must be True, False or 'auto', not {swmr!r}")
    try:
        f, is_swmr = _open_checked(path, swmr, locking)
    except OSError:
        raise
    except Exception as exc:  # h5py's RuntimeError/KeyError/... for damaged metadata
        raise damaged_error(path, exc) from exc
    try:
        f["/"]  # the root group must be readable: everything hangs below it
    except Exception as exc:
        with contextlib.suppress(Exception):
            f.close()
        raise damaged_error(path, exc, "the root group /") from exc
    return f, is_swmr


def _open_checked(path: Path, swmr: SwmrMode, locking: Locking) -> tuple[h5py.File, bool]:
    if swmr is True:
        return _h5open(path, True, locking), True
    if swmr is False:
        f = _h5open(path, False, locking)
        return f, is_swmr_read(f)
    try:
        f = _h5open(path, False, locking)
    except UncleanFileError:
        # A SWMR writer holds the file (or held it and crashed): open in SWMR mode.
        # A crashed non-SWMR writer makes this second attempt fail with the h5clear advice.
        return _h5open(path, True, locking), True
    except NotHDF5Error:
        # A non-SWMR open of a file that a fast SWMR writer is extending can read a
        # superblock whose end of file lies beyond the bytes on disk yet: "truncated".
        # The superblock's flags tell a live (or crashed) SWMR writer from real damage.
        if held_by_swmr_writer(path):
            return _h5open(path, True, locking), True
        f = _h5open(path, False, locking)  # the writer may have closed it meanwhile
    if is_swmr_read(f):
        # The file is already open in this process (another view, the caller's handle):
        # HDF5 then shares that open file, with its SWMR mode, whatever was asked here.
        return f, True
    try:
        active = _flag(f.attrs.get("swmr_active"))
    except Exception:  # damaged root attributes: the rest may still be readable
        active = False
    if not active and not _links_to_live_files(f):
        return f, False
    # A PyMoDAQ file that was written in SWMR mode, or a detector master whose external
    # links or virtual datasets point at files a SWMR writer holds: reopen in SWMR mode,
    # so that refresh shows new data (HDF5 opens linked files with the master's mode).
    f.close()
    return _h5open(path, True, locking), True


def _links_to_live_files(f: h5py.File) -> bool:
    try:
        return links_to_live_files(f)
    except Exception:  # a damaged file: the walk that follows reports it
        return False


def _flag(value: object) -> bool:
    """Truth of a root flag such as PyMoDAQ's ``swmr_active``; never raises.

    Plain values (bool, int, numpy scalars and one-element arrays), text and
    bytes (``"true"``, ``"1"``, ``"yes"``) and PyMoDAQ's JSON form
    ``{"module": "builtins", "type": "bool", "data": "True"}`` (read with
    :mod:`json`, never evaluated) are understood; anything else is False.
    """
    item = getattr(value, "item", None)  # numpy scalar or array: a Python value
    if callable(item):
        try:
            value = item()
        except (TypeError, ValueError):  # more than one element
            return False
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                payload = json.loads(text)
            except (ValueError, RecursionError):
                return False
            data = payload.get("data") if isinstance(payload, dict) else None
            if isinstance(data, bool | int | float):
                return bool(data)
            text = data.strip() if isinstance(data, str) else ""
        return text.strip("'\"").lower() in {"true", "1", "yes", "np.true_", "numpy.true_"}
    return isinstance(value, bool | int | float) and bool(value)


def _check_readable_hdf5(path: Path) -> None:
    name = os.fspath(path)
    if not path.exists():
        raise FileNotFoundError(
            errno.ENOENT,
            f"No such file: {name!r}. Check the path, or pass timeout=... to wait "
            "for the writer to create it",
            name,
        )
    if path.is_dir():
        raise IsADirectoryError(
            errno.EISDIR, f"{name!r} is a directory; give the path of an HDF5 file in it", name
        )
    try:
        with path.open("rb") as fh:
            has_signature = _has_hdf5_signature(fh, path.stat().st_size)
    except PermissionError as exc:
        raise PermissionError(
            errno.EACCES,
            f"Permission denied reading {name!r}; ask for read access to the file",
            name,
        ) from exc
    if not has_signature:
        raise NotHDF5Error(
            path,
            f"{name!r} is not an HDF5 file (no HDF5 signature found)"
            + ("; it is empty, perhaps still being created" if is_empty_file(path) else ""),
        )


def _has_hdf5_signature(fh: object, size: int) -> bool:
    return superblock_offset(fh, size) is not None  # type: ignore[arg-type]


def _h5open(path: Path, swmr: bool, locking: Locking) -> h5py.File:
    try:
        return _h5file(path, swmr, locking)
    except OSError as exc:
        text = str(exc).lower()
        if locking is None and any(s in text for s in _LOCKING_UNSUPPORTED):
            return _h5file(path, swmr, "best-effort")
        if locking is None and _LOCKING_MISMATCH in text:
            # this process holds the file already, opened without a lock (by the caller)
            try:
                return _h5file(path, swmr, False)
            except OSError as again:
                raise _translate(path, again, swmr) from again
        raise _translate(path, exc, swmr) from exc


def _h5file(path: Path, swmr: bool, locking: Locking) -> h5py.File:
    # SWMR readers retry bad metadata with a doubling sleep: HDF5's 100 tries never end
    # on a damaged file, so open with fewer (see swmr_widgets.hdf5lib)
    f = open_swmr_reader(path, locking) if swmr else None
    return f if f is not None else h5py.File(path, "r", swmr=swmr, locking=locking)


def _translate(path: Path, exc: OSError, swmr: bool) -> OSError:
    name = os.fspath(path)
    text = str(exc).lower()
    raw = _without_h5clear_hint(str(exc))
    if _LOCK_FAILED in text:
        return FileLockedError(
            path,
            f"{name!r} is held by a writer that has not switched SWMR mode on, which locks "
            "every reader out. Make the writer open it with libver='latest' and set "
            "swmr_mode=True (in PyMoDAQ this happens after the first data point), or pass "
            "timeout=... to wait for it.",
            errno.EAGAIN,
        )
    marked = _NOT_OPEN_FOR_SWMR in text or _OPEN_FOR_WRITE in text
    if marked and held_by_swmr_writer(path):
        # never advise h5clear here: a SWMR writer may still be at work on the file
        return UncleanFileError(
            path,
            f"{name!r} is being written by a SWMR writer (or was, until it crashed). "
            "Open it with swmr=True or swmr='auto' to read it while it is written.",
        )
    if marked:
        # the file's flags say "open for write" without SWMR: a writer without SWMR
        # mode runs with file locking off, or crashed
        return UncleanFileError(
            path,
            f"{name!r} is marked as open for writing, but not by a SWMR writer: its writer is "
            "still running without SWMR mode (with file locking off), or crashed. If no "
            f"program is writing it, clear the mark with: h5clear -s {name!r} "
            "(Debian/Ubuntu package hdf5-tools), then open it again.",
        )
    if _NOT_HDF5 in text or _TRUNCATED in text:
        what = "truncated" if _TRUNCATED in text else "not a valid HDF5 file"
        live = held_by_swmr_writer(path) and not swmr
        return NotHDF5Error(
            path,
            f"{name!r} is {what}: {raw}. "
            + (
                "A SWMR writer is extending it: open it with swmr=True or swmr='auto'."
                if live
                else "If a writer is still creating it, wait; otherwise the file is damaged."
            ),
        )
    if is_damage(exc):
        return damaged_error(path, exc)
    return SwmrOpenError(path, f"Cannot open {name!r} for reading: {raw}", exc.errno or errno.EIO)


def _without_h5clear_hint(text: str) -> str:
    """HDF5's error text without its "(may use <h5clear file> ...)" hint.

    HDF5 gives that hint whenever a file is marked open for write, also while a
    SWMR writer holds it, where clearing the mark can damage the file.
    """
    start = text.find("(may use <h5clear")
    if start < 0:
        return text
    end = text.find(")", start)
    return (text[:start].rstrip() + text[end + 1 :]) if end >= 0 else text[:start].rstrip()


def explain_hdf5_error(exc: BaseException) -> str:
    """A one-line description of an error met while reading a file, for a status line.

    HDF5's "file is already open for write (may use <h5clear file> ...)", met
    when reading data that an external link or a virtual dataset takes from a
    file a writer holds, becomes advice to open the file in SWMR mode: running
    ``h5clear`` on a file a writer may still hold can damage it.

    Parameters
    ----------
    exc : BaseException
        The error.

    Returns
    -------
    str
        ``"<type>: <message>"``.
    """
    text = str(exc)
    if _OPEN_FOR_WRITE in text.lower():
        return (
            f"{type(exc).__name__}: {HELD_BY_WRITER} "
            "(an external link or virtual dataset source); open the file with swmr=True "
            "(or swmr='auto') to read it while it is written"
        )
    return f"{type(exc).__name__}: {_without_h5clear_hint(text)}"
