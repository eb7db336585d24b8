"""Camera frames on the real widgets: exact values, robust colour ranges, backpressure.

A camera writer (``tests/camera_writer.py``) in another process writes frames
with detector sentinels and a hot pixel flagged only by the NeXus pixel_mask.
"""

from __future__ import annotations

import json
import subprocess
import time

import camera_writer as cam
import h5py
import numpy as np
import pytest
from writers import ScriptedWriter, _spawn

pytest.importorskip("bqplot_image_gl")

from swmr_widgets.contrast import color_range
from swmr_widgets.panels import ImagePanel
from swmr_widgets.plots import ImageFigure


class CameraWriter(ScriptedWriter):
    """Drives ``tests/camera_writer.py`` one command at a time."""

    def __init__(self, path, *args: str) -> None:
        self.path = path
        self.proc = _spawn("camera_writer.py", path, *args, stdin=subprocess.PIPE)
        self._expect("ready")

    def frames(self, k: int) -> int:
        return int(self.send(f"frame {k}").split()[1])


@pytest.fixture
def camera(tmp_path):
    started: list[CameraWriter] = []

    def start(*args: str) -> CameraWriter:
        w = CameraWriter(tmp_path / f"camera{len(started)}.h5", *args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def _scale(view) -> tuple[float, float]:
    scale = view.panels[0].plot.color_scale
    return scale.min, scale.max


def test_uint16_frames_are_sent_exactly_and_sentinels_leave_the_colour_range(camera, views):
    shape = (64, 48)
    w = camera("--shape", *map(str, shape), "--dtype", "u2")
    w.frames(1)
    view = views(w.path, selected=[cam.DATA])
    panel = view.panels[0]
    assert isinstance(panel, ImagePanel)
    mask = cam.pixel_mask(shape)
    np.testing.assert_array_equal(panel.feeds[0].pixel_mask, mask)
    for n in (3, 7):
        w.frames(n - w.frames(0))
        view.refresh()
        truth = cam.frame(n - 1, shape, "u2")
        shown = np.asarray(view.figures[0].marks[0].image)
        assert shown.dtype == np.float32
        np.testing.assert_array_equal(shown, truth.astype(np.float32))  # sentinels kept
        lo, hi = _scale(view)
        assert (lo, hi) == color_range(truth, mask)
        valid = truth[mask == 0]
        assert valid.min() <= lo < hi <= valid.max() < cam.HOT
        assert panel.plot.image.frame_tag == str(n - 1)
    assert "error" not in view.status


def test_eiger_2048_frame_is_averaged_without_its_sentinels(camera, views):
    shape = (2048, 2048)
    w = camera("--shape", *map(str, shape), "--dtype", "u4")
    w.frames(2)
    view = views(w.path, selected=[cam.DATA])
    shown = np.asarray(view.figures[0].marks[0].image)
    assert shown.shape == (512, 512)
    truth = cam.frame(1, shape, "u4")
    mask = cam.pixel_mask(shape)
    # a block's average over its valid pixels: gaps and the hot pixel left out
    valid = np.where(mask == 0, truth, 0).astype(np.float64).reshape(512, 4, 512, 4)
    counts = (mask == 0).reshape(512, 4, 512, 4).sum(axis=(1, 3))
    np.testing.assert_allclose(shown, valid.sum(axis=(1, 3)) / counts, rtol=1e-6)
    assert shown.max() < cam.LOW + cam.SPAN
    lo, hi = _scale(view)
    assert (lo, hi) == color_range(truth, mask)
    assert cam.LOW <= lo < hi < cam.LOW + cam.SPAN


def test_fixed_colour_range_survives_new_frames_until_cleared(camera, views):
    shape = (32, 40)
    w = camera("--shape", *map(str, shape))
    w.frames(1)
    view = views(w.path, selected=[cam.DATA])
    panel = view.panels[0]
    assert panel.color_range is None
    panel.color_range = (0, 250.5)
    assert _scale(view) == (0.0, 250.5)
    w.frames(2)
    view.refresh()
    view.refresh()
    assert _scale(view) == (0.0, 250.5)
    np.testing.assert_array_equal(
        np.asarray(view.figures[0].marks[0].image), cam.frame(2, shape, "u2").astype("f4")
    )
    with pytest.raises(ValueError, match="low < high"):
        panel.color_range = (5, 5)
    panel.color_range = None
    assert _scale(view) == color_range(cam.frame(2, shape, "u2"), cam.pixel_mask(shape))


def test_scan_map_of_an_integer_detector_leaves_sentinels_out(tmp_path, views):
    path = tmp_path / "map.h5"
    counts = np.arange(30, dtype=np.uint32).reshape(5, 6) + 10
    counts[2, 3] = np.iinfo(np.uint32).max
    name = "/RawData/Scan000/Detector000/Data0D/CH00/Data00"
    with h5py.File(path, "w", libver="latest") as f:
        ds = f.create_dataset(name, data=counts)
        for key, value in (("data_dimension", "Data0D"), ("nav_indexes", (0, 1))):
            ds.attrs[key] = json.dumps(
                {"module": "builtins", "type": type(value).__name__, "data": repr(value)}
            )
    view = views(path, selected=[name])
    assert view.panels[0].feeds[0].kind == "map"
    # exact, the sentinel too (float32 would round 2**32 - 1 up to 2**32)
    np.testing.assert_array_equal(view.figures[0].marks[0].image, counts.astype("f8"))
    lo, hi = _scale(view)
    assert hi < 100, (lo, hi)


def test_gate_holds_frames_only_once_a_browser_acknowledged():
    fig = ImageFigure()
    gate = fig.gate
    frames = [np.full((4, 4), k, dtype=np.float32) for k in range(6)]
    x = y = np.arange(4.0)
    # no browser yet: every frame is sent
    assert all(fig.set_image(f, x, y) for f in frames[:2])
    np.testing.assert_array_equal(fig.image.image, frames[1])
    assert gate.sent == 2 and not gate.engaged and fig.painted_rate is None
    # a page loads (its messages, as the widget's comm delivers them) and paints frame 2
    gate.ack._handle_custom_msg({"hello": True}, [])
    assert gate.engaged
    gate.ack._handle_custom_msg({"painted": 2}, [])
    assert fig.set_image(frames[2], x, y)  # sent: frame 3 on its way
    assert not fig.set_image(frames[3], x, y)  # held while 3 is drawn
    assert not fig.set_image(frames[4], x, y)  # replaces 4: the newest wins
    assert gate.dropped == 1
    np.testing.assert_array_equal(fig.image.image, frames[2])
    gate.ack._handle_custom_msg({"painted": 3}, [])  # painted: the held frame goes out
    np.testing.assert_array_equal(fig.image.image, frames[4])
    assert gate.sent == 4 and fig.painted_rate and fig.painted_rate > 0
    # a page that stops answering delays frames by at most the timeout
    gate.timeout = 0.2
    assert not fig.set_image(frames[5], x, y)
    fig.poll()
    np.testing.assert_array_equal(fig.image.image, frames[4])
    deadline = time.monotonic() + 10
    while gate.pending and time.monotonic() < deadline:
        time.sleep(0.05)
        fig.poll()
    np.testing.assert_array_equal(fig.image.image, frames[5])
    gate.ack._handle_custom_msg({"painted": 99}, [])  # no such frame: ignored
    assert gate.acked == 3
    fig.close()
