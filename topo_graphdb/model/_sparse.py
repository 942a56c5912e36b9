"""Constant sparse matrices times learned dense ones, with a fast backward.

``A @ X`` where ``A`` (node features, normalised adjacency) is fixed and only
``X`` needs a gradient, ``dL/dX = A^T @ dL/dY``. ``torch.sparse.mm`` builds
``A^T`` anew in every backward pass (about three times the cost of the
forward on Cora); :class:`SparseOperator` keeps ``A`` and ``A^T`` as CSR,
built once (``A^T`` is ``A`` itself for a symmetric matrix, such as GCN's
``D^-1/2 (A + I) D^-1/2``).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import torch

__all__ = ["SparseOperator", "csr", "gcn_weights"]


@contextmanager
def _csr_beta_quiet():
    """Inside the block torch's "sparse CSR tensor support is in beta" UserWarning is not shown."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def csr(index: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Sparse CSR tensor with ``values`` at ``index`` (2, E) (row, column); duplicates summed."""
    coo = torch.sparse_coo_tensor(index, values, shape, check_invariants=False).coalesce()
    with _csr_beta_quiet():
        return coo.to_sparse_csr()


def _csr_of(m, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Torch CSR tensor of a canonical scipy CSR matrix."""
    import numpy as np  # noqa: PLC0415

    parts = (torch.from_numpy(m.indptr.astype(np.int64)), torch.from_numpy(m.indices.astype(np.int64)), torch.from_numpy(np.ascontiguousarray(m.data)).to(dtype))
    with _csr_beta_quiet():
        t = torch.sparse_csr_tensor(*parts, size=m.shape, check_invariants=False)
    return t.to(device=device)


class _ConstantTimesDense(torch.autograd.Function):
    """``a @ x`` with the gradient for ``x`` only: ``a_t @ grad`` (``a``, ``a_t`` CSR)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a_t)
        return torch.sparse.mm(a, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (a_t,) = ctx.saved_tensors
        return None, None, torch.sparse.mm(a_t, grad) if ctx.needs_input_grad[2] else None


@dataclass(frozen=True, eq=False)
class SparseOperator:
    """A constant sparse matrix ``a`` (CSR) and its transpose ``a_t``; ``op @ x``
    is ``a @ x`` with gradient ``a_t @ grad`` for a dense ``x``."""

    a: torch.Tensor
    a_t: torch.Tensor | None

    @classmethod
    def from_coo(cls, index: torch.Tensor, values: torch.Tensor, shape: tuple[int, int], *, symmetric: bool = False) -> SparseOperator:
        """From entries ``values`` at ``index`` (2, E); ``symmetric``: the caller
        knows ``A == A^T`` and the transpose is not built."""
        a = csr(index, values, shape)
        return cls(a, a if symmetric else csr(index.flip(0), values, (shape[1], shape[0])))

    @classmethod
    def from_scipy(cls, m, device: torch.device, dtype: torch.dtype = torch.float32, *, transpose: bool = True) -> SparseOperator:
        """From a scipy sparse matrix (its CSR arrays, no sorting on the torch side);
        without ``transpose`` no ``a_t`` is built and no gradient can flow (``a_t`` is None)."""
        m = m.tocsr()
        m.sum_duplicates()
        a = _csr_of(m, device, dtype)
        return cls(a, _csr_of(m.T.tocsr(), device, dtype) if transpose else None)

    @property
    def shape(self) -> torch.Size:
        return self.a.shape

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        if self.a_t is None:
            if torch.is_grad_enabled() and x.requires_grad:
                raise RuntimeError("this SparseOperator was built without its transpose: no gradient")
            return torch.sparse.mm(self.a, x)
        return _ConstantTimesDense.apply(self.a, self.a_t, x)

    def to_dense(self) -> torch.Tensor:
        return self.a.to_dense()


def gcn_weights(edge_index: torch.Tensor, num_nodes: int, *, add_self_loops: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges (2, E) and their weights in ``D^-1/2 (A + I) D^-1/2``: PyG's ``gcn_norm``.

    ``w(u, v) = d(u)^-1/2 d(v)^-1/2`` with ``d(v)`` the number of edges into
    ``v`` (0 when ``d = 0``). With ``add_self_loops`` the given self-loops are
    dropped and one loop per node is appended after the other edges, whose
    order is kept. Float32, as ``gcn_norm``'s; the same values to the bit.
    """
    if add_self_loops:
        loops = torch.arange(num_nodes, device=edge_index.device).repeat(2, 1)
        edge_index = torch.cat([edge_index[:, edge_index[0] != edge_index[1]], loops], dim=1)
    w = torch.ones(edge_index.shape[1], device=edge_index.device)
    deg = torch.zeros(num_nodes, device=w.device).scatter_add_(0, edge_index[1], w)
    inv_sqrt = deg.pow(-0.5)
    inv_sqrt.masked_fill_(torch.isinf(inv_sqrt), 0.0)
    return edge_index, inv_sqrt[edge_index[0]] * w * inv_sqrt[edge_index[1]]
