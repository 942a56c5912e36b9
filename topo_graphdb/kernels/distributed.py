"""Exact TC and pair TC on the workers of a Dask cluster, with the numbers of one process.

The graph goes to every worker once (``client.scatter(..., broadcast=True, hash=False)``: a fresh
key per call, so a second call on the same graph never races the release of the first one's data,
dask/distributed#8576).
The source nodes are cut into contiguous blocks of similar estimated work (:func:`~topo_graphdb.kernels.tc.source_costs`,
the bound the kernels balance their threads with), a few blocks per worker thread (one when the cluster has a single
worker thread, which would run them one after the other); each block is one task that runs the single-machine CPU kernel
on it (:func:`~topo_graphdb.kernels.tc.topological_concentration` with ``nodes=``,
:func:`~topo_graphdb.kernels.pairs.pair_topological_concentration` on the pairs whose source is in the block), and the
results are gathered back in node (pair) order. A node's (pair's) value is computed by one thread from integer walk
counts, whatever block it is in, so the result equals one process's. A worker
lost mid-run costs only its tasks: Dask runs them again on another worker.
The reach sets of ``K >= 2`` (a block's targets are most of a power-law graph)
are built once per worker for every node when they fit the task's memory
budget, and kept for its next tasks and calls on the same graph
(:class:`~topo_graphdb.kernels._exact.ReachCache`), instead of once per block.

A snapshot read from a folder or URL (:meth:`~topo_graphdb.snapshot.GraphSnapshot.from_parquet`,
so its ``origin`` is set) is not sent: the tasks carry its origin and the digest of its edges,
and each worker reads the edges there once (kept for the next tasks and calls on the same
snapshot) and checks the digest, so the numbers are the ones of the snapshot the client holds.

Where the work runs is one setting, ``scheduler``: ``"local"`` or ``"local:N"``
starts a :class:`distributed.LocalCluster` of N worker processes (default: one per
CPU) that share the CPUs out (each runs one task at a time, its kernels on ``CPUs // N``
threads, at least one) for the duration of the run; any other value is the
address of a running scheduler (``tcp://host:port``), whose workers need
topo_graphdb installed. Dask is the optional ``dask`` extra
(``pip install 'topo-graphdb[dask]'``), imported here only, on first use.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

import numpy as np

from ..errors import BackendUnavailable, InputError
from ..scheduler import THREAD_SETTINGS, local_worker_threads, parse_scheduler
from ..snapshot import GraphSnapshot
from ._atc_cpu import COLUMN_CHUNK, CpuOps, pair_dot_chunks, sum_chunks
from ._atc_stages import (
    PAIR_BLOCKS_PER_TASK,
    SKETCH_CHUNK,
    column_ranges,
    concentration,
    pair_blocks,
    pair_context,
    pair_values,
    prepare_graph,
    project_columns,
    reach_sketch_sums,
    select_rows,
    set_ratios,
    side_arrays,
    triangle_edges,
)
from ._beta import default_beta
from ._exact import ReachCache, cost_slices, progress_bar, reusing_reach, validate_settings
from ._runner import running_on
from .atc import ATCResult, validate_atc
from .pairs import PairTCResult, pair_source_costs, pair_topological_concentration
from .tc import TCResult, source_costs, topological_concentration

__all__ = [
    "CONNECT_TIMEOUT",
    "parse_scheduler",
    "dask_client",
    "distributed_tc",
    "distributed_pair_tc",
    "distributed_atc",
    "compute_on",
    "compute_scheduled",
    "distributed_map_blocks",
    "StoredEdges",
    "forget_reach_sets",
]

CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler address (and to see its first worker)
TASKS_PER_WORKER_THREAD = 4  # blocks per worker thread: balance, and little to redo when a worker is lost


# ----------------------------------------------------------------------------- the cluster
@contextmanager
def dask_client(scheduler: str, *, timeout: float = CONNECT_TIMEOUT, threads: int | None = None) -> Iterator[Any]:
    """A :class:`distributed.Client` for ``scheduler`` (see the module docstring), closed on exit.

    A local cluster's workers are processes that run one task at a time; the
    task's kernels (Numba, PyTorch, BLAS) use :func:`~topo_graphdb.scheduler.local_worker_threads`
    threads (``threads`` overrides the share, e.g. 1 for single-threaded
    workers). An address must answer, and show at least one worker, within
    ``timeout`` seconds.

    Raises
    ------
    InputError
        ``scheduler`` is empty, ``local:N`` with N < 1, or not an address.
    BackendUnavailable
        Dask is not installed, or the scheduler cannot be reached or has no worker.
    """
    kind, workers = parse_scheduler(scheduler)
    distributed = _import_distributed()
    if kind == "local":
        workers = workers or os.cpu_count() or 1
        env = dict.fromkeys(THREAD_SETTINGS, str(local_worker_threads(workers, threads)))
        import dask  # noqa: PLC0415  (installed with distributed: the optional dask extra)
        # malloc as in one process: the nanny's MALLOC_TRIM_THRESHOLD_ fixes glibc's mmap threshold (pair stage +15%)
        unset = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}  # None: not set in the workers
        with dask.config.set(unset), distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=env,  # ":0": any free port
        ) as cluster, distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout=timeout)
    except ValueError as err:
        raise InputError(f"{scheduler!r} is not a Dask scheduler address: {err}",
                         hint="use local, local:N or tcp://host:port") from err
    except OSError as err:  # refused, unknown host, timed out (TimeoutError is an OSError)
        raise BackendUnavailable(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s: {' '.join(str(err).split())}",
            hint="check the address, start a scheduler and workers (dask scheduler; dask worker ADDRESS), or use local",
        ) from err
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError as err:
            raise BackendUnavailable(
                f"the Dask scheduler at {scheduler} has no worker after {timeout:g} s",
                hint="start workers with: dask worker ADDRESS",
            ) from err
        yield client
    finally:
        client.close()


@contextmanager
def compute_on(client: Any) -> Iterator[Any]:
    """Within the block, exact TC, pair TC and ATC called anywhere in this thread (CPU or ``auto``
    backend) run on ``client``'s workers (:func:`distributed_tc`, :func:`distributed_pair_tc`,
    :func:`distributed_atc`), with the same results.

    >>> with dask_client("local:2") as client, compute_on(client):  # doctest: +SKIP
    ...     report = run_evaluation(split)   # its TC columns computed on the cluster
    """
    with running_on(_ClusterRunner(client)) as runner:
        yield runner


class _ClusterRunner:
    """The kernels' runner protocol (:mod:`._runner`) on a Dask client."""

    def __init__(self, client: Any):
        self.client = client
        self.shared: dict = {}  # the last payload of map_blocks on the workers, by content digest

    def tc(self, *args: Any, **kwargs: Any) -> TCResult:
        return distributed_tc(*args, client=self.client, **kwargs)

    def pair_tc(self, *args: Any, **kwargs: Any) -> PairTCResult:
        return distributed_pair_tc(*args, client=self.client, **kwargs)

    def atc(self, *args: Any, **kwargs: Any) -> ATCResult:
        return distributed_atc(*args, client=self.client, **kwargs)

    def map_blocks(self, func: Any, shared: Any, blocks: list, **kwargs: Any) -> list:
        return distributed_map_blocks(func, shared, blocks, client=self.client, cache=self.shared, **kwargs)

    def slots(self) -> int:
        return max(sum(self.client.nthreads().values()), 1)


