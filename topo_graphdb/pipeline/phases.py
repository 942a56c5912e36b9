"""The stage adapters of a sync run: what each phase asks of the kernels, the model and the database.

Each function does one step of one phase of :func:`topo_graphdb.pipeline.run_sync`
with the run's settings (``cfg``, a :class:`~topo_graphdb.config.SyncConfig`) and
returns arrays; the orchestration in :mod:`topo_graphdb.pipeline.run` records
them in the report.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .._cypher import quote_identifier, render
from ..kernels.tc import topological_concentration
from ..model.names import GNN_MODELS
from ..snapshot import adjacency_matrix
from .clock import Clock
from .report import SyncReport

__all__ = [
    "EXHAUSTIVE_NODES",
    "VALID_FRACTION",
    "atc_scores",
    "calibrate_links",
    "ensure_indexes",
    "known_properties",
    "link_activity",
    "memory_budget",
    "node_features",
    "top_links",
    "train_predictor",
    "undirected_with_time",
    "with_edges",
]

#: share of the edges that early stopping validates on
log = logging.getLogger(__name__)

VALID_FRACTION = 0.1

#: Graphs up to this many nodes score every pair; larger ones use capped candidates. On Cora the
#: capped candidates keep 99.95% of the exhaustive top-10 links at 1/15 of the cost (ca-grqc: 99.7%).
EXHAUSTIVE_NODES = 2000


def undirected_with_time(snapshot: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The snapshot's simple undirected edges (canonical) and, per edge, the earliest time."""
    if snapshot.meta.get("orientation", "undirected") == "undirected":
        return snapshot.edge_index, snapshot.edge_time
    edges, _ = snapshot.undirected()
    if snapshot.edge_time is None:
        return edges, None
    n = snapshot.num_nodes
    src, dst = snapshot.edge_index
    keep = src != dst
    keys = np.minimum(src, dst)[keep] * np.int64(n) + np.maximum(src, dst)[keep]
    t = np.asarray(snapshot.edge_time, dtype=np.float64)[keep]
    order = np.lexsort((t, keys))
    keys, t = keys[order], t[order]
    first = np.concatenate([[True], keys[1:] != keys[:-1]])
    return edges, t[first]


def memory_budget(cfg: Any) -> int | None:
    """``score.memory_budget`` in bytes (None: no budget)."""
    from ..config import parse_memory  # noqa: PLC0415

    return parse_memory(cfg.score.memory_budget) if cfg.score.memory_budget else None


def ensure_indexes(conn: Any, cfg: Any) -> None:
    """Range indexes on the written TC properties for each selected label (idempotent)."""
    from ..db import Database  # noqa: PLC0415

    with Database(conn, verify=False) as db:
        for label in cfg.selection.labels:
            for prop in ("tc", "atc", "expected_precision"):
                name = f"topo_{label}_{cfg.write.prefix}{prop}"
                db.run(
                    render(
                        "sync_index_node_property",
                        index=quote_identifier(name, what="index name"),
                        label=quote_identifier(label, what="label"),
                        prop=quote_identifier(cfg.write.prefix + prop, what="property name"),
                    )
                )
        db.run(
            render(
                "sync_index_link_run",
                index=quote_identifier(f"topo_{cfg.write.relationship_type}_run_id", what="index name"),
                rel_type=quote_identifier(cfg.write.relationship_type, what="relationship type"),
            )
        )


def atc_scores(edges: np.ndarray, n: int, cfg: Any, beta: float) -> np.ndarray | None:
    """ATC of every node (NaN where undefined); None when the ATC kernel is not available."""
    try:
        from ..kernels.atc import approximate_tc  # noqa: PLC0415
    except ImportError:
        return None
    res = approximate_tc(
        edges, hops=cfg.atc_hops, beta=beta, dim=cfg.score.atc_dim, seed=cfg.score.seed, num_nodes=n, backend=cfg.run.backend
    )
    return np.asarray(res.tc, dtype=np.float64)


def node_features(snapshot: Any) -> Any:
    """The snapshot's node features as float32 (missing values zero), or None."""
    x = snapshot.x
    if x is None:
        return None
    x = np.asarray(x, dtype=np.float32)
    if np.isnan(x).any():  # nodes without the property: zeros (the model then leans on structure)
        x = np.nan_to_num(x, nan=0.0)
    return x


