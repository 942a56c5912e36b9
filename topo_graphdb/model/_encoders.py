"""The node encoder of the link predictors and its inputs.

``layers`` GCN or GraphSAGE layers over the message-passing graph; input the
node features ``x`` (:func:`feature_tensor`) projected to ``hidden``, or a
learnable embedding per node when there are none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._sparse import SparseOperator

__all__ = ["Encoder", "GCNLayer", "dropout", "feature_arrays", "feature_tensor", "features_from_arrays", "l1_rows", "mlp"]


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout with a ``rand < p`` mask (several times faster on CPU
    than ``F.dropout``'s Bernoulli sampling; same distribution)."""
    if not training or p <= 0.0:
        return x
    keep = torch.rand(x.shape, device=x.device, dtype=x.dtype) >= p
    return x * keep * (1.0 / (1.0 - p))


class _Dropout(nn.Module):
    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


def mlp(dims: list[int], p: float) -> nn.Sequential:
    """Linear layers ``dims[0] -> dims[1] -> ... -> dims[-1]``, ReLU and dropout ``p`` between them."""
    mods: list[nn.Module] = []
    for a, b in zip(dims[:-2], dims[1:-1]):
        mods += [nn.Linear(a, b), nn.ReLU(), _Dropout(p)]
    mods.append(nn.Linear(dims[-2], dims[-1]))
    return nn.Sequential(*mods)


class GCNLayer(nn.Module):
    """The parameters of one GCN layer, ``A_hat (h W^T) + b`` (the product with
    ``A_hat`` is the caller's :class:`SparseOperator`).

    Named and initialised as PyG's ``GCNConv`` (``lin.weight`` Glorot-uniform,
    ``bias`` zeros, drawing the same random numbers), so saved models load and a
    seed gives the same weights, without importing ``torch_geometric`` (about
    3.5 s a process, most of a cached Cora sync) on the GCN and NCN paths.
    """

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim, bias=False)  # its own initialisation draws once, as PyG's Linear does
        self.bias = nn.Parameter(torch.zeros(out_dim))
        bound = (6.0 / (in_dim + out_dim)) ** 0.5
        with torch.no_grad():
            self.lin.weight.uniform_(-bound, bound)


class Encoder(nn.Module):
    """Node embeddings ``(n, hidden)`` from the features (or a learned embedding).

    GCN layers (:class:`GCNLayer`, named as PyG's ``GCNConv``: saved models
    load unchanged) multiply by the adjacency with :class:`SparseOperator`,
    whose backward reuses a cached transpose. SAGE layers are PyG's ``SAGEConv``
    (mean aggregation) on the adjacency's CSR matrix.
    """

    def __init__(self, kind: str, in_dim: int | None, num_nodes: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.emb = None
        self.inp = None
        if in_dim is None:
            self.emb = nn.Embedding(num_nodes, hidden)
            nn.init.xavier_uniform_(self.emb.weight)
        else:
            # input projection X W (X may be sparse: one cheap sparse product)
            self.inp = nn.Linear(in_dim, hidden, bias=False)
        dims = [hidden] * (layers + 1)
        self.convs = nn.ModuleList()
        for a, b in zip(dims[:-1], dims[1:]):
            if kind == "sage":
                from torch_geometric.nn import SAGEConv  # noqa: PLC0415

                self.convs.append(SAGEConv(a, b, aggr="mean"))
            else:
                self.convs.append(GCNLayer(a, b))
        self.kind = kind
        self.dropout = dropout

    def forward(self, x: torch.Tensor | SparseOperator | None, adj_t: SparseOperator, nodes: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: dense (n, f) features, a :class:`SparseOperator` of sparse ones, or None;
        ``adj_t``: the weighted message-passing adjacency (target x source); ``nodes``: the
        global ids of the rows of a sampled subgraph (then ``x`` holds those rows only)."""
        if self.emb is not None:
            h = self.emb.weight if nodes is None else self.emb.weight[nodes]
        elif isinstance(x, SparseOperator):
            h = x @ self.inp.weight.t()
        else:
            h = self.inp(x)
        h = dropout(h, self.dropout, self.training)
        for i, conv in enumerate(self.convs):
            h = conv(h, adj_t.a) if self.kind == "sage" else (adj_t @ conv.lin(h)) + conv.bias
            if i < len(self.convs) - 1:
                h = dropout(F.relu(h), self.dropout, self.training)
        return h


def l1_rows(m: Any) -> Any:
    """Each row divided by the sum of its absolute values (L1); all-zero rows stay zero.

    The sum of absolute values, not the signed sum: for non-negative rows both are the
    same (rows sum to 1), while a signed sum can be near zero or negative for signed
    features (embeddings) and would blow rows up or flip their signs.
    """
    import scipy.sparse as sp  # noqa: PLC0415

    s = np.asarray(abs(m).sum(axis=1), dtype=np.float64).reshape(-1, 1)
    s[s == 0] = 1.0
    scale = (1.0 / s).astype(np.float32)
    return sp.csr_matrix(m.multiply(scale), dtype=np.float32) if sp.issparse(m) else (m * scale).astype(np.float32)


def feature_tensor(x: Any, norm: str, device: torch.device) -> torch.Tensor | SparseOperator | None:
    """Features in float32: a :class:`SparseOperator` when ``x`` is a scipy sparse
    matrix or mostly zeros, a dense tensor otherwise; rows L1-normalised
    (:func:`l1_rows`) when ``norm == "row"``."""
    if x is None:
        return None
    import scipy.sparse as sp  # noqa: PLC0415

    if sp.issparse(x):
        m = sp.csr_matrix(x, dtype=np.float32)
    else:
        arr = np.asarray(x, dtype=np.float32)
        m = sp.csr_matrix(arr) if np.count_nonzero(arr) < 0.25 * arr.size else arr
    if norm == "row":
        m = l1_rows(m)
    if sp.issparse(m):
        c = m.tocoo()
        idx = torch.from_numpy(np.stack([c.row, c.col]).astype(np.int64)).to(device)
        return SparseOperator.from_coo(idx, torch.from_numpy(c.data).to(device), c.shape)
    return torch.from_numpy(np.ascontiguousarray(m)).to(device)


def feature_arrays(x: Any) -> dict[str, np.ndarray]:
    """Node features as named arrays for ``np.savez``: ``x`` when dense, its CSR parts when sparse, none when absent."""
    if x is None:
        return {}
    import scipy.sparse as sp  # noqa: PLC0415

    if sp.issparse(x):
        c = sp.csr_matrix(x)
        return {"x_data": c.data, "x_indices": c.indices, "x_indptr": c.indptr, "x_shape": np.array(c.shape)}
    return {"x": np.asarray(x)}


def features_from_arrays(z: Any) -> Any:
    """The inverse of :func:`feature_arrays` on a loaded ``.npz`` (``None`` when it holds no features)."""
    if "x" in z.files:
        return z["x"]
    if "x_data" not in z.files:
        return None
    import scipy.sparse as sp  # noqa: PLC0415

    return sp.csr_matrix((z["x_data"], z["x_indices"], z["x_indptr"]), shape=tuple(z["x_shape"]))
