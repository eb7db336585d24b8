"""P8 in a real browser: a live camera in Voila, transports side by side.

Run from the repository root::

    python benchmarks/camera.py                 # every case and transport, 15 s each
    python benchmarks/camera.py --quick         # 512x512 at 20 Hz, 6 s each
    python benchmarks/camera.py --transports gl --cases 512@20

It prints a table and writes ``benchmarks/results/camera.json``.

Method
------
A camera (``tests/camera_writer.py --rate R``, another process) writes uint16
frames in SWMR mode and prints the wall-clock time of each flush with the
frame's index. A Voila page (headless Chromium) shows the frames through one
*transport*:

``gl``
    The package itself: ``SwmrView(file, interval=0.05)``. The frame's values
    go to the browser as float32; bqplot-image-gl maps them to colours on the
    GPU (software WebGL here).
``heatmap``
    bqplot's ``HeatMap`` fed with the same float32 values (the package's
    transport before): the browser fills one rectangle per cell and encodes
    a PNG.
``png``
    bqplot's ``Image`` mark fed with a colour-mapped 8-bit PNG made in the
    kernel (Pillow): a picture, not the data; the colour map is in the kernel.

The two hand-made transports run in a small loop on the kernel's event loop
(refresh, read the latest frame, decimate to 512x512, colour range) and go
through the same backpressure (:class:`swmr_widgets.paint.PaintGate`) as the
package, so that each shows what its drawing costs rather than a backlog.

Each mark carries the frame's index; :class:`swmr_widgets.paint.PaintAck`
dispatches a ``swmr-painted`` event in the page two animation frames after the
mark took the data (the frame that shows it), with the wall-clock time. Browser
and camera run on one machine, so flush -> pixel is that time minus the
frame's flush time. Reported: distinct frames painted per second, flush ->
pixel p50/p90, CPU of the kernel process (% of one core) and growth of the
Voila server's RSS over the measured window. For ``png`` the time is taken
when the mark got its new PNG, before the browser decoded it.

Targets (design P8, 512x512 at 20 Hz): >= 18 frames/s painted, p50 <= 100 ms,
kernel CPU <= 30 %.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from browser_latency import _import_helpers, percentile  # noqa: E402

camera_writer: Any = None  # tests/camera_writer.py, imported by main()

DEFAULT_OUTPUT = HERE / "results" / "camera.json"
DATA = "/entry/instrument/detector/data"
INTERVAL = 0.05
TRANSPORTS = ("heatmap", "png", "figure", "gl")
CASES = ("512@20", "256@20", "512@10", "2048@20")
TARGET = {"fps": 18.0, "p50_ms": 100.0, "cpu_pct": 30.0}

#: Collects the page's paint events.
PAINTS_JS = """() => {
  window.__paints = [];
  document.addEventListener('swmr-painted', (e) => window.__paints.push(e.detail));
}"""

#: The kernel side of the hand-made transports (formatted with PATH, DATA, TRANSPORT).
HANDMADE = """
import asyncio
import io

import bqplot as bq
import h5py
import ipywidgets as W
import numpy as np
import traitlets
from IPython.display import display

from swmr_widgets.contrast import color_range
from swmr_widgets.decimate import decimate_image
from swmr_widgets.paint import PaintGate

TRANSPORT = {transport!r}
f = h5py.File({path!r}, "r", swmr=True)
ds = f[{data!r}]
xs, ys = bq.LinearScale(), bq.LinearScale()
cs = bq.ColorScale(scheme="viridis", min=0.0, max=1.0)
if TRANSPORT == "figure":
    from swmr_widgets.plots import ImageFigure
    plot = ImageFigure()
    mark, gate = plot.image, plot.gate
elif TRANSPORT == "heatmap":
    class Mark(bq.HeatMap):
        frame_id = traitlets.Int(0).tag(sync=True)
        frame_tag = traitlets.Unicode("").tag(sync=True)
    mark = Mark(x=np.arange(2.0), y=np.arange(2.0), color=np.zeros((2, 2), "f4"),
                scales={{"x": xs, "y": ys, "color": cs}})
else:
    from PIL import Image as PILImage
    ramp = np.linspace(0, 1, 256)  # a three-channel colour map (not viridis, same cost)
    LUT = (np.stack([ramp, np.sqrt(ramp), 1 - ramp], axis=1) * 255).astype(np.uint8)
    class Mark(bq.Image):
        frame_id = traitlets.Int(0).tag(sync=True)
        frame_tag = traitlets.Unicode("").tag(sync=True)
    picture = W.Image(format="png")
    mark = Mark(image=picture, scales={{"x": xs, "y": ys}})
