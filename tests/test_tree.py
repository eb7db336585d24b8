"""DatasetTree: kernel-side behaviour and a real-browser check of ``static/tree.js``."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("anywidget")

from headless_chromium import find_chromium, shared_browser

from swmr_widgets import tree as tree_mod
from swmr_widgets.tree import AUTO_EXPAND_ALL, DatasetTree, default_expanded

STATIC = Path(tree_mod.__file__).parent / "static"


# ----------------------------------------------------------------------------
# a small node generator shaped like swmr_widgets.nodes.tree_nodes
# ----------------------------------------------------------------------------
def make_nodes(n_groups: int, per_group: int, extras: bool = True) -> list[dict]:
    """Depth-first nodes: /RawData/GRPggg/Dddd datasets, plus odd cases."""
    nodes: list[dict] = [{"path": "/", "name": "/", "parent": "", "kind": "group"}]
    nodes.append({"path": "/RawData", "name": "RawData", "parent": "/", "kind": "group"})
    for g in range(n_groups):
        gp = f"/RawData/GRP{g:03d}"
        nodes.append({"path": gp, "name": f"GRP{g:03d}", "parent": "/RawData", "kind": "group"})
        for d in range(per_group):
            nodes.append(
                {
                    "path": f"{gp}/D{d:03d}",
                    "name": f"D{d:03d}",
                    "parent": gp,
                    "kind": "dataset",
                    "shape": [d, 4] if d % 2 else [d],
                    "dtype": "float64",
                    "plottable": True,
                    "reason": "",
                    "label": f"channel {d}",
                    "units": "V",
                }
            )
    if extras:
        nodes.append({"path": "/Meta", "name": "Meta", "parent": "/", "kind": "group"})
        nodes.append(
            {
                "path": "/Meta/notes",
                "name": "notes",
                "parent": "/Meta",
                "kind": "dataset",
                "shape": [],
                "dtype": "|S20",
                "plottable": False,
                "reason": "strings cannot be plotted",
                "label": "",
                "units": "",
            }
        )
        nodes.append(
            {
                "path": "/Meta/alias",
                "name": "alias",
                "parent": "/Meta",
                "kind": "link",
                "reason": "soft link to /RawData (not followed)",
            }
        )
    return nodes


class Recorder:
    """Records the comm messages a widget sends (ipywidgets 8 uses a DummyComm here)."""

    def __init__(self, widget: DatasetTree) -> None:
        self.messages: list[dict] = []
        widget.comm.send = self._send  # type: ignore[method-assign]

    def _send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self.messages.append(data)

    def states(self) -> list[dict]:
        return [m["state"] for m in self.messages if m.get("method") == "update"]

    def clear(self) -> None:
        self.messages.clear()


def from_frontend(widget: DatasetTree, **state: Any) -> None:
    """Deliver a state update as the frontend's ``save_changes()`` would."""
    widget._handle_msg(
        {
            "content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
            "buffers": [],
        }
    )


@pytest.fixture
def widget() -> Iterator[DatasetTree]:
    w = DatasetTree()
    yield w
    w.close()


# ----------------------------------------------------------------------------
# kernel side
# ----------------------------------------------------------------------------
def test_static_files_ship_with_the_package(widget: DatasetTree) -> None:
    assert (STATIC / "tree.js").is_file() and (STATIC / "tree.css").is_file()
    assert "export default" in str(widget._esm)
    assert ".swmr-tree-row" in str(widget._css)


def test_set_nodes_copies_and_indexes(widget: DatasetTree) -> None:
    nodes = make_nodes(3, 4)
    before = json.dumps(nodes)
    widget.set_nodes(nodes)
    assert json.dumps(nodes) == before  # the caller's dicts are not touched
    assert [n["path"] for n in widget.nodes] == [n["path"] for n in nodes]
    assert widget.nodes[3] is not nodes[3]
    assert widget.dataset_paths == tuple(n["path"] for n in nodes if n["kind"] == "dataset")
    assert len(widget.dataset_paths) == 13
    assert widget.dataset_paths[0] == "/RawData/GRP000/D000"


def test_set_nodes_is_one_message(widget: DatasetTree) -> None:
    rec = Recorder(widget)
    widget.set_nodes(make_nodes(2, 2))
    states = rec.states()
    assert len(states) == 1
    assert {"nodes", "expanded"} <= set(states[0])


