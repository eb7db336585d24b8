"""The flat list of tree nodes of an HDF5 file: groups, datasets and links.

:func:`tree_nodes` walks a file or group once, depth-first, through h5py's
low-level API, and describes every dataset just enough for a tree widget:
shape, dtype, whether it can be plotted (and why not), label, units and whether
it grows. Links are listed, not followed, and each group appears once even when
hard links make the file a graph. Axis data is never read, so a node costs a few
tens of µs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import h5py

from swmr_widgets.attrs import _is_pymodaq, _LazyAttrs, _pick_label, _pick_units
from swmr_widgets.conventions import netcdf_placeholder
from swmr_widgets.errors import damage_reason
from swmr_widgets.filters import how_to_get, missing_filters, plugins_loaded
from swmr_widgets.metadata import NETCDF_PLACEHOLDER, _classify
from swmr_widgets.swmr import HELD_BY_WRITER, explain_hdf5_error

__all__ = ["tree_nodes"]


def tree_nodes(group: h5py.Group) -> list[dict]:
    """A flat, JSON-serialisable list of the groups, datasets and links under `group`.

    Parameters
    ----------
    group : h5py.Group
        Where to start (a file or a group); it is the first node.

    Returns
    -------
    list of dict
        Depth-first, children in name order (in creation order in groups
        created with ``track_order=True``). Every node has ``path``, ``name``,
        ``parent`` and ``kind`` (``"group"``, ``"dataset"`` or ``"link"``).
        Datasets add ``shape``, ``dtype``, ``plottable``, ``reason``, ``label``,
        ``units`` and ``growing``; links (soft, external, or a second hard link to
        a group already listed) add the target in ``reason``. An external link
        to a dataset (a detector master's link to a data file) is listed as
        that dataset, with the target in ``link``; other links are not
        followed. Axis data is not read, so this costs a few tens of µs per node.
        Damaged objects never stop the walk: they get ``broken=True`` and the
        reason (``"damaged: incorrect metadata checksum ..."``), as kind
        ``"damaged"`` when not even their kind can be read. Datasets compressed
        with a filter that is not installed keep their kind and get
        ``filters`` (the missing filter ids) and ``reason`` (which filter, and
        how to get it); this is checked while ``hdf5plugin`` is not imported.
    """
    nodes: list[dict] = []
    try:
        root = group.name or "/"
        gid = group.id
    except Exception:
        return nodes
    parent = (root.rsplit("/", 1)[0] or "/") if root != "/" else ""
    name = root.rsplit("/", 1)[-1] if root != "/" else "/"
    nodes.append({"path": root, "name": name, "parent": parent, "kind": "group"})
    seen: dict[int, str] = {}
    with contextlib.suppress(Exception):
        seen[h5py.h5o.get_info(gid).addr] = root
    _walk(gid, root, nodes, seen)
    return nodes


def _walk(gid: Any, path: str, nodes: list[dict], seen: dict[int, str]) -> None:
    links: list[tuple[bytes, int, int]] = []

    def collect(name: bytes, info: Any) -> None:
        links.append((name, info.type, info.u))

    try:
        gid.links.iterate(collect, idx_type=_index_type(gid), info=True)
    except Exception as exc:  # damaged: mark the group (its node is the last one), keep going
        _mark_damaged(nodes[-1], f"cannot list its members: {damage_reason(exc)}")
        if not links:
            return
    group_attrs = _LazyAttrs(gid)
    group_name = path.rsplit("/", 1)[-1]
    for raw_name, link_type, address in links:
        name = raw_name.decode("utf-8", "replace")
        child = f"{path}/{name}" if path != "/" else f"/{name}"
        base = {"path": child, "name": name, "parent": path}
        if link_type == h5py.h5l.TYPE_EXTERNAL:
            nodes.append({**base, **_external(gid, raw_name, name, group_attrs, group_name)})
            continue
        if link_type != h5py.h5l.TYPE_HARD:
            nodes.append({**base, "kind": "link", "reason": _link_target(gid, raw_name, link_type)})
            continue
        try:
            oid = h5py.h5o.open(gid, raw_name)
        except Exception as exc:
            nodes.append(_mark_damaged({**base, "kind": "damaged"}, damage_reason(exc)))
            continue
        if isinstance(oid, h5py.h5g.GroupID):
            # a hard link's address identifies the group: list each group once (no cycles)
            if address in seen:
                nodes.append({**base, "kind": "link", "reason": f"hard link to {seen[address]}"})
                continue
            seen[address] = child
            nodes.append({**base, "kind": "group"})
            _walk(oid, child, nodes, seen)
        elif isinstance(oid, h5py.h5d.DatasetID):
            nodes.append({**base, **_dataset_summary(oid, name, group_attrs, group_name)})


def _mark_damaged(node: dict, reason: str) -> dict:
    """Flag `node` as damaged (``broken``), with the reason in ``reason``."""
    node["broken"] = True
    node["reason"] = f"damaged: {reason}"
    return node


def _index_type(gid: Any) -> int:
    """Creation order for groups that track it (``track_order=True``), else name order."""
    try:
        if isinstance(gid, h5py.h5f.FileID):  # the root group's own creation properties
            gid = h5py.h5g.open(gid, b"/")
        flags = gid.get_create_plist().get_link_creation_order()
    except Exception:
        return h5py.h5.INDEX_NAME
    return h5py.h5.INDEX_CRT_ORDER if flags & h5py.h5p.CRT_ORDER_INDEXED else h5py.h5.INDEX_NAME


def _link_target(gid: Any, name: bytes, link_type: int) -> str:
    try:
        target = gid.links.get_val(name)
    except Exception:
        return "link"
    if link_type == h5py.h5l.TYPE_SOFT:
        return f"soft link to {target.decode('utf-8', 'replace')}"
    if link_type == h5py.h5l.TYPE_EXTERNAL and isinstance(target, tuple) and len(target) == 2:
        fname, obj = (t.decode("utf-8", "replace") for t in target)
        return f"external link to {fname}:{obj}"
    return "user-defined link"


def _external(
    gid: Any, raw_name: bytes, name: str, group_attrs: Mapping[str, Any], group_name: str
) -> dict[str, Any]:
    """An external link: the dataset it points to (with ``link`` naming the target), else a link.

    HDF5 opens the linked file with this file's access mode: in SWMR mode when
    this file is read in SWMR mode. Groups in other files are not walked.
    """
    target = _link_target(gid, raw_name, h5py.h5l.TYPE_EXTERNAL)
    try:
        oid = h5py.h5o.open(gid, raw_name)
    except Exception as exc:
        return {"kind": "link", "reason": f"{target} (cannot open: {explain_hdf5_error(exc)})"}
    if not isinstance(oid, h5py.h5d.DatasetID):
        return {"kind": "link", "reason": target}
    return {**_dataset_summary(oid, name, group_attrs, group_name), "link": target}


def _dataset_summary(
    oid: Any, name: str, group_attrs: Mapping[str, Any], group_name: str
) -> dict[str, Any]:
    """The dataset fields of a tree node, from the low-level id (no axis data read)."""
    out: dict[str, Any] = {"kind": "dataset"}
    try:
        space = oid.get_space()
        null = space.get_simple_extent_type() == h5py.h5s.NULL
        shape = () if null else tuple(int(s) for s in space.shape)
        maxshape = () if null else space.get_simple_extent_dims(True)
        dtype_str, plottable, reason = _classify(oid.dtype)
        if null:
            plottable, reason = False, "null dataspace: the dataset holds no values"
        attrs = _LazyAttrs(oid)
        if netcdf_placeholder(attrs):
            plottable, reason = False, NETCDF_PLACEHOLDER

        def pymodaq() -> bool:
            return _is_pymodaq(attrs, group_name)

        out.update(
            shape=list(shape),
            dtype=dtype_str,
            plottable=plottable,
            reason=reason,
            label=_pick_label(attrs, group_attrs, name, pymodaq),
            units=_pick_units(attrs, group_attrs, pymodaq),
            growing=bool(maxshape) and maxshape[0] == h5py.h5s.UNLIMITED,
        )
        # (reading the creation properties costs ~70 µs: only when a filter may be missing;
        # with hdf5plugin, a rarer missing filter is named when the dataset is read)
        missing = () if plugins_loaded() else missing_filters(oid)
        if missing:  # listed and selectable, but unreadable until the filter is there
            out["filters"] = [f.id for f in missing]
            out["reason"] = (
                f"needs the {' and '.join(f.title for f in missing)} filter, not installed: "
                + how_to_get(missing)
            )
    except Exception as exc:
        out.update(
            shape=[],
            dtype="unknown",
            plottable=False,
            label=name,
            units="",
            growing=False,
        )
        explained = explain_hdf5_error(exc)
        if HELD_BY_WRITER in explained:  # linked data a writer holds: not damage
            out["reason"] = f"could not read the dataset: {explained}"
        else:
            _mark_damaged(out, f"cannot read the dataset: {damage_reason(exc)}")
    return out
