"""Pair decoders: a logit for each node pair from the node embeddings.

* GCN, SAGE: an MLP on ``h_i * h_j``;
* NCN: ``MLP( beta * f( sum_{u in CN(i, j)} h_u ) + g( h_i * h_j ) )``;
* NCNC: the same sum over common neighbours plus probable ones, weighted by
  a first NCN pass (:func:`common_neighbour_weights`).

The formulas and their sources are in :mod:`topo_graphdb.model.predictor`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ._encoders import Encoder, mlp
from ._sparse import SparseOperator

__all__ = ["CN_MODELS", "NCNC_OFFSET", "NCNC_PT", "NCNC_SCALE", "Net", "common_neighbour_sums", "common_neighbour_weights", "torch_index"]

#: NCNC's calibration of the first pass (the reference code's probscale, proboffset, pt)
NCNC_SCALE, NCNC_OFFSET, NCNC_PT = 5.0, 3.0, 0.5
#: the models whose decoder sums over common neighbours
CN_MODELS = ("ncn", "ncnc")


class Net(nn.Module):
    """Encoder and pair decoder of one model (``gcn``, ``sage``, ``ncn`` or ``ncnc``)."""

    def __init__(self, kind: str, in_dim: int | None, num_nodes: int, hidden: int, layers: int, predictor_layers: int, dropout: float):
        super().__init__()
        self.kind = kind
        self.encoder = Encoder("sage" if kind == "sage" else "gcn", in_dim, num_nodes, hidden, layers, dropout)
        self.head = mlp([hidden] * predictor_layers + [1], dropout)
        if kind in CN_MODELS:
            self.xij = mlp([hidden, hidden, hidden], dropout)  # g: 2 layers on h_i * h_j
            self.xcn = mlp([hidden] * 4, dropout)  # f: 3 layers on the sum over common neighbours
            self.beta = nn.Parameter(torch.ones(1))

    def pair_logits(self, hi: torch.Tensor, hj: torch.Tensor, cn: torch.Tensor | None = None) -> torch.Tensor:
        """Logits for aligned rows ``hi``, ``hj`` (…, d); ``cn`` (…, d): sums of ``h`` over
        the common neighbours (NCN; None counts as no common neighbour)."""
        z = hi * hj
        if self.kind in CN_MODELS:
            cn = torch.zeros_like(z) if cn is None else cn
            z = self.beta * self.xcn(cn) + self.xij(z)
        return self.head(z).squeeze(-1)


def torch_index(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """An int64 tensor of ``a`` on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(device)


def common_neighbour_sums(h: torch.Tensor, adj: Any, pairs: np.ndarray, weights: Any = None) -> torch.Tensor:
    """``sum_{u in N(i) ∩ N(j)} h_u`` for each pair ``(i, j)`` of ``pairs`` (2, m): shape (m, d).

    ``adj``: symmetric 0/1 scipy CSR (n, n) giving ``N``. With ``weights``, a
    scipy sparse (m, n) matrix, the sum is ``sum_u W[k, u] h_u`` instead (NCNC's
    probable common neighbours).

    One sparse product ``C @ h`` (``C`` the (m, n) matrix of the common
    neighbours or weights), so memory stays ``O(nnz(C) + m d)``: on dense
    graphs (hundreds of common neighbours a pair) a gather of ``h`` per common
    neighbour would need ``nnz(C) x d`` floats, and as much again in the backward.
    """
    c = adj[pairs[0]].multiply(adj[pairs[1]]) if weights is None else weights
    op = SparseOperator.from_scipy(c, h.device, h.dtype, transpose=torch.is_grad_enabled() and h.requires_grad)
    return op @ h


def common_neighbour_weights(net: Net, h: torch.Tensor | None, pairs: np.ndarray, adj: Any, *, completion: bool) -> Any:
    """Scipy (m, n): row k weighs the nodes summed for pair k: 1 on its common
    neighbours; with ``completion`` (NCNC) also ``p(j, u)`` on ``u in N(i) \\ N(j)``
    and ``p(i, u)`` on ``u in N(j) \\ N(i)``, from an NCN pass of ``net`` on ``h``
    without gradient, ``p = pt p0 / (pt p0 + 1 - p0)``, ``p0 = sigmoid(scale (logit - offset))``."""
    import scipy.sparse as sp  # noqa: PLC0415

    ai, aj = adj[pairs[0]], adj[pairs[1]]
    cn = ai.multiply(aj).tocsr()
    if not completion:
        return cn
    only_i, only_j = (ai - cn).tocoo(), (aj - cn).tocoo()
    only_i.eliminate_zeros()
    only_j.eliminate_zeros()
    rows = np.concatenate([only_i.row, only_j.row]).astype(np.int64)
    cols = np.concatenate([only_i.col, only_j.col]).astype(np.int64)
    other = np.concatenate([pairs[1][only_i.row], pairs[0][only_j.row]])  # p(j, u) for u only by i; p(i, u) for u only by j
    ok = cols != other  # u = j (when i-j is an edge) is no candidate common neighbour
    rows, cols, other = rows[ok], cols[ok], other[ok]
    first = np.stack([other, cols])
    with torch.no_grad():
        logit = net.pair_logits(h[torch_index(first[0], h.device)], h[torch_index(first[1], h.device)], common_neighbour_sums(h, adj, first))
        p0 = torch.sigmoid(NCNC_SCALE * (logit.double() - NCNC_OFFSET))
        prob = (NCNC_PT * p0 / (NCNC_PT * p0 + 1.0 - p0)).cpu().numpy()
    return cn + sp.csr_matrix((prob, (rows, cols)), shape=cn.shape)
