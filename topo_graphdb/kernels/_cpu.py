"""Numba kernels behind the CPU backend (compiled on first use, cached on disk).

All kernels take a sorted symmetric CSR (``indptr``, ``indices``) and spread
their work over ``nthreads`` threads by dealing items round-robin from a list
sorted by decreasing estimated cost, which keeps the threads balanced on
power-law graphs without dynamic scheduling.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads

__all__ = [
    "common_neighbour_scores",
    "reach_sets",
    "reach_counts",
    "hop_pair_sums",
    "pair_hop_sums",
    "walk_buffers",
    "walk_bytes_per_thread",
    "greedy_batches",
    "num_threads",
    "threads_for",
    "deal_order",
    "chunk_bounds",
]


def num_threads() -> int:
    """Threads Numba's parallel loops use."""
    return int(get_num_threads())


SMALL_WORK = 2e5  # below this many edge visits, one thread beats waking the others


@contextmanager
def threads_for(work: float) -> Iterator[int]:
    """Run the enclosed kernels on one thread when ``work`` is small (thread start-up dominates)."""
    before = get_num_threads()
    if work < SMALL_WORK and before > 1:
        set_num_threads(1)
        try:
            yield 1
        finally:
            set_num_threads(before)
    else:
        yield before


def deal_order(cost: np.ndarray) -> np.ndarray:
    """Item order by decreasing cost (stable), for round-robin dealing to threads."""
    return np.argsort(-np.asarray(cost, np.float64), kind="stable")


# ----------------------------------------------------------------------------- 1 hop
@njit(cache=True, parallel=True)
def _common_grouped(
    indptr: np.ndarray,
    indices: np.ndarray,
    small: np.ndarray,
    pair_order: np.ndarray,
    group_start: np.ndarray,
    group_node: np.ndarray,
    group_order: np.ndarray,
    weights: np.ndarray,
    nthreads: int,
    cn: np.ndarray,
    sums: np.ndarray,
) -> None:
    # The pairs pair_order[group_start[g]:group_start[g+1]] share their
    # larger-degree endpoint group_node[g]: mark its neighbours once, then scan
    # the smaller endpoint's row of every pair of the group.
    n = indptr.size - 1
    q = weights.shape[0]
    num_groups = group_node.size
    for t in prange(nthreads):
        mark = np.zeros(n, np.uint8)
        for idx in range(t, num_groups, nthreads):
            g = group_order[idx]
            b = group_node[g]
            for p in range(indptr[b], indptr[b + 1]):
                mark[indices[p]] = 1
            for r in range(group_start[g], group_start[g + 1]):
                pair = pair_order[r]
                a = small[pair]
                count = 0
                for s in range(indptr[a], indptr[a + 1]):
                    w = indices[s]
                    if mark[w]:
                        count += 1
                        for z in range(q):
                            sums[z, pair] += weights[z, w]
                cn[pair] = count
            for p in range(indptr[b], indptr[b + 1]):
                mark[indices[p]] = 0


