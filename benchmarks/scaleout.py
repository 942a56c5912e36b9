"""Benchmark exact TC or ATC on a local Dask cluster against one process: the same numbers, the speed-up, the memory.

Runs :func:`topo_graphdb.kernels.topological_concentration` in this process
(Numba's default threads, and one thread), then
:func:`topo_graphdb.kernels.distributed.distributed_tc` on ``local:N`` clusters
for each N in ``--workers``: N single-threaded worker processes, and, where it
differs, N workers with their default share of the CPUs (``CPUs // N`` threads
each, as ``topo-graphdb tc --scheduler local:N``). Every configuration runs once untimed first (Numba
kernels loaded from the on-disk cache for this graph's sizes and types, in
every worker too), then timed ``--repeat`` times (the median is reported, every time in the JSON);
cluster start-up is not timed. Before the
timed cluster call the workers forget the reach sets the warm-up built and
kept, so it pays for building them, as a first call on a graph does. Reports wall-clock seconds, their ratio to the one-thread run and to
the smallest cluster, CPU seconds (of this process's call, or of the worker
processes summed over the tasks: less disturbed by other load on the machine,
and the cost of splitting the work), and the largest relative difference from
the one-process result (0 expected). With ``--kernel atc`` the same for
:func:`topo_graphdb.kernels.approximate_tc` against
:func:`topo_graphdb.kernels.distributed.distributed_atc` (split over the
columns of the projection), and the peak resident memory of each worker
process (``VmHWM`` in the worker, warm-up included; a fresh cluster per N).
Prints a table and writes JSON.

Example::

    python benchmarks/scaleout.py --data-dir DATA --graph soc-slashdot0902 --hops 2 --workers 1,2 --json scaleout.json
    python benchmarks/scaleout.py --data-dir DATA --kernel atc --hops 3 --dim 128 --workers 1,2 --json atc.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from _common import data_dir_help, default_data_dir, load_graph


def _largest_relative_difference(got, want) -> float:
    """Largest ``|got - want| / |want|`` over the defined entries (inf where the undefined ones differ)."""
    import numpy as np

    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return float("inf")
    ok = ~np.isnan(want)
    scale = np.maximum(np.abs(want[ok]), np.finfo(np.float64).tiny)
    return float((np.abs(got[ok] - want[ok]) / scale).max(initial=0.0))


def _peak_rss_bytes() -> int:
    """Peak resident memory of the calling process since it started (run in each worker).

    ``VmHWM`` of ``/proc/self/status`` (Linux): the peak of this process's own address space.
    Not ``getrusage``'s ``ru_maxrss``, which a process started by fork and exec inherits from its
    parent (a worker would report this benchmark process's peak). Elsewhere: ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help())
    parser.add_argument("--graph", default="soc-slashdot0902", help="Graph folder under --data-dir.")
    parser.add_argument("--hops", type=int, default=2, help="K.")
    parser.add_argument("--workers", default="1,2", help="Comma-separated N of the local:N clusters.")
    parser.add_argument("--memory-budget", default="4G", help="Memory budget of each call (each task on a cluster).")
    parser.add_argument("--kernel", choices=["exact", "atc"], default="exact", help="Exact TC or ATC.")
    parser.add_argument("--dim", type=int, default=128, help="ATC projection dimension d.")
    parser.add_argument("--seed", type=int, default=0, help="ATC seed.")
    parser.add_argument("--repeat", type=int, default=1, help="Timed calls per configuration (the median is reported).")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here as JSON.")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1; got {args.repeat}")
    snap = load_graph(args.data_dir, args.graph, parser)

    import numba
    import numpy as np

    from topo_graphdb.kernels import approximate_tc, topological_concentration
    from topo_graphdb.kernels.distributed import (
        dask_client,
        distributed_atc,
        distributed_tc,
        forget_reach_sets,
    )
    from topo_graphdb.scheduler import local_worker_threads

    if args.kernel == "atc":
        def alone():
            return approximate_tc(snap, hops=args.hops, dim=args.dim, seed=args.seed, backend="cpu")

        def spread(client):
            return distributed_atc(snap, client=client, hops=args.hops, dim=args.dim, seed=args.seed)
    else:
        def alone():
            return topological_concentration(snap, hops=args.hops, backend="cpu", memory_budget=args.memory_budget)

        def spread(client):
            return distributed_tc(snap, client=client, hops=args.hops, memory_budget=args.memory_budget)
    load_before = os.getloadavg()
    rows, reference = [], None
    alone()  # warm-up
    threads = numba.get_num_threads()
    for label, count in ((f"one process, {threads} threads", threads), ("one process, 1 thread", 1)):
        numba.set_num_threads(count)
        times, cpu = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            res = alone()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        reference = res if reference is None else reference
        rows.append({"run": label, "scheduler": None, "workers": 1, "threads": count, "seconds": float(np.median(times)),
                     "seconds_each": times, "cpu_seconds": float(np.median(cpu)), "batches": getattr(res, "batches", None),
                     "max_rel_diff": _largest_relative_difference(res.tc, reference.tc),
                     "identical": bool(np.array_equal(res.tc, reference.tc, equal_nan=True))})
    numba.set_num_threads(threads)
    counts = [int(w) for w in args.workers.split(",")]
    settings = [(n, 1) for n in counts] + [(n, local_worker_threads(n)) for n in counts if local_worker_threads(n) != 1]
    for workers, worker_threads in settings:
        with dask_client(f"local:{workers}", threads=worker_threads) as client:
            rss_start = sorted(client.run(_peak_rss_bytes).values())
            spread(client)  # warm-up
            times, cpu = [], []
            for _ in range(args.repeat):
                client.run(forget_reach_sets)  # the timed call builds its reach sets, as a first call on a graph does
                t0 = time.perf_counter()
                res = spread(client)
                times.append(time.perf_counter() - t0)
                cpu.append(res.timings["cpu"])
            rss_peak = sorted(client.run(_peak_rss_bytes).values())
        rows.append({"run": f"local:{workers}, {worker_threads} thread{'s' if worker_threads > 1 else ''} each",
                     "scheduler": f"local:{workers}", "workers": workers, "threads": workers * worker_threads,
                     "default_threads": worker_threads == local_worker_threads(workers),
                     "seconds": float(np.median(times)), "seconds_each": times, "cpu_seconds": float(np.median(cpu)),
                     "batches": getattr(res, "batches", None),
                     "timings": {k: float(v) for k, v in res.timings.items()},
                     "worker_peak_rss_bytes": rss_peak, "worker_start_rss_bytes": rss_start,
                     "max_rel_diff": _largest_relative_difference(res.tc, reference.tc),
                     "identical": bool(np.array_equal(res.tc, reference.tc, equal_nan=True))})
    single = next(r for r in rows if r["run"] == "one process, 1 thread")["seconds"]
    clusters = [r for r in rows if r["scheduler"]]
    for r in rows:
        r["speedup_vs_one_thread"] = single / r["seconds"]
        r["speedup_vs_smallest_cluster"] = clusters[0]["seconds"] / r["seconds"] if r["scheduler"] else None
    what = f"ATC K={args.hops} d={args.dim}" if args.kernel == "atc" else f"exact TC K={args.hops}"
    print(f"{args.graph}: {snap.num_nodes} nodes, {reference.train_edges} edges, {what}")
    header = ["run", "seconds", "x one thread", f"x {clusters[0]['run']}", "CPU s", "batches", "identical",
              "worker peak RSS MiB"]
    print(" | ".join(header))
    for r in rows:
        print(" | ".join([
            r["run"], f"{r['seconds']:.2f}", f"{r['speedup_vs_one_thread']:.2f}",
            "" if r["speedup_vs_smallest_cluster"] is None else f"{r['speedup_vs_smallest_cluster']:.2f}",
            f"{r['cpu_seconds']:.2f}", str(r["batches"]), str(r["identical"]),
            " ".join(f"{b / 2**20:.0f}" for b in r.get("worker_peak_rss_bytes", [])),
        ]))
    load_after = os.getloadavg()
    print(f"CPUs: {os.cpu_count()}; load average (1, 5, 15 min) before {load_before[0]:.1f} {load_before[1]:.1f} "
          f"{load_before[2]:.1f}, after {load_after[0]:.1f} {load_after[1]:.1f} {load_after[2]:.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "graph": args.graph, "kernel": args.kernel, "hops": args.hops, "dim": args.dim if args.kernel == "atc" else None,
            "workers": args.workers, "memory_budget": args.memory_budget, "repeat": args.repeat,
            "cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": load_after, "results": rows,
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
