"""Link-prediction metrics as pure functions (NumPy in, NumPy or floats out).

Edge level (scores of positive and negative pairs, higher = more likely):
:func:`hits_at_k`, :func:`mean_reciprocal_rank`, :func:`roc_auc`,
:func:`average_precision`, and :func:`edge_metrics` bundling them; each
positive against its own negatives (ogbl-citation2 style):
:func:`per_positive_metrics`.
Node level (one row of candidate scores per source node):
:func:`node_ranking_metrics`. Association with a node property:
:func:`correlation`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import InputError

__all__ = [
    "hits_at_k",
    "mean_reciprocal_rank",
    "roc_auc",
    "average_precision",
    "edge_metrics",
    "per_positive_metrics",
    "PER_POSITIVE_KS",
    "node_ranking_metrics",
    "NODE_KS",
    "correlation",
]

NODE_KS = (5, 10, 20, 50, 100)
#: cut-offs of the per-positive ranking (those the OGB evaluator reports for ogbl-citation2)
PER_POSITIVE_KS = (1, 3, 10)


def _scores(a, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64).reshape(-1)
    if np.isnan(arr).any():
        raise InputError(f"{name} holds NaN scores")
    return arr


def hits_at_k(pos, neg, *, k: int) -> float:
    """OGB Hits@K: share of positives scored strictly above the K-th best negative.

    ``hits = mean_i [ pos_i > neg_(K) ]`` with ``neg_(K)`` the K-th largest
    negative score. With fewer than ``K`` negatives every positive counts as a
    hit (the OGB evaluator's convention). NaN when there are no positives.

    >>> hits_at_k([0.9, 0.5, 0.2], [0.8, 0.4, 0.1], k=2)  # 2nd best negative 0.4
    0.6666666666666666
    """
    if int(k) < 1:
        raise InputError(f"k must be >= 1; got {k}")
    p, n = _scores(pos, "pos"), _scores(neg, "neg")
    if p.size == 0:
        return float("nan")
    if n.size < k:
        return 1.0
    kth = np.partition(n, n.size - k)[n.size - k]
    return float(np.mean(p > kth))


def mean_reciprocal_rank(pos, neg) -> float:
    """MRR of each positive ranked against all negatives (shared negatives).

    For positive ``p``: ``rank(p) = 1 + #{n : n > p} + 0.5 * #{n : n == p}``
    (ties count half, the average of OGB's optimistic and pessimistic ranks);
    ``MRR = mean_p 1 / rank(p)``. NaN when there are no positives.

    >>> mean_reciprocal_rank([0.9, 0.5], [0.8, 0.5])  # ranks 1 and 2.5
    0.7
    """
    p, n = _scores(pos, "pos"), np.sort(_scores(neg, "neg"))
    if p.size == 0:
        return float("nan")
    greater = n.size - np.searchsorted(n, p, side="right")
    ties = np.searchsorted(n, p, side="right") - np.searchsorted(n, p, side="left")
    return float(np.mean(1.0 / (1.0 + greater + 0.5 * ties)))


def roc_auc(pos, neg) -> float:
    """Area under the ROC curve: ``P(score(pos) > score(neg)) + 0.5 P(=)``.

    The Mann-Whitney statistic ``(R_pos - P(P+1)/2) / (P N)`` with ``R_pos``
    the sum of mid-ranks of the positives among all scores, computed by
    scikit-learn's ``roc_auc_score``. NaN when either side is empty.

    >>> roc_auc([0.9, 0.4], [0.5, 0.1])  # 3 of 4 pairs ordered right
    0.75
    """
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415  (sklearn.metrics takes ~1 s to import)

    p, n = _scores(pos, "pos"), _scores(neg, "neg")
    if p.size == 0 or n.size == 0:
        return float("nan")
    return float(roc_auc_score(*_labelled(p, n)))


def average_precision(pos, neg) -> float:
    """Average precision: ``AP = sum_t (R_t - R_{t-1}) P_t``.

    Thresholds ``t`` run over the distinct scores in decreasing order (tied
    scores enter together); ``P_t``, ``R_t`` are precision and recall of
    "score >= t". Computed by scikit-learn's ``average_precision_score``.
    NaN when there are no positives.

    >>> average_precision([0.9, 0.4], [0.5, 0.1])  # (1/2)*1 + (1/2)*(2/3)
    0.8333333333333333
    """
    from sklearn.metrics import average_precision_score  # noqa: PLC0415  (sklearn.metrics takes ~1 s to import)

    p, n = _scores(pos, "pos"), _scores(neg, "neg")
    if p.size == 0:
        return float("nan")
    return float(average_precision_score(*_labelled(p, n)))


def _labelled(p: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, y_score)`` of positives ``p`` and negatives ``n``, as scikit-learn's metrics take them."""
    s = np.concatenate([p, n])
    if not np.isfinite(s).all():  # sklearn rejects +-inf; AUC and AP depend only on the order, so dense ranks give the same value
        s = np.unique(s, return_inverse=True)[1].astype(np.float64)
    return np.r_[np.ones(p.size), np.zeros(n.size)], s


def edge_metrics(pos, neg, *, ks: Iterable[int] = (20, 50, 100)) -> dict[str, float]:
    """``hits@K`` for each K, ``mrr``, ``auc``, ``ap`` and the counts, in one dict."""
    out: dict[str, float] = {f"hits@{k}": hits_at_k(pos, neg, k=k) for k in ks}
    out["mrr"] = mean_reciprocal_rank(pos, neg)
    out["auc"] = roc_auc(pos, neg)
    out["ap"] = average_precision(pos, neg)
    out["num_pos"] = int(np.size(pos))
    out["num_neg"] = int(np.size(neg))
    return out


def per_positive_metrics(pos, neg, owner, *, ks: Iterable[int] = PER_POSITIVE_KS) -> dict[str, float]:
    """Each positive ranked against its own negatives (ogbl-citation2 protocol).

    Parameters
    ----------
    pos : array (P,)
        Scores of the positives.
    neg : array (N,)
        Scores of the negatives.
    owner : int array (N,)
        ``owner[k]`` is the index in ``pos`` of the positive that negative
        ``k`` is ranked against; every positive needs at least one negative.
    ks : cut-offs of ``hits@K``

    Returns
    -------
    dict: ``mrr`` and ``hits@K`` (per positive, then averaged), ``auc`` and
    ``ap`` of all positives against all negatives (pooled), and the counts.

    Notes
    -----
    With ``G_p`` the negatives of positive ``p``:
    ``rank_p = 1 + #{n in G_p : n > p} + 0.5 * #{n in G_p : n == p}``
    (ties count half, OGB's mean of optimistic and pessimistic rank);
    ``mrr = mean_p 1 / rank_p`` and ``hits@K = mean_p [rank_p <= K]``.
    NaN when there are no positives.

    >>> m = per_positive_metrics([0.9, 0.5], [0.8, 0.95, 0.5, 0.1], [0, 0, 1, 1], ks=(1,))
    >>> m["mrr"], m["hits@1"]  # ranks 2 and 1.5
    (0.5833333333333333, 0.0)
    """
    p, n = _scores(pos, "pos"), _scores(neg, "neg")
    own = np.asarray(owner).reshape(-1)
    if own.shape != n.shape:
        raise InputError(f"owner must name one positive per negative ({n.size}); got {own.size} entries")
    ks = tuple(int(k) for k in ks)
    if any(k < 1 for k in ks):
        raise InputError(f"ks must be >= 1; got {ks}")
    out: dict[str, float] = {}
    if p.size == 0:
        out.update({f"hits@{k}": float("nan") for k in ks}, mrr=float("nan"))
    else:
        if own.size and (not np.issubdtype(own.dtype, np.integer) or own.min() < 0 or own.max() >= p.size):
            raise InputError(f"owner must hold indices of positives in 0..{p.size - 1}")
        own = own.astype(np.int64)
        count = np.bincount(own, minlength=p.size)
        if (count == 0).any():
            raise InputError(f"positive {int(np.flatnonzero(count == 0)[0])} has no negatives; each positive needs at least one")
        greater = np.bincount(own, weights=n > p[own], minlength=p.size)
        ties = np.bincount(own, weights=n == p[own], minlength=p.size)
        rank = 1.0 + greater + 0.5 * ties
        out.update({f"hits@{k}": float(np.mean(rank <= k)) for k in ks}, mrr=float(np.mean(1.0 / rank)))
    out["auc"] = roc_auc(p, n)
    out["ap"] = average_precision(p, n)
    out["num_pos"] = int(p.size)
    out["num_neg"] = int(n.size)
    return out


def node_ranking_metrics(
    scores,
    relevant,
    *,
    exclude=None,
    ks: Iterable[int] = NODE_KS,
) -> dict[str, np.ndarray]:
    """Per-row ranking quality of candidate lists.

    Parameters
    ----------
    scores : array (b, n)
        Row ``r`` scores every candidate node for source ``r``.
    relevant : bool array (b, n)
        The true (held-out) neighbours of each source.
    exclude : bool array (b, n), optional
        Candidates removed from the ranking (the source itself, its known
        neighbours). Excluded candidates are never relevant.
    ks : cut-offs

    Returns
    -------
    dict of float arrays of shape (b,): ``precision@k``, ``recall@k``,
    ``ndcg@k``, ``hit@k`` for each k, and ``rr``.

    Notes
    -----
    Candidates are sorted by decreasing score, ties by increasing column
    index. With ``rel_r`` = 1 when the candidate at position ``r`` (1-based)
    is relevant and ``R`` the number of relevant candidates:
    ``precision@k = sum_{r<=k} rel_r / k``; ``recall@k = sum_{r<=k} rel_r / R``;
    ``hit@k = [sum_{r<=k} rel_r > 0]``;
    ``ndcg@k = sum_{r<=k} rel_r / log2(r+1) / sum_{r<=min(k,R)} 1 / log2(r+1)``;
    ``rr = 1 / r*`` with ``r*`` the position of the best-ranked relevant
    candidate. Rows with ``R = 0`` are NaN throughout.

    >>> m = node_ranking_metrics([[0.9, 0.8, 0.7, 0.1]], [[False, True, False, True]], ks=(2,))
    >>> m["precision@2"].tolist(), m["recall@2"].tolist(), m["rr"].tolist()
    ([0.5], [0.5], [0.5])
    """
    s = np.array(scores, dtype=np.float64, ndmin=2)
    rel = np.array(relevant, dtype=bool, ndmin=2)
    if rel.shape != s.shape:
        raise InputError(f"relevant must have the shape of scores {s.shape}; got {rel.shape}")
    s = np.where(np.isnan(s), -np.inf, s)
    if exclude is not None:
        ex = np.array(exclude, dtype=bool, ndmin=2)
        if ex.shape != s.shape:
            raise InputError(f"exclude must have the shape of scores {s.shape}; got {ex.shape}")
        rel = rel & ~ex
        s = np.where(ex, -np.inf, s)
    b, n = s.shape
    ks = tuple(int(k) for k in ks)
    if any(k < 1 for k in ks):
        raise InputError(f"ks must be >= 1; got {ks}")
    order = np.argsort(-s, axis=1, kind="stable")
    hits = np.take_along_axis(rel, order, axis=1)
    num_rel = rel.sum(axis=1).astype(np.float64)
    valid = num_rel > 0
    out: dict[str, np.ndarray] = {}
    kmax = max(ks) if ks else 0
    top = hits[:, : min(kmax, n)].astype(np.float64)
    discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    cum_hits = np.cumsum(top, axis=1)
    cum_dcg = np.cumsum(top * discount, axis=1)
    ideal = np.cumsum(discount)
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in ks:
            kk = min(k, n)
            h = cum_hits[:, kk - 1] if kk > 0 else np.zeros(b)
            dcg = cum_dcg[:, kk - 1] if kk > 0 else np.zeros(b)
            m = np.minimum(num_rel, kk).astype(np.int64)
            idcg = np.where(m > 0, ideal[np.maximum(m - 1, 0)] if kk > 0 else 0.0, np.nan)
            out[f"precision@{k}"] = np.where(valid, h / k, np.nan)
            out[f"recall@{k}"] = np.where(valid, h / num_rel, np.nan)
            out[f"ndcg@{k}"] = np.where(valid, dcg / idcg, np.nan)
            out[f"hit@{k}"] = np.where(valid, (h > 0).astype(np.float64), np.nan)
        first = np.argmax(hits, axis=1)
        out["rr"] = np.where(valid, 1.0 / (first + 1.0), np.nan)
    return out


def correlation(x, y) -> dict[str, float]:
    """Pearson and Spearman correlation over the entries where both are finite.

    Returns ``{"pearson", "spearman", "n"}``; NaN coefficients when fewer
    than 3 pairs remain or either side is constant.

    >>> correlation([1, 2, 3, np.nan], [2, 4, 7, 1])["spearman"]
    1.0
    """
    from scipy.stats import pearsonr, spearmanr  # noqa: PLC0415

    a = np.asarray(x, dtype=np.float64).reshape(-1)
    b = np.asarray(y, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise InputError(f"x and y must have the same length; got {a.size} and {b.size}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    nan = float("nan")
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return {"pearson": nan, "spearman": nan, "n": int(a.size)}
    return {"pearson": float(pearsonr(a, b)[0]), "spearman": float(spearmanr(a, b)[0]), "n": int(a.size)}