def common_neighbour_scores(
    indptr: np.ndarray, indices: np.ndarray, u: np.ndarray, v: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Common-neighbour count of each pair ``(u[p], v[p])`` and weighted sums over the common neighbours.

    Parameters
    ----------
    indptr, indices : symmetric CSR
    u, v : ndarray, shape (P,), int64
    weights : ndarray, shape (q, n), float64
        ``sums[r, p] = sum_{w in N(u[p]) ∩ N(v[p])} weights[r, w]`` (``q`` may be 0).

    Returns
    -------
    cn : ndarray, shape (P,), float64
    sums : ndarray, shape (q, P), float64

    Pairs are grouped by their larger-degree endpoint, whose neighbours are
    marked once per group; each pair then costs ``min(deg(u), deg(v))``.
    """
    u = np.asarray(u, np.int64)
    v = np.asarray(v, np.int64)
    num_pairs = u.size
    cn = np.zeros(num_pairs, np.float64)
    sums = np.zeros((weights.shape[0], num_pairs), np.float64)
    if num_pairs == 0:
        return cn, sums
    deg = np.diff(indptr)
    swap = deg[u] < deg[v]
    big = np.where(swap, v, u)
    small = np.where(swap, u, v)
    pair_order = np.argsort(big, kind="stable")
    sorted_big = big[pair_order]
    heads = np.concatenate(([0], np.flatnonzero(sorted_big[1:] != sorted_big[:-1]) + 1))
    group_start = np.append(heads, num_pairs).astype(np.int64)
    group_node = sorted_big[heads]
    cost = deg[group_node] + np.add.reduceat(deg[small[pair_order]], heads)
    _common_grouped(
        indptr, indices, small, pair_order, group_start, group_node, deal_order(cost),
        np.ascontiguousarray(weights, np.float64), num_threads(), cn, sums,
    )
    return cn, sums


# ----------------------------------------------------------------------------- reach sets
DENSE_SHARE = 1.0 / 16.0  # a reach set of at least this share of n is kept as a dense 0/1 row


@njit(cache=True, parallel=True)
def _reach(
    indptr: np.ndarray,
    indices: np.ndarray,
    nodes: np.ndarray,
    hops: int,
    order: np.ndarray,
    nthreads: int,
    rstart: np.ndarray,
    ridx: np.ndarray,
    dslot: np.ndarray,
    dense: np.ndarray,
    fill: bool,
) -> np.ndarray:
    # Level by level from S_1(j) = N(j): S_{k+1}(j) = union of N(x) for x in S_k(j).
    # With fill, a level goes to its dense row (dslot >= 0) or to its slot of
    # ridx; the last level of a dense row needs no list, just byte stores.
    n = indptr.size - 1
    m = nodes.size
    counts = np.zeros((hops - 1, m), np.int64)
    for t in prange(nthreads):
        mark = np.full(n, -1, np.int64)
        cur = np.empty(n, indices.dtype)
        nxt = np.empty(n, indices.dtype)
        for idx in range(t, m, nthreads):
            jj = order[idx]
            j = nodes[jj]
            size = indptr[j + 1] - indptr[j]
            for s in range(size):
                cur[s] = indices[indptr[j] + s]
            for level in range(hops - 1):  # level 0 builds S_2
                row = dslot[level, jj] if fill else -1
                if row >= 0 and level == hops - 2:
                    line = dense[row]
                    for s in range(size):
                        x = cur[s]
                        for p in range(indptr[x], indptr[x + 1]):
                            line[indices[p]] = 1
                    break
                stamp = jj * hops + level
                new = 0
                for s in range(size):
                    x = cur[s]
                    for p in range(indptr[x], indptr[x + 1]):
                        y = indices[p]
                        if mark[y] != stamp:
                            mark[y] = stamp
                            nxt[new] = y
                            new += 1
                counts[level, jj] = new
                if row >= 0:
                    line = dense[row]
                    for s in range(new):
                        line[nxt[s]] = 1
                elif fill:
                    start = rstart[level, jj]
                    for s in range(new):
                        ridx[start + s] = nxt[s]
                cur, nxt = nxt, cur
                size = new
    return counts


def _no_table(hops: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.zeros((hops - 1, 1), np.int64),
        np.zeros(0, dtype),
        np.full((hops - 1, 1), -1, np.int64),
        np.zeros((0, 1), np.uint8),
    )


def reach_sets(
    indptr: np.ndarray,
    indices: np.ndarray,
    nodes: np.ndarray,
    hops: int,
    cost: np.ndarray | None = None,
    capacity: np.ndarray | None = None,
    max_bytes: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reach sets ``S_k(j)``, ``k = 2..hops``, of each node ``j = nodes[jj]``.

    ``capacity`` (shape (hops - 1, len(nodes))) bounds each set's size; exact
    sizes come from a counting pass when it is ``None``. A set is stored as a
    list, ``ridx[rstart[k-2, jj] : rstart[k-2, jj] + rcount[k-2, jj]]``
    (unsorted), or, when its capacity reaches ``DENSE_SHARE * n``, as a dense
    0/1 row of n bytes: adding a dense row to a counter vector is much faster
    than as many scattered lookups. Rows are chosen largest first while the
    whole table stays within ``max_bytes``.

    Returns
    -------
    (rstart, rcount, ridx, dslot, dense)
        ``dslot[k-2, jj]`` is the row of ``dense`` (uint8, shape (rows, n))
        holding ``S_k(nodes[jj])``, or -1.
    """
    nodes = np.asarray(nodes, np.int64)
    n = indptr.size - 1
    order = deal_order(cost if cost is not None else np.zeros(nodes.size))
    nt = num_threads()
    if capacity is None:
        capacity = _reach(indptr, indices, nodes, hops, order, nt, *_no_table(hops, indices.dtype), False)
    flat = np.ascontiguousarray(capacity, np.int64).ravel().copy()
    dslot = np.full(flat.size, -1, np.int64)
    big = np.flatnonzero(flat >= max(DENSE_SHARE * n, 1.0))
    big = big[np.argsort(-flat[big], kind="stable")]
    total = float(flat.sum()) * indices.itemsize + 16.0 * flat.size
    running = total + np.cumsum(n - flat[big] * float(indices.itemsize))  # table size after densifying each prefix
    over = np.flatnonzero(running > max_bytes)
    big = np.sort(big[: over[0] if over.size else big.size])
    dslot[big] = np.arange(big.size)
    flat[big] = 0
    rstart = (np.cumsum(flat) - flat).reshape(capacity.shape)
    ridx = np.empty(int(flat.sum()), indices.dtype)
    dense = np.zeros((big.size, n), np.uint8)
    dslot = dslot.reshape(capacity.shape)
    rcount = _reach(indptr, indices, nodes, hops, order, nt, rstart, ridx, dslot, dense, True)
    return rstart, rcount, ridx, dslot, dense


def reach_counts(
    indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray, hops: int, cost: np.ndarray | None = None
) -> np.ndarray:
    """Sizes ``|S_k(j)|`` for ``k = 2..hops`` of each node in ``nodes``; shape (hops - 1, len(nodes))."""
    nodes = np.asarray(nodes, np.int64)
    order = deal_order(cost if cost is not None else np.zeros(nodes.size))
    return _reach(indptr, indices, nodes, hops, order, num_threads(), *_no_table(hops, indices.dtype), False)


# ----------------------------------------------------------------------------- K >= 2
@njit(cache=True, inline="always")
def _positions(t: int, nthreads: int, bounds: np.ndarray) -> np.ndarray:
    # positions of the chunks t, t + nthreads, ... (chunks are contiguous runs of sources)
    total = 0
    for c in range(t, bounds.size - 1, nthreads):
        total += bounds[c + 1] - bounds[c]
    out = np.empty(total, np.int64)
    k = 0
    for c in range(t, bounds.size - 1, nthreads):
        for idx in range(bounds[c], bounds[c + 1]):
            out[k] = idx
            k += 1
    return out


@njit(cache=True, inline="always")
def _walk_rows(
    indptr: np.ndarray, indices: np.ndarray, i: int, K: int, walks: np.ndarray, support: np.ndarray, size: np.ndarray
) -> None:
    # dense rows of A^1..A^K for i, pushing walk counts hop by hop:
    # walks[v*K + k-1] = (A^k)[i, v]; support[k-1, :size[k-1]] = nodes with (A^k)[i, v] > 0
    size[0] = 0
    for p in range(indptr[i], indptr[i + 1]):
        v = indices[p]
        walks[v * K] = 1
        support[0, size[0]] = v
        size[0] += 1
    for lev in range(K - 1):
        size[lev + 1] = 0
        for s in range(size[lev]):
            x = support[lev, s]
            c = walks[x * K + lev]
            for p in range(indptr[x], indptr[x + 1]):
                slot = indices[p] * K + lev + 1
                if walks[slot] == 0:
                    support[lev + 1, size[lev + 1]] = indices[p]
                    size[lev + 1] += 1
                walks[slot] += c


@njit(cache=True, inline="always")
def _clear_walk_rows(K: int, walks: np.ndarray, support: np.ndarray, size: np.ndarray) -> None:
    for lev in range(K):
        for s in range(size[lev]):
            walks[support[lev, s] * K + lev] = 0


@njit(cache=True, parallel=True)
def _hop_pair_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    ev_indptr: np.ndarray,
    ev_indices: np.ndarray,
    sources: np.ndarray,
    bounds: np.ndarray,
    jlocal: np.ndarray,
    rstart: np.ndarray,
    rcount: np.ndarray,
    ridx: np.ndarray,
    dslot: np.ndarray,
    dense: np.ndarray,
    hops: int,
    walk_buffers: np.ndarray,
    support_buffers: np.ndarray,
    count_buffers: np.ndarray,
    parts: np.ndarray,
) -> None:
    K = hops
    n = indptr.size - 1
    nthreads = walk_buffers.shape[0]
    for t in prange(nthreads):
        walks = walk_buffers[t]  # walks[v*K + k-1] = (A^k)[i, v], zero between sources
        support = support_buffers[t]  # support[k-1, :size[k-1]] = nodes v with (A^k)[i, v] > 0
        counts = count_buffers[t]  # counts[k-2, v] = #{j in N_ev(i) with a dense S_k(j) containing v}
        size = np.zeros(K, np.int64)
        used = np.zeros(K, np.bool_)
        acc = np.zeros(K * K, np.float64)
        for idx in _positions(t, nthreads, bounds):
            i = sources[idx]
            _walk_rows(indptr, indices, i, K, walks, support, size)
            for r in range(K * K):
                acc[r] = 0.0
            for r in range(K):
                used[r] = False
            for q in range(ev_indptr[i], ev_indptr[i + 1]):
                j = ev_indices[q]
                jj = jlocal[j]
                for p in range(indptr[j], indptr[j + 1]):  # S_1(j) = N(j)
                    base = indices[p] * K
                    for k1 in range(K):
                        acc[k1 * K] += walks[base + k1]
                for k2 in range(1, K):
                    row = dslot[k2 - 1, jj]
                    if row >= 0:
                        line = dense[row]
                        cnt = counts[k2 - 1]
                        for v in range(n):
                            cnt[v] += line[v]
                        used[k2] = True
                    else:
                        lo = rstart[k2 - 1, jj]
                        for p in range(lo, lo + rcount[k2 - 1, jj]):
                            base = ridx[p] * K
                            for k1 in range(K):
                                acc[k1 * K + k2] += walks[base + k1]
            for k2 in range(1, K):
                if used[k2]:
                    cnt = counts[k2 - 1]
                    for k1 in range(K):
                        total = 0.0
                        for s in range(size[k1]):
                            v = support[k1, s]
                            total += walks[v * K + k1] * np.float64(cnt[v])
                        acc[k1 * K + k2] += total
                    cnt[:] = 0
            for r in range(K * K):
                parts[r, i] = acc[r]
            _clear_walk_rows(K, walks, support, size)


