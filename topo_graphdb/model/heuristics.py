"""Neighbourhood heuristics (CN, AA, RA) used as link predictors.

They follow the same small interface as :class:`~topo_graphdb.model.predictor.LinkPredictor`
(``fit(split)``, ``score(pairs)``, ``score_block(sources)``), so evaluation and
prediction treat heuristics and learned models alike. Scores use the training
graph only. With ``N(u)`` the training neighbours and ``d(u) = |N(u)|``:

* common neighbours ``CN(i, j) = |N(i) ∩ N(j)|``
* Adamic-Adar ``AA(i, j) = sum_{z in N(i) ∩ N(j)} 1 / log d(z)``
* resource allocation ``RA(i, j) = sum_{z in N(i) ∩ N(j)} 1 / d(z)``

The values are those of :func:`topo_graphdb.kernels.pair_heuristics` (one
implementation): a self-pair ``(i, i)`` is not a link candidate and scores NaN.
Reference: Liben-Nowell & Kleinberg (2007); Zhou, Lü & Zhang (2009).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..kernels.metrics import PairHeuristics, pair_heuristics
from .names import HEURISTIC_MODELS

__all__ = ["HEURISTICS", "HeuristicPredictor", "heuristic_pair_scores"]

HEURISTICS = HEURISTIC_MODELS


def heuristic_pair_scores(adj, pairs: np.ndarray, *, method: str = "cn") -> np.ndarray:
    """Heuristic score of each pair of ``pairs`` (shape (2, m)) on the 0/1 CSR ``adj``.

    :func:`topo_graphdb.kernels.pair_heuristics` on the graph of ``adj`` (NaN for self-pairs).

    >>> import scipy.sparse as sp
    >>> a = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 0]], float))
    >>> heuristic_pair_scores(a, np.array([[0], [3]]), method="cn").tolist()
    [2.0]
    """
    if method not in HEURISTICS:
        raise InputError(f"method must be one of {', '.join(HEURISTICS)}; got {method!r}")
    coo = adj.tocoo()
    edges = np.stack([coo.row, coo.col]).astype(np.int64)
    p = np.asarray(pairs, dtype=np.int64).reshape(2, -1)
    return pair_heuristics(edges, p, num_nodes=int(adj.shape[0]), which=(method,))[method]


class HeuristicPredictor:
    """CN / AA / RA as a predictor with ``fit``, ``score`` and ``score_block``.

    Parameters
    ----------
    method : {"cn", "aa", "ra"}

    Attributes
    ----------
    adj_ : scipy.sparse.csr_matrix (n, n)
        The training adjacency (after :meth:`fit`).
    num_nodes_ : int
    """

    def __init__(self, method: str = "cn"):
        if method not in HEURISTICS:
            raise InputError(f"method must be one of {', '.join(HEURISTICS)}; got {method!r}")
        self.method = method

    def get_params(self) -> dict[str, Any]:
        return {"model": self.method}

    def fit(self, split, **_ignored: Any) -> HeuristicPredictor:
        """Remember the training adjacency of ``split`` (an :class:`~topo_graphdb.model.splits.EdgeSplit`)."""
        import scipy.sparse as sp  # noqa: PLC0415


        self.adj_ = split.adjacency("train")
        self.num_nodes_ = int(split.num_nodes)
        self._pairs = PairHeuristics(split.train_pos, num_nodes=self.num_nodes_)
        n = self.num_nodes_
        a = sp.csr_matrix((np.ones(self._pairs.indices.size), self._pairs.indices, self._pairs.indptr), shape=(n, n))
        self._a = a  # the kernel's simple graph
        self._aw = a.multiply(self._pairs.neighbour_weights(self.method).reshape(1, -1)).tocsr()  # A diag(w)
        self.history_: list[dict[str, Any]] = []
        self.best_epoch_ = 0
        return self

    def _check(self) -> None:
        if not hasattr(self, "adj_"):
            raise InputError("the predictor is not fitted; call fit(split) first")

    def score(self, pairs: np.ndarray) -> np.ndarray:
        """Scores of the pairs ``(2, m)`` (float64, higher = more likely)."""
        self._check()
        p = np.asarray(pairs, dtype=np.int64).reshape(2, -1)
        return self._pairs(p, which=self.method)[self.method]

    def score_block(self, sources: np.ndarray) -> np.ndarray:
        """Scores of every node for each source: ``(len(sources), n)`` float64.

        The values of :meth:`score` on every pair ``(s, v)`` (NaN at ``v = s``), as the
        product ``A[s] diag(w) A`` with the kernel's neighbour weights ``w``: one sparse
        product instead of ``n`` intersections per source.
        """
        self._check()
        s = np.asarray(sources, dtype=np.int64).reshape(-1)
        out = np.asarray((self._aw[s] @ self._a).toarray(), dtype=np.float64)
        out[np.arange(s.size), s] = np.nan
        return out

    def block_bytes_per_source(self) -> int:
        return 16 * self.num_nodes_
