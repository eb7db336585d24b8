"""The view's derived trends: ``view.add_trend`` / ``view.add_roi`` and the panel that shows them.

The numbers are computed by the live engine (:mod:`swmr_widgets.live.trends`);
here they are drawn below the datasets shown, one line per trend with a
legend. Trends that share a scale share a figure: the ROIs of one dataset with
the same reduction; every other derived trend has a figure of its own (a peak
position and an ROI sum would flatten each other on one axis). A
:class:`TrendHandle` outlives the engine's feed: when the view switches to
another file (following the newest scan of a folder) the trend is set up again
on the new file, if its source dataset is there.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from swmr_widgets.decimate import DEFAULT_TRACE_POINTS, decimate_trace
from swmr_widgets.live import LiveFile, RoiFeed, TrendFeed, Update
from swmr_widgets.panels import Panel
from swmr_widgets.plots import LineFigure

if TYPE_CHECKING:
    from swmr_widgets.view import SwmrView

__all__ = ["TrendHandle", "TrendPanel", "Trends"]


class TrendPanel(Panel):
    """One line per derived trend, against the source's index or navigation axis."""

    def __init__(self, feeds: list[TrendFeed], n_points: int = DEFAULT_TRACE_POINTS) -> None:
        super().__init__(feeds)
        self.n_points = n_points
        self.plot = LineFigure(
            [f.name for f in feeds],
            x_label=feeds[0].index_title,
            y_label="" if len(feeds) > 1 else feeds[0].name,
            title=(
                f"{feeds[0].name} of {feeds[0].path}"
                if len(feeds) == 1
                else f"ROIs ({feeds[0].roi.reduce}) of {feeds[0].path}"  # a group is ROIs only
            ),
        )
        for line in self.plot.lines:
            line.display_legend = True
        self.plot.figure.legend_location = "top-left"
        self._plots = [self.plot]
        self.figures = [self.plot.figure]
        self.message = widgets.HTML()
        self.widget.children = [self.plot.figure, self.message]
        self.widget.add_class("swmr-trends")
        self._stale = [True] * len(feeds)

    def _take(self, i: int, update: Update) -> None:
        self._stale[i] = True

    def render(self, updates: Mapping[Any, Update]) -> None:
        super().render(updates)
        text = "; ".join(f.message for f in self.feeds if f.message)
        value = f"<span style='color:var(--jp-error-color1, #c62828)'>{html.escape(text)}</span>"
        if self.message.value != (value if text else ""):
            self.message.value = value if text else ""

    def _draw(self) -> None:
        for i, feed in enumerate(self.feeds):
            if not self._stale[i]:
                continue
            x, y = feed.trend()
            keep = np.isfinite(y) & np.isfinite(x)
            self.plot.set_line(i, *decimate_trace(y[keep], self.n_points, x[keep]))
            self._stale[i] = False


class TrendHandle:
    """A derived trend shown on a view: ``.remove()``, and ``.move(x=, y=)`` for an ROI.

    Attributes
    ----------
    name : str
        The trend's name (its legend).
    source : str
        Path of the dataset it is computed from.
    feed : TrendFeed or None
        The engine's feed (``None`` while the file shown has no such dataset).
    """

    def __init__(
        self, owner: Trends, name: str, source: str, make: Callable[[LiveFile], TrendFeed]
    ):
        self._owner = owner
        self.name = name
        self.source = source
        self._make = make
        self.feed: TrendFeed | None = None
        self._roi = None

    def attach(self, live: LiveFile) -> str:
        """Set the trend up on `live` (if not yet); return why not (``""`` when it is)."""
        if self.feed is not None and self.feed in live.feeds:
            return ""
        if isinstance(self.feed, RoiFeed):
            self._roi = self.feed.roi  # where it was last moved to
        self.feed = None
        if self.source not in live.paths:
            return f"trend {self.name!r} paused: {self.source} is not in this file"
        try:
            self.feed = self._make(live)
        except (KeyError, TypeError) as exc:
            return f"trend {self.name!r} paused: {exc}"
        if isinstance(self.feed, RoiFeed) and self._roi is not None:
            self.feed.roi = self._roi
        return ""

    def move(
        self, x: tuple[float, float] | None = None, y: tuple[float, float] | None = None
    ) -> None:
        """Move an ROI (the trend goes on with the new region)."""
        if not isinstance(self.feed, RoiFeed):
            raise TypeError(f"{self.name!r} is not an ROI trend")
        self.feed.move(x, y)
        self._owner.view._request_tick()

    def trend(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, values)`` computed so far (empty arrays while not set up)."""
        return self.feed.trend() if self.feed is not None else (np.empty(0), np.empty(0))

    @property
    def message(self) -> str:
        """The last error of the trend's function (``""`` when it works)."""
        return self.feed.message if self.feed is not None else ""

    def remove(self) -> None:
        """Stop the trend and take it off the view."""
        self._owner.remove(self)

    def __repr__(self) -> str:
        return f"<TrendHandle {self.name!r} of {self.source!r}>"


class Trends:
    """The derived trends of one view and their panels."""

    def __init__(self, view: SwmrView) -> None:
        self.view = view
        self.handles: list[TrendHandle] = []
        self.panels: list[TrendPanel] = []
        self.notes: list[str] = []

    def add(self, name: str, source: str, make: Callable[[LiveFile], TrendFeed]) -> TrendHandle:
        handle = TrendHandle(self, name, source, make)
        handle.feed = make(self.view.live)  # raises for a bad source: nothing added
        self.handles.append(handle)
        self._rebuild()
        return handle

    def remove(self, handle: TrendHandle) -> None:
        if handle in self.handles:
            self.handles.remove(handle)
            if handle.feed is not None:
                handle.feed.remove()
            handle.feed = None
            self._rebuild()

    def reattach(self) -> None:
        """Set every trend up again on the view's (new) engine."""
        self.notes = [n for n in (h.attach(self.view.live) for h in self.handles) if n]
        self._rebuild()

    @property
    def widgets(self) -> list[widgets.Widget]:
        return [panel.widget for panel in self.panels]

    def render(self, updates: Mapping[Any, Update]) -> None:
        for panel in self.panels:
            panel.render(updates)

    def _rebuild(self) -> None:
        for panel in self.panels:
            panel.close()
        groups: dict[tuple, list[TrendFeed]] = {}
        for feed in (h.feed for h in self.handles if h.feed is not None):
            key = ("roi", feed.path, feed.roi.reduce) if isinstance(feed, RoiFeed) else (id(feed),)
            groups.setdefault(key, []).append(feed)
        self.panels = [TrendPanel(feeds) for feeds in groups.values()]
        for panel in self.panels:  # draw what the trends kept so far
            panel._dirty = True
            panel.render({})
        self.view._layout_panels()

    def close(self) -> None:
        for handle in list(self.handles):
            self.remove(handle)
