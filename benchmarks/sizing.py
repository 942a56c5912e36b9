"""Sizing table: memory per Dask worker and expected TC / ATC time for graphs of 10^8 to 10^10 edges.

Derived, not measured: a reference graph (``--graph``, default soc-slashdot0902)
gives the estimator's work and graph bytes per edge
(:func:`topo_graphdb.kernels.estimate.estimate_cluster`), and the larger graphs
are taken to have the same shape (nodes per edge, work per edge: optimistic for
exact TC with ``K >= 2`` on graphs with bigger hubs, whose work grows faster than
the edges). ATC memory and work come from the formulas
(:func:`~topo_graphdb.kernels.estimate.atc_memory`,
:func:`~topo_graphdb.kernels.estimate.atc_seconds`) with the scaled node count.
Times multiply the work by the measured per-unit CPU costs in
:mod:`topo_graphdb.kernels.estimate` and divide among the workers. Prints a
table and writes JSON.

Example::

    python benchmarks/sizing.py --data-dir DATA --edges 1e8,1e9,1e10 --workers 1,16,64 --json sizing.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _common import data_dir_help, default_data_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help())
    parser.add_argument("--graph", default="soc-slashdot0902", help="Reference graph folder under --data-dir.")
    parser.add_argument("--edges", default="1e8,1e9,1e10", help="Comma-separated edge counts to size.")
    parser.add_argument("--workers", default="1,16,64", help="Comma-separated numbers of workers.")
    parser.add_argument("--dim", type=int, default=128, help="ATC projection dimension d.")
    parser.add_argument("--json", type=Path, default=None, help="Write the table here as JSON.")
    args = parser.parse_args(argv)
    if args.data_dir is None:
        parser.error("--data-dir is required (or set TOPO_GRAPHDB_DATA)")

    from topo_graphdb.edgefile import read_edge_csv
    from topo_graphdb.kernels.estimate import (
        CLUSTER_CPU_FACTOR,
        atc_memory,
        atc_seconds,
        estimate_cluster,
    )
    from topo_graphdb.snapshot import GraphSnapshot

    table = read_edge_csv(args.data_dir / args.graph / "edges.csv")
    snap = GraphSnapshot.from_edges(table.src, table.dst)
    workers = [int(w) for w in args.workers.split(",")]
    rows = []
    for hops in (1, 2):
        ref = estimate_cluster(snap, hops=hops, workers=1)
        nodes_per_edge = ref.num_nodes / ref.train_edges
        for edges in (int(float(e)) for e in args.edges.split(",")):
            scale = edges / ref.train_edges
            nodes = int(nodes_per_edge * edges)
            for kernel in ("exact", "atc"):
                for n_workers in workers:
                    if kernel == "exact":
                        graph = ref.graph_bytes * scale  # the CSR and per-node arrays: linear in the graph
                        worker = graph + (ref.worker_bytes - ref.graph_bytes)  # + one task's rows (budget-bound)
                        one = ref.seconds_one_thread * scale
                    else:
                        memory = atc_memory(nodes, edges, edges, hops, args.dim, workers=n_workers)
                        graph, worker = memory["graph"], memory["peak"]
                        one = atc_seconds(edges, 2 * edges, hops, args.dim)
                        seconds = atc_seconds(edges, 2 * edges, hops, args.dim, workers=n_workers)
                    if kernel == "exact":
                        seconds = one * (CLUSTER_CPU_FACTOR[kernel] if n_workers > 1 else 1.0) / n_workers
                    rows.append({"edges": edges, "nodes": nodes, "hops": hops, "kernel": kernel, "workers": n_workers,
                                 "graph_bytes": int(graph), "worker_bytes": int(worker),
                                 "hours_one_thread": one / 3600, "hours": seconds / 3600})
    print(f"reference {args.graph}: per-edge work and graph bytes scaled; ATC d={args.dim}")
    print("edges | K | kernel | workers | graph GiB (each worker) | peak GiB per worker | hours")
    for r in rows:
        print(f"{r['edges']:.0e} | {r['hops']} | {r['kernel']} | {r['workers']} | {r['graph_bytes'] / 2**30:.1f} | "
              f"{r['worker_bytes'] / 2**30:.1f} | {r['hours']:.3g}")
    if args.json is not None:
        args.json.write_text(json.dumps({"reference": args.graph, "dim": args.dim, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