def train_predictor(snapshot: Any, edges: np.ndarray, edge_time: np.ndarray | None, n: int, cfg: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Fit the link predictor on a seeded split of the current graph.

    10% of the edges are the validation part of early stopping; with
    ``predict.trust`` another ``trust_holdout`` share is held out for the
    calibration (the most recent edges when the selection has a timestamp,
    else a random share): ``split.test_pos``.
    """
    from ..model.evaluate import make_predictor  # noqa: PLC0415
    from ..model.splits import random_split, temporal_split  # noqa: PLC0415

    holdout = float(cfg.predict.trust_holdout) if cfg.predict.trust else 0.0
    x = node_features(snapshot)
    if holdout and edge_time is not None and np.isfinite(np.asarray(edge_time, dtype=np.float64)).all():
        split = temporal_split(edges, edge_time, n, valid_fraction=VALID_FRACTION, test_fraction=holdout, seed=cfg.score.seed, x=x)
    else:
        split = random_split(edges, n, valid_fraction=VALID_FRACTION, test_fraction=holdout, seed=cfg.score.seed, x=x)
    settings: dict[str, Any] = {}
    if cfg.predict.model in GNN_MODELS:
        settings = {"hidden": cfg.predict.hidden or None, "epochs": cfg.predict.epochs, "seed": cfg.score.seed,
                    "device": cfg.predict.device, "batch_size": cfg.predict.batch_size or None,
                    "batching": cfg.predict.batching, "fanout": cfg.predict.fanout, "memory_budget": memory_budget(cfg)}
    cache, key = _model_cache(cfg, settings, n, split, x)
    predictor = cache.get(key, _load_on_cpu) if cache is not None else None
    cached = predictor is not None
    if predictor is None:
        predictor = make_predictor(cfg.predict.model, **settings, progress=False).fit(split)  # heuristics take no settings
        if cache is not None:
            try:
                cache.put(key, predictor.save)
            except OSError as err:  # a full or read-only cache never fails the run
                log.warning("could not store the trained model in %s: %s", cache.directory, err)
    info = {
        "model": cfg.predict.model,
        "model_batching": getattr(predictor, "batching_", None),
        "model_cache": "off" if cache is None else ("hit" if cached else "miss"),
        "model_best_epoch": int(getattr(predictor, "best_epoch_", 0)),
        "model_fit_seconds": float(getattr(predictor, "fit_seconds_", 0.0)),
    }
    for key, value in getattr(predictor, "best_valid_", {}).items():
        info[f"model_valid_{key.replace('@', '_at_')}"] = float(value)
    return predictor, split, info


def _model_cache(cfg: Any, settings: dict[str, Any], n: int, split: Any, x: Any) -> tuple[Any, str]:
    """The model cache and this fit's key, or ``(None, "")``: off, a heuristic, or training on a GPU."""
    if not (cfg.compute.model_cache and cfg.predict.model in GNN_MODELS):
        return None, ""
    import torch  # noqa: PLC0415

    from ..model.cache import ModelCache, code_digest, training_key  # noqa: PLC0415
    from ..model.predictor import resolve_device  # noqa: PLC0415

    if resolve_device(cfg.predict.device).type != "cpu":  # GPU training is not bit-for-bit repeatable
        return None, ""
    key = training_key(cfg.predict.model, settings, n, split, x, code=code_digest(), torch_version=torch.__version__)
    return ModelCache(), key


def _load_on_cpu(folder: Any) -> Any:
    from ..model.predictor import LinkPredictor  # noqa: PLC0415

    return LinkPredictor.load(folder, device="cpu")


def calibrate_links(
    predictor: Any, split: Any, n: int, cfg: Any, beta: float, clock: Clock, report: SyncReport, *, reuse: bool = False,
    events: tuple[np.ndarray, np.ndarray] | None = None,
) -> Any:
    """Fit the link calibrator on the held-out edges (:func:`topo_graphdb.model.holdout.calibrate`).

    The predictor sees the known edges (training and validation parts); each
    sampled source's top-k links are labelled by the held-out part. Returns
    None (with a warning) when too few links are labelled to fit anything.

    ``events`` (the relationships and their times): with a split by time, the
    calibrator also reads how recently each end was active
    (:func:`topo_graphdb.model.trust.activity_before_holdout`;
    :func:`link_activity` gives the same for the final links).

    ``reuse`` (the predictor is in the model cache): the calibration is kept in
    the same cache, keyed by the trained model's ``run_id_``, the settings that
    decide the check, the split and the package's code, and a later run with
    the same model loads it instead of fitting it again (``trust_cache`` in the
    summary: ``hit``, ``miss`` or ``off``).
    """
    from ..model.holdout import calibrate, sample_sources  # noqa: PLC0415
    from ..model.trust import activity_before_holdout, trust_warnings  # noqa: PLC0415

    known = np.concatenate([split.train_pos, split.valid_pos], axis=1)
    if split.test_pos.shape[1] < 10:
        report.warnings.append("fewer than 10 held-out edges: no link probability or expected precision written")
        return None
    activity = activity_before_holdout(*events, n, split) if events is not None else None
    cache, key = _calibration_cache(predictor, split, n, cfg, beta, activity) if reuse else (None, "")
    result = cache.get(key, _load_calibration) if cache is not None else None
    report.metrics["trust_cache"] = "off" if cache is None else ("hit" if result is not None else "miss")
    if result is None:
        seen = with_edges(predictor, known, n, cfg)
        sources = sample_sources(n, cfg.score.seed)

        def predict(batch: np.ndarray) -> dict[str, np.ndarray]:
            src, dst, score = top_links(seen, known, n, batch, cfg, clock, phase="trust")
            return {"src": src, "dst": dst, "score": score}

        result = calibrate(
            predict, known, split.test_pos, n, sources=sources, k=cfg.predict.top_k, hops=cfg.score.hops, beta=beta,
            seed=cfg.score.seed, node_properties=known_properties(known, n, cfg, beta), backend=cfg.run.backend,
            activity=activity,
        )
        if cache is not None:
            try:
                cache.put(key, lambda folder: _save_calibration(result, folder))
            except OSError as err:  # a full or read-only cache never fails the run
                log.warning("could not store the link calibration in %s: %s", cache.directory, err)
    m = result.metrics
    nodes = m.get("nodes", {})
    spearman = nodes.get("spearman", {})
    report.metrics.update(
        trust_holdout=float(cfg.predict.trust_holdout),
        trust_split=split.meta.get("kind"),
        trust_heldout_edges=int(split.test_pos.shape[1]),
        trust_link_auc=m.get("link_auc"),
        trust_link_ap=m.get("link_ap"),
        trust_brier=m.get("brier"),
        trust_ece=m.get("ece"),
        trust_auc_within_top_k=(m.get("auc_within_top_k") or {}).get("pooled"),
        trust_nodes=nodes.get("evaluated"),
        trust_calibrator=m.get("calibrator", {}).get("model"),
        **{f"trust_spearman_{name}": value for name, value in spearman.items()},
        **{f"trust_lift_{name}": value for name, value in nodes.get("lift", {}).items()},
    )  # fmt: skip
    report.warnings.extend(trust_warnings(m))
    report.trust = m
    report.figures = dict(result.figures)
    return result


_CALIBRATION_FILE = "calibration.pickle"


def _calibration_cache(predictor: Any, split: Any, n: int, cfg: Any, beta: float, activity: dict[str, np.ndarray] | None) -> tuple[Any, str]:
    """The model cache and the key of this run's link calibration, or ``(None, "")`` for a predictor without an identity."""
    run_id = getattr(predictor, "run_id_", None)
    if not run_id:
        return None, ""
    from pathlib import Path  # noqa: PLC0415

    import scipy  # noqa: PLC0415
    import sklearn  # noqa: PLC0415  (the calibrator's library: loading the entry imports it anyway)

    from .. import __version__  # noqa: PLC0415
    from ..model.cache import ModelCache, code_digest, content_key  # noqa: PLC0415

    head = {
        "kind": "link-calibration", "model_run_id": run_id, "model": cfg.predict.model, "num_nodes": int(n),
        "top_k": int(cfg.predict.top_k), "hops": int(cfg.score.hops), "beta": repr(float(beta)), "seed": int(cfg.score.seed),
        "code": code_digest(Path(__file__).resolve().parent.parent),
        "versions": {"topo-graphdb": __version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__, "scipy": scipy.__version__},
    }  # fmt: skip
    return ModelCache(), content_key(head, split, **{f"activity_{k}": v for k, v in (activity or {}).items()})


def _save_calibration(result: Any, folder: Any) -> None:
    import pickle  # noqa: PLC0415

    with open(folder / _CALIBRATION_FILE, "wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _load_calibration(folder: Any) -> Any:
    """The pickled calibration of an entry (the user's own cache folder); an unreadable one is a ``ValueError`` (a miss)."""
    import pickle  # noqa: PLC0415

    from ..model.holdout import HeldOutCalibration  # noqa: PLC0415

    try:
        with open(folder / _CALIBRATION_FILE, "rb") as fh:
            result = pickle.load(fh)  # noqa: S301
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError) as err:
        raise ValueError(f"unreadable calibration entry: {err}") from None
    if not isinstance(result, HeldOutCalibration):
        raise ValueError("not a link calibration entry")
    return result


def link_activity(calibration: Any, events: tuple[np.ndarray, np.ndarray] | None, n: int) -> dict[str, np.ndarray] | None:
    """Node activity of every event for the final links, when ``calibration`` reads it (else None)."""
    if calibration is None or not getattr(calibration, "activity", False) or events is None:
        return None
    from ..model.trust import node_activity  # noqa: PLC0415

    return node_activity(*events, n)


def known_properties(known: np.ndarray, n: int, cfg: Any, beta: float) -> dict[str, np.ndarray]:
    """TC^Train with K = 3 of the known graph (when ``score.hops`` is 3 and at most 50,000 nodes), reported
    beside expected precision (K = 1, 2 are always reported: :func:`topo_graphdb.model.holdout.calibrate`)."""

    if cfg.score.hops < 3 or n > 50_000:
        return {}
    res = topological_concentration(known, hops=3, beta=beta, num_nodes=n, backend=cfg.run.backend, memory_budget=memory_budget(cfg))
    return {"tc_train_k3": np.asarray(res.tc, dtype=np.float64)}


def with_edges(predictor: Any, edges: np.ndarray, n: int, cfg: Any) -> Any:
    """The fitted predictor scoring with ``edges`` as its graph (heuristics: refit, nothing is learned)."""
    if hasattr(predictor, "use_edges"):
        return predictor.use_edges(edges)
    from ..model.evaluate import make_predictor  # noqa: PLC0415
    from ..model.splits import random_split  # noqa: PLC0415

    full = random_split(edges, n, valid_fraction=0.0, test_fraction=0.0, seed=cfg.score.seed)
    return make_predictor(cfg.predict.model).fit(full)


def top_links(
    predictor: Any, edges: np.ndarray, n: int, sources: np.ndarray, cfg: Any, clock: Clock, *, phase: str = "predict"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k new links of each source (existing neighbours and the node itself excluded).

    Exhaustive scoring up to :data:`EXHAUSTIVE_NODES` nodes; beyond, each
    source is scored against capped candidates
    (:class:`topo_graphdb.model.predict.CappedCandidates`, built once).
    Sources go in chunks so that the runtime limit and progress are checked
    between them. A chunk of capped candidates is a whole number of their
    batches, so the batches (and the scores) do not depend on it; on a Dask
    cluster it holds a few batches per worker thread, which score at once.
    """
    from ..model.predict import CappedCandidates, busy_batches, predict_links  # noqa: PLC0415

    known = adjacency_matrix(edges, n)
    chunk = max(256, min(8192, int(2e7 // max(n, 1))))
    if n > EXHAUSTIVE_NODES:
        capped = CappedCandidates(predictor, known, top_k=cfg.predict.top_k)
        size = capped.batch_size
        chunk = size * max(1, chunk // size) * busy_batches(predictor)
    parts = []
    for start in range(0, sources.size, chunk):
        batch = sources[start : start + chunk]
        if n <= EXHAUSTIVE_NODES:
            out = predict_links(predictor, nodes=batch, top_k=cfg.predict.top_k, exclude=known, method="exhaustive")
            parts.append((out["src"], out["dst"], out["score"]))
        else:
            parts.append(capped(batch))
        clock.progress(phase, min(start + chunk, sources.size), sources.size)
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]
