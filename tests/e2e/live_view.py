"""Reading a live ``SwmrView`` in a browser page: figure lines, tree rows, toolbar, status.

Helpers shared by the e2e test modules. Every wait is bounded and fails with
an ``AssertionError`` that says what was seen. ``scope`` is a CSS selector
prefix (e.g. ``".jp-Notebook "``) for pages that show more than the view.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

FIGURE_SVG = ".bqplot.figure svg.svg-figure"
LINE = ".bqplot.figure path.line"
AXIS_LABEL = ".bqplot.figure text.axislabel"
TREE = ".swmr-tree"
ROW = ".swmr-tree-row[data-path]"
PLAY = "button.swmr-play"
STATUS = ".swmr-status"
#: A cell's traceback (Voila with ``show_tracebacks``, JupyterLab, Notebook 7).
ERROR_OUTPUT = "[data-mime-type='application/vnd.jupyter.error']"
#: A cell's standard error.
STDERR_OUTPUT = "[data-mime-type='application/vnd.jupyter.stderr']"
#: True once a JupyterLab 4 notebook's kernel is started and idle (status bar).
KERNEL_IDLE_JS = """() => {
  const bar = document.querySelector('#jp-main-statusbar');
  const text = bar ? bar.innerText : '';
  return !text.includes('No Kernel') && /\\|\\s*Idle/.test(text);
}"""
SHAPE_RE = re.compile(r"\d+")


def line_paths(page: Any, scope: str = "") -> list[str]:
    """Return the ``d`` attribute of every line mark on the page."""
    return page.eval_on_selector_all(scope + LINE, "els => els.map(e => e.getAttribute('d') || '')")


def wait_for_drawn_line(page: Any, timeout: float, scope: str = "") -> list[str]:
    """Wait until at least one line mark has a non-trivial path; return all paths."""
    deadline = time.monotonic() + timeout
    paths: list[str] = []
    while time.monotonic() < deadline:
        paths = line_paths(page, scope)
        if any(len(d) > 10 for d in paths):
            return paths
        time.sleep(0.2)
    raise AssertionError(
        f"no drawn line within {timeout:g} s; paths: {paths!r}; status: {status(page, scope)!r}"
    )


def _outputs_text(page: Any, selector: str) -> str:
    loc = page.locator(selector)
    return "\n".join(loc.nth(i).inner_text()[-3000:] for i in range(min(loc.count(), 3)))


def wait_for_view(page: Any, scope: str = "", timeout: float = 90.0) -> list[str]:
    """Wait for the tree, a bqplot figure and a drawn line; return the line paths.

    Fails at once with the traceback if the cell raised, and with any standard
    error output if the tree or the figure do not render in time.
    """
    deadline = time.monotonic() + timeout
    while not page.locator(scope + TREE).count():
        if page.locator(scope + ERROR_OUTPUT).count():
            pytest.fail("the viewer cell failed:\n" + _outputs_text(page, scope + ERROR_OUTPUT))
        stderr = _outputs_text(page, scope + STDERR_OUTPUT)
        if "Traceback" in stderr or "Error:" in stderr:
            pytest.fail("the viewer cell failed:\n" + stderr)
        if time.monotonic() > deadline:
            pytest.fail(f"the tree did not render within {timeout:g} s; stderr output: {stderr!r}")
        time.sleep(0.2)
    try:
        page.wait_for_selector(scope + FIGURE_SVG, timeout=60_000)
    except Exception as exc:
        pytest.fail(
            f"no bqplot figure rendered ({type(exc).__name__}); status: {status(page, scope)!r}; "
            f"stderr output: {_outputs_text(page, scope + STDERR_OUTPUT)!r}"
        )
    rows = page.locator(scope + ROW).count()
    assert rows > 0, "the tree shows no rows"
    return wait_for_drawn_line(page, timeout=30, scope=scope)


def wait_for_line_change(
    page: Any, before: list[str], timeout: float, scope: str = "", what: str = "the plotted line"
) -> list[str]:
    """Wait until the line paths differ from ``before``; return the new paths."""
    deadline = time.monotonic() + timeout
    now = line_paths(page, scope)
    while now == before and time.monotonic() < deadline:
        time.sleep(0.1)
        now = line_paths(page, scope)
    assert now != before, (
        f"{what} did not change within {timeout:g} s while the writer was running; "
        f"status: {status(page, scope)!r}"
    )
    return now


def assert_line_still(page: Any, duration: float, scope: str = "") -> list[str]:
    """Sample the line paths for ``duration`` s; fail if they change at all."""
    first = line_paths(page, scope)
    deadline = time.monotonic() + duration
    samples = 0
    while time.monotonic() < deadline:
        time.sleep(0.1)
        samples += 1
        now = line_paths(page, scope)
        assert now == first, (
            f"the plotted line changed while paused (sample {samples}, "
            f"{time.monotonic() - deadline + duration:.2f} s after the first read); "
            f"status: {status(page, scope)!r}"
        )
    return first


def status(page: Any, scope: str = "") -> str:
    """Text of the view's status line ('' if absent)."""
    loc = page.locator(scope + STATUS)
    return loc.first.text_content() or "" if loc.count() else ""


