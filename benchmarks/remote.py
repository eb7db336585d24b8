"""P10: writer flush → remote view update over Tiled, with 1, 4 and 16 viewer processes.

A real ``tiled serve catalog --temp`` runs on 127.0.0.1. A writer process
appends one timestamped row at 10 Hz to a SWMR file; ``swmr-widgets publish``
mirrors it into Tiled; N viewer processes follow it with ``TiledLive``
(websocket) and measure receive time minus the row's stamp. Also measured: the
writer's cost per step with the publisher running against without it, and the
publisher's CPU time per row.

Opt-in (slow, several minutes): ``python -m benchmarks --only remote``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Context, Row, ratio, stats

NAME = "remote"
TITLE = "P10 remote viewers over Tiled: flush → view latency, writer cost, publisher CPU"

RATE = 10.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _agent(*args: str) -> subprocess.Popen:
    from swmr_widgets.processes import spawn

    cmd = [sys.executable, "-m", "benchmarks.remote_agents", *args]
    return spawn(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _expect(proc: subprocess.Popen, word: str) -> str:
    line = proc.stdout.readline()
    if not line.startswith(word):
        raise RuntimeError(f"agent said {line!r} instead of {word!r}")
    return line


def _write(path: Path, steps: int) -> tuple[subprocess.Popen, list[float]]:
    w = _agent("writer", str(path), str(steps), str(RATE))
    _expect(w, "ready")
    return w, []


def _finish_writer(w: subprocess.Popen) -> list[float]:
    line = w.stdout.readline()
    w.wait(timeout=60)
    return json.loads(line)["step_s"]


def run(ctx: Context) -> list[Row]:
    from swmr_widgets.processes import stop
    from swmr_widgets.remote.server import TiledServer

    steps = 40 if ctx.quick else 150
    counts = (1, 4) if ctx.quick else (1, 4, 16)
    rows: list[Row] = []
    started: list[subprocess.Popen] = []  # stopped at the end, whatever happens
    log = open(ctx.workdir / "tiled.log", "w")  # noqa: SIM115
    server = TiledServer(log=log).start()
    try:
        from tiled.client import from_uri

        root = from_uri(server.uri, api_key=server.api_key)
        # the writer alone
        w, _ = _write(ctx.workdir / "alone.h5", steps)
        started.append(w)
        w.stdin.write("go\n")
        w.stdin.flush()
        alone = _finish_writer(w)
        ctx.log(f"writer alone: {len(alone)} steps")
        with_pub: list[float] = []
        cpu_per_row: list[float] = []
        for n in counts:
            name = f"remote_{n}"
            path = ctx.workdir / f"{name}.h5"
            w, _ = _write(path, steps)
            started.append(w)
            pub_cmd = [sys.executable, "-m", "swmr_widgets.cli", "publish", str(path)]
            pub_cmd += ["--tiled", server.uri, "--api-key", server.api_key]
            from swmr_widgets.processes import spawn

            pub = spawn(pub_cmd, stdout=log, stderr=subprocess.STDOUT)
            started.append(pub)
            deadline = time.monotonic() + 120
            while True:  # the array, made with the writer's warm-up row
                try:
                    root[name]["stamp"]
                    break
                except KeyError:
                    if time.monotonic() > deadline:
                        raise TimeoutError("the publisher did not create the array") from None
                    time.sleep(0.2)
            url = f"{server.uri}/api/v1/metadata/{name}"
            viewers = [
                _agent("viewer", url, server.api_key, str(steps), str(steps / RATE + 120))
                for _ in range(n)
            ]
            started += viewers
            for v in viewers:
                _expect(v, "ready")
            ctx.log(f"{n} viewer(s) ready")
            cpu0 = _cpu_seconds(pub.pid)
            w.stdin.write("go\n")
            w.stdin.flush()
            costs = _finish_writer(w)
            latencies: list[float] = []
            seen = []
            for v in viewers:
                out = json.loads(v.stdout.readline())
                latencies += out["latency_s"]
                seen.append(out["seen"])
                v.wait(timeout=30)
            cpu = _cpu_seconds(pub.pid) - cpu0
            stop(pub, 20)
            if n == 1:
                with_pub = costs
                cpu_per_row.append(cpu / steps)
            lat = stats(latencies, 1e3)
            rows.append(
                Row(
                    family=NAME,
                    benchmark="P10 writer flush → remote view (TiledLive, websocket)",
                    size=f"{n} viewer process{'es' if n > 1 else ''}",
                    unit="ms",
                    variants={"latency": lat},
                    target="p50 ≤ 150 ms" if n == 16 else "",
                    met=(lat.get("median", 1e9) <= 150) if n == 16 else None,
                    note=f"p99 {lat.get('p99', float('nan')):.0f} ms; rows seen by the "
                    f"slowest viewer {min(seen)}/{steps}; {RATE:.0f} Hz writer",
                    params={"steps": steps, "rate_hz": RATE, "viewers": n},
                )
            )
            ctx.log(f"{n} viewer(s): p50 {lat.get('median', float('nan')):.0f} ms")
        a, b = stats(alone, 1e6), stats(with_pub, 1e6)
        r = ratio(b.get("median"), a.get("median"))
        rows.append(
            Row(
                family=NAME,
                benchmark="P10 writer cost per step, with the publisher",
                size=f"{steps} steps at {RATE:.0f} Hz",
                unit="µs",
                variants={"alone": a, "with publisher": b},
                ratio=r,
                ratio_label="with/alone",
                target="≤ 1.1",
                met=r is not None and r <= 1.1,
                note="resize + write + flush of one float64 row; the publisher and one viewer "
                "run on the same 2 cores",
            )
        )
        rows.append(
            Row(
                family=NAME,
                benchmark="P10 publisher CPU per row",
                size="1 dataset, 1 row per step",
                unit="ms",
                variants={"publisher": stats([c * 1e3 for c in cpu_per_row])},
                note="user+system CPU of the publish process / rows; each row is one "
                "patch (one HTTP request) at 10 Hz",
            )
        )
    finally:
        for proc in started:
            if proc.poll() is None:
                stop(proc, 20)
        server.stop()
        log.close()
    return rows
