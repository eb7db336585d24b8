"""Benchmarks of swmr_widgets against the performance targets P1-P5 of the design notes.

Run them all with ``python -m benchmarks`` from the repository root (``--quick``
for tiny sizes, ``--only NAME`` to select families); see ``benchmarks/README.md``.
Every family is a module with ``NAME``, ``TITLE`` and ``run(ctx)``.
"""

from __future__ import annotations

#: The benchmark families, in the order they run (module names in this package).
FAMILIES = (
    "tick",
    "length",
    "frontend_bytes",
    "memory",
    "latency",
    "tree",
    "decimation",
    "refresh",
)
#: Families run only when named with ``--only`` (slow: they start servers and many processes).
OPT_IN = ("remote",)
