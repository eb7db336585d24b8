"""Eiger/Odin masters: a closed master whose external links and virtual dataset point at
data files that a writer in another process is still writing in SWMR mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import eiger_writer as ew
import h5py
import numpy as np
import pytest
from waits import wait_for

from swmr_widgets.live import LiveFile
from swmr_widgets.live.health import State
from swmr_widgets.processes import kill, spawn
from swmr_widgets.swmr import HELD_BY_WRITER, open_h5_file_for_reading

HERE = Path(__file__).parent
VDS = "/entry/data/data"
LINK1, LINK2 = (f"/entry/data/{ew.LINK.format(k)}" for k in (1, 2))
NY, NX, PER_FILE = 12, 20, 3


class EigerWriter:
    """Drives ``tests/eiger_writer.py`` in another process, one command at a time."""

    def __init__(self, directory: Path, *args: str) -> None:
        self.directory = directory
        self.master = directory / ew.MASTER
        self.dtype = args[args.index("--dtype") + 1] if "--dtype" in args else "u2"
        cmd = [sys.executable, str(HERE / "eiger_writer.py"), str(directory), *args]
        cmd += ["--frames-per-file", str(PER_FILE), "--ny", str(NY), "--nx", str(NX)]
        self.proc = spawn(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.written = 0
        self._expect("ready")

    def _expect(self, prefix: str) -> str:
        line = self.proc.stdout.readline()
        if not line.startswith(prefix):
            kill(self.proc)
            raise RuntimeError(f"eiger writer said {line!r}; stderr: {self.proc.stderr.read()}")
        return line

    def frames(self, k: int) -> int:
        """Write `k` frames; return how many were written in all, once flushed."""
        self.proc.stdin.write(f"frames {k}\n")
        self.proc.stdin.flush()
        self.written = int(self._expect("ok").split()[1])
        return self.written

    def frame(self, i: int) -> np.ndarray:
        return ew.frame(i, NY, NX, self.dtype)

    def close(self) -> None:
        self.proc.stdin.write("close\n")
        self.proc.stdin.flush()
        self._expect("ok")
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        kill(self.proc, timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def eiger(tmp_path):
    """Start Eiger-style writers in ``tmp_path``; all are stopped at teardown."""
    started: list[EigerWriter] = []

    def start(*args: str) -> EigerWriter:
        w = EigerWriter(tmp_path / "scan", *args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def _shown_frame(view) -> np.ndarray:
    (panel,) = view.panels
    return panel._image  # what the image panel draws, as the feed delivered it


@pytest.mark.parametrize("dtype", ["u2", "u4"])
def test_view_of_a_live_master_follows_the_virtual_dataset(eiger, views, dtype):
    w = eiger("--dtype", dtype)
    w.frames(1)
    view = views(w.master)
    assert "h5clear" not in view.status
    assert view.is_swmr, view.status
    nodes = {n["path"]: n for n in view._tree.nodes}
    assert nodes[VDS]["kind"] == "dataset" and nodes[VDS]["growing"]
    for k, link in enumerate((LINK1, LINK2), start=1):
        assert nodes[link]["kind"] == "dataset", nodes[link]
        assert nodes[link]["link"] == f"external link to {ew.DATA_FILE.format(k)}:{ew.DATA}"
        assert link in view.paths
    assert view.selected == (VDS,)  # the NeXus default: /entry@default -> NXdata@signal
    view.selected = (VDS,)
    view.refresh()
    np.testing.assert_array_equal(_shown_frame(view), w.frame(0))
    # across the end of the first data file and into the second
    for _ in range(2 * PER_FILE - 1):
        n = w.frames(1)
        view.refresh()
        assert "h5clear" not in view.status
        shown = _shown_frame(view)
        assert shown.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(shown, w.frame(n - 1))
    assert view.live.health.errors == ()


def test_view_of_an_external_link_to_a_live_data_file(eiger, views):
    w = eiger()
    w.frames(PER_FILE + 1)  # the second file has started
    view = views(w.master, selected=(LINK2,))
    view.refresh()
    np.testing.assert_array_equal(_shown_frame(view), w.frame(PER_FILE))
    n = w.frames(1)
    view.refresh()
    np.testing.assert_array_equal(_shown_frame(view), w.frame(n - 1))
    assert "h5clear" not in view.status and view.live.health.errors == ()


def test_live_file_follows_the_vds_and_an_external_link_together(eiger):
    w = eiger()
    with LiveFile(w.master) as live:
        assert live.is_swmr
        vds, link1, link2 = (live.follow(p) for p in (VDS, LINK1, LINK2))
        assert [live.meta(p).path for p in (VDS, LINK1, LINK2)] == [VDS, LINK1, LINK2]
        seen = {VDS: -1, LINK1: -1, LINK2: -1}
        for _ in range(2 * PER_FILE):
            n = w.frames(1)
            poll = live.poll()
            assert poll.health.errors == ()
            assert poll.shapes[VDS] == (n, NY, NX)
            latest = poll.updates[vds]
            np.testing.assert_array_equal(latest.values, w.frame(n - 1))
            # the frame just written went to the current data file, seen through its link
            feed = link1 if n <= PER_FILE else link2
            update = poll.updates[feed]
            np.testing.assert_array_equal(update.values, w.frame(n - 1))
            assert update.index == ((n - 1) % PER_FILE,)
            seen[VDS] = n - 1
            seen[feed.path] = n - 1
        assert seen == {VDS: 2 * PER_FILE - 1, LINK1: PER_FILE - 1, LINK2: 2 * PER_FILE - 1}


def test_master_made_before_the_writer_starts_is_switched_to_swmr(tmp_path, eiger):
    """A master opened while no data file exists reads as a plain file; once a SWMR
    writer holds its data files, "auto" reopens it in SWMR mode and follows them."""
    directory = tmp_path / "scan"
    directory.mkdir()
    master = ew.write_master(directory, 2, PER_FILE, NY, NX, "u2")
    with LiveFile(master) as live:
        assert not live.is_swmr
        w = eiger("--keep-master")
        wait_for(lambda: live.poll().health.swmr, 30, "the master to be reopened in SWMR mode")
        assert "SWMR" in live.health.note and "h5clear" not in live.health.note
        feed = live.follow(VDS)
        n = w.frames(2)
        got: list = []

        def latest_shown() -> bool:
            update = live.poll().updates.get(feed)
            got.extend([update] if update is not None else [])
            return bool(got) and got[-1].index == (n - 1,)

        wait_for(latest_shown, 30, "the last frame written to show")
        np.testing.assert_array_equal(got[-1].values, w.frame(n - 1))
        assert live.health.errors == ()


def test_forced_plain_open_of_a_live_master_never_advises_h5clear(eiger, views):
    w = eiger()
    w.frames(2)
    f, is_swmr = open_h5_file_for_reading(w.master, swmr=False)
    with f:
        assert not is_swmr
    view = views(w.master, swmr=False, selected=(VDS,))
    view.refresh()
    assert not view.is_swmr
    reasons = " ".join(n.get("reason", "") for n in view.live.nodes)
    assert HELD_BY_WRITER in reasons
    assert "h5clear" not in reasons and "h5clear" not in view.status
    assert "swmr=True" in reasons


def test_closed_master_after_the_writer_finished_reads_every_frame(eiger, views):
    w = eiger()
    w.frames(2 * PER_FILE)
    w.close()
    f, is_swmr = open_h5_file_for_reading(w.master)
    with f:
        assert not is_swmr
        data = f[VDS][()]
        assert data.shape == (2 * PER_FILE, NY, NX)
        for i in range(2 * PER_FILE):
            np.testing.assert_array_equal(data[i], w.frame(i))
        np.testing.assert_array_equal(f[LINK2][-1], w.frame(2 * PER_FILE - 1))
        assert f["/entry/data"].attrs["signal"] == "data"
    view = views(w.master)
    assert view.live.health.state is State.FINISHED
    view.refresh()
    np.testing.assert_array_equal(_shown_frame(view), w.frame(2 * PER_FILE - 1))
    with h5py.File(w.master, "r") as g:  # the reader left the master as it was
        assert g["/entry"].attrs["NX_class"] == "NXentry"


@pytest.mark.parametrize("links", [True, False], ids=["eiger", "vds-only"])
def test_auto_open_of_a_master_uses_swmr_while_its_data_files_are_written(eiger, links):
    w = eiger()
    w.frames(PER_FILE + 1)
    master = ew.write_master(
        w.directory, 2, PER_FILE, NY, NX, "u2", name="second_master.h5", links=links
    )
    f, is_swmr = open_h5_file_for_reading(master)
    with f:
        assert is_swmr
        data = f[VDS]
        assert data.shape == (PER_FILE + 1, NY, NX)
        np.testing.assert_array_equal(data[-1], w.frame(PER_FILE))
        n = w.frames(1)
        data.refresh()
        np.testing.assert_array_equal(data[-1], w.frame(n - 1))
    w.close()
    f, is_swmr = open_h5_file_for_reading(master)  # all files closed: an ordinary file
    with f:
        assert not is_swmr
        assert f[VDS].shape == (n, NY, NX)


def test_tree_lists_external_links_to_data_as_datasets(tmp_path):
    from swmr_widgets.nodes import tree_nodes

    with h5py.File(tmp_path / "data.h5", "w") as g:
        g["frames"] = np.arange(24, dtype="u2").reshape(2, 3, 4)
        g["frames"].attrs["units"] = "counts"
        g.create_group("more")
    with h5py.File(tmp_path / "master.h5", "w") as f:
        f["to_data"] = h5py.ExternalLink("data.h5", "/frames")
        f["to_group"] = h5py.ExternalLink("data.h5", "/more")
        f["to_nothing"] = h5py.ExternalLink("data.h5", "/missing")
    with h5py.File(tmp_path / "master.h5", "r") as f:
        nodes = {n["path"]: n for n in tree_nodes(f)}
    data = nodes["/to_data"]
    assert data["kind"] == "dataset" and data["plottable"]
    assert (data["shape"], data["dtype"], data["units"]) == ([2, 3, 4], "uint16", "counts")
    assert data["link"] == "external link to data.h5:/frames"
    assert nodes["/to_group"] == {
        "path": "/to_group",
        "name": "to_group",
        "parent": "/",
        "kind": "link",
        "reason": "external link to data.h5:/more",
    }
    assert nodes["/to_nothing"]["kind"] == "link"
    assert nodes["/to_nothing"]["reason"].startswith("external link to data.h5:/missing (cannot")


def test_master_counts_as_finished_once_the_detector_closed_its_data_files(eiger):
    w = eiger()
    w.frames(2)
    with LiveFile(w.master, stall_after=600) as live:
        live.follow(VDS)
        live.poll()
        assert live.is_swmr and live.health.state is State.LIVE
        w.close()
        wait_for(
            lambda: live.poll().health.state is State.FINISHED, 30, "the master to count finished"
        )
        assert live.health.errors == ()