def test_nodes_are_validated(widget: DatasetTree) -> None:
    import traitlets

    with pytest.raises(traitlets.TraitError):
        widget.set_nodes([{"name": "x"}])


def test_default_expansion_small_tree_expands_all(widget: DatasetTree) -> None:
    nodes = make_nodes(3, 4)
    widget.set_nodes(nodes)
    assert set(widget.expanded) == {n["path"] for n in nodes if n["kind"] == "group"}


def test_default_expansion_large_tree_opens_the_first_dataset(widget: DatasetTree) -> None:
    nodes = make_nodes(20, 20)
    assert len(nodes) > AUTO_EXPAND_ALL
    widget.set_nodes(nodes)
    assert widget.expanded == ["/", "/RawData", "/RawData/GRP000"]
    assert default_expanded([]) == []


def test_set_nodes_keeps_existing_expansion(widget: DatasetTree) -> None:
    widget.set_nodes(make_nodes(20, 20))
    from_frontend(widget, expanded=["/RawData", "/RawData/GRP005"])
    widget.set_nodes(make_nodes(10, 20))
    assert widget.expanded == ["/RawData", "/RawData/GRP005"]
    widget.set_nodes(make_nodes(2, 200))  # GRP005 gone, /RawData still there
    assert widget.expanded == ["/RawData"]


def test_update_shapes_sends_only_changes(widget: DatasetTree) -> None:
    widget.set_nodes(make_nodes(2, 3))
    rec = Recorder(widget)
    a, b, c = "/RawData/GRP000/D000", "/RawData/GRP000/D001", "/RawData/GRP001/D002"
    # nothing changed: no message at all
    widget.update_shapes({a: (0,), b: [1, 4], c: (2,)})
    assert rec.messages == []
    # one changed (numpy-ish ints and tuples are fine)
    widget.update_shapes({a: (0,), b: (2, 4), c: (2,), "/no/such": (9,)})
    assert rec.states() == [{"shapes": {b: [2, 4]}}]
    assert widget.shapes == {b: [2, 4]}
    # same again: nothing sent
    rec.clear()
    widget.update_shapes({b: (2, 4)})
    assert rec.messages == []
    # two changed, in one message
    widget.update_shapes({a: (5,), b: (3, 4), c: (2,)})
    assert rec.states() == [{"shapes": {a: [5], b: [3, 4]}}]


def test_update_shapes_keeps_full_state_current(widget: DatasetTree) -> None:
    nodes = make_nodes(1, 3)
    widget.set_nodes(nodes)
    path = "/RawData/GRP000/D002"
    widget.update_shapes({path: (7,)})
    widget.update_shapes({"/RawData/GRP000/D000": (1,)})
    # a page reload gets `nodes` with current shapes, without `nodes` being resent
    state = widget.get_state()
    by_path = {n["path"]: n for n in state["nodes"]}
    assert by_path[path]["shape"] == [7]
    assert by_path["/RawData/GRP000/D000"]["shape"] == [1]
    assert next(n for n in nodes if n["path"] == path)["shape"] == [2]  # input untouched


def test_set_nodes_with_equal_nodes_after_shape_updates(widget: DatasetTree) -> None:
    widget.set_nodes(make_nodes(1, 3))
    path = "/RawData/GRP000/D000"
    widget.update_shapes({path: (4,)})
    again = make_nodes(1, 3)
    next(n for n in again if n["path"] == path)["shape"] = [4]
    widget.set_nodes(again)  # equal to the current state: nothing to resend
    widget.update_shapes({path: (5,)})
    assert next(n for n in widget.nodes if n["path"] == path)["shape"] == [5]
    assert widget.shapes == {path: [5]}


def test_nodes_in_constructor() -> None:
    w = DatasetTree(nodes=make_nodes(1, 2))
    try:
        assert w.dataset_paths == ("/RawData/GRP000/D000", "/RawData/GRP000/D001", "/Meta/notes")
        assert "/RawData/GRP000" in w.expanded
    finally:
        w.close()


def test_set_nodes_clears_shapes(widget: DatasetTree) -> None:
    widget.set_nodes(make_nodes(1, 3))
    widget.update_shapes({"/RawData/GRP000/D000": (4,)})
    widget.set_nodes(make_nodes(1, 3))
    assert widget.shapes == {}
    rec = Recorder(widget)
    widget.update_shapes({"/RawData/GRP000/D000": (4,)})  # changed again vs the new nodes
    assert rec.states() == [{"shapes": {"/RawData/GRP000/D000": [4]}}]


