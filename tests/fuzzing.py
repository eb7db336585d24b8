"""A seeded mutation fuzzer for HDF5 readers: damage copies of valid files, read each in a child.

:func:`make_sources` writes a few valid files of different kinds, each with its
own writer; :func:`metadata_ranges` finds where a file keeps its metadata (all
bytes but the raw data of datasets); :func:`mutate` overwrites 1-8 bytes of a
copy, mostly in the metadata, where damage matters; :class:`Runner` reads the
copies in ``fuzz_child.py`` processes, several files per process to save
start-up time, with a watchdog per file: a file whose answer does not come in
time is a hang, a child that dies on a file is a crash.

Run it by hand for a long campaign::

    python tests/fuzzing.py --files 600 --seed 1
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import queue
import random
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from swmr_widgets.processes import kill, spawn  # noqa: E402

#: Seconds one file may take in a child before it counts as a hang.
PER_FILE_TIMEOUT = 30.0
#: Seconds a child may take to start (imports) before its first answer is due.
START_TIMEOUT = 60.0
#: Share of the mutated bytes put in the metadata rather than anywhere.
METADATA_SHARE = 0.85


# --------------------------------------------------------------------------- sources


def _run(cmd: list[str], timeout: float = 120.0, stdin: str | None = None) -> None:
    proc = spawn(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(stdin.encode() if stdin else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(proc)
        raise RuntimeError(f"{cmd} did not finish in {timeout} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {err.decode(errors='replace')[-2000:]}")


def demo_file(path: Path) -> Path:
    """The demo writer's file (``python -m swmr_widgets.demo``), a short run."""
    cmd = [sys.executable, "-m", "swmr_widgets.demo", str(path)]
    _run([*cmd, "--rate", "40", "--duration", "0.5", "--scan-points", "12", "--frame-every", "4"])
    return path


def scan_file(path: Path) -> Path:
    """A PyMoDAQ-like 2-D scan (``scan_writer.py``), partly filled, then closed."""
    _run([sys.executable, str(HERE / "scan_writer.py"), str(path)], stdin="fill 7\nclose\n")
    return path


def compressed_file(path: Path) -> Path:
    """Datasets compressed with Bitshuffle/LZ4, Blosc, Zstd, gzip and shuffle (libver latest)."""
    import hdf5plugin

    rows = np.arange(64.0)
    with h5py.File(path, "w", libver="latest") as f:
        det = f.create_group("entry/detector")
        det.create_dataset(
            "frames",
            data=np.arange(4 * 16 * 16, dtype="u2").reshape(4, 16, 16),
            chunks=(1, 16, 16),
            maxshape=(None, 16, 16),
            **hdf5plugin.Bitshuffle(cname="lz4"),
        )
        det.create_dataset("blosc", data=rows, chunks=(16,), **hdf5plugin.Blosc())
        det.create_dataset("zstd", data=rows * 2, chunks=(16,), **hdf5plugin.Zstd())
        det.create_dataset("gzip", data=rows * 3, chunks=(16,), compression="gzip", shuffle=True)
        det["zstd"].attrs["units"] = "counts"
    return path


def nexus_file(path: Path) -> Path:
    """A NeXus file written by nexusformat (HDF5's default, oldest file format)."""
    from nexusformat.nexus import NXdata, NXentry, NXfield, NXroot

    x = NXfield(np.linspace(0.0, 1.0, 20), name="x", units="mm")
    y = NXfield(np.sin(np.linspace(0.0, 3.0, 20)), name="signal", units="V", long_name="sine")
    root = NXroot(NXentry(NXdata(y, [x], name="data"), name="entry"))
    root.entry.title = "a scan"
    root.save(str(path), mode="w")
    return path


SOURCES = {"demo": demo_file, "scan": scan_file, "compressed": compressed_file, "nexus": nexus_file}


def make_sources(folder: Path) -> dict[str, Path]:
    """Write one valid file of each kind in `folder` (leaving out kinds with no writer here)."""
    made = {}
    for kind, make in SOURCES.items():
        try:
            made[kind] = make(folder / f"{kind}.h5")
        except ImportError:
            continue
    return made


# --------------------------------------------------------------------------- mutation


def metadata_ranges(path: Path) -> list[tuple[int, int]]:
    """Byte ranges of `path` that are not raw dataset data (superblock, headers, indexes...)."""
    raw: list[tuple[int, int]] = []

    def visit(_name: str, obj: object) -> None:
        if not isinstance(obj, h5py.Dataset):
            return
        dsid = obj.id
        try:
            for i in range(dsid.get_num_chunks()):
                info = dsid.get_chunk_info(i)
                raw.append((info.byte_offset, info.byte_offset + info.size))
        except Exception:  # contiguous or compact
            offset = dsid.get_offset()
            if offset is not None:
                raw.append((offset, offset + dsid.get_storage_size()))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    size = path.stat().st_size
    ranges, pos = [], 0
    for start, stop in sorted(raw):
        if start > pos:
            ranges.append((pos, start))
        pos = max(pos, stop)
    if pos < size:
        ranges.append((pos, size))
    return ranges


@dataclass(frozen=True)
class Source:
    """A valid file to damage copies of."""

    path: Path
    data: bytes
    metadata: list[tuple[int, int]]

    @classmethod
    def load(cls, path: Path) -> Source:
        return cls(path, path.read_bytes(), metadata_ranges(path))

    def offset(self, rng: random.Random) -> int:
        """A random byte offset, most of the time one in the metadata."""
        if self.metadata and rng.random() < METADATA_SHARE:
            weights = [b - a for a, b in self.metadata]
            start, stop = rng.choices(self.metadata, weights)[0]
            return rng.randrange(start, stop)
        return rng.randrange(len(self.data))


