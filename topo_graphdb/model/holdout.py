"""How far to believe the links a run writes: calibrate on held-out edges, apply to the final links.

The deployment setting of ``sync`` (and of ``evaluate`` given a split):

1. a share ``h`` of the edges is held out (by time when the edges have one,
   else at random); the predictor is trained on the rest (its early stopping
   uses a validation part of that rest) and sees those *known* edges;
2. :func:`calibrate`: the trained predictor proposes each sampled source's
   top-k non-neighbours; a link is positive when it is a held-out edge. The
   source nodes are split at random (seeded) into two halves and a
   :class:`~topo_graphdb.model.trust.LinkCalibrator` is fitted on the links
   of each half (its own choices on a validation part of that half)
   (:class:`~topo_graphdb.model.trust.CrossFitCalibrator`). Every link is
   scored by the calibrator of the *other* half, so everything reported
   (link AUC, AP, Brier, ECE, AUC within each node's top-k, per-node Spearman
   and lift beside degree and TC^Train on the same nodes) covers every
   sampled source, and no reported probability comes from a model that saw
   its source's links;
3. :func:`apply`: the final predictor (all edges) proposes the links that are
   written; the same features on the whole graph give each its
   ``probability``, the mean of the two halves' calibrators, and a node's
   expected precision is the sum of its top-k probabilities over k.

What the probability means: the chance that the pair is one of the graph's
missing links, measured as the chance that a link proposed with these
features was one of ``h`` of the edges hidden from the model. It assumes the
links still missing from the database look like the held-out ones (a random
or most-recent share); it is not the chance that the relationship will ever
be created.

:func:`trust_protocol` runs step 2 end to end from training and held-out
edges (benchmarks and tests; ``sync`` and ``evaluate`` call :func:`calibrate`
with their own predictor).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmptyGraphError, InputError
from ..snapshot import adjacency_matrix, simple_undirected
from .trust import (
    CrossFitCalibrator,
    expected_precision,
    holdout_labels,
    link_features,
    measured_precision,
    plot_lift,
    plot_reliability,
    report_metrics,
)

__all__ = [
    "HeldOutCalibration", "calibrate", "trust_protocol", "apply", "link_ranks", "node_tc", "sample_sources",
    "PAIR_TC_MAX_HOPS", "MAX_SOURCES",
]  # fmt: skip

#: pair TC enters the features and the written ``tc`` with K = min(score hops, this):
#: K = 3 costs minutes on a graph with 10^6 links (see benchmarks/pairs.py)
PAIR_TC_MAX_HOPS = 2

#: the check labels the links of at most this many source nodes (a seeded sample beyond)
MAX_SOURCES = 20_000


def sample_sources(num_nodes: int, seed: int = 0, limit: int = MAX_SOURCES) -> np.ndarray:
    """Every node up to ``limit`` nodes, else a seeded sample of ``limit`` of them (sorted).

    >>> sample_sources(5).tolist(), sample_sources(10, limit=3).size
    ([0, 1, 2, 3, 4], 3)
    """
    n = int(num_nodes)
    if n <= limit:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x73726373]))
    return np.sort(rng.choice(n, int(limit), replace=False)).astype(np.int64)


@dataclass
class HeldOutCalibration:
    """A fitted link calibrator and the report of its held-out check.

    ``metrics`` is JSON-ready (see :func:`topo_graphdb.model.trust.report_metrics`);
    ``figures`` maps ``reliability`` and ``lift`` to PNG bytes; ``nodes`` holds
    per-node arrays (n,) of the check: ``expected_precision``,
    ``measured_precision``, ``half`` (0 or 1: whose calibrator the node's
    links fitted) and ``sampled`` (1 where the node's links were labelled:
    the nodes that report);
    ``links`` the labelled links of the check, arrays (m,): ``src``, ``dst``,
    ``score``, ``rank``, ``label`` (a held-out edge), ``half`` (of the
    source) and ``prob`` (calibrated by the other half's calibrator).
    """

    calibrator: CrossFitCalibrator
    k: int
    pair_tc_hops: int
    beta: float
    metrics: dict[str, Any]
    figures: dict[str, bytes] = field(default_factory=dict)
    nodes: dict[str, np.ndarray] = field(default_factory=dict)
    links: dict[str, np.ndarray] = field(default_factory=dict)
    activity: bool = False


def link_ranks(src: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Rank of each link among its source's links, 1 = highest score (ties: input order).

    >>> link_ranks(np.array([3, 3, 1, 3]), np.array([0.1, 0.9, 0.5, 0.4])).tolist()
    [3, 1, 1, 2]
    """
    s = np.asarray(src, dtype=np.int64)
    order = np.lexsort((np.arange(s.size), -np.asarray(score, dtype=np.float64), s))
    first = np.searchsorted(s[order], s[order], side="left")
    rank = np.empty(s.size, np.int64)
    rank[order] = np.arange(s.size) - first + 1
    return rank


def _pair_tc(edges: np.ndarray, src: np.ndarray, dst: np.ndarray, n: int, hops: int, beta: float, backend: str) -> np.ndarray:
    from ..kernels import pair_topological_concentration  # noqa: PLC0415

    if src.size == 0:
        return np.zeros((hops, 0))
    res = pair_topological_concentration(edges, np.stack([src, dst]), hops=hops, beta=beta, num_nodes=n,
                                         backend="cpu" if backend == "gpu" else backend)
    return np.asarray(res.tc_by_hops, dtype=np.float64).reshape(hops, -1)


def node_tc(edges: np.ndarray, n: int, hops: int, beta: float, backend: str, known: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """TC^Train of every node for K = 1..hops on ``edges`` (``tc_train_k1``, ...; NaN where undefined).

    ``known``: arrays already computed on the same edges with the same beta
    (e.g. the run's node scores), used instead of computing them again.
    """
    from ..kernels import topological_concentration  # noqa: PLC0415

    known = known or {}
    return {
        f"tc_train_k{h}": np.asarray(known[f"tc_train_k{h}"], dtype=np.float64)
        if f"tc_train_k{h}" in known
        else np.asarray(topological_concentration(edges, hops=h, beta=beta, num_nodes=n, backend=backend).tc, dtype=np.float64)
        for h in range(1, hops + 1)
    }


def _features(links: dict[str, np.ndarray], edges: np.ndarray, n: int, hops: int, beta: float, backend: str, tc: dict[str, np.ndarray],
              activity: dict[str, np.ndarray] | None = None):
    """:func:`~topo_graphdb.model.trust.link_features` with pair TC, plus both ends' TC^Train (K = 1..hops; NaN -> -1)."""
    pair_tc = _pair_tc(edges, links["src"], links["dst"], n, hops, beta, backend)
    X, names = link_features(links, adjacency_matrix(edges, n, np.float64), pair_tc=pair_tc, activity=activity)
    cols = []
    for name, values in tc.items():
        v = np.nan_to_num(values, nan=-1.0)
        cols += [v[links["src"]], v[links["dst"]]]
        names = [*names, f"{name}_src", f"{name}_dst"]
    if cols:
        X = np.column_stack([X, *cols])
    return X, names, pair_tc


def _png(draw: Callable[[Path], Any]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="topo-figure-") as tmp:
        path = Path(tmp) / "figure.png"
        draw(path)
        return path.read_bytes()


def calibrate(
    predict: Callable[[np.ndarray], dict[str, np.ndarray]],
    known_edges: np.ndarray,
    heldout_edges: np.ndarray,
    num_nodes: int,
    *,
    sources: np.ndarray,
    k: int,
    hops: int,
    beta: float,
    seed: int = 0,
    node_properties: dict[str, np.ndarray] | None = None,
    backend: str = "cpu",
    figures: bool = True,
    activity: dict[str, np.ndarray] | None = None,
) -> HeldOutCalibration:
    """Fit the link calibrator on held-out edges and report how well it does (see the module doc).

    Parameters
    ----------
    predict : ``predict(sources) -> {"src", "dst", "score"}``, the top-``k``
        links of those sources from a predictor that knows ``known_edges`` only.
    known_edges, heldout_edges : (2, E) undirected edges (disjoint).
    sources : the source nodes whose links are labelled (all, or a seeded sample).
    k : links per source; hops : pair-TC hops (K = min(hops, :data:`PAIR_TC_MAX_HOPS`)).
    beta : the run's beta (pair TC uses it here and in :func:`apply`).
    node_properties : more per-node arrays (n,) reported beside expected
        precision (degree and TC^Train for K = 1..pair-TC hops on the known
        graph are always there). They must be computed from ``known_edges``
        only, or the comparison leaks the held-out edges.
    activity : :func:`~topo_graphdb.model.trust.node_activity` of the events
        before the first held-out edge (graphs with relationship times): the
        calibrator then reads how recently each end was active.
    """
    n = int(num_nodes)
    if int(k) < 1:
        raise InputError(f"k must be >= 1; got {k!r}")
    pair_hops = max(1, min(int(hops), PAIR_TC_MAX_HOPS))
    out = predict(np.asarray(sources, dtype=np.int64))
    links = {key: np.asarray(out[key]) for key in ("src", "dst", "score")}
    links["rank"] = link_ranks(links["src"], links["score"])
    links["label"] = holdout_labels(links, heldout_edges, n)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x686F6C64]))
    node_half = np.zeros(n, np.int8)
    node_half[rng.permutation(n)[: n // 2]] = 1
    links["half"] = node_half[links["src"]]
    known_tc = node_tc(known_edges, n, pair_hops, beta, backend)
    X, names, _ = _features(links, known_edges, n, pair_hops, beta, backend, known_tc, activity)
    calibrator = CrossFitCalibrator(seed=seed)
    links["prob"] = calibrator.fit_out_of_fold(X, links["label"], links["src"], links["half"])
    known_degree = np.bincount(np.asarray(known_edges).reshape(-1), minlength=n).astype(np.float64)
    held_degree = np.bincount(np.asarray(heldout_edges).reshape(-1), minlength=n)
    sampled = np.zeros(n, bool)
    sampled[np.asarray(sources, dtype=np.int64)] = True
    per_node = {
        "measured_precision": measured_precision(links["src"], links["label"], held_degree, int(k)),
        "expected_precision": expected_precision(links["src"], links["prob"], n, int(k), rank=links["rank"]),
        "degree": known_degree,
        **known_tc,
        **{name: np.asarray(v, dtype=np.float64) for name, v in (node_properties or {}).items()},
    }
    report = np.ones(links["src"].size, bool)
    metrics = report_metrics(links, report, per_node, sampled)
    metrics.update(
        k=int(k), pair_tc_hops=pair_hops, features=names, calibrator=calibrator.summary(),
        sources=int(sampled.sum()), known_edges=int(np.asarray(known_edges).shape[1]),
        heldout_edges=int(np.asarray(heldout_edges).shape[1]),
    )  # fmt: skip
    pngs: dict[str, bytes] = {}
    if figures and report.any():
        pngs["reliability"] = _png(lambda p: plot_reliability(links["prob"][report], links["label"][report], p,
                                                              title="Link probability on held-out links"))
        quintiles = metrics["nodes"]["quintile_means"]
        if quintiles:
            pngs["lift"] = _png(lambda p: plot_lift(quintiles, p, ylabel=f"measured Precision@{int(k)}"))
    nodes = {"expected_precision": per_node["expected_precision"], "measured_precision": per_node["measured_precision"],
             "half": node_half, "sampled": sampled.astype(np.int8)}
    return HeldOutCalibration(calibrator, int(k), pair_hops, float(beta), metrics, pngs, nodes, links, activity is not None)


def trust_protocol(
    predictor_factory: Callable[[np.ndarray, int], Any],
    train_edges,
    heldout_edges,
    num_nodes: int,
    *,
    k: int = 10,
    hops: int = 2,
    beta: float | None = None,
    seed: int = 0,
    node_properties: dict[str, np.ndarray] | None = None,
    exclude_edges=None,
    sources=None,
    backend: str = "cpu",
    figures: bool = False,
    activity: dict[str, np.ndarray] | None = None,
) -> HeldOutCalibration:
    """:func:`calibrate` end to end: fit a predictor on the training edges, check it on the held-out ones.

    1. ``predictor = predictor_factory(train, n)`` (e.g.
       :func:`topo_graphdb.model.evaluate.edge_predictor_factory`);
    2. :func:`calibrate` with the training edges as known edges: each source's
       top-``k`` links (:func:`~topo_graphdb.model.predict.predict_links`)
       among pairs that are neither training edges nor ``exclude_edges`` are
       labelled by the held-out edges, a calibrator is fitted on the links
       of each half of the source nodes, and every link is scored by the
       other half's; everything is reported on those out-of-half
       probabilities, beside degree, TC^Train and ``node_properties`` on the
       same nodes.

    Held-out edges that are training edges or in ``exclude_edges`` cannot be
    proposed; they are dropped first (``metrics["heldout_dropped"]``).

    Parameters
    ----------
    train_edges, heldout_edges, exclude_edges : (2, E) int arrays (read undirected)
    k : links per source (Precision@k); hops : pair-TC and TC^Train hops
        (at most :data:`PAIR_TC_MAX_HOPS`); beta : TC's beta (default
        :func:`~topo_graphdb.kernels.default_beta` of the training edges)
    node_properties : per-node arrays (n,) reported beside expected precision
    sources : source nodes (default every node)
    activity : node activity before the held-out edges (see :func:`calibrate`)

    Returns
    -------
    HeldOutCalibration, with ``links`` and ``metrics["timings"]`` (seconds).
    """
    from ..kernels import default_beta  # noqa: PLC0415
    from .predict import predict_links  # noqa: PLC0415  (imports tqdm)

    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be an integer >= 1; got {k!r}")
    if isinstance(hops, bool) or not isinstance(hops, (int, np.integer)) or hops < 1:
        raise InputError(f"hops must be an integer >= 1; got {hops!r}")
    n = int(num_nodes)
    props = {name: np.asarray(v, dtype=np.float64).reshape(-1) for name, v in (node_properties or {}).items()}
    for name, v in props.items():
        if v.size != n:
            raise InputError(f"node_properties[{name!r}] has {v.size} entries for {n} nodes")
    t0 = time.perf_counter()
    train, _ = simple_undirected(np.asarray(train_edges), n)
    if train.shape[1] == 0:
        raise EmptyGraphError("the training edges are empty")
    held, _ = simple_undirected(np.asarray(heldout_edges), n)
    known_edges = train if exclude_edges is None else np.concatenate([train, simple_undirected(np.asarray(exclude_edges), n)[0]], axis=1)
    known = adjacency_matrix(known_edges, n, np.float64)
    dropped = np.asarray(known[held[0], held[1]]).reshape(-1) > 0
    held = held[:, ~dropped]
    t = time.perf_counter()
    predictor = predictor_factory(train, n)
    fit_s = time.perf_counter() - t

    def predict(batch: np.ndarray) -> dict[str, np.ndarray]:
        return predict_links(predictor, nodes=batch, top_k=int(k), exclude=known)

    t = time.perf_counter()
    result = calibrate(
        predict, train, held, n, sources=np.arange(n) if sources is None else sources, k=int(k), hops=int(hops),
        beta=default_beta(train, n) if beta is None else float(beta), seed=seed, node_properties=props,
        backend=backend, figures=figures, activity=activity,
    )  # fmt: skip
    result.metrics.update(
        seed=int(seed), num_nodes=n, heldout_dropped=int(dropped.sum()),
        timings={"fit_predictor": fit_s, "calibrate": time.perf_counter() - t, "total": time.perf_counter() - t0},
    )  # fmt: skip
    return result


def apply(
    calibration: HeldOutCalibration,
    src: np.ndarray,
    dst: np.ndarray,
    score: np.ndarray,
    edges: np.ndarray,
    num_nodes: int,
    *,
    backend: str = "cpu",
    known_tc: dict[str, np.ndarray] | None = None,
    activity: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Probability and pair TC of each final link, expected precision of each node.

    ``src, dst, score``: the links to write (from the predictor that knows
    ``edges``, the whole graph). Returns ``probability`` and ``tc`` (pair TC at
    K = ``calibration.pair_tc_hops``) of shape (m,) and ``expected_precision``
    of shape (n,) (NaN for nodes without links). ``known_tc``: node TC of
    ``edges`` already computed with ``calibration.beta`` (see :func:`node_tc`).
    ``activity``: :func:`~topo_graphdb.model.trust.node_activity` of every
    event, needed when the calibration was fitted with activity.
    """
    n = int(num_nodes)
    if calibration.activity and activity is None:
        raise InputError("this link calibration reads node activity (relationship times): pass activity")
    links = {"src": np.asarray(src, dtype=np.int64), "dst": np.asarray(dst, dtype=np.int64),
             "score": np.asarray(score, dtype=np.float64)}
    links["rank"] = link_ranks(links["src"], links["score"])
    tc = node_tc(edges, n, calibration.pair_tc_hops, calibration.beta, backend, known=known_tc)
    X, _, pair_tc = _features(links, edges, n, calibration.pair_tc_hops, calibration.beta, backend, tc,
                              activity if calibration.activity else None)
    prob = calibration.calibrator.predict_proba(X) if links["src"].size else np.zeros(0)
    ep = expected_precision(links["src"], prob, n, calibration.k, rank=links["rank"])
    tc = pair_tc[-1] if pair_tc.shape[1] else np.zeros(0)
    return {"probability": prob, "tc": tc, "expected_precision": ep}
