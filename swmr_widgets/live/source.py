"""The life of a followed file: wait for it, attach, notice when it changes on disk.

A :class:`FileSource` waits for a file that does not exist yet (or whose
writer has not switched SWMR mode on yet), attaches to it through a shared
handle (see :mod:`swmr_widgets.live.handles`), and at each check tells
whether the file was deleted, replaced by a new one (a restarted scan),
truncated or rewritten in place; the engine then reopens it.
"""

from __future__ import annotations

import contextlib
import enum
import os
import time
from pathlib import Path

import h5py

from swmr_widgets.linked import linked_files
from swmr_widgets.live.handles import SharedFile, file_identity
from swmr_widgets.superblock import held_by_swmr_writer
from swmr_widgets.swmr import FileLockedError, Locking, NotHDF5Error, SwmrMode, is_empty_file

__all__ = ["Change", "FileSource"]


class Change(enum.Enum):
    """What a check of the file on disk found."""

    ATTACHED = "attached"  #: the file could be opened (first time, or after waiting)
    REOPENED = "reopened"  #: it was replaced or rewritten, and is open again
    DETACHED = "detached"  #: it was replaced or rewritten, and cannot be opened yet
    DELETED = "deleted"  #: the path is gone; the last data read stays
    RESTORED = "restored"  #: the path is back after a deletion, same file
    GREW = "grew"  #: the file's size or modification time changed