def mutate(source: Source, rng: random.Random, dest: Path) -> list[tuple[int, int]]:
    """Write a copy of `source` with 1-8 random bytes overwritten; return ``(offset, value)``s."""
    edits = [(source.offset(rng), rng.randrange(256)) for _ in range(rng.randint(1, 8))]
    return write_edits(source, edits, dest)


def write_edits(source: Source, edits: list[tuple[int, int]], dest: Path) -> list[tuple[int, int]]:
    """Write a copy of `source` with the byte at each offset replaced by its value."""
    buf = bytearray(source.data)
    for offset, value in edits:
        buf[offset % len(buf)] = value
    dest.write_bytes(bytes(buf))
    return edits


# --------------------------------------------------------------------------- running


class Runner:
    """Reads files in ``fuzz_child.py`` processes, with a watchdog per file.

    Parameters
    ----------
    per_file : float
        Seconds a file may take before it counts as a hang.
    env : dict, optional
        Environment of the children.
    """

    def __init__(self, per_file: float = PER_FILE_TIMEOUT, env: dict | None = None) -> None:
        self.per_file = per_file
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.started = 0
        self.stderr = ""

    def _start(self) -> None:
        self.proc = spawn(
            [sys.executable, str(HERE / "fuzz_child.py")],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started += 1
        self.lines = queue.Queue()
        self._fresh = True
        proc, lines = self.proc, self.lines
        threading.Thread(target=self._pump, args=(proc.stdout, lines), daemon=True).start()
        self._err: list[str] = []
        threading.Thread(target=self._pump_err, args=(proc.stderr, self._err), daemon=True).start()

    @staticmethod
    def _pump(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    @staticmethod
    def _pump_err(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)
            del sink[:-200]

    def run(self, path: Path) -> tuple[str, str]:
        """Read one file; return ``(outcome, detail)``, outcome ``"hang"`` or ``"crash..."`` too."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None
        timeout = self.per_file + (START_TIMEOUT if self._fresh else 0.0)
        self._fresh = False
        try:
            self.proc.stdin.write(f"{path}\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self._end()
            return "hang", f"no answer within {timeout:.0f} s"
        if line is None:  # the child died on this file
            self.proc.wait(timeout=30)
            code = self.proc.returncode
            self.stderr = "".join(self._err)
            self._end()
            return f"crash:{code}", self.stderr[-1500:]
        outcome, _, detail = line.partition("\t")
        return outcome, detail

    def _end(self) -> None:
        if self.proc is not None:
            kill(self.proc, timeout=10)
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                with contextlib.suppress(OSError):
                    stream.close()
            self.proc = None

    def close(self) -> None:
        """End the child (if any)."""
        self._end()


@dataclass
class Campaign:
    """The outcomes of a run over many damaged copies."""

    outcomes: collections.Counter
    findings: list[tuple[str, str, list[tuple[int, int]], str]]
    seconds: float

    def summary(self) -> str:
        ok = self.outcomes.get("ok", 0)
        bad = sum(n for k, n in self.outcomes.items() if is_finding(k))
        documented = sum(self.outcomes.values()) - ok - bad
        detail = ", ".join(f"{k}: {n}" for k, n in self.outcomes.most_common())
        return (
            f"{sum(self.outcomes.values())} files in {self.seconds:.1f} s: ok {ok}, documented "
            f"error {documented}, other/crash/hang {bad} ({detail})"
        )


def is_finding(outcome: str) -> bool:
    return outcome.startswith(("other", "crash", "hang"))


def campaign(
    sources: dict[str, Path], n_files: int, seed: int, workdir: Path, workers: int = 2
) -> Campaign:
    """Damage `n_files` copies of `sources` (round robin) with `seed`; read each in a child."""
    loaded = [(kind, Source.load(path)) for kind, path in sorted(sources.items())]
    rng = random.Random(seed)
    jobs = []
    for k in range(n_files):
        kind, source = loaded[k % len(loaded)]
        dest = workdir / f"{kind}-{k:05d}.h5"
        jobs.append((kind, dest, mutate(source, rng, dest)))
    outcomes: collections.Counter = collections.Counter()
    findings: list = []
    lock = threading.Lock()
    start = time.monotonic()

    def work(part: list) -> None:
        runner = Runner()
        try:
            for kind, dest, edits in part:
                outcome, detail = runner.run(dest)
                with lock:
                    outcomes[outcome] += 1
                    if is_finding(outcome):
                        findings.append((kind, outcome, edits, detail))
                        shutil.copy(dest, workdir / f"finding-{dest.name}")
                dest.unlink()
        finally:
            runner.close()

    threads = [threading.Thread(target=work, args=(jobs[w::workers],)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Campaign(outcomes, findings, time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    import tempfile

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="swmr-fuzz-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sources = make_sources(workdir)
    result = campaign(sources, args.files, args.seed, workdir, args.workers)
    print(f"sources: {', '.join(sorted(sources))}; seed {args.seed}; workdir {workdir}")
    print(result.summary())
    for kind, outcome, edits, detail in result.findings:
        print(f"  {kind} {outcome} {edits}: {detail[:300]}")
    sys.exit(1 if result.findings else 0)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONFAULTHANDLER", "1")
    main()
