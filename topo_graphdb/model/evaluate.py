"""Evaluation of link predictors at edge and node level, and its relation to TC.

* :func:`evaluate_edges`: Hits@20/50/100, MRR, ROC-AUC and AP of the
  validation and test positives against their fixed negatives (OGB
  convention, :mod:`topo_graphdb.model.metrics`): those of the split, or
  given ones (``valid_negatives``, ``test_negatives``; shared, or each
  positive against its own as in ogbl-citation2, :mod:`topo_graphdb.model.negatives`).
* :func:`evaluate_nodes`: the per-node protocol of Wang et al. (ICLR 2024):
  for each node ``i`` with at least one held-out neighbour, score ``i``
  against every node, remove ``i`` itself and its known neighbours (training,
  plus validation when testing), rank, and compute Precision/Recall/NDCG/Hit@k
  and the reciprocal rank of the best-ranked held-out neighbour. Source nodes
  are processed in batches whose dense ``batch x n`` score blocks fit a memory
  budget.
* :func:`node_properties`: per-node TC (train and test variants, K = 1..3),
  ATC when available, degree, clustering, and on temporal splits TC of the
  most recent training edges.
* :func:`correlations`, :func:`shift_check`: Pearson/Spearman of per-node
  performance with those properties; mean TC of training vs test neighbours.
* :func:`run_evaluation`: all of it for one split and model, as a JSON-ready
  report plus the per-node table (written by :mod:`topo_graphdb.model.report`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import InputError
from ..kernels import default_beta, topological_concentration
from ..kernels.atc import approximate_tc
from .factory import MODEL_DEFAULTS, edge_predictor_factory, make_predictor
from .holdout import PAIR_TC_MAX_HOPS, calibrate, sample_sources
from .indicator import computable_properties, indicator_report
from .metrics import NODE_KS, PER_POSITIVE_KS, correlation, edge_metrics, node_ranking_metrics, per_positive_metrics
from .names import GNN_MODELS, PREDICTORS
from .negatives import Negatives, index_negatives, read_negatives, with_negatives
from .predict import predict_links
from .report import json_ready, write_report
from .splits import EdgeSplit, split_from_files

__all__ = [
    "PREDICTORS",
    "MODEL_DEFAULTS",
    "make_predictor",
    "edge_predictor_factory",
    "evaluate_edges",
    "evaluate_nodes",
    "node_properties",
    "validation_precision",
    "correlations",
    "shift_check",
    "run_evaluation",
    "evaluate_files",
]


_DEFAULT_BUDGET = 256 * 2**20


# -------------------------------------------------------------- edge level
def evaluate_edges(
    predictor,
    split: EdgeSplit,
    *,
    ks: Iterable[int] = (20, 50, 100),
    valid_negatives: Negatives | np.ndarray | None = None,
    test_negatives: Negatives | np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """Edge metrics of a fitted predictor: ``{"valid": {...}, "test": {...}}``.

    Each part's positives are ranked against ``<part>_negatives`` when given
    (an array ``(2, N)`` of node indices, or :class:`~topo_graphdb.model.negatives.Negatives`),
    else against ``split.<part>_neg``. Shared negatives give ``hits@K`` for
    ``ks``, ``mrr``, ``auc``, ``ap`` and counts
    (:func:`topo_graphdb.model.metrics.edge_metrics`); per-positive ones give
    ``mrr`` and ``hits@1/3/10`` per positive, pooled ``auc`` and ``ap``
    (:func:`topo_graphdb.model.metrics.per_positive_metrics`), as the OGB
    evaluator of ogbl-citation2.
    """
    given = {"valid": valid_negatives, "test": test_negatives}
    out = {}
    for part in ("valid", "test"):
        pos = getattr(split, f"{part}_pos")
        neg = given[part] if given[part] is not None else getattr(split, f"{part}_neg")
        if not isinstance(neg, Negatives):
            neg = Negatives(np.asarray(neg, dtype=np.int64).reshape(2, -1))
        if pos.shape[1] == 0:
            out[part] = {"num_pos": 0, "num_neg": int(neg.pairs.shape[1])}
            continue
        pos_scores, neg_scores = predictor.score(pos), predictor.score(neg.pairs)
        if neg.owner is None:
            out[part] = edge_metrics(pos_scores, neg_scores, ks=tuple(ks))
        else:
            out[part] = per_positive_metrics(pos_scores, neg_scores, neg.owner, ks=PER_POSITIVE_KS)
    return out


# -------------------------------------------------------------- node level
def _batch_size(predictor, n: int, memory_budget: int | None) -> int:
    budget = _DEFAULT_BUDGET if memory_budget is None else int(memory_budget)
    if budget <= 0:
        raise InputError(f"memory_budget must be > 0 bytes; got {memory_budget!r}")
    per_row = int(predictor.block_bytes_per_source()) + 40 * n  # scores, masks, sort order
    return int(max(1, min(4096, budget // max(per_row, 1))))


def evaluate_nodes(
    predictor,
    split: EdgeSplit,
    *,
    target: str = "test",
    ks: Iterable[int] = NODE_KS,
    memory_budget: int | None = None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Per-node ranking metrics (the paper's protocol).

    Parameters
    ----------
    predictor : fitted predictor with ``score_block(sources) -> (b, n)``
    split : EdgeSplit
    target : {"test", "valid"}
        Held-out neighbours to find. For ``"test"`` the training and
        validation neighbours are masked; for ``"valid"`` the training ones
        (test edges are unknown then and stay ordinary candidates).
    ks : cut-offs for ``precision@k``, ``recall@k``, ``ndcg@k``, ``hit@k``
    memory_budget : bytes for one batch of dense score rows (default 256 MiB)

    Returns
    -------
    dict of arrays of shape (n,): every metric of
    :func:`~topo_graphdb.model.metrics.node_ranking_metrics` (NaN for nodes
    without a ``target`` neighbour) and ``num_targets`` (int).
    """
    if target not in ("test", "valid"):
        raise InputError(f"target must be 'test' or 'valid'; got {target!r}")
    from tqdm.auto import tqdm  # noqa: PLC0415  (tqdm.auto takes ~0.1 s to import; only the node pass shows a bar)

    ks = tuple(int(k) for k in ks)
    n = split.num_nodes
    known = split.adjacency(("train", "valid") if target == "test" else ("train",))
    rel_adj = split.adjacency(target)
    num_targets = np.diff(rel_adj.indptr).astype(np.int64)
    sources = np.flatnonzero(num_targets > 0)
    names = [f"{m}@{k}" for k in ks for m in ("precision", "recall", "ndcg", "hit")] + ["rr"]
    out = {name: np.full(n, np.nan) for name in names}
    bs = _batch_size(predictor, n, memory_budget)
    steps = range(0, sources.size, bs)
    for start in tqdm(steps, desc=f"rank nodes ({target})", disable=not progress, leave=False):
        batch = sources[start : start + bs]
        scores = predictor.score_block(batch)
        exclude = known[batch].toarray() > 0
        exclude[np.arange(batch.size), batch] = True
        relevant = rel_adj[batch].toarray() > 0
        m = node_ranking_metrics(scores, relevant, exclude=exclude, ks=ks)
        for name in names:
            out[name][batch] = m[name]
    out["num_targets"] = num_targets
    return out


