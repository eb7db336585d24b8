"""The dataset selector: one anywidget model for the whole tree.

Every node is a plain JSON dict in one synced list, not a widget, so a file with
thousands of datasets renders in a fraction of a second (ipytree, one widget per
node, needs seconds for 2,000 nodes). The frontend (``static/tree.js``) renders
only the children of expanded groups, and live shape changes travel as small
``{path: shape}`` messages that update the affected rows only.

Node dicts, as made by :func:`swmr_widgets.nodes.tree_nodes`::

    {"path": "/RawData", "name": "RawData", "parent": "/", "kind": "group"}
    {"path": "/RawData/x", "name": "x", "parent": "/RawData", "kind": "dataset",
     "shape": [120], "dtype": "float64", "plottable": True, "reason": "",
     "label": "photodiode", "units": "V"}
    {"path": "/RawData/l", "name": "l", "parent": "/RawData", "kind": "link",
     "reason": "soft link to /x (not followed)"}
    {"path": "/RawData/bad", "name": "bad", "parent": "/RawData", "kind": "damaged",
     "broken": True, "reason": "damaged: incorrect metadata checksum after all read attempts"}

A node whose path is ``"/"`` is the invisible root; nodes whose parent is ``"/"``,
or is not among the nodes, are shown at the top level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["AUTO_EXPAND_ALL", "DatasetTree", "default_expanded"]

_STATIC = Path(__file__).parent / "static"

#: Trees with at most this many nodes start with every group expanded.
AUTO_EXPAND_ALL = 200


def default_expanded(nodes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Groups to expand when a tree is first shown.

    Parameters
    ----------
    nodes : sequence of dict
        Depth-first node dicts.

    Returns
    -------
    list of str
        Every group path when there are at most :data:`AUTO_EXPAND_ALL` nodes;
        otherwise the groups on the way down to the first dataset (depth-first),
        so that it and its siblings are visible.
    """
    groups = [n["path"] for n in nodes if n.get("kind") == "group"]
    if len(nodes) <= AUTO_EXPAND_ALL:
        return groups
    parents = {n["path"]: n.get("parent", "") for n in nodes if n.get("kind") == "group"}
    first = next((n for n in nodes if n.get("kind") == "dataset"), None)
    if first is None:
        return groups[:1]
    chain: list[str] = []
    parent = first.get("parent", "")
    while parent in parents and parent not in chain:
        chain.append(parent)
        parent = parents[parent]
    return chain[::-1]


