"""Neighbourhood heuristics (CN, AA, RA) used as link predictors.

They follow the same small interface as :class:`~topo_graphdb.model.predictor.LinkPredictor`
(``fit(split)``, ``score(pairs)``, ``score_block(sources)``), so evaluation and
prediction treat heuristics and learned models alike. Scores use the training
graph only. With ``N(u)`` the training neighbours and ``d(u) = |N(u)|``:

* common neighbours ``CN(i, j) = |N(i) ∩ N(j)|``
* Adamic-Adar ``AA(i, j) = sum_{z in N(i) ∩ N(j)} 1 / log d(z)``
* resource allocation ``RA(i, j) = sum_{z in N(i) ∩ N(j)} 1 / d(z)``

(a common neighbour of two distinct nodes has ``d(z) >= 2``, so every term is
finite). Reference: Liben-Nowell & Kleinberg (2007); Zhou, Lü & Zhang (2009).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["HEURISTICS", "HeuristicPredictor", "heuristic_pair_scores"]

HEURISTICS = ("cn", "aa", "ra")


def _weights(adj, method: str) -> np.ndarray:
    deg = np.asarray(adj.sum(axis=1)).reshape(-1)
    with np.errstate(divide="ignore"):
        if method == "cn":
            return np.ones_like(deg)
        if method == "aa":
            w = 1.0 / np.log(deg)
        else:
            w = 1.0 / deg
    w[~np.isfinite(w)] = 0.0  # d <= 1: never a common neighbour anyway
    return w


def heuristic_pair_scores(adj, pairs: np.ndarray, *, method: str = "cn") -> np.ndarray:
    """Heuristic score of each pair of ``pairs`` (shape (2, m)) on the 0/1 CSR ``adj``.

    >>> import scipy.sparse as sp
    >>> a = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 0]], float))
    >>> heuristic_pair_scores(a, np.array([[0], [3]]), method="cn").tolist()
    [2.0]
    """
    if method not in HEURISTICS:
        raise InputError(f"method must be one of {', '.join(HEURISTICS)}; got {method!r}")
    p = np.asarray(pairs, dtype=np.int64).reshape(2, -1)
    w = _weights(adj, method)
    rows = adj[p[0]].multiply(adj[p[1]])  # (m, n): 1 at common neighbours
    return np.asarray(rows @ w).reshape(-1).astype(np.float64)


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

    def fit(self, split, **_ignored: Any) -> "HeuristicPredictor":
        """Remember the training adjacency of ``split`` (an :class:`~topo_graphdb.model.splits.EdgeSplit`)."""
        self.adj_ = split.adjacency("train")
        self.num_nodes_ = int(split.num_nodes)
        self._w = _weights(self.adj_, self.method)
        self._aw = self.adj_.multiply(self._w.reshape(1, -1)).tocsr()  # A diag(w)
        self.history_: list[dict[str, Any]] = []
        self.best_epoch_ = 0
        return self

    def _check(self) -> None:
        if not hasattr(self, "adj_"):
            raise InputError("the predictor is not fitted; call fit(split) first")

    def score(self, pairs: np.ndarray) -> np.ndarray:
        """Scores of the pairs ``(2, m)`` (float64, higher = more likely)."""
        self._check()
        return heuristic_pair_scores(self.adj_, pairs, method=self.method)

    def score_block(self, sources: np.ndarray) -> np.ndarray:
        """Scores of every node for each source: ``(len(sources), n)`` float64, ``A[s] diag(w) A``."""
        self._check()
        s = np.asarray(sources, dtype=np.int64).reshape(-1)
        return np.asarray((self._aw[s] @ self.adj_).toarray(), dtype=np.float64)

    def block_bytes_per_source(self) -> int:
        return 16 * self.num_nodes_
