"""Training steps: an epoch's pairs and the optimiser step (both batchings), steps on sampled
subgraphs (``LinkPredictor(batching="sampled")``), and when to take them.

A full-batch step runs the encoder over the whole graph; its memory grows
with the nodes times the width (:func:`full_batch_bytes`). A sampled step
runs it over the subgraph that PyG's
:class:`~torch_geometric.loader.LinkLoader` samples around the step's pairs:
uniform neighbour sampling (:class:`._sampler.UniformNeighborSampler`,
``fanout`` in-neighbours per node and layer, as ``LinkNeighborLoader``) from
the two ends of each pair. On that subgraph

* the step's positive edges are removed (either direction) when the
  predictor masks targets, as the full-batch step removes them from the graph;
* GCN weights are ``D^-1/2 (A + I) D^-1/2`` of the subgraph (PyG's
  ``gcn_norm``), SAGE's mean runs over the sampled neighbours;
* the features are the subgraph's rows, or the learned embedding's rows.

The steps are those of the full-batch epoch: the same shuffled positives
per step, each against as many fresh uniform negatives that are not
training edges. Validation, early stopping and scoring stay on the whole
graph. Only GCN and GraphSAGE sample: NCN's common neighbours and TC-guided
re-weighting need the whole graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ._sparse import SparseOperator, gcn_weights
from .names import BATCHING, SAMPLED_MODELS
from .splits import sample_negatives

__all__ = ["SampledSteps", "check_batching", "device_budget", "epoch_steps", "full_batch_bytes", "optimise", "resolve_batching"]



def epoch_steps(predictor: Any, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """An epoch of a set-up ``predictor``: fresh uniform negatives (2, m) that are not training
    edges, and its steps, the shuffled training-edge indices ``batch_size`` at a time; step ``idx``
    pairs ``train_pos[:, idx]`` with ``negatives[:, idx]`` (the indices below the negatives' count)."""
    m = predictor._train_pos.shape[1]
    negatives = sample_negatives(predictor._train_keys, predictor.num_nodes_, m, rng=rng, unique=False)
    perm = rng.permutation(m)
    b = int(predictor.batch_size)
    return negatives, [perm[start : start + b] for start in range(0, m, b)]


def optimise(predictor: Any, net: Any, opt: torch.optim.Optimizer, lp: torch.Tensor, ln: torch.Tensor) -> float:
    """One step on ``BCE(lp, 1) + BCE(ln, 0)``, the binary cross-entropy of positive logits ``lp``
    against negative ``ln``, the gradient norm clipped to the predictor's ``grad_clip``; returns the loss."""
    loss = F.binary_cross_entropy_with_logits(lp, torch.ones_like(lp)) + F.binary_cross_entropy_with_logits(ln, torch.zeros_like(ln))
    opt.zero_grad()
    loss.backward()
    if predictor.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), float(predictor.grad_clip))
    opt.step()
    return float(loss.detach())


def check_batching(batching: str, model: str, tc_alpha: float) -> None:
    """Raise :class:`~topo_graphdb.errors.InputError` for a batching the model cannot train with."""
    from ..errors import InputError  # noqa: PLC0415

    if batching not in BATCHING:
        raise InputError(f"batching must be one of {', '.join(BATCHING)}; got {batching!r}")
    if batching == "sampled" and model not in SAMPLED_MODELS:
        raise InputError(f"batching='sampled' trains {' and '.join(SAMPLED_MODELS)}; {model} needs the common neighbours of the whole graph")
    if batching == "sampled" and tc_alpha > 0:
        raise InputError("batching='sampled' does not combine with TC re-weighting (tc_alpha > 0), which weighs the whole graph")


def resolve_batching(predictor: Any) -> str:
    """``"full"`` or ``"sampled"`` for a fit of a set-up ``predictor``: its ``batching``, or for
    ``"auto"`` sampled when a full-batch step exceeds its memory budget (and it can sample)."""
    if predictor.batching != "auto":
        return predictor.batching
    if predictor.model not in SAMPLED_MODELS or predictor.tc_alpha > 0:
        return "full"
    return "sampled" if predictor.full_batch_bytes() > device_budget(predictor._device, predictor.memory_budget) else "full"


def full_batch_bytes(num_nodes: int, num_edges: int, hidden: int, layers: int, *, embedding: bool) -> int:
    """Rough peak memory of one full-batch training step, in bytes:
    ``n * 4 * hidden * (6 * layers + 4 + 3 * embedding) + 24 * E``, i.e. per node and
    layer about six ``hidden``-wide float32 rows (a layer's input, output, dropout mask
    and their gradients), four more for the input projection, three for Adam's state of
    a learned embedding table; 24 bytes per message-passing edge ``E`` (index and weight).

    >>> full_batch_bytes(1000, 10_000, 64, 1, embedding=False)
    2800000
    """
    per_node = 4 * int(hidden) * (6 * int(layers) + 4 + (3 if embedding else 0))
    return int(num_nodes) * per_node + 24 * int(num_edges)


