"""Tree scale: building the dataset tree's model for a file of 5,000 datasets, in the kernel.

The file is held by a writer process in SWMR mode. Variants, interleaved, in
the harness process:

* ``ours``: ``tree_nodes(f)`` then ``DatasetTree().set_nodes(nodes)`` (what
  ``SwmrView`` does when it attaches), the widget's messages JSON-encoded;
* ``tree_nodes`` and ``set_nodes`` alone;
* ``walk``: ``collect_datasets(f)``, the walk every view does anyway.

The browser side of P6 (rendering 5,000 datasets in ≤ 1 s) is measured by the
end-to-end tests, not here.
"""

from __future__ import annotations

from benchmarks.common import Context, Row, WriterProcess, column, interleaved, ratio, stats, timed
from benchmarks.tick import build

NAME = "tree"
TITLE = "Tree model build"


def run(ctx: Context) -> list[Row]:
    """Time the tree model for a file of 5,000 datasets (100 with ``--quick``).

    Parameters
    ----------
    ctx : Context
        The run's context.

    Returns
    -------
    list of Row
        One row; the ratio is ours/walk.
    """
    from swmr_widgets import collect_datasets, open_h5_file_for_reading
    from swmr_widgets.nodes import tree_nodes
    from swmr_widgets.tree import DatasetTree

    n = 100 if ctx.quick else 5000
    rounds = 3 if ctx.quick else 15
    path = ctx.workdir / f"tree_{n}.h5"
    ctx.log(f"{TITLE}: {n:,} datasets")
    with WriterProcess(path) as writer:
        build(writer, n)
        f, _ = open_h5_file_for_reading(path)
        try:
            nodes = tree_nodes(f)

            def make_tree(nodes: list[dict]) -> None:
                tree = DatasetTree()
                tree.set_nodes(nodes)
                tree.close()

            samples = interleaved(
                {
                    "ours": timed(lambda: make_tree(tree_nodes(f))),
                    "tree_nodes": timed(lambda: tree_nodes(f)),
                    "set_nodes": timed(lambda: make_tree(nodes)),
                    "walk": timed(lambda: collect_datasets(f)),
                },
                rounds,
                warmup=1,
            )
            ctx.recorder.reset()
            make_tree(nodes)
            sent = ctx.recorder.total_bytes
        finally:
            f.close()
    variants = {k: stats(column(v), 1e3) for k, v in samples.items()}
    datasets = sum(1 for node in nodes if node.get("kind") == "dataset")
    return [
        Row(
            family=NAME,
            benchmark=TITLE,
            size=f"{datasets:,} datasets",
            unit="ms",
            variants=variants,
            ratio=ratio(variants["ours"]["median"], variants["walk"]["median"]),
            ratio_label="ours/walk",
            params={"datasets": datasets, "nodes": len(nodes), "bytes_sent": sent},
            note=(
                f"{len(nodes):,} nodes; the tree widget sends {sent / 1024:,.0f} KiB "
                "(JSON) to the frontend; no kernel-side target (P6 is the browser's render)"
            ),
        )
    ]
