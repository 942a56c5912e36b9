"""Preparation shared by the exact kernels (node TC, pair TC; CPU and GPU drivers).

Settings validation, the simple train graph with its walk totals, neighbour
gathering, cost-balanced slices, the progress bar and the batch loop of the
``K >= 2`` CPU kernels. Numba (through
:mod:`topo_graphdb.kernels._csr`) and tqdm are imported on first use.
"""

from __future__ import annotations

import hashlib
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from numbers import Real

import numpy as np

from ..backend import BUDGET_SHARE, free_memory_bytes, resolve_backend
from ..errors import BudgetExceeded, EmptyGraphError, InputError
from ..units import format_size, parse_size

__all__ = [
    "MAX_HOPS",
    "TrainGraph",
    "NodePrep",
    "prepare_nodes",
    "validate_settings",
    "train_graph",
    "neighbours_of",
    "unique_nodes",
    "cost_slices",
    "progress_bar",
    "run_source_batches",
    "ReachCache",
    "reusing_reach",
]

MAX_HOPS = 4


def validate_settings(
    hops: object, beta: object, memory_budget: object, backend: object
) -> tuple[int, float | None, int, str]:
    """Checked ``(hops, beta, memory_budget in bytes, concrete backend)`` of an exact kernel call.

    ``hops`` in 1..MAX_HOPS, ``beta`` finite and > 0 or None, ``memory_budget``
    bytes (or a size string) > 0, default :data:`BUDGET_SHARE` of the free
    memory of the backend. Raises :class:`InputError` naming the parameter.
    """
    if isinstance(hops, bool) or not isinstance(hops, (int, np.integer)) or not 1 <= int(hops) <= MAX_HOPS:
        raise InputError(f"hops must be an integer in 1..{MAX_HOPS}; got {hops!r}")
    if beta is not None:
        if isinstance(beta, bool) or not isinstance(beta, Real) or not math.isfinite(float(beta)) or float(beta) <= 0:
            raise InputError(f"beta must be a finite number > 0; got {beta!r}")
        beta = float(beta)
    if memory_budget is not None:
        if isinstance(memory_budget, str):
            memory_budget = parse_size(memory_budget, name="memory budget")
        if isinstance(memory_budget, bool) or not isinstance(memory_budget, Real) or not float(memory_budget) > 0:
            raise InputError(f"memory_budget must be a number of bytes > 0; got {memory_budget!r}")
    if not isinstance(backend, str):
        raise InputError(f"backend must be one of auto, cpu, gpu; got {backend!r}")
    backend = resolve_backend(backend)
    if memory_budget is None:
        memory_budget = BUDGET_SHARE * free_memory_bytes(backend)
    return int(hops), beta, int(memory_budget), backend


@dataclass(frozen=True, eq=False)
class TrainGraph:
    """The simple undirected train graph: canonical edges, sorted CSR, walk totals ``w_1..w_K``."""

    canon: np.ndarray  # (2, M) canonical edges (lo < hi)
    csr: object  # _csr.Csr
    walks: np.ndarray  # (K, n) float64


def train_graph(tr: np.ndarray, num_nodes: int, hops: int) -> TrainGraph:
    """Simple graph, CSR and walk totals of validated train edges; EmptyGraphError without an edge."""
    from . import _csr  # noqa: PLC0415  (imports Numba)

    canon = _csr.canonical_edges(tr, num_nodes)
    if canon.shape[1] == 0:
        raise EmptyGraphError(
            "the train graph has no edges (after removing self-loops)", hint="pass at least one edge between two nodes"
        )
    csr = _csr.csr_from_canonical(canon, num_nodes)
    return TrainGraph(canon, csr, _csr.walk_totals(csr, hops))


@dataclass(frozen=True, eq=False)
class NodePrep:
    """The graphs of one node-TC computation (train CSR, evaluation CSR, walk totals, active nodes)."""

    csr: object  # _csr.Csr of the train graph
    ev: object  # _csr.Csr of the evaluation graph (the train CSR in the train variant)
    ev_canon: np.ndarray  # (2, M') canonical evaluation edges
    degree: np.ndarray
    ev_degree: np.ndarray
    walks: np.ndarray  # (K, n)
    variant: str
    active: np.ndarray  # nodes whose TC is defined
    graph_bytes: int
    timings: dict


