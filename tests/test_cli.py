"""Tests of the ``swmr-widgets`` command line (no browser)."""

from __future__ import annotations

import ast
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from swmr_widgets import __version__, cli, processes, servers


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"swmr-widgets {__version__}"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["demo", "--rate", "0"], ["demo", "--interval", "-1"], ["view"], ["demo", "--port", "70000"]],
)
def test_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2


def test_view_of_a_missing_file_waits_for_it(tmp_path: Path) -> None:
    path, wait, title = cli.view_target(str(tmp_path / "later.h5"))
    assert wait is True and title == "later.h5" and not path.exists()


@pytest.mark.parametrize(
    "name", ["scan.h5", 'it\'s "quoted".h5', "back\\slash.h5", "ünïcødé scan.h5", "a\nb.h5"]
)
def test_viewer_notebook_embeds_path_safely(tmp_path: Path, name: str) -> None:
    h5 = tmp_path / name
    nb_path = servers.write_viewer_notebook(tmp_path, h5, interval=0.25)
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    code = "".join(nb["cells"][1]["source"])
    tree = ast.parse(code)
    call = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "SwmrView"
    )
    assert ast.literal_eval(call.args[0]) == str(h5)
    assert call.keywords[0].arg == "interval"
    assert ast.literal_eval(call.keywords[0].value) == 0.25
    # The heading is HTML-escaped markdown.
    md = "".join(nb["cells"][0]["source"])
    assert "<code>" in md and '"quoted"' not in md.split("<code>")[1].split("</code>")[0]


def test_server_commands() -> None:
    voila = servers.voila_command("nb.ipynb", 8866)
    assert voila[:3] == [sys.executable, "-m", "voila"]
    assert "--no-browser" in voila and "--port=8866" in voila and "--Voila.ip=127.0.0.1" in voila
    lab = servers.lab_command("/tmp", 8888, "tok")
    assert lab[:4] == [sys.executable, "-m", "jupyter", "lab"]
    assert "--ServerApp.token=tok" in lab and "--ServerApp.ip=127.0.0.1" in lab


def test_find_free_port() -> None:
    port = servers.find_free_port()
    assert 0 < port < 65536


def test_view_command_serves_and_stops(tmp_path: Path) -> None:
    """``view`` prints a URL that answers, and SIGTERM stops everything."""
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("voila")
    h5 = tmp_path / "missing-yet.h5"
    proc = processes.spawn(
        [sys.executable, "-m", "swmr_widgets.cli", "view", str(h5), "--no-browser", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 90
        lines = []
        assert proc.stdout is not None
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.match(r"URL: (http://127\.0\.0\.1:\d+/)$", line.strip())
            if m:
                url = m.group(1)
        assert url, "".join(lines)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children
        with urllib.request.urlopen(url, timeout=60) as resp:
            assert resp.status == 200
            assert "voila" in resp.read().decode(errors="replace").lower()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, [p.pid for p in alive]
    finally:
        processes.kill(proc, timeout=10)


def test_lab_session_state_is_private(tmp_path: Path) -> None:
    settings = servers.write_lab_settings(tmp_path / "settings")
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    assert json.loads(tracker.read_text())["autoStartDefaultKernel"] is True
    cmd = servers.lab_command(tmp_path / "served", 8888, "tok", state_dir=tmp_path)
    assert f"--LabApp.user_settings_dir={tmp_path / 'settings'}" in cmd
    assert f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}" in cmd
