"""A per-node quality indicator computable from the current graph.

TC^Test needs future links, so a database can only compute the train variant
of TC (and, on temporal graphs, TC of its most recent edges), ATC, degree and
clustering. :func:`fit_indicator` combines such properties into one score that
predicts a node's link-prediction quality:

1. each property ``f`` becomes columns ``z_f = (f - median) / scale`` with
   missing values (undefined TC) set to 0, plus a 0/1 column marking them;
2. a ridge regression ``y ≈ b + Z w`` (``w = (Z'Z + λ I)^-1 Z'y`` on centred
   data) is fitted on the fitting nodes' performance ``y`` (e.g. their
   validation Precision@10);
3. the linear score is calibrated with isotonic regression (pool adjacent
   violators) so the indicator reads on the scale of ``y`` and is monotone.

:func:`indicator_report` fits it on validation-edge performance and checks it
on test-edge performance (Spearman), next to the same model restricted to
degree alone and each single property.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..kernels import clustering_coefficient, default_beta, degree, topological_concentration
from .metrics import correlation

__all__ = ["Indicator", "fit_indicator", "isotonic_fit", "indicator_report", "computable_properties", "COMPUTABLE"]

#: property-name prefixes a database can compute without future links
COMPUTABLE = ("tc_train_", "tc_recent_", "atc_train_", "log_degree", "clustering")


def computable_properties(
    edge_index: np.ndarray,
    num_nodes: int,
    *,
    hops: Iterable[int] = (1, 2, 3),
    edge_time: np.ndarray | None = None,
    recent_fraction: float = 0.2,
    atc: bool = True,
    backend: str = "auto",
    memory_budget: int | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Per-node properties a database can compute from its current graph alone.

    ``degree``, ``log_degree`` (``log(1 + deg)``), ``clustering``,
    ``tc_train_k{K}`` (exact TC, train variant, ``beta = 1 / mean degree``),
    ``atc_train_k{K}`` (K >= 2, when ``topo_graphdb.kernels.atc`` provides
    ``approximate_tc``) and, with ``edge_time``, ``tc_recent_k{K}``: TC of the
    newest ``recent_fraction`` of the edges against the older ones. Arrays of
    shape (n,), NaN where undefined. These are the inputs of an
    :class:`Indicator`.
    """
    timings = {} if timings is None else timings
    n = int(num_nodes)
    train = np.asarray(edge_index, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    t = time.perf_counter()
    deg = degree(train, num_nodes=n).astype(np.float64)
    out["degree"] = deg
    out["log_degree"] = np.log1p(deg)
    out["clustering"] = clustering_coefficient(train, num_nodes=n)
    beta = default_beta(train, n)
    timings["degree_clustering"] = time.perf_counter() - t
    for k in hops:
        t = time.perf_counter()
        res = topological_concentration(train, None, hops=int(k), beta=beta, num_nodes=n, backend=backend, memory_budget=memory_budget)
        out[f"tc_train_k{k}"] = np.asarray(res.tc, dtype=np.float64)
        timings[f"tc_train_k{k}"] = time.perf_counter() - t
    if atc:
        try:
            from ..kernels.atc import approximate_tc  # noqa: PLC0415  (optional: skipped where ATC cannot be imported)
        except ImportError:
            logging.getLogger(__name__).info("ATC is not available in this installation; skipped")
        else:
            for k in hops:
                if int(k) < 2:
                    continue
                t = time.perf_counter()
                res = approximate_tc(train, None, hops=int(k), beta=beta, num_nodes=n, seed=0, backend=backend)
                out[f"atc_train_k{k}"] = np.asarray(res.tc, dtype=np.float64)
                timings[f"atc_train_k{k}"] = time.perf_counter() - t
    if edge_time is not None and 0 < recent_fraction < 1:
        et = np.asarray(edge_time, dtype=np.float64)
        cut = np.quantile(et, 1.0 - recent_fraction)
        old, new = train[:, et < cut], train[:, et >= cut]
        if old.shape[1] and new.shape[1]:
            for k in hops:
                t = time.perf_counter()
                res = topological_concentration(old, new, hops=int(k), num_nodes=n, backend=backend, memory_budget=memory_budget)
                out[f"tc_recent_k{k}"] = np.asarray(res.tc, dtype=np.float64)
                timings[f"tc_recent_k{k}"] = time.perf_counter() - t
    return out


def isotonic_fit(x, y, w=None) -> tuple[np.ndarray, np.ndarray]:
    """Non-decreasing least-squares fit of ``y`` on ``x`` (pool adjacent violators).

    Returns the knots ``(xs, ys)``: sorted distinct ``x`` and the fitted value
    at each; :func:`numpy.interp` between them predicts.

    >>> xs, ys = isotonic_fit([1, 2, 3, 4, 5], [1.0, 3.0, 2.0, 4.0, 4.0])
    >>> xs.tolist(), ys.tolist()
    ([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.5, 2.5, 4.0, 4.0])
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(y) if w is None else np.asarray(w, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    x, y, w = x[order], y[order], w[order]
    xs, start = np.unique(x, return_index=True)
    wsum = np.add.reduceat(w, start)
    ymean = np.add.reduceat(w * y, start) / wsum
    # PAV over blocks
    vals: list[float] = []
    wts: list[float] = []
    sizes: list[int] = []
    for v, wt in zip(ymean, wsum):
        vals.append(float(v))
        wts.append(float(wt))
        sizes.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            v2, w2, s2 = vals.pop(), wts.pop(), sizes.pop()
            tot = wts[-1] + w2
            vals[-1] = (vals[-1] * wts[-1] + v2 * w2) / tot
            wts[-1] = tot
            sizes[-1] += s2
    ys = np.repeat(vals, sizes)
    # keep only the ends of each constant block (interpolation is unchanged)
    keep = np.ones(xs.size, bool)
    if xs.size > 2:
        keep[1:-1] = (ys[1:-1] != ys[:-2]) | (ys[1:-1] != ys[2:])
    return xs[keep], ys[keep]


@dataclass(frozen=True)
class Indicator:
    """A fitted indicator (see module doc). ``predict(features)`` gives one value per node."""

    features: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    knots_x: np.ndarray
    knots_y: np.ndarray
    target: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def _design(self, features: dict[str, np.ndarray]) -> np.ndarray:
        missing = [f for f in self.features if f not in features]
        if missing:
            raise InputError(f"features missing for the indicator: {', '.join(missing)}")
        cols = []
        for f, c, s in zip(self.features, self.center, self.scale):
            v = np.asarray(features[f], dtype=np.float64)
            bad = ~np.isfinite(v)
            cols.append(np.where(bad, 0.0, (v - c) / s))
            cols.append(bad.astype(np.float64))
        return np.stack(cols, axis=1)

    def linear(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """The uncalibrated linear score."""
        return self.intercept + self._design(features) @ self.coef

    def predict(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """Calibrated indicator value per node (on the target's scale)."""
        z = self.linear(features)
        if self.knots_x.size == 0:
            return z
        return np.interp(z, self.knots_x, self.knots_y)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": float(self.intercept),
            "knots_x": self.knots_x.tolist(),
            "knots_y": self.knots_y.tolist(),
            "target": self.target,
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Indicator:
        return cls(
            tuple(d["features"]),
            np.asarray(d["center"], float),
            np.asarray(d["scale"], float),
            np.asarray(d["coef"], float),
            float(d["intercept"]),
            np.asarray(d["knots_x"], float),
            np.asarray(d["knots_y"], float),
            d.get("target", ""),
            d.get("info", {}),
        )


def fit_indicator(
    features: dict[str, np.ndarray],
    target,
    *,
    nodes=None,
    names: Iterable[str] | None = None,
    ridge: float = 1.0,
    calibrate: bool = True,
    target_name: str = "",
) -> Indicator:
    """Fit an :class:`Indicator` of ``target`` from per-node ``features``.

    Parameters
    ----------
    features : dict name -> array (n,)
        Per-node properties (NaN where undefined).
    target : array (n,)
        Per-node performance to predict (NaN where unknown).
    nodes : int or bool array, optional
        Nodes to fit on (default: every node with a finite target).
    names : feature names to use (default: all keys of ``features``)
    ridge : float
        ``λ >= 0`` of the ridge penalty (on standardised columns).
    calibrate : bool
        Isotonic calibration of the linear score.

    >>> f = {"a": np.array([0.0, 1, 2, 3, np.nan])}
    >>> ind = fit_indicator(f, np.array([0.0, 0.1, 0.2, 0.3, 0.0]), ridge=0.0)
    >>> ind.predict(f).round(3).tolist()
    [0.0, 0.1, 0.2, 0.3, 0.0]
    """
    names = tuple(features) if names is None else tuple(names)
    if not names:
        raise InputError("fit_indicator needs at least one feature")
    if float(ridge) < 0:
        raise InputError(f"ridge must be >= 0; got {ridge!r}")
    y = np.asarray(target, dtype=np.float64)
    n = y.size
    if nodes is None:
        mask = np.isfinite(y)
    else:
        nodes = np.asarray(nodes)
        mask = np.zeros(n, bool)
        if nodes.dtype == bool:
            mask[:] = nodes
        else:
            mask[nodes] = True
        mask &= np.isfinite(y)
    if mask.sum() < 3:
        raise InputError(f"fit_indicator needs at least 3 nodes with a finite target; got {int(mask.sum())}")
    center, scale = [], []
    for f in names:
        v = np.asarray(features[f], dtype=np.float64)[mask]
        v = v[np.isfinite(v)]
        c = float(np.median(v)) if v.size else 0.0
        s = float(np.std(v)) if v.size else 1.0
        center.append(c)
        scale.append(s if s > 0 else 1.0)
    proto = Indicator(names, np.array(center), np.array(scale), np.zeros(2 * len(names)), 0.0, np.zeros(0), np.zeros(0))
    z = proto._design(features)[mask]
    yy = y[mask]
    zm, ym = z.mean(axis=0), yy.mean()
    zc = z - zm
    gram = zc.T @ zc + float(ridge) * np.eye(z.shape[1])
    coef = np.linalg.lstsq(gram, zc.T @ (yy - ym), rcond=None)[0]
    intercept = float(ym - zm @ coef)
    lin = intercept + z @ coef
    kx, ky = isotonic_fit(lin, yy) if calibrate else (np.zeros(0), np.zeros(0))
    info = {"fit_nodes": int(mask.sum()), "ridge": float(ridge), "fit_spearman": correlation(lin, yy)["spearman"]}
    return Indicator(names, proto.center, proto.scale, coef, intercept, kx, ky, target_name, info)


def indicator_report(
    properties: dict[str, np.ndarray],
    valid_perf: np.ndarray,
    test_perf: np.ndarray,
    *,
    target_name: str = "precision@10",
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Fit on validation performance, judge on test performance.

    Every choice is made on the validation nodes (those with a validation
    neighbour): the indicator's fit and ``best_single_feature``, the property
    whose own Spearman with validation performance is highest. The test nodes
    (those with a test neighbour) only report: the Spearman with per-node test
    performance of the indicator, of the same model on ``log_degree`` alone,
    of each single property, and the raw Spearman of each property, all over
    the *same* test nodes (those where every property is defined).
    ``better_than_degree`` compares the first two; ``tc_beats_degree`` the
    chosen single property with degree.
    """
    from .trust import spearman_same_nodes  # noqa: PLC0415

    names = [p for p in properties if p.startswith(COMPUTABLE)]
    defined = np.ones(np.asarray(test_perf).shape, bool)
    for f in names + ["degree"]:
        if f in properties:
            defined &= np.isfinite(properties[f])
    test_nodes = np.isfinite(test_perf) & defined
    valid_nodes = np.isfinite(valid_perf) & defined
    out: dict[str, Any] = {"target": target_name, "fit_on": "validation edges (per-node performance)", "judged_on": "test edges",
                           "test_nodes": int(test_nodes.sum())}
    if valid_nodes.sum() < 10 or test_nodes.sum() < 10 or not names:
        out["skipped"] = "too few nodes with validation and test neighbours"
        return out, None

    def judge(ind: Indicator) -> float:
        return correlation(ind.predict(properties)[test_nodes], test_perf[test_nodes])["spearman"]

    full = fit_indicator(properties, valid_perf, names=names, target_name=target_name)
    deg_only = fit_indicator(properties, valid_perf, names=["log_degree"], target_name=target_name)
    out["features"] = names
    out["test_spearman"] = judge(full)
    out["degree_only_test_spearman"] = judge(deg_only)
    out["single_feature_test_spearman"] = {f: judge(fit_indicator(properties, valid_perf, names=[f])) for f in names}
    raw = spearman_same_nodes({f: properties[f] for f in names + ["degree"] if f in properties}, np.where(test_nodes, test_perf, np.nan))
    out["raw_spearman_on_test_nodes"] = raw["spearman"]
    a, b = out["test_spearman"], out["degree_only_test_spearman"]
    out["better_than_degree"] = bool(np.isfinite(a) and np.isfinite(b) and a > b)
    on_valid = spearman_same_nodes({f: properties[f] for f in names if f != "log_degree"}, np.where(valid_nodes, valid_perf, np.nan))
    chosen = {f: v for f, v in on_valid["spearman"].items() if v is not None and np.isfinite(v)}
    if chosen:
        best = max(chosen, key=chosen.get)
        out["best_single_feature"] = {"name": best, "chosen_on": "validation", "valid_spearman": chosen[best],
                                      "test_spearman": out["single_feature_test_spearman"][best]}
        out["tc_beats_degree"] = bool(np.isfinite(b) and out["single_feature_test_spearman"][best] > b)
    out["model"] = full.to_dict()
    return out, full.predict(properties)
