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
import traitlets
from bqplot_image_gl import ImageGL
from ipywidgets import Layout

from swmr_widgets.contrast import color_range
from swmr_widgets.decimate import exact_float
from swmr_widgets.paint import PaintGate

__all__ = ["FrameImage", "ImageFigure", "LineFigure"]

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


class FrameImage(ImageGL):
    """bqplot-image-gl's WebGL image mark, numbered for the paint acknowledgement.

    ``frame_id`` and ``frame_tag`` travel in the same message as the image;
    :class:`~swmr_widgets.paint.PaintAck` answers when that frame is painted.
    """

    frame_id = traitlets.Int(0).tag(sync=True)
    frame_tag = traitlets.Unicode("").tag(sync=True)


class ImageFigure:
    """An image (camera frame, waterfall of traces, 2-D scan map) with a colorbar.

    The values themselves go to the browser (float32, in binary), which maps
    them to colours on the GPU (bqplot-image-gl's ``ImageGL``): the colour map
    and the colour range stay live in the browser, and ``image.image`` holds
    the values drawn. A frame is sent only once the browser has painted the
    previous one (see :class:`~swmr_widgets.paint.PaintGate`); in between, the
    newest frame wins.

    The colour range comes from robust percentiles of the valid pixels
    (:func:`~swmr_widgets.contrast.color_range`: detector sentinels, NaN and
    masked pixels left out) unless :attr:`color_range` is set.

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
        self.image = FrameImage(
            image=np.zeros((2, 2), dtype=np.float32),
            x=(0.0, 1.0),
            y=(0.0, 1.0),
            scales={"x": self.x_scale, "y": self.y_scale, "image": self.color_scale},
        )
        self.gate = PaintGate(self.image)
        self.x_axis = bq.Axis(scale=self.x_scale, label=x_label)
        self.y_axis = bq.Axis(scale=self.y_scale, label=y_label, side="left")
        # bqplot draws a vertical colourbar 200 px shorter than the plot, a horizontal
        # one 200 px shorter than its width: below the x axis it stays readable.
        self.color_axis = bq.ColorAxis(
            scale=self.color_scale, label=color_label, side="bottom", tick_format=".4~g"
        )
        self.figure = _figure(
            [self.image],
            [self.x_axis, self.y_axis, self.color_axis],
            title,
            [self.x_scale, self.y_scale],
        )
        self.figure.fig_margin = {**_FIG_MARGIN, "bottom": 100}
        self.figure.layout.height = "380px"
        #: Widgets to show next to the figure (the invisible paint acknowledgement).
        self.widgets = [self.figure, self.gate.ack]
        self._color_range: tuple[float, float] | None = None
        self._auto_range: tuple[float, float] | None = None

    @property
    def color_range(self) -> tuple[float, float] | None:
        """Fixed ``(low, high)`` of the colour scale, or ``None`` for the automatic range.

        A fixed range stays until set back to ``None``, through every new frame.
        """
        return self._color_range

    @color_range.setter
    def color_range(self, value: tuple[float, float] | None) -> None:
        if value is not None:
            lo, hi = (float(v) for v in value)
            if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
                raise ValueError(f"a colour range needs finite low < high, got {value!r}")
            value = (lo, hi)
        self._color_range = value
        self._apply_range(value or self._auto_range)

    def set_image(
        self,
        image: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        *,
        mask: np.ndarray | None = None,
        source: np.ndarray | None = None,
        tag: str = "",
    ) -> bool:
        """Show `image` (rows along `y`, columns along `x`), already decimated.

        Pixels are drawn evenly between the first and last coordinates (the
        mark is a regular grid). Any 2-D shape is accepted; an empty image is
        drawn blank.

        Parameters
        ----------
        image : numpy.ndarray
            The 2-D image to draw, as :func:`~swmr_widgets.decimate.decimate_image`
            gives it (float32 where exact, else float64); other dtypes are
            converted by :func:`~swmr_widgets.decimate.exact_float`.
        x, y : numpy.ndarray
            Coordinates of its columns and rows.
        mask : numpy.ndarray, optional
            Pixels left out of the automatic colour range (non-zero: masked), of
            the shape of `source`.
        source : numpy.ndarray, optional
            The undecimated image, in its stored dtype, from which the automatic
            colour range is taken (default: `image`).
        tag : str
            What the frame is (e.g. its index), sent along for benchmarks.

        Returns
        -------
        bool
            Whether the image was sent now; if not, it waits until the browser
            has painted the previous one (see :meth:`poll`).
        """
        image = np.asarray(image)
        if image.ndim != 2 or image.size == 0:
            image, x, y = np.full((2, 2), np.nan, dtype=np.float32), np.arange(2.0), np.arange(2.0)
        xs = _extent(x, image.shape[1])
        ys = _extent(y, image.shape[0])
        # decimate_image has chosen float32 or float64 already: do not check again
        chosen = image.dtype in (np.float32, np.float64)
        values = _fresh(image if chosen else exact_float(image))
        source = values if source is None else source

        def apply() -> None:  # run when sent: a frame dropped costs no colour range
            auto = color_range(source, mask)
            self.image.image = values
            self.image.x, self.image.y = xs, ys
            if auto is not None and not _close(auto, self._auto_range):
                self._auto_range = auto
            self._apply_range(self._color_range or self._auto_range)

        return self.gate.offer(apply, tag)

    def poll(self) -> None:
        """Send a frame kept back whose predecessor was never acknowledged in time."""
        self.gate.poll()

    @property
    def painted_rate(self) -> float | None:
        """Frames per second the browser reports as painted (None before any)."""
        return self.gate.painted_rate()

    def reset_zoom(self) -> None:
        """Return the x and y scales to autoscaling."""
        _autoscale(self.x_scale, self.y_scale)

    def close(self) -> None:
        """Close the figure's widgets."""
        self.gate.close()
        self.figure.close()

    def _apply_range(self, rng: tuple[float, float] | None) -> None:
        if rng is None or (self.color_scale.min, self.color_scale.max) == rng:
            return
        with self.color_scale.hold_sync():
            self.color_scale.min, self.color_scale.max = rng


#: An automatic colour range moves only when an end moves by more than this part of it.
RANGE_HYSTERESIS = 0.02


def _close(new: tuple[float, float], old: tuple[float, float] | None) -> bool:
    """Whether `new` is within :data:`RANGE_HYSTERESIS` of `old` at both ends.

    A range that follows every frame's percentiles makes the colour bar
    flicker and costs the browser a redraw of the bar and a new texture.
    """
    if old is None:
        return False
    span = old[1] - old[0]
    return abs(new[0] - old[0]) <= RANGE_HYSTERESIS * span and (
        abs(new[1] - old[1]) <= RANGE_HYSTERESIS * span
    )


def _extent(coords: np.ndarray, n: int) -> np.ndarray:
    """Outer edges ``(first, last)`` of `n` pixels centred on `coords` (finite ones)."""
    c = np.asarray(coords, dtype=np.float64).reshape(-1)[:n]
    finite = np.isfinite(c)
    if n < 1 or finite.sum() < 1:
        return np.array([-0.5, n - 0.5])
    idx = np.flatnonzero(finite)
    i0, i1 = idx[0], idx[-1]
    step = (c[i1] - c[i0]) / (i1 - i0) if i1 > i0 else 1.0
    step = step or 1.0
    first = c[i0] - step * (i0 + 0.5)
    last = c[i1] + step * (n - 1 - i1 + 0.5)
    return np.array([first, last], dtype=np.float64)


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
