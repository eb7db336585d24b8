"""The tree nodes of real HDF5 files: shapes, labels, links, order and speed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from metadata_zoo import write_zoo

from swmr_widgets.metadata import describe_dataset
from swmr_widgets.nodes import tree_nodes


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    """A small file with one dataset per case."""
    return write_zoo(tmp_path / "zoo.h5")


def test_tree_nodes_shape_and_links(zoo, tmp_path):
    with h5py.File(zoo, "a") as f:
        f["zlinks/soft"] = h5py.SoftLink("/plain/a")
        f["zlinks/external"] = h5py.ExternalLink("other.h5", "/x")
        f["zlinks/dangling"] = h5py.SoftLink("/nowhere")
        f["zlinks/loop"] = f["zlinks"]  # a hard link to an ancestor: no endless walk
        f["zlinks/again"] = f["plain"]
    with h5py.File(zoo, "r") as f:
        nodes = tree_nodes(f)
        sub = tree_nodes(f["plain"])
    json.dumps(nodes)
    by_path = {n["path"]: n for n in nodes}
    assert nodes[0] == {"path": "/", "name": "/", "parent": "", "kind": "group"}
    assert by_path["/plain"]["kind"] == "group"
    a = by_path["/plain/a"]
    assert a == {
        "path": "/plain/a",
        "name": "a",
        "parent": "/plain",
        "kind": "dataset",
        "shape": [5],
        "dtype": "float64",
        "plottable": True,
        "reason": "",
        "label": "a",
        "units": "V",
        "growing": False,
    }
    assert by_path["/zlinks/soft"]["kind"] == "link"
    assert by_path["/zlinks/soft"]["reason"] == "soft link to /plain/a"
    # a dangling external link: listed as a link, saying where it points and that it fails
    assert by_path["/zlinks/external"]["reason"].startswith("external link to other.h5:/x")
    assert by_path["/zlinks/dangling"]["kind"] == "link"
    assert by_path["/zlinks/loop"] == {
        "path": "/zlinks/loop",
        "name": "loop",
        "parent": "/zlinks",
        "kind": "link",
        "reason": "hard link to /zlinks",
    }
    assert by_path["/zlinks/again"]["reason"] == "hard link to /plain"
    assert by_path["/plain/trend"]["growing"] is True
    assert by_path["/odd/vlen_str"]["plottable"] is False
    assert by_path["/odd/null"]["shape"] == []
    assert by_path["/junk/unreadable_units"]["units"] == ""
    assert by_path["/RawData/Scan000/Detector000/Data0D/CH00/Data00"]["label"] == "photodiode"
    assert by_path["/RawData/Scan000/Detector000/Data0D/CH00/Data00"]["units"] == "V"
    # every node comes after its parent
    seen = {"/"}
    for n in nodes[1:]:
        assert n["parent"] in seen
        if n["kind"] == "group":
            seen.add(n["path"])
    assert sub[0] == {"path": "/plain", "name": "plain", "parent": "/", "kind": "group"}
    assert {n["path"] for n in sub} == {p for p in by_path if p.startswith("/plain")}
    # the tree agrees with describe_dataset
    with h5py.File(zoo, "r") as f:
        for n in nodes:
            if n["kind"] == "dataset":
                m = describe_dataset(f[n["path"]])
                assert (n["label"], n["units"], n["plottable"]) == (m.label, m.units, m.plottable)
                assert (n["dtype"], tuple(n["shape"]), n["growing"]) == (
                    m.dtype,
                    m.shape,
                    m.growing,
                )


def test_tree_nodes_depth_first_order(tmp_path):
    path = tmp_path / "order.h5"
    with h5py.File(path, "w") as f:
        for name in ("b/y", "a/z/d", "a/x", "c"):
            f.create_dataset(name, data=1.0)
    with h5py.File(path, "r") as f:
        paths = [n["path"] for n in tree_nodes(f)]
    assert paths == ["/", "/a", "/a/x", "/a/z", "/a/z/d", "/b", "/b/y", "/c"]


def test_tree_nodes_5000_datasets_is_fast(tmp_path):
    path = tmp_path / "big.h5"
    with h5py.File(path, "w", libver="latest") as f:
        for k in range(5000):
            ds = f.create_dataset(f"/Extra/G{k // 100:03d}/d{k:05d}", data=np.arange(4.0))
            ds.attrs["units"] = "V"
            ds.attrs["label"] = f"channel {k}"
    with h5py.File(path, "r", swmr=True) as f:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            nodes = tree_nodes(f)
            times.append(time.perf_counter() - t)
    assert sum(n["kind"] == "dataset" for n in nodes) == 5000
    assert nodes[-1]["label"] == "channel 4999"
    print(f"tree_nodes, 5000 datasets: best {min(times):.3f} s")
    # about 0.3 s on an idle 2-core machine, 3-4 s at a load of 12; the speed itself is
    # measured by the benchmarks (`python -m benchmarks --only tree`), not here
    assert min(times) < 30
