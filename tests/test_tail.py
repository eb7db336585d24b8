"""``swmr-widgets tail`` against a real writer in another process."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
import swmr_writer

from swmr_widgets.processes import kill, spawn

DEADLINE = 30.0


class Tail:
    """``swmr-widgets tail ...`` in its own process, its stdout read line by line."""

    def __init__(self, *args: str) -> None:
        self.proc = spawn(
            [sys.executable, "-m", "swmr_widgets.cli", "tail", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []
        threading.Thread(
            target=self._pump, args=(self.proc.stdout, self.lines), daemon=True
        ).start()
        threading.Thread(target=self._collect, daemon=True).start()

    @staticmethod
    def _pump(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    def _collect(self) -> None:
        for line in self.proc.stderr:
            self.errors.append(line.rstrip("\n"))

    def take(self, n: int, timeout: float = DEADLINE) -> list[str]:
        """The next `n` lines of stdout (fails after `timeout`)."""
        out, end = [], time.monotonic() + timeout
        while len(out) < n:
            try:
                out.append(self.lines.get(timeout=max(end - time.monotonic(), 0.01)))
            except queue.Empty:
                raise AssertionError(f"{len(out)} of {n} lines; stderr: {self.errors}") from None
        return out

    def wait_stderr(self, text: str, timeout: float = DEADLINE) -> None:
        end = time.monotonic() + timeout
        while not any(text in e for e in self.errors):
            assert time.monotonic() < end, f"no {text!r} on stderr: {self.errors}"
            time.sleep(0.02)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=DEADLINE)

    def kill(self) -> None:
        kill(self.proc)


@pytest.fixture
def tails():
    started: list[Tail] = []

    def start(*args: str) -> Tail:
        t = Tail(*args)
        started.append(t)
        return t

    yield start
    for t in started:
        t.kill()


def stored(path: Path, dataset: str) -> np.ndarray:
    with h5py.File(path, "r", swmr=True) as f:
        return f[dataset][()]


def test_json_rows_are_exactly_the_rows_written(writer, tails):
    writer.send("noise 5 1")
    tail = tails(str(writer.path), swmr_writer.NOISE, "--json", "--interval", "0.05", "-n", "-1")
    rows = [json.loads(line) for line in tail.take(5)]
    for seed in (2, 3):
        writer.send(f"noise 7 {seed}")
    rows += [json.loads(line) for line in tail.take(14)]
    truth = stored(writer.path, swmr_writer.NOISE)
    assert [r["index"] for r in rows] == list(range(19))
    # random normal values need all 17 digits: the text reads back as the same float64
    np.testing.assert_array_equal(np.array([r["value"] for r in rows]), truth)
    assert {r["path"] for r in rows} == {swmr_writer.NOISE}
    assert tail.terminate() == 0
    assert tail.lines.empty()  # nothing printed twice, nothing extra


def test_plain_lines_show_label_value_and_units(writer, tails, values):
    writer.append(3)
    tail = tails(str(writer.path), "--interval", "0.05")
    first = tail.take(3)
    writer.append(2)
    lines = first + tail.take(2)
    assert lines == [f"data[{i}] = {float(values(i))!r} V" for i in range(5)]
    tail.wait_stderr(f"following {writer.path} (SWMR)")
    assert tail.terminate() == 0


def test_default_prints_the_last_rows_then_follows(writer, tails, values):
    writer.append(100)
    tail = tails(str(writer.path), swmr_writer.TREND, "--json", "--interval", "0.05", "-n", "4")
    rows = [json.loads(line) for line in tail.take(4)]
    writer.append(1)
    rows += [json.loads(line) for line in tail.take(1)]
    assert [r["index"] for r in rows] == [96, 97, 98, 99, 100]
    assert [r["value"] for r in rows] == values(np.arange(96, 101)).tolist()


def test_waits_for_a_late_file_and_reports_health(tmp_path, writer_factory, tails, values):
    path = tmp_path / "late.h5"
    tail = tails(str(path), "--wait", "--json", "--interval", "0.05", "--stall-after", "1")
    tail.wait_stderr("waiting for late.h5 to be created")
    w = writer_factory("late.h5")
    w.append(2)
    rows = [json.loads(line) for line in tail.take(2)]
    assert [r["value"] for r in rows] == values(np.arange(2)).tolist()
    assert all(r["units"] == "V" for r in rows)
    tail.wait_stderr("writer stalled or finished?")
    w.close()
    assert tail.terminate() == 0


def test_scan_points_and_progress(tmp_path, tails):
    import scan_writer as sw

    w = sw.ScanWriter(tmp_path / "scan.h5")
    try:
        w.fill(2)
        tail = tails(str(w.path), sw.SCAN0D, "--interval", "0.05")
        assert tail.take(3) == [
            f"ch 0D[0, 0] = {float(sw.point_value(0))!r} V",
            f"ch 0D[0, 1] = {float(sw.point_value(1))!r} V",
            "scan ch 0D: 2/20 points",
        ]
        w.fill(1)
        assert tail.take(2) == [
            f"ch 0D[0, 2] = {float(sw.point_value(2))!r} V",
            "scan ch 0D: 3/20 points",
        ]
        assert tail.terminate() == 0
    finally:
        w.stop()


def test_missing_file_without_wait_is_a_clear_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "swmr_widgets.cli", "tail", str(tmp_path / "nope.h5")],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 2
    assert "No such file" in done.stderr and "Traceback" not in done.stderr


def test_closed_file_prints_everything_and_exits(tmp_path):
    path = tmp_path / "closed.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("counts", data=np.array([2**40 + 1, 2**53 + 1, 7]), maxshape=(None,))
    done = subprocess.run(
        [sys.executable, "-m", "swmr_widgets.cli", "tail", str(path), "/counts", "-n", "-1"],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"counts[0] = {2**40 + 1}",
        f"counts[1] = {2**53 + 1}",  # an int64 that float64 cannot hold, exact
        "counts[2] = 7",
    ]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_a_real_terminal_with_rich(writer, tmp_path):
    """In tmux (a real terminal): rows scroll above a live status line."""
    writer.append(3)
    session = f"swmr-tail-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "TERM": "xterm-256color"}
    cmd = f"{sys.executable} -m swmr_widgets.cli tail {writer.path} --interval 0.1"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "20", cmd],
        check=True,
        env=env,
    )
    try:

        def screen() -> str:
            return subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout

        def wait_for(text: str) -> str:
            end = time.monotonic() + DEADLINE
            while text not in (shown := screen()):
                assert time.monotonic() < end, f"{text!r} not on screen:\n{shown}"
                time.sleep(0.05)
            return shown

        wait_for("data[2] = 2.0 V")
        writer.append(1)
        shown = wait_for("data[3] = 2.5 V")
        assert "SWMR" in shown and "rows/s" in shown  # the live status line
        (Path(os.environ.get("SWMR_ARTIFACTS", "test-artifacts")) / "tail_tmux.txt").parent.mkdir(
            exist_ok=True
        )
        Path(os.environ.get("SWMR_ARTIFACTS", "test-artifacts"), "tail_tmux.txt").write_text(shown)
        pid = subprocess.run(
            ["tmux", "display-message", "-p", "-t", session, "#{pane_pid}"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        os.kill(int(pid), signal.SIGTERM)
        end = time.monotonic() + DEADLINE
        while session in subprocess.run(["tmux", "ls"], capture_output=True, text=True).stdout:
            assert time.monotonic() < end, "tail did not exit on SIGTERM"
            time.sleep(0.05)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
