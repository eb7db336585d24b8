"""``SwmrView``: a live view of an HDF5 file that another program is writing.

The view is a thin renderer of the live engine (:mod:`swmr_widgets.live`): it
holds the layout (dataset tree, one panel per shown dataset, toolbar, status
line), the traits, and a periodic task on the kernel's asyncio loop. Each tick
polls the engine once and hands its typed updates to the panels, its shapes to
the tree and its health to the status line. A tick never runs inside another
one and never raises: errors go to the status line and the next tick runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import bqplot as bq
import h5py
import ipywidgets as widgets
import traitlets

from swmr_widgets.cells import claim_cell
from swmr_widgets.live import LiveFile, LiveFolder, Poll
from swmr_widgets.panels import Panel, make_panels
from swmr_widgets.status import StatusLine
from swmr_widgets.swmr import Locking, SwmrMode, explain_hdf5_error
from swmr_widgets.ticker import Ticker, loop_running
from swmr_widgets.toolbar import build_toolbar
from swmr_widgets.tree import DatasetTree
from swmr_widgets.trendpanel import TrendHandle, Trends

#: Seconds between two updates of the status line and of the tree's shapes while polling.
UI_INTERVAL = 0.25

__all__ = ["SwmrView"]


class SwmrView(widgets.VBox):
    """Live view of an HDF5 file written in SWMR mode by another program.

    Parameters
    ----------
    source : str, os.PathLike, h5py.File, h5py.Group or a Tiled node
        The file to watch. A path is opened (and closed by :meth:`close`) by
        the view; an open file or group stays the caller's. A Tiled container
        written by ``swmr-widgets publish``, or its ``http(s)://`` URL, is
        followed on the server (see :mod:`swmr_widgets.remote`).
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
    swmr : bool or "auto", default "auto"
        How to open the file (see :func:`~swmr_widgets.open_h5_file_for_reading`).
        ``True`` or ``False`` force SWMR mode on or off. ``"auto"`` opens a
        closed ordinary file normally and uses SWMR mode when a SWMR writer
        holds the file, or holds files that its external links or virtual
        datasets point at (an Eiger/Odin master whose data files are still
        being written).
    locking : bool, "best-effort" or None, default None
        HDF5 file locking while the file is read (see
        :class:`~swmr_widgets.live.LiveFile`). Pass ``False`` when the writer
        reopens the file at the end, as pymodaq-data's ``finalize_swmr()``
        does: a reader's lock makes that reopen fail.
    tree_interval : float, default 2.0
        Seconds between two refreshes of the shapes shown in the tree.
    stall_after : float, optional
        Seconds without any change after which the status says the writer
        looks stalled; by default ``max(10 * interval, 5)``.
    follow : "newest" or None, optional
        ``"newest"`` with a folder as `source`: show its newest HDF5 file and
        switch to each new one that appears (one file per scan), keeping the
        selection where its paths exist; a dropdown lists the folder's files,
        newest first, and picking one shows it (until "newest" is picked
        again). ``None`` (the default) takes `source` as a file.
    api_key : str, optional
        The Tiled server's API key, for a URL `source`.

    Attributes
    ----------
    live : LiveFile
        The engine that follows the file (the file shown, for a folder; a
        ``TiledLive`` for a Tiled source).
    folder : LiveFolder or None
        The folder followed, when `source` is a folder.
    """

    selected = traitlets.Tuple(help="Absolute paths of the datasets shown.")
    interval = traitlets.Float(0.5, help="Seconds between two refreshes.")
    running = traitlets.Bool(False, read_only=True, help="Whether the periodic refresh runs.")
    status = traitlets.Unicode("", read_only=True, help="Human-readable state of the view.")

    def __init__(
        self,
        source: str | os.PathLike[str] | h5py.Group,
        *,
        interval: float = 0.5,
        selected: Iterable[str] | None = None,
        autostart: bool = True,
        wait: bool | None = None,
        swmr: SwmrMode = "auto",
        locking: Locking = None,
        tree_interval: float = 2.0,
        stall_after: float | None = None,
        follow: str | None = None,
        api_key: str | None = None,
    ) -> None:
        self._tree = DatasetTree(layout=widgets.Layout(width="32%", min_width="220px"))
        self._panels: list[Panel] = []
        self._panel_box = widgets.VBox(layout=widgets.Layout(flex="1 1 auto", width="68%"))
        self._status = StatusLine()
        self._trends = Trends(self)
        self._ticker = Ticker(self._tick, lambda: self.interval, self._ended)
        self._ticking = self._ready = False
        self._tree_dirty = self._panels_dirty = True
        self._errors: list[str] = []
        self._note = ""
        self._shapes: dict[str, tuple[int, ...]] = {}  # tree shapes not sent yet
        self._ui_next = 0.0  # when the status line and tree shapes may be sent again
        self._shown = ("", False)  # status text and running state drawn last
        self.ticks = 0  # ticks run, for tests and diagnostics
        options = {
            "swmr": swmr,
            "locking": locking,
            "stall_after": stall_after or max(10 * interval, 5.0),
            "tree_interval": tree_interval,
        }
        self.folder: LiveFolder | None = None
        self._picker = None
        if _is_tiled(source):
            from swmr_widgets.remote.engine import TiledLive

            options.pop("swmr")
            options.pop("locking")
            self.live = TiledLive(source, api_key=api_key, **options)
        elif _is_folder(source, follow):
            self.folder = LiveFolder(source, follow=follow, carry=False, **options)
            self.live = self.folder.live
        else:
            self.live = LiveFile(source, wait=wait, **options)
        self._toolbar = build_toolbar(self)
        if self.folder is not None:
            from swmr_widgets.picker import FilePicker

            self._picker = FilePicker(self, self.folder)
            self._toolbar.children = (*self._toolbar.children, self._picker.widget)
        super().__init__(
            children=[
                self._toolbar,
                widgets.HBox([self._tree, self._panel_box]),
                self._status.progress,
                self._status.html,
            ]
        )
        self.add_class("swmr-view")
        self.interval = interval
        if selected is not None:
            self.selected = (selected,) if isinstance(selected, str) else tuple(selected)
        self._tree.observe(self._on_tree_selection, names="selected")
        self._ready = True
        self._tick()
        claim_cell(self)
        if autostart:
            self._autostart()

    # ------------------------------------------------------------------ public API

    paths = property(lambda self: self.live.paths, doc="Every dataset path (empty while waiting).")

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
        return self.live.health.swmr

    def refresh(self) -> None:
        """Run one poll cycle now: refresh, read what is new, redraw (errors go to status)."""
        self._ui_next = 0.0  # asked for: the status and the tree are drawn too
        self._tick()

    def start(self) -> None:
        """Start refreshing every :attr:`interval` seconds on the running asyncio loop."""
        self._ticker.start()
        self.set_trait("running", True)
        self._note = ""
        self._show_status()

    def stop(self) -> None:
        """Stop the periodic refresh (the data shown stays)."""
        self._ticker.stop()
        self._ended()

    def close(self) -> None:
        """Stop refreshing, close the file if the view opened it, and close the widgets."""
        # no status update here: ipywidgets also calls close() from __del__, possibly
        # while the interpreter shuts down and imports fail
        self._ticker.stop()
        self.set_trait("running", False)
        self._clear_panels()
        if hasattr(self, "_trends"):
            self._trends.close()
        if getattr(self, "folder", None) is not None:
            self.folder.close()
        if hasattr(self, "live"):  # (not when the constructor failed)
            self.live.close()
        for name in ("_tree", "_status", "_toolbar", "_picker"):
            if getattr(self, name, None) is not None:
                getattr(self, name).close()
        super().close()

    def reset_zoom(self) -> None:
        """Give every figure back its automatic ranges."""
        for panel in self._panels:
            panel.reset_zoom()

    # ------------------------------------------------------------------ tools while watching

    @property
    def trends(self) -> list[TrendHandle]:
        """The derived trends shown (see :meth:`add_trend` and :meth:`add_roi`)."""
        return list(self._trends.handles)

    def add_trend(self, name: str, fn: Callable[[Any], Any], source: str) -> TrendHandle:
        """Trend the number `fn` returns for each new trace or frame of `source`.

        `fn` is called on every point the writer adds (also when several arrive
        between two refreshes), and the trend is drawn in a panel below the
        datasets shown, against the source's index or navigation axis. An
        exception in `fn` goes to the status line and the trend's message; the
        point is NaN and the refresh goes on. Returns a handle with
        ``.remove()`` and ``.trend()``.

        Raises
        ------
        KeyError
            If `source` is not a dataset of the file.
        TypeError
            If `source` is not a series of acquisition points.
        """
        handle = self._trends.add(name, source, lambda live: live.add_trend(name, fn, source))
        self._request_tick()
        return handle

    def add_roi(
        self,
        source: str,
        x: tuple[float, float] | None = None,
        y: tuple[float, float] | None = None,
        reduce: str = "sum",
        name: str | None = None,
    ) -> TrendHandle:
        """Trend the sum (or mean) of a rectangle of each new frame of `source`.

        `x` and `y` are inclusive bounds in the image's axis units when the
        dataset has axes, else in pixel indices; a trace takes `x` only, a 2-D
        scan map is reduced over its filled part. One line per ROI, with a
        legend. The handle has ``.move(x=..., y=...)`` (the trend goes on with
        the new region) and ``.remove()``.
        """
        n = sum(h.feed is not None and h.feed.kind == "roi" for h in self._trends.handles)
        label = name or f"ROI {n + 1} {reduce}"
        handle = self._trends.add(
            label, source, lambda live: live.add_roi(source, x, y, reduce, name=label)
        )
        self._request_tick()
        return handle

    def export(self, path: str | os.PathLike[str]) -> list:
        """Save what every panel shows (trends included) to `path`, the format by suffix.

        ``.csv``, ``.npy``, ``.npz`` or NeXus ``.h5``/``.hdf5``/``.nxs``: the
        values as stored (full resolution, not the decimated marks) for the
        range each panel shows, with their axes (values, labels, units). A
        ``.csv`` or ``.npy`` that cannot hold several panels becomes one file
        per panel (``<stem>_1.csv``, ...). The file followed is never written.
        Returns the paths written.
        """
        from swmr_widgets.export import export_panels

        panels = [*self._panels, *self._trends.panels]
        return export_panels(panels, path)

    def _layout_panels(self) -> None:
        trends = self._trends.widgets if hasattr(self, "_trends") else []
        self._panel_box.children = [p.widget for p in self._panels] + trends

    def save_png(self, prefix: str = "swmr_view") -> None:
        """Ask the browser to save each figure as ``<prefix>_<n>.png``."""
        for n, fig in enumerate(self.figures):
            fig.save_png(f"{prefix}_{n}.png")

    # ------------------------------------------------------------------ selection

    @traitlets.validate("interval")
    def _valid_interval(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not value > 0:
            raise traitlets.TraitError(f"interval must be a positive number of seconds: {value}")
        return max(value, 0.02)

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: dict[str, Any]) -> tuple[str, ...]:
        value = proposal["value"]
        paths = tuple(dict.fromkeys((value,) if isinstance(value, str) else value))
        known = self.live.paths if hasattr(self, "live") else ()
        unknown = [p for p in paths if p not in known]
        if known and unknown and not self._ticking:
            raise traitlets.TraitError(
                f"unknown dataset path(s) {unknown}; see view.paths for the {len(known)} "
                "datasets of the file"
            )
        return paths

    @traitlets.observe("selected")
    def _on_selected(self, change: dict[str, Any]) -> None:
        self._panels_dirty = True
        self._request_tick()

    def _on_tree_selection(self, change: dict[str, Any]) -> None:
        new = tuple(p for p in change["new"] if p in self.live.paths)
        if new != self.selected:
            self.selected = new

    def _request_tick(self) -> None:
        """Redraw soon: now, unless a tick is running (which then handles it)."""
        if not self._ticking and self._ready:
            self._tick()

    # ------------------------------------------------------------------ the tick

    def _ended(self) -> None:
        self.set_trait("running", False)
        self._show_status()

    def _tick(self) -> None:
        """One poll cycle; never raises, never nests."""
        if self._ticking:
            return
        self._ticking = True
        self._errors = []
        try:
            poll = self._poll_source()
            if poll.structure_changed or poll.nodes_changed or self._tree_dirty:
                self._sync_tree()
            if self._panels_dirty:
                self._build_panels()
                poll = poll.then(self.live.poll())  # the new feeds read at once
            self._render(poll)
        except Exception as exc:
            self._errors.append(explain_hdf5_error(exc))
        finally:
            self.ticks += 1
            self._ticking = False
            self._show_status(throttled=True)

    def _poll_source(self) -> Poll:
        """Poll the file (or the folder, switching to the file it shows now)."""
        if self.folder is None:
            return self.live.poll()
        poll = self.folder.poll()
        if self.folder.live is not self.live:  # a new scan (or a picked file)
            self._clear_panels()
            self.live = self.folder.live
            self._tree.set_nodes([])
            self._tree_dirty = self._panels_dirty = True
        if self._picker is not None:
            self._picker.sync()
        return poll

    def _sync_tree(self) -> None:
        """Show the file's datasets, and keep the selection where its paths exist."""
        self._tree_dirty = False
        if not self.live.attached:
            return
        self._tree.set_nodes(self.live.nodes)
        self._trends.reattach()  # trends of a folder's previous file, where their source exists
        kept = tuple(p for p in self.selected if p in self.live.paths)
        self.selected = kept or self.live.default_selection()
        self._tree.selected = self.selected
        self._panels_dirty = True

    def _build_panels(self) -> None:
        self._clear_panels()
        self._panels_dirty = False
        if not self.live.attached:
            return
        feeds = []
        for path in (p for p in self.selected if p in self.live.paths):
            try:  # a dataset that cannot be opened must not keep the others from showing
                feeds.append(self.live.follow(path))
            except Exception as exc:
                self._errors.append(f"cannot show {path}: {explain_hdf5_error(exc)}")
        self._panels = make_panels(feeds, self._request_tick)
        self._layout_panels()

    def _clear_panels(self) -> None:
        for panel in self._panels:
            for feed in panel.feeds:
                self.live.unfollow(feed)
            panel.close()
        self._panels = []
        self._layout_panels()

    def _render(self, poll: Poll) -> None:
        for panel in self._panels:
            try:
                panel.render(poll.updates)
            except Exception as exc:  # retried at the next tick
                self._errors.append(f"{', '.join(panel.paths)}: {explain_hdf5_error(exc)}")
        try:
            self._trends.render(poll.updates)
        except Exception as exc:  # retried at the next tick
            self._errors.append(f"trends: {explain_hdf5_error(exc)}")
        self._shapes.update(poll.shapes)
        if time.monotonic() >= self._ui_next:  # a few messages per second, at any rate
            self._tree.update_shapes(self._shapes)
            self._shapes = {}

    # ------------------------------------------------------------------ status

    def _show_status(self, throttled: bool = False) -> None:
        """Update :attr:`status`; draw it now, or (`throttled`) at most every UI_INTERVAL.

        A fast poll must not send the browser more small messages than it can
        take: they would queue up in front of the frames.
        """
        rates = [r for r in (p.painted_rate for p in self._panels) if r is not None]
        painted = f"painted {max(rates):.1f} frames/s" if rates else ""
        where = self.folder.describe() if self.folder is not None else ""
        note = " · ".join(n for n in (where, self._note, painted, *self._trends.notes) if n)
        health, errors = self.live.health, (*self.live.health.errors, *self._errors)
        now = time.monotonic()
        urgent = self._shown[1] != self.running or bool(errors) != bool(self._shown[0])
        if throttled and now < self._ui_next and not urgent:
            text = self._status.describe(
                health, running=self.running, errors=self._errors, note=note
            )
        else:
            text = self._status.show(health, running=self.running, errors=self._errors, note=note)
            self._shown = ("error" if errors else "", self.running)
            self._ui_next = now + UI_INTERVAL
        self.set_trait("status", text)

    def _autostart(self) -> None:
        if loop_running():
            self.start()
        else:
            self._note = "not refreshing: no running asyncio loop (call start())"
            self._show_status()


def _is_folder(source: Any, follow: str | None) -> bool:
    """Whether `source` is a folder to follow (raising for `follow` on anything else)."""
    if follow is None:
        return False  # a folder then raises IsADirectoryError, as any non-file does
    if not (isinstance(source, str | os.PathLike) and os.path.isdir(source)):
        raise NotADirectoryError(
            f"follow={follow!r} needs a folder of scan files; {source!r} is not one"
        )
    return True


def _is_tiled(source: Any) -> bool:
    """Whether `source` is a Tiled node or an ``http(s)://`` URL (not a local file)."""
    if isinstance(source, str):
        return source.startswith(("http://", "https://"))
    return type(source).__module__.startswith("tiled.")
