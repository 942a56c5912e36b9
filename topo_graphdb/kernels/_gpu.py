"""CuPy implementation of exact TC: raw CUDA kernels over sorted CSR, float64 throughout.

Imported only for ``backend="gpu"`` (after :func:`topo_graphdb.backend.resolve_backend`
has checked CuPy and a device). Same results as the CPU kernels: every sum
is a sum of integer walk counts, exact in float64 below 2**53.

- ``K = 1``: one thread per evaluation edge intersects the two sorted
  adjacency rows (walk the shorter, binary-search the longer) and adds the
  common-neighbour count to both endpoints.
- ``K >= 2``: per batch of source nodes, rows of ``A^k`` for the sources
  (values) and for their evaluation neighbours (supports, i.e. reach sets) are
  built with cuSPARSE sparse products (``cupyx.scipy.sparse``); one warp per
  (pair, k1, k2) then intersects the two sorted rows and adds the walk counts.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from ..backend import array_module
from ..errors import BudgetExceeded, EmptyGraphError, InputError

__all__ = ["compute", "GpuRaw", "build_csr_gpu", "cn_per_node"]

_SOURCE = r"""
extern "C" {

// Common neighbours of each undirected evaluation edge (lo[e], hi[e]),
// added to out[lo[e]] and out[hi[e]].
__global__ void cn_edges(const long long num_edges, const long long* lo, const long long* hi,
                         const long long* indptr, const int* indices, double* out)
{
    const long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= num_edges) return;
    const long long a = lo[e];
    const long long b = hi[e];
    long long s0 = indptr[a], s1 = indptr[a + 1];
    long long l0 = indptr[b], l1 = indptr[b + 1];
    if (s1 - s0 > l1 - l0) {
        const long long t0 = s0, t1 = s1;
        s0 = l0; s1 = l1; l0 = t0; l1 = t1;
    }
    long long count = 0;
    long long base = l0;
    for (long long s = s0; s < s1 && base < l1; ++s) {
        const int w = indices[s];
        long long left = base, right = l1;
        while (left < right) {
            const long long mid = (left + right) >> 1;
            if (indices[mid] < w) left = mid + 1; else right = mid;
        }
        base = left;
        if (left < l1 && indices[left] == w) { ++count; ++base; }
    }
    if (count > 0) {
        atomicAdd(out + a, (double)count);
        atomicAdd(out + b, (double)count);
    }
}

// y = A x for a CSR matrix with int64 row pointers.
__global__ void spmv(const long long n, const long long* indptr, const int* indices,
                     const double* x, double* y)
{
    const long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    double acc = 0.0;
    for (long long p = indptr[r]; p < indptr[r + 1]; ++p) acc += x[indices[p]];
    y[r] = acc;
}

