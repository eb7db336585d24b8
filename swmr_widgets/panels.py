"""What the view shows for each kind of dataset: renderers of the live engine's updates.

A panel draws the updates of its feeds (see :mod:`swmr_widgets.live.feeds`)
into bqplot figures. It never reads the file: it takes what the engine read,
decimates it (see :mod:`swmr_widgets.decimate`) and updates the marks. A draw
that fails is retried at the next render.

==================================  =====================================
feed                                panel
==================================  =====================================
series (0-D per point, 1-D array)   :class:`SeriesPanel`; 0-D channels overlaid
trace (1-D per point)               :class:`TracePanel`: latest + waterfall
frame (2-D per point), scan map     :class:`ImagePanel`
slice (more dimensions)             :class:`SlicePanel`: index sliders
value (scalar)                      :class:`ValuePanel`
details (not plottable)             :class:`DetailsPanel`
==================================  =====================================
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from swmr_widgets.decimate import (
    DEFAULT_TRACE_POINTS,
    MinMaxSummary,
    decimate_image,
    decimate_trace,
    to_float,
)
from swmr_widgets.frames import range_sample, reduce_frame, stored_sentinels
from swmr_widgets.live import (
    AxisReader,
    Details,
    Feed,
    Latest,
    Rows,
    ScanMap,
    SeriesFeed,
    Slice,
    SliceFeed,
    TraceFeed,
    Update,
    Value,
)
from swmr_widgets.live.feeds import first_column
from swmr_widgets.metadata import DatasetMeta
from swmr_widgets.plots import ImageFigure, LineFigure

__all__ = [
    "DetailsPanel",
    "ImagePanel",
    "Panel",
    "SeriesPanel",
    "SlicePanel",
    "TracePanel",
    "ValuePanel",
    "make_panels",
]

#: Seconds between two redraws of a waterfall (the latest trace follows every tick).
WATERFALL_INTERVAL = 1.0


class Panel:
    """Base class: a widget drawing the updates of some feeds.

    Parameters
    ----------
    feeds : sequence of Feed
        The feeds drawn, in order.
    """

    def __init__(self, feeds: Sequence[Feed]) -> None:
        self.feeds = list(feeds)
        self.figures: list[bq.Figure] = []
        self._plots: list[LineFigure | ImageFigure] = []  # what reset_zoom resets
        self._dirty = False  # something was taken in and not drawn yet
        self.widget = widgets.VBox(layout=widgets.Layout(width="100%"))
        self.widget.add_class("swmr-panel")

    @property
    def metas(self) -> list[DatasetMeta]:
        """Descriptions of the datasets shown."""
        return [f.meta for f in self.feeds]

    @property
    def paths(self) -> tuple[str, ...]:
        """Absolute paths of the datasets shown."""
        return tuple(f.path for f in self.feeds)

    @property
    def progress(self) -> tuple[int, int] | None:
        """``(points filled, total)`` of the first scan array shown, else ``None``."""
        return next((p for p in (f.progress for f in self.feeds) if p), None)

    @property
    def catching_up(self) -> bool:
        """Whether rows written before the panel was shown are still being read."""
        return any(f.catching_up for f in self.feeds)

    def render(self, updates: Mapping[Feed, Update]) -> None:
        """Take in this panel's updates and redraw; a failed draw is retried next time."""
        for i, feed in enumerate(self.feeds):
            update = updates.get(feed)
            if update is not None:
                self._take(i, update)
                self._dirty = True
        if self._dirty and self._due():
            self._draw()
            self._dirty = False  # only once drawn
        for plot in self._plots:
            if isinstance(plot, ImageFigure):
                plot.poll()  # a frame held for a browser that stopped answering

    def _take(self, i: int, update: Update) -> None:
        """Keep what update `i` brings (no widget work)."""

    def _due(self) -> bool:
        return True

    def _draw(self) -> None:
        """Update the marks from what was taken in."""

    def reset_zoom(self) -> None:
        """Give every figure back its automatic ranges."""
        for plot in self._plots:
            plot.reset_zoom()

    def curves(self) -> list:
        """What the panel shows, at full resolution, within its zoom (see ``export``)."""
        from swmr_widgets.export import panel_curves

        return panel_curves(self)

    def export(self, path: str | os.PathLike[str]) -> list:
        """Save what the panel shows to `path` (.csv, .npy, .npz, .h5/.nxs by suffix).

        The values are those stored (not the decimated marks) for the range
        shown, with their axes' values, labels and units. Returns the paths
        written; the file followed is never written.
        """
        from swmr_widgets.export import export_panels

        return export_panels([self], path)

    @property
    def painted_rate(self) -> float | None:
        """Frames per second a browser reports painted in this panel's images, if any."""
        rates = [p.painted_rate for p in self._plots if isinstance(p, ImageFigure)]
        known = [r for r in rates if r is not None]
        return max(known) if known else None

    @property
    def color_range(self) -> tuple[float, float] | None:
        """Fixed colour range of the panel's first image, ``None`` for automatic.

        Setting it fixes the range of every image of the panel (``None``: back to
        the robust automatic range); it survives new frames and refreshes.
        """
        images = [p for p in self._plots if isinstance(p, ImageFigure)]
        return images[0].color_range if images else None

    @color_range.setter
    def color_range(self, value: tuple[float, float] | None) -> None:
        images = [p for p in self._plots if isinstance(p, ImageFigure)]
        if not images:
            raise AttributeError(f"{type(self).__name__} shows no image to give a colour range")
        for plot in images:
            plot.color_range = value

    def close(self) -> None:
        """Close the panel's widgets."""
        self.widget.close()
        for plot in self._plots:
            if isinstance(plot, ImageFigure):
                plot.close()
        for fig in self.figures:
            fig.close()


