"""A measuring process, driven by the harness over stdin with one JSON object per line.

Each variant that reads a live file runs in its own agent process. Two reasons:

* HDF5 shares one file structure between all the handles a process opens on a
  file, and while a second handle of a chunked dataset is open, reading rows
  that the writer appended can fail with "can't insert duplicate key" (h5py
  3.16 / HDF5 2.0). Variants in one process would break each other.
* A fresh process measures a cold open for the reopen-per-poll variant, and a
  clean peak RSS for the memory benchmark.

The harness still interleaves the variants: it asks each agent for one timed
call at a time, in alternation. Requests and answers::

    {"op": "setup", "factory": "benchmarks.tick:ours", "args": {...}}  -> {"ok": true}
    {"op": "call", "repeat": 1}    -> {"seconds": [...], "bytes": [...], "messages": [...],
                                       "largest_buffer": [...], "extra": [...]}
    {"op": "info"}                 -> {..., "peak_rss": bytes}
    {"op": "close"}                -> {"ok": true}, then the process exits

A factory returns a :class:`benchmarks.common.Probe`. Every widget the agent
creates reports its messages to a :class:`benchmarks.common.CommRecorder`, so
each call also tells the bytes it sent to the (absent) frontend.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import CommRecorder, Probe, peak_rss_bytes


def serve(stdin: Any = None, stdout: Any = None) -> int:
    """Answer requests until ``close`` or the end of input.

    Parameters
    ----------
    stdin, stdout : file, optional
        Where requests come from and answers go (the process's by default).

    Returns
    -------
    int
        The exit status.
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    recorder = CommRecorder()
    recorder.install()
    probe: Probe | None = None

    def answer(obj: dict[str, Any]) -> None:
        stdout.write(json.dumps(obj) + "\n")
        stdout.flush()

    answer({"ready": True})
    for line in stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        op = request.get("op")
        try:
            if op == "setup":
                module, _, name = request["factory"].partition(":")
                factory = getattr(importlib.import_module(module), name)
                probe = factory(**request.get("args", {}))
                answer({"ok": True})
            elif op == "call":
                if probe is None:
                    raise RuntimeError("call before setup")
                keys = ("seconds", "bytes", "messages", "largest_buffer", "extra")
                out: dict[str, list[Any]] = {key: [] for key in keys}
                for _ in range(int(request.get("repeat", 1))):
                    recorder.reset()
                    t0 = time.perf_counter()
                    result = probe.call()
                    out["seconds"].append(time.perf_counter() - t0)
                    out["bytes"].append(recorder.total_bytes)
                    out["messages"].append(recorder.messages)
                    out["largest_buffer"].append(recorder.largest_buffer)
                    out["extra"].append(result if isinstance(result, dict) else None)
                answer(out)
            elif op == "info":
                info = probe.info() if probe is not None else {}
                answer({**info, "peak_rss": peak_rss_bytes()})
            elif op == "close":
                if probe is not None:
                    probe.close()
                answer({"ok": True})
                return 0
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as exc:
            answer({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
    if probe is not None:
        probe.close()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
