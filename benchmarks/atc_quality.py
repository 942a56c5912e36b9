"""Benchmark approximate TC (ATC) against exact TC: rank quality (Spearman) and time.

For each graph, hop count ``K`` and variant, exact TC
(:func:`topo_graphdb.kernels.tc.topological_concentration`) and ATC
(:func:`topo_graphdb.kernels.atc.approximate_tc`, one run per ATC seed) are
computed on the same simple undirected graph; the table reports the Spearman
correlation between them over the nodes where TC is defined (mean, min and max
over the seeds), whether ATC's NaN pattern equals exact TC's, and wall-clock
seconds of both (ATC: median over the seeds, after a warm-up call so Numba
kernels come from the on-disk cache), ATC's process CPU seconds (all threads)
and the 1-minute load average (other work on the machine inflates wall time).

Variants: ``train`` (evaluation edges = all edges) and ``eval`` (a random
``--eval-share`` of the undirected edges, drawn with ``--split-seed``, is held
out as evaluation edges; the rest is the train graph). Both use the node set of
the whole edge file.

Examples::

    python benchmarks/atc_quality.py --graphs cora,citeseer,ca-grqc,facebook --hops 2,3
    python benchmarks/atc_quality.py --graphs soc-slashdot0902 --exact-cache CACHE_DIR --json out.json

Exact TC for ``K = 3`` on graphs with 10^5 edges and more takes minutes to
hours on a CPU; ``--exact-cache DIR`` stores it (``.npy`` per graph, variant,
``K``, split) and reuses it on later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from _common import data_dir_help, default_data_dir

DEFAULT_GRAPHS = "cora,citeseer,ca-grqc,facebook"


def _csv_list(text: str, cast=str) -> list:
    return [cast(part) for part in text.split(",") if part.strip()]


def load_graph(data_dir: Path, name: str) -> tuple[np.ndarray, int]:
    """Simple undirected edges (2, M) of ``<data_dir>/<name>/edges.csv`` and the node count."""
    from topo_graphdb.edgefile import read_edge_csv
    from topo_graphdb.snapshot import GraphSnapshot, simple_undirected

    table = read_edge_csv(data_dir / name / "edges.csv")
    snap = GraphSnapshot.from_edges(table.src, table.dst)
    edges, _ = simple_undirected(snap.edge_index, snap.num_nodes)
    return edges, snap.num_nodes


def split_edges(edges: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held_out)``: a random ``share`` of the columns of ``edges`` held out."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(edges.shape[1])
    cut = int(round(share * edges.shape[1]))
    return edges[:, np.sort(order[cut:])], edges[:, np.sort(order[:cut])]


def exact_tc(train, ev, n, hops, backend, cache: Path | None, key: str) -> tuple[np.ndarray, float]:
    """Exact TC (from the cache when present) and the seconds it took (NaN when cached)."""
    from topo_graphdb.kernels.tc import topological_concentration

    path = cache / f"{key}.npy" if cache is not None else None
    if path is not None and path.is_file():
        return np.load(path), float("nan")
    start = time.perf_counter()
    tc = topological_concentration(train, ev, hops=hops, num_nodes=n, backend=backend).tc
    seconds = time.perf_counter() - start
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, tc)
    return tc, seconds


def run(args: argparse.Namespace) -> list[dict]:
    from scipy.stats import spearmanr

    from topo_graphdb.kernels.atc import approximate_tc

    approximate_tc(np.array([[0, 0, 1], [1, 2, 2]]), hops=max(args.hops), dim=8, backend=args.backend)  # warm-up
    rows = []
    for name in args.graphs:
        edges, n = load_graph(args.data_dir, name)
        train_split, held_out = split_edges(edges, args.eval_share, args.split_seed)
        variants = {"train": (edges, None), "eval": (train_split, held_out)}
        for variant in args.variants:
            train, ev = variants[variant]
            for hops in args.hops:
                key = f"{name}-{variant}-K{hops}-share{args.eval_share}-split{args.split_seed}"
                exact, exact_s = exact_tc(train, ev, n, hops, args.backend, args.exact_cache, key)
                defined = ~np.isnan(exact)
                rhos, seconds, cpu_seconds, nan_match = [], [], [], True
                for seed in args.seeds:
                    start, cpu_start = time.perf_counter(), time.process_time()
                    res = approximate_tc(
                        train, ev, hops=hops, dim=args.dim, seed=seed, num_nodes=n, backend=args.backend,
                        exact_hop1=not args.no_exact_hop1,
                    )
                    seconds.append(time.perf_counter() - start)
                    cpu_seconds.append(time.process_time() - cpu_start)
                    nan_match &= bool(np.array_equal(np.isnan(res.tc), ~defined))
                    rhos.append(float(spearmanr(exact[defined], res.tc[defined]).statistic))
                row = {
                    "graph": name, "nodes": int(n), "edges": int(train.shape[1]),
                    "eval_edges": int(edges.shape[1] if ev is None else ev.shape[1]), "variant": variant,
                    "hops": hops, "dim": args.dim, "defined": int(defined.sum()),
                    "spearman_mean": float(np.mean(rhos)), "spearman_min": float(np.min(rhos)),
                    "spearman_max": float(np.max(rhos)), "nan_match": nan_match,
                    "atc_seconds": float(np.median(seconds)), "atc_cpu_seconds": float(np.median(cpu_seconds)),
                    "exact_seconds": exact_s, "load_average": os.getloadavg()[0],
                    "backend": res.backend, "seeds": list(args.seeds),
                }
                rows.append(row)
                print(_format_row(row), flush=True)
    return rows


HEADER = (
    f"{'graph':<18} {'nodes':>7} {'edges':>8} {'variant':<7} {'K':>2} {'defined':>7} "
    f"{'spearman':>8} {'(min..max)':>13} {'NaN=':>5} {'ATC s':>7} {'ATC cpu':>7} {'exact s':>8} {'load':>5}"
)


def _format_row(r: dict) -> str:
    return (
        f"{r['graph']:<18} {r['nodes']:>7} {r['edges']:>8} {r['variant']:<7} {r['hops']:>2} {r['defined']:>7} "
        f"{r['spearman_mean']:>8.3f} {r['spearman_min']:>6.3f}..{r['spearman_max']:<6.3f} "
        f"{'yes' if r['nan_match'] else 'NO':>5} {r['atc_seconds']:>7.2f} {r['atc_cpu_seconds']:>7.2f} "
        f"{r['exact_seconds']:>8.1f} {r['load_average']:>5.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help())
    parser.add_argument("--graphs", type=_csv_list, default=_csv_list(DEFAULT_GRAPHS), help="comma-separated names")
    parser.add_argument("--hops", type=lambda t: _csv_list(t, int), default=[2, 3], help="comma-separated K")
    parser.add_argument("--variants", type=_csv_list, default=["train", "eval"], help="train and/or eval")
    parser.add_argument("--dim", type=int, default=128, help="ATC projection dimension")
    parser.add_argument("--seeds", type=lambda t: _csv_list(t, int), default=[0, 1, 2], help="ATC seeds")
    parser.add_argument("--eval-share", type=float, default=0.15, help="share of edges held out (eval variant)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the held-out split")
    parser.add_argument("--backend", default="cpu", choices=["auto", "cpu", "gpu"], help="backend of both")
    parser.add_argument("--no-exact-hop1", action="store_true", help="estimate the (1, 1) term too")
    parser.add_argument("--exact-cache", type=Path, default=None, help="folder to store/reuse exact TC")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a folder")
    if not set(args.variants) <= {"train", "eval"}:
        parser.error("--variants takes train and/or eval")
    print(HEADER, flush=True)
    rows = run(args)
    text = json.dumps(rows, indent=2)
    if args.json is not None:
        args.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
