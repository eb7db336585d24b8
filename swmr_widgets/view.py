"""``SwmrView``: a live view of an HDF5 file that another program is writing.

The view composes a dataset tree, one panel per shown dataset (see
:mod:`swmr_widgets.panels`), a toolbar and a status line, and owns a periodic
task on the kernel's asyncio loop. Each tick refreshes only the datasets shown,
reads what is new, decimates it and updates the marks; the tree's shapes are
refreshed on a slower cadence, a slice of the file at a time. A tick never
raises: errors go to the status line and the next tick runs as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import time
import weakref
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import bqplot as bq
import h5py
import ipywidgets as widgets
import traitlets

from swmr_widgets.metadata import DatasetMeta, describe_dataset
from swmr_widgets.nodes import tree_nodes
from swmr_widgets.panels import Panel, make_panels
from swmr_widgets.swmr import (
    FileLockedError,
    NotHDF5Error,
    collect_datasets,
    is_empty_file,
    open_h5_file_for_reading,
    refresh_cached,
)
from swmr_widgets.tree import DatasetTree

__all__ = ["SwmrView"]

#: Seconds one tick may spend refreshing the tree's shapes (about 20 datasets).
TREE_BUDGET = 0.0005
#: Datasets refreshed between two looks at the clock.
TREE_STEP = 8


class SwmrView(widgets.VBox):
    """Live view of an HDF5 file written in SWMR mode by another program.

    Parameters
    ----------
    source : str, os.PathLike, h5py.File or h5py.Group
        The file to watch. A path is opened (and closed by :meth:`close`) by
        the view; an open file or group stays the caller's.
    interval : float, default 0.5
        Seconds between two refreshes.
    selected : iterable of str, optional
        Absolute paths of the datasets to show. By default the first
        growing 0-D channel (or else the first plottable dataset) is shown.
    autostart : bool, default True
        Start refreshing at once, when an asyncio loop is running (always
        the case in Jupyter and Voila). Otherwise call :meth:`start` from
        async code, or :meth:`refresh` yourself.
    wait : bool or None, default None
        What to do when the file cannot be opened yet. ``None`` waits while a
        writer holds the file without SWMR mode (the start of a PyMoDAQ scan)
        but raises :class:`FileNotFoundError` for a missing file; ``True`` also
        waits for a missing file to appear; ``False`` raises in both cases.
    tree_interval : float, default 2.0
        Seconds between two refreshes of the shapes shown in the tree.
    stall_after : float, optional
        Seconds without any change after which the status says the writer
        looks stalled; by default ``max(10 * interval, 5)``.

    Attributes
    ----------
    figures : list of bqplot.Figure
        The figures currently shown.
    paths : tuple of str
        Every dataset path known in the file.
    """

    selected = traitlets.Tuple(help="Absolute paths of the datasets shown.")
    interval = traitlets.Float(0.5, help="Seconds between two refreshes.")
    running = traitlets.Bool(False, read_only=True, help="Whether the periodic refresh runs.")
    status = traitlets.Unicode("", read_only=True, help="Human-readable state of the view.")

    _by_cell: ClassVar[dict[str, weakref.ref[SwmrView]]] = {}

    def __init__(
        self,
        source: str | os.PathLike[str] | h5py.Group,
        *,
        interval: float = 0.5,
        selected: Iterable[str] | None = None,
        autostart: bool = True,
        wait: bool | None = None,
        tree_interval: float = 2.0,
        stall_after: float | None = None,
    ) -> None:
        self._tree = DatasetTree(layout=widgets.Layout(width="32%", min_width="220px"))
        self._panels: list[Panel] = []
        self._panel_box = widgets.VBox(layout=widgets.Layout(flex="1 1 auto", width="68%"))
        self._status_html = widgets.HTML()
        self._status_html.add_class("swmr-status")
        self._progress = widgets.FloatProgress(
            min=0, max=1, description="scan", layout=widgets.Layout(display="none", width="60%")
        )
        self._task: asyncio.Task | None = None
        self._file: h5py.File | None = None
        self._shared: _SharedFile | None = None
        self._root: h5py.Group | None = None
        self._owns_file = False
        self._is_swmr = False
        self._file_key: tuple[int, int] | None = None
        self._file_sig: tuple[int, int] | None = None
        self._cache: dict[str, h5py.Dataset] = {}
        self._metas: dict[str, DatasetMeta] = {}
        self._pending_selection: tuple[str, ...] | None = None
        self._note = ""
        self._attach_note = ""
        self._error = ""
        self._last_refresh: float | None = None
        self._last_change = time.monotonic()
        self._last_tick = time.monotonic()
        self._rate = 0.0
        self._loading = False  # the next tick reads what was written before it was shown
        self._tree_next = 0.0
        self._tree_pos = 0
        self._growing: list[str] = []
        self.tree_interval = tree_interval
        self._stall_after = stall_after
        self._wait = wait
        toolbar = self._build_toolbar()
        super().__init__(
            children=[
                toolbar,
                widgets.HBox([self._tree, self._panel_box]),
                self._progress,
                self._status_html,
            ]
        )
        self.add_class("swmr-view")
        self.interval = interval
        self._tree.observe(self._on_tree_selection, names="selected")

        if selected is not None:
            self._pending_selection = (selected,) if isinstance(selected, str) else tuple(selected)
        if isinstance(source, h5py.Group):
            self._path = Path(source.file.filename)
            self._attach_group(source, owns=False)
        else:
            self._path = Path(source)
            self._try_attach(first=True)
        if selected is not None and self._root is not None:
            self.selected = self._pending_selection or (
                (selected,) if isinstance(selected, str) else tuple(selected)
            )
        self._claim_cell()
        if autostart:
            self._autostart()
        self._set_status()

    # ------------------------------------------------------------------ public API

    @property
    def paths(self) -> tuple[str, ...]:
        """Absolute paths of all datasets of the file (empty while waiting)."""
        return tuple(self._cache)

    @property
    def figures(self) -> list[bq.Figure]:
        """The bqplot figures currently shown."""
        return [fig for panel in self._panels for fig in panel.figures]

    @property
    def panels(self) -> list[Panel]:
        """The panels currently shown, one per dataset or group of 0-D series."""
        return list(self._panels)

    @property
    def is_swmr(self) -> bool:
        """Whether the file is read in SWMR mode (so new data can show up)."""
        return self._is_swmr

    def refresh(self) -> None:
        """Run one poll cycle now: refresh, read what is new, redraw.

        Errors do not propagate: they are shown in :attr:`status`, as in the
        periodic refresh.
        """
        self._tick()

    def start(self) -> None:
        """Start refreshing every :attr:`interval` seconds on the running asyncio loop.

        Does nothing if the refresh already runs.
        """
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        self._task = loop.create_task(self._run())
        self.set_trait("running", True)
        self._set_status()

    def stop(self) -> None:
        """Stop the periodic refresh (the data shown stays)."""
        self._cancel()
        self._set_status()

    def _cancel(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        self.set_trait("running", False)

    def close(self) -> None:
        """Stop refreshing, close the file if the view opened it, and close the widgets."""
        # no status update here: ipywidgets also calls close() from __del__, possibly
        # while the interpreter shuts down and imports fail
        self._cancel()
        self._clear_panels()
        self._detach()
        for child in (self._tree, self._status_html, self._progress):
            child.close()
        super().close()

    def reset_zoom(self) -> None:
        """Give every figure back its automatic ranges."""
        for panel in self._panels:
            panel.reset_zoom()

    def save_png(self, prefix: str = "swmr_view") -> None:
        """Ask the browser to save each figure as ``<prefix>_<n>.png``."""
        for n, fig in enumerate(self.figures):
            fig.save_png(f"{prefix}_{n}.png")

    # ------------------------------------------------------------------ traits

    @traitlets.validate("interval")
    def _valid_interval(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not value > 0:
            raise traitlets.TraitError(
                f"interval must be a positive number of seconds, not {value}"
            )
        return max(value, 0.02)

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: dict[str, Any]) -> tuple[str, ...]:
        value = proposal["value"]
        paths = (value,) if isinstance(value, str) else tuple(value)
        if self._root is None:
            return paths
        unknown = [p for p in paths if p not in self._cache]
        if unknown:
            raise traitlets.TraitError(
                f"unknown dataset path(s) {unknown}; see view.paths for the {len(self._cache)} "
                "datasets of the file"
            )
        return tuple(dict.fromkeys(paths))

    @traitlets.observe("selected")
    def _on_selected(self, change: dict[str, Any]) -> None:
        if tuple(self._tree.selected) != change["new"]:
            self._tree.selected = change["new"]
        if self._root is None:
            self._pending_selection = change["new"]
            return
        self._show(change["new"])

    def _on_tree_selection(self, change: dict[str, Any]) -> None:
        new = tuple(p for p in change["new"] if p in self._cache)
        if new != self.selected:
            self.selected = new

    # ------------------------------------------------------------------ attaching

    def _try_attach(self, first: bool = False) -> bool:
        wait_missing = self._wait is True
        wait_locked = self._wait is not False
        try:
            shared = _SharedFile.acquire(self._path)
        except (FileNotFoundError, NotHDF5Error) as exc:
            # an empty file is one being created: wait for it as for a missing one
            being_created = isinstance(exc, FileNotFoundError) or is_empty_file(self._path)
            if first and not (wait_missing and being_created):
                raise
            if being_created:
                self._note = f"waiting for {self._path.name} to be created…"
            else:
                self._note = f"cannot open {self._path.name} yet: {exc}"
            return False
        except FileLockedError:
            if first and not wait_locked:
                raise
            self._note = f"waiting for the writer of {self._path.name} to switch SWMR mode on…"
            return False
        except OSError as exc:
            if first:
                raise
            self._note = f"cannot open {self._path.name} yet: {exc}"
            return False
        self._shared = shared
        self._is_swmr = shared.is_swmr
        self._attach_group(shared.file, owns=True)
        return True

    def _attach_group(self, group: h5py.Group, owns: bool) -> None:
        self._file = group.file
        self._root = group
        self._owns_file = owns
        self._is_swmr = bool(group.file.swmr_mode) if not owns else self._is_swmr
        self._file_key, self._file_sig = _identity(group.file, self._path)
        shared = self._shared if owns else None
        self._cache = shared.cache if shared is not None else collect_datasets(group)
        self._metas = {}
        nodes = tree_nodes(group)
        self._tree.set_nodes(nodes)
        # only datasets that can grow change shape: the tree refreshes those alone
        self._growing = [
            n["path"]
            for n in nodes
            if n.get("kind") == "dataset" and n.get("growing") and n["path"] in self._cache
        ]
        self._tree_pos, self._tree_next = 0, 0.0
        self._note, self._attach_note = self._attach_note, ""
        wanted = self._pending_selection if self._pending_selection is not None else self.selected
        kept = tuple(p for p in wanted if p in self._cache)
        if len(kept) == len(wanted):
            self._pending_selection = None
        if not kept:
            kept = self._default_selection()
        self._tree.selected = kept
        if kept == self.selected:
            self._show(kept)
        else:
            self.selected = kept

    def _detach(self) -> None:
        self._cache = {}
        self._growing = []
        self._metas = {}
        self._root = None
        if self._owns_file and self._shared is not None:
            self._shared.release()
        self._shared = None
        self._file = None

    def _check_file(self) -> None:
        """Notice a file that was deleted, replaced (a restarted scan) or rewritten; follow it."""
        if self._file_key is None:
            return
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            self._note = f"{self._path.name} was deleted; showing the last data read"
            return
        if not self._owns_file:
            changed = ""
        elif (st.st_dev, st.st_ino) != self._file_key:
            changed = "replaced by a new file"
        elif (self._file_sig is not None and st.st_size < self._file_sig[1]) or any(
            not ds.id.valid for panel in self._panels for ds in panel.datasets.values()
        ):
            # A file being written only grows, and HDF5 invalidates a dataset whose refresh
            # failed: the file was truncated (a writer recreating it in place), so what is
            # open is gone. Closing it also lets such a writer lock the file at its next try.
            changed = "truncated or rewritten in place"
        else:
            changed = ""
        if changed:
            previous = self.selected
            self._clear_panels()
            if self._shared is not None:
                self._shared.forget()
            self._detach()
            self._pending_selection = previous
            # shown once attached, now or at a later tick (the new file may not be readable yet)
            self._attach_note = f"{self._path.name} was {changed}; reopened it"
            self._try_attach()
            return
        sig = (st.st_mtime_ns, st.st_size)
        if sig != self._file_sig:
            self._file_sig = sig
            self._last_change = time.monotonic()
        if self._note.endswith("showing the last data read"):
            self._note = ""

    def _default_selection(self) -> tuple[str, ...]:
        first_plottable = None
        for path in list(self._cache)[:500]:
            meta = self._meta(path)
            if not meta.plottable:
                continue
            if meta.signal_ndim == 0 and meta.nav_ndim == 1:
                return (path,)
            first_plottable = first_plottable or path
        return (first_plottable,) if first_plottable else ()

    def _meta(self, path: str) -> DatasetMeta:
        meta = self._metas.get(path)
        if meta is None:
            meta = self._metas[path] = describe_dataset(self._cache[path])
        return meta

    def _claim_cell(self) -> None:
        """Stop the view an earlier run of the same notebook cell left polling."""
        cell = _cell_id()
        if cell is None:
            return
        old = self._by_cell.get(cell)
        previous = old() if old is not None else None
        if previous is not None and previous is not self:
            previous.stop()
        self._by_cell[cell] = weakref.ref(self)

    def _autostart(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._note = self._note or "not refreshing: no running asyncio loop (call start())"
            return
        self.start()

    # ------------------------------------------------------------------ panels

    def _show(self, paths: tuple[str, ...]) -> None:
        self._clear_panels()
        try:
            metas = [self._meta(p) for p in paths]
            self._panels = make_panels(metas, [self._cache[p] for p in paths])
            self._panel_box.children = [p.widget for p in self._panels]
            self._error = ""
        except Exception as exc:  # a dataset we cannot describe must not break the view
            self._error = f"cannot show {', '.join(paths)}: {type(exc).__name__}: {exc}"
        self._rate, self._loading = 0.0, True
        self._tick()

    def _clear_panels(self) -> None:
        for panel in self._panels:
            panel.widget.close()
            for fig in panel.figures:
                fig.close()
        self._panels = []
        self._panel_box.children = []

    # ------------------------------------------------------------------ the poll loop

    async def _run(self) -> None:
        try:
            while True:
                started = time.monotonic()
                self._tick()
                await asyncio.sleep(max(self.interval - (time.monotonic() - started), 0.005))
        finally:
            if self._task is asyncio.current_task():
                self._task = None
                self.set_trait("running", False)
                self._set_status()

    def _tick(self) -> None:
        """One poll cycle; never raises."""
        now = time.monotonic()
        errors: list[str] = []
        new_rows = 0
        try:
            if self._root is None and not self._try_attach():
                return
            self._check_file()
            shown = {p: self._cache[p] for panel in self._panels for p in panel.paths}
            refresh_cached(shown)
            for panel in self._panels:
                try:
                    new_rows += panel.update()
                except Exception as exc:
                    errors.append(f"{', '.join(panel.paths)}: {type(exc).__name__}: {exc}")
            # the shown datasets were refreshed above: their rows in the tree follow each tick
            self._tree.update_shapes({p: list(ds.shape or ()) for p, ds in shown.items()})
            if now >= self._tree_next:
                self._refresh_tree_slice(now)
            self._last_refresh = time.time()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            dt = max(now - self._last_tick, 1e-6)
            self._last_tick = now
            # rows read to show what was already there are no acquisition rate
            if not (self._loading or any(p.catching_up for p in self._panels)):
                rate = new_rows / dt
                self._rate = rate if self._rate == 0 else 0.7 * self._rate + 0.3 * rate
            self._loading = False
            if new_rows:
                self._last_change = now
            self._error = "; ".join(errors)
            self._set_status()

    def _refresh_tree_slice(self, now: float) -> None:
        """Refresh the tree's shapes of growing datasets, for at most TREE_BUDGET per tick."""
        paths = self._growing
        if not paths or not self._is_swmr:
            self._tree_next = float("inf") if not self._is_swmr else now + self.tree_interval
            return
        deadline = time.perf_counter() + TREE_BUDGET
        shapes: dict[str, list[int]] = {}
        while self._tree_pos < len(paths) and time.perf_counter() < deadline:
            chunk = paths[self._tree_pos : self._tree_pos + TREE_STEP]
            part = {p: self._cache[p] for p in chunk}
            refresh_cached(part)
            # (the shape of a dataset with a null dataspace is None)
            shapes.update({p: list(ds.shape or ()) for p, ds in part.items()})
            self._tree_pos += len(chunk)
        self._tree.update_shapes(shapes)
        if self._tree_pos >= len(paths):
            self._tree_pos = 0
            self._tree_next = now + self.tree_interval

    # ------------------------------------------------------------------ status

    def _set_status(self) -> None:
        parts: list[str] = []
        if self._root is None:
            parts.append(self._note or "no file")
        else:
            parts.append("SWMR" if self._is_swmr else "not SWMR (file is not being written)")
            parts.append("live" if self.running else "paused")
            if self._last_refresh is not None:
                stamp = datetime.fromtimestamp(self._last_refresh).strftime("%H:%M:%S")
                parts.append(f"refreshed {stamp}")
            parts.append(f"{self._rate:,.0f} rows/s")
            idle = time.monotonic() - self._last_change
            stall = self._stall_after or max(10 * self.interval, 5.0)
            if self._is_swmr:
                parts.append(
                    f"no change for {idle:.0f} s (writer stalled or finished?)"
                    if idle > stall
                    else f"last change {idle:.1f} s ago"
                )
            if any(p.catching_up for p in self._panels):
                parts.append("loading earlier rows…")
            if self._note:
                parts.append(self._note)
        progress = next((p.progress for p in self._panels if p.progress), None)
        if progress:
            filled, total = progress
            parts.append(f"scan {filled}/{total}")
            self._progress.value = filled / total if total else 0.0
            self._progress.description = f"{filled}/{total}"
            self._progress.layout.display = None
        else:
            self._progress.layout.display = "none"
        text = " · ".join(parts)
        if self._error:
            text += f" · error: {self._error}"
        self.set_trait("status", text)
        color = "var(--jp-error-color1, #c62828)" if self._error else "inherit"
        self._status_html.value = (
            f"<span style='font-size:90%;color:{color}'>{html.escape(text)}</span>"
        )

    # ------------------------------------------------------------------ toolbar

    def _build_toolbar(self) -> widgets.HBox:
        small = widgets.Layout(width="auto")
        self._play = widgets.ToggleButton(
            value=False, description="Live", icon="play", tooltip="Start or pause live refresh"
        )
        self._play.add_class("swmr-play")
        self._play.observe(self._on_play, names="value")
        interval = widgets.BoundedFloatText(
            min=0.02,
            max=3600,
            step=0.1,
            description="every (s)",
            layout=widgets.Layout(width="150px"),
        )
        widgets.link((self, "interval"), (interval, "value"))
        refresh = widgets.Button(description="Refresh now", icon="refresh", layout=small)
        refresh.add_class("swmr-refresh")
        refresh.on_click(lambda _b: self.refresh())
        reset = widgets.Button(description="Reset zoom", icon="expand", layout=small)
        reset.add_class("swmr-reset-zoom")
        reset.on_click(lambda _b: self.reset_zoom())
        save = widgets.Button(description="Save PNG", icon="camera", layout=small)
        save.add_class("swmr-save-png")
        save.on_click(lambda _b: self.save_png())
        return widgets.HBox([self._play, interval, refresh, reset, save])

    def _on_play(self, change: dict[str, Any]) -> None:
        if change["new"] and not self.running:
            self.start()
        elif not change["new"] and self.running:
            self.stop()

    @traitlets.observe("running")
    def _on_running(self, change: dict[str, Any]) -> None:
        self._play.value = change["new"]
        self._play.icon = "pause" if change["new"] else "play"
        self._play.description = "Pause" if change["new"] else "Live"


