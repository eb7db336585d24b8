"""The live engine: one framework-free model of an HDF5 file being written.

:class:`LiveFile` owns the source's life (wait, attach, reopen), the feeds of
the followed datasets, the health of the writer, and the poll schedule. Every
front end (the Jupyter widget, the terminal follower, the Tiled publisher)
renders what its :meth:`LiveFile.poll` returns and never touches h5py handles.

A plain-Python loop::

    from swmr_widgets.live import LiveFile

    with LiveFile("scan.h5", wait=True) as live:
        feed = live.follow("/RawData/CH000/Data0D/Data00/data")
        while live.health.state is not State.FINISHED:
            poll = live.poll()
            for update in poll.updates.values():
                print(update.indices, update.values)
            time.sleep(0.2)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h5py

from swmr_widgets.attrs import _LazyAttrs, _text
from swmr_widgets.errors import damage_reason
from swmr_widgets.live.feeds import Feed, feed_class
from swmr_widgets.live.health import Health, RateMeter, State
from swmr_widgets.live.problems import Problems, read_error
from swmr_widgets.live.reopened import ReopenedDataset, park, usable
from swmr_widgets.live.source import Change, FileSource
from swmr_widgets.live.trends import Roi, RoiFeed, TrendFeed, check_source
from swmr_widgets.live.updates import Update
from swmr_widgets.metadata import DatasetMeta, broken_meta, describe_dataset
from swmr_widgets.nodes import tree_nodes
from swmr_widgets.swmr import (
    HELD_BY_WRITER,
    Locking,
    SwmrMode,
    explain_hdf5_error,
    refresh_cached,
)

__all__ = ["LiveFile", "Poll"]


#: Seconds one poll may spend refreshing the shapes of datasets not followed.
TREE_BUDGET = 0.0005
#: Datasets refreshed between two looks at the clock.
TREE_STEP = 8


@dataclass(frozen=True)
class Poll:
    """What one :meth:`LiveFile.poll` found.

    Attributes
    ----------
    updates : dict of Feed to Update
        The feeds with something new, and what.
    shapes : dict of str to tuple
        Current shapes of datasets refreshed by this poll (followed ones, and
        a budgeted slice of the other growing ones).
    changes : tuple of Change
        What happened to the file itself (attached, reopened, deleted, ...).
    health : Health
        The state after this poll.
    nodes_changed : bool
        Whether :attr:`LiveFile.nodes` changed in place (a missing compression
        filter became available), so a tree should be redrawn.
    """

    updates: dict[Feed, Update] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    changes: tuple[Change, ...] = ()
    health: Health = field(default_factory=Health)
    nodes_changed: bool = False

    def then(self, later: Poll) -> Poll:
        """One result for this poll followed by `later` (two polls of one tick)."""
        return Poll(
            {**self.updates, **later.updates},
            {**self.shapes, **later.shapes},
            self.changes + later.changes,
            later.health,
            self.nodes_changed or later.nodes_changed,
        )

    @property
    def structure_changed(self) -> bool:
        """Whether the set of datasets may have changed (attached or reopened)."""
        return Change.ATTACHED in self.changes or Change.REOPENED in self.changes


class LiveFile:
    """A file being written, followed live.

    Parameters
    ----------
    source : str, os.PathLike, h5py.File or h5py.Group
        The file to follow. A path is opened (read-only) and closed by
        :meth:`close`; an open file or group stays the caller's.
    wait : bool or None, default None
        When the file cannot be opened yet: ``None`` waits while a writer
        holds it without SWMR mode (the start of a PyMoDAQ scan) but raises
        :class:`FileNotFoundError` for a missing file; ``True`` also waits for
        a missing file; ``False`` raises in both cases.
    swmr : bool or "auto", default "auto"
        How to open the file, see :func:`~swmr_widgets.swmr.open_h5_file_for_reading`:
        ``True`` or ``False`` force the mode. ``"auto"`` also reopens a file
        in SWMR mode when data its external links or virtual datasets point
        at turns out to be held by a SWMR writer (a detector master whose data
        files are still being written).
    locking : bool, "best-effort" or None, default None
        HDF5 file locking while the file is read. With the default lock, a
        writer that closes the file and opens it again in ``"a"`` mode (as
        pymodaq-data's ``finalize_swmr()`` does at the end of a scan) fails
        while the file is followed; ``False`` lets it, but a file rewritten in
        place under the same name is then noticed only when it shrinks.
    stall_after : float, default 5.0
        Seconds without any change after which the writer counts as stalled.
    tree_interval : float, default 2.0
        Seconds between two sweeps over the shapes of growing datasets that
        are not followed.

    Raises
    ------
    OSError
        When the file cannot be opened and `wait` says not to wait (see
        :func:`~swmr_widgets.swmr.open_h5_file_for_reading` for the subclasses,
        among them :class:`~swmr_widgets.swmr.DamagedFileError` when even its
        root group cannot be read). A file damaged further down opens: its
        damaged objects are marked in :attr:`nodes` and named in
        ``health.warnings``.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | h5py.Group,
        *,
        wait: bool | None = None,
        swmr: SwmrMode = "auto",
        locking: Locking = None,
        stall_after: float = 5.0,
        tree_interval: float = 2.0,
    ) -> None:
        self.locking = locking
        self.stall_after = stall_after
        self.tree_interval = tree_interval
        self._feeds: dict[Feed, None] = {}
        self._metas: dict[str, DatasetMeta] = {}
        self._nodes: list[dict] = []
        self._growing: list[str] = []
        self._tree_pos = 0
        self._tree_next = 0.0
        self._polling = False
        self._rate = RateMeter()
        self._last_change = time.monotonic()
        self._refreshed: float | None = None
        self._note = ""
        self._reopened = ""  # the note to show once a replaced file is open again
        self._errors: tuple[str, ...] = ()
        self._switch = False  # linked data is held by a SWMR writer: reopen in SWMR mode
        self._on_detach()
        self._source = self._open_source(source, wait=wait, swmr=swmr)
        if self._source.attached:
            self._on_attach()
            self._switch_to_swmr([])
        self._health = self._make_health(time.monotonic())

    def _open_source(self, source: Any, *, wait: bool | None, swmr: SwmrMode) -> FileSource:
        """The source followed (a local file here; the Tiled engine gives its own)."""
        return FileSource(source, wait=wait, swmr=swmr, locking=self.locking)

    # ------------------------------------------------------------------ what is there

    @property
    def path(self) -> str:
        """Path of the file followed."""
        return os.fspath(self._source.path)

    @property
    def attached(self) -> bool:
        """Whether the file is open (not waiting for it)."""
        return self._source.attached

    @property
    def file(self) -> h5py.File | None:
        """The open file (``None`` while waiting for it)."""
        root = self._source.root
        return root.file if root is not None else None

    @property
    def is_swmr(self) -> bool:
        """Whether the file is read in SWMR mode (so new data can show up)."""
        return self._source.is_swmr

    @property
    def nodes(self) -> list[dict]:
        """The file's groups, datasets and links, as JSON-ready dicts (see ``tree_nodes``)."""
        return self._nodes

    @property
    def paths(self) -> tuple[str, ...]:
        """Absolute paths of every dataset (empty while waiting)."""
        return self._dataset_paths

    @property
    def health(self) -> Health:
        """The state after the last poll."""
        return self._health

    @property
    def feeds(self) -> tuple[Feed, ...]:
        """The feeds followed, in the order they were added."""
        return tuple(self._feeds)

    def meta(self, path: str) -> DatasetMeta:
        """Description of the dataset at `path` (labels, units, axes, plot kind)."""
        meta = self._metas.get(path)
        if meta is None:
            try:
                ds = self._dataset(path)
            except KeyError:
                if path not in self._path_set:
                    raise
                # listed by the walk, yet not found by its name: a damaged link name
                meta = broken_meta(path, "damaged: cannot be opened by its name")
            except Exception as exc:  # a damaged object: say so, never fail the caller
                explained = explain_hdf5_error(exc)
                meta = broken_meta(
                    path,
                    f"cannot open: {explained}"
                    if HELD_BY_WRITER in explained  # linked data a writer holds: not damage
                    else f"damaged: cannot open it: {damage_reason(exc)}",
                )
            else:
                meta = describe_dataset(ds, path)  # by this path: hard links share `ds`
                park([ds])
            self._metas[path] = meta
        return meta

    def default_selection(self, limit: int = 500) -> tuple[str, ...]:
        """What to show first.

        The signal the file's NeXus ``@default`` chain points to, else the first
        growing 0-D channel, else the first plottable dataset.
        """
        nexus = self._nexus_default()
        if nexus is not None:
            return (nexus,)
        first = None
        for path in self._dataset_paths[:limit]:
            meta = self.meta(path)
            if not meta.plottable:
                continue
            if meta.signal_ndim == 0 and meta.nav_ndim == 1:
                return (path,)
            first = first or path
        return (first,) if first else ()

    def _nexus_default(self) -> str | None:
        """The dataset of NeXus's ``/@default → NXentry@default → NXdata@signal`` chain."""
        root = self._source.root
        if root is None:
            return None
        group, path = root, root.name.rstrip("/")
        for _ in range(4):  # root → entry → (subentry) → data
            attrs = _LazyAttrs(group.id)
            signal = _text(attrs.get("signal"))
            if signal:
                found = f"{path}/{signal}"
                return found if found in self._path_set and self.meta(found).plottable else None
            name = _text(attrs.get("default"))
            if not name or "/" in name:
                return None
            try:
                group = group.get(name)
            except Exception:  # a broken link: no default
                return None
            if not isinstance(group, h5py.Group):
                return None
            path = f"{path}/{name}"
        return None

    # ------------------------------------------------------------------ following

    def follow(self, path: str) -> Feed:
        """Start following the dataset at `path`; its first update comes with the next poll.

        Raises
        ------
        KeyError
            If `path` is not a dataset of the file (or the file is not open yet).
        DamagedFileError
            If the dataset cannot be opened: the file is damaged there.
        MissingFilterError
            If reading it (or its axes) needs a compression filter that is not
            installed.
        """
        if path not in self._path_set:
            raise KeyError(
                f"{path!r} is not a dataset of {self._source.path.name}; "
                f"see .paths for its {len(self._dataset_paths)} datasets"
            )
        meta = self.meta(path)
        ds = None
        try:
            ds = self._dataset(path)
            feed = feed_class(meta, ds.ndim)(path, meta, ds, self._dataset)
        except Exception as exc:
            raise read_error(exc, self.path, path, ds) from exc
        park(feed.datasets)
        self._feeds[feed] = None
        return feed

    def add_trend(self, name: str, fn: Callable[[Any], Any], source: str) -> TrendFeed:
        """Trend the number `fn` returns for every new point (value, trace, frame) of `source`.

        The feed returned is the handle: its :class:`~swmr_widgets.live.trends.TrendRows`
        come out of :meth:`poll`, ``.trend()`` gives what it kept, ``.remove()``
        stops it. A point where `fn` raises is NaN, and the error is in
        ``health.errors``. Raises :class:`KeyError` for an unknown `source`,
        :class:`TypeError` if it is not a series of acquisition points.
        """
        return self._add_derived(source, lambda *a: TrendFeed(name, fn, *a, self.unfollow))

    def add_roi(
        self,
        source: str,
        x: tuple[float, float] | None = None,
        y: tuple[float, float] | None = None,
        reduce: str = "sum",
        name: str | None = None,
    ) -> RoiFeed:
        """Trend the sum (or mean) of a rectangle of every new frame of `source`.

        `x`, `y`: inclusive bounds in the image's axis units if it has axes, else
        pixel indices (see :mod:`~swmr_widgets.live.trends`). The handle also has
        ``.move(x=, y=)``; otherwise as :meth:`add_trend`.
        """
        roi = Roi(x, y, reduce)  # type: ignore[arg-type]
        label = name or f"ROI {sum(isinstance(f, RoiFeed) for f in self._feeds) + 1} {reduce}"
        return self._add_derived(source, lambda *a: RoiFeed(label, roi, *a, self.unfollow), True)

    def _add_derived(self, source: str, make: Callable[..., Any], roi: bool = False) -> Any:
        if source not in self._path_set:
            raise KeyError(f"{source!r} is not a dataset of {self._source.path.name}")
        check_source(self.meta(source), roi)
        feed = make(source, self.meta(source), self._dataset(source), self._dataset)
        self._feeds[feed] = None
        return feed

    def unfollow(self, feed: Feed) -> None:
        """Stop following `feed` (unknown feeds are ignored)."""
        self._feeds.pop(feed, None)

    # ------------------------------------------------------------------ the schedule

    def poll(self) -> Poll:
        """One poll: check the file, refresh what is followed, read what is new.

        Never re-entrant: a call from inside a poll returns an empty result at
        once. Errors of single feeds are reported in ``health.errors`` (and the
        feed's ``error``); they never propagate.
        """
        if self._polling:
            return Poll(health=self._health)
        self._polling = True
        now = time.monotonic()
        changes: list[Change] = []
        updates: dict[Feed, Update] = {}
        shapes: dict[str, tuple[int, ...]] = {}
        errors: list[str] = []
        nodes_changed = False
        try:
            self._check(changes)
            if self._source.attached:
                nodes_changed = self._problems.recheck()
                self._read(updates, shapes, errors)
                if now >= self._tree_next:
                    self._refresh_tree(now, shapes)
                self._refreshed = time.time()
        except Exception as exc:  # the poll never raises
            errors.append(explain_hdf5_error(read_error(exc, self.path, "")))
            self._switch = self._switch or HELD_BY_WRITER in errors[-1]
        finally:
            self._polling = False
        new = max((u.new for u in updates.values()), default=0)
        self._rate.add(new, now)
        if new:
            self._last_change = now
        self._errors = tuple(errors)
        self._health = self._make_health(now)
        return Poll(updates, shapes, tuple(changes), self._health, nodes_changed)

    def _switch_to_swmr(self, changes: list[Change]) -> bool:
        """Reopen a master in SWMR mode once its linked data is held by a SWMR writer."""
        source = self._source
        if not (self._switch or source.linked_file_live()):
            return False
        self._switch = False
        if not source.can_switch_to_swmr:
            return False
        if not source.switch_to_swmr():
            changes.append(Change.DETACHED)
            self._on_detach()
            return True
        changes.append(Change.REOPENED)
        self._note = f"{source.path.name} links to data a SWMR writer is writing: read in SWMR mode"
        self._on_attach()
        return True

    def _check(self, changes: list[Change]) -> None:
        if self._switch_to_swmr(changes):
            return
        invalid = any(not usable(ds) for feed in self._feeds for ds in feed.datasets)
        change = self._source.check(invalid=invalid)
        if change is None:
            return
        name = self._source.path.name
        if change is Change.GREW:
            self._last_change = time.monotonic()
            return
        changes.append(change)
        if change is Change.DELETED:
            self._note = f"{name} was deleted; showing the last data read"
        elif change is Change.RESTORED:
            self._note = ""
        elif change is Change.DETACHED:
            self._note = ""
            self._reopened = f"{name} was {self._source.rewrite}; reopened it"
            self._on_detach()
        elif change is Change.REOPENED:
            self._note = f"{name} was {self._source.rewrite}; reopened it"
            self._on_attach()
        elif change is Change.ATTACHED:
            if self._reopened:  # shown once attached again
                self._note, self._reopened = self._reopened, ""
                changes[-1] = Change.REOPENED
            self._on_attach()

    def _read(
        self, updates: dict[Feed, Update], shapes: dict[str, tuple[int, ...]], errors: list[str]
    ) -> None:
        shared = self._source.shared
        if shared is not None:
            shared.park()  # nothing that may alias open while the others are refreshed and read
        followed = {id(ds): ds for feed in self._feeds for ds in feed.datasets}
        try:
            self._refresh_handles(
                {
                    ds.name or str(k): ds
                    for k, ds in followed.items()
                    if not isinstance(ds, ReopenedDataset)
                }
            )
            batch = True
        except Exception:  # a damaged dataset: refresh feed by feed, to know which fails
            batch = False
        # feeds of reopened datasets last, each closed again once read (see live.reopened)
        ordered = sorted(
            self._feeds, key=lambda f: any(isinstance(d, ReopenedDataset) for d in f.datasets)
        )
        for feed in ordered:
            try:
                if not batch:
                    self._refresh_handles(
                        {
                            (feed.path if k == 0 else f"{feed.path}, axis {k}"): d
                            for k, d in enumerate(feed.datasets)
                            if not isinstance(d, ReopenedDataset)
                        }
                    )
                update = feed.poll()
                feed.error = getattr(feed, "message", "")  # a derived trend's own failure
                if feed.error:
                    errors.append(feed.error)
                # the followed datasets were refreshed: their shapes are current for free
                shapes[feed.path] = tuple(feed.dataset.shape or ())
            except Exception as exc:  # one bad dataset must not stop the others
                feed.error = explain_hdf5_error(read_error(exc, self.path, feed.path, feed.dataset))
                self._switch = self._switch or HELD_BY_WRITER in feed.error
                errors.append(f"{feed.path}: {feed.error}")
                continue
            finally:
                park(feed.datasets)
            if update is not None:
                updates[feed] = update

    def _refresh_handles(self, handles: dict[str, h5py.Dataset]) -> None:
        """Bring the followed datasets up to date before their feeds read them."""
        refresh_cached(handles)

    def _refresh_tree(self, now: float, shapes: dict[str, tuple[int, ...]]) -> None:
        """Refresh the shapes of growing datasets, for at most TREE_BUDGET per poll."""
        paths = self._growing
        if not paths or not self._source.is_swmr:
            self._tree_next = float("inf") if not self._source.is_swmr else now + self.tree_interval
            return
        deadline = time.perf_counter() + TREE_BUDGET
        while self._tree_pos < len(paths) and time.perf_counter() < deadline:
            chunk = paths[self._tree_pos : self._tree_pos + TREE_STEP]
            try:
                part = {p: self._dataset(p) for p in chunk}
                refresh_cached(
                    {p: d for p, d in part.items() if not isinstance(d, ReopenedDataset)}
                )
            except Exception:  # a damaged dataset: refresh one by one, drop what fails
                part = self._refresh_each(chunk)
            # (the shape of a dataset with a null dataspace is None); reopened datasets
            # come last and are closed again at once (see live.reopened)
            for p, ds in sorted(part.items(), key=lambda i: isinstance(i[1], ReopenedDataset)):
                shapes[p] = tuple(ds.shape or ())
                park([ds])
            self._tree_pos += len(chunk)
        if self._tree_pos >= len(paths):
            self._tree_pos = 0
            self._tree_next = now + self.tree_interval

    def _refresh_each(self, chunk: list[str]) -> dict[str, h5py.Dataset]:
        part = {}
        for p in chunk:
            try:
                ds = self._dataset(p)
                if not isinstance(ds, ReopenedDataset):
                    refresh_cached({p: ds})
            except Exception as exc:  # damaged (or truncated): stop sweeping it
                self._growing.remove(p)
                self._problems.damaged[p] = f"damaged: cannot refresh it: {damage_reason(exc)}"
                self._tree_pos -= 1
            else:
                part[p] = ds
        return part

    # ------------------------------------------------------------------ attach / detach

    def _on_attach(self) -> None:
        root = self._source.root
        self._metas = {}
        self._nodes = tree_nodes(root) if root is not None else []
        self._switch = self._source.can_switch_to_swmr and any(
            HELD_BY_WRITER in n.get("reason", "") for n in self._nodes
        )
        self._problems = Problems(self._nodes)
        datasets = [n for n in self._nodes if n.get("kind") == "dataset"]
        self._dataset_paths = tuple(n["path"] for n in datasets)
        self._path_set = frozenset(self._dataset_paths)
        # only datasets that can grow change shape: the tree refreshes those alone
        self._growing = [n["path"] for n in datasets if n.get("growing")]
        self._tree_pos, self._tree_next = 0, 0.0
        self._rate.restart()
        self._last_change = time.monotonic()
        for feed in list(self._feeds):
            self._rebind(feed)

    def _on_detach(self) -> None:
        self._nodes, self._growing, self._metas = [], [], {}
        self._problems = Problems()
        self._dataset_paths, self._path_set = (), frozenset()

    def _rebind(self, feed: Feed) -> None:
        """Point a feed at the reopened file; drop it if its dataset changed kind or is gone."""
        if feed.path not in self._path_set:
            feed.error = "no longer in the file"
            return
        meta = self.meta(feed.path)
        try:
            ds = self._dataset(feed.path)
        except Exception as exc:  # damaged in the new file
            feed.error = f"cannot open it in the new file: {damage_reason(exc)}"
            self._feeds.pop(feed, None)
            return
        if isinstance(feed, TrendFeed):
            try:
                check_source(meta, isinstance(feed, RoiFeed))
            except TypeError as exc:
                feed.error = str(exc)
                self._feeds.pop(feed, None)
                return
        elif feed_class(meta, ds.ndim) is not type(feed):
            feed.error = "changed kind in the new file; follow it again"
            self._feeds.pop(feed, None)
            return
        feed.bind(meta, ds, self._dataset)
        park(feed.datasets)

    def dataset(self, path: str) -> h5py.Dataset:
        """The shared handle of the dataset at `path` (for front ends that copy data, e.g.
        the Tiled publisher); refresh it before reading.

        Raises
        ------
        KeyError
            If the file is not open, or has no dataset at `path`.
        """
        return self._dataset(path)

    def _dataset(self, path: str) -> h5py.Dataset:
        shared = self._source.shared
        if shared is None:
            raise KeyError(f"{self._source.path.name} is not open")
        return shared.dataset(path)

    # ------------------------------------------------------------------ health

    def _make_health(self, now: float) -> Health:
        source = self._source
        idle = max(now - self._last_change, 0.0)
        progress = next((p for p in (f.progress for f in self._feeds) if p), None)
        if not source.attached:
            state = State.WAITING
            note = source.waiting_for or self._note
        else:
            note = self._note
            if source.deleted:
                state = State.DELETED
            elif not source.is_swmr or self._complete() or source.links_finished(now):
                state = State.FINISHED
            elif idle > self.stall_after:
                state = State.STALLED
            else:
                state = State.LIVE
        if self._errors and state is not State.WAITING:
            state = State.ERROR
        return Health(
            state=state,
            swmr=source.is_swmr,
            rate=self._rate.rate(now) if source.attached else 0.0,
            idle=idle,
            progress=progress,
            refreshed=self._refreshed,
            note=note,
            errors=self._errors,
            warnings=self._problems.warnings() if source.attached else (),
            catching_up=any(f.catching_up for f in self._feeds),
        )

    def _complete(self) -> bool:
        """Whether every followed dataset is a scan array filled to its end."""
        feeds = list(self._feeds)
        if not feeds:
            return False
        progress = [f.progress for f in feeds]
        return all(p is not None and p[1] and p[0] >= p[1] for p in progress)

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Stop following and let go of the file (closing it if it was opened here)."""
        self._feeds.clear()
        self._source.close()
        self._on_detach()

    def __enter__(self) -> LiveFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LiveFile {self.path!r} {self._health.state.value}>"
