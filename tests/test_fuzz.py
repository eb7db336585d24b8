"""Damaged copies of real files (1-8 bytes overwritten) never give raw errors, crashes or hangs.

Four valid sources, each from its own writer: the demo writer's file, a
PyMoDAQ-like 2-D scan, a file of Bitshuffle/Blosc/Zstd/gzip datasets and a
NeXus file written by nexusformat (HDF5's oldest format). Seeded copies are
damaged mostly in their metadata and read in ``fuzz_child.py`` processes
(open, collect, refresh, LiveFile, SwmrView; see :mod:`fuzzing`). Every copy
must end ``ok`` or with a documented error: no ``other:<type>``, no crash,
no hang.
"""

from __future__ import annotations

import random
from pathlib import Path

import fuzzing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("bqplot")

#: Copies read by the default run (about 30 s on 2 cores).
DEFAULT_FILES = 100
#: Copies read by the slow run.
SLOW_FILES = 600

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    made = fuzzing.make_sources(tmp_path_factory.mktemp("sources"))
    assert {"demo", "scan"} <= set(made), made
    return made


def check(result: fuzzing.Campaign, n_files: int) -> None:
    print(result.summary())
    findings = "\n".join(
        f"{kind} {outcome} edits={edits}: {detail}"
        for kind, outcome, edits, detail in result.findings
    )
    assert not result.findings, findings
    assert sum(result.outcomes.values()) == n_files
    # not vacuous: the damage reaches the metadata, and readable copies are read
    assert result.outcomes.get("DamagedFileError", 0) > 0
    assert result.outcomes.get("ok", 0) > 0


def test_damaged_copies_give_only_documented_errors(sources, tmp_path):
    result = fuzzing.campaign(sources, DEFAULT_FILES, seed=20261202, workdir=tmp_path)
    check(result, DEFAULT_FILES)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_many_damaged_copies_give_only_documented_errors(sources, tmp_path, seed):
    result = fuzzing.campaign(sources, SLOW_FILES, seed=seed, workdir=tmp_path)
    check(result, SLOW_FILES)


def test_every_valid_source_reads_ok(sources):
    runner = fuzzing.Runner()
    try:
        for kind, path in sources.items():
            assert runner.run(path) == ("ok", ""), kind
    finally:
        runner.close()


def test_mutation_is_seeded_and_mostly_in_the_metadata(sources, tmp_path):
    source = fuzzing.Source.load(sources["demo"])
    a = fuzzing.mutate(source, random.Random(7), tmp_path / "a.h5")
    b = fuzzing.mutate(source, random.Random(7), tmp_path / "b.h5")
    assert a == b and (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    assert 1 <= len(a) <= 8
    rng = random.Random(3)
    offsets = [source.offset(rng) for _ in range(2000)]
    in_meta = sum(any(lo <= o < hi for lo, hi in source.metadata) for o in offsets)
    meta_share = sum(hi - lo for lo, hi in source.metadata) / len(source.data)
    assert meta_share < 0.5  # raw data dominates the file...
    assert in_meta / len(offsets) > 0.8  # ...but most damage lands in the metadata


@pytest.fixture(scope="module")
def runner():
    r = fuzzing.Runner()
    yield r
    r.close()


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(["demo", "scan", "compressed", "nexus"]),
    edits=st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_any_bytes_anywhere_give_only_documented_errors(sources, runner, tmp_path, kind, edits):
    if kind not in sources:
        return
    source = fuzzing.Source.load(sources[kind])
    # offsets wrap around the file; the first 4 KiB (superblock, root group) get extra weight
    edits = [(o % 4096 if o % 3 == 0 else o, v) for o, v in edits]
    dest = tmp_path / f"hyp-{kind}.h5"
    fuzzing.write_edits(source, edits, dest)
    outcome, detail = runner.run(dest)
    assert not fuzzing.is_finding(outcome), f"{kind} {edits}: {outcome} {detail}"
