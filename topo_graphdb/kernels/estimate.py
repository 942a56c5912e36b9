"""Memory and work estimates for exact TC, and the batch plan derived from them.

Exact TC for ``K >= 2`` keeps, per worker thread, dense rows of ``A^1..A^K``
for the current source node (``n * K`` float64 plus ``n * K`` indices), and,
per batch of source nodes, the reach sets ``S_2..S_K`` of their evaluation
neighbours. Reach sizes are bounded cheaply by walk totals:
``|S_k(j)| <= min(n, w_k(j))`` with ``w_k = A^k · 1``. The work is dominated
by one lookup per (evaluation pair, node of ``S_k2(j)``), bounded by
``sum_{(i, j)} sum_k min(n, w_k(j))`` (large reach sets, kept as dense rows
while the budget allows, cost a vectorised pass over ``n`` bytes instead).
The reported peak does not count those dense rows: they only use budget
that is left over, so the peak stays within the budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError
from ..units import format_size

__all__ = ["TCEstimate", "estimate_tc", "ClusterEstimate", "estimate_cluster", "atc_memory", "atc_work", "atc_seconds"]

@dataclass(frozen=True)
class TCEstimate:
    """Expected memory (bytes) and work (lookups) of an exact TC run.

    Attributes
    ----------
    num_nodes, train_edges, eval_edges : int
        Nodes and simple undirected edge counts (the evaluation edges are the
        train edges in the train variant).
    hops : int
    backend : str
        ``"cpu"`` or ``"gpu"``.
    threads : int
        Worker threads (CPU) or 1 (GPU).
    graph_bytes : int
        CSR of the train and evaluation graphs plus per-node arrays.
    working_bytes : int
        Per-thread dense rows (CPU) or per-batch row buffers (GPU).
    reach_bytes_bound : int
        Upper bound on the reach sets of every evaluation neighbour at once.
    peak_bytes_bound : int
        ``graph_bytes + working_bytes + min(reach_bytes_bound, budget left)``.
    memory_budget : int
    batches_bound : int
        Upper bound on the number of source batches the budget forces (1: all at once).
    lookup_bound : float
        Upper bound on the dense-row lookups (the dominating work).
    walk_ops_bound : float
        Upper bound on the edge visits that build the dense walk rows.
    fits : bool
        Whether the run fits the budget (``False``: it would raise BudgetExceeded).
    """

    num_nodes: int
    train_edges: int
    eval_edges: int
    hops: int
    backend: str
    threads: int
    graph_bytes: int
    working_bytes: int
    reach_bytes_bound: int
    peak_bytes_bound: int
    memory_budget: int
    batches_bound: int
    lookup_bound: float
    walk_ops_bound: float
    fits: bool

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"graph: {self.num_nodes} nodes, {self.train_edges} train edges, {self.eval_edges} evaluation edges; hops={self.hops}",
            f"backend: {self.backend} ({self.threads} thread{'s' if self.threads != 1 else ''})",
            f"memory: graph {format_size(self.graph_bytes)}, working {format_size(self.working_bytes)}, "
            f"reach sets <= {format_size(self.reach_bytes_bound)}; peak <= {format_size(self.peak_bytes_bound)} "
            f"(budget {format_size(self.memory_budget)}, batches <= {self.batches_bound})",
            f"work: <= {self.lookup_bound:.3g} row lookups, <= {self.walk_ops_bound:.3g} walk-row edge visits",
            "fits the budget" if self.fits else "does NOT fit the budget (raise --memory-budget)",
        ]
        return "\n".join(lines)


def estimate_tc(
    train: object,
    eval: object | None = None,
    *,
    hops: int = 1,
    num_nodes: int | None = None,
    backend: str = "auto",
    memory_budget: int | None = None,
) -> TCEstimate:
    """Estimate memory and work of :func:`~topo_graphdb.kernels.topological_concentration` without running it.

    Builds the CSR and the walk totals (cheap: ``O(K · |E|)``) and reports the
    bounds described in the module docstring. Parameters as for
    :func:`~topo_graphdb.kernels.topological_concentration`.

    >>> est = estimate_tc(np.array([[0, 1, 2], [1, 2, 0]]), hops=2, backend="cpu")
    >>> est.train_edges, est.fits
    (3, True)
    """
    from ._exact import make_plan, neighbours_of, prepare_nodes, validate_settings  # noqa: PLC0415

    hops, _beta, budget, backend = validate_settings(hops, None, memory_budget, backend)
    prep = prepare_nodes(train, eval, num_nodes, hops)
    plan = make_plan(prep, hops, backend)
    n = prep.csr.num_nodes
    sources = np.flatnonzero(prep.active)
    needed = np.zeros(n, bool)
    if hops > 1:
        needed[neighbours_of(prep.ev.indptr, prep.ev.indices, sources)] = True
    reach_bytes = float(plan.node_bytes[needed].sum()) + float(plan.own_bytes[sources].sum())
    room = budget - plan.fixed_bytes
    fits = room > 0 and float(plan.source_need[sources].max(initial=0.0)) <= room
    batches = 1 if reach_bytes <= max(room, 0) else int(np.ceil(reach_bytes / max(room, 1)))
    walk_ops = float(np.minimum(prep.walks[1:], 2.0 * prep.csr.num_edges).sum(axis=0)[sources].sum()) if hops > 1 else 0.0
    if hops == 1:
        lookups = float(np.minimum(prep.degree[prep.ev_canon[0]], prep.degree[prep.ev_canon[1]]).sum())
    else:
        lookups = float(plan.source_cost[sources].sum()) - walk_ops
    threads = 1 if backend == "gpu" else _cpu_threads()
    return TCEstimate(
        num_nodes=n,
        train_edges=prep.csr.num_edges,
        eval_edges=prep.ev.num_edges,
        hops=hops,
        backend=backend,
        threads=threads,
        graph_bytes=int(prep.graph_bytes),
        working_bytes=int(plan.working_bytes),
        reach_bytes_bound=int(reach_bytes),
        peak_bytes_bound=int(plan.fixed_bytes + min(reach_bytes, max(room, 0))),
        memory_budget=int(budget),
        batches_bound=max(batches, 1),
        lookup_bound=lookups,
        walk_ops_bound=walk_ops,
        fits=bool(fits),
    )


def _cpu_threads() -> int:
    from ._cpu import num_threads  # noqa: PLC0415

    return num_threads()


# ----------------------------------------------------------------------------- a cluster of workers
# CPU seconds per unit of work on one thread, measured on soc-slashdot0902 (82,168 nodes, 504,230
# edges, train variant; CPU seconds of the call, which heavy load on the machine disturbs less than
# wall time), divided by the work the estimators below give for that graph:
# - exact TC K = 1: 0.257 s / 2.39e7 bound lookups (one Numba thread, the whole call);
# - exact TC K = 2: 9.10 s / 3.20e10 bound lookups and walk visits ("one process, 1 thread" of
#   benchmarks/measured/cpu/scaleout-slashdot-k2.json); the bound is loose by a factor that grows
#   with K, so K >= 3 (costed as K = 2) is optimistic;
# - ATC d = 128: 1.21 s / 3.24e8 (K = 1), 3.29 s / 9.06e8 (K = 2) and 4.00 s / 1.75e9 (K = 3, the
#   "one process, 1 thread" row of scaleout-slashdot-atc-k3-d128.json) units of `atc_work`; the
#   largest of the three.
EXACT_SECONDS_PER_UNIT = {1: 1.08e-8, 2: 2.84e-10}
ATC_SECONDS_PER_UNIT = 3.7e-9
# Worker-seconds of a cluster over the seconds of one thread for the same work (local:2's wall time
# times its 2 workers, against one process on one thread, the same runs of benchmarks/scaleout.py):
# work repeated on every worker (exact TC: the reach sets of every node, built once per worker; ATC:
# the graph's preparation), waits, and two processes sharing one memory bus. Pessimistic for workers
# on separate machines.
CLUSTER_CPU_FACTOR = {"exact": 2 * 6.12 / 9.10, "atc": 2 * 2.32 / 4.02}


def atc_work(num_nodes: int, train_edges: int, eval_pairs: int, hops: int, dim: int, sketch_size: int = 64) -> float:
    """Float operations of ATC: ``K·(d + sketch_size)·2|E|`` to propagate, ``K²·d·P`` for the ``P``
    evaluation pairs (both directions), ``2|E|`` per hop for the walk totals."""
    return sum(_atc_work_parts(train_edges, eval_pairs, hops, dim, sketch_size).values())


def _atc_work_parts(train_edges: int, eval_pairs: int, hops: int, dim: int, sketch_size: int) -> dict[str, float]:
    return {"sketch": hops * sketch_size * 2.0 * train_edges, "columns": hops * dim * 2.0 * train_edges,
            "pairs": hops * hops * dim * float(eval_pairs), "walks": hops * 2.0 * train_edges}


def atc_seconds(train_edges: int, eval_pairs: int, hops: int, dim: int, *, sketch_size: int = 64,
                workers: int = 1) -> float:
    """Expected seconds of ATC on ``workers`` single-threaded workers (1: one thread).

    The sketch columns and the projection columns are dealt in chunks of 16
    (at most ``ceil(sketch_size / 16)`` and ``ceil(d / 16)`` workers share
    them), the per-pair work spreads over all workers;
    :data:`ATC_SECONDS_PER_UNIT` each, times :data:`CLUSTER_CPU_FACTOR` on a
    cluster.
    """
    from ._atc_cpu import COLUMN_CHUNK  # noqa: PLC0415  (imports Numba)
    from ._atc_stages import SKETCH_CHUNK  # noqa: PLC0415

    parts = _atc_work_parts(train_edges, eval_pairs, hops, dim, sketch_size)
    if workers == 1:
        return sum(parts.values()) * ATC_SECONDS_PER_UNIT
    share = (parts["sketch"] / min(workers, -(-sketch_size // SKETCH_CHUNK)) + parts["walks"]
             + parts["columns"] / min(workers, -(-dim // COLUMN_CHUNK)) + parts["pairs"] / workers)
    return share * ATC_SECONDS_PER_UNIT * CLUSTER_CPU_FACTOR["atc"]


def atc_memory(num_nodes: int, train_edges: int, eval_edges: int, hops: int, dim: int, *, sketch_size: int = 64,
               workers: int = 1) -> dict[str, int]:
    """Bytes of ATC on each of ``workers`` Dask workers (1: one process), by part.

    ``graph``: the CSR, walk totals and evaluation pairs every worker holds
    (``8(n + 1) + 8·2|E| + 8(K + 4)n + 25·2|E_ev| + 16(|E| + |E_ev|)``);
    ``columns``: the worker's share of the projections at the peak of the
    propagation (``(3K + 6)·n·4`` bytes per column, columns dealt in chunks of
    16); ``sketch``: the worker's share of the min-hash sketches (before the
    projections; their columns dealt in chunks of 16 too); ``partials``: the float32 dot products one task holds
    (``PAIR_BLOCKS_PER_TASK·PAIR_BLOCK`` pairs, its chunks, ``K²`` each);
    ``peak``: ``graph + max(columns + partials, sketch)``.
    """
    from ._atc_cpu import COLUMN_CHUNK  # noqa: PLC0415  (imports Numba)
    from ._atc_stages import PAIR_BLOCK, PAIR_BLOCKS_PER_TASK, SKETCH_CHUNK  # noqa: PLC0415

    n = int(num_nodes)
    pairs = 2 * int(eval_edges)
    graph = 8 * (n + 1) + 16 * train_edges + 8 * (hops + 4) * n + 25 * pairs + 16 * (train_edges + eval_edges)
    chunks = -(-dim // COLUMN_CHUNK)
    own = -(-chunks // max(1, min(workers, chunks)))
    columns = (3 * hops + 6) * n * 4 * min(dim, own * COLUMN_CHUNK)
    sketch_chunks = -(-sketch_size // SKETCH_CHUNK)
    sketch = 2 * n * 4 * min(sketch_size, -(-sketch_chunks // max(1, min(workers, sketch_chunks))) * SKETCH_CHUNK)
    partials = min(pairs, PAIR_BLOCKS_PER_TASK * PAIR_BLOCK) * own * hops * hops * 4
    return {"graph": int(graph), "columns": int(columns), "sketch": int(sketch), "partials": int(partials),
            "peak": int(graph + max(columns + partials, sketch))}


@dataclass(frozen=True)
class ClusterEstimate:
    """Expected memory per worker and time of exact TC or ATC on ``workers`` single-threaded Dask workers.

    ``worker_bytes`` bounds the peak of one worker (the graph is on every
    worker); ``seconds_one_thread`` is the work times the measured cost of one
    unit (:data:`EXACT_SECONDS_PER_UNIT`, :data:`ATC_SECONDS_PER_UNIT`);
    ``seconds`` that times :data:`CLUSTER_CPU_FACTOR`, divided among the
    workers (ATC: :func:`atc_seconds`; start-up and transfers not counted).
    """

    kernel: str
    workers: int
    num_nodes: int
    train_edges: int
    eval_edges: int
    hops: int
    dim: int | None
    graph_bytes: int
    worker_bytes: int
    work: float
    seconds_one_thread: float
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        what = f"ATC d={self.dim}" if self.kernel == "atc" else "exact TC"
        return "\n".join([
            f"on {self.workers} single-threaded Dask worker{'s' if self.workers != 1 else ''} ({what}, hops={self.hops}):",
            f"memory per worker <= {format_size(self.worker_bytes)} (graph {format_size(self.graph_bytes)} on each)",
            f"expected time ~ {self.seconds:.3g} s ({self.seconds_one_thread:.3g} s on one thread; "
            f"{self.work:.3g} work units at measured per-unit costs)",
        ])


def estimate_cluster(
    train: object,
    eval: object | None = None,
    *,
    hops: int = 1,
    workers: int = 1,
    approx: bool = False,
    dim: int = 128,
    sketch_size: int = 64,
    num_nodes: int | None = None,
    memory_budget: int | None = None,
) -> ClusterEstimate:
    """Memory per worker and expected time of exact TC (or ATC with ``approx``) on ``workers`` Dask workers.

    Exact TC: each worker holds the graph, one thread's walk rows and the
    reach sets of one task (at most the budget); the work is the bound of
    :func:`estimate_tc`. ATC: :func:`atc_memory` and :func:`atc_work`.

    >>> est = estimate_cluster(np.array([[0, 1, 2], [1, 2, 0]]), hops=2, workers=2, approx=True)
    >>> est.workers, est.kernel, est.worker_bytes > est.graph_bytes
    (2, 'atc', True)
    """
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers must be an integer >= 1; got {workers!r}")
    est = estimate_tc(train, eval, hops=hops, num_nodes=num_nodes, backend="cpu", memory_budget=memory_budget)
    if approx:
        memory = atc_memory(est.num_nodes, est.train_edges, est.eval_edges, est.hops, dim, sketch_size=sketch_size,
                            workers=workers)
        graph, worker = memory["graph"], memory["peak"]
        work = atc_work(est.num_nodes, est.train_edges, 2 * est.eval_edges, est.hops, dim, sketch_size)
        one = atc_seconds(est.train_edges, 2 * est.eval_edges, est.hops, dim, sketch_size=sketch_size)
        seconds = atc_seconds(est.train_edges, 2 * est.eval_edges, est.hops, dim, sketch_size=sketch_size,
                              workers=workers)
    else:
        per_thread = est.working_bytes // max(est.threads, 1)
        room = max(est.memory_budget - est.graph_bytes - per_thread, 0)
        graph, worker = est.graph_bytes, est.graph_bytes + per_thread + min(est.reach_bytes_bound, room)
        work = est.lookup_bound + est.walk_ops_bound
        one = work * EXACT_SECONDS_PER_UNIT[min(est.hops, 2)]
        seconds = one * (CLUSTER_CPU_FACTOR["exact"] if workers > 1 else 1.0) / workers
    return ClusterEstimate(
        kernel="atc" if approx else "exact", workers=int(workers), num_nodes=est.num_nodes,
        train_edges=est.train_edges, eval_edges=est.eval_edges, hops=est.hops, dim=dim if approx else None,
        graph_bytes=int(graph), worker_bytes=int(worker), work=float(work), seconds_one_thread=float(one),
        seconds=float(seconds),
    )
