"""Which predicted links to believe: calibrated link probabilities and a node's expected precision.

A link predictor ranks candidate targets but its scores are not
probabilities: an RA score of 0.4 or a GCN logit of 3 says nothing about how
often such a link turns out to exist. This module learns that mapping from
held-out edges and reports how far it can be trusted:

* :func:`link_features`: per predicted link, the model score normalised per
  source (comparable between a model trained on part of the edges and one
  retrained on all of them), its rank, and structural facts of the pair
  (degrees, common neighbours, resource allocation, optional pair TC);
* :class:`LinkCalibrator`: picks the best of a few probabilistic classifiers
  (logistic regression, gradient boosting, each optionally recalibrated with
  isotonic or sigmoid regression) by log-loss on a validation part grouped by
  source node, and refits it on all rows;
* :func:`expected_precision`: ``sum`` of a node's top-k link probabilities
  ``/ k``, the expectation of its Precision@k;
* metrics (pure functions): :func:`brier_score`,
  :func:`expected_calibration_error`, :func:`quintile_means`, :func:`lift`,
  :func:`spearman_same_nodes`;
* :func:`report_metrics`: the link and node metrics of calibrated
  probabilities on the links of the report half, and two figures
  (:func:`plot_reliability`, :func:`plot_lift`).

The protocol that puts these together (fit the calibrator on the links of
half of the source nodes, report on the other half) is
:func:`topo_graphdb.model.holdout.calibrate`.

References: Niculescu-Mizil & Caruana (2005), "Predicting good probabilities
with supervised learning"; Guo et al. (2017) for the ECE; Wang et al. (ICLR
2024) for Topological Concentration and the per-node protocol.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..kernels import clustering_coefficient
from ..snapshot import adjacency_matrix  # noqa: F401  (the doctests use it)
from .metrics import average_precision, roc_auc
from .report import json_ready

__all__ = [
    "link_features",
    "holdout_labels",
    "LinkCalibrator",
    "expected_precision",
    "measured_precision",
    "brier_score",
    "expected_calibration_error",
    "quintile_means",
    "lift",
    "spearman_same_nodes",
    "within_source_auc",
    "plot_reliability",
    "plot_lift",
    "report_metrics",
    "FIT_HALF",
    "REPORT_HALF",
]

#: value of ``links["half"]`` / ``node_half`` for the calibrator's fitting nodes
FIT_HALF = 0
#: value of ``links["half"]`` / ``node_half`` for the nodes the report is computed on
REPORT_HALF = 1

_LINK_KEYS = ("src", "dst", "score", "rank")
_CHUNK = 131_072  # links per sparse row-product block in link_features


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


def _pair_counts(adj: sp.csr_matrix, src: np.ndarray, dst: np.ndarray, inv_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Common-neighbour count and resource allocation of each pair, in blocks of rows."""
    cn = np.empty(src.size)
    ra = np.empty(src.size)
    for start in range(0, src.size, _CHUNK):
        stop = min(src.size, start + _CHUNK)
        both = adj[src[start:stop]].multiply(adj[dst[start:stop]]).tocsr()  # 1 at common neighbours
        cn[start:stop] = np.asarray(both.sum(axis=1)).reshape(-1)
        ra[start:stop] = np.asarray(both @ inv_deg).reshape(-1)
    return cn, ra


