"""What keeps parts of a followed file from being read: damage and missing filters.

:class:`Problems` is built from the tree nodes of a file (see
:func:`~swmr_widgets.nodes.tree_nodes`, which marks damaged objects and
datasets whose compression filter is missing). It gives the warnings of the
status line, notices when a missing filter becomes available (``import
hdf5plugin`` in the kernel, or an install made meanwhile) so the tree can be
redrawn, and turns raw h5py errors into the documented ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import h5py

from swmr_widgets.errors import DamagedFileError, SwmrOpenError, damaged_error, is_damage
from swmr_widgets.filters import (
    KNOWN_FILTERS,
    Filter,
    MissingFilterError,
    explain_read_error,
    how_to_get,
    register_plugins,
)

__all__ = ["Problems", "read_error"]

#: Damaged objects named in the status line (the tree marks all of them).
NAMED = 3


class Problems:
    """The damaged objects and filter-blocked datasets of one file's tree.

    Parameters
    ----------
    nodes : sequence of dict
        The file's tree nodes (kept, and updated in place when a filter
        becomes available).
    """

    def __init__(self, nodes: Sequence[dict] = ()) -> None:
        self.damaged = {n["path"]: n.get("reason", "") for n in nodes if n.get("broken")}
        self._blocked = [n for n in nodes if n.get("filters")]

    @property
    def blocked(self) -> tuple[str, ...]:
        """Paths of the datasets that need a filter that is not available."""
        return tuple(n["path"] for n in self._blocked)

    def recheck(self) -> bool:
        """Whether a missing filter became available (the blocked nodes are then updated).

        Tries to import ``hdf5plugin`` again (at most every few seconds) while
        some dataset waits for a filter; costs a few µs otherwise.
        """
        if not self._blocked:
            return False
        register_plugins(retry=True)
        changed = False
        for node in list(self._blocked):
            ids = [i for i in node["filters"] if not _available(i)]
            if ids == node["filters"]:
                continue
            changed = True
            if ids:
                node["filters"] = ids
                continue
            del node["filters"]
            node["reason"] = ""
            self._blocked.remove(node)
        return changed

    def warnings(self) -> tuple[str, ...]:
        """Sentences for the status line: what cannot be read, and what to do."""
        out = []
        if self.damaged:
            named = "; ".join(
                f"{path} ({reason.removeprefix('damaged: ')})"
                for path, reason in list(self.damaged.items())[:NAMED]
            )
            more = f" and {len(self.damaged) - NAMED} more" if len(self.damaged) > NAMED else ""
            out.append(
                f"the file is damaged: {len(self.damaged)} object(s) cannot be read "
                f"(marked in the tree): {named}{more}"
            )
        if self._blocked:
            ids = sorted({i for n in self._blocked for i in n["filters"]})
            names = " and ".join(f"{KNOWN_FILTERS.get(i, 'filter')} (HDF5 filter {i})" for i in ids)
            how = how_to_get(tuple(Filter(i, KNOWN_FILTERS.get(i, ""), False) for i in ids))
            out.append(
                f"{len(self._blocked)} dataset(s) are compressed with {names}, not installed. "
                + how
            )
        return tuple(out)


def _available(filter_id: int) -> bool:
    try:
        return bool(h5py.h5z.filter_avail(filter_id))
    except Exception:
        return False


def read_error(exc: BaseException, filename: str, path: str, dataset: Any = None) -> BaseException:
    """The documented error for `exc`, raised reading `path` (a dataset) in `filename`.

    A missing compression filter gives :class:`MissingFilterError`; damaged
    metadata (h5py's raw ``RuntimeError``, ``KeyError``... ) gives
    :class:`DamagedFileError`; documented errors are returned as they are.
    """
    if dataset is not None:
        try:
            closed = not dataset.id.valid
        except Exception:
            closed = False
        if closed:  # the caller closed the file: not damage, say it as it is
            return exc
        exc = explain_read_error(exc, dataset)
    if isinstance(exc, MissingFilterError | SwmrOpenError | DamagedFileError):
        return exc
    if is_damage(exc):
        return damaged_error(filename, exc, path)
    return exc