def test_selected_round_trip(widget: DatasetTree) -> None:
    widget.set_nodes(make_nodes(20, 20))
    rec = Recorder(widget)
    path = "/RawData/GRP007/D003"
    widget.selected = (path,)
    sent = [json.loads(json.dumps(s)) for s in rec.states() if "selected" in s]
    assert sent == [{"selected": [path]}]
    # the groups above a selection set from Python are expanded so it is visible
    assert "/RawData/GRP007" in widget.expanded

    seen: list[tuple] = []
    widget.observe(lambda ch: seen.append(ch["new"]), names="selected")
    other = "/RawData/GRP007/D004"
    from_frontend(widget, selected=[path, other])
    assert widget.selected == (path, other)
    assert isinstance(widget.selected, tuple)
    assert seen == [(path, other)]


def test_single_selection_mode(widget: DatasetTree) -> None:
    widget.set_nodes(make_nodes(1, 4))
    a, b = "/RawData/GRP000/D000", "/RawData/GRP000/D001"
    widget.selected = (a, b, a)
    assert widget.selected == (a, b)  # duplicates dropped
    widget.multiple = False
    assert widget.selected == (a,)
    widget.selected = (b, a)
    assert widget.selected == (b,)


def test_filter_and_expanded_from_frontend(widget: DatasetTree) -> None:
    widget.set_nodes(make_nodes(2, 2))
    from_frontend(widget, filter="grp001", expanded=["/RawData"])
    assert widget.filter == "grp001"
    assert widget.expanded == ["/RawData"]


def test_state_is_json_serialisable(widget: DatasetTree) -> None:
    widget.set_nodes(make_nodes(3, 3))
    widget.update_shapes({"/RawData/GRP000/D000": (3,)})
    widget.selected = ("/Meta/notes",)
    text = json.dumps(widget.get_state())
    assert "/Meta/alias" in text
    json.dumps(widget.nodes)


def test_5000_datasets_are_set_quickly(widget: DatasetTree) -> None:
    nodes = make_nodes(100, 50)
    rec = Recorder(widget)
    t0 = time.perf_counter()
    widget.set_nodes(nodes)
    elapsed = time.perf_counter() - t0
    assert len(widget.dataset_paths) == 5001
    assert len(rec.states()) == 1
    assert elapsed < 1.0, f"set_nodes(5,000 datasets) took {elapsed:.3f} s"
    # a full shape sweep with three changes sends three paths only
    shapes = {n["path"]: n["shape"] for n in nodes if n["kind"] == "dataset"}
    for p in widget.dataset_paths[:3]:
        shapes[p] = [999]
    rec.clear()
    t0 = time.perf_counter()
    widget.update_shapes(shapes)
    elapsed = time.perf_counter() - t0
    assert [len(s["shapes"]) for s in rec.states()] == [3]
    assert elapsed < 0.2, f"update_shapes(5,000) took {elapsed:.3f} s"


