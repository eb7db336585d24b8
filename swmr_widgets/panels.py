"""What the view shows for each kind of dataset, and how it follows new data.

A panel owns the followers of its datasets and the figures that draw them.
:meth:`Panel.update` reads only what is new (see :mod:`swmr_widgets.follow`),
decimates it (see :mod:`swmr_widgets.decimate`) and updates the marks. The
view refreshes the datasets before calling it.

==============================================  =====================================
dataset                                         panel
==============================================  =====================================
0-D values per point (trend, 0-D scan)          :class:`SeriesPanel`, overlaid
static 1-D array                                :class:`SeriesPanel` against its axis
1-D trace per point (spectra)                   :class:`TracePanel`: latest + waterfall
2-D image per point, static image, 2-D scan     :class:`ImagePanel`
anything with more dimensions                   :class:`SlicePanel`: index sliders
scalar                                          :class:`ValuePanel`
strings, compound, opaque, ...                  :class:`DetailsPanel`
==============================================  =====================================
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence

import bqplot as bq
import h5py
import ipywidgets as widgets
import numpy as np

from swmr_widgets.attrs import read_attrs
from swmr_widgets.decimate import (
    DEFAULT_TRACE_POINTS,
    MinMaxSummary,
    decimate_image,
    decimate_trace,
    to_float,
)
from swmr_widgets.follow import DatasetFollower
from swmr_widgets.metadata import Axis, DatasetMeta
from swmr_widgets.plots import ImageFigure, LineFigure
from swmr_widgets.swmr import is_swmr_read

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

#: Rows read at most per poll while catching up with a long growing dataset.
CATCH_UP_ROWS = 1_000_000
#: Traces kept for the waterfall of a 1-D panel.
WATERFALL_ROWS = 256
#: Seconds between two redraws of a waterfall (the latest trace follows every tick).
WATERFALL_INTERVAL = 1.0


class Panel:
    """Base class: a widget showing some datasets, updated from their followers."""

    def __init__(self, metas: Sequence[DatasetMeta], datasets: Sequence[h5py.Dataset]) -> None:
        self.metas = list(metas)
        self.datasets = {m.path: ds for m, ds in zip(metas, datasets, strict=True)}
        self.figures: list[bq.Figure] = []
        self._plots: list[LineFigure | ImageFigure] = []  # what reset_zoom resets
        self.widget = widgets.VBox(layout=widgets.Layout(width="100%"))
        self.widget.add_class("swmr-panel")

    @property
    def paths(self) -> tuple[str, ...]:
        """Absolute paths of the datasets shown."""
        return tuple(self.datasets)

    def update(self) -> int:
        """Read what is new and redraw; return the number of new rows."""
        raise NotImplementedError

    @property
    def progress(self) -> tuple[int, int] | None:
        """``(filled, total)`` of a pre-allocated scan array shown, else ``None``."""
        return None

    @property
    def catching_up(self) -> bool:
        """Whether rows are still waiting to be read (a long dataset being loaded)."""
        return False

    def reset_zoom(self) -> None:
        """Give every figure back its automatic ranges."""
        for plot in self._plots:
            plot.reset_zoom()


def _title(meta: DatasetMeta) -> str:
    return meta.label if meta.label and meta.label != meta.name else meta.path


def _coords(axis: Axis | None, idx: np.ndarray) -> np.ndarray:
    """Coordinates of positions `idx` along `axis` (or the positions themselves)."""
    idx = np.asarray(idx)
    if axis is None:
        return idx.astype(np.float64)
    if axis.values is not None and len(idx) and idx.max() < len(axis.values):
        return np.asarray(axis.values, dtype=np.float64)[idx.astype(np.int64)]
    return axis.offset + axis.scaling * idx.astype(np.float64)


def _axis_title(axis: Axis | None, default: str) -> str:
    return axis.title if axis is not None and axis.title else default


class SeriesPanel(Panel):
    """Values against their index, scan position or axis; several series overlaid.

    Growing datasets are summarised incrementally (:class:`MinMaxSummary`), so
    the whole acquisition is shown with its extremes at a cost per poll that
    depends only on the new rows. Pre-allocated scan arrays and static arrays
    are drawn where they are filled; unfilled (NaN) points are not drawn.
    """

    def __init__(
        self,
        metas: Sequence[DatasetMeta],
        datasets: Sequence[h5py.Dataset],
        n_points: int = DEFAULT_TRACE_POINTS,
    ) -> None:
        super().__init__(metas, datasets)
        self.n_points = n_points
        first = metas[0]
        self._axis = _series_axis(first)
        units = {m.units for m in metas}
        y_label = first.value_title if len(metas) == 1 else (units.pop() if len(units) == 1 else "")
        self.plot = LineFigure(
            [m.label or m.name for m in metas],
            x_label=_axis_title(self._axis, "index"),
            y_label=y_label,
            title=_title(first) if len(metas) == 1 else "",
        )
        self._plots = [self.plot]
        self.figures = [self.plot.figure]
        self.widget.children = [self.plot.figure]
        self.followers = [
            DatasetFollower(ds, refresh=False, max_rows=CATCH_UP_ROWS, history=_series_history(ds))
            for ds in datasets
        ]
        self.summaries = [
            MinMaxSummary(n_points // 2) if f.mode == "append" else None for f in self.followers
        ]
        self._axis_ds = _growing_axis(self._axis, datasets[0])

    def update(self) -> int:
        new = 0
        for i, (follower, summary) in enumerate(zip(self.followers, self.summaries, strict=True)):
            update = follower.poll()
            if update.reset and summary is not None:
                summary.clear()
            if not len(update) and not update.reset and self._drawn(i):
                continue
            new += len(update)
            if summary is not None:
                summary.extend(update.rows.reshape(len(update)), start=update.start)
                idx, y = summary.points()
            else:
                hist = follower.history
                y_all = to_float(hist.values.reshape(len(hist)), np.float64)
                keep = ~np.isnan(y_all)
                idx, y = decimate_trace(y_all[keep], self.n_points, hist.indices[keep])
            self.plot.set_line(i, *self._xy(idx, y))
        return new

    def _xy(self, idx: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._axis_ds is None:
            return _coords(self._axis, idx), y
        # a growing axis (time stamps): read it at the drawn points only
        if is_swmr_read(self._axis_ds):
            self._axis_ds.refresh()
        known = idx < self._axis_ds.shape[0]
        idx, y = idx[known], y[known]
        x = self._axis_ds[idx.astype(np.int64)] if len(idx) else np.empty(0)
        return np.asarray(x, dtype=np.float64).reshape(-1), y

    def _drawn(self, i: int) -> bool:
        return self.plot.lines[i].x is not None and len(self.plot.lines[i].x) > 0

    @property
    def progress(self) -> tuple[int, int] | None:
        for follower in self.followers:
            filled, total = follower.progress
            if total is not None and self.metas[0].prefilled:
                return filled, total
        return None

    @property
    def catching_up(self) -> bool:
        return any(f.pending for f in self.followers)


def _series_axis(meta: DatasetMeta) -> Axis | None:
    if meta.nav_ndim >= 1 and meta.nav_axes:
        return meta.nav_axes[0]
    if meta.nav_ndim == 0 and meta.axes:
        return meta.axes[0]
    return None


def _growing_axis(axis: Axis | None, ds: h5py.Dataset) -> h5py.Dataset | None:
    """The axis dataset to read coordinates from, when its values were not loaded."""
    if axis is None or axis.values is not None or not axis.path:
        return None
    try:
        axis_ds = ds.file[axis.path]
    except KeyError:
        return None
    return axis_ds if isinstance(axis_ds, h5py.Dataset) and axis_ds.ndim >= 1 else None


def _series_history(ds: h5py.Dataset) -> int:
    # growing series live in a MinMaxSummary; keep the last row only
    return 1 if ds.maxshape[0] is None else max(int(ds.shape[0]), 1)


class TracePanel(Panel):
    """The latest 1-D trace against its axis, and a waterfall of recent traces."""

    def __init__(
        self,
        meta: DatasetMeta,
        dataset: h5py.Dataset,
        n_points: int = DEFAULT_TRACE_POINTS,
        waterfall: bool = True,
    ) -> None:
        super().__init__([meta], [dataset])
        self.n_points = n_points
        self._axis = meta.axes[-1] if meta.axes else None
        nav_axis = meta.nav_axes[0] if meta.nav_axes else None
        x_label = _axis_title(self._axis, "index")
        self.plot = LineFigure([meta.label or meta.name], x_label, meta.value_title, _title(meta))
        self._plots = [self.plot]
        self.figures = [self.plot.figure]
        if waterfall:
            self.waterfall = ImageFigure(
                x_label, _axis_title(nav_axis, "index"), meta.value_title, "history"
            )
            self._plots.append(self.waterfall)
            self.figures.append(self.waterfall.figure)
        else:
            self.waterfall = None
        self.widget.children = self.figures
        self.follower = DatasetFollower(
            dataset, refresh=False, start=None, history=WATERFALL_ROWS, mode=_mode(meta)
        )
        self._nav_axis = nav_axis
        self._stale = False
        self._waterfall_due = False
        self._waterfall_next = 0.0

    def update(self) -> int:
        update = self.follower.poll()
        if len(update) or self._stale:
            self._stale = True  # until drawn: a failed draw is retried at the next update
            if not len(self.follower.history):
                return len(update)
            latest = self.follower.history.values[-1].reshape(-1)
            x = _coords(self._axis, np.arange(latest.size))
            self.plot.set_line(0, *decimate_trace(latest, self.n_points, x))
            self._waterfall_due = self.waterfall is not None
            self._stale = False
        if self._waterfall_due and time.monotonic() >= self._waterfall_next:
            self._draw_waterfall()
        return len(update)

    def _draw_waterfall(self) -> None:
        """Redraw the history image (at most every WATERFALL_INTERVAL seconds)."""
        rows = self.follower.history.values
        flat = rows.reshape(len(rows), -1)
        image, (fy, fx) = decimate_image(flat)
        self.waterfall.set_image(
            image,
            _coords(self._axis, np.arange(0, flat.shape[1], fx)),
            _coords(self._nav_axis, self.follower.history.indices[::fy]),
        )
        self._waterfall_due = False
        self._waterfall_next = time.monotonic() + WATERFALL_INTERVAL

    @property
    def progress(self) -> tuple[int, int] | None:
        filled, total = self.follower.progress
        return (filled, total) if total is not None and self.metas[0].prefilled else None


def _mode(meta: DatasetMeta) -> str:
    return "append" if meta.growing else "fill"


class ImagePanel(Panel):
    """An image: the latest frame of a growing stack, a static image, or a 2-D scan map."""

    def __init__(self, meta: DatasetMeta, dataset: h5py.Dataset) -> None:
        super().__init__([meta], [dataset])
        # image axes: the signal's two axes, or the two scan axes of a 2-D map
        axes = meta.axes[-2:] if meta.signal_ndim == 2 else meta.nav_axes[:2]
        self._y_axis, self._x_axis = (*axes, None, None)[:2]
        self.plot = ImageFigure(
            _axis_title(self._x_axis, "x"),
            _axis_title(self._y_axis, "y"),
            meta.value_title,
            _title(meta),
        )
        self._plots = [self.plot]
        self.figures = [self.plot.figure]
        self.widget.children = self.figures
        self._map = meta.signal_ndim == 0  # 2-D scan of single values: fill the map in place
        self._static = meta.nav_ndim == 0 and not meta.growing
        self._shown_shape: tuple[int, ...] | None = None
        self._stale = False  # a draw failed: redraw at the next update
        self.follower = (
            None
            if self._static
            else DatasetFollower(
                dataset,
                refresh=False,
                start=0 if self._map else None,
                history=max(int(dataset.shape[0]), 1) if self._map else 1,
                mode=_mode(meta),
            )
        )

    def update(self) -> int:
        ds = self.datasets[self.metas[0].path]
        if self.follower is None:
            if ds.shape == self._shown_shape:
                return 0
            self._draw(ds[()])
            self._shown_shape = ds.shape  # only once drawn: a failed draw is retried
            return 1
        update = self.follower.poll()
        if not len(update) and not update.reset and not self._stale:
            return 0
        self._stale = True
        if not len(self.follower.history) and not self._map:
            return len(update)
        if self._map:
            image = np.full(ds.shape, np.nan, dtype=np.float32)
            hist = self.follower.history
            image[hist.indices] = to_float(hist.values)
        else:
            image = self.follower.history.values[-1]
        self._draw(image)
        self._stale = False
        return len(update)

    def _draw(self, image: np.ndarray) -> None:
        image = np.asarray(image)
        small, (fy, fx) = decimate_image(image.reshape(image.shape[-2:]))
        y = _coords(self._y_axis, np.arange(0, image.shape[-2], fy))[: small.shape[0]]
        x = _coords(self._x_axis, np.arange(0, image.shape[-1], fx))[: small.shape[1]]
        self.plot.set_image(small, x, y)

    @property
    def progress(self) -> tuple[int, int] | None:
        if self.follower is None or not self.metas[0].prefilled:
            return None
        filled, total = self.follower.progress
        return filled, total or 0


class SlicePanel(Panel):
    """A 2-D slice of an N-D dataset, chosen with one slider per other dimension.

    The slider of a growing axis follows the newest index while it sits at the end.
    """

    def __init__(self, meta: DatasetMeta, dataset: h5py.Dataset) -> None:
        super().__init__([meta], [dataset])
        shape = dataset.shape
        self.plot = ImageFigure(
            f"dim {len(shape) - 1}", f"dim {len(shape) - 2}", meta.value_title, _title(meta)
        )
        self._plots = [self.plot]
        self.figures = [self.plot.figure]
        self.sliders = [
            widgets.IntSlider(
                value=max(n - 1, 0) if d == 0 and meta.growing else 0,
                min=0,
                max=max(n - 1, 0),
                description=f"dim {d}",
                continuous_update=False,
            )
            for d, n in enumerate(shape[:-2])
        ]
        for slider in self.sliders:
            slider.observe(lambda _change: self._redraw(), names="value")
        self.widget.children = [*self.sliders, self.plot.figure]
        self._key: tuple | None = None

    def update(self) -> int:
        ds = self.datasets[self.metas[0].path]
        shape = ds.shape
        grown = 0
        for d, slider in enumerate(self.sliders):
            at_end = slider.value == slider.max
            new_max = max(shape[d] - 1, 0)
            if new_max != slider.max:
                grown = max(grown, new_max - slider.max)
                slider.max = new_max
                if at_end and d == 0:
                    slider.value = new_max
        key = (shape, tuple(s.value for s in self.sliders))
        if key != self._key:
            self._redraw()
        return grown

    def _redraw(self) -> None:
        ds = self.datasets[self.metas[0].path]
        index = tuple(s.value for s in self.sliders)
        shape = ds.shape
        if 0 in shape:
            small, (fy, fx) = np.empty((0, 0), dtype=np.float32), (1, 1)
        else:
            small, (fy, fx) = decimate_image(ds[index])
        self.plot.set_image(
            small,
            np.arange(0, shape[-1], fx, dtype=np.float64)[: small.shape[1]],
            np.arange(0, shape[-2], fy, dtype=np.float64)[: small.shape[0]],
        )
        self._key = (shape, index)  # only once drawn: a failed draw is retried


class ValuePanel(Panel):
    """The value of a scalar dataset, as text."""

    def __init__(self, meta: DatasetMeta, dataset: h5py.Dataset) -> None:
        super().__init__([meta], [dataset])
        self.html = widgets.HTML()
        self.widget.children = [self.html]
        self._shown: str | None = None

    def update(self) -> int:
        meta = self.metas[0]
        value = self.datasets[meta.path][()]
        text = f"<b>{html.escape(meta.label or meta.name)}</b>: {html.escape(str(value))}"
        if meta.units:
            text += f" {html.escape(meta.units)}"
        if text == self._shown:
            return 0
        self._shown = self.html.value = text
        return 1


class DetailsPanel(Panel):
    """Shape, dtype, attributes and a preview of a dataset that cannot be plotted."""

    PREVIEW_ITEMS = 20
    MAX_TEXT = 300

    def __init__(self, meta: DatasetMeta, dataset: h5py.Dataset) -> None:
        super().__init__([meta], [dataset])
        self.html = widgets.HTML()
        self.html.add_class("swmr-details")
        self.widget.children = [self.html]
        self._shape: tuple[int, ...] | None = None
        self._shown = False  # (a null dataspace has shape None, too)

    def update(self) -> int:
        meta = self.metas[0]
        ds = self.datasets[meta.path]
        if self._shown and ds.shape == self._shape:
            return 0
        rows = [
            ("path", meta.path),
            ("shape", str(ds.shape)),
            ("dtype", meta.dtype),
            ("not plotted", meta.reason),
        ]
        rows += [(f"@{k}", v) for k, v in read_attrs(ds).items()]
        rows.append(("preview", _preview(ds, self.PREVIEW_ITEMS)))
        cells = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(str(k))}</th>"
            f"<td><code>{html.escape(_short(v, self.MAX_TEXT))}</code></td></tr>"
            for k, v in rows
            if v not in ("", None)
        )
        self.html.value = f"<table>{cells}</table>"
        self._shape, self._shown = ds.shape, True
        return 0


def _short(value: object, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _preview(ds: h5py.Dataset, n: int) -> str:
    try:
        if ds.shape == ():
            return repr(ds[()])
        if ds.size == 0:
            return "(empty)"
        return repr(ds[: min(n, ds.shape[0])].tolist() if ds.ndim else ds[()])
    except (OSError, TypeError, ValueError) as exc:  # unreadable types (opaque, references, ...)
        return f"cannot be read: {exc}"


def make_panels(metas: Sequence[DatasetMeta], datasets: Sequence[h5py.Dataset]) -> list[Panel]:
    """Build the panels that show `datasets`, overlaying 0-D series in one figure."""
    series: list[tuple[DatasetMeta, h5py.Dataset]] = []
    panels: list[Panel] = []
    for meta, ds in zip(metas, datasets, strict=True):
        if not meta.plottable:
            panels.append(DetailsPanel(meta, ds))
        elif ds.ndim == 0:
            panels.append(ValuePanel(meta, ds))
        elif meta.signal_ndim == 0 and meta.nav_ndim == 1:
            series.append((meta, ds))
        elif meta.signal_ndim == 1 and meta.nav_ndim == 0:
            panels.append(SeriesPanel([meta], [ds]))
        elif meta.signal_ndim == 1 and meta.nav_ndim == 1:
            panels.append(TracePanel(meta, ds))
        elif (meta.signal_ndim == 2 and meta.nav_ndim <= 1) or (
            meta.signal_ndim == 0 and meta.nav_ndim == 2
        ):
            panels.append(ImagePanel(meta, ds))
        else:
            panels.append(SlicePanel(meta, ds))
    if series:
        panels.insert(0, SeriesPanel([m for m, _ in series], [d for _, d in series]))
    return panels
