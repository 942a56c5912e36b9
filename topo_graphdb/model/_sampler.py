"""Uniform neighbour sampling for PyG's loaders, in numpy.

PyTorch Geometric's :class:`~torch_geometric.sampler.NeighborSampler` does its
sampling step (``_sample``) in the compiled ``pyg-lib`` or ``torch-sparse``
packages; no wheels of either exist for the torch in use here.
:class:`UniformNeighborSampler` replaces that one step with vectorised numpy
and keeps the rest of PyG's machinery (``edge_sample``: seeds, negative pairs,
``edge_label_index``; ``filter_data``: node and edge features, ``e_id``), so
``torch_geometric.loader.LinkLoader(data, link_sampler=UniformNeighborSampler(...))``
gives mini-batches for link prediction.

Definition (that of ``torch_sparse.neighbor_sample(colptr, row, seed,
num_neighbors, replace=False, directed=True)``). The graph is read in CSC form:
the in-neighbours of node ``w`` are ``row[colptr[w]:colptr[w + 1]]``. Start with
``node = seed`` and the frontier = all seed positions. For hop ``h`` with
fan-out ``k = num_neighbors[h]`` (negative: all), every frontier node ``w`` (at
local position ``i``) gets ``min(k, indeg(w))`` of its CSC entries, a subset
drawn uniformly at random without replacement; for each chosen entry at CSC
position ``e`` with source ``v = row[e]``, ``v`` is appended to ``node`` if it
is not there yet, and the sampled edge is ``(row, col, edge) = (local(v), i,
e)``. The next frontier is the nodes appended during this hop.

Output contract (:class:`~torch_geometric.sampler.SamplerOutput`, int64):

* ``node``: global ids; the seeds first, in the given order, then the nodes
  new in hop 1, hop 2, ...; within a hop in the order of first encounter
  (frontier position, then CSC position within the frontier node's entries).
* ``row``, ``col``: local indices (positions in ``node``) of the sampled edge's
  source and target; ``edge``: the edge's position in the CSC ``row`` array
  (the parent's ``perm`` maps it back to a column of ``data.edge_index``).
  Edges are ordered by hop, then frontier position, then CSC position.
* ``batch``: ``None``; ``num_sampled_nodes``: ``[len(seed), new in hop 1, ...]``;
  ``num_sampled_edges``: ``[edges of hop 1, ...]`` (plain lists of ints).

Differences from torch-sparse that do not change the distribution of the
sampled sets: the chosen entries of one frontier node come in CSC order (not
in the order drawn), and the random numbers come from the sampler's own
``numpy.random.Generator`` (argument ``seed``), never from torch's global one.
A seed that occurs twice stays twice in ``node`` (so ``node[:len(seed)] ==
seed`` always); both copies are frontier nodes of hop 1, and a node reached
later maps to the first copy's position, as in torch-sparse. ``edge_sample``
passes unique seeds, so this does not arise there.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.sampler import NeighborSampler, SamplerOutput
from torch_geometric.sampler.base import NumNeighbors, SubgraphType

from ..errors import InputError

__all__ = ["UniformNeighborSampler"]


def _segment_ranks(lengths: np.ndarray, total: int) -> np.ndarray:
    """Position of each entry within its segment, for segments of ``lengths`` laid end to end."""
    starts = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)


def _sort_by_segment_then_key(segment: np.ndarray, key: np.ndarray) -> np.ndarray:
    """``np.lexsort((key, segment))`` for non-negative ``segment`` and ``key < len(key)``, via one integer sort."""
    size = key.size
    if size and int(segment[-1]) < 2**62 // size:  # segment is sorted: its last value is the largest
        return np.argsort(segment * size + key, kind="stable")
    return np.lexsort((key, segment))


def _unique_first(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(values, return_index=True, return_inverse=True)`` (sorted distinct values, the index
    of each one's first occurrence, the inverse), with one unstable sort instead of a stable one."""
    order = np.argsort(values)
    ordered = values[order]
    starts = np.ones(ordered.size, dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    group = np.cumsum(starts) - 1
    start_at = np.flatnonzero(starts)
    inverse = np.empty(values.size, dtype=np.int64)
    inverse[order] = group
    first = np.minimum.reduceat(order, start_at) if start_at.size else np.empty(0, dtype=np.int64)
    return ordered[start_at], first, inverse


def _choose(frontier: np.ndarray, k: int, colptr: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One hop's draw: for each frontier node, ``min(k, indeg)`` of its CSC entries (all when
    ``k < 0``), uniformly without replacement. Returns the frontier position of each chosen
    entry and its CSC position, by frontier position then CSC position."""
    starts = colptr[frontier]
    deg = colptr[frontier + 1] - starts
    take = deg if k < 0 else np.minimum(deg, k)
    total = int(deg.sum())
    seg = np.repeat(np.arange(frontier.size, dtype=np.int64), deg)
    csc_pos = np.repeat(starts, deg) + _segment_ranks(deg, total)
    keep = np.ones(total, dtype=bool)
    partial = deg > take  # frontier nodes with more in-neighbours than the fan-out
    if partial.any():
        sub = np.flatnonzero(partial[seg])
        sub_deg = deg[partial]
        # Uniform subset without replacement: sort the entries by (segment, random key) and keep the
        # first k of each segment (all partial segments have take == k). The keys are a random
        # permutation, so there are no ties; the composite integer key sorts like
        # np.lexsort((key, segment)), several times faster.
        by_key = _sort_by_segment_then_key(np.repeat(np.arange(sub_deg.size, dtype=np.int64), sub_deg), rng.permutation(sub.size))
        chosen = np.zeros(sub.size, dtype=bool)
        chosen[by_key[_segment_ranks(sub_deg, sub.size) < k]] = True
        keep[sub] = chosen
    picked = np.flatnonzero(keep)
    return seg[picked], csc_pos[picked]


def _place(
    src: np.ndarray, seen_ids: np.ndarray, seen_pos: np.ndarray, num_seen: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Local positions of the sources ``src`` of one hop's edges: looked up in the sorted table
    ``seen_ids -> seen_pos`` of the nodes seen so far; the unseen ones become new nodes,
    numbered from ``num_seen`` in order of first encounter. Returns the positions, the new
    nodes, and the table with them added."""
    uniq, first_at, inverse = _unique_first(src)
    at = np.searchsorted(seen_ids, uniq)
    known = at < seen_ids.size
    known[known] = seen_ids[at[known]] == uniq[known]
    uniq_pos = np.empty(uniq.size, dtype=np.int64)
    uniq_pos[known] = seen_pos[at[known]]
    fresh = np.flatnonzero(~known)
    encounter = fresh[np.argsort(first_at[fresh])]  # first_at values are distinct
    uniq_pos[encounter] = num_seen + np.arange(encounter.size, dtype=np.int64)
    seen_ids = np.insert(seen_ids, at[fresh], uniq[fresh])
    seen_pos = np.insert(seen_pos, at[fresh], uniq_pos[fresh])
    return uniq_pos[inverse], uniq[encounter], seen_ids, seen_pos


class UniformNeighborSampler(NeighborSampler):
    """:class:`~torch_geometric.sampler.NeighborSampler` whose sampling step is numpy (see the module docstring).

    Takes the parent's arguments; supported are homogeneous
    :class:`~torch_geometric.data.Data`, ``subgraph_type="directional"``,
    ``replace=False``, ``disjoint=False``, no ``time_attr`` or ``weight_attr``
    and ``sample_direction="forward"``; anything else raises
    :class:`~topo_graphdb.errors.InputError`. ``seed`` seeds the sampler's own
    generator ``rng``: the same seed and the same calls give the same samples.
    In a DataLoader worker process the generator is replaced, on the first
    call there, by one seeded with ``[seed, worker seed]`` (the worker seed is
    the one DataLoader draws for each worker and epoch), so workers and epochs
    do not repeat one another's draws.
    """

    def __init__(
        self,
        data: Data,
        num_neighbors: NumNeighbors | list[int],
        subgraph_type: SubgraphType | str = "directional",
        replace: bool = False,
        disjoint: bool = False,
        temporal_strategy: str = "uniform",
        time_attr: str | None = None,
        weight_attr: str | None = None,
        is_sorted: bool = False,
        share_memory: bool = False,
        directed: bool = True,
        sample_direction: str = "forward",
        *,
        seed: int = 0,
    ):
        if not isinstance(data, Data):
            raise InputError(f"UniformNeighborSampler takes a homogeneous torch_geometric Data object, not {type(data).__name__}")
        try:
            kind = SubgraphType(subgraph_type)
        except ValueError as err:
            raise InputError(f"unknown subgraph_type {subgraph_type!r}") from err
        values = num_neighbors.values if isinstance(num_neighbors, NumNeighbors) else num_neighbors
        fanouts_ok = isinstance(values, (list, tuple)) and all(isinstance(k, (int, np.integer)) for k in values)
        problems = [
            (kind != SubgraphType.directional or not directed, "supports only subgraph_type='directional'"),
            (replace, "samples without replacement only (replace=False)"),
            (disjoint, "does not support disjoint=True"),
            (time_attr is not None, "does not support temporal sampling (time_attr)"),
            (weight_attr is not None, "does not support weighted sampling (weight_attr)"),
            (sample_direction != "forward", "supports only sample_direction='forward'"),
            (not fanouts_ok, "takes num_neighbors as one list of ints (one fan-out per hop)"),
        ]
        for bad, what in problems:
            if bad:
                raise InputError(f"UniformNeighborSampler {what}")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Using '.*' without a 'pyg-lib' installation is deprecated", category=UserWarning)
            super().__init__(
                data,
                num_neighbors,
                subgraph_type=kind,
                is_sorted=is_sorted,
                share_memory=share_memory,
            )
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self._worker_seed: int | None = None

    def _sample(self, seed: torch.Tensor, seed_time: torch.Tensor | None = None, **kwargs: Any) -> SamplerOutput:
        """Sample the hops from the 1-D tensor ``seed`` of global node ids (definition in the module docstring)."""
        if isinstance(seed, dict) or seed_time is not None:
            raise InputError("UniformNeighborSampler samples from a 1-D tensor of node ids, without seed times")
        seeds = np.asarray(seed.detach().cpu().numpy(), dtype=np.int64).reshape(-1).copy()
        if seeds.size and (seeds.min() < 0 or seeds.max() >= self.num_nodes):
            raise InputError(f"seed node ids must lie in [0, {self.num_nodes})")
        info = torch.utils.data.get_worker_info()
        if info is not None and info.seed != self._worker_seed:
            # In a DataLoader worker: each worker (and each epoch's workers) gets its own stream,
            # derived from this sampler's seed and the seed DataLoader gives the worker.
            self._worker_seed = info.seed
            self.rng = np.random.default_rng([self.seed, info.seed])
        colptr = self.colptr.numpy().astype(np.int64, copy=False)
        csc_row = self.row.numpy().astype(np.int64, copy=False)

        # Global id -> local position of the nodes seen so far, as a sorted table
        # (first occurrence of a repeated seed wins).
        order = np.argsort(seeds, kind="stable")
        ordered = seeds[order]
        first = np.ones(ordered.size, dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        seen_ids, seen_pos = ordered[first], order[first]

        nodes = [seeds]
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        edges: list[np.ndarray] = []
        num_nodes_out = [int(seeds.size)]
        num_edges_out: list[int] = []
        frontier, frontier_start, num_seen = seeds, 0, int(seeds.size)

        for k in self.num_neighbors.get_mapped_values():
            seg, edge = _choose(frontier, int(k), colptr, self.rng)
            local, new_nodes, seen_ids, seen_pos = _place(csc_row[edge], seen_ids, seen_pos, num_seen)
            nodes.append(new_nodes)
            rows.append(local)
            cols.append(frontier_start + seg)
            edges.append(edge)
            num_nodes_out.append(int(new_nodes.size))
            num_edges_out.append(int(edge.size))
            frontier, frontier_start = new_nodes, num_seen
            num_seen += int(new_nodes.size)

        def cat(parts: list[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(np.concatenate(parts) if parts else np.empty(0, dtype=np.int64))

        return SamplerOutput(
            node=cat(nodes),
            row=cat(rows),
            col=cat(cols),
            edge=cat(edges),
            batch=None,
            num_sampled_nodes=num_nodes_out,
            num_sampled_edges=num_edges_out,
        )