@contextmanager
def compute_scheduled(scheduler: str | None) -> Iterator[Any]:
    """Within the block, TC computed anywhere runs on ``scheduler``'s workers (None or empty: in this process).

    Yields the Dask client, or None. Dask's INFO lines show with ``-v`` only.
    """
    if not scheduler:
        yield None
        return
    logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
    with dask_client(scheduler) as client, compute_on(client):
        yield client


def _import_distributed():
    try:
        import distributed  # noqa: PLC0415  (lazy on purpose: the optional dask extra)
    except ImportError as err:
        raise BackendUnavailable(
            f"a Dask scheduler was asked for, but Dask is not installed ({err})",
            hint="pip install 'topo-graphdb[dask]', or run without --scheduler",
        ) from err
    return distributed


# ----------------------------------------------------------------------------- node TC
def distributed_tc(
    train: object,
    eval: object | None = None,
    *,
    client: Any,
    hops: int = 1,
    beta: float | None = None,
    num_nodes: int | None = None,
    memory_budget: int | str | None = None,
    progress: bool = False,
) -> TCResult:
    """Exact TC of every node (:func:`~topo_graphdb.kernels.tc.topological_concentration`), on ``client``'s workers.

    Same arguments and result as the single-process function (CPU kernels on
    the workers), and the same values. ``memory_budget`` applies to each task
    (default: half the free memory of the worker's machine). In the result's
    ``timings``, ``prepare`` is the client's work estimate, ``scatter`` the
    graph's transfer, ``compute`` the wait for the tasks, ``worker_read``
    (a snapshot with an ``origin``: the workers read it, see the module
    docstring), ``reach`` and ``kernel`` the tasks' seconds and ``cpu`` their
    worker processes' CPU seconds, summed over the tasks; ``batches`` sums the
    tasks' batches.

    The blocks are contiguous runs of the source nodes whose TC is defined, of similar estimated
    work, :data:`TASKS_PER_WORKER_THREAD` per worker thread (one for a single worker thread).
    """
    t_start = time.perf_counter()
    given = train
    train, num_nodes = _edges_and_size(train, num_nodes)
    cost = source_costs(train, eval, hops=hops, num_nodes=num_nodes)  # validates hops and the edge arrays
    hops, beta = _checked(hops, beta, memory_budget)
    n = cost.size
    if beta is None:
        beta = default_beta(train, num_nodes)
    blocks = _blocks(np.flatnonzero(~np.isnan(cost)), cost, client)
    settings = {"hops": hops, "beta": beta, "num_nodes": n, "memory_budget": memory_budget}
    t_prepared = time.perf_counter()
    [graph] = client.scatter([(_shipped(given, train), None if eval is None else np.asarray(eval))], broadcast=True, hash=False)
    t_scattered = time.perf_counter()
    futures = [client.submit(_tc_block, graph, block, settings) for block in blocks]
    parts = _gather(client, futures, [float(cost[b].sum()) for b in blocks], progress, f"exact TC (hops={hops})")
    t_done = time.perf_counter()
    tc = np.full(n, np.nan)
    denominator = np.full(n, np.nan)
    mean_parts = np.full((hops, hops, n), np.nan)
    for block, part in zip(blocks, parts):
        tc[block], denominator[block], mean_parts[:, :, block] = part["tc"], part["denominator"], part["parts"]
    first = parts[0]
    timings = {
        "prepare": t_prepared - t_start, "scatter": t_scattered - t_prepared, "compute": t_done - t_scattered,
        **_summed_timings(parts, ("worker_read", "reach", "kernel", "cpu")), "total": time.perf_counter() - t_start,
    }
    return TCResult(
        tc=tc, beta=beta, hops=hops, variant=first["variant"], backend="cpu", timings=timings,
        denominator=denominator, parts=mean_parts, num_nodes=n, train_edges=first["train_edges"],
        eval_edges=first["eval_edges"], batches=sum(part["batches"] for part in parts),
    )


