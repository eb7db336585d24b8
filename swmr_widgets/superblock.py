"""What the first bytes of an HDF5 file say, read without the HDF5 library.

The superblock holds the file's signature and, from format version 2 on, the
file consistency flags a writer sets while it holds the file: "open for
write" and, for a SWMR writer, "open for SWMR write". Reading them tells a
reader whether a SWMR writer holds the file (or held it and crashed), which
HDF5's own error messages do not always say: a non-SWMR open of a file that a
fast SWMR writer is extending can fail with "truncated file" instead.

The file is only read, never modified.
"""

from __future__ import annotations

import os
from typing import BinaryIO

__all__ = ["HDF5_SIGNATURE", "held_by_swmr_writer", "status_flags", "superblock_offset"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

#: File consistency flags of superblock versions 2 and 3 (byte 11 of the superblock).
WRITE_ACCESS = 0x01
SWMR_WRITE_ACCESS = 0x04


def superblock_offset(fh: BinaryIO, size: int) -> int | None:
    """Byte offset of the superblock in an open binary file of `size` bytes, or None.

    The superblock sits at 0, 512, 1024, 2048, ... (after an optional user block).
    """
    offset = 0
    while offset + len(HDF5_SIGNATURE) <= size:
        fh.seek(offset)
        if fh.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
            return offset
        offset = 512 if offset == 0 else offset * 2
    return None


def status_flags(path: str | os.PathLike[str]) -> int | None:
    """The file consistency flags of the HDF5 file at `path`.

    Returns
    -------
    int or None
        The flags byte of a version 2 or 3 superblock (``0`` for a closed
        file); ``0`` for older superblocks, which cannot be written in SWMR
        mode; ``None`` when the file cannot be read or is not HDF5.
    """
    try:
        with open(path, "rb") as fh:
            offset = superblock_offset(fh, os.fstat(fh.fileno()).st_size)
            if offset is None:
                return None
            fh.seek(offset + len(HDF5_SIGNATURE))
            head = fh.read(4)  # version, size of offsets, size of lengths, flags
    except OSError:
        return None
    if len(head) < 4:
        return None
    return head[3] if head[0] >= 2 else 0


def held_by_swmr_writer(path: str | os.PathLike[str]) -> bool:
    """Whether the file at `path` is marked as open by a SWMR writer.

    True while a SWMR writer holds it, and after such a writer crashed (the
    mark then stays); False for a closed file, a file held by a writer
    without SWMR mode, and anything that cannot be read.
    """
    flags = status_flags(path)
    return bool(flags and flags & SWMR_WRITE_ACCESS)