def link_features(links: dict[str, np.ndarray], train_adj, *, pair_tc=None) -> tuple[np.ndarray, list[str]]:
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
    ``log_pair_tc_k{h}``      ``log(1 + pair_tc[h-1])`` (only with ``pair_tc``)
    ========================  ==================================================

    Only per-source differences and quantiles of the score enter, never its
    raw value, so the features mean the same for a model trained on 80% of
    the edges and one retrained on all of them (score scales differ).

    Parameters
    ----------
    links : dict with ``src``, ``dst``, ``score``, ``rank`` arrays of shape (m,)
        As returned by :func:`topo_graphdb.model.predict.predict_links`.
    train_adj : scipy sparse (n, n)
        Symmetric adjacency of the graph the predictor used (nonzero = edge).
    pair_tc : array (hops, m), optional
        Pair-level TC of each link per hop count; NaN entries become 0.

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
        cn, ra = _pair_counts(adj, src, dst, inv_deg)
    else:
        cn = ra = np.zeros(0)
        for key in ("score_gap", "score_z", "score_gap_z", "score_quantile", "best_quantile"):
            cols[key] = np.zeros(0)
    cols["rank"] = rank
    cols["log_deg_src"] = np.log1p(deg[src])
    cols["log_deg_dst"] = np.log1p(deg[dst])
    cols["cn"] = cn
    low = np.minimum(deg[src], deg[dst])
    cols["cn_share"] = np.divide(cn, low, out=np.zeros(m), where=low > 0)
    cols["ra"] = ra
    upper = sp.triu(adj, k=1).tocoo()
    clustering = clustering_coefficient(np.stack([upper.row, upper.col]).astype(np.int64), num_nodes=n)
    walks2 = np.asarray(adj @ deg).reshape(-1)
    cols["clustering_src"] = clustering[src]
    cols["clustering_dst"] = clustering[dst]
    cols["log_walks2_src"] = np.log1p(walks2[src])
    cols["log_nbr_deg_src"] = np.log1p(walks2 * inv_deg)[src]
    if pair_tc is not None:
        tc = np.asarray(pair_tc, dtype=np.float64)
        tc = tc.reshape(1, -1) if tc.ndim == 1 else tc
        if tc.ndim != 2 or tc.shape[1] != m:
            raise InputError(f"pair_tc must have shape (hops, {m}); got {np.shape(pair_tc)}")
        for h in range(tc.shape[0]):
            cols[f"log_pair_tc_k{h + 1}"] = np.log1p(np.nan_to_num(np.maximum(tc[h], 0.0), nan=0.0))
    names = list(cols)
    X = np.column_stack([cols[k] for k in names]) if m else np.zeros((0, len(names)))
    return np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0), names


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


# ---------------------------------------------------------------- calibrator
_CANDIDATES = ("logistic", "logistic+isotonic", "hgb", "hgb+isotonic", "hgb+sigmoid")
#: a recalibrated candidate needs this many positives (isotonic regression overfits below)
_MIN_POS_CALIBRATED = 60
#: gradient boosting needs this many positives (its early stopping draws a stratified split of them)
_MIN_POS_BOOSTED = 20
_MIN_ROWS = 20


def _too_few_positives(name: str, positives: int) -> str | None:
    """Why candidate ``name`` cannot be fitted on ``positives`` positive rows, or None."""
    if "+" in name and positives < _MIN_POS_CALIBRATED:
        return f"{positives} positives < {_MIN_POS_CALIBRATED} (recalibration)"
    if name.startswith("hgb") and positives < _MIN_POS_BOOSTED:
        return f"{positives} positives < {_MIN_POS_BOOSTED} (gradient boosting)"
    return None


def _estimator(name: str, seed: int, groups: np.ndarray, X: np.ndarray, y: np.ndarray):
    from sklearn.calibration import CalibratedClassifierCV  # noqa: PLC0415
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.model_selection import GroupKFold  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415

    base_name, _, method = name.partition("+")
    if base_name == "logistic":
        base = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    else:
        base = HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
            early_stopping=True, validation_fraction=0.15, n_iter_no_change=20, random_state=seed,
        )  # fmt: skip
    if not method:
        return base
    n_groups = np.unique(groups).size
    folds = list(GroupKFold(n_splits=min(3, n_groups)).split(X, y, groups))  # calibration folds never split a source
    return CalibratedClassifierCV(base, method=method, cv=folds)


#: candidates from the simplest to the most flexible (the one-standard-error rule prefers the first)
_SIMPLICITY = ("logistic", "logistic+sigmoid", "logistic+isotonic", "hgb", "hgb+sigmoid", "hgb+isotonic")


def _row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(_row_log_loss(y, p)))


def _clustered_se(diff: np.ndarray, groups: np.ndarray) -> float:
    """Standard error of ``mean(diff)`` with rows of one group correlated (cluster-robust)."""
    _, inv = np.unique(groups, return_inverse=True)
    g = int(inv.max()) + 1 if inv.size else 0
    if g < 2:
        return float("inf")
    per_group = np.bincount(inv, diff - diff.mean(), minlength=g)
    return float(np.sqrt(g / (g - 1) * np.sum(per_group**2)) / diff.size)


