"""The view's toolbar: live/pause, interval, refresh now, reset zoom, save PNG, export data."""

from __future__ import annotations

import time
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
    return widgets.HBox([play, interval, *buttons, *export_controls(view)])


#: Formats offered by the toolbar's export menu.
EXPORT_CHOICES = (("CSV", ".csv"), ("NumPy .npz", ".npz"), ("NeXus .h5", ".h5"))


def export_controls(view: SwmrView) -> list[widgets.Widget]:
    """A format menu and an "Export data" button writing ``swmr_export_<time>.<ext>``.

    The file goes to the kernel's working directory; the status line says
    where (or why it failed).
    """
    menu = widgets.Dropdown(
        options=EXPORT_CHOICES, value=".csv", layout=widgets.Layout(width="120px")
    )
    menu.add_class("swmr-export-format")
    button = widgets.Button(
        description="Export data",
        icon="download",
        tooltip="Save the data shown, at full resolution, with its axes",
        layout=widgets.Layout(width="auto"),
    )
    button.add_class("swmr-export")

    def on_click(_button: widgets.Button) -> None:
        name = f"swmr_export_{time.strftime('%Y%m%d-%H%M%S')}{menu.value}"
        try:
            written = view.export(name)
        except Exception as exc:  # shown, never raised into the front end
            view._note = f"export failed: {exc}"
        else:
            view._note = "exported " + ", ".join(str(p) for p in written)
        view._show_status()

    button.on_click(on_click)
    return [menu, button]
