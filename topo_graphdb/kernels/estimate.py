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

from ..units import format_size

__all__ = ["TCEstimate", "estimate_tc"]

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


@dataclass(frozen=True, eq=False)
class Plan:
    """Per-node bounds used to order and batch the work (internal)."""

    reach_bound: np.ndarray  # (n,) bound on sum_{k>=2} |S_k(j)| (entries)
    node_bytes: np.ndarray  # (n,) bound on the bytes of j's reach tables
    own_bytes: np.ndarray  # (n,) bytes a source needs for itself (GPU walk rows; 0 on CPU)
    source_need: np.ndarray  # (n,) bound on the bytes one source alone needs
    source_cost: np.ndarray  # (n,) bound on the lookups + walk-row visits of source i
    fixed_bytes: int  # graph + per-thread buffers
    working_bytes: int  # per-thread buffers


def reach_bound(walks: np.ndarray, num_nodes: int) -> np.ndarray:
    """``sum_{k=2..K} min(n, w_k(j))`` per node: a bound on the stored reach entries of ``j``."""
    if walks.shape[0] < 2:
        return np.zeros(walks.shape[1], np.float64)
    return np.minimum(walks[1:], float(num_nodes)).sum(axis=0)


def make_plan(prep, hops: int, backend: str) -> Plan:
    """Bounds per node from the walk totals and the evaluation CSR of a prepared graph.

    CPU: per-thread dense walk rows, reach entries of the index size plus a
    start and a count per level. GPU: sparse rows with float64 values
    (12 bytes an entry, times 3 for the sparse-product workspace), for the
    sources' walk rows as well as the targets' reach rows.
    """
    from ._csr import spmv  # noqa: PLC0415

    csr, ev, walks = prep.csr, prep.ev, prep.walks
    n = csr.num_nodes
    bound = reach_bound(walks, n)
    if backend == "gpu":
        entry, per_node, working = 36.0, 0.0, 0
        own = np.minimum(walks, float(n)).sum(axis=0) * entry
    else:
        from ._cpu import num_threads, walk_bytes_per_thread  # noqa: PLC0415

        entry, per_node = float(csr.indices.itemsize), 16.0 * (hops - 1)
        working = num_threads() * walk_bytes_per_thread(
            n, csr.num_edges, hops, int(prep.degree.max()), int(prep.ev_degree.max()), csr.indices.itemsize
        )
        own = np.zeros(n)
    node_bytes = bound * entry + per_node if hops > 1 else np.zeros(n)
    need = np.empty(n, np.float64)
    spmv(ev.indptr, ev.indices, node_bytes, need)  # sum over evaluation neighbours
    lookups = np.empty(n, np.float64)
    spmv(ev.indptr, ev.indices, bound + prep.degree, lookups)
    walk_ops = np.minimum(walks[1:], 2.0 * csr.num_edges).sum(axis=0) if hops > 1 else np.zeros(n)
    return Plan(
        reach_bound=bound,
        node_bytes=node_bytes,
        own_bytes=own,
        source_need=need + own,
        source_cost=lookups * hops + walk_ops,
        fixed_bytes=int(prep.graph_bytes + working),
        working_bytes=int(working),
    )


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
    from ._exact import neighbours_of, prepare_nodes, validate_settings  # noqa: PLC0415

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