def tree_shape(page: Any, path: str, scope: str = "") -> str:
    """Shape text of the tree row of dataset ``path`` (textContent: rows may be off-screen)."""
    return page.text_content(f'{scope}.swmr-tree-row[data-path="{path}"] .swmr-tree-shape') or ""


def parse_shape(text: str) -> tuple[int, ...]:
    """``"(79, 512)"`` -> ``(79, 512)``."""
    return tuple(int(n) for n in SHAPE_RE.findall(text))


def wait_for_tree_growth(
    page: Any, path: str, timeout: float, scope: str = ""
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Wait until the tree shows a longer first dimension for ``path``; return (old, new)."""
    first = parse_shape(tree_shape(page, path, scope))
    assert first, f"no shape shown for {path}"
    deadline = time.monotonic() + timeout
    now = first
    while now[0] <= first[0] and time.monotonic() < deadline:
        time.sleep(0.2)
        now = parse_shape(tree_shape(page, path, scope))
    assert now[0] > first[0], (
        f"the tree still shows {path} as {first} after {timeout:g} s while the writer appends"
    )
    return first, now


def axis_labels(page: Any, scope: str = "") -> list[str]:
    """Texts of the axis labels of every bqplot figure."""
    return page.eval_on_selector_all(scope + AXIS_LABEL, "els => els.map(e => e.textContent)")


def wait_for_axis_label(page: Any, label: str, timeout: float, scope: str = "") -> list[str]:
    """Wait until some figure has the axis label ``label``; return all labels."""
    deadline = time.monotonic() + timeout
    labels = axis_labels(page, scope)
    while label not in labels and time.monotonic() < deadline:
        time.sleep(0.1)
        labels = axis_labels(page, scope)
    assert label in labels, f"no axis labelled {label!r} within {timeout:g} s; labels: {labels}"
    return labels


def play_button_text(page: Any, scope: str = "") -> str:
    """Text of the Live/Pause toggle button."""
    return (page.text_content(scope + PLAY) or "").strip()


def wait_for_play_state(page: Any, text: str, timeout: float = 10.0, scope: str = "") -> None:
    """Wait until the toggle button reads ``text`` (``"Pause"`` when live, else ``"Live"``)."""
    deadline = time.monotonic() + timeout
    while play_button_text(page, scope) != text and time.monotonic() < deadline:
        time.sleep(0.1)
    assert play_button_text(page, scope) == text, (
        f"the play button reads {play_button_text(page, scope)!r}, not {text!r}; "
        f"status: {status(page, scope)!r}"
    )


#: Image figures: bqplot figures holding the WebGL canvas of an image mark.
IMAGE_FIGURE = ".bqplot.figure"
#: The plot area of a figure (inside the axes).
PLOT_AREA = "rect.plotarea_background"


def image_colors(page: Any, scope: str = "") -> list[dict[str, int]]:
    """Size and number of distinct colours of the plot area of each image figure.

    The pixels are the page's own (a screenshot), so they show what WebGL
    painted, not what a mark was given.
    """
    import io

    from PIL import Image

    out = []
    for fig in page.locator(scope + IMAGE_FIGURE).all():
        if not fig.locator("canvas").count():
            continue
        box = fig.locator(PLOT_AREA).first.bounding_box()
        if not box or box["width"] < 4 or box["height"] < 4:
            out.append({"width": 0, "height": 0, "colors": 0})
            continue
        png = page.screenshot(clip=box)
        pixels = Image.open(io.BytesIO(png)).convert("RGB")
        out.append(
            {
                "width": pixels.width,
                "height": pixels.height,
                "colors": len(pixels.getcolors(maxcolors=1 << 20) or ()),
            }
        )
    return out