@njit(cache=True, parallel=True)
def _hop2_packed(
    indptr: np.ndarray,
    indices: np.ndarray,
    ev_indptr: np.ndarray,
    ev_indices: np.ndarray,
    sources: np.ndarray,
    bounds: np.ndarray,
    jlocal: np.ndarray,
    rstart: np.ndarray,
    rcount: np.ndarray,
    ridx: np.ndarray,
    dslot: np.ndarray,
    dense: np.ndarray,
    walk_buffers: np.ndarray,
    support_buffers: np.ndarray,
    count_buffers: np.ndarray,
    parts: np.ndarray,
) -> None:
    # hops == 2 with both walk counts of a node packed in one int64:
    # walks[v] = A[i, v] + (A^2)[i, v] * 2^32. Summing packed words over a set
    # gives both sums at once (the low half stays below 2^32 because a set has
    # fewer than 2^32 nodes; the caller checks that A^2 row sums are below 2^31).
    n = indptr.size - 1
    nthreads = walk_buffers.shape[0]
    low = np.int64(0xFFFFFFFF)
    high = np.int64(1) << 32
    for t in prange(nthreads):
        walks = walk_buffers[t]
        support = support_buffers[t]
        cnt = count_buffers[t, 0]
        for idx in _positions(t, nthreads, bounds):
            i = sources[idx]
            walks2 = 0  # number of 2-walks from i
            for p in range(indptr[i], indptr[i + 1]):
                walks[indices[p]] += 1
                walks2 += indptr[indices[p] + 1] - indptr[indices[p]]
            # many 2-walks: push without tracking the support, then sweep all n
            # nodes (branch-free, vectorised) instead of following a list
            sweep = walks2 * 16 >= n
            size2 = 0
            if sweep:
                for p in range(indptr[i], indptr[i + 1]):
                    x = indices[p]
                    for r in range(indptr[x], indptr[x + 1]):
                        walks[indices[r]] += high
            else:
                for p in range(indptr[i], indptr[i + 1]):
                    x = indices[p]
                    for r in range(indptr[x], indptr[x + 1]):
                        y = indices[r]
                        if walks[y] < high:
                            support[size2] = y
                            size2 += 1
                        walks[y] += high
            p11 = np.int64(0)
            p21 = np.int64(0)
            p12 = np.int64(0)
            p22 = np.int64(0)
            used = False
            for q in range(ev_indptr[i], ev_indptr[i + 1]):
                j = ev_indices[q]
                acc = np.int64(0)
                for p in range(indptr[j], indptr[j + 1]):
                    acc += walks[indices[p]]
                p11 += acc & low
                p21 += acc >> 32
                jj = jlocal[j]
                row = dslot[0, jj]
                if row >= 0:
                    line = dense[row]
                    for v in range(n):
                        cnt[v] += line[v]
                    used = True
                else:
                    lo = rstart[0, jj]
                    acc = np.int64(0)
                    for p in range(lo, lo + rcount[0, jj]):
                        acc += walks[ridx[p]]
                    p12 += acc & low
                    p22 += acc >> 32
            if used:
                for p in range(indptr[i], indptr[i + 1]):
                    p12 += np.int64(cnt[indices[p]])
                if sweep:
                    for v in range(n):
                        p22 += (walks[v] >> 32) * np.int64(cnt[v])
                else:
                    for s in range(size2):
                        v = support[s]
                        p22 += (walks[v] >> 32) * np.int64(cnt[v])
                cnt[:] = 0
            parts[0, i] = p11
            parts[1, i] = p12
            parts[2, i] = p21
            parts[3, i] = p22
            if sweep:
                walks[:] = 0
            else:
                for p in range(indptr[i], indptr[i + 1]):
                    walks[indices[p]] = 0
                for s in range(size2):
                    walks[support[s]] = 0