def device_budget(device: torch.device, budget: int | None) -> int:
    """``budget`` bytes, or :data:`~topo_graphdb.backend.BUDGET_SHARE` of the device's free memory."""
    if budget is not None:
        return int(budget)
    from ..backend import BUDGET_SHARE, free_memory_bytes  # noqa: PLC0415

    free = int(torch.cuda.mem_get_info(device)[0]) if device.type == "cuda" else free_memory_bytes("cpu")
    return int(BUDGET_SHARE * free)


class SampledSteps:
    """The sampled epochs of one fit of ``predictor`` (a set-up
    :class:`~topo_graphdb.model.predictor.LinkPredictor`); :meth:`epoch` replaces
    its full-batch epoch. The training graph is given to PyG's loader as the
    predictor holds it: edges ``k`` and ``k + m`` are training edge ``k``."""

    def __init__(self, predictor: Any):
        from torch_geometric.data import Data  # noqa: PLC0415

        from ._sampler import UniformNeighborSampler  # noqa: PLC0415  (imports PyG's samplers)

        self.p = predictor
        pos = predictor._train_pos
        self.data = Data(edge_index=torch.from_numpy(np.concatenate([pos, pos[::-1]], axis=1)), num_nodes=predictor.num_nodes_)
        seed = int(np.random.SeedSequence([int(predictor.seed), 0x73616D70]).generate_state(1)[0])
        self.sampler = UniformNeighborSampler(self.data, [int(predictor.fanout)] * int(predictor.layers), seed=seed)
        self._x_rows = None

    def epoch(self, net: Any, opt: torch.optim.Optimizer, rng: np.random.Generator) -> float:
        """One pass over the training edges (the full-batch epoch's steps, pairs and negatives) on
        sampled subgraphs; returns the mean loss."""
        from torch_geometric.loader import LinkLoader  # noqa: PLC0415

        p, device = self.p, self.p._device
        net.train()
        pos_all = p._train_pos
        m = pos_all.shape[1]
        neg_all, step_edges = epoch_steps(p, rng)
        steps = [np.concatenate([idx, m + idx[idx < neg_all.shape[1]]]).tolist() for idx in step_edges]
        pairs = torch.from_numpy(np.concatenate([pos_all, neg_all], axis=1))
        labels = torch.cat([torch.ones(m), torch.zeros(neg_all.shape[1])])
        loader = LinkLoader(self.data, link_sampler=self.sampler, edge_label_index=pairs, edge_label=labels, batch_sampler=steps)
        total = 0.0
        for batch in loader:
            nodes = batch.n_id.to(device)
            adj_t = self.subgraph_operator(self.step_edges(batch, m).to(device), int(nodes.numel()))
            h = net.encoder(self.subgraph_features(batch.n_id), adj_t, nodes)
            label = batch.edge_label.to(device)
            pair = batch.edge_label_index.to(device)
            logits = net.pair_logits(h[pair[0]], h[pair[1]], None)
            is_pos = label > 0.5
            total += optimise(p, net, opt, logits[is_pos], logits[~is_pos]) * int(is_pos.sum())
        return total / max(m, 1)

    def step_edges(self, batch: Any, m: int) -> torch.Tensor:
        """Message-passing edges (2, e) of a step in the subgraph's ids: the sampled edges, without
        the step's positive edges (either direction) when the predictor masks targets."""
        if not self.p.mask_targets:
            return batch.edge_index
        targets = batch.input_id[batch.input_id < m]  # the positives' indices among the training edges
        return batch.edge_index[:, ~torch.isin(batch.e_id % m, targets)]

    def subgraph_operator(self, ei: torch.Tensor, n: int) -> SparseOperator:
        """``adj_t`` of a subgraph with edges ``ei`` (source, target): GCN's normalisation with
        self-loops on the subgraph, or SAGE's unit weights."""
        if self.p.model == "sage":
            w = torch.ones(ei.shape[1], device=ei.device)
        else:
            ei, w = gcn_weights(ei, n, add_self_loops=True)
        return SparseOperator.from_coo(ei.flip(0), w.float(), (n, n))

    def subgraph_features(self, nodes: torch.Tensor) -> Any:
        """The rows ``nodes`` of the predictor's (normalised) features: a dense tensor, a
        :class:`SparseOperator` of sparse ones, or None (a learned embedding)."""
        x, device = self.p._x, self.p._device
        if x is None:
            return None
        if not isinstance(x, SparseOperator):
            return x[nodes.to(device)]
        if self._x_rows is None:
            import scipy.sparse as sp  # noqa: PLC0415

            a = x.a.cpu()
            self._x_rows = sp.csr_matrix((a.values().numpy(), a.col_indices().numpy(), a.crow_indices().numpy()), shape=tuple(a.shape))
        c = self._x_rows[nodes.numpy()].tocoo()
        idx = torch.from_numpy(np.stack([c.row, c.col]).astype(np.int64)).to(device)
        return SparseOperator.from_coo(idx, torch.from_numpy(c.data).to(device), c.shape)
