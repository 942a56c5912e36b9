"""Benchmark exact Topological Concentration: time, peak memory, speed-up over the set-based oracle.

Every measurement runs in a fresh child process, so that its peak memory
(``ru_maxrss`` of the child minus its resident size just before the call,
both from the OS, not tracemalloc: Numba's allocations bypass it) belongs to
that run alone. Timings are wall-clock seconds of the API call after a
warm-up call (Numba kernels loaded from the on-disk cache), plus the
process CPU seconds (all threads) of the same call, which are less
disturbed by other load on the machine, and, with ``--cli``, the
end-to-end ``topo-graphdb tc`` command.

Examples::

    python benchmarks/tc.py --data-dir /path/to/data --graphs cora,facebook --hops 1,2,3 --json out.json
    python benchmarks/tc.py --backend gpu --synthetic-edges 100000000 --hops 1

The oracle (``topo_graphdb.kernels.oracle.naive_tc``, Python dicts of sets)
runs only on graphs up to ``--oracle-max-edges`` and is stopped after
``--oracle-cap`` seconds. Where exact TC does not fit ``--memory-budget``,
the estimate is reported instead. ATC columns (time, Spearman correlation
with exact TC) appear when ``topo_graphdb.kernels.atc`` provides
``approximate_tc``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import data_dir_help, default_data_dir, portable_words


# ----------------------------------------------------------------------------- child side
def _load(spec: dict):
    import numpy as np

    if spec.get("synthetic_edges"):
        edges, num_nodes = _synthetic(int(spec["synthetic_edges"]), spec["backend"], int(spec.get("seed", 0)))
    else:
        from topo_graphdb.edgefile import read_edge_csv
        from topo_graphdb.snapshot import GraphSnapshot

        table = read_edge_csv(Path(spec["data_dir"]) / spec["graph"] / "edges.csv")
        snap = GraphSnapshot.from_edges(table.src, table.dst)
        edges, num_nodes = snap.edge_index, snap.num_nodes
    ev = None
    if spec.get("eval_share"):
        rng = np.random.default_rng(0)
        mask = rng.random(edges.shape[1]) < float(spec["eval_share"])
        edges, ev = edges[:, ~mask], edges[:, mask]
    return (edges, num_nodes), ev


def _synthetic(num_edges: int, backend: str, seed: int):
    """Power-law (Chung-Lu style) multigraph: endpoints drawn with P(i) ~ i^(-1/(gamma-1)), gamma = 2.1.

    Mean degree about 16 (n = num_edges / 8). Generated on the GPU when the
    backend is ``gpu`` (then copied to the host), else with NumPy.
    """
    import numpy as np

    n = max(num_edges // 8, 16)
    if backend == "gpu":
        import cupy as xp
    else:
        xp = np
    weights = xp.arange(1, n + 1, dtype=xp.float64) ** (-1.0 / 1.1)
    cdf = xp.cumsum(weights)
    cdf /= cdf[-1]
    rng = xp.random.RandomState(seed)
    edges = xp.empty((2, num_edges), dtype=xp.int64)
    step = 1 << 24
    for start in range(0, num_edges, step):
        stop = min(start + step, num_edges)
        edges[:, start:stop] = xp.searchsorted(cdf, rng.random_sample((2, stop - start)))
    edges = xp.minimum(edges, n - 1)
    if xp is not np:
        edges = edges.get()
    return edges, n


def _child(spec: dict) -> dict:
    import resource

    import numpy as np
    import psutil

    (edges, n), ev = _load(spec)
    out: dict = {"nodes": int(n), "input_edges": int(edges.shape[1])}
    task = spec["task"]
    process = psutil.Process()
    if task == "oracle":
        from topo_graphdb.kernels.oracle import naive_tc

        rss = process.memory_info().rss
        t0, c0 = time.perf_counter(), time.process_time()
        tc = naive_tc(edges, ev, hops=spec["hops"], num_nodes=n, cache_reach=not spec.get("oracle_no_cache"))
        out["seconds"] = time.perf_counter() - t0
        out["cpu_seconds"] = time.process_time() - c0
        np.save(spec["save"], tc)
    elif task in ("exact", "atc"):
        from topo_graphdb.errors import BudgetExceeded
        from topo_graphdb.kernels import estimate_tc, topological_concentration

        tiny = np.array([[0, 1, 2, 0], [1, 2, 0, 3]])
        topological_concentration(tiny, hops=spec["hops"], backend=spec["backend"])  # warm-up: load kernels
        rss = process.memory_info().rss
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            if task == "exact":
                res = topological_concentration(
                    edges, ev, hops=spec["hops"], num_nodes=n, backend=spec["backend"],
                    memory_budget=spec.get("memory_budget"),
                )
            else:
                from topo_graphdb.kernels.atc import approximate_tc

                res = approximate_tc(edges, ev, hops=spec["hops"], backend=spec["backend"], num_nodes=n)
        except BudgetExceeded as err:
            est = estimate_tc(edges, ev, hops=spec["hops"], num_nodes=n, backend=spec["backend"],
                              memory_budget=spec.get("memory_budget"))
            out.update(error=str(err), estimate=est.as_dict())
            return out
        out["seconds"] = time.perf_counter() - t0
        out["cpu_seconds"] = time.process_time() - c0
        out["timings"] = {k: float(v) for k, v in dict(getattr(res, "timings", {}) or {}).items()}
        out["train_edges"] = getattr(res, "train_edges", None)
        out["eval_edges"] = getattr(res, "eval_edges", None)
        out["batches"] = getattr(res, "batches", None)
        out["defined"] = int(np.count_nonzero(~np.isnan(res.tc)))
        np.save(spec["save"], np.asarray(res.tc, dtype=np.float64))
    else:
        raise SystemExit(f"unknown task {task}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    out["peak_rss_delta_mb"] = max(peak - rss, 0) / 2**20
    out["peak_rss_mb"] = peak / 2**20
    return out


# ----------------------------------------------------------------------------- parent side
def _run_child(spec: dict, timeout: float | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        spec = {**spec, "save": str(Path(tmp) / "tc.npy")}
        try:
            proc = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(spec)],
                capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"timeout": timeout}
        if proc.returncode != 0:
            return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if Path(spec["save"]).exists():
            import numpy as np

            result["tc"] = np.load(spec["save"])
        return result


def _cli_seconds(data_dir: Path, graph: str, hops: int, backend: str) -> tuple[float | None, float | None]:
    """Wall and CPU (user + system, all threads) seconds of one ``topo-graphdb tc`` command."""
    import resource

    exe = Path(sys.executable).with_name("topo-graphdb")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(exe) if exe.exists() else "topo-graphdb", "tc", "--edges", str(data_dir / graph / "edges.csv"),
               "--hops", str(hops), "--backend", backend, "--output", str(Path(tmp) / "out.csv")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return (wall, cpu) if proc.returncode == 0 else (None, None)


def _compare(a, b) -> tuple[float | None, bool]:
    import numpy as np

    same_nan = bool(np.array_equal(np.isnan(a), np.isnan(b)))
    ok = ~np.isnan(a) & ~np.isnan(b)
    if not ok.any():
        return None, same_nan
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300))), same_nan


def _spearman(a, b) -> float | None:
    import numpy as np
    from scipy.stats import spearmanr

    ok = ~np.isnan(a) & ~np.isnan(b)
    return float(spearmanr(a[ok], b[ok]).statistic) if ok.sum() > 2 else None


def _has_atc() -> bool:
    try:
        from topo_graphdb.kernels import atc
    except ImportError:
        return False
    return getattr(atc, "approximate_tc", None) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help())
    parser.add_argument("--graphs", default="cora,ca-grqc,facebook,soc-slashdot0902")
    parser.add_argument("--hops", default="1,2,3", help="comma-separated K values")
    parser.add_argument("--skip", default="soc-slashdot0902:3", help="graph:K pairs to skip, comma-separated")
    parser.add_argument("--backend", default="cpu", choices=["auto", "cpu", "gpu"])
    parser.add_argument("--memory-budget", default=None, help="bytes or a size like 8G")
    parser.add_argument("--eval-share", type=float, default=0.0, help="also hold out this share of edges as eval edges")
    parser.add_argument("--oracle-max-edges", type=int, default=200_000)
    parser.add_argument("--oracle-cap", type=float, default=600.0, help="seconds before the oracle is stopped")
    parser.add_argument("--no-oracle", action="store_true")
    parser.add_argument("--oracle-no-cache", action="store_true",
                        help="the oracle recomputes reach sets for every node pair (the formula read literally)")
    parser.add_argument("--cli", action="store_true", help="also time the whole topo-graphdb tc command (K <= 2)")
    parser.add_argument("--synthetic-edges", type=int, default=0, help="benchmark a synthetic power-law graph instead")
    parser.add_argument("--json", type=Path, default=None, help="write the rows as JSON here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0

    budget = None
    if args.memory_budget:
        from topo_graphdb.units import parse_size

        budget = parse_size(args.memory_budget, name="memory budget")
    hops_list = [int(k) for k in args.hops.split(",") if k]
    skip = {tuple(s.split(":")) for s in args.skip.split(",") if ":" in s}
    graphs = ["synthetic"] if args.synthetic_edges else [g for g in args.graphs.split(",") if g]
    if not args.synthetic_edges and args.data_dir is None:
        parser.error("--data-dir is required (no default data directory here)")
    atc = _has_atc()
    rows = []
    for graph in graphs:
        for hops in hops_list:
            if (graph, str(hops)) in skip:
                continue
            spec = {"graph": graph, "hops": hops, "backend": args.backend, "memory_budget": budget,
                    "data_dir": str(args.data_dir), "synthetic_edges": args.synthetic_edges,
                    "eval_share": args.eval_share, "oracle_no_cache": args.oracle_no_cache}
            exact = _run_child({**spec, "task": "exact"}, None)
            row = {"graph": graph, "hops": hops, "backend": args.backend, "variant": "eval" if args.eval_share else "train"}
            row.update({k: exact.get(k) for k in ("nodes", "train_edges", "eval_edges", "seconds", "cpu_seconds", "timings",
                                                     "peak_rss_delta_mb", "batches", "defined", "error", "estimate")})
            kernel = (row.get("timings") or {}).get("kernel")
            if hops == 1 and kernel:
                row["edges_per_kernel_second"] = row["eval_edges"] / kernel
            if "tc" in exact and not args.no_oracle and not args.synthetic_edges:
                if exact["train_edges"] <= args.oracle_max_edges:
                    oracle = _run_child({**spec, "task": "oracle"}, args.oracle_cap)
                    row["oracle_seconds"] = oracle.get("seconds")
                    row["oracle_cpu_seconds"] = oracle.get("cpu_seconds")
                    row["oracle_timeout"] = oracle.get("timeout")
                    if "tc" in oracle:
                        row["max_rel_diff"], row["same_undefined"] = _compare(exact["tc"], oracle["tc"])
                        row["speedup"] = oracle["seconds"] / exact["seconds"]
                        row["speedup_cpu"] = oracle["cpu_seconds"] / max(exact["cpu_seconds"], 1e-9)
            if atc and "tc" in exact and not args.synthetic_edges:
                approx = _run_child({**spec, "task": "atc"}, None)
                row["atc_seconds"] = approx.get("seconds")
                row["atc_spearman"] = _spearman(approx["tc"], exact["tc"]) if "tc" in approx else None
            if args.cli and hops <= 2 and not args.synthetic_edges and not args.eval_share:
                _cli_seconds(args.data_dir, graph, hops, args.backend)  # once to settle file caches
                row["cli_seconds"], row["cli_cpu_seconds"] = _cli_seconds(args.data_dir, graph, hops, args.backend)
            rows.append(row)
            print(_format_row(row), flush=True)
    print()
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "cpu_count": os.cpu_count(), "argv": portable_words(sys.argv[1:], args.data_dir)}, indent=2))
    return 0


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _format_row(row: dict) -> str:
    if row.get("error"):
        est = row.get("estimate") or {}
        return (f"{row['graph']} K={row['hops']}: does not fit ({row['error']}); estimate: peak <= "
                f"{est.get('peak_bytes_bound', 0) / 2**20:.0f} MiB, lookups <= {est.get('lookup_bound', 0):.3g}")
    return f"{row['graph']} K={row['hops']}: {_fmt(row.get('seconds'), '.3f')} s" + (
        f", oracle {_fmt(row.get('oracle_seconds'), '.1f')} s" if "oracle_seconds" in row else "")


def _table(rows: list[dict]) -> str:
    head = ["graph", "K", "nodes", "edges", "exact s", "exact cpu s", "prepare s", "reach s", "kernel s", "1-hop edges/s",
            "peak MiB", "batches", "oracle s", "oracle cpu s", "speed-up", "speed-up cpu", "max rel diff", "cli s",
            "cli cpu s", "atc s", "atc rho"]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        t = r.get("timings") or {}
        oracle = r.get("oracle_seconds")
        if oracle is None and r.get("oracle_timeout"):
            oracle_text = f">{r['oracle_timeout']:.0f}"
        else:
            oracle_text = _fmt(oracle, ".1f")
        if r.get("error"):
            est = r.get("estimate") or {}
            exact_text = f"no fit (est. {est.get('peak_bytes_bound', 0) / 2**20:.0f} MiB)"
        else:
            exact_text = _fmt(r.get("seconds"), ".3f")
        lines.append(" | ".join([
            r["graph"], str(r["hops"]), _fmt(r.get("nodes"), "d"), _fmt(r.get("train_edges"), "d"), exact_text,
            _fmt(r.get("cpu_seconds"), ".3f"), _fmt(t.get("prepare"), ".3f"), _fmt(t.get("reach"), ".3f"), _fmt(t.get("kernel"), ".3f"),
            _fmt(r.get("edges_per_kernel_second"), ".3g"), _fmt(r.get("peak_rss_delta_mb"), ".0f"),
            _fmt(r.get("batches"), "d"), oracle_text, _fmt(r.get("oracle_cpu_seconds"), ".1f"), _fmt(r.get("speedup"), ".0f"),
            _fmt(r.get("speedup_cpu"), ".0f"), _fmt(r.get("max_rel_diff"), ".1e"),
            _fmt(r.get("cli_seconds"), ".2f"), _fmt(r.get("cli_cpu_seconds"), ".2f"), _fmt(r.get("atc_seconds"), ".3f"), _fmt(r.get("atc_spearman"), ".3f"),
        ]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
