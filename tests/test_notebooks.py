"""Run the notebooks in ``notebooks/`` top to bottom with nbclient.

Each notebook starts (and stops) its own demo writer in a temporary directory.
The kernel is this test's own interpreter (``sys.executable``), through a
kernel spec written into a temporary directory, so the test never picks up a
system-wide ``python3`` kernel by accident.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("jupyter_client")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL_NAME = "swmr-widgets-test"
CELL_TIMEOUT = 60  # seconds per cell
NOTEBOOK_BUDGET = 60.0  # seconds per notebook (execution, kernel start excluded)


@pytest.fixture(scope="module")
def kernel_spec_manager(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A kernel spec manager that knows one kernel: this interpreter."""
    kernels = tmp_path_factory.mktemp("kernels")
    spec_dir = kernels / KERNEL_NAME
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "swmr_widgets tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(kernels)])


def run_notebook(name: str, ksm: KernelSpecManager, workdir: Path) -> tuple[Any, float]:
    """Execute ``notebooks/<name>`` in ``workdir``; return it and the run time."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm)
    client = nbclient.NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT,
        startup_timeout=120,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    started = [c.metadata.get("execution", {}).get("iopub.execute_input") for c in cells]
    ended = [c.metadata.get("execution", {}).get("shell.execute_reply") for c in cells]
    elapsed = _span(started[0], ended[-1]) if started and started[0] and ended[-1] else 0.0
    return nb, elapsed


def _span(t0: str, t1: str) -> float:
    from datetime import datetime

    def parse(t: str) -> float:
        return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()

    return parse(t1) - parse(t0)


def text_of(nb: Any) -> str:
    """All stream and text/plain output of the notebook, as one string."""
    parts: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(str(out["data"].get("text/plain", "")))
    return "\n".join(parts)


def widget_outputs(nb: Any) -> list[dict[str, Any]]:
    """The widget-view outputs (``application/vnd.jupyter.widget-view+json``)."""
    mime = "application/vnd.jupyter.widget-view+json"
    return [
        out["data"][mime]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if mime in out.get("data", {})
    ]


def assert_no_errors(nb: Any) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", "".join(out.get("traceback", []))
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                assert "Traceback" not in out.get("text", ""), out["text"]


def _processes_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """PIDs of ``pids`` still running after ``timeout`` s."""
    psutil = pytest.importorskip("psutil")
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [
            p
            for p in alive
            if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
        if not alive:
            break
        time.sleep(0.2)
    return alive


def _writer_pids(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"writer pid (\d+)", text)]


@pytest.mark.parametrize("name", ["quickstart.ipynb", "pymodaq_scan.ipynb", "core_polling.ipynb"])
def test_notebook_outputs_are_cleared(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{name}: committed with outputs"
            assert cell.execution_count is None, f"{name}: committed with execution counts"


def test_quickstart(kernel_spec_manager: KernelSpecManager, tmp_path: Path) -> None:
    nb, elapsed = run_notebook("quickstart.ipynb", kernel_spec_manager, tmp_path)
    assert_no_errors(nb)
    assert elapsed < NOTEBOOK_BUDGET, f"took {elapsed:.1f} s"
    text = text_of(nb)
    # The view was displayed as a widget, and it knows the demo's datasets.
    assert widget_outputs(nb), "SwmrView was not displayed"
    assert "/RawData/CH000/Data0D/Data00/data" in text
    # The selection made from code is reported back, with figures for it.
    m = re.search(r"figures shown: (\d+)", text)
    assert m and int(m.group(1)) >= 1, text
    # The tools cell: an ROI trend, a derived trend and an export
    m = re.search(r"ROI sums so far: (\d+) · peak positions so far: (\d+)", text)
    assert m and int(m.group(1)) >= 1 and int(m.group(2)) >= 1, text
    assert "exported: shown.h5" in text
    # The writer it started is stopped by the last cells.
    pids = _writer_pids(text)
    assert pids, text
    assert not _processes_gone(pids), "the demo writer is still running"
    assert "writer running: False" in text


def test_pymodaq_scan(kernel_spec_manager: KernelSpecManager, tmp_path: Path) -> None:
    nb, elapsed = run_notebook("pymodaq_scan.ipynb", kernel_spec_manager, tmp_path)
    assert_no_errors(nb)
    assert elapsed < NOTEBOOK_BUDGET, f"took {elapsed:.1f} s"
    text = text_of(nb)
    assert "/RawData/Scan000/" in text
    # Progress of the pre-allocated scan arrays moves forward between two looks.
    steps = [(int(a), int(b)) for a, b in re.findall(r"filled (\d+) of (\d+)", text)]
    assert len(steps) >= 2, text
    assert steps[-1][0] > steps[0][0], steps
    assert all(0 <= a <= b for a, b in steps), steps
    pids = _writer_pids(text)
    assert pids, text
    assert not _processes_gone(pids), "the demo writer is still running"


def test_core_polling(kernel_spec_manager: KernelSpecManager, tmp_path: Path) -> None:
    nb, elapsed = run_notebook("core_polling.ipynb", kernel_spec_manager, tmp_path)
    assert_no_errors(nb)
    assert elapsed < NOTEBOOK_BUDGET, f"took {elapsed:.1f} s"
    text = text_of(nb)
    assert not widget_outputs(nb), "the core notebook should not need widgets"
    # The polling loop saw the dataset grow.
    lengths = [int(n) for n in re.findall(r"poll \d+: (\d+) rows", text)]
    assert len(lengths) >= 3, text
    assert lengths == sorted(lengths) and lengths[-1] > lengths[0], lengths
    # The follower delivered new rows incrementally.
    news = [int(n) for n in re.findall(r"follower: (\d+) new rows", text)]
    assert news and sum(news) > 0, text
    pids = _writer_pids(text)
    assert pids, text
    assert not _processes_gone(pids), "the demo writer is still running"
