"""bqplot figures for each kind of data: trends, traces, waterfalls and images.

The figures only draw what they are given: callers decimate first (see
:mod:`swmr_widgets.decimate`). Updates of a mark are batched into one message
with ``hold_sync``. Zoom and pan go through a :class:`bqplot.PanZoom`
interaction on the scales, so they survive data updates; :meth:`reset_zoom`
gives the scales back to autoscaling.
"""

from __future__ import annotations

from collections.abc import Sequence

import bqplot as bq
import numpy as np
from ipywidgets import Layout

from .decimate import exact_float

__all__ = ["ImageFigure", "LineFigure"]

#: Colors of successive lines of one figure (colorblind-friendly).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")

_FIG_MARGIN = {"top": 30, "bottom": 45, "left": 60, "right": 20}


def _figure(marks, axes, title: str, scales: Sequence[bq.Scale]) -> bq.Figure:
    fig = bq.Figure(
        marks=marks,
        axes=axes,
        title=title,
        fig_margin=dict(_FIG_MARGIN),
        animation_duration=0,
        layout=Layout(width="100%", height="320px", min_width="280px"),
    )
    fig.interaction = bq.PanZoom(scales={"x": [scales[0]], "y": [scales[1]]})
    return fig


class LineFigure:
    """One or more lines sharing x and y axes, e.g. overlaid 0-D trends or a trace.

    Parameters
    ----------
    labels : sequence of str
        Legend label of each line.
    x_label, y_label : str
        Axis titles.
    title : str
        Figure title.
    """

    def __init__(
        self, labels: Sequence[str], x_label: str = "", y_label: str = "", title: str = ""
    ) -> None:
        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LinearScale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.lines = [
            bq.Lines(
                x=np.zeros(0),
                y=np.zeros(0, dtype=np.float32),
                scales=scales,
                colors=[PALETTE[i % len(PALETTE)]],
                labels=[label],
                display_legend=len(labels) > 1,
                stroke_width=1.5,
            )
            for i, label in enumerate(labels)
        ]
        self.x_axis = bq.Axis(scale=self.x_scale, label=x_label, grid_lines="dashed")
        self.y_axis = bq.Axis(scale=self.y_scale, label=y_label, side="left", grid_lines="dashed")
        self.figure = _figure(
            self.lines, [self.x_axis, self.y_axis], title, [self.x_scale, self.y_scale]
        )
        if len(labels) > 1:
            self.figure.legend_location = "top-left"

    def set_line(self, i: int, x: np.ndarray, y: np.ndarray) -> None:
        """Replace the points of line `i` (x sent as float64, y as float32 only if exact)."""
        line = self.lines[i]
        with line.hold_sync():
            line.x = _fresh(x, np.float64)
            line.y = _fresh(exact_float(y))

    def reset_zoom(self) -> None:
        """Return both scales to autoscaling."""
        _autoscale(self.x_scale, self.y_scale)


class ImageFigure:
    """An image (camera frame, waterfall of traces, 2-D scan map) with a colorbar.

    Parameters
    ----------
    x_label, y_label, color_label : str
        Titles of the axes and of the colorbar.
    title : str
        Figure title.
    """

    def __init__(
        self, x_label: str = "", y_label: str = "", color_label: str = "", title: str = ""
    ) -> None:
        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LinearScale()
        # Start from a finite image and range: a colour scale first given NaN keeps an
        # invalid range in the browser, and every later image is drawn in one colour.
        self.color_scale = bq.ColorScale(scheme="viridis", min=0.0, max=1.0)
        self.heatmap = bq.HeatMap(
            x=np.arange(2, dtype=np.float64),
            y=np.arange(2, dtype=np.float64),
            color=np.zeros((2, 2), dtype=np.float32),
            scales={"x": self.x_scale, "y": self.y_scale, "color": self.color_scale},
        )
        self.x_axis = bq.Axis(scale=self.x_scale, label=x_label)
        self.y_axis = bq.Axis(scale=self.y_scale, label=y_label, side="left")
        # bqplot draws a vertical colourbar 200 px shorter than the plot, a horizontal
        # one 200 px shorter than its width: below the x axis it stays readable.
        self.color_axis = bq.ColorAxis(
            scale=self.color_scale, label=color_label, side="bottom", tick_format=".4~g"
        )
        self.figure = _figure(
            [self.heatmap],
            [self.x_axis, self.y_axis, self.color_axis],
            title,
            [self.x_scale, self.y_scale],
        )
        self.figure.fig_margin = {**_FIG_MARGIN, "bottom": 100}
        self.figure.layout.height = "380px"

    def set_image(self, image: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        """Show `image` (rows along `y`, columns along `x`), already decimated.

        Any 2-D shape is accepted: bqplot's HeatMap squeezes its colour array and
        refuses what is not 2-D afterwards, so a dimension of length 1 is drawn as
        a band two cells wide around its coordinate, and an empty image as blank.
        """
        image = np.asarray(image)
        x = np.asarray(x, dtype=np.float64).reshape(-1)[: image.shape[1]]
        y = np.asarray(y, dtype=np.float64).reshape(-1)[: image.shape[0]]
        if image.size == 0:
            image, x, y = np.full((2, 2), np.nan, dtype=np.float32), np.arange(2.0), np.arange(2.0)
        if image.shape[0] == 1:
            image, y = np.repeat(image, 2, axis=0), y[0] + np.array([-0.5, 0.5])
        if image.shape[1] == 1:
            image, x = np.repeat(image, 2, axis=1), x[0] + np.array([-0.5, 0.5])
        image = _fresh(exact_float(image))
        finite = image[np.isfinite(image)]
        with self.heatmap.hold_sync():
            self.heatmap.x = _fresh(x, np.float64)
            self.heatmap.y = _fresh(y, np.float64)
            self.heatmap.color = image
        if finite.size:  # an all-NaN image would give the color scale a NaN range
            lo, hi = float(finite.min()), float(finite.max())
            with self.color_scale.hold_sync():
                self.color_scale.min, self.color_scale.max = lo, hi if hi > lo else lo + 1.0

    def reset_zoom(self) -> None:
        """Return the x and y scales to autoscaling."""
        _autoscale(self.x_scale, self.y_scale)


def _fresh(values: np.ndarray, dtype: type[np.floating] | None = None) -> np.ndarray:
    """A private copy of `values`, as `dtype` when one is given.

    Callers often pass views of buffers that are later overwritten in place (a
    follower's history); a trait still holding such a view would compare equal
    to the next data and the update would never be sent.
    """
    return np.array(values, dtype=dtype, copy=True)


def _autoscale(*scales: bq.Scale) -> None:
    for scale in scales:
        with scale.hold_sync():
            scale.min = None
            scale.max = None
