"""Which other files an HDF5 file reads its data from: external links and virtual datasets.

A detector's master file (Eiger, Odin) is a small, closed file whose external
links and virtual datasets (VDS) point at data files that a writer may still
be writing in SWMR mode. HDF5 opens those data files with the master's own
access mode, so a master opened without SWMR cannot read them while they are
written ("file is already open for write"), and a master opened in SWMR mode
follows them. :func:`links_to_live_files` tells which case a master is in,
looking at a bounded part of the file so that opening a big file stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from pathlib import Path

import h5py

from swmr_widgets.superblock import held_by_swmr_writer

__all__ = ["linked_files", "links_to_live_files"]

#: At most this many objects are looked at, for at most this many seconds.
PROBE_OBJECTS = 500
PROBE_SECONDS = 0.02
#: Mappings of one virtual dataset looked at.
VDS_MAPPINGS = 64


def linked_files(
    group: h5py.Group, *, objects: int = PROBE_OBJECTS, seconds: float = PROBE_SECONDS
) -> list[Path]:
    """The files that external links and virtual datasets under `group` point at.

    Groups are visited breadth first, each once, and the walk stops after
    `objects` objects or `seconds` seconds. Links are not followed and no data
    is read.

    Parameters
    ----------
    group : h5py.Group
        Where to start (usually the root group of a file).
    objects : int
        How many objects to look at, at most.
    seconds : float
        How long to look, at most.

    Returns
    -------
    list of Path
        Without duplicates, in the order found; the files may not exist
        yet. Relative names are resolved as HDF5 does by default: next to
        the file that holds the link, else in the working directory.
    """
    base = Path(group.file.filename).parent
    names: dict[str, None] = {}
    deadline = time.perf_counter() + seconds
    queue: deque = deque([group.id])
    seen: set[int] = set()
    budget = objects
    while queue and budget > 0 and time.perf_counter() < deadline:
        gid = queue.popleft()
        for name, link_type in _links(gid):
            budget -= 1
            if budget <= 0:
                break
            if link_type == h5py.h5l.TYPE_EXTERNAL:
                with contextlib.suppress(Exception):
                    target = gid.links.get_val(name)
                    names[os.fsdecode(target[0])] = None
            elif link_type == h5py.h5l.TYPE_HARD:
                _look_at(gid, name, queue, seen, names)
    return list(dict.fromkeys(_resolve(name, base) for name in names))


def _links(gid: object) -> list[tuple[bytes, int]]:
    """(name, link type) of the links of a group; none if they cannot be read."""
    entries: list[tuple[bytes, int]] = []
    with contextlib.suppress(Exception):
        gid.links.iterate(lambda name, info: entries.append((name, info.type)), info=True)
    return entries


def _look_at(gid: object, name: bytes, queue: deque, seen: set[int], names: dict) -> None:
    try:
        info = h5py.h5o.get_info(gid, name)
    except Exception:
        return
    if info.type == h5py.h5o.TYPE_GROUP and info.addr not in seen:
        seen.add(info.addr)
        with contextlib.suppress(Exception):
            queue.append(h5py.h5g.open(gid, name))
    elif info.type == h5py.h5o.TYPE_DATASET:
        with contextlib.suppress(Exception):
            plist = h5py.h5d.open(gid, name).get_create_plist()
            if plist.get_layout() == h5py.h5d.VIRTUAL:
                for i in range(min(plist.get_virtual_count(), VDS_MAPPINGS)):
                    source = plist.get_virtual_filename(i)
                    if source != ".":  # "." is the virtual dataset's own file
                        names[source] = None


def _resolve(name: str, base: Path) -> Path:
    path = Path(name)
    if path.is_absolute():
        return path
    in_cwd = Path.cwd() / path
    return in_cwd if not (base / path).exists() and in_cwd.is_file() else base / path


def links_to_live_files(group: h5py.Group) -> bool:
    """Whether data under `group` comes from files a SWMR writer holds.

    Such a file must be read in SWMR mode: open it with ``swmr=True`` and
    HDF5 opens the linked files in SWMR mode too. Looks at a bounded part of
    the file (see :func:`linked_files`).
    """
    return any(held_by_swmr_writer(path) for path in linked_files(group))
