"""The file picker of a view that follows a folder: "newest" or one of its files, newest first.

A thin renderer of :class:`~swmr_widgets.live.LiveFolder`: picking a file
shows it and stops following the newest scan; picking "newest" follows the
newest again. The options are refreshed from the folder's listing at each tick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from swmr_widgets.live import LiveFolder

if TYPE_CHECKING:
    from swmr_widgets.view import SwmrView

__all__ = ["NEWEST", "FilePicker"]

#: The option value meaning "follow the newest file".
NEWEST = "\x00newest"


class FilePicker:
    """A dropdown listing a folder's HDF5 files, newest first, after a "newest" entry."""

    def __init__(self, view: SwmrView, folder: LiveFolder) -> None:
        self.view = view
        self.folder = folder
        self._syncing = False
        self.widget = widgets.Dropdown(
            description="scan", layout=widgets.Layout(width="auto", min_width="260px")
        )
        self.widget.add_class("swmr-file-picker")
        self.sync()
        self.widget.observe(self._on_pick, names="value")

    @property
    def options(self) -> list[tuple[str, str]]:
        """``(label, value)`` of each entry: "newest" first, then the files newest first."""
        files = self.folder.files
        newest = f"newest ({files[0].name})" if files else "newest (none yet)"
        return [(newest, NEWEST)] + [(f.name, str(f)) for f in files]

    def sync(self) -> None:
        """Show the folder's current listing and choice."""
        options = self.options
        value = NEWEST if self.folder.following_newest else str(self.folder.current)
        if tuple(options) == tuple(self.widget.options) and self.widget.value == value:
            return
        self._syncing = True
        try:
            if tuple(options) != tuple(self.widget.options):
                self.widget.options = options
            self.widget.value = value if value in {v for _, v in options} else NEWEST
        finally:
            self._syncing = False

    def _on_pick(self, change: dict[str, Any]) -> None:
        if self._syncing or change["new"] is None:
            return
        if change["new"] == NEWEST:
            self.folder.follow_newest()
        else:
            self.folder.show(change["new"])
        self.view._request_tick()

    def close(self) -> None:
        """Close the dropdown."""
        self.widget.close()
