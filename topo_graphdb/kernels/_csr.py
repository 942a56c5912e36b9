"""Graph preparation shared by the kernels: validated edge arrays, sorted CSR, walk totals.

Every kernel works on the simple undirected graph: self-loops and duplicate
edges (in either direction) are removed, each undirected edge is stored in
both directions, and the neighbours in each CSR row are sorted ascending.
Numba is imported here (module level) because every function that needs it is
also in this module or in :mod:`topo_graphdb.kernels._cpu`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..errors import EmptyGraphError, InputError

__all__ = [
    "Csr",
    "edge_array",
    "resolve_graph",
    "canonical_edges",
    "sorted_unique",
    "csr_from_canonical",
    "build_csr",
    "walk_totals",
]


@dataclass(frozen=True, eq=False)
class Csr:
    """A symmetric adjacency in compressed sparse row form.

    Attributes
    ----------
    indptr : ndarray, shape (n + 1,), int64
    indices : ndarray, shape (2 * m,), int32 or int64; sorted within each row
    num_nodes : int
    num_edges : int
        Number of undirected edges ``m``.
    """

    indptr: np.ndarray
    indices: np.ndarray
    num_nodes: int
    num_edges: int

    @property
    def degree(self) -> np.ndarray:
        """Degree of every node, shape (n,), int64."""
        return np.diff(self.indptr)


def edge_array(edges: object, name: str) -> np.ndarray:
    """Validate an edge array of shape (2, E) holding non-negative integers.

    Returns it as an int64 array; raises :class:`InputError` naming ``name``.
    """
    arr = np.asarray(edges)
    if arr.ndim != 2 or arr.shape[0] != 2:
        raise InputError(f"{name} must be an edge array of shape (2, E); got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} must hold integer node indices; got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise InputError(f"{name} must hold node indices >= 0; got {int(arr.min())}")
    return arr


def resolve_graph(
    train: object, eval: object | None, num_nodes: int | None, *, eval_name: str = "eval"
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Validated ``(train_edges, eval_edges, num_nodes)`` from the public-API inputs.

    ``train`` is an edge array of shape (2, E) or a
    :class:`~topo_graphdb.snapshot.GraphSnapshot` (its ``edge_index`` and
    ``num_nodes``). ``num_nodes`` defaults to the snapshot's size, else to the
    largest index in either edge array plus one.
    """
    from ..snapshot import GraphSnapshot  # noqa: PLC0415  (light, but keep the import local)

    snapshot_nodes = None
    if isinstance(train, GraphSnapshot):
        snapshot_nodes = train.num_nodes
        train = train.edge_index
    tr = edge_array(train, "train")
    ev = None if eval is None else edge_array(eval, eval_name)
    largest = max(int(tr.max()) if tr.size else -1, int(ev.max()) if ev is not None and ev.size else -1)
    if num_nodes is None:
        num_nodes = snapshot_nodes if snapshot_nodes is not None else largest + 1
    elif isinstance(num_nodes, bool) or not isinstance(num_nodes, (int, np.integer)):
        raise InputError(f"num_nodes must be a positive integer; got {num_nodes!r}")
    num_nodes = int(num_nodes)
    if largest >= num_nodes:
        raise InputError(f"num_nodes must exceed every node index (largest {largest}); got {num_nodes}")
    if num_nodes <= 0:
        raise EmptyGraphError("the graph has no nodes", hint="pass a non-empty train edge array")
    return tr, ev, num_nodes


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique(keys)`` of an integer array by sort and mask (numpy's ``unique`` hashes first,
    about 10x slower on edge keys).

    >>> sorted_unique(np.array([5, 1, 5, 3, 1])).tolist()
    [1, 3, 5]
    """
    keys = np.sort(keys)
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if keys.size else keys


def canonical_edges(edges: np.ndarray, num_nodes: int) -> np.ndarray:
    """Undirected simple edges ``(lo, hi)`` with ``lo < hi``, unique, sorted by ``(lo, hi)``.

    Self-loops and duplicates in either direction are dropped. Shape (2, M), int64.
    """
    src, dst = edges
    keep = src != dst
    lo = np.minimum(src[keep], dst[keep])
    hi = np.maximum(src[keep], dst[keep])
    keys = sorted_unique(lo * np.int64(num_nodes) + hi)
    return np.stack([keys // num_nodes, keys % num_nodes]) if keys.size else np.zeros((2, 0), np.int64)


@njit(cache=True)
def _fill_csr(lo: np.ndarray, hi: np.ndarray, num_nodes: int, out: np.ndarray) -> np.ndarray:
    # Edges arrive sorted by (lo, hi) with lo < hi. Row r holds its smaller
    # neighbours (from edges (lo, r), arriving in ascending lo) followed by its
    # larger neighbours (from edges (r, hi), ascending hi): sorted without a sort.
    n = num_nodes
    below = np.zeros(n, np.int64)
    above = np.zeros(n, np.int64)
    for e in range(lo.size):
        above[lo[e]] += 1
        below[hi[e]] += 1
    indptr = np.zeros(n + 1, np.int64)
    for r in range(n):
        indptr[r + 1] = indptr[r] + below[r] + above[r]
    low_cursor = indptr[:-1].copy()
    high_cursor = indptr[:-1] + below
    for e in range(lo.size):
        a = lo[e]
        b = hi[e]
        out[low_cursor[b]] = a
        low_cursor[b] += 1
        out[high_cursor[a]] = b
        high_cursor[a] += 1
    return indptr


def csr_from_canonical(canon: np.ndarray, num_nodes: int) -> Csr:
    """Symmetric sorted CSR from canonical edges (see :func:`canonical_edges`).

    Column indices are int32 when ``num_nodes`` allows (halves memory traffic).
    """
    dtype = np.int32 if num_nodes < 2**31 - 1 else np.int64
    indices = np.empty(2 * canon.shape[1], dtype)
    lo = np.ascontiguousarray(canon[0])
    hi = np.ascontiguousarray(canon[1])
    indptr = _fill_csr(lo, hi, num_nodes, indices)
    return Csr(indptr, indices, num_nodes, int(canon.shape[1]))


def build_csr(edges: np.ndarray, num_nodes: int) -> Csr:
    """Sorted symmetric CSR of the simple undirected graph of ``edges`` (shape (2, E)).

    >>> c = build_csr(np.array([[0, 1, 1, 2], [1, 0, 2, 2]]), 3)
    >>> c.indptr.tolist(), c.indices.tolist(), c.num_edges
    ([0, 1, 3, 4], [1, 0, 2, 1], 2)
    """
    return csr_from_canonical(canonical_edges(edges, num_nodes), num_nodes)


@njit(cache=True, parallel=True)
def spmv(indptr: np.ndarray, indices: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    for r in prange(indptr.size - 1):
        acc = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            acc += x[indices[p]]
        out[r] = acc


def walk_totals(csr: Csr, hops: int) -> np.ndarray:
    """Walk totals ``w_k = A^k · 1`` for ``k = 1..hops``; shape (hops, n), float64.

    ``w_k[i]`` is the number of walks of length ``k`` starting at ``i`` (exact
    in float64 while below 2**53).
    """
    out = np.empty((hops, csr.num_nodes), np.float64)
    out[0] = csr.degree
    for k in range(1, hops):
        spmv(csr.indptr, csr.indices, out[k - 1], out[k])
    return out
