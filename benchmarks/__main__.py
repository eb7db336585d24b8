"""``python -m benchmarks``: run the benchmarks, print a table, write a JSON file."""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import FAMILIES, OPT_IN
from benchmarks.common import CommRecorder, Context, Row, settle, workspace

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of swmr_widgets against the design's performance targets.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and few repeats (a smoke run, < 60 s)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only these families (repeat or comma-separate): "
        f"{', '.join(FAMILIES)}; opt-in: {', '.join(OPT_IN)}",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="JSON result file (default: benchmarks/results/latest.json)",
    )
    parser.add_argument(
        "--keep-files", action="store_true", help="keep the temporary HDF5 files (path printed)"
    )
    return parser


def select(only: Sequence[str]) -> list[str]:
    """The families to run, in their usual order.

    Parameters
    ----------
    only : sequence of str
        Names given with ``--only`` (each may be comma-separated); empty for all.

    Returns
    -------
    list of str
        Family names.

    Raises
    ------
    SystemExit
        When a name is unknown.
    """
    wanted = [n.strip() for item in only for n in item.split(",") if n.strip()]
    aliases = {"bytes": "frontend_bytes"}
    wanted = [aliases.get(n, n) for n in wanted]
    unknown = sorted(set(wanted) - set(FAMILIES) - set(OPT_IN))
    if unknown:
        known = ", ".join((*FAMILIES, *OPT_IN))
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose among {known}")
    return [f for f in (*FAMILIES, *OPT_IN) if f in wanted or (not wanted and f in FAMILIES)]


def machine() -> dict[str, Any]:
    """Versions and machine facts recorded with the results."""
    import h5py
    import numpy as np

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "h5py": h5py.version.version,
        "hdf5": h5py.version.hdf5_version,
    }
    for name in ("ipywidgets", "bqplot", "anywidget", "tsdownsample", "swmr_widgets"):
        try:
            module = importlib.import_module(name)
            info[name] = getattr(module, "__version__", "?")
        except ImportError:
            info[name] = None
    return info


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if value == 0:
        text = "0"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 0.1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def format_table(rows: Sequence[Row]) -> str:
    """The result table as text, one line per row, notes below it.

    Parameters
    ----------
    rows : sequence of Row
        The results.

    Returns
    -------
    str
        A table with columns benchmark, size, variant medians, ratio, target, met.
    """
    header = ("#", "benchmark", "size", "medians", "ratio", "target", "met")
    lines = []
    notes = []
    for row in rows:
        medians = " · ".join(
            f"{name} {_num(s.get('median'))}" for name, s in row.variants.items() if s.get("n")
        )
        medians = f"{medians} ({row.unit})" if medians else "—"
        ratio = f"{_num(row.ratio)} {row.ratio_label}" if row.ratio is not None else "—"
        met = {True: "met", False: "NOT MET", None: "—"}[row.met]
        number = str(len(lines) + 1)
        lines.append((number, row.benchmark, row.size, medians, ratio, row.target or "—", met))
        if row.note:
            notes.append(f"[{number}] {row.note}")
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [fmt(header), "-+-".join("-" * w for w in widths)]
    out += [fmt(r) for r in lines]
    if notes:
        out += ["", "Notes:", *notes]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected families and report.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        0 when every family ran (whether or not targets are met), 1 otherwise.
    """
    args = build_parser().parse_args(argv)
    families = select(args.only)
    recorder = CommRecorder()
    recorder.install()  # before any widget exists in this process
    results: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "machine": machine(),
        "families": {},
        "rows": [],
    }
    all_rows: list[Row] = []
    failed = False
    started = time.perf_counter()
    with workspace(keep=args.keep_files) as workdir:
        if args.keep_files:
            print(f"files kept in {workdir}", file=sys.stderr)
        ctx = Context(quick=args.quick, workdir=workdir, recorder=recorder)
        for name in families:
            module = importlib.import_module(f"benchmarks.{name}")
            print(f"[{name}] {module.TITLE}", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            entry: dict[str, Any] = {"title": module.TITLE, "error": None}
            try:
                settle()
                rows = module.run(ctx)
            except Exception as exc:
                failed = True
                rows = []
                entry["error"] = f"{type(exc).__name__}: {exc}"
                entry["traceback"] = traceback.format_exc()
                print(entry["traceback"], file=sys.stderr)
            entry["seconds"] = round(time.perf_counter() - t0, 2)
            entry["rows"] = [r.to_json() for r in rows]
            results["families"][name] = entry
            all_rows += rows
            print(f"[{name}] done in {entry['seconds']:.1f} s", file=sys.stderr, flush=True)
    results["rows"] = [r.to_json() for r in all_rows]
    results["seconds"] = round(time.perf_counter() - started, 2)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(format_table(all_rows))
    for name, entry in results["families"].items():
        if entry["error"]:
            print(f"\n{name} FAILED: {entry['error']}")
    print(f"\n{len(all_rows)} rows in {results['seconds']:.0f} s; results in {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