def _title(meta: DatasetMeta) -> str:
    return meta.label if meta.label and meta.label != meta.name else meta.path


def _coords(reader: AxisReader, n: int, step: int = 1) -> np.ndarray:
    return reader.first(n)[::step]


class _Elapsed:
    """Epoch-second coordinates drawn as seconds since the first one, named in the title.

    Seconds since 1970 (1.7e9) leave a plot's ticks unreadable; an offset is
    subtracted instead (exactly, in float64) and the axis says since when.
    """

    def __init__(self, reader: AxisReader) -> None:
        self.reader = reader
        self.t0: float | None = None

    def __call__(self, x: np.ndarray, axis: bq.Axis) -> np.ndarray:
        units = self.reader.axis.units if self.reader.axis is not None else ""
        if units not in ("s", "sec", "second", "seconds") or not len(x):
            return x
        if self.t0 is None:
            first = float(x[0])
            if not 1e9 <= first <= 4e9:  # 2001 - 2096: epoch seconds
                return x
            self.t0 = float(np.floor(first))
            since = datetime.fromtimestamp(self.t0, tz=timezone.utc)
            label = self.reader.axis.label or "time"
            axis.label = f"{label} (s since {since:%Y-%m-%d %H:%M:%S} UTC)"
        return x - self.t0