def _tc_block(graph: tuple, block: np.ndarray, settings: dict) -> dict:
    """One task: the exact TC of the nodes of ``block`` (the single-process kernel, CPU)."""
    c0 = time.process_time()
    train, read = _edges_here(graph[0])
    with reusing_reach(_REACH):
        r = topological_concentration(train, graph[1], backend="cpu", nodes=block, **settings)
    return {
        "tc": r.tc[block], "denominator": r.denominator[block], "parts": r.parts[:, :, block],
        "variant": r.variant, "train_edges": r.train_edges, "eval_edges": r.eval_edges, "batches": r.batches,
        "timings": {**r.timings, "worker_read": read, "cpu": time.process_time() - c0},
    }


# ----------------------------------------------------------------------------- pair TC
def distributed_pair_tc(
    train: object,
    pairs: object,
    *,
    client: Any,
    hops: int = 2,
    beta: float | None = None,
    num_nodes: int | None = None,
    memory_budget: int | str | None = None,
    progress: bool = False,
) -> PairTCResult:
    """Pair TC (:func:`~topo_graphdb.kernels.pairs.pair_topological_concentration`) on ``client``'s workers.

    Same arguments, result and values as the single-process function; the
    pairs are grouped by source, the sources cut into blocks as in
    :func:`distributed_tc` (estimated by
    :func:`~topo_graphdb.kernels.pairs.pair_source_costs`), and each task
    computes the pairs of one block. ``timings`` as in :func:`distributed_tc`.
    """
    t_start = time.perf_counter()
    given = train
    train, num_nodes = _edges_and_size(train, num_nodes)
    cost = pair_source_costs(train, pairs, hops=hops, num_nodes=num_nodes)  # validates hops, edges and pairs
    hops, beta = _checked(hops, beta, memory_budget)
    n = cost.size
    if beta is None:
        beta = default_beta(train, num_nodes)
    blocks = _blocks(np.flatnonzero(~np.isnan(cost)), cost, client)
    pairs = np.asarray(pairs)
    order = np.argsort(pairs[0], kind="stable")  # pairs grouped by source, in their given order within one
    pieces = np.split(order, np.searchsorted(pairs[0][order], [int(b[0]) for b in blocks[1:]]))
    settings = {"hops": hops, "beta": beta, "num_nodes": n, "memory_budget": memory_budget}
    t_prepared = time.perf_counter()
    [graph] = client.scatter([_shipped(given, train)], broadcast=True, hash=False)
    t_scattered = time.perf_counter()
    futures = [client.submit(_pair_block, graph, pairs[:, piece], settings) for piece in pieces]
    parts = _gather(client, futures, [float(cost[b].sum()) for b in blocks], progress, f"pair TC (hops={hops})")
    t_done = time.perf_counter()
    out = np.full((hops, pairs.shape[1]), np.nan)
    for piece, part in zip(pieces, parts):
        out[:, piece] = part["tc_by_hops"]
    timings = {
        "prepare": t_prepared - t_start, "scatter": t_scattered - t_prepared, "compute": t_done - t_scattered,
        **_summed_timings(parts, ("worker_read", "reach", "kernel", "cpu")), "batches": sum(int(p["timings"].get("batches", 1)) for p in parts),
        "total": time.perf_counter() - t_start,
    }
    return PairTCResult(
        tc=out[-1].copy(), tc_by_hops=out, beta=beta, hops=hops, backend="cpu", timings=timings, num_nodes=n,
        distinct_pairs=sum(part["distinct_pairs"] for part in parts),
    )