def _packed(hops: int, num_edges: int) -> bool:
    return hops == 2 and num_edges < 2**30


def _count_dtype(max_ev_degree: int) -> type:
    return np.uint16 if max_ev_degree < 2**16 else np.uint32


def walk_buffers(
    num_nodes: int, num_edges: int, hops: int, max_degree: int, max_ev_degree: int, index_dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-thread workspace for :func:`hop_pair_sums`: walk rows, support lists, dense-row counters.

    For ``hops == 2`` both counts of a node share one int64 (requires fewer
    than 2**30 edges, so that ``A^2`` row sums stay below 2**31). Otherwise walk
    counts are stored as int32 when ``max_degree^(hops-1)`` (the largest
    possible entry of ``A^hops``) fits, else as float64 (exact below 2**53).
    Counters are uint16 unless an evaluation degree reaches 2**16.
    """
    nt = num_threads()
    counts = np.zeros((nt, hops - 1, num_nodes), _count_dtype(max_ev_degree))
    if _packed(hops, num_edges):
        return np.zeros((nt, num_nodes), np.int64), np.empty((nt, num_nodes), index_dtype), counts
    small = float(max_degree) ** max(hops - 1, 0) < 2**31 - 1
    walks = np.zeros((nt, num_nodes * hops), np.int32 if small else np.float64)
    support = np.empty((nt, hops, num_nodes), index_dtype)
    return walks, support, counts


def walk_bytes_per_thread(
    num_nodes: int, num_edges: int, hops: int, max_degree: int, max_ev_degree: int, index_bytes: int
) -> int:
    """Bytes of one thread's workspace from :func:`walk_buffers`."""
    counters = (hops - 1) * num_nodes * np.dtype(_count_dtype(max_ev_degree)).itemsize
    if _packed(hops, num_edges):
        return num_nodes * (8 + index_bytes) + counters
    small = float(max_degree) ** max(hops - 1, 0) < 2**31 - 1
    return num_nodes * hops * ((4 if small else 8) + index_bytes) + counters


def hop_pair_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    ev_indptr: np.ndarray,
    ev_indices: np.ndarray,
    sources: np.ndarray,
    jlocal: np.ndarray,
    reach: tuple,
    hops: int,
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray],
    parts: np.ndarray,
    cost: np.ndarray | None = None,
) -> None:
    """Fill ``parts[(k1-1)*K + (k2-1), i] = sum_{j in N_ev(i)} sum_{v in S_k2(j)} (A^k1)[i, v]``.

    Only the columns ``i`` in ``sources`` are written. The sources are cut
    into contiguous runs of similar ``cost`` (per node, shape (n,)) that are
    dealt round-robin to the threads: neighbouring ids often share
    neighbours, so keeping runs together reuses cached reach rows. ``jlocal[j]`` is the position of
    ``j`` in the ``reach`` table from :func:`reach_sets`; ``buffers`` come from
    :func:`walk_buffers` and must be zero on entry (they are left zero).

    Per source ``i``: dense rows of ``A^1..A^K`` for ``i``; for each
    evaluation neighbour ``j`` and each ``k2``, either one lookup per node of
    ``S_k2(j)`` or, for a dense row, a vectorised add into a counter vector
    that is then dotted with the walk rows once per source.
    """
    rstart, rcount, ridx, dslot, dense = reach
    walks, support, counts = buffers
    sources = np.asarray(sources, np.int64)
    bounds = chunk_bounds(cost[sources] if cost is not None else np.ones(sources.size), 8 * walks.shape[0])
    if walks.ndim == 2 and walks.shape[1] == parts.shape[1] and hops == 2:
        _hop2_packed(
            indptr, indices, ev_indptr, ev_indices, sources, bounds, jlocal, rstart, rcount, ridx, dslot, dense,
            walks, support, counts, parts,
        )
        return
    _hop_pair_sums(
        indptr, indices, ev_indptr, ev_indices, sources, bounds, jlocal, rstart, rcount, ridx, dslot, dense, hops,
        walks, support, counts, parts,
    )


