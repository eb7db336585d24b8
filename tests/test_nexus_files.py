"""NeXus files written by nexusformat in another process, extended in SWMR mode while followed.

The writer (``tests/nexus_writer.py``) builds the tree with nexusformat's
classes (``NXentry``/``NXdata`` with ``@signal``, ``@axes``,
``@auxiliary_signals``, ``*_errors``, ``@default`` and ``NXlink`` hard links),
then keeps the file open through nexusformat in SWMR mode and appends with
nexusformat. Its values are random; it dumps what it wrote to a side file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from marks import assert_image
from nexus_writer import (
    COUNTS,
    DETECTOR,
    ENERGY_PATH,
    ERRORS,
    FRAME_PATH,
    MONITOR,
    SPECTRA,
    SPECTRA_TIME,
    TIME,
    NexusWriter,
)
from waits import wait_for

pytest.importorskip("nexusformat")

from swmr_widgets.live import Latest, LiveFile, Rows, State

TIMEOUT = 30.0


@pytest.fixture
def nexus(tmp_path: Path) -> Iterator[NexusWriter]:
    """A nexusformat writer in another process on ``tmp_path / 'entry.nxs'``."""
    w = NexusWriter(tmp_path / "entry.nxs", seed=7)
    yield w
    w.stop()


@pytest.fixture
def live(nexus) -> Iterator[LiveFile]:
    nexus.step(2)
    f = LiveFile(nexus.path)
    yield f
    f.close()


def test_default_chain_axes_labels_and_units(nexus, live):
    assert live.is_swmr
    # /@default -> entry@default -> data@signal
    assert live.default_selection() == (COUNTS,)
    counts, errors, monitor = (live.meta(p) for p in (COUNTS, ERRORS, MONITOR))
    assert (counts.label, counts.units) == ("Detector counts", "counts")
    assert (monitor.label, monitor.units) == ("Monitor", "mon")
    # the signal, its errors and the auxiliary signal share the signal's axis
    for meta in (counts, errors, monitor):
        assert meta.growing and (meta.nav_ndim, meta.signal_ndim) == (1, 0)
        assert meta.nav_axes[0].title == "Time (s)"
        assert meta.nav_axes[0].path == TIME
    # one dataset, two hard links: described by the link it is seen through
    in_detector = live.meta(f"{DETECTOR}/counts")
    assert in_detector.path == f"{DETECTOR}/counts"
    assert in_detector.label == "Detector counts"
    assert in_detector.nav_axes[0].path == ""  # an NXdetector names no axes
    spectra = live.meta(SPECTRA)
    assert spectra.path == SPECTRA
    assert (spectra.nav_ndim, spectra.signal_ndim) == (1, 1)
    assert spectra.nav_axes[0].title == "Time (s)"
    assert spectra.nav_axes[0].path == SPECTRA_TIME  # a hard link to /entry/data/time
    assert spectra.axes[0].title == "Photon energy (eV)"
    assert spectra.axes[0].path == ENERGY_PATH
    truth = nexus.written()
    np.testing.assert_array_equal(spectra.axes[0].values, truth["energy"])
    frame = live.meta(FRAME_PATH)
    assert [a.title for a in frame.axes] == ["Height (mm)", "Width (mm)"]
    np.testing.assert_array_equal(frame.axes[0].values, truth["y"])
    np.testing.assert_array_equal(frame.axes[1].values, truth["x"])


def test_appended_rows_are_followed_exactly(nexus, live):
    feeds = {p: live.follow(p) for p in (COUNTS, ERRORS, MONITOR, SPECTRA, FRAME_PATH)}
    assert [f.kind for f in feeds.values()] == ["series"] * 3 + ["trace", "frame"]
    got: dict[str, list] = {p: [] for p in (COUNTS, ERRORS, MONITOR)}
    latest: dict[str, Latest] = {}
    n = 2
    for k in (0, 1, 3, 10):
        n = nexus.step(k) if k else n
        truth = nexus.written()

        def check(n=n) -> bool:
            for u in live.poll().updates.values():
                if isinstance(u, Rows):
                    got[u.path].append(u)
                elif isinstance(u, Latest):
                    latest[u.path] = u
            rows_done = all(sum(len(u.values) for u in got[p]) == n for p in got)
            return rows_done and SPECTRA in latest and latest[SPECTRA].index == (n - 1,)

        wait_for(check, TIMEOUT, f"{n} rows")
        for path, key in ((COUNTS, "counts"), (ERRORS, "errors"), (MONITOR, "monitor")):
            values = np.concatenate([u.values for u in got[path]])
            assert values.dtype == np.float64
            np.testing.assert_array_equal(values, truth[key])
            t, known = feeds[path].axis.at(np.arange(n))
            assert known.all()
            np.testing.assert_array_equal(t, truth["time"])
        np.testing.assert_array_equal(latest[SPECTRA].values, truth["spectra"][-1])
        np.testing.assert_array_equal(latest[FRAME_PATH].values, truth["frame"])
        assert live.health.state is State.LIVE
    nexus.close()  # the writer closes the file through nexusformat: still readable
    assert not live.poll().health.errors


def test_view_draws_the_default_signal_on_its_time_axis(nexus, views):
    pytest.importorskip("bqplot")
    from swmr_widgets.panels import ImagePanel, SeriesPanel, TracePanel

    n = nexus.step(4)
    view = views(nexus.path)
    assert view.selected == (COUNTS,)
    series = view.panels[0]
    assert isinstance(series, SeriesPanel)
    assert series.plot.y_axis.label == "Detector counts (counts)"
    view.selected = (COUNTS, SPECTRA, FRAME_PATH)
    view.refresh()
    trace = next(p for p in view.panels if isinstance(p, TracePanel))
    image = next(p for p in view.panels if isinstance(p, ImagePanel))
    assert trace.plot.x_axis.label == "Photon energy (eV)"
    assert trace.plot.y_axis.label == "Spectrum (a.u.)"
    assert (image.plot.x_axis.label, image.plot.y_axis.label) == ("Width (mm)", "Height (mm)")
    series = next(p for p in view.panels if isinstance(p, SeriesPanel))
    for k in (0, 6):
        n = nexus.step(k) if k else n
        line = series.plot.lines[0]
        wait_for(lambda n=n, line=line: view.refresh() or len(line.y) == n, TIMEOUT, f"{n}")
        truth = nexus.written()
        assert series.plot.x_axis.label.startswith("Time (s since ")
        np.testing.assert_array_equal(
            np.asarray(line.x), truth["time"] - np.floor(truth["time"][0])
        )
        np.testing.assert_array_equal(np.asarray(line.y), truth["counts"])
        np.testing.assert_array_equal(np.asarray(trace.plot.lines[0].x), truth["energy"])
        np.testing.assert_array_equal(np.asarray(trace.plot.lines[0].y), truth["spectra"][-1])
        assert_image(image.plot, truth["frame"], truth["x"])
        assert "error" not in view.status