def _pair_block(train: Any, pairs: np.ndarray, settings: dict) -> dict:
    """One task: the pair TC of ``pairs`` (all sources of one block; the single-process kernel)."""
    c0 = time.process_time()
    train, read = _edges_here(train)
    with reusing_reach(_REACH):
        r = pair_topological_concentration(train, pairs, backend="cpu", **settings)
    return {"tc_by_hops": r.tc_by_hops, "distinct_pairs": r.distinct_pairs,
            "timings": {**r.timings, "worker_read": read, "cpu": time.process_time() - c0}}


# ----------------------------------------------------------------------------- ATC
def distributed_atc(
    train: object,
    eval: object | None = None,
    *,
    client: Any,
    hops: int = 2,
    beta: float | None = None,
    dim: int = 128,
    seed: int = 0,
    num_nodes: int | None = None,
    exact_hop1: bool = True,
    sketch_size: int = 64,
    progress: bool = False,
) -> ATCResult:
    """ATC (:func:`~topo_graphdb.kernels.atc.approximate_tc`) on ``client``'s workers, split over the columns of ``R``.

    Same arguments (the CPU kernels run on the workers) and, for the same
    seed, the same values as one process. The projection ``R`` (n × d) is cut
    into column ranges at multiples of 16, one range per worker: each worker
    propagates its own columns of ``X_k = A^k R`` and ``Y_k = Ŝ_k R`` for every
    node and keeps them, so the ``O(K·d·|V|)`` projection memory is divided
    among the workers. The other steps:

    1. the exact ``|N(i) ∩ N(j)|`` per evaluation edge (and per train edge for
       the triangles of ``K >= 3``) by edge blocks, and the reach-set sketches
       by column ranges (multiples of ``SKETCH_CHUNK``, one task each, each
       returning per-node partial sums that the client adds in column order),
       in parallel;
    2. each worker's columns (``project_columns``), from the set ratios and
       diagonals the client derives from step 1;
    3. per run of pair blocks, on each worker, the float32 partial dot products
       of its columns by chunks of 16 (``pair_dot_chunks``); then one task per
       run sums the partials of all workers in column order in float64
       (``sum_chunks``, as one process does) and adds the exact per-pair terms
       (common neighbours, the ``(1, 2)``/``(2, 1)`` paths of low-degree pairs,
       identities, clipping: ``pair_values``);
    4. the client adds each pair block's values per source node in block
       order and divides by the exact denominator.

    Every block of pairs and column chunk goes through the same arithmetic on
    the same shapes as in one process, so the values are equal bit for bit
    (on workers of the same CPU type: the Numba kernels are compiled for it).
    Per worker: the graph (every worker gets it once) plus, per column it
    holds, ``(3K + 6)·n`` float32 while propagating and ``(2K + 4)·n`` kept
    (:func:`~topo_graphdb.kernels.estimate.atc_memory`). ``timings``: ``prepare``, ``scatter``,
    ``exact_and_sketch`` and ``project_and_pairs`` (wall seconds of the steps),
    ``propagate``, ``pairs``, ``paths`` and ``cpu`` (task seconds, summed).
    """
    # Long on purpose: the task graph (scatter, ratios, common counts, projections, dots, combine) in submission order.
    t_start = time.perf_counter()
    train, num_nodes = _edges_and_size(train, num_nodes)
    hops, beta, dim, seed, sketch_size, exact_hop1, _backend = validate_atc(
        hops, beta, dim, seed, sketch_size, exact_hop1, "cpu"
    )
    prep = prepare_graph(train, eval, num_nodes, hops)
    if beta is None:
        beta = default_beta(train, num_nodes, num_edges=int(prep.degree.sum()) // 2)
    settings = {"hops": hops, "beta": beta, "dim": dim, "seed": seed, "exact_hop1": exact_hop1}
    threads = max(sum(client.nthreads().values()), 1)
    t_prepared = time.perf_counter()
    [graph] = client.scatter([prep], broadcast=True, hash=False)
    t_scattered = time.perf_counter()

    sketches = ([client.submit(_sketch_task, graph, hops, seed, sketch_size, columns)
                 for columns in column_ranges(sketch_size, SKETCH_CHUNK, threads)] if hops >= 2 else [])
    commons = {}
    if exact_hop1:
        edge_sets = ["eval"] + (["train"] if hops >= 3 and prep.variant == "eval" else [])
        for which in edge_sets:
            size = prep.lo.size if which == "eval" else triangle_edges(prep)[0].size
            cuts = np.linspace(0, size, min(size, _task_count(threads)) + 1).astype(np.int64)
            commons[which] = [client.submit(_common_task, graph, which, int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]
    common = {which: np.concatenate([np.zeros(0), *client.gather(futures)]) for which, futures in commons.items()}
    parts = client.gather(sketches)  # per column range, per k = 2..K: its partial sums
    sums = [[part for sketch in parts for part in sketch[k]] for k in range(hops - 1)]  # in column order
    ops = CpuOps()
    ratios = set_ratios(ops, ops.adjacency(prep.indptr, prep.indices, prep.num_nodes), prep, hops, seed, sketch_size, sums)
    side = side_arrays(prep, hops, exact_hop1, common.get("eval"), common.get("train"), ratios)
    sel = select_rows(hops, exact_hop1, bool(prep.adjacent.all()), side)
    t_side = time.perf_counter()

    [side_f] = client.scatter([side], broadcast=True, hash=False)
    projections, homes = [], []  # each column range, and the worker it is meant to stay on
    if sel.projected:
        workers = list(client.scheduler_info()["workers"])
        for worker, columns in zip(workers, column_ranges(dim, COLUMN_CHUNK, len(workers))):
            projections.append(client.submit(_project_task, graph, side_f, settings, columns,
                                             workers=[worker], allow_other_workers=True))
            homes.append(worker)
    blocks = pair_blocks(int(prep.src.size))
    runs = np.array_split(np.arange(len(blocks)), max(min(len(blocks), _task_count(threads)),
                                                       -(-len(blocks) // PAIR_BLOCKS_PER_TASK)))
    runs = [[blocks[b] for b in run] for run in runs if run.size]
    combined, dots = [], []
    for run in runs:
        dots = [client.submit(_dots_task, projection, graph, sel, run, workers=[home], allow_other_workers=True)
                for projection, home in zip(projections, homes)]  # where the columns are: they never move
        combined.append(client.submit(_combine_task, graph, side_f, settings, sel, run, *dots))
    sizes = [float(sum(b.stop - b.start for b in run)) for run in runs]
    parts = _gather(client, combined, sizes, progress, f"ATC (hops={hops}, d={dim})") if runs else []
    projected = client.gather([client.submit(_timings_of, projection) for projection in projections])
    t_done = time.perf_counter()
    del projections, dots, combined  # the last references: the workers release their columns

    numerator = np.zeros(prep.num_nodes)
    for run, part in zip(runs, parts):
        for block, values in zip(run, part["values"]):
            numerator += np.bincount(prep.src[block], weights=values, minlength=prep.num_nodes)
    tc, denominator = concentration(prep, hops, beta, numerator)
    timings = {
        "prepare": t_prepared - t_start, "scatter": t_scattered - t_prepared,
        "exact_and_sketch": t_side - t_scattered, "project_and_pairs": t_done - t_side,
        **_summed_timings(parts + projected, ("propagate", "pairs", "paths", "cpu")),
        "total": time.perf_counter() - t_start,
    }
    return ATCResult(
        tc=tc, beta=beta, hops=hops, dim=dim, seed=seed, variant=prep.variant, backend="cpu", timings=timings,
        exact_hop1=exact_hop1, sketch_size=sketch_size, denominator=denominator, num_nodes=prep.num_nodes,
        train_edges=prep.train_edges, eval_edges=prep.eval_edges,
    )


def _sketch_task(prep: Any, hops: int, seed: int, sketch_size: int, columns: tuple[int, int]) -> list:
    """One task: the partial sums of the columns ``columns`` of the reach-set sketches, k = 2..K."""
    ops = CpuOps()
    return reach_sketch_sums(ops, ops.adjacency(prep.indptr, prep.indices, prep.num_nodes), prep, hops, seed,
                             sketch_size, columns)


def _common_task(prep: Any, which: str, start: int, stop: int) -> np.ndarray:
    """One task: ``|N(lo) ∩ N(hi)|`` of the evaluation (``"eval"``) or triangle (``"train"``) edges ``start:stop``."""
    ops = CpuOps()
    lo, hi = (prep.lo, prep.hi) if which == "eval" else triangle_edges(prep)
    graph = ops.adjacency(prep.indptr, prep.indices, prep.num_nodes)
    return ops.common_neighbours(graph, lo[start:stop], hi[start:stop])


def _project_task(prep: Any, side: Any, settings: dict, columns: tuple[int, int]) -> dict:
    """One task, kept on its worker: the columns ``columns`` of the walk and set projections."""
    c0, t0 = time.process_time(), time.perf_counter()
    ops = CpuOps()
    graph = ops.adjacency(prep.indptr, prep.indices, prep.num_nodes)
    xs, ys = project_columns(ops, graph, prep, settings["hops"], settings["dim"], settings["seed"], side, columns)
    return {"xs": xs, "ys": ys, "timings": {"propagate": time.perf_counter() - t0, "cpu": time.process_time() - c0}}


def _timings_of(task_result: dict) -> dict:
    """One small task: the ``timings`` of a result kept on a worker (without moving the result)."""
    return {"timings": task_result["timings"]}


def _dots_task(projection: dict, prep: Any, sel: Any, run: list[slice]) -> dict:
    """One task, where ``projection`` is: the float32 partial dot products of its columns, per pair block."""
    c0, t0 = time.process_time(), time.perf_counter()
    xs, ys = projection["xs"], projection["ys"]
    dots = [pair_dot_chunks(xs, ys, prep.src[block], prep.dst[block], sel.x_sel, sel.y_sel) for block in run]
    return {"dots": dots, "timings": {"pairs": time.perf_counter() - t0, "cpu": time.process_time() - c0}}


def _combine_task(prep: Any, side: Any, settings: dict, sel: Any, run: list[slice], *dots: dict) -> dict:
    """One task: the partials of every column range summed in column order, then the exact per-pair steps."""
    c0, t0 = time.process_time(), time.perf_counter()
    ops = CpuOps()
    graph = ops.adjacency(prep.indptr, prep.indices, prep.num_nodes)
    hops = settings["hops"]
    ctx = pair_context(ops, prep, side, hops, settings["beta"])
    values, paths = [], 0.0
    for m, block in enumerate(run):
        if dots:
            terms = sum_chunks([d["dots"][m] for d in dots])
        else:  # nothing projected (K = 1 with the exact hop-1 term)
            terms = np.zeros((block.stop - block.start, hops, hops))
        v, seconds = pair_values(ops, graph, prep, ctx, hops, settings["dim"], settings["exact_hop1"], sel, terms, block)
        values.append(v)
        paths += seconds
    timings = {"pairs": time.perf_counter() - t0 - paths, "paths": paths, "cpu": time.process_time() - c0}
    for key in ("pairs", "cpu"):  # the partials' own seconds, counted once here
        timings[key] += sum(d["timings"][key] for d in dots)
    return {"values": values, "timings": timings}


# ----------------------------------------------------------------------------- any block-wise work
def distributed_map_blocks(
    func: Any, shared: Any, blocks: list, *, client: Any, cache: dict | None = None, progress: bool = False, what: str = "blocks"
) -> list:
    """``[func(shared, block) for block in blocks]``, one task per block on ``client``'s workers.

    ``shared`` goes to every worker once (broadcast, under a fresh key). With
    ``cache`` (a dict the caller keeps, as :func:`compute_on`'s runner does),
    a payload equal to the last one (same pickled bytes) is not sent again, so
    a caller that scores its sources chunk by chunk pays the transfer once.
    ``func`` must be importable on the workers (a module-level function of
    topo_graphdb). The results come back in block order.
    """
    import pickle  # noqa: PLC0415  (the payload's digest only)

    if not blocks:
        return []
    digest = blake2b(pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL), digest_size=16).hexdigest() if cache is not None else None
    future = None if cache is None else cache.get(digest)
    if future is None:
        [future] = client.scatter([shared], broadcast=True, hash=False)
        if cache is not None:
            cache.clear()  # the previous payload is released on the workers
            cache[digest] = future
    futures = [client.submit(func, future, block) for block in blocks]
    return _gather(client, futures, [1.0] * len(blocks), progress, what)


# ----------------------------------------------------------------------------- a graph the workers read themselves
@dataclass(frozen=True)
class StoredEdges:
    """The edges of the snapshot folder at ``origin`` (a URL), as the tasks get them instead of the array:
    each worker reads them once (:meth:`~topo_graphdb.snapshot.GraphSnapshot.from_parquet`) and checks
    that their ``digest`` is the one of the edges the client computes with."""

    origin: str
    digest: str


_READ_LOCK = threading.Lock()
_READ: dict[StoredEdges, np.ndarray] = {}  # on a worker: the edges of the last snapshot read, kept for the next tasks
_REACH = ReachCache()  # on a worker: the whole-graph reach sets of the last graph and K, kept for the next tasks


def forget_reach_sets() -> None:
    """On a worker (``client.run(forget_reach_sets)``): free the kept reach sets (the next call builds them again)."""
    _REACH.clear()


def _shipped(given: object, edges: object) -> object:
    """What the tasks get for the training edges: where to read them (a snapshot with an ``origin``), else the array."""
    origin = given.origin if isinstance(given, GraphSnapshot) else None
    return np.asarray(edges) if origin is None else StoredEdges(origin, _digest(given.edge_index))


def _digest(edges: np.ndarray) -> str:
    """The digest of an edge index (its shape and int64 values)."""
    e = np.ascontiguousarray(edges, dtype=np.int64)
    return blake2b(repr(e.shape).encode() + e.tobytes(), digest_size=16).hexdigest()


def _edges_here(train: object) -> tuple[object, float]:
    """On a worker: the training edges (read once per worker for a :class:`StoredEdges`) and the seconds spent reading.

    Raises
    ------
    InputError
        The snapshot's folder no longer holds the edges the client read.
    """
    if not isinstance(train, StoredEdges):
        return train, 0.0
    t0 = time.perf_counter()
    with _READ_LOCK:  # the worker's threads read the snapshot once
        edges = _READ.get(train)
        if edges is None:
            edges = GraphSnapshot.from_parquet(train.origin).edge_index
            if _digest(edges) != train.digest:
                raise InputError(f"the snapshot at {train.origin} changed after this run read it",
                                 hint="run again once the snapshot is no longer being written")
            _READ.clear()  # one snapshot kept per worker
            _READ[train] = edges
    return edges, time.perf_counter() - t0


# ----------------------------------------------------------------------------- shared steps
def _edges_and_size(train: object, num_nodes: int | None) -> tuple[object, int | None]:
    """A snapshot's edge index and size (its size unless ``num_nodes`` is given); other inputs unchanged."""
    if isinstance(train, GraphSnapshot):
        return train.edge_index, train.num_nodes if num_nodes is None else num_nodes
    return train, num_nodes


def _checked(hops: int, beta: float | None, memory_budget: object) -> tuple[int, float | None]:
    """Validated ``hops`` and ``beta`` (and ``memory_budget``, passed on as given: each worker sizes its own default)."""
    hops, beta, _budget, _backend = validate_settings(hops, beta, 1 if memory_budget is None else memory_budget, "cpu")
    return hops, beta


def _task_count(threads: int) -> int:
    """Tasks per stage for ``threads`` worker threads: :data:`TASKS_PER_WORKER_THREAD` each, or one for a single
    thread (which runs them in turn: each block's kernel ends with idle threads, a lost worker loses all)."""
    return 1 if threads <= 1 else TASKS_PER_WORKER_THREAD * threads


def _blocks(sources: np.ndarray, cost: np.ndarray, client: Any) -> list[np.ndarray]:
    """Contiguous runs of ``sources`` of similar total ``cost``, a few per worker thread (one for a single thread)."""
    threads = max(sum(client.nthreads().values()), 1)
    return cost_slices(sources, cost, _task_count(threads))


def _gather(client: Any, futures: list, costs: list[float], progress: bool, what: str) -> list[dict]:
    """The tasks' results in submission order, with a progress bar over their estimated work."""
    bar = progress_bar(progress, sum(costs), what)
    if bar is not None:
        distributed = _import_distributed()
        weight = {future.key: c for future, c in zip(futures, costs)}
        try:
            for future in distributed.as_completed(futures):
                bar.update(weight[future.key])
        finally:
            bar.close()
    return client.gather(futures)


def _summed_timings(parts: list[dict], keys: tuple[str, ...]) -> dict:
    return {key: float(sum(part["timings"].get(key, 0.0) for part in parts)) for key in keys}
