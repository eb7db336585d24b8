"""P3: bytes sent to the frontend by one steady-state view tick.

Every widget message is encoded as a kernel would encode it (JSON content plus
binary buffers, see :class:`benchmarks.common.CommRecorder`) and added up over
one ``SwmrView.refresh()``, status line included.

* Lines: the view shows a growing 0-D series of 1e3 ... 1e8 rows (the files of
  P2), has caught up with it, and a writer process appends 1,000 rows before
  each tick.
* Images: the view shows a growing stack of float32 frames of 256² ... 2048²,
  and a writer process appends one frame before each tick.

A row also fails when a tick that had new data sent no line, or no image of
the expected size (``min(side, 512)²`` float32): then the frontend shows stale
data, whatever the byte count.

``raw`` is what sending the data undecimated would weigh (computed, not sent):
float64 x and float32 y per point for lines (at the length reached when
measured), one float32 frame for images.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import Agent, Context, Row, WriterProcess, agent_call, column, stats
from benchmarks.length import DATASET, lengths

NAME = "frontend_bytes"
TITLE = "P3 bytes per tick"

FRAMES = "/frames"
LINE_LIMIT = 64 * 1024
IMAGE_LIMIT = 512 * 512 * 4
KIB = 1 / 1024


def _ticks(agent: Agent, writer: WriterProcess, append: dict[str, int], n: int) -> list[dict]:
    samples = []
    for _ in range(n):
        length = writer.append(append)[0]
        samples.append({**agent_call(agent)(), "length": length})
    return samples


def _measure_view(
    writer: WriterProcess, path: Path, dataset: str, rows: int, warmup: int, ticks: int
) -> tuple[list[dict], str]:
    """Tick a view of `dataset` after each append of `rows`; return the samples and its status."""
    agent = Agent("benchmarks.probes:view", path=str(path), selected=[dataset])
    try:
        _ticks(agent, writer, {dataset: rows}, warmup)
        return _ticks(agent, writer, {dataset: rows}, ticks), agent.info()["status"]
    finally:
        agent.close()


def _line_row(ctx: Context, n: int, ticks: int) -> Row:
    # short series get their own file: other benchmarks appended to the shared ones
    path = ctx.series_file(n, tag="" if n >= 10_000_000 else NAME)
    with WriterProcess(path, existing=True) as writer:
        writer.send("swmr")
        samples, status = _measure_view(writer, path, DATASET, 1000, 3, ticks)
    ours = stats(column(samples, "bytes"), KIB)
    length = int(stats(column(samples, "length"))["median"])
    raw = float(length * (8 + 4)) * KIB
    sent = sum(1 for s in samples if s["largest_buffer"] > 0)
    row = Row(
        family=NAME,
        benchmark=TITLE + " (line)",
        size=f"{n:.0e} points",
        unit="KiB",
        variants={"ours": ours, "raw": {"median": raw, "n": 1}},
        ratio=ours["median"] / raw,
        ratio_label="ours/raw",
        target="ours ≤ 64 KiB",
        met=ours["median"] <= LINE_LIMIT * KIB and sent == len(samples),
        params={
            "points": n,
            "points_when_measured": length,
            "ticks_that_sent_the_line": sent,
            "ticks": len(samples),
            "append_per_tick": 1000,
            "messages_per_tick": stats(column(samples, "messages"))["median"],
            "largest_buffer_kib": stats(column(samples, "largest_buffer"), KIB)["median"],
            "max_kib": max(column(samples, "bytes")) * KIB,
        },
        note=f"{stats(column(samples, 'messages'))['median']:.0f} messages per tick",
    )
    if sent < len(samples):
        row.note += f"; only {sent} of {len(samples)} ticks sent the updated line"
    if "error" in status:
        row.note += f"; view status: {status}"
    return row


def _image_row(ctx: Context, side: int, ticks: int) -> Row:
    path = ctx.workdir / f"frames_{side}.h5"
    with WriterProcess(path) as writer:
        writer.send(f"create {FRAMES} f4 {side}x{side} 1 2")
        writer.send("swmr")
        samples, status = _measure_view(writer, path, FRAMES, 1, 2, ticks)
    path.unlink(missing_ok=True)
    ours = stats(column(samples, "bytes"), KIB)
    largest = stats(column(samples, "largest_buffer"), KIB)
    raw = float(side * side * 4) * KIB
    expected = min(side, 512) ** 2 * 4
    sent = sum(1 for s in samples if s["largest_buffer"] >= expected)
    row = Row(
        family=NAME,
        benchmark=TITLE + " (image)",
        size=f"{side}² frame",
        unit="KiB",
        variants={"ours": ours, "image buffer": largest, "raw": {"median": raw, "n": 1}},
        ratio=ours["median"] / raw,
        ratio_label="ours/raw",
        target="image buffer ≤ 512² float32 (1,024 KiB)",
        met=largest["median"] <= IMAGE_LIMIT * KIB and sent == len(samples),
        params={
            "side": side,
            "ticks_that_sent_the_new_frame": sent,
            "ticks": len(samples),
            "messages_per_tick": stats(column(samples, "messages"))["median"],
            "max_kib": max(column(samples, "bytes")) * KIB,
        },
        note=(
            f"{stats(column(samples, 'messages'))['median']:.0f} messages per tick; "
            "ours = all messages (image, its x/y coordinates, color range, status)"
        ),
    )
    if sent < len(samples):
        row.note += (
            f"; only {sent} of {len(samples)} ticks sent the new frame "
            f"({min(side, 512)}² float32): the frontend keeps showing an old frame"
        )
    if "error" in status:
        row.note += f"; view status: {status}"
    return row


def run(ctx: Context) -> list[Row]:
    """Run P3 for lines and images.

    Parameters
    ----------
    ctx : Context
        The run's context.

    Returns
    -------
    list of Row
        One row per line length and per frame size.
    """
    ticks = 3 if ctx.quick else 7
    sizes, skipped = lengths(ctx)
    rows = []
    for n in sizes:
        ctx.log(f"{TITLE}: line of {n:,} points")
        rows.append(_line_row(ctx, n, ticks))
    if skipped and rows:
        rows[-1].note += "; " + "; ".join(skipped)
    for side in [256, 1024] if ctx.quick else [256, 512, 1024, 2048]:
        ctx.log(f"{TITLE}: {side}² frames")
        rows.append(_image_row(ctx, side, ticks))
    return rows
