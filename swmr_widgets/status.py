"""The view's status line and scan progress bar, drawn from the engine's health."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence

import ipywidgets as widgets

from swmr_widgets.live import Health

__all__ = ["StatusLine"]


class StatusLine:
    """A one-line status text and a progress bar shown while a scan is followed."""

    def __init__(self) -> None:
        self.html = widgets.HTML()
        self.html.add_class("swmr-status")
        self.progress = widgets.FloatProgress(
            min=0, max=1, description="scan", layout=widgets.Layout(display="none", width="60%")
        )

    @staticmethod
    def describe(
        health: Health, *, running: bool, errors: Sequence[str] = (), note: str = ""
    ) -> str:
        """The text :meth:`show` would draw, without drawing it."""
        errors = (*health.errors, *errors)
        note = " · ".join(n for n in (health.note, note) if n)
        return dataclasses.replace(health, errors=errors, note=note).describe(running)

    def show(
        self, health: Health, *, running: bool, errors: Sequence[str] = (), note: str = ""
    ) -> str:
        """Draw `health` (with the view's own `errors` and `note`); return the text."""
        text = self.describe(health, running=running, errors=errors, note=note)
        errors = (*health.errors, *errors)
        if health.progress:
            filled, total = health.progress
            self.progress.value = filled / total if total else 0.0
            self.progress.description = f"{filled}/{total}"
            self.progress.layout.display = None
        else:
            self.progress.layout.display = "none"
        color = "var(--jp-error-color1, #c62828)" if errors else "inherit"
        self.html.value = f"<span style='font-size:90%;color:{color}'>{html.escape(text)}</span>"
        return text

    def close(self) -> None:
        """Close both widgets."""
        self.html.close()
        self.progress.close()