class FileSource:
    """A file (or an open group) followed by the live engine.

    Parameters
    ----------
    target : str, os.PathLike, h5py.File or h5py.Group
        A path is opened by the source and closed by :meth:`close`; an open
        file or group stays the caller's.
    wait : bool or None
        What to do when the file cannot be opened yet. ``None`` waits while a
        writer holds it without SWMR mode but raises :class:`FileNotFoundError`
        for a missing file; ``True`` also waits for a missing or empty file;
        ``False`` raises in both cases. Only the first attempt raises.
    swmr : bool or "auto"
        Passed to :func:`~swmr_widgets.swmr.open_h5_file_for_reading`. With
        ``"auto"``, a file opened without SWMR mode whose external links or
        virtual datasets point at other files (a detector master) is reopened
        in SWMR mode once a SWMR writer holds one of those files, so that the
        linked data can be read and followed.
    locking : bool, "best-effort" or None, default None
        HDF5 file locking (see :func:`~swmr_widgets.swmr.open_h5_file_for_reading`).
        ``False`` lets a writer reopen the file in ``"a"`` mode while it is
        read; a file then rewritten in place under the same name is noticed
        only when it shrinks.
    link_interval : float
        Seconds between two looks at the files a master links to.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | h5py.Group,
        *,
        wait: bool | None,
        swmr: SwmrMode,
        locking: Locking = None,
        link_interval: float = 0.5,
    ) -> None:
        self.wait = wait
        self.swmr = swmr
        self.locking = locking
        self.link_interval = link_interval
        self._linked: list[Path] = []  # files a master links to
        self._linked_next = 0.0
        self._master = False
        self._links_done = False
        self.shared: SharedFile | None = None
        self.waiting_for = ""  # why the file is not attached yet
        self.deleted = False
        self.rewrite = ""  # how the file last changed under us ("replaced by a new file", ...)
        self._key: tuple[int, int] | None = None
        self._sig: tuple[int, int] | None = None
        if isinstance(target, h5py.Group):
            self.path = Path(target.file.filename)
            self._bind(SharedFile.adopt(target))
        else:
            self.path = Path(target)
            self.attach(first=True)

    @property
    def attached(self) -> bool:
        """Whether a file is open."""
        return self.shared is not None

    @property
    def owned(self) -> bool:
        """Whether the file was opened by this source (from a path)."""
        return self.shared is None or self.shared.owned

    @property
    def is_swmr(self) -> bool:
        """Whether the open file is read in SWMR mode."""
        return self.shared is not None and self.shared.is_swmr

    @property
    def root(self) -> h5py.Group | None:
        """The followed group (``None`` while not attached)."""
        return self.shared.root if self.shared is not None else None

    def attach(self, first: bool = False) -> bool:
        """Try to open the file; return whether it is open now.

        Raises
        ------
        OSError
            Only when `first` and the wait policy says not to wait.
        """
        if self.shared is not None:
            return True
        wait_missing = self.wait is True
        try:
            shared = SharedFile.acquire(self.path, self.swmr, self.locking)
        except (FileNotFoundError, NotHDF5Error) as exc:
            # an empty file is one being created: wait for it as for a missing one
            being_created = isinstance(exc, FileNotFoundError) or is_empty_file(self.path)
            if first and not (wait_missing and being_created):
                raise
            self.waiting_for = (
                f"waiting for {self.path.name} to be created…"
                if being_created
                else f"cannot open {self.path.name} yet: {exc}"
            )
            return False
        except FileLockedError:
            if first and self.wait is False:
                raise
            self.waiting_for = f"waiting for the writer of {self.path.name} to switch SWMR mode on…"
            return False
        except OSError as exc:
            if first:
                raise
            self.waiting_for = f"cannot open {self.path.name} yet: {exc}"
            return False
        self._bind(shared)
        return True

    def _bind(self, shared: SharedFile) -> None:
        self.shared = shared
        self.waiting_for = ""
        self.deleted = False
        self._key, self._sig = file_identity(shared.file, self.path)
        self._linked = []
        # a master: a file no SWMR writer holds itself, whose links point at other files
        self._master = shared.owned and not held_by_swmr_writer(self.path)
        if self.swmr == "auto" and self._master:
            with contextlib.suppress(Exception):  # a damaged file: the walk reports it
                self._linked = linked_files(shared.root)
        self._linked_next = 0.0
        self._links_done = False

    @property
    def can_switch_to_swmr(self) -> bool:
        """Whether :meth:`switch_to_swmr` may reopen the file (``swmr="auto"``, opened here)."""
        return (
            self.swmr == "auto"
            and self.shared is not None
            and self.shared.owned
            and (not self.shared.is_swmr)
        )

    def linked_file_live(self, now: float | None = None) -> bool:
        """Whether a file this (non-SWMR) master links to is now held by a SWMR writer.

        Looks at the linked files' superblocks at most every `link_interval` seconds.
        """
        if not self._linked or not self.can_switch_to_swmr:
            return False
        now = time.monotonic() if now is None else now
        if now < self._linked_next:
            return False
        self._linked_next = now + self.link_interval
        return any(held_by_swmr_writer(p) for p in self._linked)

    def links_finished(self, now: float | None = None) -> bool:
        """Whether this master, read in SWMR mode for its links, has no live linked file left.

        True once no SWMR writer holds any of the files its external links and
        virtual datasets point at (the detector has finished); looks at their
        superblocks at most every `link_interval` seconds.
        """
        if not (self._linked and self._master and self.is_swmr):
            return False
        now = time.monotonic() if now is None else now
        if now >= self._linked_next:
            self._linked_next = now + self.link_interval
            self._links_done = not any(held_by_swmr_writer(p) for p in self._linked)
        return self._links_done

    def switch_to_swmr(self) -> bool:
        """Reopen the file in SWMR mode (its linked data is being written); return success.

        HDF5 opens the files that external links and virtual datasets point at
        with the mode of the file holding them, so only a master read in SWMR
        mode can read and follow data files a SWMR writer holds.
        """
        if not self.can_switch_to_swmr:
            return False
        self.shared.forget()
        self.detach()
        try:
            shared = SharedFile.acquire(self.path, True, self.locking)
        except OSError as exc:
            self.waiting_for = f"cannot open {self.path.name} yet: {exc}"
            return False
        self._bind(shared)
        return True

    def check(self, invalid: bool = False) -> Change | None:
        """Look at the file on disk; reopen it if it was replaced or rewritten.

        Parameters
        ----------
        invalid : bool
            Whether a followed dataset became invalid (HDF5 invalidates a
            dataset whose refresh failed, as after a truncation).

        Returns
        -------
        Change or None
            What changed, or ``None``.
        """
        if self.shared is None:
            return Change.ATTACHED if self.attach() else None
        if self._key is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self.deleted:
                return None
            self.deleted = True
            return Change.DELETED
        how = ""
        if not self.owned:
            pass
        elif (st.st_dev, st.st_ino) != self._key:
            how = "replaced by a new file"
        elif invalid or (self._sig is not None and st.st_size < self._sig[1]):
            # A file being written only grows: a smaller one was truncated (a writer
            # recreating it in place), so what is open is gone. Closing it also lets
            # such a writer lock the file at its next try.
            how = "truncated or rewritten in place"
        if how:
            self.rewrite = how
            self.shared.forget()
            self.detach()
            return Change.REOPENED if self.attach() else Change.DETACHED
        change = None
        if self.deleted:
            self.deleted = False
            change = Change.RESTORED
        sig = (st.st_mtime_ns, st.st_size)
        if sig != self._sig:
            self._sig = sig
            change = change or Change.GREW
        return change

    def detach(self) -> None:
        """Let go of the file (closing it if this was its last user here)."""
        shared, self.shared = self.shared, None
        if shared is not None:
            shared.release()

    def close(self) -> None:
        """Let go of the file for good."""
        self.detach()
