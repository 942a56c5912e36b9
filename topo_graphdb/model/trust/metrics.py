"""Metrics of calibrated link probabilities and of a node's expected precision (pure functions).

Link metrics: :func:`brier_score`, :func:`expected_calibration_error`,
:func:`within_source_auc`; node metrics: :func:`expected_precision`,
:func:`measured_precision`, :func:`quintile_means`, :func:`lift`,
:func:`spearman_same_nodes`; :func:`report_metrics` puts them together on
the reported links, and :func:`trust_warnings` says where that
report advises against relying on the numbers.

References: Guo et al. (2017) for the ECE; Wang et al. (ICLR 2024) for the
per-node protocol.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ...errors import InputError
from ..metrics import average_precision, roc_auc
from ..report import json_ready

__all__ = [
    "brier_score", "expected_calibration_error", "quintile_means", "lift", "lift_interval", "spearman_same_nodes",
    "within_source_auc", "expected_precision", "measured_precision", "report_metrics", "trust_warnings",
]  # fmt: skip

#: :func:`trust_warnings`: fewer report nodes than this make the node metrics noise
MIN_TRUST_NODES = 50
#: :func:`trust_warnings`: a link AUC at or below this barely separates real links from false ones
MIN_TRUST_LINK_AUC = 0.6


def _pair(prob, y) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(prob, dtype=np.float64).reshape(-1)
    t = np.asarray(y, dtype=np.float64).reshape(-1)
    if p.shape != t.shape:
        raise InputError(f"prob and y must have the same length; got {p.size} and {t.size}")
    return p, t


def brier_score(prob, y) -> float:
    """Brier score ``mean_l (p_l - y_l)^2`` (lower is better; NaN when empty).

    Same value as scikit-learn's ``brier_score_loss``.

    >>> brier_score([0.5, 0.0, 1.0, 0.5], [1, 0, 1, 0])  # (0.25 + 0 + 0 + 0.25) / 4
    0.125
    """
    p, t = _pair(prob, y)
    return float(np.mean((p - t) ** 2)) if p.size else float("nan")


def expected_calibration_error(prob, y, *, bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width bins of [0, 1].

    ``ECE = sum_b (n_b / N) |mean_{l in b} p_l - mean_{l in b} y_l|`` with
    bin ``b = min(floor(p * bins), bins - 1)`` (so ``p = 1`` falls in the
    last bin); empty bins contribute 0. NaN when there are no entries.

    >>> round(expected_calibration_error([0.1, 0.1, 0.9, 0.9], [0, 0, 1, 1], bins=10), 12)  # |0.1-0| and |0.9-1|
    0.1
    >>> expected_calibration_error([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0])
    0.0
    """
    if int(bins) < 1:
        raise InputError(f"bins must be >= 1; got {bins}")
    p, t = _pair(prob, y)
    if p.size == 0:
        return float("nan")
    b = np.clip(np.floor(p * bins).astype(np.int64), 0, int(bins) - 1)
    gap = np.abs(np.bincount(b, p, minlength=bins) - np.bincount(b, t, minlength=bins))  # n_b |mean p - mean y|
    return float(gap.sum() / p.size)


def quintile_means(score, target) -> dict[str, list]:
    """Mean ``target`` per quintile of ``score`` over entries where both are finite.

    Entries are placed by mid-rank ``r`` (ties share one rank, so tied scores
    always share a quintile): quintile ``q = floor(5 (r - 1/2) / N)``, 0 =
    lowest scores. Returns ``{"mean": [5 floats], "count": [5 ints]}``; an
    empty quintile (possible with many ties) has mean NaN.

    >>> quintile_means(np.arange(10), np.r_[np.zeros(8), 1, 1])["mean"]
    [0.0, 0.0, 0.0, 0.0, 1.0]
    """
    from scipy.stats import rankdata  # noqa: PLC0415

    s, t = _pair(score, target)
    ok = np.isfinite(s) & np.isfinite(t)
    s, t = s[ok], t[ok]
    if s.size == 0:
        return {"mean": [float("nan")] * 5, "count": [0] * 5}
    q = np.minimum(np.floor(5 * (rankdata(s) - 0.5) / s.size).astype(np.int64), 4)
    count = np.bincount(q, minlength=5)
    total = np.bincount(q, t, minlength=5)
    mean = np.divide(total, count, out=np.full(5, np.nan), where=count > 0)
    return {"mean": [float(v) for v in mean], "count": [int(c) for c in count]}