class _SharedFile:
    """A file opened by views, shared by every view of it in this process.

    HDF5 (up to 2.0 at least) mishandles ``H5Drefresh`` of a dataset that is
    open more than once in a process: afterwards, reading a multi-dimensional
    chunked dataset across several chunks fails with "can't insert duplicate
    key". So the views of one file (two views, or the one a re-run notebook
    cell left behind) share one open file and one handle per dataset.

    Parameters
    ----------
    file : h5py.File
        The open file.
    is_swmr : bool
        Whether it is read in SWMR mode.
    key : tuple of int or None
        ``(device, inode)`` of the file.
    """

    _open: ClassVar[dict[tuple[int, int], _SharedFile]] = {}

    def __init__(self, file: h5py.File, is_swmr: bool, key: tuple[int, int] | None) -> None:
        self.file = file
        self.is_swmr = is_swmr
        self.key = key
        self.cache = collect_datasets(file)
        self.users = 0

    @classmethod
    def acquire(cls, path: Path) -> _SharedFile:
        """Open `path` (see :func:`open_h5_file_for_reading`), or share it if a view has."""
        f, is_swmr = open_h5_file_for_reading(path)
        key, _ = _identity(f, path)
        shared = cls._open.get(key) if key is not None else None
        if shared is not None and shared.file.id.valid:
            f.close()  # HDF5 shares the open file anyway: keep one handle per dataset
        else:
            shared = cls(f, is_swmr, key)
            if key is not None:
                cls._open[key] = shared
        shared.users += 1
        return shared

    def forget(self) -> None:
        """Share this file with no further view (its contents changed on disk)."""
        if self.key is not None and self._open.get(self.key) is self:
            del self._open[self.key]

    def release(self) -> None:
        """One view less; the last one closes the file."""
        self.users -= 1
        if self.users > 0:
            return
        self.forget()
        with contextlib.suppress(Exception):
            self.file.close()


def _identity(file: h5py.File, path: Path) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """``((device, inode), (mtime_ns, size))`` of the open `file`, else of `path`.

    The descriptor the file was opened with names the very file being read,
    even when `path` was replaced between opening and this call.
    """
    try:
        st = os.fstat(file.id.get_vfd_handle())
    except Exception:  # another driver, or a closed file: fall back to the path
        try:
            st = os.stat(path)
        except OSError:
            return None, None
    return (st.st_dev, st.st_ino), (st.st_mtime_ns, st.st_size)


def _cell_id() -> str | None:
    """Id of the notebook cell being run, when running in a Jupyter kernel."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    header = getattr(shell, "parent_header", None) or {}
    cell = header.get("metadata", {}).get("cellId")
    return str(cell) if cell else None