def prepare_nodes(train: object, eval: object | None, num_nodes: int | None, hops: int) -> NodePrep:
    """Resolve the train (and evaluation) graph of node TC; ``eval=None`` is the train variant.

    Inside :func:`reusing_reach`, the preparation of the same ``train`` and
    ``eval`` objects is kept for the next call (its ``timings`` then zero).
    """
    cache = _SHARED_REACH.get()
    if cache is not None:
        return cache.preparation((train, eval, num_nodes, hops), lambda: _prepare_nodes(train, eval, num_nodes, hops))
    return _prepare_nodes(train, eval, num_nodes, hops)


def _prepare_nodes(train: object, eval: object | None, num_nodes: int | None, hops: int) -> NodePrep:
    from . import _csr  # noqa: PLC0415  (imports Numba)

    t0 = time.perf_counter()
    tr, ev, n = _csr.resolve_graph(train, eval, num_nodes)
    graph = train_graph(tr, n, hops)
    canon, csr = graph.canon, graph.csr
    if ev is None:
        variant, ev_csr, ev_canon = "train", csr, canon
    else:
        variant = "eval"
        ev_canon = _csr.canonical_edges(ev, n)
        ev_csr = _csr.csr_from_canonical(ev_canon, n)
    t1 = time.perf_counter()
    degree = csr.degree
    ev_degree = ev_csr.degree
    walks = graph.walks
    t2 = time.perf_counter()
    active = (ev_degree > 0) & (degree >= (2 if variant == "train" else 1))
    graph_bytes = sum(a.nbytes for a in (csr.indptr, csr.indices, walks, degree)) * 2  # + eval CSR / temporaries
    return NodePrep(
        csr, ev_csr, ev_canon, degree, ev_degree, walks, variant, active, graph_bytes,
        {"prepare": t1 - t0, "walk_totals": t2 - t1},
    )


