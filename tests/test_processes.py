"""spawn / stop / kill against real child processes (``sys.executable -c ...``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from waits import gone, wait_for

from swmr_widgets.processes import kill, spawn, stop

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX"),
]

#: Prints ``ready`` and sleeps; with ``ignore``, SIGTERM is ignored.
SLEEPER = textwrap.dedent(
    """
    import signal, sys, time
    if "ignore" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(600)
    """
)
#: Starts a grandchild that ignores SIGTERM, prints its PID, and sleeps (exits on SIGTERM).
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], "ignore"], stdout=subprocess.PIPE)
    assert child.stdout.readline().strip() == b"ready"
    print(child.pid, flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def started() -> Iterator[Callable[..., subprocess.Popen]]:
    """Spawn Python children; any still running at teardown is killed by PID."""
    procs: list[subprocess.Popen] = []

    def start(code: str, *args: str) -> subprocess.Popen:
        proc = spawn([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_spawn_leads_a_new_session(started):
    proc = started(SLEEPER)
    assert proc.stdout.readline().strip() == "ready"
    assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
    assert os.getpgid(proc.pid) == proc.pid
    assert stop(proc) == -signal.SIGTERM


def test_stop_kills_a_child_that_ignores_sigterm(started):
    proc = started(SLEEPER, "ignore")
    assert proc.stdout.readline().strip() == "ready"
    t = time.monotonic()
    assert stop(proc, timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - t >= 0.5
    assert gone(proc.pid)


def test_stop_returns_a_clean_exit_status(started):
    code = "import signal, sys; signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))\n" + SLEEPER
    proc = started(code)
    assert proc.stdout.readline().strip() == "ready"
    assert stop(proc, timeout=30) == 3


def test_dead_children_are_not_an_error(started):
    reaped = started("print('bye')")
    reaped.wait(30)
    assert stop(reaped) == 0 and kill(reaped) == 0
    zombie = started("import sys; sys.exit(4)")
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped yet
    assert stop(zombie) == 4
    assert stop(zombie) == 4 and kill(zombie) == 4


def test_stop_ends_the_whole_group(started):
    proc = started(PARENT, SLEEPER)
    grandchild = int(proc.stdout.readline())
    assert os.getpgid(grandchild) == proc.pid
    assert stop(proc, timeout=30) == -signal.SIGTERM  # the child obeys SIGTERM at once ...
    wait_for(lambda: gone(grandchild), 30, "the grandchild to be killed")  # ... and the rest


def test_kill_skips_sigterm(started, tmp_path: Path):
    marker = tmp_path / "terminated"
    code = (
        "import signal, sys\n"
        f"signal.signal(signal.SIGTERM, lambda *a: (open({str(marker)!r}, 'w'), sys.exit(0)))\n"
        + SLEEPER
    )
    proc = started(code)
    assert proc.stdout.readline().strip() == "ready"
    assert kill(proc) == -signal.SIGKILL
    assert not marker.exists()


def test_stop_of_a_child_without_its_own_group():
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert stop(proc, timeout=30) == -signal.SIGTERM  # signalled alone, not our group
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