def lift(score, target) -> float:
    """``mean target in the top quintile of score / mean target in the bottom quintile``.

    Quintiles as in :func:`quintile_means`. ``inf`` when the bottom mean is 0
    and the top mean positive; NaN when either quintile is empty or both
    means are 0.

    >>> lift(np.arange(10), np.r_[1, 1, 0, 0, 0, 0, 0, 0, 2, 4])  # (2+4)/2 over (1+1)/2
    3.0
    """
    m = quintile_means(score, target)["mean"]
    top, bottom = m[4], m[0]
    if not (np.isfinite(top) and np.isfinite(bottom)) or (top == 0 and bottom == 0):
        return float("nan")
    return float("inf") if bottom == 0 else float(top / bottom)


def lift_interval(score, target, *, level: float = 0.9, draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`lift`, resampling the nodes (pairs of score and target).

    ``(low, high)``: the ``(1 - level) / 2`` and ``(1 + level) / 2``
    quantiles of the lift of ``draws`` resamples drawn with replacement
    (``scipy.stats.bootstrap``, ``method="percentile"``); a resample whose
    lift is NaN counts as NaN and an infinite one as infinite. NaN, NaN with
    fewer than 10 entries where both are finite. It says how far the lift of
    a few hundred nodes moves by chance alone.

    >>> low, high = lift_interval(np.arange(200.0), np.arange(200.0) % 7, draws=200)
    >>> bool(low < 1.0 < high)  # no signal: the interval holds 1
    True
    """
    from scipy.stats import DegenerateDataWarning, bootstrap  # noqa: PLC0415

    if not 0.0 < float(level) < 1.0:
        raise InputError(f"level must be in (0, 1); got {level!r}")
    s, t = _pair(score, target)
    ok = np.isfinite(s) & np.isfinite(t)
    if ok.sum() < 10:
        return float("nan"), float("nan")
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):  # resamples with an infinite or NaN lift
        warnings.simplefilter("ignore", DegenerateDataWarning)  # a degenerate resample distribution gives NaN bounds
        res = bootstrap((s[ok], t[ok]), lift, paired=True, vectorized=False, n_resamples=int(draws),
                        confidence_level=float(level), method="percentile", random_state=np.random.default_rng(int(seed)))  # fmt: skip
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def spearman_same_nodes(candidates: dict[str, np.ndarray], target) -> dict[str, Any]:
    """Spearman correlation of each candidate with ``target`` on ONE node set.

    The node set is every entry where ``target`` and *all* candidates are
    finite, so the coefficients compare like with like (dropping NaN per
    candidate would let each be judged on different nodes). A coefficient is
    NaN when fewer than 3 nodes remain or either side is constant.

    Returns ``{"nodes": N, "spearman": {name: rho}}``.

    >>> r = spearman_same_nodes({"a": np.array([1.0, 2, 3, 4, np.nan]), "b": np.array([4.0, 3, np.nan, 1, 0])}, np.array([1.0, 2, 3, 4, 5]))
    >>> r["nodes"], r["spearman"]["a"], r["spearman"]["b"]
    (3, 1.0, -1.0)
    """
    from scipy.stats import spearmanr  # noqa: PLC0415

    t = np.asarray(target, dtype=np.float64).reshape(-1)
    ok = np.isfinite(t)
    cols = {}
    for name, values in candidates.items():
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.shape != t.shape:
            raise InputError(f"candidate {name!r} has {v.size} entries; target has {t.size}")
        cols[name] = v
        ok &= np.isfinite(v)
    out = {}
    for name, v in cols.items():
        a, b = v[ok], t[ok]
        out[name] = float("nan") if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0 else float(spearmanr(a, b)[0])
    return {"nodes": int(ok.sum()), "spearman": out}


def within_source_auc(src, prob, y) -> dict[str, float]:
    """How well ``prob`` orders each source's own links: AUC among a node's top-k.

    For source ``i`` with ``P_i`` positive and ``N_i`` negative links and
    ``R_i`` the sum of the positives' mid-ranks of ``prob`` among its links,
    ``U_i = R_i - P_i (P_i + 1) / 2`` (pairs ordered right, ties half).
    ``mean`` is ``mean_i U_i / (P_i N_i)`` and ``pooled`` is
    ``sum_i U_i / sum_i P_i N_i``, both over the sources with ``P_i, N_i > 0``
    (``sources``). NaN when there are none.

    >>> within_source_auc([0, 0, 0, 1, 1], [0.9, 0.5, 0.1, 0.2, 0.3], [1, 0, 1, 1, 0])
    {'mean': 0.25, 'pooled': 0.3333333333333333, 'sources': 2}
    """
    from scipy.stats import rankdata  # noqa: PLC0415

    s = np.asarray(src, dtype=np.int64).reshape(-1)
    p, t = _pair(prob, y)
    if s.size != p.size:
        raise InputError(f"src, prob and y must have one length; got {s.size} and {p.size}")
    if s.size == 0:
        return {"mean": float("nan"), "pooled": float("nan"), "sources": 0}
    _, g = np.unique(s, return_inverse=True)
    # one key per (source, prob) ordered by source first: its mid-rank minus the links of earlier sources
    # is the mid-rank of prob within the source (scipy's rankdata shares ties)
    key = g * np.int64(s.size + 1) + rankdata(p, method="dense").astype(np.int64)
    cnt = np.bincount(g).astype(np.float64)
    before = np.r_[0.0, np.cumsum(cnt)[:-1]]
    mid = rankdata(key) - before[g]
    P = np.bincount(g, t)
    R = np.bincount(g, mid * t)
    N = cnt - P
    ok = (P > 0) & (N > 0)
    if not ok.any():
        return {"mean": float("nan"), "pooled": float("nan"), "sources": 0}
    U = R[ok] - P[ok] * (P[ok] + 1) / 2.0
    return {"mean": float(np.mean(U / (P[ok] * N[ok]))), "pooled": float(U.sum() / (P[ok] * N[ok]).sum()), "sources": int(ok.sum())}


def expected_precision(src, prob, num_nodes: int, k: int, *, rank=None) -> np.ndarray:
    """Expected Precision@k of each node: ``EP(i) = sum_{l in top_k(i)} p_l / k``.

    With independent Bernoulli(``p_l``) hits, ``E[hits_i / k] = sum p_l / k``,
    the expectation of Precision@k (:func:`topo_graphdb.model.metrics.node_ranking_metrics`).
    ``top_k(i)``: node ``i``'s links with ``rank <= k`` (all of its links
    ranked by ``prob`` when ``rank`` is not given). A node with fewer than
    ``k`` links counts the missing slots as misses; a node without links
    gets NaN. Shape (num_nodes,).

    >>> expected_precision([0, 0, 0, 2], [0.5, 0.3, 0.1, 0.4], 4, 2).tolist()
    [0.4, nan, 0.2, nan]
    """
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise InputError(f"k must be an integer >= 1; got {k!r}")
    s = np.asarray(src, dtype=np.int64).reshape(-1)
    p = np.asarray(prob, dtype=np.float64).reshape(-1)
    if s.size != p.size:
        raise InputError(f"src and prob must have one length; got {s.size} and {p.size}")
    n = int(num_nodes)
    if s.size and (s.min() < 0 or s.max() >= n):
        raise InputError(f"src refers to nodes outside 0..{n - 1}")
    if rank is None:
        order = np.lexsort((-p, s))
        first = np.searchsorted(s[order], s[order], side="left")
        r = np.empty(s.size, np.int64)
        r[order] = np.arange(s.size) - first + 1
    else:
        r = np.asarray(rank, dtype=np.int64).reshape(-1)
    top = r <= k
    total = np.bincount(s[top], p[top], minlength=n)
    has = np.bincount(s, minlength=n) > 0
    return np.where(has, total / k, np.nan)


def measured_precision(src, label, heldout_degree, k: int) -> np.ndarray:
    """Precision@k per node: ``hits_i / k`` over its predicted top-k links.

    NaN for nodes without a held-out edge (``heldout_degree == 0``); those
    could never score a hit. ``src``/``label`` are the top-k links only.

    >>> measured_precision([0, 0, 1, 1], [True, False, False, False], np.array([1, 0, 2]), 2).tolist()
    [0.5, nan, 0.0]
    """
    d = np.asarray(heldout_degree).reshape(-1)
    hits = np.bincount(np.asarray(src, dtype=np.int64).reshape(-1), np.asarray(label, dtype=np.float64).reshape(-1), minlength=d.size)
    return np.where(d > 0, hits / int(k), np.nan)


# -------------------------------------------------------------------- report
def report_metrics(
    links: dict[str, np.ndarray], report: np.ndarray, per_node: dict[str, np.ndarray], node_sel: np.ndarray
) -> dict[str, Any]:
    """Link and node metrics of the calibrated probabilities on the ``report`` links (JSON-ready).

    ``links``: ``src``, ``score``, ``prob``, ``label`` arrays (m,); ``report``:
    bool mask (m,); ``per_node``: ``measured_precision`` (the target),
    ``expected_precision`` and any other per-node scores (n,), all correlated
    with the target on the same nodes, those of ``node_sel`` where every one is
    finite. Link metrics: ROC-AUC and AP of ``prob`` (and AUC of the raw
    score), Brier score (and that of the constant base rate), ECE with 10
    bins, AUC within each source's links; node metrics: Spearman, quintile
    means and lift of each per-node score, and the 90% bootstrap interval of
    the lift of expected precision.
    """
    y = links["label"][report].astype(bool)
    p = links["prob"][report]
    s = links["score"][report]
    src = links["src"][report]
    out: dict[str, Any] = {
        "links": int(report.sum()),
        "positives": int(y.sum()),
        "positive_rate": float(y.mean()) if y.size else float("nan"),
        "mean_prob": float(p.mean()) if p.size else float("nan"),
        "link_auc": roc_auc(p[y], p[~y]),
        "link_ap": average_precision(p[y], p[~y]),
        "link_auc_raw_score": roc_auc(s[y], s[~y]),
        "brier": brier_score(p, y),
        "brier_base_rate": brier_score(np.full(y.size, y.mean() if y.size else 0.0), y),
        "ece": expected_calibration_error(p, y, bins=10),
        "auc_within_top_k": within_source_auc(src, p, y),
        "auc_within_top_k_raw_score": within_source_auc(src, s, y),
    }
    target = np.where(node_sel, per_node["measured_precision"], np.nan)
    cands = {k: v for k, v in per_node.items() if k != "measured_precision"}
    same = spearman_same_nodes(cands, target)
    ok = np.isfinite(target)
    for v in cands.values():
        ok &= np.isfinite(v)
    out["nodes"] = {
        "evaluated": same["nodes"],
        "spearman": same["spearman"],
        "quintile_means": {k: quintile_means(v[ok], target[ok]) for k, v in cands.items()},
        "lift": {k: lift(v[ok], target[ok]) for k, v in cands.items()},
        "lift_interval_expected_precision": lift_interval(cands["expected_precision"][ok], target[ok]),
        "mean_expected_precision": float(np.mean(cands["expected_precision"][ok])) if ok.any() else float("nan"),
        "mean_measured_precision": float(np.mean(target[ok])) if ok.any() else float("nan"),
    }
    return json_ready(out)


def trust_warnings(metrics: dict[str, Any]) -> list[str]:
    """Plain-language warnings about a :func:`report_metrics` result (empty when none applies).

    * ``rho(expected_precision) <= rho(degree)`` (Spearman with the measured
      Precision@k, same nodes): the expected precision ranks nodes no better
      than their degree does on this graph;
    * ``nodes evaluated < MIN_TRUST_NODES``: the node metrics rest on too few
      nodes to mean much;
    * ``link AUC <= MIN_TRUST_LINK_AUC``: the probabilities barely separate
      held-out links from the others.

    >>> trust_warnings({"link_auc": 0.8, "nodes": {"evaluated": 300, "spearman": {"expected_precision": 0.3, "degree": 0.1}}})
    []
    >>> trust_warnings({"link_auc": 0.8, "nodes": {"evaluated": 300, "spearman": {"expected_precision": -0.03, "degree": 0.06}}})[0][:60]
    'the held-out check found expected precision ranking nodes no'
    """
    out = []
    nodes = metrics.get("nodes") or {}
    rho = nodes.get("spearman") or {}
    ep, degree = rho.get("expected_precision"), rho.get("degree")
    evaluated = nodes.get("evaluated") or 0
    if _finite(ep) and _finite(degree) and ep <= degree:
        out.append(f"the held-out check found expected precision ranking nodes no better than degree (Spearman {ep:.3f} "
                   f"against {degree:.3f} on {evaluated} nodes): topo_reliability adds nothing over degree on this graph")  # fmt: skip
    if evaluated < MIN_TRUST_NODES:
        out.append(f"the held-out check has {evaluated} nodes with a held-out link (fewer than {MIN_TRUST_NODES}): "
                   "its expected-precision numbers are noise; hold out more (predict.trust_holdout) or select a larger graph")  # fmt: skip
    auc = metrics.get("link_auc")
    if _finite(auc) and auc <= MIN_TRUST_LINK_AUC:
        out.append(f"the held-out check's link AUC is {auc:.3f} (at most {MIN_TRUST_LINK_AUC}): "
                   "link probabilities barely separate real links from false ones on this graph")  # fmt: skip
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and np.isfinite(value)