def neighbours_of(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenated neighbour lists of ``rows`` (with repeats)."""
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return indices[offsets + np.arange(total)].astype(np.int64)


def unique_nodes(nodes: np.ndarray, num_nodes: int) -> np.ndarray:
    """Sorted distinct entries of ``nodes`` (all in 0..num_nodes-1), via a mask (faster than np.unique)."""
    mask = np.zeros(num_nodes, bool)
    mask[nodes] = True
    return np.flatnonzero(mask)


def cost_slices(sources: np.ndarray, cost: np.ndarray, pieces: int) -> list[np.ndarray]:
    """Split sources into about ``pieces`` contiguous runs of similar total cost (for progress updates)."""
    from ._cpu import chunk_bounds  # noqa: PLC0415

    if pieces <= 1 or sources.size <= pieces:
        return [sources]
    bounds = chunk_bounds(cost[sources], pieces)
    return [sources[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def progress_bar(enabled: bool, total: float, desc: str):
    """A tqdm bar on stderr, or None when not ``enabled``."""
    if not enabled:
        return None
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=total, desc=desc, unit="op", unit_scale=True, file=sys.stderr, leave=False)


class ReachCache:
    """The reach sets ``S_2..S_K`` of every node of one train graph, kept between calls in one process.

    On a Dask cluster exact TC and pair TC run the single-process kernel on
    blocks of sources. On a power-law graph each block's targets are most of
    the graph, so building the targets' reach sets per block repeats nearly
    the whole-graph work once per block (soc-slashdot0902, K = 2: about 0.8 s
    a block whatever its size, against 17 s of kernel for all sources).
    Inside :func:`reusing_reach`, :func:`run_source_batches` builds the reach
    sets of all nodes once when they fit the memory budget, and later calls
    on the same graph (a digest of its CSR) and K reuse them. One table is
    kept; the process's threads build it once (a lock). ``builds`` counts the
    tables built.

    It also keeps the last :func:`prepare_nodes` result (CSR and walk totals)
    for the same train and evaluation objects, as a worker's tasks receive
    them (each block would otherwise build the CSR again); ``preparations``
    counts those built.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._table: tuple | None = None
        self._csr: object | None = None  # the CSR the kept table was last asked for
        self.builds = 0
        self._prep_of: tuple | None = None  # (train, eval, num_nodes, hops), held so that their ids stay theirs
        self._prep: NodePrep | None = None
        self.preparations = 0

    def preparation(self, of: tuple, build: Callable[[], NodePrep]) -> NodePrep:
        """The preparation of ``of`` (train and evaluation objects, by identity; num_nodes, hops): the kept one
        (with zero ``timings``), or ``build()`` kept in its place."""
        with self._lock:
            kept = self._prep_of
            if kept is not None and kept[0] is of[0] and kept[1] is of[1] and kept[2:] == of[2:]:
                return replace(self._prep, timings={key: 0.0 for key in self._prep.timings})
            self._prep_of, self._prep = None, None  # free the old graphs before building the new ones
            self._prep = build()
            self._prep_of = of
            self.preparations += 1
            return self._prep

    def table(self, csr, hops: int, build: Callable[[], tuple]) -> tuple:
        """The reach table of ``csr`` and ``hops``: the kept one, or ``build()`` kept in its place."""
        with self._lock:
            if self._table is not None and self._csr is csr and self._key is not None and self._key[0] == int(hops):
                return self._table  # the kept preparation's own CSR: no digest needed
        digest = hashlib.blake2b(csr.indptr.tobytes(), digest_size=16)
        digest.update(csr.indices.tobytes())
        key = (int(hops), csr.num_nodes, digest.hexdigest())
        with self._lock:
            if self._key != key:
                self._key, self._table = None, None  # free the old table before building the new one
                self._table = build()
                self._key = key
                self.builds += 1
            self._csr = csr
            return self._table

    def clear(self) -> None:
        """Forget the kept table and preparation (their memory is freed once no kernel holds them)."""
        with self._lock:
            self._key, self._table, self._csr = None, None, None
            self._prep_of, self._prep = None, None


_SHARED_REACH: ContextVar[ReachCache | None] = ContextVar("shared_reach", default=None)


@contextmanager
def reusing_reach(cache: ReachCache) -> Iterator[ReachCache]:
    """Within this block, the CPU kernels of ``K >= 2`` take whole-graph reach sets from ``cache``."""
    token = _SHARED_REACH.set(cache)
    try:
        yield cache
    finally:
        _SHARED_REACH.reset(token)


def _source_batches(
    prep, hops: int, plan, budget: int, sources: np.ndarray, capacity: np.ndarray, what: str, hint: str, timings: dict
) -> list[np.ndarray]:
    """The batches of ``sources`` whose targets' reach sets fit the budget; when they must be
    batched, ``capacity`` (hops - 1, n) gets the exact set sizes of the targets in place."""
    from . import _cpu  # noqa: PLC0415

    csr, ev = prep.csr, prep.ev
    n = csr.num_nodes
    room = budget - plan.fixed_bytes
    needed = unique_nodes(neighbours_of(ev.indptr, ev.indices, sources), n)
    if plan.node_bytes[needed].sum() <= room:
        return [sources]
    t0 = time.perf_counter()  # size the reach tables exactly, then batch the sources to fit
    counts = _cpu.reach_counts(csr.indptr, csr.indices, needed, hops, plan.reach_bound[needed])
    timings["reach"] += time.perf_counter() - t0
    capacity[:, needed] = counts
    size = np.zeros(n, np.float64)
    size[needed] = counts.sum(axis=0) * csr.indices.itemsize + 16.0 * (hops - 1)
    batch_of = _cpu.greedy_batches(sources, plan.own_bytes, ev.indptr, ev.indices, size, float(room))
    if sources.size and batch_of.min() < 0:
        worst = sources[batch_of < 0][0]
        raise BudgetExceeded(
            f"{what} with hops={hops}: the reach sets of node {worst}'s targets alone exceed "
            f"the memory budget {format_size(budget)}",
            hint=hint,
        )
    return np.split(sources, np.flatnonzero(np.diff(batch_of)) + 1)


def run_source_batches(prep, hops: int, budget: int, progress: bool, what: str, hint: str, kernel) -> dict:
    """Drive a ``K >= 2`` CPU kernel over the active sources, batch by batch under ``budget``.

    ``prep`` carries ``csr`` (train), ``ev`` (each source's targets, CSR),
    ``walks``, ``degree``, ``ev_degree``, ``active`` and ``graph_bytes``. Per
    batch of sources the reach sets ``S_2..S_K`` of their targets are built
    (:func:`topo_graphdb.kernels._cpu.reach_sets`) and
    ``kernel(sources, jlocal, reach, buffers, cost)`` is called on runs of
    sources, where ``jlocal[j]`` is ``j``'s row of ``reach``, ``buffers`` the
    zeroed per-thread workspace of :func:`~topo_graphdb.kernels._cpu.walk_buffers`
    and ``cost`` the per-node work bound. Inside :func:`reusing_reach`, when
    the reach sets of every node fit, they are built once for all nodes and
    kept in the :class:`ReachCache` (one batch). Returns timings ``reach``,
    ``kernel`` and ``batches``; raises BudgetExceeded (naming ``what``, with
    ``hint``) when even one source does not fit.
    """
    from . import _cpu  # noqa: PLC0415

    csr, ev = prep.csr, prep.ev
    n = csr.num_nodes
    timings = {"reach": 0.0, "kernel": 0.0, "batches": 1}
    plan = make_plan(prep, hops, "cpu")
    room = budget - plan.fixed_bytes
    if room <= 0:
        raise BudgetExceeded(
            f"{what} with hops={hops} needs at least {format_size(plan.fixed_bytes)} for the graph and "
            f"{_cpu.num_threads()} thread buffers; the memory budget is {format_size(budget)}",
            hint=hint,
        )
    sources = np.flatnonzero(prep.active)
    capacity = np.minimum(prep.walks[1:], float(n)).astype(np.int64)  # |S_k(j)| <= min(n, w_k(j))
    shared = _SHARED_REACH.get()
    if shared is not None and plan.node_bytes.sum() <= room:  # every node's reach sets, built once per process
        batches = [sources]
    else:
        shared = None
        batches = _source_batches(prep, hops, plan, budget, sources, capacity, what, hint, timings)
    timings["batches"] = len(batches)
    total_cost = float(plan.source_cost[sources].sum())
    bar = progress_bar(progress and total_cost > 5e7, total_cost, f"{what} (hops={hops})")
    jlocal = np.full(n, -1, np.int64)
    buffers = _cpu.walk_buffers(
        n, csr.num_edges, hops, int(prep.degree.max()), int(prep.ev_degree.max()), csr.indices.dtype
    )
    try:
        for batch in batches:
            t0 = time.perf_counter()
            targets = np.arange(n) if shared is not None else unique_nodes(neighbours_of(ev.indptr, ev.indices, batch), n)
            jlocal[targets] = np.arange(targets.size)

            def build(targets=targets):
                return _cpu.reach_sets(
                    csr.indptr, csr.indices, targets, hops, plan.reach_bound[targets], capacity[:, targets], room
                )

            reach = build() if shared is None else shared.table(csr, hops, build)
            t1 = time.perf_counter()
            timings["reach"] += t1 - t0
            for piece in cost_slices(batch, plan.source_cost, 64 if bar is not None else 1):
                kernel(piece, jlocal, reach, buffers, plan.source_cost)
                if bar is not None:
                    bar.update(float(plan.source_cost[piece].sum()))
            timings["kernel"] += time.perf_counter() - t1
            jlocal[targets] = -1
            del reach
    finally:
        if bar is not None:
            bar.close()
    return timings


# ----------------------------------------------------------------------------- memory and work plan
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
