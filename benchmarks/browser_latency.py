"""P6 in a real browser: writer flush -> changed SVG, and the 5,000-dataset tree, in Voila.

Run from the repository root::

    python benchmarks/browser_latency.py              # both intervals, >= 25 changes each
    python benchmarks/browser_latency.py --quick      # a smoke run (8 changes, 1 tree load)

It prints a table and writes ``benchmarks/results/browser_latency.json``.

Method
------
*Latency.* A writer process (this script with ``--writer``) holds an HDF5 file
in SWMR mode with one growing dataset. The benchmark asks it to append one row
at random moments (gaps longer than the expected latency, so each change has
one cause); after each ``flush()`` the writer reports ``time.time()``. A Voila
page (headless Chromium) shows ``SwmrView(file, interval=I)`` with that dataset
selected; a ``MutationObserver`` on the ``d`` attribute of the line records
``performance.timeOrigin + performance.now()`` of each change, and of the
animation frame after it (the frame that shows it). Browser and writer run on
the same machine, so both clocks are the same wall clock. Each change is
matched to the latest flush before it; a flush with no change before the next
flush counts as *missed*.

*Tree.* A closed file with 100 groups x 50 datasets (5,000 datasets) is shown
in a fresh Voila page, several times. An init script records, relative to the
start of the page load: when ``.swmr-tree`` appears, when the number of tree
rows reaches its final value, and when the first figure has a drawn line. The
notebook also stamps the kernel's wall clock just after ``SwmrView(...)``
returned (the moment the widget is displayed), so the time from the kernel's
display to rows present is reported too.

Targets (design P6): latency p50 <= interval + 150 ms; the tree renders in <= 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from swmr_widgets import processes

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DEFAULT_OUTPUT = HERE / "results" / "browser_latency.json"
DATASET = "/signal/data"
#: Target of P6: p50 latency <= interval + this many seconds.
LATENCY_SLACK = 0.150
#: Target of P6: tree of 5,000 datasets rendered within this many seconds.
TREE_TARGET = 1.0


# --------------------------------------------------------------------------- the writer process


def run_writer(path: Path) -> int:
    """Writer mode: create ``path``, switch SWMR on, append one row per ``append`` line.

    Prints ``ready`` once SWMR is on, then ``flushed <time.time()>`` after each
    append. Ends on ``quit`` or at the end of standard input.
    """
    import h5py
    import numpy as np

    rng = np.random.default_rng(0)
    with h5py.File(path, "w", libver="latest") as f:
        ds = f.create_dataset(
            DATASET, data=rng.random(50), maxshape=(None,), chunks=(1024,), dtype="f8"
        )
        ds.attrs["units"] = "V"
        ds.attrs["long_name"] = "signal"
        f.swmr_mode = True
        f.flush()
        print("ready", flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            if command != "append":
                continue
            n = ds.shape[0]
            ds.resize((n + 1,))
            ds[n] = rng.random()
            ds.flush()
            print(f"flushed {time.time():.6f}", flush=True)
    return 0


class Writer:
    """The writer process, driven line by line."""

    def __init__(self, path: Path) -> None:
        self.proc = processes.spawn(
            [sys.executable, str(Path(__file__).resolve()), "--writer", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._expect("ready")

    def _expect(self, word: str) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith(word):
            self.stop()
            raise RuntimeError(f"the writer said {line!r}, expected {word!r}")
        return line

    def append(self) -> float:
        """Append one row; return the wall-clock time right after its flush."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("append\n")
        self.proc.stdin.flush()
        return float(self._expect("flushed").split()[1])

    def stop(self) -> None:
        """Ask the writer to quit; kill it by PID if it does not."""
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            processes.kill(self.proc, timeout=10)
        with contextlib.suppress(OSError):
            assert self.proc.stdout is not None
            self.proc.stdout.close()


# --------------------------------------------------------------------------- helpers


