"""Smoke test of the benchmark harness: ``python -m benchmarks --quick`` runs every family.

Only the shape of the results is checked (every family present, numeric
medians), never the performance targets, so that the harness cannot rot.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("bqplot")
pytest.importorskip("anywidget")


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.timeout(120)
def test_quick_run_writes_every_family(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import FAMILIES
    finally:
        sys.path.remove(str(ROOT))
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "benchmark" in proc.stdout and "met" in proc.stdout  # the table was printed

    results = json.loads(out.read_text())
    assert results["quick"] is True
    assert set(results["families"]) == set(FAMILIES)
    for name, entry in results["families"].items():
        assert entry["error"] is None, f"{name}: {entry['error']}"
        assert entry["rows"], f"{name} gave no rows"
        for row in entry["rows"]:
            assert row["family"] == name
            assert row["benchmark"] and row["size"] and row["unit"]
            assert row["variants"], row
            for variant, s in row["variants"].items():
                assert _numeric(s.get("median")), (name, row["size"], variant, s)
                assert s["n"] >= 1
            assert row["ratio"] is None or _numeric(row["ratio"])
            assert row["met"] in (True, False, None)
    assert len(results["rows"]) == sum(len(e["rows"]) for e in results["families"].values())


def test_only_selects_families(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "decimation",
            "--output",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert list(results["families"]) == ["decimation"]
    assert all(row["family"] == "decimation" for row in results["rows"])


def test_unknown_family_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "unknown benchmark" in proc.stderr
