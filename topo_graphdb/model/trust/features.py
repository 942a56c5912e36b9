"""Features and labels of predicted links for the link calibrator.

* :func:`link_features`: per predicted link, the model score normalised per
  source (comparable between a model trained on part of the edges and one
  retrained on all of them), its rank, and structural facts of the pair
  (degrees, common neighbours, resource allocation, optional pair TC);
* :func:`node_activity`: how recently and how much each node was active, and
  how recently each pair was, from relationship times (link features on
  graphs that have them);
* :func:`holdout_labels`: which links are held-out edges.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ...errors import InputError
from ...kernels import clustering_coefficient
from ...kernels.metrics import PairHeuristics
from ...snapshot import adjacency_matrix  # noqa: F401  (the doctests use it)

__all__ = ["link_features", "node_activity", "activity_before_holdout", "holdout_labels"]

#: :func:`node_activity` counts a node's events in this last share of the time span
RECENT_SHARE = 0.1
#: time scale (share of the span) of :func:`node_activity`'s pair recency and of ``path2_age``
PATH_TAU = 0.05

_LINK_KEYS = ("src", "dst", "score", "rank")
_PAIR_CHUNK = 65_536  # links per sparse row product in ``path2_age``


# ------------------------------------------------------------------ features
def _check_links(links: dict[str, np.ndarray], num_nodes: int | None = None) -> tuple[np.ndarray, ...]:
    missing = [key for key in _LINK_KEYS if key not in links]
    if missing:
        raise InputError(f"links must hold {', '.join(_LINK_KEYS)}; missing {', '.join(missing)}")
    src = np.asarray(links["src"], dtype=np.int64).reshape(-1)
    dst = np.asarray(links["dst"], dtype=np.int64).reshape(-1)
    score = np.asarray(links["score"], dtype=np.float64).reshape(-1)
    rank = np.asarray(links["rank"], dtype=np.float64).reshape(-1)
    if not (src.size == dst.size == score.size == rank.size):
        raise InputError(f"links arrays must have one length; got src {src.size}, dst {dst.size}, score {score.size}, rank {rank.size}")
    if num_nodes is not None and src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= num_nodes):
        raise InputError(f"links refer to nodes outside 0..{num_nodes - 1}")
    if not np.isfinite(score).all():
        raise InputError("links['score'] must be finite")
    return src, dst, score, rank


def _per_source_stats(src: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per link: the best score, mean and standard deviation of its source's links."""
    _, inv, count = np.unique(src, return_inverse=True, return_counts=True)
    best = np.full(count.size, -np.inf)
    np.maximum.at(best, inv, score)
    mean = np.bincount(inv, score) / count
    var = np.maximum(np.bincount(inv, score * score) / count - mean * mean, 0.0)
    return best[inv], mean[inv], np.sqrt(var)[inv]


