"""Companion metrics: node degree, local clustering, and per-pair link heuristics.

All are computed on the simple undirected graph of ``train`` (self-loops and
duplicate edges removed), like :func:`~topo_graphdb.kernels.topological_concentration`,
so that they can be compared with TC node by node. Pure functions: data
positional, settings keyword-only, arrays out.

References: Liben-Nowell & Kleinberg, "The link-prediction problem for social
networks" (2007) for common neighbours, Jaccard and Adamic-Adar; Zhou, Lü &
Zhang, "Predicting missing links via local information" (2009) for resource
allocation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError

__all__ = ["degree", "clustering_coefficient", "pair_heuristics", "PairHeuristics", "HEURISTICS"]

HEURISTICS = ("cn", "aa", "ra", "jaccard")


def _csr_of(train: object, num_nodes: int | None, pairs: object | None = None):
    from . import _csr  # noqa: PLC0415  (imports Numba)

    tr, pr, n = _csr.resolve_graph(train, pairs, num_nodes, eval_name="pairs")
    return _csr.build_csr(tr, n), pr


def degree(train: object, *, num_nodes: int | None = None) -> np.ndarray:
    """Degree of every node in the simple undirected graph of ``train``.

    Parameters
    ----------
    train : ndarray of shape (2, E) or GraphSnapshot
        Edges as dense integer indices (undirected; self-loops and duplicates ignored).
    num_nodes : int, optional
        Default: the snapshot's size, else the largest index plus one.

    Returns
    -------
    ndarray, shape (n,), int64

    >>> degree(np.array([[0, 0, 1, 1], [1, 2, 2, 1]])).tolist()
    [2, 2, 2]
    """
    csr, _ = _csr_of(train, num_nodes)
    return csr.degree.astype(np.int64)


def clustering_coefficient(train: object, *, num_nodes: int | None = None) -> np.ndarray:
    """Local clustering coefficient ``C(i) = 2 T(i) / (deg(i) (deg(i) - 1))``.

    ``T(i)`` is the number of triangles through ``i``. Follows NetworkX's
    ``clustering``: ``C(i) = 0`` when ``deg(i) < 2`` (where TC is undefined
    instead); elsewhere it equals TC with ``hops=1`` in the train variant.

    Returns
    -------
    ndarray, shape (n,), float64

    >>> clustering_coefficient(np.array([[0, 0, 1, 2], [1, 2, 2, 3]])).round(4).tolist()
    [1.0, 1.0, 0.3333, 0.0]
    """
    from . import _cpu, _csr  # noqa: PLC0415

    tr, _, n = _csr.resolve_graph(train, None, num_nodes)
    lo, hi = _csr.canonical_edges(tr, n)
    csr = _csr.csr_from_canonical(np.stack([lo, hi]), n)
    deg = csr.degree.astype(np.float64)
    with _cpu.threads_for(lo.size):
        cn, _ = _cpu.common_neighbour_scores(csr.indptr, csr.indices, lo, hi, np.zeros((0, n)))
    twice_triangles = np.bincount(lo, cn, minlength=n) + np.bincount(hi, cn, minlength=n)  # = 2 T(i)
    out = np.zeros(n, np.float64)
    ok = deg >= 2
    out[ok] = twice_triangles[ok] / (deg[ok] * (deg[ok] - 1.0))
    return out


def pair_heuristics(
    train: object,
    pairs: object,
    *,
    num_nodes: int | None = None,
    which: Sequence[str] = HEURISTICS,
    batch_size: int = 1 << 22,
) -> dict[str, np.ndarray]:
    """Neighbourhood heuristics of the node pairs ``(pairs[0, p], pairs[1, p])``.

    With ``Γ(u)`` the neighbours of ``u`` in the train graph:

    - ``cn``: common neighbours ``|Γ(u) ∩ Γ(v)|``;
    - ``aa``: Adamic-Adar ``sum_{w in Γ(u) ∩ Γ(v)} 1 / log deg(w)``;
    - ``ra``: resource allocation ``sum_{w in Γ(u) ∩ Γ(v)} 1 / deg(w)``;
    - ``jaccard``: ``|Γ(u) ∩ Γ(v)| / |Γ(u) ∪ Γ(v)|``, 0 when the union is empty
      (as NetworkX).

    A common neighbour of two distinct nodes has degree >= 2, so ``aa`` is
    finite. Self-pairs ``u == v`` are not link candidates: every heuristic is
    NaN for them.

    Parameters
    ----------
    train : ndarray of shape (2, E) or GraphSnapshot
    pairs : ndarray of shape (2, P)
        Node pairs (dense indices, need not be edges).
    num_nodes : int, optional
    which : sequence of str
        Any of ``"cn", "aa", "ra", "jaccard"``.
    batch_size : int
        Pairs per kernel call (bounds the temporary memory).

    Returns
    -------
    dict mapping each name in ``which`` to an ndarray of shape (P,), float64

    >>> h = pair_heuristics(np.array([[0, 0, 1, 2], [1, 2, 2, 3]]), np.array([[0, 3], [3, 1]]))
    >>> h["cn"].tolist(), h["jaccard"].tolist()
    ([1.0, 1.0], [0.5, 0.5])
    """
    names = _checked(which, batch_size)
    if pairs is None:
        raise InputError("pairs must be an edge array of shape (2, P); got None")
    from . import _csr  # noqa: PLC0415  (imports Numba)

    tr, pr, n = _csr.resolve_graph(train, pairs, num_nodes, eval_name="pairs")
    return PairHeuristics(tr, num_nodes=n)(pr, which=names, batch_size=batch_size)


def _checked(which: Sequence[str], batch_size: int) -> list[str]:
    names = [which] if isinstance(which, str) else list(which)
    unknown = [w for w in names if w not in HEURISTICS]
    if unknown or not names:
        raise InputError(f"which must name some of {', '.join(HEURISTICS)}; got {which!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputError(f"batch_size must be an integer >= 1; got {batch_size!r}")
    return names


class PairHeuristics:
    """:func:`pair_heuristics` on one train graph, its adjacency built once for many calls.

    ``PairHeuristics(train, num_nodes=n)(pairs, which=...)`` equals
    ``pair_heuristics(train, pairs, num_nodes=n, which=...)``, self-pairs (NaN) included.

    Parameters
    ----------
    train : ndarray of shape (2, E) or GraphSnapshot
    num_nodes : int, optional
        Default: the snapshot's size, else the largest index plus one.

    Attributes
    ----------
    indptr, indices : ndarray
        The symmetric CSR of the simple undirected train graph.
    num_nodes : int

    >>> ph = PairHeuristics(np.array([[0, 0, 1, 2], [1, 2, 2, 3]]))
    >>> ph(np.array([[0, 3], [3, 1]]), which="ra")["ra"].tolist(), ph.neighbour_weights("ra").tolist()
    ([0.3333333333333333, 0.3333333333333333], [0.5, 0.5, 0.3333333333333333, 1.0])
    """

    def __init__(self, train: object, *, num_nodes: int | None = None):
        csr, _ = _csr_of(train, num_nodes)
        self._csr = csr
        self.indptr, self.indices, self.num_nodes = csr.indptr, csr.indices, csr.num_nodes
        deg = csr.degree.astype(np.float64)
        self._deg = deg
        self._weights = np.zeros((2, self.num_nodes), np.float64)
        with np.errstate(divide="ignore"):
            self._weights[0] = np.where(deg >= 2, 1.0 / np.log(np.maximum(deg, 2.0)), 0.0)
            self._weights[1] = np.where(deg >= 1, 1.0 / np.maximum(deg, 1.0), 0.0)

    def neighbour_weights(self, name: str) -> np.ndarray:
        """What one common neighbour ``w`` adds to ``cn``, ``aa`` or ``ra``: 1, ``1 / log deg(w)``, ``1 / deg(w)``.

        Shape (n,), float64; 0 where the degree is too small for ``w`` to be a
        common neighbour of two distinct nodes.
        """
        if name not in HEURISTICS[:3]:
            raise InputError(f"name must be one of {', '.join(HEURISTICS[:3])}; got {name!r}")
        if name == "cn":
            return np.ones(self.num_nodes, np.float64)
        return self._weights[0 if name == "aa" else 1].copy()

    def _pairs(self, pairs: object) -> np.ndarray:
        from . import _csr  # noqa: PLC0415

        pr = _csr.edge_array(pairs, "pairs")
        if pr.size and int(pr.max()) >= self.num_nodes:
            raise InputError(f"pairs must hold node indices below {self.num_nodes}; got {int(pr.max())}")
        return pr

    def three_step_walks(self, pairs: object) -> np.ndarray:
        """``(A^3)[u, v] = sum_{w in Γ(u)} |Γ(w) ∩ Γ(v)|``, the 3-step walks from ``u`` to ``v``, per pair.

        Shape (P,), float64 (exact counts); memory O(P) beside the graph and an
        int32 row of ``n`` per thread (:func:`topo_graphdb.kernels._cpu.three_walk_counts`).
        """
        from ._cpu import three_walk_counts  # noqa: PLC0415  (imports Numba)

        pr = self._pairs(pairs)
        return three_walk_counts(self.indptr, self.indices, pr[0], pr[1])

    def __call__(self, pairs: object, *, which: Sequence[str] = HEURISTICS, batch_size: int = 1 << 22) -> dict[str, np.ndarray]:
        """The heuristics of ``pairs`` (shape (2, P)), as :func:`pair_heuristics`."""
        from . import _cpu  # noqa: PLC0415

        names = _checked(which, batch_size)
        pr = self._pairs(pairs)
        csr, deg, weights = self._csr, self._deg, self._weights
        num_pairs = pr.shape[1]
        cn = np.empty(num_pairs)
        sums = np.empty((2, num_pairs))
        for start in range(0, num_pairs, int(batch_size)):
            u = np.ascontiguousarray(pr[0, start : start + batch_size])
            v = np.ascontiguousarray(pr[1, start : start + batch_size])
            with _cpu.threads_for(u.size + csr.num_edges / 100):
                cn[start : start + u.size], sums[:, start : start + u.size] = _cpu.common_neighbour_scores(
                    csr.indptr, csr.indices, u, v, weights
                )
        self_pair = pr[0] == pr[1]
        out: dict[str, np.ndarray] = {}
        for name in names:
            if name == "cn":
                value = cn.copy()
            elif name == "aa":
                value = sums[0].copy()
            elif name == "ra":
                value = sums[1].copy()
            else:
                union = deg[pr[0]] + deg[pr[1]] - cn
                value = np.divide(cn, union, out=np.zeros(num_pairs), where=union > 0)
            value[self_pair] = np.nan
            out[name] = value
        return out
