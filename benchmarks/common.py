"""Shared helpers of the benchmarks: timing, result rows, writer processes, comm recording.

Every benchmark family is a module with a ``NAME``, a ``TITLE`` and a
``run(ctx)`` function returning :class:`Row` objects. :class:`Context` carries
what they share: the ``--quick`` flag, a temporary directory whose large files
are built once and reused, and the recorder of widget messages.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from swmr_widgets import processes

HERE = Path(__file__).resolve().parent
#: The writer script, run with the current interpreter in its own process.
WRITER_SCRIPT = HERE / "writer.py"
#: Free space needed before a 1e8-row (800 MB) file is built.
BIG_FILE_MIN_FREE = 3 * 2**30


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    """One line of the result table: variants of one measurement, compared.

    Attributes
    ----------
    family : str
        Name of the benchmark family (``--only`` selects on it).
    benchmark : str
        What is measured, e.g. ``"P1 tick vs file size"``.
    size : str
        The size of this row, e.g. ``"5,000 datasets"``.
    unit : str
        Unit of the variants' statistics (``"ms"``, ``"KiB"``, ``"MB"``...).
    variants : dict of str to dict
        Statistics of each variant (``median`` at least, and ``n``).
    ratio : float or None
        The comparison named by `ratio_label`.
    ratio_label : str
        How `ratio` is computed, e.g. ``"naive/ours"``.
    target : str
        The target checked on this row, or ``""`` when the row is informative.
    met : bool or None
        Whether the target is met; ``None`` without a target or when skipped.
    note : str
        Anything a reader must know to interpret the row.
    params : dict
        The parameters of the measurement.
    """

    family: str
    benchmark: str
    size: str
    unit: str
    variants: dict[str, dict[str, float]]
    ratio: float | None = None
    ratio_label: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The row as plain JSON types."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def stats(samples: Sequence[float], scale: float = 1.0) -> dict[str, float]:
    """Median, percentiles, mean and count of `samples`, multiplied by `scale`.

    Parameters
    ----------
    samples : sequence of float
        Measurements (seconds, bytes...).
    scale : float, default 1.0
        Factor applied to every statistic but the count (``1e3`` for ms).

    Returns
    -------
    dict of str to float
        ``median``, ``p10``, ``p90``, ``p99``, ``min``, ``mean`` and ``n``.
    """
    a = np.asarray(samples, dtype=np.float64) * scale
    if a.size == 0:
        return {"n": 0}
    p10, p50, p90, p99 = np.percentile(a, [10, 50, 90, 99])
    return {
        "median": float(p50),
        "p10": float(p10),
        "p90": float(p90),
        "p99": float(p99),
        "min": float(a.min()),
        "mean": float(a.mean()),
        "n": int(a.size),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, or ``None`` when either is missing or `b` is zero."""
    if a is None or b is None or b == 0:
        return None
    return float(a) / float(b)


# --------------------------------------------------------------------------- timing


Sample = dict[str, Any]


def timed(fn: Callable[[], object]) -> Callable[[], Sample]:
    """Wrap `fn` so that calling it returns ``{"seconds": duration}``."""

    def call() -> Sample:
        t0 = time.perf_counter()
        fn()
        return {"seconds": time.perf_counter() - t0}

    return call


def agent_call(agent: Agent) -> Callable[[], Sample]:
    """A callable asking `agent` for one timed call.

    The sample holds ``seconds`` (measured inside the agent), ``bytes`` and
    ``messages`` sent to the frontend, and whatever the probe returned.
    """

    def call() -> Sample:
        out = agent.call(1)
        sample: Sample = {
            "seconds": out["seconds"][0],
            "bytes": out["bytes"][0],
            "messages": out["messages"][0],
            "largest_buffer": out["largest_buffer"][0],
        }
        sample.update(out["extra"][0] or {})
        return sample

    return call


