"""The view's toolbar: live/pause, interval, refresh now, reset zoom, save PNG."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

if TYPE_CHECKING:
    from swmr_widgets.view import SwmrView

__all__ = ["build_toolbar"]


def build_toolbar(view: SwmrView) -> widgets.HBox:
    """The toolbar of `view`, its controls linked to the view's traits and methods."""
    small = widgets.Layout(width="auto")
    play = widgets.ToggleButton(
        value=False, description="Live", icon="play", tooltip="Start or pause live refresh"
    )
    play.add_class("swmr-play")

    def on_play(change: dict[str, Any]) -> None:
        if change["new"] and not view.running:
            view.start()
        elif not change["new"] and view.running:
            view.stop()

    def on_running(change: dict[str, Any]) -> None:
        play.value = change["new"]
        play.icon = "pause" if change["new"] else "play"
        play.description = "Pause" if change["new"] else "Live"

    play.observe(on_play, names="value")
    view.observe(on_running, names="running")
    interval = widgets.BoundedFloatText(
        min=0.02, max=3600, step=0.1, description="every (s)", layout=widgets.Layout(width="150px")
    )
    widgets.link((view, "interval"), (interval, "value"))
    buttons = []
    for label, icon, css, action in (
        ("Refresh now", "refresh", "swmr-refresh", view.refresh),
        ("Reset zoom", "expand", "swmr-reset-zoom", view.reset_zoom),
        ("Save PNG", "camera", "swmr-save-png", view.save_png),
    ):
        button = widgets.Button(description=label, icon=icon, layout=small)
        button.add_class(css)
        button.on_click(lambda _b, action=action: action())
        buttons.append(button)
    return widgets.HBox([play, interval, *buttons])
