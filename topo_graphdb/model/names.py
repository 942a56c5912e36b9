"""The names of the link predictors, in one place (light: no torch, no numpy).

``GNN_MODELS`` are learned (:class:`~topo_graphdb.model.predictor.LinkPredictor`),
``HEURISTIC_MODELS`` are neighbourhood scores without training
(:class:`~topo_graphdb.model.heuristics.HeuristicPredictor`); ``PREDICTORS`` is both,
the accepted values of ``--model`` and ``predict.model``. ``BATCHING`` are the ways a learned
model's training steps see the graph (``--batching``, ``predict.batching``); ``SAMPLED_MODELS``
can train on sampled subgraphs (:mod:`topo_graphdb.model._minibatch`).
"""

from __future__ import annotations

__all__ = ["BATCHING", "GNN_MODELS", "HEURISTIC_MODELS", "PREDICTORS", "SAMPLED_MODELS"]

GNN_MODELS = ("gcn", "sage", "ncn", "ncnc")
HEURISTIC_MODELS = ("cn", "aa", "ra")
PREDICTORS = GNN_MODELS + HEURISTIC_MODELS
BATCHING = ("auto", "full", "sampled")
SAMPLED_MODELS = ("gcn", "sage")