if TRANSPORT != "figure":
    gate = PaintGate(mark)
axes = [bq.Axis(scale=xs), bq.Axis(scale=ys, orientation="vertical")]
layout = W.Layout(width="100%", height="380px")
fig = plot.figure if TRANSPORT == "figure" else bq.Figure(
    marks=[mark], axes=axes, animation_duration=0, layout=layout
)

def show(small, lo, hi, shape):
    if TRANSPORT == "heatmap":
        with cs.hold_sync():
            cs.min, cs.max = lo, hi
        mark.x = np.arange(small.shape[1], dtype="f8")
        mark.y = np.arange(small.shape[0], dtype="f8")
        mark.color = small
    else:
        levels = np.clip((small - lo) / (hi - lo) * 255, 0, 255)
        rgb = LUT[np.nan_to_num(levels).astype(np.uint8)][::-1]
        out = io.BytesIO()
        PILImage.fromarray(rgb).save(out, format="png", compress_level=1)
        picture.value = out.getvalue()
        mark.x, mark.y = (0.0, float(shape[1])), (0.0, float(shape[0]))

async def run():
    last = -1
    while True:
        await asyncio.sleep({interval!r})
        try:
            ds.refresh()
            n = ds.shape[0]
            if n - 1 > last:
                last = n - 1
                frame = ds[last]
                small, _ = decimate_image(frame)
                lo, hi = color_range(frame)
                if TRANSPORT == "figure":
                    plot.set_image(small, np.arange(small.shape[1]), np.arange(small.shape[0]),
                                   source=frame, tag=str(last))
                else:
                    gate.offer(lambda s=small, a=lo, b=hi: show(s, a, b, frame.shape),
                               tag=str(last))
            gate.poll()
        except Exception as exc:
            print(type(exc).__name__, exc)

async def report():
    while True:
        await asyncio.sleep(0.5)
        info.value = (f"sent {{gate.sent}} acked {{gate.acked}} dropped {{gate.dropped}} "
                      f"timeouts {{gate.timeouts}}")