// One warp per pair: out[pair_src[p]] += sum over v in row s_row[p] of S
// (a sorted support) of the value R[r_row[p], v] (R sorted, with values).
// The warp strides over the shorter row and binary-searches the longer one.
__global__ void hop_pair(const long long num_pairs, const long long* pair_src,
                         const long long* r_row, const long long* s_row,
                         const long long* r_ptr, const int* r_idx, const double* r_val,
                         const long long* s_ptr, const int* s_idx, double* out)
{
    const long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (warp >= num_pairs) return;  // uniform within a warp (blockDim is a multiple of 32)
    const long long ra = r_ptr[r_row[warp]], rb = r_ptr[r_row[warp] + 1];
    const long long sa = s_ptr[s_row[warp]], sb = s_ptr[s_row[warp] + 1];
    double acc = 0.0;
    if (rb - ra <= sb - sa) {
        for (long long p = ra + lane; p < rb; p += 32) {
            const int v = r_idx[p];
            long long left = sa, right = sb;
            while (left < right) {
                const long long mid = (left + right) >> 1;
                if (s_idx[mid] < v) left = mid + 1; else right = mid;
            }
            if (left < sb && s_idx[left] == v) acc += r_val[p];
        }
    } else {
        for (long long p = sa + lane; p < sb; p += 32) {
            const int v = s_idx[p];
            long long left = ra, right = rb;
            while (left < right) {
                const long long mid = (left + right) >> 1;
                if (r_idx[mid] < v) left = mid + 1; else right = mid;
            }
            if (left < rb && r_idx[left] == v) acc += r_val[left];
        }
    }
    for (int offset = 16; offset > 0; offset >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, offset);
    if (lane == 0 && acc != 0.0) atomicAdd(out + pair_src[warp], acc);
}

}
"""

_BLOCK = 256
_ENTRY_BYTES = 36.0  # a sparse entry: int32 index + float64 value, times 3 for the product workspace
_MAX_NNZ = 2**31 - 1  # cuSPARSE matrices use int32 row pointers


@functools.lru_cache(maxsize=1)
def _module():
    cp = array_module("gpu")
    return cp.RawModule(code=_SOURCE, options=("--std=c++14",))


def _kernel(name: str):
    return _module().get_function(name)


def _grid(threads: int) -> tuple[int]:
    return (max(1, math.ceil(threads / _BLOCK)),)


def _sync(cp) -> None:
    cp.cuda.get_current_stream().synchronize()


@dataclass(frozen=True, eq=False)
class DeviceCsr:
    """A symmetric CSR on the device: int64 row pointers, sorted int32 columns."""

    indptr: object
    indices: object
    num_nodes: int
    num_edges: int


def _canonical_gpu(cp, edges: np.ndarray, num_nodes: int):
    """Canonical undirected simple edges on the device: (lo, hi), lo < hi, unique, sorted."""
    e = cp.asarray(edges, dtype=cp.int64)
    src, dst = e[0], e[1]
    keep = src != dst
    lo = cp.minimum(src[keep], dst[keep])
    hi = cp.maximum(src[keep], dst[keep])
    del e, src, dst, keep
    keys = cp.sort(lo * num_nodes + hi)
    del lo, hi
    if keys.size:
        first = cp.ones(keys.size, dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        keys = keys[first]
    return keys // num_nodes, keys % num_nodes


def build_csr_gpu(lo, hi, num_nodes: int) -> DeviceCsr:
    """Sorted symmetric CSR on the device from canonical edges (device arrays)."""
    cp = array_module("gpu")
    keys = cp.sort(cp.concatenate([lo * num_nodes + hi, hi * num_nodes + lo]))
    rows = keys // num_nodes
    indices = (keys % num_nodes).astype(cp.int32)
    del keys
    indptr = cp.zeros(num_nodes + 1, dtype=cp.int64)
    indptr[1:] = cp.cumsum(cp.bincount(rows, minlength=num_nodes))
    return DeviceCsr(indptr, indices, int(num_nodes), int(lo.size))


def cn_per_node(csr: DeviceCsr, lo, hi):
    """``out[i] = sum over evaluation edges (i, j) of |N(i) ∩ N(j)|`` (device float64, shape (n,))."""
    cp = array_module("gpu")
    out = cp.zeros(csr.num_nodes, dtype=cp.float64)
    m = int(lo.size)
    if m:
        _kernel("cn_edges")(
            _grid(m), (_BLOCK,), (np.int64(m), cp.ascontiguousarray(lo), cp.ascontiguousarray(hi), csr.indptr, csr.indices, out)
        )
    return out


@dataclass(frozen=True, eq=False)
class GpuRaw:
    """Host copies of what :func:`topo_graphdb.kernels.tc._assemble` needs."""

    degree: np.ndarray
    ev_degree: np.ndarray
    walks: np.ndarray
    parts: np.ndarray
    variant: str
    timings: dict
    train_edges: int
    eval_edges: int


def compute(train: object, eval: object | None, num_nodes: int | None, hops: int, budget: int, progress: bool) -> GpuRaw:
    """Summed hop-pair parts of exact TC on the GPU (see the module docstring)."""
    from ._csr import resolve_graph  # noqa: PLC0415

    cp = array_module("gpu")
    t0 = time.perf_counter()
    tr, ev, n = resolve_graph(train, eval, num_nodes)
    if n >= 2**31 - 1:
        raise InputError(f"the GPU backend handles fewer than 2**31 - 1 nodes; got {n}", hint="use --backend cpu")
    lo, hi = _canonical_gpu(cp, tr, n)
    if lo.size == 0:
        raise EmptyGraphError(
            "the train graph has no edges (after removing self-loops)", hint="pass at least one edge between two nodes"
        )
    csr = build_csr_gpu(lo, hi, n)
    if ev is None:
        variant, ev_csr, ev_lo, ev_hi = "train", csr, lo, hi
    else:
        variant = "eval"
        ev_lo, ev_hi = _canonical_gpu(cp, ev, n)
        ev_csr = build_csr_gpu(ev_lo, ev_hi, n)
    _sync(cp)
    t1 = time.perf_counter()
    degree = cp.diff(csr.indptr).astype(cp.float64)
    walks = cp.empty((hops, n), dtype=cp.float64)
    walks[0] = degree
    for k in range(1, hops):
        _kernel("spmv")(_grid(n), (_BLOCK,), (np.int64(n), csr.indptr, csr.indices, walks[k - 1], walks[k]))
    _sync(cp)
    t2 = time.perf_counter()
    degree_h = cp.diff(csr.indptr).get()
    ev_degree_h = cp.diff(ev_csr.indptr).get()
    walks_h = walks.get()
    active_h = (ev_degree_h > 0) & (degree_h >= (2 if variant == "train" else 1))
    timings = {"prepare": t1 - t0, "walk_totals": t2 - t1, "reach": 0.0, "kernel": 0.0}
    if hops == 1:
        active = cp.asarray(active_h)
        keep = active[ev_lo] | active[ev_hi]
        t3 = time.perf_counter()
        parts = cn_per_node(csr, ev_lo[keep], ev_hi[keep])[None, :]
        _sync(cp)
        timings["kernel"] = time.perf_counter() - t3
        parts_h = parts.get()
    else:
        parts_h = _multi_hop(cp, csr, ev_csr, walks_h, degree_h, active_h, hops, budget, progress, timings)
    return GpuRaw(degree_h, ev_degree_h, walks_h, parts_h, variant, timings, csr.num_edges, ev_csr.num_edges)


def _sparse_rows(cp, csr: DeviceCsr, rows):
    """The rows ``rows`` (device int64) of the 0/1 adjacency as a cupyx CSR matrix (float64, sorted)."""
    import cupyx.scipy.sparse as sparse  # noqa: PLC0415

    starts = csr.indptr[rows]
    counts = csr.indptr[rows + 1] - starts
    indptr = cp.zeros(rows.size + 1, dtype=cp.int64)
    indptr[1:] = cp.cumsum(counts)
    total = int(indptr[-1])
    if total > _MAX_NNZ:
        raise BudgetExceeded(f"a batch of adjacency rows has {total} entries, more than cuSPARSE allows")
    position = cp.arange(total, dtype=cp.int64)
    row_of = cp.searchsorted(indptr, position, side="right") - 1
    indices = csr.indices[starts[row_of] + position - indptr[row_of]]
    data = cp.ones(total, dtype=cp.float64)
    return sparse.csr_matrix((data, indices, indptr.astype(cp.int32)), shape=(int(rows.size), csr.num_nodes))


def _sorted_product(left, right):
    """``left @ right`` with sorted column indices (for binary search)."""
    out = left @ right
    out.has_sorted_indices = False  # do not trust the flag: force a sort
    out.sort_indices()
    return out


def _multi_hop(cp, csr, ev_csr, walks_h, degree_h, active_h, hops, budget, progress, timings) -> np.ndarray:
    import cupyx.scipy.sparse as sparse  # noqa: PLC0415

    from . import _cpu  # noqa: PLC0415  (batch planning helpers, host side)
    from ._csr import Csr  # noqa: PLC0415
    from .estimate import format_size, make_plan  # noqa: PLC0415
    from .tc import _neighbours_of, _progress_bar  # noqa: PLC0415

    n = csr.num_nodes
    ev_host = Csr(ev_csr.indptr.get(), ev_csr.indices.get(), n, ev_csr.num_edges)
    graph_bytes = int(csr.indptr.nbytes + csr.indices.nbytes * 4 + ev_csr.indices.nbytes + 8 * n * (hops + 4))
    host = _HostPrep(Csr(csr.indptr.get(), np.zeros(0, np.int32), n, csr.num_edges), ev_host, walks_h, degree_h, graph_bytes)
    plan = make_plan(host, hops, "gpu")
    room = min(float(budget - plan.fixed_bytes), _MAX_NNZ * 12.0)
    sources = np.flatnonzero(active_h)
    own = plan.own_bytes + 24.0 * np.diff(ev_host.indptr)  # walk rows + pair arrays
    batch_of = _cpu.greedy_batches(sources, own, ev_host.indptr, ev_host.indices, plan.node_bytes, room)
    if room <= 0 or (sources.size and batch_of.min() < 0):
        raise BudgetExceeded(
            f"exact TC with hops={hops} on the GPU does not fit the memory budget {format_size(budget)}",
            hint="raise --memory-budget, use fewer hops, or use the approximation (--approx)",
        )
    batches = np.split(sources, np.flatnonzero(np.diff(batch_of)) + 1) if sources.size else []
    timings["batches"] = len(batches)
    adjacency = sparse.csr_matrix(
        (cp.ones(csr.indices.size, dtype=cp.float64), csr.indices, csr.indptr.astype(cp.int32)), shape=(n, n)
    )
    hop_pair = _kernel("hop_pair")
    parts = cp.zeros((hops * hops, n), dtype=cp.float64)
    bar = _progress_bar(progress and len(batches) > 1, len(batches), f"exact TC on GPU (hops={hops})")
    try:
        for batch in batches:
            t0 = time.perf_counter()
            counts = np.diff(ev_host.indptr)[batch]
            pair_j = _neighbours_of(ev_host.indptr, ev_host.indices, batch)
            targets, pair_jj = np.unique(pair_j, return_inverse=True)
            pair_src = cp.asarray(np.repeat(batch, counts))
            pair_r = cp.asarray(np.repeat(np.arange(batch.size), counts))
            pair_j_d = cp.asarray(pair_j)
            pair_jj_d = cp.asarray(pair_jj.astype(np.int64))
            walk_rows = [_sparse_rows(cp, csr, cp.asarray(batch))]
            for _ in range(1, hops):
                walk_rows.append(_sorted_product(walk_rows[-1], adjacency))
            reach_rows = [None]
            level = _sparse_rows(cp, csr, cp.asarray(targets))
            for _ in range(1, hops):
                level = _sorted_product(level, adjacency)
                reach_rows.append(level)
            _sync(cp)
            t1 = time.perf_counter()
            timings["reach"] += t1 - t0
            num_pairs = int(pair_j.size)
            for k1 in range(hops):
                r = walk_rows[k1]
                r_ptr, r_idx, r_val = r.indptr.astype(cp.int64), r.indices.astype(cp.int32), r.data.astype(cp.float64)
                for k2 in range(hops):
                    if k2 == 0:
                        s_ptr, s_idx, s_row = csr.indptr, csr.indices, pair_j_d
                    else:
                        level = reach_rows[k2]
                        s_ptr, s_idx, s_row = level.indptr.astype(cp.int64), level.indices.astype(cp.int32), pair_jj_d
                    hop_pair(
                        _grid(32 * num_pairs),
                        (_BLOCK,),
                        (np.int64(num_pairs), pair_src, pair_r, s_row, r_ptr, r_idx, r_val, s_ptr, s_idx, parts[k1 * hops + k2]),
                    )
            _sync(cp)
            timings["kernel"] += time.perf_counter() - t1
            del walk_rows, reach_rows, level
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return parts.get()


@dataclass(frozen=True, eq=False)
class _HostPrep:
    """The host-side fields :func:`topo_graphdb.kernels.estimate.make_plan` reads."""

    csr: object
    ev: object
    walks: np.ndarray
    degree: np.ndarray
    graph_bytes: int