def _shape(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    return tuple(int(s) for s in value)


class DatasetTree(anywidget.AnyWidget):
    """A filterable tree of the groups and datasets of an HDF5 file.

    Parameters
    ----------
    **kwargs
        Trait values and ipywidgets options (``layout``...).

    Attributes
    ----------
    nodes : list of dict
        Flat depth-first node list (see the module docstring). Set it with
        :meth:`set_nodes`. Shape changes do not resend it: see :meth:`update_shapes`.
    shapes : dict
        ``{path: [shape...]}``, the last batch of shape changes sent to the
        frontend (empty after :meth:`set_nodes`).
    selected : tuple of str
        Selected dataset paths. A click selects one dataset; ctrl/cmd- or
        shift-click toggles one in or out when `multiple` is true.
    filter : str
        Case-insensitive substring filter on the path; matching nodes are shown
        with their ancestor groups. The frontend's text box is bound to it.
    multiple : bool
        Allow several datasets to be selected. When it is false, `selected`
        keeps its first path only.
    expanded : list of str
        Expanded group paths. :meth:`set_nodes` keeps those that still exist; when
        none does, it uses :func:`default_expanded`.

    Notes
    -----
    Frontend DOM hooks: root ``.swmr-tree``; filter input ``.swmr-tree-filter``;
    one ``.swmr-tree-row`` per shown node with ``data-path`` and ``data-kind``
    (class ``selected`` when selected, ``unplottable`` for datasets that cannot be
    plotted, ``broken`` for damaged objects, ``blocked`` for datasets whose
    compression filter is missing, with the reason as ``title``); the shape text is in
    ``.swmr-tree-shape``; ``.swmr-tree-count`` says how many datasets match. Lists
    of more than 1,000 rows use ``content-visibility: auto``, so the ``innerText``
    of rows scrolled out of view is empty: read ``textContent``.
    """

    _esm = _STATIC / "tree.js"
    _css = _STATIC / "tree.css"

    nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    shapes = traitlets.Dict().tag(sync=True)
    selected = traitlets.Tuple().tag(sync=True)
    filter = traitlets.Unicode("").tag(sync=True)
    multiple = traitlets.Bool(True).tag(sync=True)
    expanded = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        self._by_path: dict[str, dict] = {}
        self._current: dict[str, tuple[int, ...] | None] = {}
        self._datasets: tuple[str, ...] = ()
        self._indexed: list[dict] | None = None
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ API

    def set_nodes(self, nodes: Sequence[Mapping[str, Any]]) -> None:
        """Replace the whole tree.

        Parameters
        ----------
        nodes : sequence of dict
            Depth-first node dicts; they are copied, never modified.

        Notes
        -----
        `nodes`, `shapes` (cleared) and `expanded` go to the frontend in one
        message. `selected` is left alone: the owner decides what stays selected.
        """
        with self.hold_sync():
            self.nodes = list(nodes)
            # an equal list sends nothing and notifies no one, but is stored: index it
            self._reindex()

    def update_shapes(self, shapes: Mapping[str, Sequence[int]]) -> None:
        """Send new dataset shapes; only those that changed are sent.

        Parameters
        ----------
        shapes : mapping
            ``{path: shape}`` for any number of datasets. Unknown paths and
            unchanged shapes are ignored; when nothing changed, no message is sent.
        """
        delta: dict[str, list[int] | None] = {}
        for path, shape in shapes.items():
            node = self._by_path.get(path)
            if node is None or node.get("kind") != "dataset":
                continue
            new = _shape(shape)
            if new == self._current.get(path):
                continue
            self._current[path] = new
            node["shape"] = list(new) if new is not None else None
            delta[path] = list(new) if new is not None else None
        if delta:
            # node dicts are updated in place (unsent) so that a later page load
            # gets current shapes; the delta alone goes over the wire
            self.shapes = delta

    @property
    def dataset_paths(self) -> tuple[str, ...]:
        """Paths of all dataset nodes, in tree order."""
        return self._datasets

    # ------------------------------------------------------------- validation

    @traitlets.validate("nodes")
    def _valid_nodes(self, proposal: dict[str, Any]) -> list[dict]:
        nodes = []
        for node in proposal["value"]:
            if "path" not in node or "kind" not in node:
                raise traitlets.TraitError(f"a tree node needs 'path' and 'kind', got {node!r}")
            copy = dict(node)
            if "shape" in copy and copy["shape"] is not None:
                copy["shape"] = list(copy["shape"])
            nodes.append(copy)
        return nodes

    @traitlets.observe("nodes")
    def _on_nodes(self, change: dict[str, Any]) -> None:
        self._reindex()

    def _reindex(self) -> None:
        nodes = self.nodes
        if nodes is self._indexed:
            return
        self._indexed = nodes
        self._by_path = {n["path"]: n for n in nodes}
        self._datasets = tuple(n["path"] for n in nodes if n["kind"] == "dataset")
        self._current = {p: _shape(self._by_path[p].get("shape")) for p in self._datasets}
        self.shapes = {}
        kept = [p for p in self.expanded if self._by_path.get(p, {}).get("kind") == "group"]
        self.expanded = kept or default_expanded(nodes)

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: dict[str, Any]) -> tuple[str, ...]:
        paths = tuple(dict.fromkeys(str(p) for p in proposal["value"]))
        return paths if self.multiple else paths[:1]

    @traitlets.observe("selected")
    def _on_selected(self, change: dict[str, Any]) -> None:
        # make every selected dataset visible: expand the groups above it
        wanted: list[str] = []
        have = set(self.expanded)
        for path in change["new"]:
            node = self._by_path.get(path)
            parent = node.get("parent", "") if node is not None else ""
            while parent in self._by_path and parent not in have:
                have.add(parent)
                wanted.append(parent)
                parent = self._by_path[parent].get("parent", "")
        if wanted:
            self.expanded = [*self.expanded, *wanted]

    @traitlets.observe("multiple")
    def _on_multiple(self, change: dict[str, Any]) -> None:
        if not change["new"] and len(self.selected) > 1:
            self.selected = self.selected[:1]

    @traitlets.validate("expanded")
    def _valid_expanded(self, proposal: dict[str, Any]) -> list[str]:
        return list(dict.fromkeys(proposal["value"]))
