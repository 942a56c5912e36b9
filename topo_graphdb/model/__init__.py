"""Link prediction: edge splits, GNN and heuristic predictors, evaluation and indicators.

Torch is imported only when a learned predictor is used: the names below are
resolved lazily, so ``import topo_graphdb.model`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "EdgeSplit",
    "random_split",
    "temporal_split",
    "explicit_split",
    "split_from_files",
    "split_snapshot",
    "LinkPredictor",
    "HeuristicPredictor",
    "make_predictor",
    "evaluate_edges",
    "evaluate_nodes",
    "run_evaluation",
    "predict_links",
    "fit_indicator",
    "Indicator",
    "write_report",
]

_WHERE = {
    "EdgeSplit": "splits",
    "random_split": "splits",
    "temporal_split": "splits",
    "explicit_split": "splits",
    "split_from_files": "splits",
    "split_snapshot": "splits",
    "LinkPredictor": "predictor",
    "HeuristicPredictor": "heuristics",
    "make_predictor": "evaluate",
    "evaluate_edges": "evaluate",
    "evaluate_nodes": "evaluate",
    "run_evaluation": "evaluate",
    "predict_links": "predict",
    "fit_indicator": "indicator",
    "Indicator": "indicator",
    "write_report": "report",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