info = W.HTML()
info.add_class("swmr-status")
task = asyncio.ensure_future(run())
task2 = asyncio.ensure_future(report())
display(W.VBox([fig, gate.ack, info]))
"""


def notebook_code(transport: str, path: Path) -> str:
    """The one cell of the page for `transport`."""
    if transport == "gl":
        return (
            "from swmr_widgets import SwmrView\n"
            f"view = SwmrView({str(path)!r}, interval={INTERVAL!r}, selected=({DATA!r},))\n"
            "view"
        )
    return HANDMADE.format(transport=transport, path=str(path), data=DATA, interval=INTERVAL)


def _kernel_and_server(server: Any) -> tuple[Any, Any]:
    import psutil

    kernel = None
    for p in server.remember_children():
        with contextlib.suppress(psutil.Error):
            if "ipykernel" in " ".join(p.cmdline()):
                kernel = p
    return kernel, psutil.Process(server.pid)


def measure(
    browser: Any,
    live_servers: Any,
    workdir: Path,
    transport: str,
    size: int,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """One transport on one camera: fps painted, flush -> pixel, kernel CPU, server RSS."""
    h5 = workdir / f"camera-{transport}-{size}-{rate:g}.h5"
    camera = camera_writer.RunningCamera(h5, (size, size), rate, duration=seconds + 120)
    try:
        nb = live_servers.write_code_notebook(
            workdir, notebook_code(transport, h5), f"{h5.stem}.ipynb"
        )
        with live_servers.running_server("voila", nb, workdir) as server:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            try:
                page = context.new_page()
                page.add_init_script(f"({PAINTS_JS})()")
                page.goto(server.url("/"), wait_until="domcontentloaded", timeout=90_000)
                page.wait_for_function("() => window.__paints.length > 3", timeout=120_000)
                time.sleep(2.0)  # past the start
                kernel, voila = _kernel_and_server(server)
                cpu0 = kernel.cpu_times() if kernel else None
                rss0 = voila.memory_info().rss
                t0 = time.time()
                start = page.evaluate("() => window.__paints.length")
                time.sleep(seconds)
                t1 = time.time()
                cpu1 = kernel.cpu_times() if kernel else None
                rss1 = voila.memory_info().rss
                paints = page.evaluate("() => window.__paints")[start:]
                status = page.evaluate(
                    "() => (document.querySelector('.swmr-status') || {}).textContent || ''"
                )
                shot = workdir / f"{h5.stem}.png"
                with contextlib.suppress(Exception):  # a page busy drawing may not answer
                    page.screenshot(path=str(shot), timeout=15_000)
            finally:
                context.close()
    finally:
        camera.stop()
    painted = [p for p in paints if t0 <= p["time"] / 1000.0 <= t1 and p["tag"]]
    tags = {p["tag"] for p in painted}
    lat = [
        p["time"] / 1000.0 - camera.flushes[int(p["tag"])]
        for p in painted
        if int(p["tag"]) in camera.flushes
    ]
    # the frame's way split in two: flush -> the page has it, and the page's own drawing
    known = [p for p in painted if int(p["tag"]) in camera.flushes and "received" in p]
    arrive = [p["received"] / 1000.0 - camera.flushes[int(p["tag"])] for p in known]
    draw = [(p["time"] - p["received"]) / 1000.0 for p in known]
    written = sum(1 for t in camera.flushes.values() if t0 <= t <= t1)
    cpu = 100.0 * (sum(cpu1[:2]) - sum(cpu0[:2])) / (t1 - t0) if cpu0 and cpu1 else float("nan")
    return {
        "transport": transport,
        "size": size,
        "rate_hz": rate,
        "seconds": round(t1 - t0, 2),
        "written_fps": round(written / (t1 - t0), 2),
        "painted_fps": round(len(tags) / (t1 - t0), 2),
        "p50_ms": round(1000 * percentile(lat, 0.5), 1),
        "p90_ms": round(1000 * percentile(lat, 0.9), 1),
        "max_ms": round(1000 * max(lat), 1) if lat else float("nan"),
        "p50_flush_to_page_ms": round(1000 * percentile(arrive, 0.5), 1),
        "p50_page_to_pixel_ms": round(1000 * percentile(draw, 0.5), 1),
        "kernel_cpu_pct": round(cpu, 1),
        "voila_rss_growth_mb_s": round((rss1 - rss0) / 1e6 / (t1 - t0), 2),
        "status": status.strip()[:200],
        "paints": [
            [p["frame"], int(p["tag"]), round(p["time"] / 1000.0 - t0, 3)]
            for p in painted
            if int(p["tag"]) in camera.flushes
        ],
        "latency_ms": [round(1000 * v, 1) for v in lat],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="512@20 only, 6 s per transport")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--transports", nargs="+", default=list(TRANSPORTS), choices=TRANSPORTS)
    parser.add_argument("--cases", nargs="+", default=list(CASES), help="SIZE@RATE, e.g. 512@20")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--keep", type=Path, help="keep screenshots in this directory")
    args = parser.parse_args(argv)
    cases = ["512@20"] if args.quick else args.cases
    seconds = 6.0 if args.quick else args.seconds
    headless_chromium, live_servers = _import_helpers()
    global camera_writer
    import camera_writer

    results = []
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="swmr-camera-") as tmp:
        workdir = Path(tmp)
        with headless_chromium.shared_browser() as browser:
            for case in cases:
                size, rate = case.split("@")
                for transport in args.transports:
                    row = measure(
                        browser, live_servers, workdir, transport, int(size), float(rate), seconds
                    )
                    results.append(row)
                    print(
                        f"{transport:8s} {size:>5s}^2 @{rate:>3s} Hz: "
                        f"{row['painted_fps']:5.1f} fps painted (of {row['written_fps']:.1f}), "
                        f"p50 {row['p50_ms']:7.1f} ms, p90 {row['p90_ms']:7.1f} ms "
                        f"(to page {row['p50_flush_to_page_ms']:.0f}, "
                        f"drawing {row['p50_page_to_pixel_ms']:.0f}), "
                        f"kernel {row['kernel_cpu_pct']:5.1f} %, "
                        f"voila RSS {row['voila_rss_growth_mb_s']:+.2f} MB/s",
                        flush=True,
                    )
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for png in workdir.glob("*.png"):
                (args.keep / png.name).write_bytes(png.read_bytes())
    load.append(os.getloadavg())
    report = {
        "benchmark": "camera",
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_avg_start_end": load,
        "interval_s": INTERVAL,
        "target_512_20": TARGET,
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"load average {load[0][0]:.2f} -> {load[1][0]:.2f}; written {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