def _per_source_quantiles(src: np.ndarray, dst: np.ndarray, quantile: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per link: the lowest and mean score quantile of its source's links, and the lowest of its target's."""
    lowest = np.full(n, np.inf)
    np.minimum.at(lowest, src, quantile)
    count = np.bincount(src, minlength=n)
    mean = np.bincount(src, quantile, minlength=n) / np.maximum(count, 1)
    dst_lowest = lowest[dst]
    return {"lowest": lowest[src], "mean": mean[src], "count": count[src].astype(np.float64),
            "dst_lowest": np.where(np.isfinite(dst_lowest), dst_lowest, quantile)}  # fmt: skip


def node_activity(edges, edge_time, num_nodes: int, *, before: float | None = None, recent_share: float = RECENT_SHARE) -> dict[str, Any]:
    """How long ago each node (and each pair) was last active and how active it was lately.

    From the events (timed edges, repeated pairs counted each time) with
    ``t < before`` (all of them without ``before``), ``t0 = min t``,
    ``t1 = max t`` and ``span = t1 - t0``:

    * ``age(v) = (t1 - last(v)) / span`` in [0, 1], ``last(v)`` the time of
      ``v``'s latest event (1 for a node without one; 0 when ``span = 0``);
    * ``log_recent(v) = log(1 + #{events of v with t >= t1 - recent_share * span})``;
    * ``pair_recency[u, v] = exp(-age(u, v) / PATH_TAU)`` for each pair with
      an event, ``age(u, v) = (t1 - last(u, v)) / span`` (its latest event;
      symmetric, absent pairs 0): read by ``path2_age`` of :func:`link_features`.

    All read only what happened before ``before``: for the held-out check,
    the time of the first held-out edge, so nothing after it leaks in.

    Returns ``{"age": (n,), "log_recent": (n,)}`` (float64) and
    ``"pair_recency"``: scipy CSR (n, n).

    >>> a = node_activity(np.array([[0, 0, 1], [1, 2, 2]]), np.array([0.0, 10.0, 4.0]), 4, recent_share=0.5)
    >>> a["age"].tolist(), np.expm1(a["log_recent"]).round().tolist()
    ([0.0, 0.6, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0])
    >>> node_activity(np.array([[0, 0], [1, 2]]), np.array([0.0, 10.0]), 3, before=5.0)["age"].tolist()
    [0.0, 0.0, 1.0]
    """
    n = int(num_nodes)
    ei = np.asarray(edges, dtype=np.int64).reshape(2, -1)
    t = np.asarray(edge_time, dtype=np.float64).reshape(-1)
    if t.size != ei.shape[1]:
        raise InputError(f"edge_time must have one entry per edge; got {t.size} for {ei.shape[1]} edges")
    if not np.isfinite(t).all():
        raise InputError("edge_time must be finite")
    if not 0.0 < float(recent_share) <= 1.0:
        raise InputError(f"recent_share must be in (0, 1]; got {recent_share!r}")
    if before is not None:
        keep = t < float(before)
        ei, t = ei[:, keep], t[keep]
    age, recent = np.ones(n), np.zeros(n)
    pair_recency = sp.csr_matrix((n, n), dtype=np.float64)
    if t.size:
        t0, t1 = float(t.min()), float(t.max())
        span = t1 - t0
        ends, times = ei.reshape(-1), np.r_[t, t]
        last = np.full(n, -np.inf)
        np.maximum.at(last, ends, times)
        seen = np.isfinite(last)
        age[seen] = (t1 - last[seen]) / span if span > 0 else 0.0
        recent = np.bincount(ends[times >= t1 - float(recent_share) * span], minlength=n).astype(np.float64)
        pair_recency = _pair_recency(ei, t, n, t1, span)
    return {"age": age, "log_recent": np.log1p(recent), "pair_recency": pair_recency}


def activity_before_holdout(edges, edge_time, num_nodes: int, split) -> dict[str, Any] | None:
    """:func:`node_activity` of the events before the first held-out edge of a split by time.

    ``split.meta["t2"]`` is the time of the first held-out edge; only earlier
    events are read. None for a split that is not by time (no order to respect).
    """
    if split.meta.get("kind") != "temporal":
        return None
    return node_activity(edges, edge_time, num_nodes, before=float(split.meta["t2"]))


def _pair_recency(ei: np.ndarray, t: np.ndarray, n: int, t1: float, span: float) -> sp.csr_matrix:
    """``exp(-age / PATH_TAU)`` of each pair's latest event, both directions (self-pairs left out)."""
    keep = ei[0] != ei[1]
    lo, hi = np.minimum(ei[0], ei[1])[keep], np.maximum(ei[0], ei[1])[keep]
    key, times = lo.astype(np.int64) * np.int64(n) + hi, t[keep]
    order = np.lexsort((times, key))  # by pair, latest event last
    key, times = key[order], times[order]
    last = np.r_[key[1:] != key[:-1], True] if key.size else np.zeros(0, dtype=bool)
    key, times = key[last], times[last]
    ages = (t1 - times) / span if span > 0 else np.zeros(times.size)
    w, r, c = np.exp(-ages / PATH_TAU), key // n, key % n
    return sp.csr_matrix((np.r_[w, w], (np.r_[r, c], np.r_[c, r])), shape=(n, n))


def link_features(links: dict[str, np.ndarray], train_adj, *, pair_tc=None, activity=None) -> tuple[np.ndarray, list[str]]:
    """Feature matrix of predicted links for :class:`LinkCalibrator`.

    With ``s`` a link's score, ``S(i)`` the scores of source ``i``'s predicted
    links (``max``, mean ``mu``, standard deviation ``sd``), ``q(.)`` the
    fractional rank of a value among all the links' scores, ``d`` training
    degrees and ``N`` training neighbourhoods, the columns are:

    ========================  ==================================================
    ``score_gap``             ``s - max S(i)`` (0 for the source's best link)
    ``score_z``               ``(s - mu(i)) / sd(i)`` (0 when ``sd = 0``)
    ``score_gap_z``           ``(s - max S(i)) / sd(i)`` (0 when ``sd = 0``)
    ``score_quantile``        ``q(s)`` in (0, 1]
    ``best_quantile``         ``q(max S(i))``: how confident the source's best link is
    ``rank``                  1 = best link of the source
    ``log_deg_src``           ``log(1 + d(i))``
    ``log_deg_dst``           ``log(1 + d(j))``
    ``cn``                    ``|N(i) ∩ N(j)|``
    ``cn_share``              ``cn / min(d(i), d(j))`` (0 when the minimum is 0)
    ``ra``                    ``sum_{z in N(i) ∩ N(j)} 1 / d(z)``
    ``clustering_src``        local clustering coefficient ``C(i)`` (0 when ``d(i) < 2``)
    ``clustering_dst``        ``C(j)``
    ``log_walks2_src``        ``log(1 + sum_{v in N(i)} d(v))``: 2-step walks from ``i``
    ``log_nbr_deg_src``       ``log(1 + mean_{v in N(i)} d(v))`` (0 when ``d(i) = 0``)
    ``lowest_quantile``       ``min q(S(i))``: how confident the source's last link is
    ``mean_quantile``         ``mean q(S(i))``
    ``quantile_spread``       ``q(max S(i)) - min q(S(i))``
    ``quantile_vs_mean``      ``q(s) - mean q(S(i))``
    ``rank_share``            ``rank / |S(i)|``
    ``quantile_vs_dst_lowest`` ``q(s) - min q(S(j))``: would ``j`` list ``i`` (0 when ``j`` has no links)
    ``mutual``                1 when ``(j, i)`` is a link too
    ``jaccard``               ``cn / |N(i) ∪ N(j)|`` (0 when both are isolated)
    ``adamic_adar``           ``sum_{z in N(i) ∩ N(j)} 1 / log d(z)``
    ``log_paths3``            ``log(1 + (A^3)_{ij})``: 3-step walks from ``i`` to ``j``
    ``log_deg_src_x_quantile`` ``log_deg_src * q(s)``
    ``log_pair_tc_k{h}``      ``log(1 + pair_tc[h-1])`` (only with ``pair_tc``)
    ``age_src``, ``age_dst``  :func:`node_activity` ``age`` of ``i`` and ``j`` (only with ``activity``)
    ``log_recent_src``, ``log_recent_dst``  its ``log_recent`` of ``i`` and ``j`` (only with ``activity``)
    ``path2_age``             ``-tau log sum_{z in N(i) ∩ N(j)} exp(-(age(i, z) + age(z, j)) / tau)``,
                              ``tau = PATH_TAU``, pair ages of :func:`node_activity`: a soft minimum of
                              the age of the pair's freshest two-step path (2 without one; only with ``activity``)
    ========================  ==================================================

    Only per-source differences and quantiles of the score enter, never its
    raw value, so the features mean the same for a model trained on 80% of
    the edges and one retrained on all of them (score scales differ).
    ``quantile_vs_dst_lowest`` and ``mutual`` read the target's own links, so
    they carry information only where the targets are sources too (every
    node up to the check's sample limit).

    Parameters
    ----------
    links : dict with ``src``, ``dst``, ``score``, ``rank`` arrays of shape (m,)
        As returned by :func:`topo_graphdb.model.predict.predict_links`.
    train_adj : scipy sparse (n, n)
        Symmetric adjacency of the graph the predictor used (nonzero = edge).
    pair_tc : array (hops, m), optional
        Pair-level TC of each link per hop count; NaN entries become 0.
    activity : dict, optional
        :func:`node_activity` of the same graph.

    Returns
    -------
    X : float64 array (m, f), finite
    names : list of the f column names

    Examples
    --------
    >>> a = adjacency_matrix(np.array([[0, 0, 1, 2], [1, 2, 3, 3]]), 5, np.float64)
    >>> links = {"src": np.array([0, 0]), "dst": np.array([3, 4]), "score": np.array([2.0, 0.0]), "rank": np.array([1, 2])}
    >>> X, names = link_features(links, a)
    >>> dict(zip(names, X[0].round(3).tolist()))["cn"], dict(zip(names, X[0].tolist()))["cn_share"]
    (2.0, 1.0)
    >>> dict(zip(names, X[1].tolist()))["score_gap"]
    -2.0
    """
    from scipy.stats import rankdata  # noqa: PLC0415

    if not sp.issparse(train_adj) or train_adj.shape[0] != train_adj.shape[1]:
        raise InputError(f"train_adj must be a square scipy sparse matrix; got {type(train_adj).__name__}")
    n = train_adj.shape[0]
    src, dst, score, rank = _check_links(links, n)
    m = src.size
    adj = sp.csr_matrix(train_adj, dtype=np.float64, copy=True)
    adj.data[:] = 1.0
    adj.eliminate_zeros()
    deg = np.diff(adj.indptr).astype(np.float64)
    inv_deg = np.divide(1.0, deg, out=np.zeros(n), where=deg > 0)
    upper = sp.triu(adj, k=1).tocoo()
    graph = np.stack([upper.row, upper.col]).astype(np.int64)
    heuristics = PairHeuristics(graph, num_nodes=n)  # CN, AA, RA, Jaccard and 3-step walks of the links
    pairs = np.stack([src, dst])
    pair = heuristics(pairs, which=("cn", "aa", "ra", "jaccard"))
    cn = pair["cn"]
    cols: dict[str, np.ndarray] = {}
    if m:
        best, mean, sd = _per_source_stats(src, score)
        safe = np.where(sd > 0, sd, 1.0)
        cols["score_gap"] = score - best
        cols["score_z"] = np.where(sd > 0, (score - mean) / safe, 0.0)
        cols["score_gap_z"] = np.where(sd > 0, (score - best) / safe, 0.0)
        ranks = rankdata(np.concatenate([score, best]), method="max")  # quantiles on one common scale
        cols["score_quantile"] = ranks[:m] / (2.0 * m)
        cols["best_quantile"] = ranks[m:] / (2.0 * m)
    else:
        for key in ("score_gap", "score_z", "score_gap_z", "score_quantile", "best_quantile"):
            cols[key] = np.zeros(0)
    cols["rank"] = rank
    cols["log_deg_src"] = np.log1p(deg[src])
    cols["log_deg_dst"] = np.log1p(deg[dst])
    cols["cn"] = cn
    low = np.minimum(deg[src], deg[dst])
    cols["cn_share"] = np.divide(cn, low, out=np.zeros(m), where=low > 0)
    cols["ra"] = pair["ra"]
    clustering = clustering_coefficient(graph, num_nodes=n)
    walks2 = np.asarray(adj @ deg).reshape(-1)
    cols["clustering_src"] = clustering[src]
    cols["clustering_dst"] = clustering[dst]
    cols["log_walks2_src"] = np.log1p(walks2[src])
    cols["log_nbr_deg_src"] = np.log1p(walks2 * inv_deg)[src]
    q = cols["score_quantile"]
    sq = _per_source_quantiles(src, dst, q, n) if m else dict.fromkeys(("lowest", "mean", "count", "dst_lowest"), np.zeros(0))
    cols["lowest_quantile"] = sq["lowest"]
    cols["mean_quantile"] = sq["mean"]
    cols["quantile_spread"] = cols["best_quantile"] - sq["lowest"]
    cols["quantile_vs_mean"] = q - sq["mean"]
    cols["rank_share"] = np.divide(rank, sq["count"], out=np.zeros(m), where=sq["count"] > 0)
    cols["quantile_vs_dst_lowest"] = q - sq["dst_lowest"]
    keys = src * np.int64(n) + dst
    cols["mutual"] = np.isin(dst * np.int64(n) + src, keys).astype(np.float64)
    cols["jaccard"] = pair["jaccard"]
    cols["adamic_adar"] = pair["aa"]
    cols["log_paths3"] = np.log1p(heuristics.three_step_walks(pairs))
    cols["log_deg_src_x_quantile"] = cols["log_deg_src"] * q
    if pair_tc is not None:
        tc = np.asarray(pair_tc, dtype=np.float64)
        tc = tc.reshape(1, -1) if tc.ndim == 1 else tc
        if tc.ndim != 2 or tc.shape[1] != m:
            raise InputError(f"pair_tc must have shape (hops, {m}); got {np.shape(pair_tc)}")
        for h in range(tc.shape[0]):
            cols[f"log_pair_tc_k{h + 1}"] = np.log1p(np.nan_to_num(np.maximum(tc[h], 0.0), nan=0.0))
    if activity is not None:
        for key in ("age", "log_recent"):
            values = np.asarray(activity[key], dtype=np.float64).reshape(-1)
            if values.size != n:
                raise InputError(f"activity[{key!r}] has {values.size} entries for {n} nodes")
            cols[f"{key}_src"], cols[f"{key}_dst"] = values[src], values[dst]
        cols["path2_age"] = _path2_age(activity.get("pair_recency"), src, dst, n)
    names = list(cols)
    X = np.column_stack([cols[k] for k in names]) if m else np.zeros((0, len(names)))
    return np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0), names


def _path2_age(pair_recency, src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    """``path2_age`` of :func:`link_features` from :func:`node_activity`'s ``pair_recency``."""
    if not sp.issparse(pair_recency) or pair_recency.shape != (n, n):
        raise InputError(f"activity['pair_recency'] must be a scipy sparse ({n}, {n}) matrix from node_activity")
    r = sp.csr_matrix(pair_recency)
    paths = np.zeros(src.size)
    for start in range(0, src.size, _PAIR_CHUNK):  # the rows of a chunk hold its links' neighbours: bounded memory
        part = slice(start, start + _PAIR_CHUNK)
        paths[part] = np.asarray(r[src[part]].multiply(r[dst[part]]).sum(axis=1), dtype=np.float64).reshape(-1)
    return np.where(paths > 0, -PATH_TAU * np.log(np.where(paths > 0, paths, 1.0)), 2.0)


def holdout_labels(links: dict[str, np.ndarray], heldout_edges, num_nodes: int) -> np.ndarray:
    """``label[l] = {src[l], dst[l]}`` is a held-out edge (read undirected).

    >>> holdout_labels({"src": np.array([0, 2, 1]), "dst": np.array([1, 0, 2])}, np.array([[1, 0], [0, 2]]), 3).tolist()
    [True, True, False]
    """
    n = int(num_nodes)
    src = np.asarray(links["src"], dtype=np.int64).reshape(-1)
    dst = np.asarray(links["dst"], dtype=np.int64).reshape(-1)
    held = np.asarray(heldout_edges, dtype=np.int64).reshape(2, -1)
    keys = np.minimum(src, dst) * np.int64(n) + np.maximum(src, dst)
    held_keys = np.unique(np.minimum(held[0], held[1]) * np.int64(n) + np.maximum(held[0], held[1]))
    return np.isin(keys, held_keys)