def interleaved(
    variants: Mapping[str, Callable[[], Sample]],
    rounds: int,
    *,
    repeats: Mapping[str, int] | None = None,
    every: Mapping[str, int] | None = None,
    before: Callable[[str], object] | None = None,
    warmup: int = 2,
) -> dict[str, list[Sample]]:
    """Measure several variants in alternation (ABCD DCBA ...), so drifts hit them alike.

    Parameters
    ----------
    variants : mapping of str to callable
        What to measure, by name; each call returns one sample, a dict with
        ``seconds`` at least (see :func:`timed` and :func:`agent_call`).
    rounds : int
        Rounds; each round calls every variant ``repeats[name]`` times, in an
        order that reverses from one round to the next.
    repeats : mapping of str to int, optional
        Calls per round of each variant (1 by default), so that cheap variants
        get more samples than expensive ones.
    every : mapping of str to int, optional
        Run a variant only every so many rounds (1 by default), for variants
        too slow to run each round.
    before : callable, optional
        Called with the variant's name before each call, untimed (for example
        to have the writer append rows).
    warmup : int, default 2
        Untimed rounds first (every variant runs in them).

    Returns
    -------
    dict of str to list of dict
        The samples of each variant.
    """
    repeats = dict(repeats or {})
    every = dict(every or {})
    names = list(variants)
    out: dict[str, list[Sample]] = {name: [] for name in names}
    for r in range(-warmup, rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            if r >= 0 and r % every.get(name, 1):
                continue
            for _ in range(repeats.get(name, 1) if r >= 0 else 1):
                if before is not None:
                    before(name)
                sample = variants[name]()
                if r >= 0:
                    out[name].append(sample)
    return out


def column(samples: Sequence[Sample], key: str = "seconds") -> list[float]:
    """The values of `key` in `samples`."""
    return [float(s[key]) for s in samples if s.get(key) is not None]


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (VmHWM), in bytes."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    # ru_maxrss is in KiB on Linux, in bytes on macOS
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(maxrss if sys.platform == "darwin" else maxrss * 1024)


# --------------------------------------------------------------------------- writer


_C = TypeVar("_C", bound="_ChildProcess")


class _ChildProcess:
    """A helper process of the harness: killed, cleaned up and usable as a context manager.

    Subclasses start ``self.proc`` (with pipes) and ``self._stderr`` and define ``close()``.
    """

    proc: subprocess.Popen
    _stderr: Any

    def close(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        """Kill the process (a writer's file is left as a crash would leave it)."""
        processes.kill(self.proc, timeout=30)

    def _cleanup(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.kill()
            self._cleanup()


class WriterProcess(_ChildProcess):
    """A :mod:`benchmarks.writer` in another process, one command at a time.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    existing : bool, default False
        Append to an existing file instead of creating it.
    """

    def __init__(self, path: str | os.PathLike[str], existing: bool = False) -> None:
        self.path = Path(path)
        args = [sys.executable, str(WRITER_SCRIPT), str(self.path)]
        if existing:
            args.append("--existing")
        # kept open for the life of the process, closed by _cleanup()
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.proc = processes.spawn(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._expect("ready")

    def _expect(self, prefix: str) -> str:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith(prefix):
            self.kill()
            self._stderr.seek(0)
            raise RuntimeError(
                f"benchmark writer said {line.strip()!r}; stderr: {self._stderr.read()[-2000:]}"
            )
        return line.strip()

    def send(self, command: str) -> str:
        """Send one command; return the answer once the writer has flushed."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._expect("ok")

    def start(self, command: str) -> None:
        """Send a command without waiting for its answer (see :meth:`wait`)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait(self) -> str:
        """Wait for the answer of a command sent with :meth:`start`."""
        return self._expect("ok")

    def append(self, counts: Mapping[str, int]) -> list[int]:
        """Append ``counts[name]`` rows to each dataset; return their new lengths."""
        answer = self.send("append " + " ".join(f"{k}:{v}" for k, v in counts.items()))
        return [int(s) for s in answer.split()[1:]]

    def close(self) -> None:
        """Close the file and let the process exit."""
        if self.proc.poll() is None:
            try:
                self.send("close")
                self.proc.wait(timeout=30)
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                self.kill()
        self._cleanup()


# --------------------------------------------------------------------------- agents


def _noop() -> None:
    return None


@dataclass
class Probe:
    """What an agent measures: a call to time, and what to report about it.

    Attributes
    ----------
    call : callable
        One timed operation (a tick, a poll...). A returned dict is passed
        back to the harness with the timing.
    info : callable
        Returns a JSON-able dict (status text, counters...) on request.
    close : callable
        Releases everything (closes views and files).
    """

    call: Callable[[], Any]
    info: Callable[[], dict[str, Any]] = dict
    close: Callable[[], None] = _noop


class Agent(_ChildProcess):
    """A :mod:`benchmarks.agent` process running one :class:`Probe`.

    Parameters
    ----------
    factory : str
        ``"module:function"`` returning the probe, called with `args` in the agent.
    **args
        JSON-able keyword arguments of the factory.
    """

    def __init__(self, factory: str, **args: Any) -> None:
        env = dict(os.environ)
        root = str(HERE.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        # kept open for the life of the process, closed by _cleanup()
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.proc = processes.spawn(
            [sys.executable, "-m", "benchmarks.agent"],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self.factory = factory
        self._read()
        self.request({"op": "setup", "factory": factory, "args": args})

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            self._stderr.seek(0)
            raise RuntimeError(
                f"benchmark agent {self.factory} exited; stderr: {self._stderr.read()[-3000:]}"
            )
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(
                f"benchmark agent {self.factory}: {reply['error']}\n{reply.get('traceback', '')}"
            )
        return reply

    def send(self, request: dict[str, Any]) -> None:
        """Send a request without waiting for the answer (see :meth:`receive`)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        """The answer to the last request sent."""
        return self._read()

    def request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send a request and return its answer."""
        self.send(request)
        return self._read()

    def call(self, repeat: int = 1) -> dict[str, list[Any]]:
        """Run the probe `repeat` times; return seconds, bytes, messages and extras."""
        return self.request({"op": "call", "repeat": repeat})

    def info(self) -> dict[str, Any]:
        """The probe's info, plus the agent's ``peak_rss`` in bytes."""
        return self.request({"op": "info"})

    def close(self) -> None:
        """Close the probe and let the process exit."""
        if self.proc.poll() is None:
            try:
                self.request({"op": "close"})
                self.proc.wait(timeout=60)
            except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired):
                self.kill()
        self._cleanup()


# --------------------------------------------------------------------------- comm recording


class CommRecorder:
    """Counts what widgets send to the frontend, outside a kernel.

    Outside a kernel, ipywidgets 8 creates its comms with :func:`comm.create_comm`,
    which makes a ``DummyComm`` that drops every message. :meth:`install`
    replaces that factory, so every widget created afterwards gets a comm that
    encodes each message as a kernel would (``jupyter_client``'s JSON packer)
    and adds up the JSON bytes and the binary buffers.
    """

    def __init__(self) -> None:
        self.messages = 0
        self.json_bytes = 0
        self.buffer_bytes = 0
        self.largest = 0
        self.largest_buffer = 0
        self._original: Callable[..., Any] | None = None

    @property
    def total_bytes(self) -> int:
        """JSON plus binary bytes recorded since the last :meth:`reset`."""
        return self.json_bytes + self.buffer_bytes

    def reset(self) -> None:
        """Start counting from zero."""
        self.messages = self.json_bytes = self.buffer_bytes = 0
        self.largest = self.largest_buffer = 0

    def record(self, payload: dict[str, Any], buffers: Sequence[Any] | None) -> None:
        """Add one message: its JSON content and its binary buffers."""
        size_json = len(_pack(payload))
        sizes = [memoryview(b).nbytes for b in buffers or ()]
        size_buffers = sum(sizes)
        self.largest_buffer = max([self.largest_buffer, *sizes])
        self.messages += 1
        self.json_bytes += size_json
        self.buffer_bytes += size_buffers
        self.largest = max(self.largest, size_json + size_buffers)

    def install(self) -> None:
        """Make every widget created from now on report to this recorder."""
        import comm
        from comm.base_comm import BaseComm

        recorder = self

        class RecordingComm(BaseComm):
            """A comm that measures each message instead of sending it."""

            def publish_msg(
                self,
                msg_type: str,
                data: dict[str, Any] | None = None,
                metadata: dict[str, Any] | None = None,
                buffers: list[Any] | None = None,
                **keys: Any,
            ) -> None:
                payload = {"data": data or {}, "comm_id": self.comm_id, **keys}
                recorder.record(payload, buffers)

        if self._original is None:
            self._original = comm.create_comm
        comm.create_comm = RecordingComm

    def uninstall(self) -> None:
        """Give :func:`comm.create_comm` back its original factory."""
        import comm

        if self._original is not None:
            comm.create_comm = self._original
            self._original = None


def _pack(payload: dict[str, Any]) -> bytes:
    try:
        from jupyter_client.session import json_packer
    except ImportError:  # pragma: no cover - jupyter_client comes with ipykernel
        return json.dumps(payload, default=str).encode()
    try:
        return json_packer(payload)
    except (TypeError, ValueError):
        return json.dumps(payload, default=str).encode()


# --------------------------------------------------------------------------- context


@dataclass
class Context:
    """What the benchmark families share during one run.

    Attributes
    ----------
    quick : bool
        Tiny sizes and few repeats (``--quick``).
    workdir : pathlib.Path
        Temporary directory for the files, deleted at the end of the run.
    recorder : CommRecorder
        Installed before any widget is created.
    files : dict
        Files built once and reused by several families, by key.
    """

    quick: bool
    workdir: Path
    recorder: CommRecorder
    files: dict[str, Path] = field(default_factory=dict)

    def log(self, message: str) -> None:
        """Print progress to stderr."""
        print(f"  · {message}", file=sys.stderr, flush=True)

    def big_file_ok(self, nbytes: int) -> tuple[bool, str]:
        """Whether a file of `nbytes` may be built in :attr:`workdir`, and why not."""
        free = shutil.disk_usage(self.workdir).free
        need = max(BIG_FILE_MIN_FREE, 2 * nbytes)
        if free < need:
            gib = 2**30
            return (
                False,
                f"skipped: {free / gib:.1f} GiB free in the temp dir, need {need / gib:.1f}",
            )
        return True, ""

    def series_file(self, rows: int, tag: str = "") -> Path:
        """A closed file holding ``/series`` (float64, growing, 16384-row chunks) of `rows`.

        Built once per run and `tag`, by a writer process, and reused: the
        benchmarks that follow it append rows to it, so a benchmark that needs
        the nominal length of a short series passes its own `tag`.
        """
        key = f"series-{rows}-{tag}"
        if key not in self.files:
            path = self.workdir / f"series_{rows}{'_' + tag if tag else ''}.h5"
            t0 = time.perf_counter()
            with WriterProcess(path) as w:
                w.send(f"create /series f8 - 16384 {rows}")
            self.log(f"built {path.name} ({rows:,} rows) in {time.perf_counter() - t0:.1f} s")
            self.files[key] = path
        return self.files[key]


@contextlib.contextmanager
def workspace(keep: bool = False) -> Iterator[Path]:
    """A temporary directory for the benchmark files, deleted afterwards unless `keep`."""
    path = Path(tempfile.mkdtemp(prefix="swmr-bench-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def settle() -> None:
    """Collect garbage so that one benchmark's leftovers do not time the next."""
    gc.collect()
