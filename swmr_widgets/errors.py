"""The errors of reading HDF5 files, and how to recognise a damaged one.

Every error raised by the reading API is an :class:`OSError` subclass whose
message names the file, says what happened and what to do.
:class:`SwmrOpenError` is their base class; :class:`DamagedFileError` says
that the file's metadata is damaged (a checksum, signature, version or
address HDF5 cannot accept), which h5py reports as a raw ``RuntimeError``,
``KeyError``, ``ValueError``, ``SystemError`` or ``OSError``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping

import h5py

from swmr_widgets.filters import MissingFilterError

__all__ = [
    "DamagedFileError",
    "SwmrOpenError",
    "damage_reason",
    "damaged_error",
    "filename_of",
    "is_damage",
    "walk_tolerant",
]

PathLike = str | os.PathLike[str]

#: The fragments by which HDF5 reports damaged metadata.
_DAMAGE = (
    "checksum",
    "filter returned failure",  # a compressed chunk that does not decompress
    "read data",
    "bad object header",
    "bad superblock",
    "superblock",
    "signature",
    "b-tree",
    "btree",
    "heap",
    "symbol table",
    "version number",
    "object header",
    "address",
    "addr overflow",
    "message",
    "decode",
    "corrupt",
    "unknown",
    "invalid",
    "wrong",
    "bad ",
)


class SwmrOpenError(OSError):
    """Base class of the errors raised when an HDF5 file cannot be opened for reading."""

    def __init__(self, path: PathLike, message: str, err: int = errno.EIO) -> None:
        super().__init__(err, message, os.fspath(path))
        self.path = os.fspath(path)

    def __str__(self) -> str:
        return self.strerror or ""


class DamagedFileError(SwmrOpenError):
    """Part or all of the file cannot be read: its metadata is damaged.

    HDF5 found a wrong checksum, signature, version or address in the file's
    metadata (bytes overwritten, a bad copy, a failing disk). What can still
    be read is given, so a caller may go on with it.

    Attributes
    ----------
    path : str
        The file.
    damaged : dict of str to str
        Path in the file of each object that cannot be read, and why.
    datasets : dict of str to h5py.Dataset
        For :func:`collect_datasets`: the datasets that could be read. Use
        these handles rather than collecting again: HDF5 (2.0 at least)
        mis-reads a refreshed chunked dataset that is open twice.
    """

    def __init__(
        self,
        path: PathLike,
        message: str,
        damaged: Mapping[str, str] | None = None,
        datasets: Mapping[str, h5py.Dataset] | None = None,
    ) -> None:
        super().__init__(path, message)
        self.damaged = dict(damaged or {})
        self.datasets = dict(datasets or {})


def damage_reason(exc: BaseException) -> str:
    """HDF5's own words for what is wrong, without h5py's "Unable to ..." wrapper."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    start, end = text.find("("), text.rfind(")")
    inner = text[start + 1 : end] if 0 <= start < end else text
    return inner.strip() or type(exc).__name__


def is_damage(exc: BaseException) -> bool:
    """Whether `exc`, raised by h5py while reading metadata, says the file is damaged.

    h5py reports damaged metadata as :class:`RuntimeError`, :class:`KeyError`,
    :class:`ValueError`, :class:`SystemError` or :class:`OSError`, with HDF5's
    reason in the text ("incorrect metadata checksum", "bad object header
    version number", ...).
    """
    if isinstance(exc, MissingFilterError | FileNotFoundError | PermissionError):
        return False
    text = str(exc).lower()
    if "closed" in text or "invalid object id" in text or "not a location" in text:
        return False  # a handle the caller closed
    if isinstance(exc, RuntimeError | KeyError | ValueError | SystemError | TypeError):
        return True
    return isinstance(exc, OSError) and any(s in text for s in _DAMAGE)


def damaged_error(path: PathLike, exc: BaseException, where: str = "") -> DamagedFileError:
    """A :class:`DamagedFileError` for `exc`, raised reading `where` in the file at `path`."""
    name = os.fspath(path)
    at = f" at {where}" if where else ""
    return DamagedFileError(
        path,
        f"{name!r} is damaged{at}: {damage_reason(exc)}. HDF5 cannot read it there; the "
        "rest of the file may still be readable. If the file is still being copied or "
        "written, try again later.",
        {where or "/": damage_reason(exc)},
    )


def filename_of(obj: h5py.HLObject) -> str:
    """The name of the file holding `obj`, or ``"?"`` when it cannot be told."""
    try:
        return obj.file.filename
    except Exception:
        return "?"


def walk_tolerant(
    group: h5py.Group, found: dict[str, h5py.Dataset], damaged: dict[str, str], seen: set
) -> None:
    """Walk the hard links under `group` depth-first, noting damaged objects instead of stopping.

    Parameters
    ----------
    group : h5py.Group
        Where to start.
    found : dict
        Filled with the absolute path and handle of each readable dataset.
    damaged : dict
        Filled with the path of each object that cannot be read, and why.
    seen : set
        ``(file number, address)`` of the objects visited (each is visited once).
    """
    try:
        path = group.name.rstrip("/")
        names: list[bytes] = []
        group.id.links.iterate(names.append)
    except Exception as exc:
        damaged[_safe_name(group)] = damage_reason(exc)
        if not names:
            return
    for raw in names:
        child = f"{path}/{raw.decode('utf-8', 'replace')}"
        try:
            if group.id.links.get_info(raw).type != h5py.h5l.TYPE_HARD:
                continue
            obj = group[raw]
            key = (obj.id.fileno, h5py.h5o.get_info(obj.id).addr)
        except Exception as exc:
            damaged[child] = damage_reason(exc)
            continue
        if key in seen:
            continue
        seen.add(key)
        if isinstance(obj, h5py.Dataset):
            found[child] = obj
        elif isinstance(obj, h5py.Group):
            walk_tolerant(obj, found, damaged, seen)


def _safe_name(obj: h5py.HLObject) -> str:
    try:
        return obj.name or "/"
    except Exception:
        return "?"