# ---------------------------------------------------------- node properties
def node_properties(
    split: EdgeSplit,
    *,
    hops: Iterable[int] = (1, 2, 3),
    variants: Iterable[str] = ("train", "test"),
    atc: bool = True,
    recent_fraction: float = 0.2,
    backend: str = "auto",
    memory_budget: int | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Per-node properties of the training graph, shape (n,) each.

    ``tc_{variant}_k{K}``: exact TC with the training graph as reference and
    the training (``train``), validation (``valid``) or test (``test``) edges
    as evaluation set, one shared ``beta`` (1 / mean training degree);
    ``atc_train_k{K}`` (K >= 2) when :mod:`topo_graphdb.kernels.atc` provides
    ``approximate_tc``; ``degree``, ``log_degree`` (``log(1 + deg)``),
    ``clustering``; on temporal splits ``tc_recent_k{K}``: TC of the newest
    ``recent_fraction`` of training edges against the older ones (what a
    database can compute without future links).
    """
    timings = {} if timings is None else timings
    n = split.num_nodes
    train = split.train_pos
    out = computable_properties(
        train, n, hops=hops, edge_time=split.train_time, recent_fraction=recent_fraction, atc=atc,
        backend=backend, memory_budget=memory_budget, timings=timings,
    )  # fmt: skip
    beta = default_beta(train, n)
    for k in hops:
        for variant in variants:
            if variant == "train":
                continue  # computed above
            ev = getattr(split, f"{variant}_pos")
            if ev.shape[1] == 0:
                continue
            t = time.perf_counter()
            res = topological_concentration(train, ev, hops=int(k), beta=beta, num_nodes=n, backend=backend, memory_budget=memory_budget)
            out[f"tc_{variant}_k{k}"] = np.asarray(res.tc, dtype=np.float64)
            timings[f"tc_{variant}_k{k}"] = time.perf_counter() - t
    return out


def correlations(
    performance: dict[str, np.ndarray],
    properties: dict[str, np.ndarray],
    *,
    metrics: Iterable[str] = ("precision@10", "recall@10", "ndcg@10", "hit@10", "rr"),
) -> dict[str, dict[str, dict[str, float]]]:
    """``{metric: {property: {"pearson", "spearman", "n"}}}`` over nodes where both are finite."""
    return {m: {p: correlation(properties[p], performance[m]) for p in properties if p != "log_degree"} for m in metrics if m in performance}


def shift_check(properties: dict[str, np.ndarray], *, hops: Iterable[int] = (1, 2, 3)) -> dict[str, dict[str, float]]:
    """Topological distribution shift: mean TC^Train vs mean TC^Test per K.

    For each K: ``mean_tc_train``/``mean_tc_test`` over the nodes where both
    are defined (``nodes``), their means over every defined node, and the
    share of nodes whose test neighbours are less concentrated
    (``TC^Test < TC^Train``).
    """
    out = {}
    for k in hops:
        a, b = properties.get(f"tc_train_k{k}"), properties.get(f"tc_test_k{k}")
        if a is None or b is None:
            continue
        both = np.isfinite(a) & np.isfinite(b)
        nan = float("nan")
        out[f"k{k}"] = {
            "nodes": int(both.sum()),
            "mean_tc_train": float(a[both].mean()) if both.any() else nan,
            "mean_tc_test": float(b[both].mean()) if both.any() else nan,
            "share_test_lower": float(np.mean(b[both] < a[both])) if both.any() else nan,
            "mean_tc_train_all": float(np.nanmean(a)) if np.isfinite(a).any() else nan,
            "mean_tc_test_all": float(np.nanmean(b)) if np.isfinite(b).any() else nan,
        }
    return out


def _summary(perf: dict[str, np.ndarray]) -> dict[str, Any]:
    evaluated = np.isfinite(perf["rr"])
    return {
        "nodes_evaluated": int(evaluated.sum()),
        "mean": {k: float(np.nanmean(v)) for k, v in perf.items() if k != "num_targets" and evaluated.any()},
    }


def run_evaluation(
    split: EdgeSplit,
    *,
    model: str = "gcn",
    hops: Iterable[int] = (1, 2, 3),
    seed: int = 0,
    epochs: int | None = None,
    predictor_settings: dict[str, Any] | None = None,
    indicator: bool = True,
    trust: bool = True,
    backend: str = "auto",
    memory_budget: int | None = None,
    progress: bool = False,
    valid_negatives: Negatives | None = None,
    test_negatives: Negatives | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Fit ``model`` on ``split`` and evaluate it at edge and node level.

    ``valid_negatives``, ``test_negatives``: given negatives
    (:func:`evaluate_edges`); they replace the split's for early stopping and
    the edge metrics (:func:`topo_graphdb.model.negatives.with_negatives`).

    Returns
    -------
    report : dict (JSON-ready; NaN written as null)
        ``settings``, ``split`` (counts and the negatives' description),
        ``training``, ``edge_metrics``, ``node_metrics`` (summary),
        ``correlations`` (``{property: {pearson, spearman, n}}`` for
        per-node Precision@10), ``correlations_all`` (other metrics),
        ``shift``, ``indicator``, ``trust`` (the held-out check of calibrated
        link probabilities, :func:`trust_check`), ``timings`` (seconds).
    table : dict of per-node arrays (n,)
        ``node`` (external id), per-node test metrics, ``valid_precision@10``,
        properties, ``indicator`` when fitted, ``expected_precision`` with
        ``trust``.
    figures : dict of PNG bytes (``reliability``, ``lift``) with ``trust``.
    """
    # Long: the docstring lists the report's keys; the body runs the phases one after another.
    hops = tuple(sorted({int(k) for k in hops}))
    if not hops or min(hops) < 1 or max(hops) > 4:
        raise InputError(f"hops must be integers in 1..4; got {hops}")
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    split = with_negatives(split, valid=valid_negatives, test=test_negatives)
    predictor = _fitted(split, model, seed=seed, epochs=epochs, settings=predictor_settings, progress=progress, timings=timings)
    t = time.perf_counter()
    edges = evaluate_edges(predictor, split, valid_negatives=valid_negatives, test_negatives=test_negatives)
    timings["edge_metrics"] = time.perf_counter() - t
    t = time.perf_counter()
    perf = evaluate_nodes(predictor, split, target="test", memory_budget=memory_budget, progress=progress)
    timings["node_metrics_test"] = time.perf_counter() - t
    t = time.perf_counter()
    perf_valid = evaluate_nodes(predictor, split, target="valid", ks=(10,), memory_budget=memory_budget, progress=progress) if indicator else None
    timings["node_metrics_valid"] = time.perf_counter() - t
    props = node_properties(split, hops=hops, backend=backend, memory_budget=memory_budget, timings=timings)
    corr_all = correlations(perf, props)
    report: dict[str, Any] = {
        "settings": {"model": model, "seed": int(seed), "hops": list(hops), "predictor": predictor.get_params()},
        "split": split.describe(),
        "training": {
            "best_epoch": getattr(predictor, "best_epoch_", None),
            "epochs_run": len(getattr(predictor, "history_", [])),
            "best_valid": getattr(predictor, "best_valid_", None),
            "run_id": getattr(predictor, "run_id_", None),
            "batching": getattr(predictor, "batching_", None),
        },
        "edge_metrics": edges,
        "node_metrics": _summary(perf),
        "correlations": corr_all.get("precision@10", {}),
        "correlations_all": corr_all,
        "shift": shift_check(props, hops=hops),
    }
    table = _node_table(split, perf, perf_valid, props)
    if indicator and perf_valid is not None:
        t = time.perf_counter()
        ind_report, values = indicator_report(props, perf_valid["precision@10"], perf["precision@10"])
        report["indicator"] = ind_report
        if values is not None:
            table["indicator"] = values
        timings["indicator"] = time.perf_counter() - t
    figures: dict[str, bytes] = {}
    if trust:
        t = time.perf_counter()
        check = trust_check(predictor, split, hops=hops, seed=seed, backend=backend)
        if check is not None:
            from .trust import trust_warnings  # noqa: PLC0415

            report["trust"] = check.metrics
            report["trust_warnings"] = trust_warnings(check.metrics)
            table["expected_precision"] = check.nodes["expected_precision"]
            figures = check.figures
        timings["trust"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all
    report["timings"] = timings
    return json_ready(report), table, figures


def _fitted(
    split: EdgeSplit, model: str, *, seed: int, epochs: int | None, settings: dict[str, Any] | None, progress: bool,
    timings: dict[str, float],
):
    """``model`` fitted on ``split`` (learned models get ``seed``, ``progress`` and ``epochs``); seconds into ``timings``."""
    settings = dict(settings or {})
    if model in GNN_MODELS:
        settings.setdefault("seed", seed)
        settings.setdefault("progress", progress)
        if epochs is not None:
            settings["epochs"] = epochs
    predictor = make_predictor(model, **settings)
    t = time.perf_counter()
    predictor.fit(split)
    timings["fit"] = time.perf_counter() - t
    return predictor


def _node_table(split: EdgeSplit, perf: dict[str, np.ndarray], perf_valid: dict[str, np.ndarray] | None,
                props: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The per-node table: external id, test metrics, validation Precision@10 and targets, properties."""
    table: dict[str, np.ndarray] = {"node": split.node_ids if split.node_ids is not None else np.arange(split.num_nodes)}
    table.update({k: v for k, v in perf.items()})
    if perf_valid is not None:
        table["valid_precision@10"] = perf_valid["precision@10"]
        table["num_valid_targets"] = perf_valid["num_targets"]
    table.update(props)
    return table


def trust_check(predictor: Any, split: EdgeSplit, *, hops: Iterable[int] = (1, 2, 3), k: int = 10, seed: int = 0, backend: str = "auto") -> Any:
    """Calibrated link probabilities checked on the test edges (:func:`topo_graphdb.model.holdout.calibrate`).

    The fitted predictor proposes each source's top-``k`` links among pairs
    that are neither training nor validation edges; a link is positive when
    it is a test edge. A calibrator is fitted on each half of the source
    nodes and each half's links are scored by the other half's; everything
    is reported on those scores, beside degree, TC^Train
    (K = 1..max(hops), on the training and validation edges) and ATC on the
    same nodes. None when the split has fewer than 10 test edges. A split
    by time also gives the calibrator each node's activity
    (:func:`~topo_graphdb.model.trust.node_activity` of the training edges,
    all older than the test edges).
    """
    if split.test_pos.shape[1] < 10:
        return None
    activity = None
    if split.train_time is not None and split.meta.get("kind") == "temporal":
        from .trust import node_activity  # noqa: PLC0415

        activity = node_activity(split.train_pos, split.train_time, split.num_nodes)
    n = split.num_nodes
    known = np.concatenate([split.train_pos, split.valid_pos], axis=1)
    exclude = split.adjacency(("train", "valid"))
    beta = default_beta(known, n)
    sources = sample_sources(n, seed)
    extra = {
        f"tc_train_k{h}": np.asarray(topological_concentration(known, hops=h, beta=beta, num_nodes=n, backend=backend).tc)
        for h in sorted(set(hops)) if h > PAIR_TC_MAX_HOPS
    }  # fmt: skip
    try:
        extra["atc_k2"] = np.asarray(approximate_tc(known, hops=2, beta=beta, num_nodes=n, seed=seed, backend=backend).tc, dtype=np.float64)
    except InputError:
        pass

    def predict(batch: np.ndarray) -> dict[str, np.ndarray]:
        return predict_links(predictor, nodes=batch, top_k=k, exclude=exclude)

    return calibrate(predict, known, split.test_pos, n, sources=sources, k=k, hops=max(hops), beta=beta, seed=seed,
                     node_properties=extra, backend="cpu" if backend == "auto" else backend, activity=activity)


def evaluate_files(
    train_path: str,
    valid_path: str,
    test_path: str,
    *,
    output_dir: str,
    features: str | None = None,
    model: str = "gcn",
    epochs: int | None = None,
    seed: int = 0,
    hops: Iterable[int] = (1, 2, 3),
    progress: bool = False,
    plots: bool = True,
    valid_negatives: str | None = None,
    test_negatives: str | None = None,
    predictor_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Read edge files, run :func:`run_evaluation`, write the report into ``output_dir``.

    ``valid_negatives``, ``test_negatives``: negatives files
    (:mod:`topo_graphdb.model.negatives`) used instead of drawn negatives.
    ``predictor_settings``: more settings of a learned model (e.g. ``batching``, ``fanout``).
    Returns the report (also written as ``output_dir/report.json`` with
    ``node_metrics.csv`` and the plots).
    """
    if model not in PREDICTORS:
        raise InputError(f"--model must be one of {', '.join(PREDICTORS)}; got {model!r}")
    t = time.perf_counter()
    files = {part: read_negatives(path) for part, path in (("valid", valid_negatives), ("test", test_negatives)) if path is not None}
    extra = np.concatenate([f.ids() for f in files.values()]) if files else None
    split = split_from_files(train_path, valid_path, test_path, features=features, seed=seed, extra_ids=extra)
    given = {f"{part}_negatives": index_negatives(f, split, part) for part, f in files.items()}
    read_s = time.perf_counter() - t
    settings = predictor_settings if model in GNN_MODELS else None
    report, table, figures = run_evaluation(split, model=model, hops=hops, seed=seed, epochs=epochs, progress=progress,
                                            predictor_settings=settings, **given)
    report["timings"]["read"] = read_s
    out = write_report(report, table, output_dir, plots=plots)
    if plots:
        for name, png in figures.items():
            (out / f"trust_{name}.png").write_bytes(png)
    return report


def validation_precision(predictor: Any, split: Any, *, k: int, max_sources: int, seed: int) -> np.ndarray:
    """Validation Precision@k of a seeded sample of the nodes with a validation link (NaN elsewhere).

    The paper's per-node protocol: rank every node for the source, without
    the source itself and its training neighbours.
    """
    n = split.num_nodes
    known = split.adjacency("train")
    relevant = split.adjacency("valid")
    sources = np.flatnonzero(np.diff(relevant.indptr) > 0)
    if sources.size > max_sources:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x76616C]))
        sources = np.sort(rng.choice(sources, size=max_sources, replace=False))
    out = np.full(n, np.nan)
    per_row = int(predictor.block_bytes_per_source()) + 40 * n
    batch = int(max(1, min(4096, (256 * 2**20) // max(per_row, 1))))
    for start in range(0, sources.size, batch):
        rows = sources[start : start + batch]
        scores = predictor.score_block(rows)
        exclude = known[rows].toarray() > 0
        exclude[np.arange(rows.size), rows] = True
        m = node_ranking_metrics(scores, relevant[rows].toarray() > 0, exclude=exclude, ks=(k,))
        out[rows] = m[f"precision@{k}"]
    return out