# ----------------------------------------------------------------------------- pairs, K >= 2
@njit(cache=True, parallel=True)
def _pair_hop_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    p_indptr: np.ndarray,
    p_targets: np.ndarray,
    sources: np.ndarray,
    bounds: np.ndarray,
    jlocal: np.ndarray,
    rstart: np.ndarray,
    rcount: np.ndarray,
    ridx: np.ndarray,
    dslot: np.ndarray,
    dense: np.ndarray,
    hops: int,
    walk_buffers: np.ndarray,
    support_buffers: np.ndarray,
    out: np.ndarray,
) -> None:
    # As _hop_pair_sums, but one column of out per pair q (the pairs of source
    # i are q in p_indptr[i]:p_indptr[i+1]); a dense reach row is dotted with
    # i's walk rows over their supports.
    K = hops
    nthreads = walk_buffers.shape[0]
    for t in prange(nthreads):
        walks = walk_buffers[t]
        support = support_buffers[t]
        size = np.zeros(K, np.int64)
        acc = np.zeros(K * K, np.float64)
        for idx in _positions(t, nthreads, bounds):
            i = sources[idx]
            _walk_rows(indptr, indices, i, K, walks, support, size)
            for q in range(p_indptr[i], p_indptr[i + 1]):
                j = p_targets[q]
                jj = jlocal[j]
                for r in range(K * K):
                    acc[r] = 0.0
                for p in range(indptr[j], indptr[j + 1]):  # S_1(j) = N(j)
                    base = indices[p] * K
                    for k1 in range(K):
                        acc[k1 * K] += walks[base + k1]
                for k2 in range(1, K):
                    row = dslot[k2 - 1, jj]
                    if row >= 0:
                        line = dense[row]
                        for k1 in range(K):
                            total = 0.0
                            for s in range(size[k1]):
                                v = support[k1, s]
                                total += walks[v * K + k1] * np.float64(line[v])
                            acc[k1 * K + k2] += total
                    else:
                        lo = rstart[k2 - 1, jj]
                        for p in range(lo, lo + rcount[k2 - 1, jj]):
                            base = ridx[p] * K
                            for k1 in range(K):
                                acc[k1 * K + k2] += walks[base + k1]
                for r in range(K * K):
                    out[r, q] = acc[r]
            _clear_walk_rows(K, walks, support, size)


