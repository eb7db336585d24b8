"""Follow the newest scan of a folder: PyMoDAQ and most DAQs write one HDF5 file per scan.

:class:`LiveFolder` lists the HDF5 files of a directory (``*.h5``, ``*.hdf5``,
``*.nxs``, ``*.he5``; hidden files are left out), newest first, and keeps a
:class:`~swmr_widgets.live.LiveFile` on one of them. While it follows the
newest file, each new file that appears in the folder is switched to at the
next :meth:`LiveFolder.poll`; :meth:`LiveFolder.show` picks a file instead,
and stops following the newest until :meth:`LiveFolder.follow_newest`.

A file is opened with the engine's wait policy (``wait=True``): a file that
is still empty, or held by a writer that has not switched SWMR mode on yet,
is waited for, never failed on. A file that is not HDF5 at all is reported
and the folder stays on the file it showed.

"Newest" is the order in which files were first seen: at start, by
modification time; afterwards, a file that appears is newer than every file
seen before (an older scan still being closed does not win it back).

Followed datasets and derived trends are carried over to the new file when
their paths exist there (``carry=True``); :attr:`FolderPoll.moved` says which
feed became which.

A plain-Python loop::

    from swmr_widgets.live import LiveFolder

    with LiveFolder("data/2026-12-02/") as folder:
        while True:
            poll = folder.poll()
            if poll.switched:
                print("now showing", folder.current)
            time.sleep(0.5)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swmr_widgets.live.engine import LiveFile, Poll
from swmr_widgets.live.feeds import Feed
from swmr_widgets.live.trends import RoiFeed, TrendFeed

__all__ = ["HDF5_SUFFIXES", "FolderPoll", "LiveFolder"]

#: File name suffixes taken for HDF5 files (compared in lower case).
HDF5_SUFFIXES = (".h5", ".hdf5", ".nxs", ".he5")
#: Name of the (never created) file a folder with no HDF5 file yet waits on: the status
#: then reads "waiting for a scan file to be created…".
PLACEHOLDER = "a scan file"


@dataclass(frozen=True)
class FolderPoll(Poll):
    """A :class:`~swmr_widgets.live.Poll` of the file shown, and what the folder did.

    Attributes
    ----------
    switched : bool
        This poll switched to another file (see :attr:`LiveFolder.current`).
    moved : dict of Feed to (Feed or None)
        With ``carry=True``: each feed of the previous file, and its follower
        in the new one (``None`` where the path is not in the new file).
    """

    switched: bool = False
    moved: dict[Feed, Feed | None] = field(default_factory=dict)

    @property
    def structure_changed(self) -> bool:
        """Whether the set of datasets may have changed (another file, attached or reopened)."""
        return self.switched or Poll.structure_changed.fget(self)


class LiveFolder:
    """A folder of scan files, showing the newest (or a picked) one live.

    Parameters
    ----------
    folder : str or os.PathLike
        The directory.
    follow : "newest" or None, default "newest"
        Switch to each new file that appears; ``None`` stays on the file shown.
    check_interval : float, default 0.0
        Seconds between two listings of the folder (0: at every poll; listing
        a folder of a few hundred files costs well under a millisecond).
    carry : bool, default True
        Follow the same datasets (and trends) in a new file where they exist.
    **live_options
        Passed to each :class:`~swmr_widgets.live.LiveFile` (``swmr``,
        ``stall_after``, ``tree_interval``); ``wait`` is always ``True``.

    Raises
    ------
    NotADirectoryError
        If `folder` is not a directory.
    FileNotFoundError
        If it does not exist.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        follow: str | None = "newest",
        check_interval: float = 0.0,
        carry: bool = True,
        **live_options: Any,
    ) -> None:
        self.folder = Path(folder).expanduser()
        if not self.folder.exists():
            raise FileNotFoundError(f"no such folder: {self.folder}")
        if not self.folder.is_dir():
            raise NotADirectoryError(
                f"{self.folder} is a file; pass it to LiveFile/SwmrView directly, or pass a folder"
            )
        if follow not in ("newest", None):
            raise ValueError(f"follow must be 'newest' or None, not {follow!r}")
        self.following_newest = follow == "newest"
        self.check_interval = check_interval
        self.carry = carry
        self._options = {**live_options, "wait": True}
        self._seen: dict[Path, int] = {}  # file -> order first seen
        self._files: list[Path] = []
        self._next_check = 0.0
        self.note = ""
        self._list()
        first = self._files[0] if self._files else self.folder / PLACEHOLDER
        self.live = LiveFile(first, **self._options)
        self.current: Path | None = self._files[0] if self._files else None

    # ------------------------------------------------------------------ the folder

    @property
    def files(self) -> list[Path]:
        """The folder's HDF5 files, newest first (as of the last listing)."""
        return list(self._files)

    @property
    def newest(self) -> Path | None:
        """The newest file, or ``None`` in an empty folder."""
        return self._files[0] if self._files else None

    def _list(self) -> bool:
        """List the folder; return whether a file appeared (or went)."""
        found = []
        try:
            with os.scandir(self.folder) as it:
                for entry in it:
                    name = entry.name
                    if name.startswith(".") or not name.lower().endswith(HDF5_SUFFIXES):
                        continue
                    try:
                        if entry.is_file():
                            found.append((entry.stat().st_mtime_ns, Path(entry.path)))
                    except OSError:  # removed while listing
                        continue
        except OSError as exc:
            self.note = f"cannot list {self.folder}: {exc}"
            return False
        found.sort(key=lambda item: (item[0], item[1].name))
        changed = False
        for _, path in found:  # a first listing: by modification time
            if path not in self._seen:
                self._seen[path] = len(self._seen)
                changed = True
        present = {path for _, path in found}
        if len(present) != len(self._files):
            changed = True
        self._files = sorted(present, key=lambda p: self._seen[p], reverse=True)
        return changed

    # ------------------------------------------------------------------ choosing

    def show(self, path: str | os.PathLike[str]) -> None:
        """Show `path` (a file of the folder, or any name in it) and stop following the newest."""
        self.following_newest = False
        self._switch(self._resolve(path))

    def follow_newest(self) -> None:
        """Follow the newest file again (switching at the next poll if it is not shown)."""
        self.following_newest = True
        self._next_check = 0.0

    def _resolve(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        if not p.is_absolute():
            p = self.folder / p
        for f in self._files:
            if f == p or f.name == p.name:
                return f
        raise FileNotFoundError(
            f"{p.name} is not an HDF5 file of {self.folder}; see .files for its {len(self._files)}"
        )

    def _switch(self, path: Path) -> dict[Feed, Feed | None]:
        if path == self.current:
            return {}
        try:
            live = LiveFile(path, **self._options)
        except OSError as exc:  # not HDF5, unreadable: stay where we are
            self.note = f"cannot show {path.name}: {exc}"
            return {}
        old, self.live, self.current = self.live, live, path
        self.note = ""
        moved = self._carry(old, live) if self.carry else {}
        old.close()
        return moved

    def _carry(self, old: LiveFile, new: LiveFile) -> dict[Feed, Feed | None]:
        moved: dict[Feed, Feed | None] = {}
        if not new.attached:
            return {feed: None for feed in old.feeds}
        for feed in old.feeds:
            try:
                if isinstance(feed, RoiFeed):
                    roi = feed.roi
                    moved[feed] = new.add_roi(feed.path, roi.x, roi.y, roi.reduce, name=feed.name)
                elif isinstance(feed, TrendFeed):
                    moved[feed] = new.add_trend(feed.name, feed.fn, feed.path)
                else:
                    moved[feed] = new.follow(feed.path)
            except (KeyError, TypeError):
                moved[feed] = None
        return moved

    # ------------------------------------------------------------------ polling

    def poll(self) -> FolderPoll:
        """List the folder (switching to a new newest file), then poll the file shown."""
        switched, moved = False, {}
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self.check_interval
            self._list()
            newest = self.newest
            if self.following_newest and newest is not None and newest != self.current:
                before = self.current
                moved = self._switch(newest)
                switched = self.current != before
        poll = self.live.poll()
        return FolderPoll(
            poll.updates, poll.shapes, poll.changes, poll.health, switched=switched, moved=moved
        )

    def describe(self) -> str:
        """Which file is shown, for a status line."""
        if self.current is None:
            return f"no HDF5 file in {self.folder.name or self.folder} yet"
        n = len(self._files)
        how = "newest" if self.following_newest else "picked"
        text = f"showing {self.current.name} ({how}, {n} file{'s' * (n != 1)} in the folder)"
        return f"{text} · {self.note}" if self.note else text

    def close(self) -> None:
        """Stop following and close the file shown."""
        self.live.close()

    def __enter__(self) -> LiveFolder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LiveFolder {str(self.folder)!r} showing {self.current}>"