# ----------------------------------------------------------------------------
# real browser: static/tree.js in headless Chromium with a fake model
# ----------------------------------------------------------------------------
HARNESS = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="tree.css"></head>
<body><div id="host" style="width: 520px"></div>
<script type="module">
import widget from "./tree.js";
class FakeModel {
  constructor(state) { this.state = state; this.handlers = new Map(); this.saves = 0; }
  get(name) { return this.state[name]; }
  set(name, value) {
    const old = this.state[name];
    this.state[name] = value;
    if (old !== value) this.emit("change:" + name);
  }
  on(name, cb) {
    if (!this.handlers.has(name)) this.handlers.set(name, []);
    this.handlers.get(name).push(cb);
  }
  off(name, cb) {
    const list = this.handlers.get(name) || [];
    const at = list.indexOf(cb);
    if (at >= 0) list.splice(at, 1);
  }
  save_changes() { this.saves += 1; }
  emit(name) { for (const cb of [...(this.handlers.get(name) || [])]) cb(this, this.state); }
}
window.mount = async (state) => {
  if (window.cleanup) { window.cleanup(); window.cleanup = null; }
  const host = document.getElementById("host");
  host.replaceChildren();
  const model = new FakeModel({ shapes: {}, selected: [], filter: "", multiple: true,
                                expanded: [], nodes: [], ...state });
  window.model = model;
  const t0 = performance.now();
  widget.initialize({ model });
  const cleanup = widget.render({ model, el: host });
  const rows = host.querySelectorAll(".swmr-tree-row").length;  // forces nothing
  void host.offsetHeight;  // style and layout
  const script = performance.now() - t0;
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const painted = performance.now() - t0;
  window.cleanup = cleanup;
  return { rows, script, painted };
};
window.ready = true;
</script></body></html>
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def harness_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve tree.js, tree.css and the harness page on 127.0.0.1 (free port)."""
    root = tmp_path_factory.mktemp("tree_harness")
    shutil.copy(STATIC / "tree.js", root / "tree.js")
    shutil.copy(STATIC / "tree.css", root / "tree.css")
    (root / "index.html").write_text(HARNESS)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium, shared with the e2e tests (see ``tests/headless_chromium.py``)."""
    if find_chromium() is None:
        pytest.skip("chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    with shared_browser() as browser:
        yield browser


@pytest.fixture
def page(chromium: Any, harness_url: str) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1000, "height": 800})
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(harness_url, timeout=20_000)
    pg.wait_for_function("window.ready === true", timeout=20_000)
    try:
        yield pg
        assert errors == []
    finally:
        context.close()


def _mount(page: Any, nodes: list[dict], **state: Any) -> dict:
    return page.evaluate("(s) => window.mount(s)", {"nodes": nodes, **state})


def _rows(page: Any, kind: str | None = None) -> int:
    sel = ".swmr-tree-row" + (f'[data-kind="{kind}"]' if kind else "")
    return page.locator(sel).count()


