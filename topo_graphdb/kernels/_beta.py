"""The default decay ``beta`` of TC, ATC and pair TC: one definition for every caller."""

from __future__ import annotations

import numpy as np  # noqa: F401  (the doctests use it)

from ..snapshot import GraphSnapshot

__all__ = ["default_beta"]


def default_beta(train: object, num_nodes: int | None = None, *, num_edges: int | None = None) -> float:
    """The default decay ``beta = 1 / mean degree = n / (2 m)`` of a training graph.

    ``n`` is the analysed node set: ``num_nodes`` when given (for edge files: the
    training file's nodes plus any listed separately), else the snapshot's size,
    else the largest training index plus one. Evaluation edges never change it,
    so the train and evaluation variants of one graph share one ``beta``.
    ``m`` counts the simple undirected training edges (self-loops and duplicates
    in either direction dropped); pass ``num_edges`` when it is already known.
    A graph without edges gives 1.0 (TC is undefined everywhere then).

    >>> default_beta(np.array([[0, 1, 2, 0], [1, 2, 3, 1]]))  # 4 nodes, 3 distinct edges
    0.6666666666666666
    >>> default_beta(np.array([[0, 1], [1, 2]]), num_nodes=4)  # a 4th, isolated node
    1.0
    """
    from ._csr import canonical_edges, edge_array  # noqa: PLC0415  (imports Numba)

    if isinstance(train, GraphSnapshot):
        num_nodes = train.num_nodes if num_nodes is None else num_nodes
        train = train.edge_index
    tr = edge_array(train, "train")
    largest = int(tr.max()) if tr.size else -1
    n = int(num_nodes) if num_nodes is not None else largest + 1
    if num_edges is None:
        num_edges = canonical_edges(tr, max(n, largest + 1, 1)).shape[1]
    return float(n / (2.0 * num_edges)) if num_edges > 0 and n > 0 else 1.0