def _one_se_choice(losses: dict[str, np.ndarray], groups: np.ndarray) -> str:
    """The simplest candidate whose mean loss is within one standard error of the lowest.

    The standard error is that of the paired per-row difference to the best
    candidate, clustered by source node (Hastie, Tibshirani & Friedman, *The
    Elements of Statistical Learning*, 7.10: the one-standard-error rule).
    """
    best = min(losses, key=lambda k: float(losses[k].mean()))
    close = [k for k, v in losses.items() if (v - losses[best]).mean() <= _clustered_se(v - losses[best], groups)]
    return min(close, key=_SIMPLICITY.index)


class LinkCalibrator:
    """Probability that a predicted link is real, from :func:`link_features`.

    :meth:`fit` compares the candidates

    * ``logistic``: logistic regression on standardised features,
    * ``hgb``: histogram gradient boosting (scikit-learn),
    * each wrapped as ``+isotonic`` or ``+sigmoid``: the base model refitted
      on source-grouped folds and recalibrated (``CalibratedClassifierCV``)

    on a validation part of the rows (``validation_fraction`` of the source
    nodes, :class:`~sklearn.model_selection.GroupShuffleSplit`): each is fitted
    on the other rows, scored by log-loss ``-mean(y log p + (1-y) log(1-p))``
    (Brier score and ECE recorded too). The simplest candidate (logistic
    before gradient boosting, no recalibration before sigmoid before
    isotonic) whose log-loss is within one standard error of the lowest wins
    (the one-standard-error rule; the error of the paired per-link
    difference, clustered by source node): with few held-out links the
    flexible candidates win by noise. The winner is then refitted on every
    row. Every choice is made on that validation part, never on data the
    caller reports on.

    Undefined cases: without a positive or without a negative label, or with
    fewer than 20 rows, the model is the constant base rate
    ``p = mean(y)`` (``summary()["model"] == "constant"`` with the reason).
    With too few source nodes for a validation part, ``logistic`` is fitted
    without selection. Recalibrated candidates are skipped with fewer than
    60 positives, gradient boosting with fewer than 20; when that leaves no
    candidate, ``logistic`` is fitted without selection.

    Parameters
    ----------
    seed : int
    candidates : names among ``logistic``, ``logistic+isotonic``, ``hgb``,
        ``hgb+isotonic``, ``hgb+sigmoid``, ``logistic+sigmoid``
    validation_fraction : float in (0, 1)

    Attributes
    ----------
    model_ : fitted scikit-learn estimator, or None for the constant model
    chosen_ : str
    base_rate_ : float
    scores_ : dict of each candidate's validation scores (or why it was skipped)
    """

    def __init__(self, seed: int = 0, *, candidates: tuple[str, ...] = _CANDIDATES, validation_fraction: float = 0.25):
        self.seed = int(seed)
        self.candidates = tuple(candidates)
        self.validation_fraction = float(validation_fraction)

    def _check_settings(self) -> None:
        allowed = set(_CANDIDATES) | {"logistic+sigmoid"}
        bad = [c for c in self.candidates if c not in allowed]
        if bad or not self.candidates:
            raise InputError(f"candidates must be a non-empty subset of {', '.join(sorted(allowed))}; got {self.candidates!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise InputError(f"validation_fraction must be in (0, 1); got {self.validation_fraction!r}")

    def fit(self, X, y, groups) -> LinkCalibrator:
        """Choose and fit the model on rows ``X`` (m, f), labels ``y`` (m,), source node ``groups`` (m,)."""
        self._check_settings()
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(bool).reshape(-1)
        groups = np.asarray(groups).reshape(-1)
        if X.ndim != 2 or X.shape[0] != y.size or groups.size != y.size:
            raise InputError(f"X (m, f), y (m,) and groups (m,) must agree; got {X.shape}, {y.shape}, {groups.shape}")
        if not np.isfinite(X).all():
            raise InputError("X must be finite")
        t0 = time.perf_counter()
        self.n_rows_, self.n_features_ = int(X.shape[0]), int(X.shape[1])
        self.positives_ = int(y.sum())
        self.base_rate_ = float(y.mean()) if y.size else 0.0
        self.scores_: dict[str, dict[str, Any]] = {}
        self.model_ = None
        self.reason_ = None
        if y.size < _MIN_ROWS or self.positives_ == 0 or self.positives_ == y.size:
            self.chosen_ = "constant"
            self.reason_ = f"{y.size} rows, {self.positives_} positive: a constant base-rate model (p = {self.base_rate_:.6g})"
        else:
            self.chosen_ = self._select(X, y, groups)
            self.model_ = _estimator(self.chosen_, self.seed, groups, X, y).fit(X, y)
        self.seconds_ = time.perf_counter() - t0
        return self

    def _select(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> str:
        from sklearn.model_selection import GroupShuffleSplit  # noqa: PLC0415

        if np.unique(groups).size < 4:
            self.reason_ = "fewer than 4 source nodes: logistic regression without a validation part"
            return "logistic"
        split = None
        for attempt in range(10):  # a validation part with both labels on each side
            gss = GroupShuffleSplit(n_splits=1, test_size=self.validation_fraction, random_state=self.seed + attempt)
            tr, va = next(gss.split(X, y, groups))
            if 0 < y[tr].sum() < tr.size and 0 < y[va].sum() < va.size:
                split = (tr, va)
                break
        if split is None:
            self.reason_ = "no validation part with both labels: logistic regression without selection"
            return "logistic"
        tr, va = split
        self.validation_rows_ = int(va.size)
        losses: dict[str, np.ndarray] = {}
        for name in self.candidates:
            why = _too_few_positives(name, int(y[tr].sum()))
            if why:
                self.scores_[name] = {"skipped": why}
                continue
            t = time.perf_counter()
            est = _estimator(name, self.seed, groups[tr], X[tr], y[tr]).fit(X[tr], y[tr])
            p = est.predict_proba(X[va])[:, 1]
            losses[name] = _row_log_loss(y[va], p)
            self.scores_[name] = {
                "log_loss": float(losses[name].mean()),
                "brier": brier_score(p, y[va]),
                "ece": expected_calibration_error(p, y[va]),
                "seconds": time.perf_counter() - t,
            }
        if not losses:
            self.reason_ = "too few positives for every candidate: logistic regression without selection"
            return "logistic"
        return _one_se_choice(losses, groups[va])

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each row being a real link, shape (m,), in [0, 1]."""
        if not hasattr(self, "chosen_"):
            raise InputError("the calibrator is not fitted; call fit(X, y, groups) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_:
            raise InputError(f"X must have shape (m, {self.n_features_}); got {X.shape}")
        if self.model_ is None:
            return np.full(X.shape[0], self.base_rate_)
        return np.clip(self.model_.predict_proba(X)[:, 1], 0.0, 1.0)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: ``model``, ``reason``, ``candidates`` (validation scores), ``rows``, ``positives``, ``positive_rate``."""
        if not hasattr(self, "chosen_"):
            raise InputError("the calibrator is not fitted; call fit(X, y, groups) first")
        return json_ready(
            {
                "model": self.chosen_,
                "reason": self.reason_,
                "selection": "simplest candidate within one standard error of the lowest validation log-loss (source-grouped validation rows)",
                "candidates": self.scores_,
                "validation_rows": getattr(self, "validation_rows_", 0),
                "rows": self.n_rows_,
                "features": self.n_features_,
                "positives": self.positives_,
                "positive_rate": self.base_rate_,
                "seed": self.seed,
                "seconds": self.seconds_,
            }
        )


# ------------------------------------------------------------------- metrics
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
    s = np.asarray(src, dtype=np.int64).reshape(-1)
    p, t = _pair(prob, y)
    if s.size != p.size:
        raise InputError(f"src, prob and y must have one length; got {s.size} and {p.size}")
    order = np.lexsort((p, s))
    s, p, t = s[order], p[order], t[order]
    new_tie = np.r_[True, (s[1:] != s[:-1]) | (p[1:] != p[:-1])]
    new_src = np.r_[True, s[1:] != s[:-1]] if s.size else np.zeros(0, bool)
    pos = np.arange(s.size, dtype=np.float64)
    tie_id = np.cumsum(new_tie) - 1
    tie_start = pos[new_tie]
    tie_end = np.r_[tie_start[1:], s.size] - 1
    src_id = np.cumsum(new_src) - 1
    src_start = pos[new_src]
    mid = (tie_start[tie_id] + tie_end[tie_id]) / 2.0 - src_start[src_id] + 1.0  # 1-based mid-rank within the source
    P = np.bincount(src_id, t) if s.size else np.zeros(0)
    cnt = np.bincount(src_id).astype(np.float64) if s.size else np.zeros(0)
    R = np.bincount(src_id, mid * t) if s.size else np.zeros(0)
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
def report_metrics(links: dict[str, np.ndarray], report: np.ndarray, per_node: dict[str, np.ndarray], node_sel: np.ndarray) -> dict[str, Any]:
    """Link and node metrics of the calibrated probabilities on the ``report`` links (JSON-ready).

    ``links``: ``src``, ``score``, ``prob``, ``label`` arrays (m,); ``report``:
    bool mask (m,); ``per_node``: ``measured_precision`` (the target),
    ``expected_precision`` and any other per-node scores (n,), all correlated
    with the target on the same nodes, those of ``node_sel`` where every one is
    finite. Link metrics: ROC-AUC and AP of ``prob`` (and AUC of the raw
    score), Brier score (and that of the constant base rate), ECE with 10
    bins, AUC within each source's links; node metrics: Spearman, quintile
    means and lift of each per-node score.
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
        "mean_expected_precision": float(np.mean(cands["expected_precision"][ok])) if ok.any() else float("nan"),
        "mean_measured_precision": float(np.mean(target[ok])) if ok.any() else float("nan"),
    }
    return json_ready(out)


# --------------------------------------------------------------------- plots
def plot_reliability(prob, y, path: str | Path, *, bins: int = 10, title: str | None = None) -> Path:
    """Reliability diagram (mean label per equal-width probability bin against the diagonal) over a histogram; PNG."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    p, t = _pair(prob, y)
    b = np.clip(np.floor(p * bins).astype(np.int64), 0, bins - 1)
    count = np.bincount(b, minlength=bins)
    mean_p = np.divide(np.bincount(b, p, minlength=bins), count, out=np.full(bins, np.nan), where=count > 0)
    mean_y = np.divide(np.bincount(b, t, minlength=bins), count, out=np.full(bins, np.nan), where=count > 0)
    fig, (ax, hx) = plt.subplots(2, 1, figsize=(4.8, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
    ax.plot(mean_p, mean_y, "o-", color="tab:blue", label=f"ECE {expected_calibration_error(p, t, bins=bins):.3f}")
    ax.set_ylabel("share of real links")
    ax.set_title(title or "Reliability of link probabilities")
    ax.legend(fontsize=8)
    hx.bar((np.arange(bins) + 0.5) / bins, count, width=0.9 / bins, color="tab:grey")
    hx.set_yscale("log")
    hx.set_xlabel("predicted probability")
    hx.set_ylabel("links")
    return _save_figure(fig, path)


def plot_lift(quintiles: dict[str, Any], path: str | Path, *, ylabel: str = "mean Precision@k", title: str | None = None) -> Path:
    """Mean target per quintile (1 = lowest) of each node score; ``quintiles`` maps name to
    :func:`quintile_means` output or a list of 5 means. PNG."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for name, q in quintiles.items():
        means = np.asarray([np.nan if v is None else v for v in (q["mean"] if isinstance(q, dict) else q)], dtype=float)
        ax.plot(np.arange(1, means.size + 1), means, "o-", label=name)
    ax.set_xticks(range(1, 6))
    ax.set_xlabel("quintile of the node score (1 = lowest)")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Per-node precision by quintile")
    ax.legend(fontsize=7)
    return _save_figure(fig, path)


def _save_figure(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (folders created) and close it."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
