"""The link calibrator: probability that a predicted link is real, from its features.

:class:`LinkCalibrator` picks the best of a few probabilistic classifiers
(logistic regression, gradient boosting, each optionally recalibrated with
isotonic or sigmoid regression, all scikit-learn) by log-loss on a
validation part grouped by source node, and refits it on all rows.

Reference: Niculescu-Mizil & Caruana (2005), "Predicting good probabilities
with supervised learning".
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ...errors import InputError
from ...scheduler import local_worker_threads
from ..report import json_ready
from .metrics import brier_score, expected_calibration_error

__all__ = ["LinkCalibrator", "CrossFitCalibrator"]

# ---------------------------------------------------------------- calibrator
#: the default candidates; ``hgb+isotonic`` and ``logistic+sigmoid`` may be asked for. ``hgb+isotonic``
#: was never chosen in the trust benchmarks (Cora, Citeseer, ca-grqc, Facebook, CollegeMsg,
#: email-eu-core-temporal, fb-forum, soc-slashdot0902) and cost a third of the calibrator's time
_CANDIDATES = ("logistic", "logistic+isotonic", "hgb", "hgb+sigmoid")
_OPTIONAL = ("hgb+isotonic", "logistic+sigmoid")
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
    """Log-loss of each row (scikit-learn's ``log_loss`` gives only the mean; the one-standard-error rule needs the rows)."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


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
    * ``logistic+isotonic`` and ``hgb+sigmoid`` (by default; also
      ``logistic+sigmoid`` and ``hgb+isotonic`` when asked for): the base
      model refitted on source-grouped folds and recalibrated
      (``CalibratedClassifierCV``)

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
        ``hgb+sigmoid`` (the default: all four), ``hgb+isotonic``, ``logistic+sigmoid``
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
        allowed = {*_CANDIDATES, *_OPTIONAL}
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


class CrossFitCalibrator:
    """Two :class:`LinkCalibrator` s on the two halves of the source nodes: each half is checked by the other.

    :meth:`fit_out_of_fold` fits one calibrator on the links of each half
    (``half`` 0 or 1 per row; each makes its own choices on a validation part
    of its half) and returns, for every row, the probability given by the
    calibrator fitted on the *other* half: a row's probability never comes
    from a model that saw its source node's links, so every labelled link
    can report. New links get the mean of the two,
    ``p(x) = (p_0(x) + p_1(x)) / 2``: a model of all the labelled links at
    the cost of two half-size fits.

    ``chosen_`` names both choices (``"logistic / hgb+sigmoid"``, one name
    when they agree); ``halves_`` holds the two fitted calibrators.
    """

    def __init__(self, seed: int = 0, **settings: Any):
        self.seed = int(seed)
        self.settings = settings

    def fit_out_of_fold(self, X, y, groups, half) -> np.ndarray:
        """Fit on each half, return the other half's probability of each row, shape (m,)."""
        X = np.asarray(X, dtype=np.float64)
        half = np.asarray(half).reshape(-1)
        y = np.asarray(y).reshape(-1)
        groups = np.asarray(groups).reshape(-1)
        if X.ndim != 2 or not X.shape[0] == y.size == groups.size:
            raise InputError(f"X (m, f), y (m,) and groups (m,) must agree; got {X.shape}, {y.shape}, {groups.shape}")
        if half.size != X.shape[0] or not np.isin(half, (0, 1)).all():
            raise InputError(f"half must hold 0 or 1 for each of the {X.shape[0]} rows")
        t0 = time.perf_counter()

        def fit(h: int) -> LinkCalibrator:
            return LinkCalibrator(self.seed + h, **self.settings).fit(X[half == h], y[half == h], groups[half == h])

        # the halves fit side by side, each with half of the native thread pools (OpenMP of gradient
        # boosting, BLAS): one pool over every core per fit thrashes when another process holds a core
        with threadpool_limits(limits=local_worker_threads(2)), ThreadPoolExecutor(max_workers=2) as pool:
            self.halves_ = list(pool.map(fit, (0, 1)))
        prob = np.empty(X.shape[0])
        for h, calibrator in enumerate(self.halves_):
            other = half != h
            if other.any():
                prob[other] = calibrator.predict_proba(X[other])
        self.n_features_ = int(X.shape[1])
        self.seconds_ = time.perf_counter() - t0
        return prob

    @property
    def chosen_(self) -> str:
        names = [c.chosen_ for c in self._fitted()]
        return names[0] if names[0] == names[1] else " / ".join(names)

    def _fitted(self) -> list[LinkCalibrator]:
        if not hasattr(self, "halves_"):
            raise InputError("the calibrator is not fitted; call fit_out_of_fold(X, y, groups, half) first")
        return self.halves_

    def predict_proba(self, X) -> np.ndarray:
        """Mean probability of the two halves' calibrators, shape (m,), in [0, 1]."""
        a, b = self._fitted()
        return (a.predict_proba(X) + b.predict_proba(X)) / 2.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready: ``model`` (both choices), ``halves`` (each :meth:`LinkCalibrator.summary`), totals of rows and positives."""
        halves = [c.summary() for c in self._fitted()]
        rows = sum(h["rows"] for h in halves)
        positives = sum(h["positives"] for h in halves)
        return json_ready({
            "model": self.chosen_,
            "cross_fit": "each half's links are scored by the calibrator of the other half; new links by the mean of both",
            "halves": halves, "rows": rows, "positives": positives, "positive_rate": positives / rows if rows else 0.0,
            "features": self.n_features_, "seed": self.seed, "seconds": self.seconds_,
        })  # fmt: skip
