"""Benchmark pair Topological Concentration on a real graph: a number of pairs per source node.

For every node with at least one edge, ``--pairs-per-node`` targets are drawn
uniformly from the nodes that are not its neighbours (nor itself; seeded), and
:func:`topo_graphdb.kernels.pair_topological_concentration` is timed for each
``K`` in ``--hops`` after a warm-up call (Numba kernels loaded from the on-disk
cache). Reports wall-clock seconds and process CPU seconds (all threads; less
disturbed by other load on the machine) of each call. Prints a table and
writes JSON.

Example::

    python benchmarks/pairs.py --data-dir DATA --graph soc-slashdot0902 --hops 1,2,3 --json pairs.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _common import data_dir_help, default_data_dir, load_graph, portable_words


def non_neighbour_pairs(edge_index, num_nodes: int, per_node: int, seed: int):
    """``per_node`` random non-neighbour targets for every node with an edge; shape (2, P)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    src, dst = edge_index
    keys = np.unique(np.concatenate([src * num_nodes + dst, dst * num_nodes + src]))
    sources = np.unique(np.concatenate([src, dst]))
    i = np.repeat(sources, per_node)
    j = rng.integers(0, num_nodes, i.size)
    while True:  # redraw targets that are the source or one of its neighbours
        pos = np.searchsorted(keys, i * num_nodes + j)
        bad = (i == j) | ((pos < keys.size) & (keys[np.minimum(pos, keys.size - 1)] == i * num_nodes + j))
        if not bad.any():
            return np.stack([i, j])
        j[bad] = rng.integers(0, num_nodes, int(bad.sum()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help())
    parser.add_argument("--graph", default="soc-slashdot0902", help="Graph folder under --data-dir.")
    parser.add_argument("--hops", default="1,2,3", help="Comma-separated K values.")
    parser.add_argument("--pairs-per-node", type=int, default=10, help="Random non-neighbour targets per node.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the target draw.")
    parser.add_argument("--backend", default="cpu", choices=["cpu", "gpu", "auto"], help="Compute backend.")
    parser.add_argument("--memory-budget", default="4G", help="Memory budget of each call (bytes or a size like 4G).")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here as JSON.")
    args = parser.parse_args(argv)
    snap = load_graph(args.data_dir, args.graph, parser)

    import numpy as np

    from topo_graphdb.kernels import pair_topological_concentration
    from topo_graphdb.kernels._cpu import num_threads

    edges, n = snap.edge_index, snap.num_nodes
    pairs = non_neighbour_pairs(edges, n, args.pairs_per_node, args.seed)
    tiny = np.array([[0, 1, 2, 0], [1, 2, 0, 3]])
    rows = []
    for hops in [int(h) for h in args.hops.split(",")]:
        pair_topological_concentration(tiny, tiny, hops=hops, backend=args.backend)  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        res = pair_topological_concentration(
            edges, pairs, hops=hops, num_nodes=n, backend=args.backend, memory_budget=args.memory_budget
        )
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        rows.append({
            "graph": args.graph, "hops": hops, "nodes": int(n), "pairs": int(pairs.shape[1]),
            "distinct_pairs": res.distinct_pairs, "backend": res.backend,
            "threads": num_threads() if res.backend == "cpu" else None, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "timings": {k: float(v) for k, v in res.timings.items()},
            "defined": int(res.defined.sum()), "mean_tc": float(np.nanmean(res.tc)),
        })
    header = ["graph", "K", "pairs", "distinct", "seconds", "CPU s", "prepare", "reach", "kernel", "batches", "mean TC"]
    print(" | ".join(header))
    for r in rows:
        t = r["timings"]
        print(" | ".join([
            r["graph"], str(r["hops"]), str(r["pairs"]), str(r["distinct_pairs"]), f"{r['seconds']:.2f}", f"{r['cpu_seconds']:.2f}",
            f"{t.get('prepare', 0):.2f}", f"{t.get('reach', 0):.2f}", f"{t.get('kernel', 0):.2f}",
            str(int(t.get("batches", 1))), f"{r['mean_tc']:.4g}",
        ]))
    if args.json is not None:
        args.json.write_text(json.dumps({"argv": portable_words(sys.argv[1:], args.data_dir), "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
