"""The names of the link predictors, in one place (light: no torch, no numpy).

``GNN_MODELS`` are learned (:class:`~topo_graphdb.model.predictor.LinkPredictor`),
``HEURISTIC_MODELS`` are neighbourhood scores without training
(:class:`~topo_graphdb.model.heuristics.HeuristicPredictor`); ``PREDICTORS`` is both,
the accepted values of ``--model`` and ``predict.model``.
"""

from __future__ import annotations

__all__ = ["GNN_MODELS", "HEURISTIC_MODELS", "PREDICTORS"]

GNN_MODELS = ("gcn", "sage", "ncn", "ncnc")
HEURISTIC_MODELS = ("cn", "aa", "ra")
PREDICTORS = GNN_MODELS + HEURISTIC_MODELS