@njit(cache=True, parallel=True)
def _pair_hop2_packed(
    indptr: np.ndarray,
    indices: np.ndarray,
    p_indptr: np.ndarray,
    p_targets: np.ndarray,
    sources: np.ndarray,
    bounds: np.ndarray,
    jlocal: np.ndarray,
    rstart: np.ndarray,
    rcount: np.ndarray,
    ridx: np.ndarray,
    dslot: np.ndarray,
    dense: np.ndarray,
    walk_buffers: np.ndarray,
    support_buffers: np.ndarray,
    out: np.ndarray,
) -> None:
    # hops == 2, both walk counts of a node packed in one int64 as in _hop2_packed.
    nthreads = walk_buffers.shape[0]
    low = np.int64(0xFFFFFFFF)
    high = np.int64(1) << 32
    for t in prange(nthreads):
        walks = walk_buffers[t]
        support = support_buffers[t]
        for idx in _positions(t, nthreads, bounds):
            i = sources[idx]
            for p in range(indptr[i], indptr[i + 1]):
                walks[indices[p]] += 1
            size2 = 0
            for p in range(indptr[i], indptr[i + 1]):
                x = indices[p]
                for r in range(indptr[x], indptr[x + 1]):
                    y = indices[r]
                    if walks[y] < high:
                        support[size2] = y
                        size2 += 1
                    walks[y] += high
            for q in range(p_indptr[i], p_indptr[i + 1]):
                j = p_targets[q]
                acc = np.int64(0)
                for p in range(indptr[j], indptr[j + 1]):
                    acc += walks[indices[p]]
                out[0, q] = acc & low
                out[2, q] = acc >> 32
                row = dslot[0, jlocal[j]]
                if row >= 0:
                    line = dense[row]
                    p12 = np.int64(0)
                    for p in range(indptr[i], indptr[i + 1]):
                        p12 += np.int64(line[indices[p]])
                    p22 = np.int64(0)
                    for s in range(size2):
                        v = support[s]
                        p22 += (walks[v] >> 32) * np.int64(line[v])
                    out[1, q] = p12
                    out[3, q] = p22
                else:
                    lo = rstart[0, jlocal[j]]
                    acc = np.int64(0)
                    for p in range(lo, lo + rcount[0, jlocal[j]]):
                        acc += walks[ridx[p]]
                    out[1, q] = acc & low
                    out[3, q] = acc >> 32
            for p in range(indptr[i], indptr[i + 1]):
                walks[indices[p]] = 0
            for s in range(size2):
                walks[support[s]] = 0