class SeriesPanel(Panel):
    """Values against their index, scan position or axis; several series overlaid.

    Growing series are summarised incrementally (:class:`MinMaxSummary`), so
    the whole acquisition is shown with its extremes at a cost per render that
    depends only on the new rows. Scan arrays and static arrays are drawn
    where they are filled; unfilled (NaN) points are not drawn.
    """

    def __init__(self, feeds: Sequence[SeriesFeed], n_points: int = DEFAULT_TRACE_POINTS) -> None:
        super().__init__(feeds)
        self.n_points = n_points
        metas = self.metas
        first = metas[0]
        units = {m.units for m in metas}
        y_label = first.value_title if len(metas) == 1 else (units.pop() if len(units) == 1 else "")
        self.plot = LineFigure(
            [m.label or m.name for m in metas],
            x_label=feeds[0].axis.title or "index",
            y_label=y_label,
            title=_title(first) if len(metas) == 1 else "",
        )
        self._plots = [self.plot]
        self.figures = [self.plot.figure]
        self.widget.children = [self.plot.figure]
        self.summaries = [MinMaxSummary(n_points // 2) if m.growing else None for m in metas]
        self._elapsed = [_Elapsed(f.axis) for f in feeds]
        self._stale = [True] * len(feeds)

    def _take(self, i: int, update: Update) -> None:
        assert isinstance(update, Rows)
        summary = self.summaries[i]
        if summary is not None:
            if update.reset:
                summary.clear()
            if len(update.values):
                summary.extend(update.values, start=int(update.indices[0]))
        self._stale[i] = True

    def _draw(self) -> None:
        for i, feed in enumerate(self.feeds):
            if not self._stale[i]:
                continue
            summary = self.summaries[i]
            if summary is not None:
                idx, y = summary.points()
            else:
                hist = feed.history
                y_all = to_float(first_column(hist.values), np.float64)
                keep = ~np.isnan(y_all)
                idx, y = decimate_trace(y_all[keep], self.n_points, hist.indices[keep])
            x, known = feed.axis.at(idx.astype(np.int64))
            self.plot.set_line(i, self._elapsed[i](x, self.plot.x_axis), y[known])
            self._stale[i] = False


class TracePanel(Panel):
    """The latest 1-D trace against its axis, and a waterfall of recent traces."""

    def __init__(
        self, feed: TraceFeed, n_points: int = DEFAULT_TRACE_POINTS, waterfall: bool = True
    ) -> None:
        super().__init__([feed])
        meta = feed.meta
        self.n_points = n_points
        x_label = feed.x_axis.title or "index"
        self.plot = LineFigure([meta.label or meta.name], x_label, meta.value_title, _title(meta))
        self._plots = [self.plot]
        self.figures = [self.plot.figure]
        self.waterfall: ImageFigure | None = None
        if waterfall:
            nav_label = feed.nav_axis.title or ("index" if meta.nav_ndim <= 1 else "scan point")
            self.waterfall = ImageFigure(x_label, nav_label, meta.value_title, "history")
            self._plots.append(self.waterfall)
            self.figures.append(self.waterfall.figure)
        self.widget.children = [
            *self.figures,
            *([self.waterfall.gate.ack] if self.waterfall is not None else []),
        ]
        self._latest: np.ndarray | None = None
        self._elapsed = _Elapsed(feed.nav_axis)
        self._line_due = False
        self._waterfall_due = False
        self._waterfall_next = 0.0

    def _take(self, i: int, update: Update) -> None:
        assert isinstance(update, Latest)
        self._latest = update.values
        self._line_due = True
        self._waterfall_due = self.waterfall is not None

    def render(self, updates: Mapping[Feed, Update]) -> None:
        super().render(updates)
        # the waterfall is redrawn at most every WATERFALL_INTERVAL seconds
        if self._waterfall_due and time.monotonic() >= self._waterfall_next:
            self._draw_waterfall()

    def _draw(self) -> None:
        if self._latest is None or not self._line_due:
            return
        feed = self.feeds[0]
        x = _coords(feed.x_axis, self._latest.size)
        self.plot.set_line(0, *decimate_trace(self._latest, self.n_points, x))
        self._line_due = False

    def _draw_waterfall(self) -> None:
        feed = self.feeds[0]
        hist = feed.history
        if not len(hist) or self.waterfall is None:
            return
        flat = hist.values.reshape(len(hist), -1)
        image, (fy, fx) = decimate_image(flat)
        y, known = feed.nav_axis.at(hist.indices[::fy])
        y = self._elapsed(y, self.waterfall.y_axis)
        self.waterfall.set_image(image[known], _coords(feed.x_axis, flat.shape[1], fx), y)
        self._waterfall_due = False
        self._waterfall_next = time.monotonic() + WATERFALL_INTERVAL


class ImagePanel(Panel):
    """An image: the latest frame, a static image, or a 2-D scan map that fills in.

    The automatic colour range leaves out detector sentinels and the pixels of
    the feed's NeXus ``pixel_mask`` (see :mod:`swmr_widgets.contrast`); set
    :attr:`color_range` to fix it. A frame smaller than the display limit is
    sent as it is (float32: exact for 16-bit data); a larger one is
    block-averaged, with its invalid pixels left out of the averages.
    """

    def __init__(self, feed: Feed) -> None:
        super().__init__([feed])
        meta = feed.meta
        self.plot = ImageFigure(
            feed.x_axis.title or "x", feed.y_axis.title or "y", meta.value_title, _title(meta)
        )
        self._plots = [self.plot]
        self.figures = [self.plot.figure]
        self.widget.children = self.plot.widgets
        self._image: np.ndarray | None = None
        self._index: tuple[int, ...] = ()

    def _take(self, i: int, update: Update) -> None:
        assert isinstance(update, Latest | ScanMap)
        self._image = update.values
        self._index = update.index if isinstance(update, Latest) else ()

    def _due(self) -> bool:
        # while the browser paints the last frame, newer ones are only kept: the
        # newest is decimated and sent at the first tick after it is painted
        return not self.plot.gate.busy

    def _draw(self) -> None:
        if self._image is None:
            return
        feed, image = self.feeds[0], np.asarray(self._image)
        frame = image.reshape(image.shape[-2:])
        mask = getattr(feed, "pixel_mask", None)
        if feed.kind == "map":  # float64 values of an integer detector: find its sentinels
            mask = stored_sentinels(frame, feed.dataset.dtype)
        if mask is not None and mask.shape != frame.shape:
            mask = None
        small, (fy, fx) = reduce_frame(frame, mask)
        y = _coords(feed.y_axis, image.shape[-2], fy)[: small.shape[0]]
        x = _coords(feed.x_axis, image.shape[-1], fx)[: small.shape[1]]
        tag = ",".join(str(int(i)) for i in self._index)
        source, source_mask = range_sample(frame, mask)
        self.plot.set_image(small, x, y, mask=source_mask, source=source, tag=tag)


class SlicePanel(Panel):
    """A 2-D slice of an N-D dataset, chosen with one slider per other dimension.

    Moving a slider sets the feed's index and asks for a tick; the engine reads
    the slice there, so its errors reach the status line like any other.
    """

    def __init__(self, feed: SliceFeed, request_tick: Callable[[], None]) -> None:
        super().__init__([feed])
        meta, shape = feed.meta, feed.shape
        self.plot = ImageFigure(
            f"dim {len(shape) - 1}", f"dim {len(shape) - 2}", meta.value_title, _title(meta)
        )
        self._plots = [self.plot]
        self.figures = [self.plot.figure]
        self.sliders = [
            widgets.IntSlider(
                value=feed.index[d],
                min=0,
                max=max(n - 1, 0),
                description=f"dim {d}",
                continuous_update=False,
            )
            for d, n in enumerate(shape[:-2])
        ]
        self._request_tick = request_tick
        self._syncing = False
        for slider in self.sliders:
            slider.observe(self._on_slider, names="value")
        self.widget.children = [*self.sliders, *self.plot.widgets]
        self._slice: Slice | None = None

    def _on_slider(self, _change: dict) -> None:
        if self._syncing:
            return
        self.feeds[0].index = tuple(s.value for s in self.sliders)
        self._request_tick()

    def _take(self, i: int, update: Update) -> None:
        assert isinstance(update, Slice)
        self._slice = update

    def _draw(self) -> None:
        update = self._slice
        if update is None:
            return
        self._syncing = True
        try:
            for d, slider in enumerate(self.sliders):
                with slider.hold_trait_notifications():
                    slider.max = max(update.shape[d] - 1, 0)
                    slider.value = update.index[d]
        finally:
            self._syncing = False
        values = np.asarray(update.values)
        if values.size == 0 or values.ndim != 2:
            small, (fy, fx) = np.empty((0, 0), dtype=np.float32), (1, 1)
        else:
            small, (fy, fx) = decimate_image(values)
        shape = update.shape
        self.plot.set_image(
            small,
            np.arange(0, shape[-1], fx, dtype=np.float64)[: small.shape[1]],
            np.arange(0, shape[-2], fy, dtype=np.float64)[: small.shape[0]],
            source=values if values.ndim == 2 and values.size else None,
        )


class ValuePanel(Panel):
    """The value of a scalar dataset, as text."""

    def __init__(self, feed: Feed) -> None:
        super().__init__([feed])
        self.html = widgets.HTML()
        self.widget.children = [self.html]
        self._value: Value | None = None

    def _take(self, i: int, update: Update) -> None:
        assert isinstance(update, Value)
        self._value = update

    def _draw(self) -> None:
        if self._value is None:
            return
        meta = self.feeds[0].meta
        text = (
            f"<b>{html.escape(meta.label or meta.name)}</b>: {html.escape(str(self._value.value))}"
        )
        if meta.units:
            text += f" {html.escape(meta.units)}"
        self.html.value = text


class DetailsPanel(Panel):
    """Shape, dtype, attributes and a preview of a dataset that cannot be plotted."""

    MAX_TEXT = 300

    def __init__(self, feed: Feed) -> None:
        super().__init__([feed])
        self.html = widgets.HTML()
        self.html.add_class("swmr-details")
        self.widget.children = [self.html]
        self._rows: tuple[tuple[str, str], ...] = ()

    def _take(self, i: int, update: Update) -> None:
        assert isinstance(update, Details)
        self._rows = update.rows

    def _draw(self) -> None:
        cells = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
            f"<td><code>{html.escape(_short(v, self.MAX_TEXT))}</code></td></tr>"
            for k, v in self._rows
        )
        self.html.value = f"<table>{cells}</table>"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def make_panels(feeds: Sequence[Feed], request_tick: Callable[[], None]) -> list[Panel]:
    """Build the panels that draw `feeds`, overlaying 0-D channels in one figure.

    Parameters
    ----------
    feeds : sequence of Feed
        The feeds of the datasets shown.
    request_tick : callable
        Called when a panel's control (a slider) needs the engine to read again.
    """
    channels: list[SeriesFeed] = []
    panels: list[Panel] = []
    for feed in feeds:
        kind = feed.kind
        if kind == "series" and feed.meta.nav_ndim == 1:
            channels.append(feed)
        elif kind == "series":
            panels.append(SeriesPanel([feed]))
        elif kind == "trace":
            panels.append(TracePanel(feed))
        elif kind in ("frame", "map"):
            panels.append(ImagePanel(feed))
        elif kind == "slice":
            panels.append(SlicePanel(feed, request_tick))
        elif kind == "value":
            panels.append(ValuePanel(feed))
        else:
            panels.append(DetailsPanel(feed))
    if channels:
        panels.insert(0, SeriesPanel(channels))
    return panels