BIG = make_nodes(100, 50)  # 5,001 datasets, 103 groups, 1 link
GROUPS = [n["path"] for n in BIG if n["kind"] == "group"]


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_browser_renders_5000_datasets_fast(page: Any) -> None:
    # worst case: every group expanded, so all 5,001 dataset rows are in the DOM
    best = min((_mount(page, BIG, expanded=GROUPS) for _ in range(3)), key=lambda r: r["script"])
    assert best["rows"] == len(BIG) - 1  # all but the invisible root
    print(
        f"\n5,000 datasets, all expanded: {best['script']:.1f} ms script+layout, "
        f"{best['painted']:.1f} ms to paint"
    )
    # The 1 s target is measured by the benchmarks (P6), not here: this bound only
    # catches a tree that no longer renders in reasonable time on a loaded machine.
    assert best["painted"] < 15_000
    # default: lazy, only the first group's children are built
    lazy = _mount(page, BIG, expanded=default_expanded(BIG))
    print(f"5,000 datasets, default expansion: {lazy['painted']:.1f} ms to paint")
    assert lazy["rows"] == 1 + 100 + 50 + 1  # RawData, its groups, GRP000's datasets, Meta
    assert page.locator(".swmr-tree-count").inner_text() == "5001 datasets"
    assert page.locator(".swmr-tree-list").evaluate("e => e.scrollHeight > e.clientHeight")


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_browser_click_selects_and_toggles(page: Any) -> None:
    _mount(page, BIG, expanded=default_expanded(BIG))
    a, b = "/RawData/GRP000/D010", "/RawData/GRP000/D020"
    page.click(f'.swmr-tree-row[data-path="{a}"]')
    assert page.evaluate("window.model.get('selected')") == [a]
    assert page.evaluate("window.model.saves") == 1
    assert page.locator(".swmr-tree-row.selected").count() == 1
    page.click(f'.swmr-tree-row[data-path="{b}"]', modifiers=["Control"])
    assert page.evaluate("window.model.get('selected')") == [a, b]
    page.click(f'.swmr-tree-row[data-path="{a}"]', modifiers=["Shift"])
    assert page.evaluate("window.model.get('selected')") == [b]
    page.click(f'.swmr-tree-row[data-path="{a}"]')
    assert page.evaluate("window.model.get('selected')") == [a]
    assert page.get_attribute(".swmr-tree-row.selected", "data-path") == a
    # single-selection mode: a modified click selects one
    page.evaluate("window.model.set('multiple', false)")
    page.click(f'.swmr-tree-row[data-path="{b}"]', modifiers=["Control"])
    assert page.evaluate("window.model.get('selected')") == [b]
    # a selection from the kernel is highlighted without a re-render
    page.evaluate(f"window.model.set('selected', ['{a}'])")
    assert page.get_attribute(".swmr-tree-row.selected", "data-path") == a

    # groups: a click collapses / expands and updates `expanded`
    page.click('.swmr-tree-row[data-path="/RawData/GRP000"]')
    assert "/RawData/GRP000" not in page.evaluate("window.model.get('expanded')")
    assert _rows(page, "dataset") == 0
    page.click('.swmr-tree-row[data-path="/RawData/GRP001"]')
    assert "/RawData/GRP001" in page.evaluate("window.model.get('expanded')")
    assert _rows(page, "dataset") == 50

    # a non-plottable dataset: greyed, reason as tooltip, still selectable
    page.click('.swmr-tree-row[data-path="/Meta"]')
    notes = page.locator('.swmr-tree-row[data-path="/Meta/notes"]')
    assert "unplottable" in notes.get_attribute("class")
    assert "strings cannot be plotted" in notes.get_attribute("title")
    notes.click()
    assert page.evaluate("window.model.get('selected')") == ["/Meta/notes"]
    # a link is shown but not selectable
    page.click('.swmr-tree-row[data-path="/Meta/alias"]')
    assert page.evaluate("window.model.get('selected')") == ["/Meta/notes"]


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_browser_filter(page: Any) -> None:
    _mount(page, BIG, expanded=default_expanded(BIG))
    page.fill(".swmr-tree-filter", "grp042/")
    assert page.evaluate("window.model.get('filter')") == "grp042/"
    assert page.evaluate("window.model.saves") >= 1
    assert _rows(page, "dataset") == 50
    assert _rows(page, "group") == 2  # RawData and GRP042
    assert page.locator(".swmr-tree-count").inner_text() == "50 of 5001 datasets"
    page.fill(".swmr-tree-filter", "D007")  # case-insensitive, over all groups
    assert _rows(page, "dataset") == 100
    t0 = time.perf_counter()
    page.fill(".swmr-tree-filter", "/rawdata/")  # matches all 5,000
    print(f"\nfilter matching 5,000 datasets: {1000 * (time.perf_counter() - t0):.0f} ms")
    assert _rows(page, "dataset") == 5000
    page.fill(".swmr-tree-filter", "no such thing")
    assert _rows(page) == 0
    assert page.locator(".swmr-tree-empty").count() == 1
    # the kernel sets the filter: the text box follows
    page.evaluate("window.model.set('filter', 'meta')")
    assert page.input_value(".swmr-tree-filter") == "meta"
    assert _rows(page) == 3
    page.fill(".swmr-tree-filter", "")
    assert _rows(page, "dataset") == 50  # back to the expanded groups


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_browser_shape_update_touches_only_the_row(page: Any) -> None:
    _mount(page, BIG, expanded=default_expanded(BIG))
    path = "/RawData/GRP000/D003"
    row = f'.swmr-tree-row[data-path="{path}"]'
    assert page.inner_text(f"{row} .swmr-tree-shape") == "(3, 4)"
    assert page.inner_text('.swmr-tree-row[data-path="/RawData/GRP000/D002"] .swmr-tree-shape') == (
        "(2,)"
    )
    page.evaluate(f"document.querySelector('{row}').dataset.mark = 'kept'")
    page.evaluate(
        "(p) => window.model.set('shapes', {[p]: [0, 512], '/RawData/GRP050/D001': [9, 4]})", path
    )
    assert page.inner_text(f"{row} .swmr-tree-shape") == "(0, 512)"
    assert page.get_attribute(row, "data-mark") == "kept"  # same element: no re-render
    # a hidden row's new shape shows when its group is expanded
    page.click('.swmr-tree-row[data-path="/RawData/GRP050"]')
    # (a long list's off-screen rows have an empty innerText: read textContent)
    shape = page.text_content('.swmr-tree-row[data-path="/RawData/GRP050/D001"] .swmr-tree-shape')
    assert shape == "(9, 4)"
    assert page.get_attribute(row, "data-mark") is None  # that click did re-render


def test_harness_server_stops(harness_url: str) -> None:
    """The module's http server answers (teardown stops it)."""
    import urllib.request

    with contextlib.closing(urllib.request.urlopen(harness_url, timeout=10)) as resp:
        assert resp.status == 200