def pair_hop_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    p_indptr: np.ndarray,
    p_targets: np.ndarray,
    sources: np.ndarray,
    jlocal: np.ndarray,
    reach: tuple,
    hops: int,
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray],
    out: np.ndarray,
    cost: np.ndarray | None = None,
) -> None:
    """Fill ``out[(k1-1)*K + (k2-1), q] = sum_{v in S_k2(j)} (A^k1)[i, v]`` for every pair ``q = (i, j)``.

    The pairs of source ``i`` are ``q`` in ``p_indptr[i]:p_indptr[i+1]`` with
    targets ``p_targets[q]``; only the pairs of ``sources`` are written.
    ``jlocal``, ``reach``, ``buffers`` and ``cost`` as for
    :func:`hop_pair_sums`. Per source: dense rows of ``A^1..A^K`` for ``i``
    once; per pair one lookup per node of ``S_k2(j)``, or, where ``S_k2(j)``
    is a dense 0/1 row, one per node of the supports of i's walk rows.
    """
    rstart, rcount, ridx, dslot, dense = reach
    walks, support, _counts = buffers
    sources = np.asarray(sources, np.int64)
    bounds = chunk_bounds(cost[sources] if cost is not None else np.ones(sources.size), 8 * walks.shape[0])
    if hops == 2 and walks.ndim == 2 and walks.shape[1] == indptr.size - 1:
        _pair_hop2_packed(
            indptr, indices, p_indptr, p_targets, sources, bounds, jlocal, rstart, rcount, ridx, dslot, dense,
            walks, support, out,
        )
        return
    _pair_hop_sums(
        indptr, indices, p_indptr, p_targets, sources, bounds, jlocal, rstart, rcount, ridx, dslot, dense, hops,
        walks, support, out,
    )


