"""Predictors by name: a :class:`~topo_graphdb.model.predictor.LinkPredictor` or a heuristic, and factories of fitted ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from .heuristics import HeuristicPredictor
from .names import GNN_MODELS, HEURISTIC_MODELS, PREDICTORS
from .splits import random_split

__all__ = ["MODEL_DEFAULTS", "make_predictor", "edge_predictor_factory"]


#: Settings per learned model, on top of the LinkPredictor defaults (which
#: were chosen on Cora, random 70/10/20 split: one layer, width 256, lr 0.01,
#: dropout 0.4, target-link masking, at most 200 epochs, patience 40).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {name: {} for name in GNN_MODELS} | {
    # width 128: the cheapest within 0.005 of the best validation Hits@100 (80/10/10, 3 seeds):
    # Cora 0.905 (fit 15 s) against 0.907 at 256 (24 s) and 0.900 at 64; Citeseer 0.897 (31 s)
    # against 0.900 at 256 (50 s) (benchmarks/measured/cpu/predictor-width-*.json)
    "gcn": {"hidden": 128},
    # steps of 256 positives: validation Hits@100 after 30 epochs (Cora / Citeseer, 70/10/20,
    # seed 0) 0.854 / 0.807 with 1152, 0.875 / 0.892 with 256, 0.885 / 0.892 with 64 (2-3x slower)
    "ncn": {"batch_size": 256},
}


def make_predictor(model: str = "gcn", **settings: Any):
    """A :class:`~topo_graphdb.model.predictor.LinkPredictor` (``gcn``, ``sage``,
    ``ncn``; :data:`MODEL_DEFAULTS` overridden by ``settings``) or a
    :class:`~topo_graphdb.model.heuristics.HeuristicPredictor` (``cn``, ``aa``, ``ra``)."""
    if model not in PREDICTORS:
        raise InputError(f"model must be one of {', '.join(PREDICTORS)}; got {model!r}")
    if model in HEURISTIC_MODELS:
        return HeuristicPredictor(model)
    from .predictor import LinkPredictor  # noqa: PLC0415  (imports torch)

    params = {**MODEL_DEFAULTS[model], **{k: v for k, v in settings.items() if v is not None}}
    return LinkPredictor(model, **params)


def edge_predictor_factory(model: str = "ra", *, x: Any = None, seed: int = 0, valid_fraction: float = 0.1, **settings: Any) -> Callable:
    """``factory(train_edges, num_nodes)`` returning a fitted predictor (for
    :func:`topo_graphdb.model.holdout.trust_protocol`).

    Heuristics (``cn``, ``aa``, ``ra``) use every training edge. Learned
    models (``gcn``, ``sage``, ``ncn``) hold out ``valid_fraction`` of the
    training edges for early stopping, then score with all of them
    (``use_edges``), as :func:`topo_graphdb.model.predict.predict_from_file`
    does. ``settings`` go to :func:`make_predictor`; ``x``: node features (n, f).
    """
    if model not in PREDICTORS:
        raise InputError(f"model must be one of {', '.join(PREDICTORS)}; got {model!r}")
    heuristic = model in ("cn", "aa", "ra")

    def factory(train_edges: np.ndarray, num_nodes: int):
        split = random_split(train_edges, num_nodes, valid_fraction=0.0 if heuristic else valid_fraction, test_fraction=0.0, seed=seed, x=x)
        predictor = make_predictor(model, **({} if heuristic else {"seed": seed, **settings}))
        predictor.fit(split)
        if not heuristic:
            predictor.use_edges(np.concatenate([split.train_pos, split.valid_pos], axis=1))
        return predictor

    return factory
