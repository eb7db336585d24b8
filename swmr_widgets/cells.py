"""Notebook cells and views: a re-run cell stops the view its previous run left polling."""

from __future__ import annotations

import weakref
from typing import Protocol

__all__ = ["cell_id", "claim_cell"]


class _Stoppable(Protocol):
    def stop(self) -> None: ...


_BY_CELL: dict[str, weakref.ref] = {}


def cell_id() -> str | None:
    """Id of the notebook cell being run, when running in a Jupyter kernel."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    header = getattr(shell, "parent_header", None) or {}
    cell = header.get("metadata", {}).get("cellId")
    return str(cell) if cell else None


def claim_cell(view: _Stoppable) -> None:
    """Make `view` the one of the running cell, stopping the one an earlier run left."""
    cell = cell_id()
    if cell is None:
        return
    old = _BY_CELL.get(cell)
    previous = old() if old is not None else None
    if previous is not None and previous is not view:
        previous.stop()
    _BY_CELL[cell] = weakref.ref(view)