def chunk_bounds(cost: np.ndarray, pieces: int) -> np.ndarray:
    """Cut a sequence into about ``pieces`` contiguous runs of similar total ``cost``; run boundaries."""
    size = int(np.size(cost))
    if size == 0:
        return np.zeros(1, np.int64)
    cum = np.cumsum(np.asarray(cost, np.float64))
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, pieces) / pieces, side="right")
    return np.unique(np.concatenate(([0], np.minimum(cuts, size), [size]))).astype(np.int64)


# ----------------------------------------------------------------------------- batching
@njit(cache=True)
def greedy_batches(
    sources: np.ndarray, own: np.ndarray, ev_indptr: np.ndarray, ev_indices: np.ndarray, size: np.ndarray, cap: float
) -> np.ndarray:
    """Batch number of each source (in the given order) so that every batch fits ``cap``.

    A batch needs ``own[i]`` for each of its sources ``i`` plus ``size[j]`` once
    for each node ``j`` in the union of its sources' evaluation neighbours.
    Sources that alone exceed ``cap`` get ``-1``.
    """
    stamp = np.full(size.size, -1, np.int64)
    out = np.empty(sources.size, np.int64)
    batch = 0
    used = 0.0
    for s in range(sources.size):
        i = sources[s]
        need = own[i]
        for q in range(ev_indptr[i], ev_indptr[i + 1]):
            j = ev_indices[q]
            if stamp[j] != batch:
                need += size[j]
        if used > 0.0 and used + need > cap:
            batch += 1
            used = 0.0
            need = own[i]
            for q in range(ev_indptr[i], ev_indptr[i + 1]):
                need += size[ev_indices[q]]
        if need > cap:
            out[s] = -1
            continue
        for q in range(ev_indptr[i], ev_indptr[i + 1]):
            stamp[ev_indices[q]] = batch
        used += need
        out[s] = batch
    return out