def _import_helpers() -> tuple[Any, Any]:
    """The shared Chromium launcher and the e2e tests' server helpers."""
    for sub in ("tests", "tests/e2e"):
        path = str(REPO_ROOT / sub)
        if path not in sys.path:
            sys.path.insert(0, path)
    import headless_chromium
    import live_servers

    return headless_chromium, live_servers


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation; NaN when empty."""
    if not values:
        return float("nan")
    data = sorted(values)
    pos = (len(data) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    """n, p50, p90, mean, min, max of ``values_s`` (seconds) in milliseconds."""
    ms = [1000.0 * v for v in values_s]
    return {
        "n": len(ms),
        "p50": percentile(ms, 0.5),
        "p90": percentile(ms, 0.9),
        "mean": statistics.fmean(ms) if ms else float("nan"),
        "min": min(ms) if ms else float("nan"),
        "max": max(ms) if ms else float("nan"),
    }


@contextlib.contextmanager
def voila(live_servers: Any, notebook: Path, workdir: Path) -> Iterator[Any]:
    """A Voila server on ``notebook`` (stopped by PID on exit)."""
    with live_servers.running_server("voila", notebook, workdir) as server:
        yield server


# --------------------------------------------------------------------------- latency

#: Records every change of the `d` attribute of the line marks, and the frame after it.
OBSERVE_LINES_JS = """() => {
  window.__changes = [];
  window.__frames = [];
  const now = () => performance.timeOrigin + performance.now();
  const onChange = () => {
    window.__changes.push(now());
    requestAnimationFrame(() => window.__frames.push(now()));
  };
  const attach = () => {
    for (const el of document.querySelectorAll('.bqplot.figure path.line')) {
      if (el.__swmrObserved) continue;
      el.__swmrObserved = true;
      new MutationObserver(onChange).observe(el, { attributes: true, attributeFilter: ['d'] });
    }
  };
  attach();
  new MutationObserver(attach).observe(document.body, { childList: true, subtree: true });
  return document.querySelectorAll('.bqplot.figure path.line').length;
}"""


def match_changes(flushes: Sequence[float], changes: Sequence[float]) -> list[tuple[int, float]]:
    """Pair each flush with the first change after it and before the next flush.

    Parameters
    ----------
    flushes, changes : sequence of float
        Wall-clock times in seconds, ``flushes`` in increasing order.

    Returns
    -------
    list of (int, float)
        ``(flush index, change time)`` for every flush followed by a change.
    """
    pairs: list[tuple[int, float]] = []
    ordered = sorted(changes)
    j = 0
    for i, flush in enumerate(flushes):
        end = flushes[i + 1] if i + 1 < len(flushes) else float("inf")
        while j < len(ordered) and ordered[j] <= flush:
            j += 1
        if j < len(ordered) and ordered[j] < end:
            pairs.append((i, ordered[j]))
    return pairs


def measure_latency(
    browser: Any,
    live_servers: Any,
    workdir: Path,
    interval: float,
    changes: int,
    seed: int,
) -> dict[str, Any]:
    """Flush -> SVG change latency for one polling ``interval``."""
    h5 = workdir / f"latency-{interval:g}.h5"
    writer = Writer(h5)
    try:
        code = (
            "from swmr_widgets import SwmrView\n"
            f"view = SwmrView({str(h5)!r}, interval={interval!r}, selected=({DATASET!r},))\n"
            "view"
        )
        nb = live_servers.write_code_notebook(workdir, code, f"latency-{interval:g}.ipynb")
        with voila(live_servers, nb, workdir) as server:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            try:
                page = context.new_page()
                page.goto(server.url("/"), wait_until="domcontentloaded", timeout=90_000)
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.bqplot.figure path.line')]"
                    ".some(e => (e.getAttribute('d') || '').length > 10)",
                    timeout=90_000,
                )
                time.sleep(max(1.0, 3 * interval))  # let the first reads settle
                page.evaluate(OBSERVE_LINES_JS)
                rng = random.Random(seed)
                low = max(0.6, 2 * interval + 0.3)
                flushes: list[float] = []
                for _ in range(changes):
                    time.sleep(rng.uniform(low, low + 0.5))
                    flushes.append(writer.append())
                time.sleep(low + 0.5)
                seen_ms = page.evaluate("() => [window.__changes, window.__frames]")
            finally:
                context.close()
    finally:
        writer.stop()
    change_times = [t / 1000.0 for t in seen_ms[0]]
    frame_times = sorted(t / 1000.0 for t in seen_ms[1])
    pairs = match_changes(flushes, change_times)
    to_dom = [t - flushes[i] for i, t in pairs]
    to_frame = []
    for i, t in pairs:
        after = next((f for f in frame_times if f >= t), None)
        if after is not None:
            to_frame.append(after - flushes[i])
    return {
        "interval_s": interval,
        "flushes": len(flushes),
        "changes_seen": len(change_times),
        "missed": len(flushes) - len(pairs),
        "to_dom_ms": summary_ms(to_dom),
        "to_frame_ms": summary_ms(to_frame),
        "samples_ms": [round(1000.0 * v, 2) for v in to_dom],
        "target_ms": 1000.0 * (interval + LATENCY_SLACK),
    }


# --------------------------------------------------------------------------- tree


def make_tree_file(path: Path, groups: int = 100, per_group: int = 50) -> int:
    """Write a closed file with ``groups * per_group`` small datasets; return their number."""
    import h5py
    import numpy as np

    values = np.linspace(0.0, 1.0, 16)
    with h5py.File(path, "w", libver="latest") as f:
        for g in range(groups):
            grp = f.create_group(f"RawData/GRP{g:03d}")
            for d in range(per_group):
                ds = grp.create_dataset(f"D{d:03d}", data=values + d)
                ds.attrs["units"] = "V"
    return groups * per_group


#: Records (relative to the start of the page load) when the tree appears,
#: every change of its row count, and the first figure with a drawn line.
TREE_INIT_JS = """(() => {
  const t = { tree: null, rows: [], figure: null };
  window.__tree = t;
  const check = () => {
    const now = performance.now();
    if (t.tree === null && document.querySelector('.swmr-tree')) t.tree = now;
    const n = document.querySelectorAll('.swmr-tree-row').length;
    if (!t.rows.length || t.rows[t.rows.length - 1][1] !== n) t.rows.push([now, n]);
    if (t.figure === null) {
      for (const e of document.querySelectorAll('.bqplot.figure path.line')) {
        if ((e.getAttribute('d') || '').length > 10) { t.figure = now; break; }
      }
    }
  };
  const start = () => {
    new MutationObserver(check).observe(document.documentElement,
      { childList: true, subtree: true, attributes: true, attributeFilter: ['d'] });
    check();
  };
  if (document.documentElement) start();
  else document.addEventListener('DOMContentLoaded', start);
})();"""


#: Type a filter matching every dataset (all groups open: 5,000+ rows in the DOM)
#: and time it until the second animation frame after the input event.
FILTER_ALL_JS = """async () => {
  const input = document.querySelector('.swmr-tree-filter');
  const t0 = performance.now();
  input.value = '/rawdata/';
  input.dispatchEvent(new Event('input', { bubbles: true }));
  const rows = document.querySelectorAll('.swmr-tree-row').length;
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return { rows, painted: performance.now() - t0 };
}"""


def measure_tree(browser: Any, live_servers: Any, workdir: Path, repeats: int) -> dict[str, Any]:
    """Render times of the tree of a 5,000-dataset file in fresh Voila pages."""
    h5 = workdir / "tree-5000.h5"
    n = make_tree_file(h5)
    code = (
        "import time\n"
        "from IPython.display import HTML, display\n"
        "from swmr_widgets import SwmrView\n"
        "t0 = time.time()\n"
        f"view = SwmrView({str(h5)!r})\n"
        "t1 = time.time()\n"
        "display(HTML(f\"<span class='bench-stamp' data-t0='{t0}' data-t1='{t1}'></span>\"))\n"
        "view"
    )
    nb = live_servers.write_code_notebook(workdir, code, "tree-5000.ipynb")
    runs: list[dict[str, float]] = []
    with voila(live_servers, nb, workdir) as server:
        for _ in range(repeats):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            try:
                context.add_init_script(TREE_INIT_JS)
                page = context.new_page()
                page.goto(server.url("/"), wait_until="domcontentloaded", timeout=90_000)
                page.wait_for_function(
                    "() => window.__tree && window.__tree.figure !== null", timeout=90_000
                )
                time.sleep(1.5)  # let the row count settle
                data = page.evaluate(
                    "() => { const s = document.querySelector('.bench-stamp');"
                    " return { t: window.__tree, origin: performance.timeOrigin,"
                    " t0: s ? Number(s.dataset.t0) : null, t1: s ? Number(s.dataset.t1) : null,"
                    " label: (document.querySelector('.swmr-tree-count') || {}).textContent }; }"
                )
                data["filter"] = page.evaluate(FILTER_ALL_JS)
            finally:
                context.close()
            t = data["t"]
            final_count = t["rows"][-1][1]
            rows_final = next(ms for ms, count in t["rows"] if count == final_count)
            rows_present = next(ms for ms, count in t["rows"] if count > 0)
            run = {
                "rows": final_count,
                "load_to_tree_ms": t["tree"],
                "load_to_rows_final_ms": rows_final,
                "tree_to_rows_final_ms": rows_final - t["tree"],
                "load_to_figure_ms": t["figure"],
                "count_label": data["label"],
                "filter_all_rows": data["filter"]["rows"],
                "filter_all_to_paint_ms": data["filter"]["painted"],
            }
            if data["t1"] is not None:
                origin_s = data["origin"] / 1000.0
                run["kernel_construct_ms"] = 1000.0 * (data["t1"] - data["t0"])
                run["kernel_display_to_rows_ms"] = rows_present - 1000.0 * (data["t1"] - origin_s)
            runs.append(run)
    keys = [k for k in runs[0] if k.endswith("_ms")]
    return {
        "datasets": n,
        "rows_rendered": runs[0]["rows"],
        "count_label": runs[0]["count_label"],
        "repeats": repeats,
        "median_ms": {k: statistics.median(r[k] for r in runs if k in r) for k in keys},
        "runs": runs,
        "target_ms": 1000.0 * TREE_TARGET,
    }


# --------------------------------------------------------------------------- report


def _fmt(v: float) -> str:
    return "-" if v != v else f"{v:,.0f}"  # NaN -> "-"


def table(latency: list[dict[str, Any]], tree: dict[str, Any] | None) -> str:
    """The result table as text."""
    head = f"{'measurement':<58} {'n':>4} {'p50 ms':>8} {'p90 ms':>8}  {'target':<18} met"
    lines = [head, "-" * len(head)]
    for r in latency:
        dom, frame = r["to_dom_ms"], r["to_frame_ms"]
        met = "yes" if dom["p50"] <= r["target_ms"] else "NO"
        lines.append(
            f"{'flush -> SVG d changed, interval ' + format(r['interval_s'], 'g') + ' s':<58} "
            f"{dom['n']:>4} {_fmt(dom['p50']):>8} {_fmt(dom['p90']):>8}  "
            f"{'p50 <= ' + _fmt(r['target_ms']) + ' ms':<18} {met}"
        )
        lines.append(
            f"{'flush -> next frame painted, interval ' + format(r['interval_s'], 'g') + ' s':<58} "
            f"{frame['n']:>4} {_fmt(frame['p50']):>8} {_fmt(frame['p90']):>8}"
        )
        if r["missed"]:
            lines.append(
                f"  ({r['missed']} of {r['flushes']} flushes had no change before the next)"
            )
    if tree is not None:
        med = tree["median_ms"]
        n = tree["repeats"]
        rows = [
            (".swmr-tree attached -> rows final", "tree_to_rows_final_ms", True),
            ("kernel displays the view -> tree rows present", "kernel_display_to_rows_ms", True),
            ("page load -> tree rows final", "load_to_rows_final_ms", False),
            ("page load -> first figure drawn", "load_to_figure_ms", False),
            ("SwmrView(...) constructor in the kernel", "kernel_construct_ms", False),
            ("filter matching all -> 5,000 rows painted", "filter_all_to_paint_ms", False),
        ]
        lines.append(
            f"tree of {tree['datasets']:,} datasets ({tree['rows_rendered']} rows shown "
            f"by default), median of {n} page loads:"
        )
        for text, key, targeted in rows:
            if key not in med:
                continue
            target = f"<= {_fmt(tree['target_ms'])} ms" if targeted else ""
            met = ("yes" if med[key] <= tree["target_ms"] else "NO") if targeted else ""
            lines.append(f"  {text:<56} {n:>4} {_fmt(med[key]):>8} {'':>8}  {target:<18} {met}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/browser_latency.py",
        description="Writer flush -> visible SVG change in Chromium via Voila; tree render time.",
    )
    parser.add_argument(
        "--intervals", type=float, nargs="+", default=[0.1, 0.5], help="polling intervals (s)"
    )
    parser.add_argument("--changes", type=int, default=25, help="flushes per interval (>= 20)")
    parser.add_argument("--tree-repeats", type=int, default=3, help="page loads of the tree file")
    parser.add_argument("--no-tree", action="store_true", help="skip the tree measurement")
    parser.add_argument("--quick", action="store_true", help="8 changes, 1 tree load (smoke run)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random flush moments")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON result file")
    parser.add_argument("--writer", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.writer is not None:
        return run_writer(args.writer)
    if args.quick:
        args.changes, args.tree_repeats = 8, 1
    headless_chromium, live_servers = _import_helpers()
    started = time.monotonic()
    latency: list[dict[str, Any]] = []
    tree: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="swmr-browser-latency-") as tmp:
        workdir = Path(tmp)
        with headless_chromium.shared_browser() as browser:
            for k, interval in enumerate(args.intervals):
                print(f"latency, interval {interval:g} s, {args.changes} flushes ...", flush=True)
                latency.append(
                    measure_latency(
                        browser, live_servers, workdir, interval, args.changes, args.seed + k
                    )
                )
            if not args.no_tree:
                print(f"tree of 5,000 datasets, {args.tree_repeats} page loads ...", flush=True)
                tree = measure_tree(browser, live_servers, workdir, args.tree_repeats)
    text = table(latency, tree)
    print()
    print(text)
    result = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/browser_latency.py", *(argv or sys.argv[1:])]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "method": (
            "writer process appends one row at random moments and reports time.time() after "
            "flush; a MutationObserver on path.line 'd' in the Voila page (headless Chromium) "
            "records performance.timeOrigin + performance.now() of each change and of the next "
            "animation frame; each flush is matched to the first change before the next flush"
        ),
        "latency": latency,
        "tree": tree,
        "table": text.splitlines(),
        "seconds": round(time.monotonic() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
